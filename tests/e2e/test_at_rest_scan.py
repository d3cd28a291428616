"""At rest, nothing personal is readable: raw scans after real conversations through the webhook.

Why: the README promises that the phone number is never written anywhere and that everything
stored about a user is encrypted. Unit tests check each store in isolation; this test checks
the promise the way an attacker with a copy of the disk, the database or Redis would: it
drives scripted WhatsApp conversations (German and English, typed texts, button and list taps, a
location share with a place name and address, profile names, a name typed into a message)
through the real processes, then scans the raw bytes of everything they stored
(harness/at_rest.py) for the numbers in every common spelling, the business-scoped user ids
(BSUIDs), parent BSUIDs and usernames in their forms, the profile names, the users'
texts and distinctive words of them, the place, and the bot's answers as the Graph stand-in
received them. The users cover the identities of the username era: one whose webhooks carry
number, BSUID, parent BSUID and username until the number disappears mid-conversation, one with
the old phone-only payloads, a username user who writes with a BSUID only, and one who speaks
(voice notes, transcribed by the STT stand-in: the transcripts, media ids and Ogg markers are needles). The processes' logs (except the Graph stand-in's, which plays Meta and must see
the numbers) are scanned for numbers, BSUIDs, usernames, profile names and the users' distinctive
words.

Two deployments: (a) the default encrypted SQLite store; (b) the PostgreSQL tracker store
with Rasa's Redis lock store and the channel's Redis dedup store. Both start at once to save
time. Needs a trained model (skips without one unless CI=true) and, for (b), PostgreSQL and Redis.
"""
from __future__ import annotations

import asyncio
import os
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence

import httpx
import pytest

from harness import at_rest
from harness import meta_payloads as mp
from harness.local_stack import LocalStack
from harness.voice_notes import voice_note
from harness.webhook_sender import WebhookSender
from tests.support.model import MODEL, require_model
from tests.support.paths import REPO_ROOT
from tests.support.stores import drop_postgres_tables

pytestmark = pytest.mark.e2e

ROOT = REPO_ROOT
SETTLE_S = 1.0


# ------------------------------------------------------------------------- the script
Step = Callable[[mp.Sender, List[Dict[str, Any]]], Dict[str, Any]]  # (sender, previous replies) -> message


def _tap(title: str) -> Step:
    """Tap the button or list row titled ``title`` in the previous reply."""

    def step(wa_id: mp.Sender, previous: List[Dict[str, Any]]) -> Dict[str, Any]:
        for message in reversed(previous):
            interactive = message.get("interactive", {})
            if interactive.get("type") == "button":
                for button in interactive["action"]["buttons"]:
                    if button["reply"]["title"] == title:
                        return mp.button_reply(wa_id, button["reply"]["id"], title)
            if interactive.get("type") == "list":
                for section in interactive["action"]["sections"]:
                    for row in section["rows"]:
                        if row["title"] == title or row["title"].startswith(title):
                            return mp.list_reply(wa_id, row["id"], row["title"])
        raise AssertionError(f"no choice {title!r} in {previous}")

    return step


def _say(body: str) -> Step:
    return lambda wa_id, _: mp.text(wa_id, body)


def _speak(words: str, confidence: Optional[float] = None) -> Step:
    """A voice note that says ``words`` (``_converse`` puts the recording on the Graph stand-in)."""
    return lambda wa_id, _: {"type": VOICE, "words": words, "confidence": confidence}


VOICE = "_voice_note"  # a step's placeholder message type: becomes an ``audio`` message with a media id


