"""A Rasa tracker store that keeps every conversation encrypted under the user's own key.

Why a custom store: Rasa's built-in stores write events in clear, with intent and
action names in their own columns. Here a backend row holds only the pseudonym
(Rasa's ``sender_id``), the key version, a padded AES-GCM ciphertext and the time of
the last write. The key is not in the process configuration: the channel derives
it from the WhatsApp id and binds it to the request with
:func:`privacy.context.user_context`; this store takes it from
:func:`privacy.context.current_user_keys` and fails closed
(:class:`~privacy.errors.NoKeyInContextError`) when it is not there, e.g. for Rasa's
HTTP API or a scheduled reminder. There is no plaintext fallback.

Modules, each with the part of the design it implements:

- ``encrypted``: :class:`~privacy.store.encrypted.EncryptedTrackerStore`, the class
  endpoints.yml names, assembled from the parts below;
- ``config``: URL, retention and journal settings (endpoints.yml and the environment);
- ``conversation_keys``: sealing records under per-person conversation keys
  (crypto-shredding, issue 16 item 2);
- ``loading`` / ``saving``: Rasa's ``retrieve`` and ``save``, live record and archive,
  and the migration of alias records into the anchor's conversation (issue 9);
- ``person``: :meth:`move`, :meth:`erase`, :meth:`export` of one person;
- ``shredding``: final erasure: tombstones, the erasure journal, scrubbing;
- ``identities`` / ``sessions``: the pseudonyms of one person, Rasa's session split.

What adjusts Rasa's wrappers around this store (fail closed, unwrapping) is in the
top-level ``rasa_compat`` module.
"""
