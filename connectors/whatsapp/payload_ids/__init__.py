"""Short, stable ids for Rasa button payloads that do not fit WhatsApp's id fields.

- :mod:`.tokens`: the keyed tokens (``~…``, ``~more:…``) and how to recognise them.
- :mod:`.maps`: the map interface the renderer and the inbound side share, and the
  per-person view (``owned_by``).
- :mod:`.memory_map`: ``InMemoryPayloadIdMap``, one process.
- :mod:`.redis_map`: ``RedisPayloadIdMap``, every process, values sealed (:mod:`.sealing`).

Nothing is re-exported here: import each name from the module that defines it.
"""
