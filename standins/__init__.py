"""Loopback test doubles of the outside services the assistant talks to.

Each stand-in is a real HTTP server on 127.0.0.1 (port 0 picks a free port) that answers like
the documented service, including its errors and limits, and can be told to misbehave
(rate limits, server errors, slowness). Tests start one, point the real client at its
``base_url`` and stop it afterwards; developers can also run them by hand
(``python -m standins.<name> --help``).
"""

__all__: list[str] = []
