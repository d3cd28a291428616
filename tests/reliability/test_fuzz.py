"""Reliability, bad input: at least 10,000 fuzzed webhook requests against the running assistant.

Why: the webhook URL is public and Meta redelivers every non-2xx answer for up to 7 days, together
with the other messages of the same POST. So whatever reaches it (forged or broken signatures,
lying framing headers, oversized or chunked bodies, signed bodies that are not what Meta
documents) must be answered with a 4xx or a 2xx, never a 5xx; the process must neither crash nor
wedge; and nothing may be stored for a request that was refused. docs/whatsapp-delivery.md lists
the inbound checks exercised here, in order: 413 size, 401/403 signature before parsing, 400
malformed, 200 for statuses and empty notifications, messages answered after the dialogue ran,
stale messages acknowledged without handling.

How: one LocalStack (Graph stand-in, action server, one ``rasa run`` with the WhatsApp channel)
with the encrypted tracker store in an SQLite file of its own and the dedup store on Redis, driven
over real HTTP: httpx for ordinary requests, raw sockets where a client must lie about framing.
Hypothesis generates the requests (no example database, no deadline, no shrinking: an unexpected
answer is recorded with a reproducer and the run goes on; the seed is printed). Each answer is
checked against what the channel must answer (for signed bodies: the verdict of the channel's
own parser on the same bytes, run here); afterwards every tracker row and dedup key that appeared
must belong to a message of an accepted (2xx) request.

Parts, one report line each:
1. headers: a valid, fresh message from a fake number under missing, malformed or forged
   signatures, odd Content-Types, random extra headers and Content-Length lies: all refused,
   nothing stored, nothing sent;
2. bodies: validly signed random bytes, invalid UTF-8, truncated and non-object JSON, deep
   nesting, huge numbers, NaN/Infinity, duplicate keys and structure-aware mutations of Meta's
   envelope; only accepted messages leave traces;
3. oversized bodies around and above WHATSAPP_MAX_BODY_BYTES (lowered to 64 KiB here), with
   Content-Length, chunked, and with ``Expect: 100-continue``: 413 above, 200 at or below;
4. the assistant survived: every process alive, and a normal message gets exactly the reply
   that the same message got before the fuzzing;
5. at rest and in every process log of the stack: no fake number (in any spelling), profile
   name or message text.

Eight 5xx bugs this suite found (FIXED_BUGS: six in the channel's parsing, two in Sanic 21.12's
HTTP parser, answered 400 by connectors/whatsapp/framing.py) and a log leak (slot values in
Rasa's interpolator errors) are fixed and keep regression tests. A newly found bug that cannot be
fixed at once goes into KNOWN_BUGS (counted in the report lines instead of failing the runs) with
an ``xfail(strict=True)`` reproducer.

Bounded form (``make test``): 3,000 + 6,000 + 1,000 requests with a fixed seed.
``RELIABILITY_SOAK=1``: ten times as many, with a random seed; ``RELIABILITY_FUZZ_SEED=<n>``
replays a run. Needs a trained model and Redis (fails under CI=true without them).

The harness (inputs, envelopes and bodies, header cases, raw-socket transport, the accounting of
what was offered and stored, the running stack) is tests/support/fuzz/, with its own tests in
tests/unit/support/fuzz/; this module holds the parts and their checks.
"""
from __future__ import annotations

import os
import secrets
from typing import Any, Collection, Dict, Iterator, Optional, Tuple

import httpx
import pytest
import redis
from hypothesis import given, seed

