"""Small rules of HTTP that several of our clients share, with nothing of ours imported.

Why its own top-level package: the job provider and the LLM client (``actions/``, the action
server) and the transcription client (``speech/``, the Rasa process) talk to different servers
but read the same headers the same way. Neither side should import the other, nor Rasa, Sanic or
an HTTP library, just for a header rule; like :mod:`observability`, this package imports only
the standard library, so every process (and every test) may use it.

- :mod:`httpkit.retry_after`: how long a server asks us to wait (``Retry-After``, RFC 9110 10.2.3,
  and OpenAI's ``retry-after-ms``).
"""