@dataclass
class User:
    """One scripted user: who they are, what they send, and the words that must never be readable.

    ``identity``: ``"phone"`` (old payloads: number only), ``"bsuid"`` (a username user whose
    number Meta does not share) or ``"both"`` (number, BSUID and parent BSUID; the number
    disappears from the webhooks after ``drop_number_after`` steps when set).
    """

    offset: int
    profile_name: str
    steps: Sequence[Step]
    secrets: Sequence[str]  # besides the texts sent, which are secrets anyway
    identity: str = "phone"
    username: Optional[str] = None
    drop_number_after: Optional[int] = None
    sent_texts: List[str] = field(default_factory=list)
    media_ids: List[str] = field(default_factory=list)

    def wa_id(self, base: int) -> str:
        return str(base + self.offset)

    def user_id(self, base: int) -> Optional[str]:
        # Obviously fake and unrelated to the number (no digits of it inside).
        return None if self.identity == "phone" else f"DE.{7000000000000000000 + (base % 100000) * 10 + self.offset}"

    def parent_user_id(self, base: int) -> Optional[str]:
        return f"DE.ENT.{8000000000000000000 + (base % 100000) * 10 + self.offset}" if self.identity == "both" else None

    def sender(self, base: int, step: int) -> mp.WhatsAppUser:
        """Who the ``step``-th webhook (0-based) says wrote."""
        has_number = self.identity == "phone" or (
            self.identity == "both" and (self.drop_number_after is None or step < self.drop_number_after)
        )
        return mp.WhatsAppUser(
            phone=self.wa_id(base) if has_number else None,
            user_id=self.user_id(base),
            parent_user_id=self.parent_user_id(base),
            username=self.username,
            name=self.profile_name,
        )

    def addresses(self, base: int) -> List[str]:
        """Every address a reply to this user may carry (``to`` or ``recipient``)."""
        return [a for a in (self.wa_id(base), self.user_id(base), self.parent_user_id(base)) if a]


PLACE_NAME = "Café Wunderlich"
PLACE_ADDRESS = "Quellenweg 42, 80331 München"


def _users() -> List[User]:
    return [
        User(1, "Erika Testfrau", [
            _say("Hallo"),
            _say("Ich suche eine Stelle als Tierpflegerin in Hamburg"),
            _tap("Neue Suche"),
            _tap("Pflege"),
            lambda wa_id, _: mp.location(wa_id, 48.13712, 11.57543, name=PLACE_NAME, address=PLACE_ADDRESS),
            lambda wa_id, previous: _tap("1.")(wa_id, previous),
        ], ["Testfrau", "Tierpflegerin", PLACE_NAME, "Wunderlich", PLACE_ADDRESS, "Quellenweg 42", "48.13712", "11.57543"],
            identity="both", username="@erika_testfrau", drop_number_after=3),
        User(2, "John Sampleton", [
            _say("Hello, do you speak English?"),
            _say("I'm looking for a job as a falconer in Hamburg"),
            _say("only part-time please"),
            lambda wa_id, _: mp.image(wa_id, caption="my CV, John Sampleton"),
            _say("Thank you"),
        ], ["Sampleton", "falconer", "my CV, John"]),
        User(3, "Jürgen Prüfmann", [
            _say("Moin, ich heiße Jürgen Prüfmann und suche Arbeit als Hufschmied in Köln"),
            _say("Pflege Jobs in Köln"),
            _tap("Mehr Ergebnisse"),
            _say("nur Teilzeit"),
            _say("Danke schön"),
        ], ["Prüfmann", "Hufschmied"], identity="bsuid", username="@juergen_pruefmann"),
        User(4, "Hanna Sprachfroh", [  # by voice notes (issue 14): transcripts, media ids, recordings
            _speak("Ich suche Arbeit als Imkerin in Freiburg"),
            _speak("Lieber in Heidelberg", confidence=0.3),
            _tap("Ja, stimmt"),
            _speak("Danke Hanna Sprachfroh sagt tschüss"),
        ], ["Sprachfroh", "Imkerin", "Heidelberg", "opushead", "opustags", "blaupause_transcript"],
            identity="both", username="@hanna_sprachfroh"),
    ]


# -------------------------------------------------------------------------- the stacks
@dataclass
class Deployment:
    """A running stack, where it stores, and what was done with it."""

    name: str
    stack: LocalStack
    number_base: int
    table: Optional[str] = None
    postgres_url: Optional[str] = None
    redis_url: Optional[str] = None
    redis_keys_before: Dict[int, set] = field(default_factory=dict)
    users: List[User] = field(default_factory=_users)
    replies: Dict[str, List[Dict[str, Any]]] = field(default_factory=dict)
    reply_fields: Dict[str, List[str]] = field(default_factory=dict)  # "to" / "recipient" per reply
    started_at: float = 0.0