from privacy.keyring import Keyring
from harness import at_rest
from harness import meta_payloads as mp
from harness.local_stack import LocalStack
from harness.webhook_sender import SIGNATURE_HEADER, encode_payload, sign
from tests.support.fuzz.accounting import Tally, code_vocabulary, dedup_keys, from_our_code, identifiers, is_utf8, oracle
from tests.support.paths import REPO_ROOT
from tests.support.fuzz.bodies import body_strategy, oversized_cases
from tests.support.fuzz.headers import header_cases
from tests.support.fuzz.inputs import (
    DEDUP_NAMESPACE, MAX_BODY, PID_NAMESPACE, POOL, PROFILE_NAMES, SANITY, TEXT_WORDS, TEXTS, WEBHOOK_PATH, new_wamid, stale_by,
)
from tests.support.fuzz.json_text import Raw, to_body
from tests.support.fuzz.stack import Fuzz, finish, hypothesis_settings, kinds_text, redis_values, report, scan_logs
from tests.support.fuzz.transport import chunked, pieces, raw_exchange, request_head
from tests.support.model import require_model

pytestmark = [pytest.mark.e2e, pytest.mark.reliability]

SOAK = os.environ.get("RELIABILITY_SOAK", "") == "1"
SCALE = 10 if SOAK else 1
SEED = int(os.environ.get("RELIABILITY_FUZZ_SEED") or (secrets.randbits(32) if SOAK else 20261122))
HEADER_EXAMPLES = 3000 * SCALE
BODY_EXAMPLES = 6000 * SCALE
SIZE_EXAMPLES = 1000 * SCALE

#: 5xx answers this suite found; the lead fixes them (connectors/ or the Sanic version). Each has
#: an xfail(strict=True) reproducer below. Keys are used in the report lines.
KNOWN_BUGS: Dict[str, str] = {}  # none open; a new one gets an entry and an xfail(strict=True) reproducer
#: 5xx answers this suite found and that are fixed (connectors/whatsapp/updates/parser.py); a 5xx of
#: theirs now fails the fuzz runs, and each keeps a regression test below.
FIXED_BUGS = {
    "timestamp-digits": "updates.parser._timestamp: str.isdigit() is true for '²', '①' ..., int() then raised ValueError",
    "int-over-4300-digits": "json.loads raised ValueError (not JSONDecodeError) for integers over 4,300 digits",
    "coordinate-overflow": "updates.parser._coordinate: float(<int beyond 1e308>) raised OverflowError",
    "timestamp-overflow": "webhook._is_stale: time.time() - <int timestamp beyond 1e308> raised OverflowError",
    "surrogate-id": "a message or status id with a lone surrogate: message_key() raised UnicodeEncodeError",
    "surrogate-dialogue": "a lone surrogate in a text/reply reaching Rasa or Redis raised UnicodeEncodeError",
    "sanic-content-length": "Sanic 21.12 http.py: int(Content-Length) raised ValueError for 'abc', '1.5', ... (connectors/whatsapp/framing.py)",
    "sanic-transfer-encoding": "Sanic 21.12 http.py: Transfer-Encoding other than 'chunked' without Content-Length: KeyError (framing.py)",
}


@pytest.fixture(scope="module")
def fuzz(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fuzz]:
    model = require_model()
    stack = LocalStack(tmp_path_factory.mktemp("fuzz"), model=model, dedup_url=redis_url,
                       extra_env={"WHATSAPP_MAX_BODY_BYTES": str(MAX_BODY)})
    client = redis.Redis.from_url(redis_url)
    keys_before = frozenset(key for namespace in (DEDUP_NAMESPACE, PID_NAMESPACE)
                            for key in client.scan_iter(match=f"{namespace}:*", count=1000))
    run = Fuzz(stack, client, Keyring.from_env({"PRIVACY_KEY": stack.privacy_key}), httpx.Client(timeout=60.0), keys_before)
    try:
        stack.start(timeout=900)
        run.baseline = run.turn(SANITY[0], "Hilfe")
        assert run.baseline, "the normal message got no reply before the fuzzing"
        yield run
    finally:
        run.http.close()
        stack.stop()
        mine = set(dedup_keys(run.offered_ids, run.keyring))
        caused = [key for key in client.scan_iter(match=f"{DEDUP_NAMESPACE}:*", count=1000) if key in mine and key not in keys_before]
        caused += [key for key in client.scan_iter(match=f"{PID_NAMESPACE}:*", count=1000) if key not in keys_before]
        if caused:
            client.delete(*caused)
        client.close()


