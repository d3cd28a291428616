"""What a fuzz part offered, what came back, and what it may have left in the stores.

The channel's own parser is the oracle for signed bodies; dedup keys are computed the way the
channel keys them (an HMAC reference under the server secret, connectors/whatsapp/references.py).
"""
from __future__ import annotations

import base64
import json
import sqlite3
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Collection, Dict, Iterable, List, Optional, Sequence, Tuple

from connectors.whatsapp.dedup.claims import message_key
from connectors.whatsapp.references import References
from connectors.whatsapp.updates.parser import PayloadError, parse_body, without_lone_surrogates
from privacy.context import keys_for_user
from privacy.errors import InvalidIdentifierError
from privacy.keyring import Keyring
from tests.support.fuzz.inputs import DEDUP_NAMESPACE, MAX_BODY


#: Identifiers a ``system`` message names (Meta's identity changes, connectors/whatsapp/updates/identity.py).
_SYSTEM_IDENTIFIERS = ("wa_id", "new_wa_id", "user_id", "previous_user_id", "parent_user_id", "previous_parent_user_id")


def identifiers(body: bytes) -> Tuple[set, set, set]:
    """(message and status ids, senders, message texts) anywhere in ``body`` that the channel could act on.

    Generous on purpose: every object in a list under ``messages``/``statuses`` at any depth. Senders are
    every identifier the channel may key a conversation on (issue 9): a message's ``from``,
    ``from_user_id`` and ``from_parent_user_id``, those of its ``system`` identity change, and every
    ``contacts[]`` entry's ``wa_id``, ``user_id`` and ``parent_user_id`` (a message without a BSUID takes
    its contact's, connectors/whatsapp/updates/senders.py, so its conversation is keyed on that).
    """
    try:
        payload = json.loads(body.decode("utf-8"))
    except (ValueError, RecursionError):
        return set(), set(), set()
    ids, senders, bodies = set(), set(), set()
    try:
        payload = without_lone_surrogates(payload)  # as the channel reads it
    except RecursionError:  # nested too deeply for the channel too: refused with 400
        return ids, senders, bodies
    stack: List[Tuple[Any, str]] = [(payload, "")]
    while stack:
        node, parent = stack.pop()
        if isinstance(node, dict):
            if parent in ("messages", "statuses") and isinstance(node.get("id"), str):
                ids.add(node["id"])
            if parent == "messages":
                senders.update(v for v in (node.get("from"), node.get("from_user_id"), node.get("from_parent_user_id"))
                               if isinstance(v, str))
                system = node.get("system")
                if isinstance(system, dict):  # an identity change moves the conversation to the new identity
                    senders.update(v for key in _SYSTEM_IDENTIFIERS if isinstance(v := system.get(key), str))
                text = node.get("text")
                if isinstance(text, dict) and isinstance(text.get("body"), str):
                    bodies.add(text["body"])
            if parent == "contacts":  # the channel completes a message's identity from its contacts[] entry
                senders.update(v for key in ("wa_id", "user_id", "parent_user_id") if isinstance(v := node.get(key), str))
            stack.extend((value, key) for key, value in node.items() if isinstance(value, (dict, list)))
        elif isinstance(node, list):
            stack.extend((item, parent) for item in node if isinstance(item, (dict, list)))
    return ids, senders, bodies


def dedup_keys(message_ids: Iterable[str], keyring: Keyring) -> Dict[bytes, str]:
    """Record and lease key of each id under the dedup namespace, as the channel keys them
    (an HMAC reference under the server secret, connectors/whatsapp/references.py)."""
    references = References.from_keyring(keyring)
    keys: Dict[bytes, str] = {}
    for message_id in message_ids:
        record = f"{DEDUP_NAMESPACE}:{message_key(references.dedup_key(message_id))}".encode()
        keys[record] = keys[record + b":lease"] = message_id
    return keys


def pseudonyms(keyring: Keyring, senders: Iterable[str]) -> set:
    found = set()
    for sender in senders:
        try:
            found.add(keys_for_user(keyring, sender).pseudonym)
        except (InvalidIdentifierError, UnicodeError):
            continue
    return found


def oracle(body: bytes) -> Tuple[Collection[int], Optional[str]]:
    """(statuses the channel may answer to a validly signed ``body``, known bug it may show).

    The channel's own parser decides 400 vs. 200 on the same bytes (the point here is what
    the running app makes of it: no 5xx, nothing stored unless accepted).
    """
    if len(body) > MAX_BODY:
        return {413}, None
    try:
        parse_body(body)
    except PayloadError:
        return {400}, None
    except Exception:  # an unknown parser crash: the answer will tell (no 5xx is allowed)
        return {200, 400}, None
    return {200}, None


def is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