def _servers(request: pytest.FixtureRequest) -> tuple[Optional[str], Optional[str], str]:
    """(postgres_url, redis_url, skip reason): a missing server skips deployment (b) only (fails in CI)."""
    try:
        return request.getfixturevalue("postgres_url"), request.getfixturevalue("redis_url"), ""
    except pytest.skip.Exception as skipped:
        return None, None, str(skipped)


def _start_all(stacks: Sequence[LocalStack]) -> None:
    """Start the stacks at the same time (each mostly waits for its Rasa to load)."""
    errors: List[BaseException] = []

    def start(stack: LocalStack) -> None:
        try:
            stack.start()
        except BaseException as error:  # re-raised below in the test's thread
            errors.append(error)

    threads = [threading.Thread(target=start, args=(stack,)) for stack in stacks]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]


async def _converse(deployment: Deployment) -> None:
    """Play every user's script (users one after the other, turns waiting for their replies)."""
    stack = deployment.stack
    async with httpx.AsyncClient(timeout=10.0) as client, WebhookSender(
        stack.webhook_url(), stack.app_secret, retry_delays=(0.3, 0.6, 1.2, 2.4)
    ) as sender:

        async def sent_to(addresses: Sequence[str]) -> List[Dict[str, Any]]:
            response = await client.get(f"{stack.graph_url}/_standin/messages")
            return [
                m["message"] for m in response.json()["messages"]
                if m.get("to") in addresses or m.get("recipient") in addresses
            ]

        base = deployment.number_base
        for user in deployment.users:
            addresses = user.addresses(base)
            previous: List[Dict[str, Any]] = []
            for index, step in enumerate(user.steps):
                sender_now = user.sender(base, index)
                message = step(sender_now, previous)
                if message["type"] == "text":
                    user.sent_texts.append(message["text"]["body"])
                if message["type"] == VOICE:
                    words = message["words"]
                    recording = voice_note(words, seconds=2.0, confidence=message["confidence"], language="de")
                    media_id = stack.upload_media(recording)
                    user.sent_texts.append(words)
                    user.media_ids.append(media_id)
                    message = mp.audio(sender_now, media_id=media_id)
                before = len(await sent_to(addresses))
                delivery = await sender.send(mp.payload(message, profile_name=user.profile_name, users=[sender_now]))
                assert delivery.delivered, delivery
                deadline, seen, quiet = time.monotonic() + 60, before, time.monotonic()
                while time.monotonic() < deadline:
                    count = len(await sent_to(addresses))
                    if count != seen:
                        seen, quiet = count, time.monotonic()
                    elif count > before and time.monotonic() - quiet > SETTLE_S:
                        break
                    await asyncio.sleep(0.1)
                previous = (await sent_to(addresses))[before:]
                assert previous, f"no reply to {message}"
            deployment.replies[user.wa_id(base)] = await sent_to(addresses)
            listing = (await client.get(f"{stack.graph_url}/_standin/messages")).json()["messages"]
            deployment.reply_fields[user.wa_id(base)] = [
                "to" if m.get("to") else "recipient"
                for m in listing if m.get("to") in addresses or m.get("recipient") in addresses
            ]


def _redis_key_sets(url: str) -> Dict[int, set]:
    return {db: set(keys) for db, keys in at_rest.redis_keys(url).items()}


@pytest.fixture(scope="module")
def deployments(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dict[str, Any]]:
    """Both deployments, started together, with every user's conversation already played."""
    require_model()
    postgres_url, redis_url, skip_reason = _servers(request)
    started_at = time.time()
    result: Dict[str, Any] = {
        "sqlite": Deployment("sqlite", LocalStack(tmp_path_factory.mktemp("rest-sqlite"), model=MODEL, stt=True), 4915550000510)
    }
    if postgres_url and redis_url:
        table = "rest_" + uuid.uuid4().hex[:12]
        stack = LocalStack(
            tmp_path_factory.mktemp("rest-pg"), model=MODEL, tracker_store_url=postgres_url,
            lock_store_url=redis_url, dedup_url=redis_url,
            tracker_store_options={"table": table}, lock_store_options={"key_prefix": table}, stt=True,
        )
        result["postgresql"] = Deployment("postgresql", stack, 4915550000520, table, postgres_url, redis_url)
    else:
        result["postgresql"] = skip_reason
    running = [d for d in result.values() if isinstance(d, Deployment)]
    try:
        _start_all([d.stack for d in running])
        for deployment in running:
            deployment.started_at = started_at
            if deployment.redis_url:
                deployment.redis_keys_before = _redis_key_sets(deployment.redis_url)
            asyncio.run(_converse(deployment))
        yield result
    finally:
        for deployment in running:
            deployment.stack.stop()
            if deployment.postgres_url and deployment.table:
                drop_postgres_tables(deployment.postgres_url, deployment.table)


