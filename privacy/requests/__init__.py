"""Erasure and export requests from the chat, performed inside the user's key context.

Why in privacy/ and not in the channel or the action server: everything stored about a
user is sealed with a key derived from the identifier and the server secret, and only
the channel ever holds the identifier (for one request). The actions
``action_erase_data`` / ``action_export_data`` (actions/privacy_actions.py) therefore only
send a marker (:mod:`privacy.requests.markers`); after Rasa's turn the channel calls the
one post-turn hook, :meth:`privacy.requests.hook.PrivacyRequests.after_turn`, which
replaces every marker by the reply to the performed request. The channel injects what an
erasure must also clean (its outboxes, its payload ids) through the small protocols of
:mod:`privacy.requests.erasure`; nothing here imports the channel.

Modules: ``markers`` (the marker and its parsing), ``erasure`` (locks, erase, clean-up),
``export`` (the export's readable variables, words from labels.yml), ``hook`` (the hook).
docs/whatsapp-delivery.md, "Erasure and export".
"""