# ---------------------------------------------------------------------- 1. headers
def test_fuzzed_headers_are_refused_and_store_nothing(fuzz: Fuzz, capsys: pytest.CaptureFixture) -> None:
    secret = fuzz.stack.app_secret
    tally = Tally("headers", fuzz.offered_ids)
    before = fuzz.snapshot()

    @seed(SEED)
    @hypothesis_settings(HEADER_EXAMPLES)
    @given(header_cases(secret))
    def run(case: Dict[str, Any]) -> None:
        body, headers, framing = case["body"], case["headers"], case["framing"]
        big = any(len(v) > 8000 for _, v in headers)
        allowed: Collection[Optional[int]] = {case["expected"], 413} if big else {case["expected"]}
        known = None
        if framing is None:
            status = fuzz.post(body, headers)
            tally.record(case["kind"], body, status, allowed, headers=headers)
            return
        right = [(SIGNATURE_HEADER.encode(), sign(secret, body).encode())]  # the lies make even the right signature fail
        plain = [h for h in headers if h[0].lower() != SIGNATURE_HEADER.lower().encode()]
        parts, half_close = pieces(body), False
        if framing == "cl-less":
            head, allowed = plain + right + [(b"Content-Length", str(case["cut"]).encode())], {403}
        elif framing == "cl-more":
            head, half_close = plain + right + [(b"Content-Length", str(len(body) + case["more"]).encode())], True
            allowed = {None, 400, 408, 413}
        elif framing == "cl-over":
            head, allowed = headers + [(b"Content-Length", str(case["over"]).encode())], {413}
        elif framing == "cl-bad":
            head, allowed = headers + [(b"Content-Length", case["bad_cl"].encode())], {400}
        elif framing == "cl-odd-but-int":  # Python's int() reads these; the channel then sees the full body
            head = headers + [(b"Content-Length", case["odd_cl"].format(n=len(body)).encode())]
        elif framing == "cl-twice":
            head = headers + [(b"Content-Length", str(len(body)).encode()), (b"Content-Length", str(case["cut"]).encode())]
        elif framing == "te-odd":
            head, allowed = headers + [(b"Transfer-Encoding", case["te"].encode())], {400, 501}
        else:  # cl-and-te: Sanic takes the chunked body (the whole body, wrongly signed)
            head = headers + [(b"Content-Length", str(case["cut"]).encode()), (b"Transfer-Encoding", b"chunked")]
            parts = chunked(body, case["sizes"])
        if big:
            allowed = set(allowed) | {413}
        status = raw_exchange(fuzz.port, request_head(head), parts, half_close=half_close, timeout=15.0)
        tally.record(f"{framing}/{case['kind']}", body, status, allowed, known, headers=head)

    run()
    raw = sum(n for kind, n in tally.kinds.items() if "/" in kind)
    finish(fuzz, capsys, tally, before, nothing=True, planned=HEADER_EXAMPLES, part_seed=SEED,
           offered=f"{tally.offered - raw} over httpx, {raw} framing lies over raw sockets")


# ------------------------------------------------------------------------ 2. bodies
def test_fuzzed_bodies_never_5xx_and_only_accepted_messages_leave_traces(fuzz: Fuzz, capsys: pytest.CaptureFixture) -> None:
    tally = Tally("bodies", fuzz.offered_ids)
    before = fuzz.snapshot()
    reply_ids = sorted({button["reply"]["id"] for message in fuzz.baseline
                        for button in message.get("interactive", {}).get("action", {}).get("buttons", [])})

    @seed(SEED + 1)
    @hypothesis_settings(BODY_EXAMPLES)
    @given(body_strategy(reply_ids))
    def run(case: Tuple[str, bytes]) -> None:
        kind, body = case
        allowed, known = oracle(body)
        headers = fuzz.signed(body)
        tally.record(kind, body, fuzz.post(body, headers), allowed, known, headers=headers)

    run()
    finish(fuzz, capsys, tally, before, nothing=False, planned=BODY_EXAMPLES, part_seed=SEED + 1, offered=kinds_text(tally))