@dataclass(repr=False)
class Tally:
    """What one part offered, what came back, and which messages were accepted."""

    part: str
    sink: set = field(default_factory=set)  # every id offered in this module (for the clean-up)
    started: float = field(default_factory=time.monotonic)
    statuses: Counter = field(default_factory=Counter)
    kinds: Counter = field(default_factory=Counter)
    known: Counter = field(default_factory=Counter)
    problems: List[str] = field(default_factory=list)
    problem_count: int = 0
    offered_ids: set = field(default_factory=set)
    accepted_ids: set = field(default_factory=set)
    known_ids: set = field(default_factory=set)
    accepted_senders: set = field(default_factory=set)
    known_senders: set = field(default_factory=set)
    accepted_texts: set = field(default_factory=set)
    failures: List[Dict[str, Any]] = field(default_factory=list)

    def __repr__(self) -> str:  # short in assertion messages
        return f"Tally({self.part!r}, offered {self.offered})"

    @property
    def offered(self) -> int:
        return sum(self.statuses.values())

    def record(self, kind: str, body: bytes, status: Optional[int], allowed: Collection[Optional[int]],
               known: Optional[str] = None, headers: Sequence[Tuple[bytes, bytes]] = ()) -> None:
        self.kinds[kind] += 1
        self.statuses[status] += 1
        ids, senders, bodies = identifiers(body)
        self.offered_ids |= ids
        self.sink |= ids
        if status is not None and 200 <= status < 300:
            self.accepted_ids |= ids
            self.accepted_senders |= senders
            self.accepted_texts |= bodies
        if known is not None and status is not None and status >= 500:
            self.known[known] += 1
            self.known_ids |= ids
            self.known_senders |= senders
            return
        if status not in allowed:
            self.problem_count += 1
            if len(self.failures) < 200:
                self.failures.append({"kind": kind, "status": status, "allowed": sorted(map(str, allowed)),
                                      "headers": [[n.decode("latin-1"), v.decode("latin-1")] for n, v in headers],
                                      "body_b64": base64.b64encode(body).decode()})
            if len(self.problems) < 8:
                self.problems.append(f"{kind}: answered {status}, expected one of {sorted(map(str, allowed))}; "
                                     f"headers {[(n, v[:80]) for n, v in headers]}; body[:300] {body[:300]!r}")

    def answers(self) -> str:
        shown = sorted(self.statuses.items(), key=lambda item: (item[0] is None, item[0] or 0))
        return ", ".join(f"{'closed' if code is None else code}×{count}" for code, count in shown)

    def known_text(self) -> str:
        return "" if not self.known else " (+ known bugs: " + ", ".join(f"{k}×{n}" for k, n in sorted(self.known.items())) + ")"

    def unexpected_5xx(self) -> int:
        return sum(n for code, n in self.statuses.items() if code is not None and code >= 500) - sum(self.known.values())


@dataclass(frozen=True)
class Snapshot:
    rows: Dict[Tuple[str, str], Any]
    dedup: frozenset
    pid: frozenset
    replies: int
    turns: int  # "dialogue produced" lines in Rasa's log: one per dialogue turn


def tracker_rows(db_path: Path) -> Dict[Tuple[str, str], Any]:
    """(table, pseudonym) -> updated_at of every row of the encrypted store (privacy/backends/sqlite.py)."""
    if not db_path.exists():
        return {}
    connection = sqlite3.connect(str(db_path), timeout=30)
    try:
        rows: Dict[Tuple[str, str], Any] = {}
        for (table,) in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall():
            columns = {column[1] for column in connection.execute(f'PRAGMA table_info("{table}")')}
            if {"pseudonym", "updated_at"} <= columns:
                for pseudonym, updated_at in connection.execute(f'SELECT pseudonym, updated_at FROM "{table}"'):
                    rows[(table, pseudonym)] = updated_at
        return rows
    finally:
        connection.close()


#: The packages whose source makes up the processes' own vocabulary (logger names, class names, constants).
_SOURCE_DIRS = ("connectors", "privacy", "observability", "rasa_compat", "actions", "nlu", "wording", "locking",
                "httpkit", "speech", "standins", "harness")


def code_vocabulary(root: Path) -> str:
    """Every Python source of the processes under ``root``, lower-cased, as one text.

    Why: Hypothesis draws some texts from the string constants of the code it runs with (its
    "local constants"), so an accepted random text can be a word of our own code, such as
    ``DELIVERY_STATUSES``, and then shows in a log line as a logger or class name, not as a
    user's text. :func:`from_our_code` tells those apart.
    """
    parts = []
    for name in _SOURCE_DIRS:
        for path in sorted((root / name).rglob("*.py")):
            parts.append(path.read_text(encoding="utf-8", errors="replace").lower())
    return "\n".join(parts)


def from_our_code(text: str, vocabulary: str) -> bool:
    """Whether ``text`` (case-insensitively) occurs in our own source: a code word, not user text."""
    return text.strip().lower() in vocabulary
