"""Inbound media of the WhatsApp Cloud API: fetching a voice note's bytes, as Meta specifies.

Why a package of its own: an inbound ``audio`` message carries only a media id; the bytes are
fetched in two Graph API steps (``GET /{media-id}`` for a short-lived URL, then ``GET <url>``
with the same token), each with its own failures. Issue 14 item 1 asks for Meta's size limit and
the announced type to be enforced before the body is read, nothing written to disk, and typed
errors the channel can answer from ("Ich konnte deine Sprachnachricht nicht abrufen ...").

- :mod:`.errors`: ``MediaError`` and its subclasses, each with a stable ``reason`` label.
- :mod:`.policy`: which URLs may receive the token, mime base types, Meta's announced sizes and hashes.
- :mod:`.download`: ``MediaDownloader.fetch`` and the ``MediaFile`` it returns.

Nothing is re-exported here: import each name from the module that defines it.
Meta's reference: https://developers.facebook.com/docs/whatsapp/cloud-api/reference/media;
the reasoning is in docs/graph-client.md ("Media (voice notes)").
"""
