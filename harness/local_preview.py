"""The local stack with the designer's preview (issue 15) in place of the bare Graph stand-in.

Why apart from harness/local_stack.py: with ``preview=True`` the stack starts ``python -m preview``
(preview/cli.py) instead of ``python -m standins.meta_graph``. The preview hosts the same Graph
stand-in in its own process, on the same port, so Rasa's ``WHATSAPP_API_BASE_URL`` and the
stand-in's ``/_standin/...`` controls (``sent()``, ``inject_faults``) stay as they are, and it
serves the chat page and the gallery on ``preview_url`` for the browser tests
(tests/browser/test_preview.py) and the documentation's screenshots (preview/screenshots.py).
The preview refuses to start unless ``BLAUPAUSE_ENV=local`` (it must never run next to real Meta
credentials); only its process gets that, Rasa keeps the stack's environment and privacy key.
"""
from __future__ import annotations

import sys
from typing import Callable, Dict, List, Mapping, Optional

__all__ = ["PreviewProcess"]


class PreviewProcess:
    """Mixed into :class:`harness.local_stack.LocalStack`: it provides ``graph_port``,
    ``phone_number_id``, ``preview`` and ``preview_port`` and ``webhook_url()``."""

    graph_port: int
    phone_number_id: str
    preview: bool
    preview_port: Optional[int]
    webhook_url: Callable[..., str]

    @property
    def graph_process(self) -> str:
        """The name of the process that serves the Graph stand-in (for ``logs``, ``procs``, ``kill``)."""
        return "preview" if self.preview else "graph"

    @property
    def preview_url(self) -> str:
        """The preview's pages and API, e.g. ``http://127.0.0.1:8700`` (``preview=True`` only)."""
        if not self.preview or self.preview_port is None:
            raise RuntimeError("no preview: start the stack with preview=True")
        return f"http://127.0.0.1:{self.preview_port}"

    def graph_command(self) -> List[str]:
        """The command that serves the Graph stand-in on ``graph_port``: the preview or the stand-in alone.

        Secrets travel in the environment (``WHATSAPP_APP_SECRET``, ``WHATSAPP_ACCESS_TOKEN``,
        ``PRIVACY_KEY``), never on the command line, where ``ps`` shows them to every user.
        """
        if not self.preview:
            return [sys.executable, "-m", "standins.meta_graph", "--port", str(self.graph_port)]
        return [
            sys.executable, "-m", "preview", "--host", "127.0.0.1", "--port", str(self.preview_port),
            "--graph-port", str(self.graph_port), "--webhook-url", self.webhook_url(0),
            "--phone-number-id", self.phone_number_id,
        ]

    def graph_env(self, env: Mapping[str, str]) -> Dict[str, str]:
        """The stand-in's (or the preview's) environment: the stack's, and for the preview ``BLAUPAUSE_ENV=local``."""
        env = dict(env)
        if self.preview:
            env["BLAUPAUSE_ENV"] = "local"
        return env

    def graph_ready_urls(self, graph_url: str) -> List[str]:
        """What answers once the process is up: the stand-in's control API, and the preview's config."""
        urls = [f"{graph_url}/_standin/messages"]
        if self.preview:
            urls.append(f"{self.preview_url}/api/config")
        return urls