def _deployment(deployments: Dict[str, Any], name: str) -> Deployment:
    found = deployments[name]
    if isinstance(found, str):
        pytest.skip(found)
    return found


# ----------------------------------------------------------------------------- needles
def _bot_texts(deployment: Deployment) -> List[str]:
    """Every text the assistant sent (bodies, list row descriptions), as Meta received it."""
    texts: List[str] = []
    for messages in deployment.replies.values():
        for message in messages:
            if message.get("type") == "text":
                texts.append(message["text"]["body"])
            interactive = message.get("interactive", {})
            if interactive.get("body", {}).get("text"):
                texts.append(interactive["body"]["text"])
            for section in interactive.get("action", {}).get("sections", []):
                texts += [row["description"] for row in section["rows"] if len(row.get("description", "")) >= 20]
    return texts


def _identity_secrets(deployment: Deployment) -> List[str]:
    """Phone numbers in every spelling, BSUIDs and parent BSUIDs in their forms, usernames and
    the profile names: never anywhere, not even in logs."""
    secrets: List[str] = []
    base = deployment.number_base
    for user in deployment.users:
        secrets += at_rest.phone_formats(user.wa_id(base))
        for bsuid in (user.user_id(base), user.parent_user_id(base)):
            if bsuid:
                secrets += at_rest.bsuid_formats(bsuid)
        if user.username:
            secrets += at_rest.username_formats(user.username)
        secrets += [user.profile_name]
    return secrets


def _user_words(deployment: Deployment) -> List[str]:
    """Distinctive words, and the media ids of the voice notes (the recording at Meta)."""
    return [word for user in deployment.users for word in [*user.secrets, *user.media_ids]]


def _all_secrets(deployment: Deployment) -> at_rest.Needles:
    """Numbers, names, every user text and distinctive word, every bot text and its longer lines."""
    bot = _bot_texts(deployment)
    lines = [line.strip() for text in bot for line in text.split("\n") if len(line.strip()) >= 25]
    user_texts = [text for user in deployment.users for text in user.sent_texts]
    return at_rest.needles([*_identity_secrets(deployment), *_user_words(deployment), *user_texts, *bot, *lines])


def _report(findings: Sequence[at_rest.Finding]) -> str:
    return "personal data readable at rest:\n" + "\n".join(str(f) for f in findings[:30])


# --------------------------------------------------------------------------------- tests
@pytest.mark.parametrize("name", ["sqlite", "postgresql"])
def test_the_conversations_happened(deployments: Dict[str, Any], name: str) -> None:
    """Guards the scans below: they prove nothing if the script did not run as written."""
    deployment = _deployment(deployments, name)
    erika = deployment.replies[deployment.users[0].wa_id(deployment.number_base)]
    bodies = "\n".join(_bot_texts(deployment))
    assert "Tierpflegerin" in bodies, "the rare job title reached the dialogue and the answer"
    assert "München" in bodies, "the shared location was used"
    assert "Arbeitgeber:" in bodies and len(erika) >= 6
    assert "I can only read text messages" in bodies
    assert "Pflege" in bodies and "Hier sind 6 bis" in bodies
    assert "Ich habe verstanden: „Lieber in Heidelberg“" in bodies, "the unsure voice note was confirmed"
    assert 'für "Imker' in bodies, "the voice notes ran a search"
    erika_user, john, juergen, _hanna = deployment.users
    fields = {user.profile_name: deployment.reply_fields[user.wa_id(deployment.number_base)] for user in deployment.users}
    assert set(fields[john.profile_name]) == {"to"}, "old payloads are answered via to"
    assert set(fields[juergen.profile_name]) == {"recipient"}, "a username user without a number via recipient"
    erika_fields = fields[erika_user.profile_name]
    assert erika_fields[0] == "to" and erika_fields[-1] == "recipient", "the number disappeared mid-conversation"


