"""``python -m preview``: the Graph API stand-in and the preview's web server in one process.

    python -m preview [--port 8700] [--host 127.0.0.1] [--graph-port 8765]
                      [--webhook-url http://127.0.0.1:5005/webhooks/whatsapp/webhook]
                      [--app-secret …] [--access-token …] [--phone-number-id …]
                      [--tracker-store-url sqlite:///var/trackers.db]

Start the assistant with ``WHATSAPP_API_BASE_URL`` pointing at the stand-in and the same access
token and phone number id (scripts/run.sh does all of this: ``make run``). The inspector reads the
encrypted tracker store (``TRACKER_STORE_URL``, else endpoints.yml's SQLite file) with
``PRIVACY_KEY`` or, locally, the development key file (privacy/dev_key.py), as Rasa does.
Refuses to start (exit 2) outside local use: preview/guard.py.
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from aiohttp import web

from harness.chat import DEFAULT_WEBHOOK_URL
from harness.webhook_sender import WebhookSender
from preview.events import TrafficWatcher
from preview.guard import PreviewRefused, check_environment, check_host
from preview.inspector import Inspector
from preview.server import PreviewApi, build_app
from privacy.dev_key import keyring_for_runtime
from privacy.errors import PrivacyConfigError
from privacy.keyring import Keyring
from preview.sessions import default_sessions
from standins.meta_graph import DEFAULT_ACCESS_TOKEN, DEFAULT_PHONE_NUMBER_ID, MetaGraphStandIn

__all__ = ["PROJECT_ROOT", "DEFAULT_PORT", "DEFAULT_TRACKER_STORE_URL", "parse_args", "check", "serve", "main"]

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PORT = 8700
DEFAULT_TRACKER_STORE_URL = "sqlite:///var/trackers.db"


def parse_args(argv: Sequence[str] | None, environ: Mapping[str, str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m preview", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1", help="loopback only: 127.0.0.1, ::1 or localhost")
    parser.add_argument("--port", type=int, default=int(environ.get("PREVIEW_PORT") or DEFAULT_PORT))
    parser.add_argument("--graph-port", type=int, default=int(environ.get("GRAPH_PORT") or 8765))
    parser.add_argument("--webhook-url", default=DEFAULT_WEBHOOK_URL)
    parser.add_argument("--app-secret", default=environ.get("WHATSAPP_APP_SECRET"), help="default: $WHATSAPP_APP_SECRET")
    parser.add_argument("--access-token", default=environ.get("WHATSAPP_ACCESS_TOKEN") or DEFAULT_ACCESS_TOKEN)
    parser.add_argument("--phone-number-id", default=environ.get("WHATSAPP_PHONE_NUMBER_ID") or DEFAULT_PHONE_NUMBER_ID)
    parser.add_argument("--tracker-store-url", default=environ.get("TRACKER_STORE_URL") or DEFAULT_TRACKER_STORE_URL)
    args = parser.parse_args(argv)
    if not args.app_secret:
        parser.error("--app-secret or WHATSAPP_APP_SECRET is required (the assistant verifies signatures)")
    return args


def check(args: argparse.Namespace, environ: Mapping[str, str]) -> None:
    """Raise :class:`PreviewRefused` unless this is a local run (preview/guard.py)."""
    check_host(args.host)
    check_environment(environ, webhook_url=args.webhook_url, access_token=args.access_token)


async def serve(args: argparse.Namespace, keyring: Keyring, stop: asyncio.Event) -> None:
    """Run the stand-in and the web server until ``stop`` is set (``keyring`` for the inspector)."""
    standin = MetaGraphStandIn(args.access_token, args.phone_number_id)
    graph_url = await standin.start("127.0.0.1", args.graph_port)
    sessions = default_sessions()
    watcher = TrafficWatcher(standin, sessions.values)
    inspector = Inspector(args.tracker_store_url, keyring, PROJECT_ROOT / "domain.yml")
    sender = WebhookSender(args.webhook_url, args.app_secret, retry_delays=(0.5, 1.0, 2.0))
    api = PreviewApi(standin, sender, sessions, inspector, project_root=PROJECT_ROOT)
    runner = web.AppRunner(build_app(api), access_log=None)
    try:
        await watcher.start()
        await runner.setup()
        await web.TCPSite(runner, args.host, args.port).start()
        host = f"[{args.host}]" if ":" in args.host else args.host
        print(f"preview: Meta Graph stand-in on {graph_url}; assistant webhook {args.webhook_url}", flush=True)
        print(f"Open http://{host}:{args.port}/ (gallery: /gallery)", flush=True)
        await stop.wait()
    finally:
        await runner.cleanup()
        await watcher.stop()
        await sender.aclose()
        await inspector.close()
        await standin.stop()


async def _run(args: argparse.Namespace, keyring: Keyring) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(signum, stop.set)
    await serve(args, keyring, stop)


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> None:
    env = os.environ if environ is None else environ
    args = parse_args(argv, env)
    try:
        check(args, env)
        keyring = keyring_for_runtime(env, api_base_url=env.get("WHATSAPP_API_BASE_URL"))
    except (PreviewRefused, PrivacyConfigError) as refusal:
        print(f"preview: refusing to start: {refusal}", file=sys.stderr)
        raise SystemExit(2) from None
    asyncio.run(_run(args, keyring))
