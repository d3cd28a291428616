"""Start the action server with only the environment it needs (issue 16, finding 5).

Why: the design says the action server holds no key. It runs the job search and the
LLM fallback on a tracker that Rasa sends it; it never opens the tracker store and
never talks to Meta. Started from the same shell as Rasa it would inherit
``PRIVACY_KEY``, ``PRIVACY_OLD_KEYS`` and the Meta secrets, and any bug or dependency
in it could read them. So every launcher (``scripts/run.sh``, ``harness/local_stack.py``)
builds its environment with :func:`action_server_environment`: an allowlist of names
the action server reads, everything else dropped, and the secrets below refused even
if someone adds them to the allowlist by prefix.

CLI: ``python -m privacy.action_server -- COMMAND [ARGS...]`` replaces itself with
``COMMAND`` run under the allowlisted environment (``os.execvpe``), e.g.
``python -m privacy.action_server -- .venv/bin/rasa run actions --actions actions``.

Deployment advice (docs/privacy.md): run the action server as its own OS user without
read access to the tracker database and ``var/``, listen on loopback or a private
network only, and optionally require a shared-secret header between Rasa and the
action server: ``ACTION_SERVER_TOKEN`` for both, and ``headers:
{X-Action-Server-Token: ${ACTION_SERVER_TOKEN}}`` under ``action_endpoint`` in
endpoints.yml (checked by :func:`privacy.action_errors.require_shared_secret`).
"""
from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence

__all__ = [
    "ALLOWED_NAMES",
    "ALLOWED_PREFIXES",
    "FORBIDDEN_NAMES",
    "action_server_environment",
    "main",
]

#: Secrets that must never reach the action server, whatever the allowlist says.
FORBIDDEN_NAMES: frozenset[str] = frozenset(
    {
        "PRIVACY_KEY",
        "PRIVACY_OLD_KEYS",
        "PRIVACY_DEV_KEY_FILE",
        "WHATSAPP_APP_SECRET",
        "WHATSAPP_ACCESS_TOKEN",
        "WHATSAPP_VERIFY_TOKEN",
        "TRACKER_STORE_URL",
        "TRACKER_STORE_PASSWORD",
        "WHATSAPP_DEDUP_URL",
        "REDIS_URL",
        "PG_URL",
        "DB_PASSWORD",
    }
)

#: Exact names the action server (rasa-sdk, Sanic, the actions package, Python) reads.
ALLOWED_NAMES: frozenset[str] = frozenset(
    {
        "PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "LANGUAGE", "TZ", "TMPDIR", "TERM",
        "VIRTUAL_ENV", "PYTHONPATH", "PYTHONHASHSEED", "PYTHONDONTWRITEBYTECODE", "PYTHONUNBUFFERED",
        "PYTHONIOENCODING", "PYTHONWARNINGS",
        "SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE",
        "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy",
        "LOG_LEVEL", "LOG_LEVEL_LIBRARIES", "FORCE_JSON_LOGGING", "RASA_TELEMETRY_ENABLED",
        "ACTION_SERVER_SANIC_WORKERS", "BLAUPAUSE_ENV", "BLAUPAUSE_ALLOW_DEBUG_LOGS", "BLAUPAUSE_DOMAIN_FILE",
        "BLAUPAUSE_ACTION_SERVER", "ACTION_SERVER_TOKEN",
    }
)

#: Prefixes of settings the actions read (job provider, LLM, Sanic, locale).
ALLOWED_PREFIXES: tuple[str, ...] = ("JOBS_", "LLM_", "SANIC_", "LC_")


def action_server_environment(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The allowlisted copy of ``environ`` (default ``os.environ``) for the action server.

    Adds ``BLAUPAUSE_ACTION_SERVER=1`` so the actions package installs the log redaction.
    """
    env = os.environ if environ is None else environ
    result = {
        name: value
        for name, value in env.items()
        if name not in FORBIDDEN_NAMES and (name in ALLOWED_NAMES or name.startswith(ALLOWED_PREFIXES))
    }
    result["BLAUPAUSE_ACTION_SERVER"] = "1"
    return result


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m privacy.action_server -- COMMAND ...``: exec COMMAND with the allowlist."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] == "--":
        args = args[1:]
    if not args:
        print("usage: python -m privacy.action_server -- COMMAND [ARGS...]", file=sys.stderr)
        return 2
    os.execvpe(args[0], args, action_server_environment())
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main())
