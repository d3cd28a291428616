"""Operator commands for the encrypted tracker store (run from cron or by hand).

    python -m privacy.maintenance purge      [--url URL] [--retention-days N]
    python -m privacy.maintenance key-status [--url URL]
    python -m privacy.maintenance erase      [--url URL]  < file-with-the-users-identifiers
    python -m privacy.maintenance replay-erasures [--url URL] [--journal FILE]

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
(GDPR Art. 17): it reads the user's identifiers from standard input, one per line
(the phone number, the BSUID and/or the parent BSUID: every identifier the person
may have been stored under, see :class:`privacy.identity.UserIdentifiers`), so they
never appear in shell history or the process list, and prints only the pseudonym of
the first one and a count. Records under every identifier, under the current and
every retired secret, are deleted.

``replay-erasures`` is the step after restoring a backup of the tracker database (issue
16, finding 3): a backup taken before an erasure holds that person's wrapped
conversation key and records, and no tombstone. Every erasure is also appended to the
erasure journal (``PRIVACY_ERASURE_JOURNAL``, default ``var/erasures.journal``:
``<time> <pseudonym>`` per line, kept outside the database and its backups); this
command writes the tombstones again and deletes every key record and record last
written at or before its entry's time (a conversation begun after the erasure stays),
then scrubs. It needs no secret and no identifier. Run it before the bot serves the
restored database.

``purge`` also deletes wrapped conversation keys that no longer have a record and
were written before the cutoff, and tombstones older than the retention period (a
record older than such a tombstone is older than the retention period too, so purge
deletes it as well; the journal covers restores of older backups).

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
from privacy.store.config import TRACKER_STORE_URL_ENV, resolve_journal_path, resolve_retention_days, resolve_url
from privacy.store.encrypted import EncryptedTrackerStore
from privacy.store.shredding import ErasureJournal, apply_erasure, scrub_backends

__all__ = ["main", "run_command", "purge", "key_status", "replay_erasures", "EXIT_OK", "EXIT_CONFIG", "EXIT_UNAVAILABLE"]

EXIT_OK = 0
EXIT_CONFIG = 2
EXIT_UNAVAILABLE = 3


async def purge(backends: ConversationBackends, retention: timedelta, *, now: Optional[datetime] = None) -> int:
    """Delete live and archived records last written before ``now - retention``."""
    cutoff = (now or datetime.now(timezone.utc)) - retention
    deleted = await backends.live.purge_older_than(cutoff) + await backends.archive.purge_older_than(cutoff)
    # A wrapped key is written once; it goes when its conversation has gone (Redis: TTL, touched per save).
    in_use = {*await backends.live.list_pseudonyms(), *await backends.archive.list_pseudonyms()}
    for pseudonym in await backends.keys.list_pseudonyms():
        if pseudonym not in in_use:
            record = await backends.keys.get(pseudonym)
            if record is not None and record.updated_at < cutoff:
                await backends.keys.delete(pseudonym)
    await backends.erased.purge_older_than(cutoff)
    return deleted


async def replay_erasures(backends: ConversationBackends, journal: ErasureJournal) -> tuple[int, int]:
    """Apply every journal entry (tombstone, then delete what is older); ``(entries, records deleted)``."""
    entries = journal.entries()
    deleted = 0
    for pseudonym, erased_at in entries:
        deleted += await apply_erasure(backends, pseudonym, erased_at)
    if entries:
        await scrub_backends(backends)
    return len(entries), deleted


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
    commands.add_parser("erase", parents=[common], help="erase one user's records (identifiers on stdin)")
    replay = commands.add_parser(
        "replay-erasures", parents=[common], help="after restoring a backup: apply the erasure journal again"
    )
    replay.add_argument("--journal", help="erasure journal (default: $PRIVACY_ERASURE_JOURNAL or var/erasures.journal)")
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
        if args.command == "replay-erasures":
            journal = ErasureJournal(resolve_journal_path(args.journal, {} if args.journal else env))
            entries, deleted = await replay_erasures(backends, journal)
            print(f"replayed {entries} erasure(s) from {journal.path}: deleted {deleted} record(s) on {safe_url(url)}", file=out)
            return EXIT_OK
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
    identifiers = [line.strip() for line in stdin.read().splitlines() if line.strip()]
    if not identifiers:
        raise PrivacyConfigError(
            "erase reads the user's WhatsApp number and/or BSUIDs from standard input (one per line); none given"
        )
    user_keys = keys_for_user(keyring, identifiers[0], identifiers[1:])
    store = EncryptedTrackerStore(
        url=url,
        table=args.table,
        key_prefix=args.key_prefix,
        retention_days=retention.days,
        erasure_journal=str(resolve_journal_path(None, env)),
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
