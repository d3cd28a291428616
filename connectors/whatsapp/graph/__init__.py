"""The outbound side of the channel: calls to Meta's Graph API (WhatsApp Cloud API).

One module per job, so the request path out of the channel reads top to bottom:

- :mod:`.config`: ``GraphSettings``, where and as whom to call (token, phone number id,
  base URL, version, timeout); built by the channel's settings, never from the environment here.
- :mod:`.client`: ``GraphClient``, the pywa-based sender (send, mark read, typing indicator).
- :mod:`.transport`: the httpx transports below pywa (``BaseURLTransport`` for the stand-in,
  ``AiohttpTransport`` for the bytes).
- :mod:`.retry`: ``RetryPolicy``, capped exponential backoff with full jitter.
- :mod:`.errors`: the typed Graph API error families (retryable or not).
- :mod:`.pacing`: throughput (messages per second) and per-recipient order.

Nothing is re-exported here: import each name from the module that defines it.
The reasoning behind the client is in docs/graph-client.md.
"""
