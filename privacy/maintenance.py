"""Operator commands for the encrypted tracker store (run from cron or by hand).

    python -m privacy.maintenance purge      [--url URL] [--retention-days N]
    python -m privacy.maintenance key-status [--url URL]
    python -m privacy.maintenance erase      [--url URL]  < file-with-one-number

``purge`` deletes conversations nobody touched for longer than the retention period
(``PRIVACY_RETENTION_DAYS``, default 30) and prints how many; Redis expires them by
itself (every write sets ``EXPIRE``), so there it reports 0 and says why.

``key-status`` counts records per key version, marked current / retired / unknown
from ``PRIVACY_KEY`` and ``PRIVACY_OLD_KEYS`` (or, with ``BLAUPAUSE_ENV=local``, the
development key file: the same keyring the bot uses, see :mod:`privacy.dev_key`).
When no record uses a retired version any more, that secret can leave
``PRIVACY_OLD_KEYS``. Records under an *unknown* version can never be read again
and disappear with retention.

``erase`` handles an erasure request that reached the operator outside WhatsApp
(GDPR Art. 17): it reads the phone number from standard input, so it never appears
in shell history or the process list, and prints only the pseudonym and a count.

None of these commands can read a conversation: that needs the user's phone number
and the secret together, and only ``erase`` ever sees a number (and reads nothing).

``--url`` defaults to ``TRACKER_STORE_URL``; ``--table``/``--key-prefix`` must match
the ``tracker_store`` options in endpoints.yml if those were changed.
Exit codes: 0 done, 2 configuration error, 3 database unreachable.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import sys
from datetime import datetime, timedelta, timezone
from typing import Any, Mapping, Optional, Sequence, TextIO

from privacy.backends import (
    DEFAULT_REDIS_KEY_PREFIX,
    DEFAULT_TABLE,
    ConversationBackends,
    TrackerStorageUnavailable,
    open_conversation_backends,
    safe_url,
)
from privacy.context import keys_for_user
from privacy.dev_key import keyring_for_runtime
from privacy.errors import PrivacyConfigError, PrivacyError
from privacy.tracker_store import (
    TRACKER_STORE_URL_ENV,
    EncryptedTrackerStore,
    resolve_retention_days,
    resolve_url,
)

__all__ = ["main", "run_command", "purge", "key_status", "EXIT_OK", "EXIT_CONFIG", "EXIT_UNAVAILABLE"]

EXIT_OK = 0
EXIT_CONFIG = 2
EXIT_UNAVAILABLE = 3


async def purge(backends: ConversationBackends, retention: timedelta, *, now: Optional[datetime] = None) -> int:
    """Delete live and archived records last written before ``now - retention``."""
    cutoff = (now or datetime.now(timezone.utc)) - retention
    return await backends.live.purge_older_than(cutoff) + await backends.archive.purge_older_than(cutoff)


async def key_status(backends: ConversationBackends) -> dict[str, tuple[int, int]]:
    """``{key_version: (live records, archived records)}`` over both namespaces."""
    live = await backends.live.count_by_key_version()
    archived = await backends.archive.count_by_key_version()
    return {version: (live.get(version, 0), archived.get(version, 0)) for version in sorted({*live, *archived})}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m privacy.maintenance", description="Maintain the encrypted tracker store."
    )
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--url", help=f"tracker store URL (default: ${TRACKER_STORE_URL_ENV})")
    common.add_argument("--table", default=DEFAULT_TABLE, help="SQL table / Redis namespace")
    common.add_argument("--key-prefix", default=DEFAULT_REDIS_KEY_PREFIX, help="Redis key prefix")
    common.add_argument(
        "--retention-days", type=int, help="retention period (default: $PRIVACY_RETENTION_DAYS or 30)"
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("purge", parents=[common], help="delete conversations older than the retention period")
    commands.add_parser("key-status", parents=[common], help="count records per key version")
    commands.add_parser("erase", parents=[common], help="erase one user's records (number on stdin)")
    return parser


async def _run(
    args: argparse.Namespace, env: Mapping[str, str], stdin: TextIO, out: TextIO
) -> int:
    url = args.url or resolve_url(None, env)
    flag_given = args.retention_days is not None
    retention = timedelta(days=resolve_retention_days(args.retention_days, {} if flag_given else env))
    if args.command == "erase":
        return await _erase(url, args, env, retention, stdin, out)
    backends = open_conversation_backends(url, retention=retention, table=args.table, key_prefix=args.key_prefix)
    try:
        if args.command == "purge":
            return await _purge(backends, retention, url, out)
        return await _key_status(backends, env, url, out)
    finally:
        await backends.close()


async def _purge(backends: ConversationBackends, retention: timedelta, url: str, out: TextIO) -> int:
    deleted = await purge(backends, retention)
    print(f"purged {deleted} record(s) untouched for more than {retention.days} days on {safe_url(url)}", file=out)
    if backends.live.expires_by_itself:
        print(
            f"{backends.live.kind} deletes records itself: every write sets a TTL of {retention.days} days",
            file=out,
        )
    return EXIT_OK


async def _key_status(backends: ConversationBackends, env: Mapping[str, str], url: str, out: TextIO) -> int:
    keyring = keyring_for_runtime(env)
    rows = await key_status(backends)
    for version in keyring.versions:
        rows.setdefault(version, (0, 0))
    print(f"key versions on {safe_url(url)}:", file=out)
    print(f"{'version':<12} {'status':<8} {'live':>8} {'archived':>9}", file=out)
    order = list(keyring.versions) + sorted(v for v in rows if v not in keyring.versions)
    for version in order:
        if version == keyring.current.version:
            status = "current"
        elif version in keyring.versions:
            status = "retired"
        else:
            status = "unknown"
        live, archived = rows[version]
        print(f"{version:<12} {status:<8} {live:>8} {archived:>9}", file=out)
    still_needed = [v for v in keyring.versions[1:] if sum(rows[v])]
    if keyring.retired and not still_needed:
        print("no record needs a retired secret any more: PRIVACY_OLD_KEYS can be emptied", file=out)
    return EXIT_OK


async def _erase(
    url: str, args: argparse.Namespace, env: Mapping[str, str], retention: timedelta, stdin: TextIO, out: TextIO
) -> int:
    keyring = keyring_for_runtime(env)
    line = stdin.readline().strip()
    if not line:
        raise PrivacyConfigError("erase reads the user's WhatsApp number from standard input; none given")
    user_keys = keys_for_user(keyring, line)
    store = EncryptedTrackerStore(
        url=url,
        table=args.table,
        key_prefix=args.key_prefix,
        retention_days=retention.days,
        environ={},  # url and retention are resolved above; the CLI flags win here
    )
    try:
        deleted = await store.erase(user_keys)
    finally:
        await store.close()
    print(f"erased {deleted} record(s) of {user_keys.pseudonym}", file=out)
    return EXIT_OK


async def run_command(
    argv: Optional[Sequence[str]] = None,
    *,
    environ: Optional[Mapping[str, str]] = None,
    stdin: Optional[TextIO] = None,
    stdout: Optional[TextIO] = None,
    stderr: Optional[TextIO] = None,
) -> int:
    """Run one command inside a running event loop; return the exit code.

    :func:`main` is the synchronous entry point; this coroutine exists for callers
    (and tests) that already run an event loop.
    """
    args = _parser().parse_args(argv)
    env = os.environ if environ is None else environ
    out, err = stdout or sys.stdout, stderr or sys.stderr
    try:
        return await _run(args, env, stdin or sys.stdin, out)
    except TrackerStorageUnavailable as error:
        print(f"error: {error}", file=err)
        return EXIT_UNAVAILABLE
    except PrivacyError as error:  # configuration, bad identifier, missing keys
        print(f"error: {error}", file=err)
        return EXIT_CONFIG


def main(argv: Optional[Sequence[str]] = None, **streams: Any) -> int:
    """Process entry point: run one command (see the module docstring) and return its exit code.

    Keyword arguments are those of :func:`run_command` (``environ``, ``stdin``, ...).
    """
    return asyncio.run(run_command(argv, **streams))


if __name__ == "__main__":
    sys.exit(main())