# ------------------------------------------------------------------- 3. oversized
def test_oversized_and_chunked_bodies_are_refused_with_413(fuzz: Fuzz, capsys: pytest.CaptureFixture) -> None:
    tally = Tally("oversized", fuzz.offered_ids)
    before = fuzz.snapshot()

    @seed(SEED + 2)
    @hypothesis_settings(SIZE_EXAMPLES)
    @given(oversized_cases())
    def run(case: Dict[str, Any]) -> None:
        body = case["body"]
        headers = fuzz.signed(body)
        if case["framing"] == "chunked":
            head, parts = headers + [(b"Transfer-Encoding", b"chunked")], chunked(body, case["sizes"])
        else:
            head, parts = headers + [(b"Content-Length", str(len(body)).encode())], pieces(body)
            if case["framing"] == "expect-100":
                head.append((b"Expect", b"100-continue"))
        status = raw_exchange(fuzz.port, request_head(head), parts)
        tally.record(case["framing"], body, status, {413} if len(body) > MAX_BODY else {200}, headers=head[:2])

    run()
    finish(fuzz, capsys, tally, before, nothing=False, planned=SIZE_EXAMPLES, part_seed=SEED + 2, offered=kinds_text(tally))


# ------------------------------------------------------------- known bugs, reproduced
def _signed_status(fuzz: Fuzz, body: bytes) -> Optional[int]:
    return fuzz.post(body, fuzz.signed(body))


def _stale_text(**fields: Any) -> Dict[str, Any]:
    message = mp.text(POOL[0], TEXTS[0], ts=str(stale_by(0)))
    message.update(fields)
    return message


REPRODUCERS = {
    "timestamp-digits": lambda: encode_payload(mp.payload(_stale_text(timestamp="²"))),
    "int-over-4300-digits": lambda: b'{"object":"whatsapp_business_account","entry":[],"n":' + b"1" * 4301 + b"}",
    "coordinate-overflow": lambda: to_body(mp.payload(_stale_text(type="location", location={"latitude": Raw("1" * 310), "longitude": 1}))),
    "timestamp-overflow": lambda: encode_payload(mp.payload(_stale_text(timestamp="1" * 400))),
    "surrogate-id": lambda: encode_payload(mp.payload(statuses=[mp.status("wamid.\udc00", POOL[0], "read")])),
    "surrogate-dialogue": lambda: encode_payload(mp.payload(mp.text(POOL[1], "Hallo \ud800", wamid=new_wamid()))),
}


@pytest.mark.parametrize("bug", sorted(REPRODUCERS))
def test_former_5xx_bodies_are_answered_below_500(fuzz: Fuzz, bug: str) -> None:
    """A validly signed body the channel once answered with 500 (FIXED_BUGS[bug]); Meta would redeliver it for 7 days."""
    body = REPRODUCERS[bug]()
    fuzz.offered_ids |= identifiers(body)[0]
    status = _signed_status(fuzz, body)
    assert status is not None and status < 500, f"{bug}: {FIXED_BUGS[bug]} -> HTTP {status}"


@pytest.mark.parametrize("header", [b"Content-Length: abc", b"Content-Length: 1.5", b"Transfer-Encoding: gzip",
                                    b"Transfer-Encoding: Chunked"])
def test_malformed_framing_is_refused_below_500(fuzz: Fuzz, header: bytes) -> None:
    """An unauthenticated request with a malformed framing header got a 500 from Sanic 21.12 (FIXED_BUGS)."""
    head = b"POST " + WEBHOOK_PATH.encode() + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n" + header + b"\r\n\r\n"
    status = raw_exchange(fuzz.port, head, [b"{}"], timeout=15.0)
    assert status is not None and status < 500, f"{header!r} -> HTTP {status}"