def test_sqlite_file_holds_nothing_readable(deployments: Dict[str, Any]) -> None:
    deployment = _deployment(deployments, "sqlite")
    patterns = _all_secrets(deployment)
    db_files = [p for p in at_rest.sqlite_files(deployment.stack.db_path) if p.exists()]
    assert sum(p.stat().st_size for p in db_files) > 8192, "the tracker store was written"
    findings = at_rest.scan_sqlite_file(deployment.stack.db_path, patterns)
    assert not findings, _report(findings)


@pytest.mark.parametrize("name", ["sqlite", "postgresql"])
def test_no_file_the_run_wrote_holds_anything_readable(deployments: Dict[str, Any], name: str) -> None:
    """Every file in the stack's directory and every file the processes wrote in the checkout."""
    deployment = _deployment(deployments, name)
    patterns = _all_secrets(deployment)
    logs = set(deployment.stack.logs.values())
    files = [p for p in deployment.stack.workdir.rglob("*") if p.is_file() and p not in logs]
    # Sources (and their bytecode) are left out: the team edits them while this runs, and test
    # files name these fake users on purpose. What processes write is data, logs and databases.
    skip_dirs = {".venv", ".git", "models", "results", "node_modules", "__pycache__", ".pytest_cache"}
    source = {".py", ".pyc", ".md", ".yml", ".yaml", ".toml", ".ini", ".cfg", ".txt", ".lock", ".jsonl", ".csv", ".sh"}
    for path in ROOT.rglob("*"):
        parts = path.relative_to(ROOT).parts
        if skip_dirs.intersection(parts) or path.suffix in source or path.name == "Makefile" or not path.is_file():
            continue
        try:
            if path.stat().st_mtime >= deployment.started_at:
                files.append(path)
        except FileNotFoundError:
            continue  # another engineer's temporary file, gone already
    findings = at_rest.scan_files(files, patterns)
    assert not findings, _report(findings)


def test_postgresql_tables_hold_nothing_readable(deployments: Dict[str, Any]) -> None:
    deployment = _deployment(deployments, "postgresql")
    assert deployment.postgres_url and deployment.table
    patterns = _all_secrets(deployment)
    own = [deployment.table, deployment.table + "_archive"]
    existing = {table for _, table in at_rest.postgres_tables(deployment.postgres_url)}
    findings, counts = at_rest.scan_postgres(deployment.postgres_url, patterns, tables=[t for t in own if t in existing])
    assert counts.get(f"public.{deployment.table}") == len(deployment.users), counts
    assert not findings, _report(findings)

    everything, all_counts = at_rest.scan_postgres(deployment.postgres_url, patterns)
    assert f"public.{deployment.table}" in all_counts
    assert not everything, _report(everything)


def test_redis_holds_nothing_readable(deployments: Dict[str, Any]) -> None:
    deployment = _deployment(deployments, "postgresql")
    assert deployment.redis_url
    after = _redis_key_sets(deployment.redis_url)
    new_keys = {db: keys - deployment.redis_keys_before.get(db, set()) for db, keys in after.items()}
    new_dedup = [k for keys in new_keys.values() for k in keys if k.startswith(b"blaupause:wa:dedup:")]
    messages = sum(len(user.steps) for user in deployment.users)
    assert len(new_dedup) >= messages, "the dedup store kept a marker per message (so the scan reads real data)"

    findings, counts = at_rest.scan_redis(deployment.redis_url, _all_secrets(deployment))
    assert sum(counts.values()) >= len(new_dedup)
    assert not findings, _report(findings)


@pytest.mark.parametrize("name", ["sqlite", "postgresql"])
def test_logs_hold_no_number_name_or_typed_words(deployments: Dict[str, Any], name: str) -> None:
    deployment = _deployment(deployments, name)
    patterns = at_rest.needles([*_identity_secrets(deployment), *_user_words(deployment)])
    # not the stand-ins: the Graph stand-in plays Meta, the transcription stand-in the operator's STT server
    logs = [path for process, path in deployment.stack.logs.items() if process not in ("graph", "stt")]
    assert len(logs) == 1 + deployment.stack.rasa_instances and all(p.stat().st_size > 0 for p in logs), logs
    findings = at_rest.scan_files(logs, patterns)
    assert not findings, _report(findings)
