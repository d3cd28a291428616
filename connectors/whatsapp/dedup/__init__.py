"""Exactly-once handling of inbound messages: a claim with a lease per message id.

- :mod:`.claims`: the protocol (states, :class:`~.claims.Claim`, errors, the store interface,
  the hashed store key); read its docstring first.
- :mod:`.memory_store`: ``InMemoryDedupStore``, one process.
- :mod:`.redis_store`: ``RedisDedupStore``, several instances.
- :mod:`.factory`: ``store_from_url``, the choice between them.

Nothing is re-exported here: import each name from the module that defines it.
"""
