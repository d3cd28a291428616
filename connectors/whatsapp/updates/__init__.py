"""Inbound webhook bodies: from verified bytes to frozen dataclasses.

- :mod:`.parser`: ``parse_body`` / ``parse_update`` and ``PayloadError`` (HTTP 400); read its
  docstring for what is tolerated.
- :mod:`.messages`: the result types (messages, identity changes, statuses, ``WebhookUpdate``).
- :mod:`.senders`: a message's identifiers, completed from ``contacts[]``.
- :mod:`.identity`: the number / BSUID changes announced by system messages.
- :mod:`.fields`: tolerant readers of single JSON fields.

Nothing is re-exported here: import each name from the module that defines it.
"""