# ----------------------------------------------------------------------- 4. survival
def test_the_assistant_survived_and_answers_a_normal_message_exactly_as_before(fuzz: Fuzz, capsys: pytest.CaptureFixture) -> None:
    dead = {name: proc.returncode for name, proc in fuzz.stack.procs.items() if proc.poll() is not None}
    assert not dead, f"processes gone: {dead}"
    replies = fuzz.turn(SANITY[1], "Hilfe")
    report(capsys, f"fuzz survival: all {len(fuzz.stack.procs)} processes alive; a normal message got {len(replies)} "
           f"reply message(s), {'identical to' if replies == fuzz.baseline else 'DIFFERENT from'} the reply before the fuzzing")
    assert replies == fuzz.baseline


# ------------------------------------------------------------------------ 5. at rest
def test_no_number_name_or_text_readable_at_rest_or_in_the_logs(fuzz: Fuzz, capsys: pytest.CaptureFixture) -> None:
    # A text Hypothesis took from our own code's constants is the processes' vocabulary (a logger or
    # class name in every log line), not a user's words: left out (tests/support/fuzz/accounting.py).
    vocabulary = code_vocabulary(REPO_ROOT)
    distinctive = sorted((t for t in fuzz.accepted_texts if len(t.strip()) >= 12 and len(set(t)) >= 8 and t.isprintable()
                          and is_utf8(t) and not from_our_code(t, vocabulary)), key=len, reverse=True)[:100]
    identity = at_rest.needles([f for number in (*POOL, *SANITY) for f in at_rest.phone_formats(number)] + list(PROFILE_NAMES))
    words = at_rest.needles([*TEXTS, *TEXT_WORDS, *distinctive])
    db_files = [path for path in at_rest.sqlite_files(fuzz.stack.db_path) if path.exists()]
    findings = at_rest.scan_sqlite_file(fuzz.stack.db_path, {**identity, **words})
    logs = sorted(fuzz.stack.workdir.glob("*.log"))
    log_findings, known = scan_logs(logs, identity, words)
    mine = [key.decode() for key in set(dedup_keys(fuzz.offered_ids, fuzz.keyring)) if key not in fuzz.keys_before and fuzz.redis.exists(key)]
    new_pid = [key.decode() for key in fuzz.redis.scan_iter(match=f"{PID_NAMESPACE}:*", count=1000) if key not in fuzz.keys_before]
    for key in mine + new_pid:
        for value in [key.encode(), *redis_values(fuzz.redis, key)]:
            findings += at_rest.find_in(value, {**identity, **words}, f"redis {key}")
    findings += log_findings
    report(capsys, f"fuzz at rest: scanned {len(db_files)} SQLite files ({sum(p.stat().st_size for p in db_files)} bytes), "
           f"{len(logs)} process logs ({sum(p.stat().st_size for p in logs)} bytes), {len(mine) + len(new_pid)} Redis keys of this run "
           f"for {len(identity) + len(words)} needles (numbers in 8 spellings, profile names, texts and their words, "
           f"{len(distinctive)} accepted random texts): {len(findings)} found"
           + (f" (+ {len(known)} in the known interpolator leak: {sorted({f.needle for f in known})})" if known else ""))
    assert not findings and not known, "readable at rest or in logs:\n" + "\n".join(str(f) for f in [*findings, *known][:30])


def test_no_slot_values_in_the_interpolator_log(fuzz: Fuzz) -> None:
    """A job search fills job_title and location; the help menu's ``/switch_language{...}`` button
    made Rasa log a KeyError with the slots in clear, until domain.yml escaped the payloads' braces
    (``{{...}}``, Rasa's documented way)."""
    log = fuzz.stack.logs["rasa0"]
    start = log.stat().st_size
    fuzz.turn(SANITY[2], "Ich suche Arbeit als Glasbläserin in Quedlinburg")
    fuzz.turn(SANITY[2], "Hilfe")
    written = log.read_bytes()[start:]
    found = at_rest.find_in(written, at_rest.needles(["Glasbläserin", "Quedlinburg"]), str(log))
    assert not found, "\n".join(str(f) for f in found)
