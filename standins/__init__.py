"""Loopback fake servers of the outside services the assistant talks to: nothing else.

Each stand-in is a real HTTP server on 127.0.0.1 (port 0 picks a free port) that answers like
the documented service, including its errors and limits, and can be told to misbehave
(rate limits, server errors, slowness). Tests start one, point the real client at its
``base_url`` and stop it afterwards; developers can also run them by hand
(``python -m standins.<name> --help``):

- ``standins.meta_graph``: Meta's WhatsApp Cloud API ``messages`` endpoint, with its own table
  of Meta's limits (it never imports the channel it tests);
- ``standins.jobsuche``: the Bundesagentur für Arbeit job search API;
- ``standins.llm``: an OpenAI-compatible chat completions server.

Drivers of the assistant (webhook sender, terminal chat, process control) live in ``harness/``.
"""

__all__: list[str] = []
