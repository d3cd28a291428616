"""The running stack a fuzz part talks to, and how a part reports and checks its result.

One LocalStack (harness/local_stack.py) per module; requests go over httpx, normal messages
check the assistant still answers, snapshots of the stores attribute what appeared to the
requests that were accepted.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import httpx
import pytest
import redis
from hypothesis import HealthCheck, Phase, settings

from privacy.keyring import Keyring
from harness import at_rest
from harness import meta_payloads as mp
from harness.local_stack import LocalStack
from harness.webhook_sender import SIGNATURE_HEADER, encode_payload, sign
from tests.support.fuzz.accounting import Snapshot, Tally, dedup_keys, pseudonyms, tracker_rows
from tests.support.fuzz.inputs import DEDUP_NAMESPACE, PID_NAMESPACE, PROFILE_NAMES, new_wamid


@dataclass(repr=False)
class Fuzz:
    """The running stack of the fuzz module and what the parts offered to it."""

    stack: LocalStack
    redis: redis.Redis
    keyring: Keyring
    http: httpx.Client
    keys_before: frozenset
    offered_ids: set = field(default_factory=set)
    accepted_texts: set = field(default_factory=set)
    baseline: List[Dict[str, Any]] = field(default_factory=list)

    def __repr__(self) -> str:  # short in tracebacks
        return f"Fuzz({self.stack.webhook_url()})"

    @property
    def port(self) -> int:
        return self.stack.rasa_ports[0]

    def post(self, body: bytes, headers: Sequence[Tuple[bytes, bytes]]) -> Optional[int]:
        try:
            return self.http.post(self.stack.webhook_url(), content=body, headers=list(headers)).status_code
        except httpx.LocalProtocolError:
            raise  # h11 refused to send it: a bug of the strategy, not an answer of the server
        except httpx.TransportError:
            return None

    def signed(self, body: bytes) -> List[Tuple[bytes, bytes]]:
        return [(b"Content-Type", b"application/json"), (SIGNATURE_HEADER.encode(), sign(self.stack.app_secret, body).encode())]

    def turn(self, wa_id: str, text: str) -> List[Dict[str, Any]]:
        """A normal message; the replies the assistant sent for it (they are sent before the 200)."""
        before = len(self.stack.sent_to(wa_id))
        wamid = new_wamid()
        self.offered_ids.add(wamid)
        body = encode_payload(mp.payload(mp.text(wa_id, text, wamid=wamid), profile_name=PROFILE_NAMES[0]))
        status = self.post(body, self.signed(body))
        assert status == 200, status
        return [{k: v for k, v in m.items() if k != "to"} for m in self.stack.sent_to(wa_id)[before:]]

    def snapshot(self) -> Snapshot:
        time.sleep(0.5)  # let background work of the last request settle
        return Snapshot(
            tracker_rows(self.stack.db_path),
            frozenset(self.redis.scan_iter(match=f"{DEDUP_NAMESPACE}:*", count=1000)),
            frozenset(self.redis.scan_iter(match=f"{PID_NAMESPACE}:*", count=1000)),
            len(self.stack.sent()),
            self.stack.logs["rasa0"].read_bytes().count(b"dialogue produced"),
        )

    def check_stores(self, tally: Tally, before: Snapshot, *, nothing: bool) -> Tuple[str, List[str]]:
        """Attribute what appeared in the stores during a part; (summary, violations).

        ``nothing``: every request of the part must have been refused, so nothing may appear.
        """
        after = self.snapshot()
        changed = {key for key, stamp in after.rows.items() if before.rows.get(key) != stamp}
        accepted = pseudonyms(self.keyring, tally.accepted_senders)
        known = pseudonyms(self.keyring, tally.known_senders) - accepted
        mine = dedup_keys(tally.offered_ids, self.keyring)
        accepted_keys = dedup_keys(tally.accepted_ids, self.keyring)
        known_keys = set(dedup_keys(tally.known_ids, self.keyring)) - set(accepted_keys)
        new_keys = set(after.dedup - before.dedup)
        violations = []
        for table, pseudonym in sorted(changed):
            if nothing or pseudonym not in accepted | known:
                violations.append(f"tracker row {table}/{pseudonym} written, but its sender was in no accepted request")
        for key in sorted(new_keys & set(mine)):
            if nothing or key not in set(accepted_keys) | known_keys:
                violations.append(f"dedup key {key.decode()} written for id {mine[key]!r} of a refused request")
        foreign = new_keys - set(mine)  # other processes on the same Redis (a developer machine)
        replies = after.replies - before.replies
        if nothing and replies:
            violations.append(f"the assistant sent {replies} messages during a part where every request was refused")
        from_known = sum(1 for _, p in changed if p in known) + len(new_keys & known_keys)
        summary = (f"dialogue turns {after.turns - before.turns}, replies sent {replies}; stored: tracker rows {len(changed)} new/changed, "
                   f"dedup keys {len(new_keys & set(mine))} new"
                   + ("" if nothing else f" (all of accepted messages{f'; {from_known} of known-bug requests' if from_known else ''})")
                   + (f"; {len(foreign)} dedup keys of other processes ignored" if foreign else ""))
        self.accepted_texts |= tally.accepted_texts
        return summary, violations


def report(capsys: pytest.CaptureFixture, line: str) -> None:
    """One report line per part, shown even under ``pytest -q`` without ``-s``."""
    with capsys.disabled():
        print("\n" + line, flush=True)


def save_failures(fuzz: Fuzz, tally: Tally) -> str:
    if not tally.failures:
        return ""
    path = fuzz.stack.workdir / f"failures-{tally.part}.jsonl"
    path.write_text("".join(json.dumps(f) + "\n" for f in tally.failures), encoding="utf-8")
    return f"\nall recorded failures (body base64; re-sign with the stack's app secret): {path}"


def hypothesis_settings(examples: int) -> settings:
    return settings(max_examples=examples, database=None, deadline=None, derandomize=False, print_blob=False,
                    phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))


def finish(fuzz: Fuzz, capsys: pytest.CaptureFixture, tally: Tally, before: Snapshot, *, nothing: bool, planned: int,
           part_seed: int, offered: str) -> None:
    """Check the stores, print the part's report line, then assert."""
    summary, violations = fuzz.check_stores(tally, before, nothing=nothing)
    report(capsys, f"fuzz {tally.part}: offered {tally.offered} ({offered}); answered {tally.answers()}; "
           f"5xx {tally.unexpected_5xx()}{tally.known_text()}; unexpected answers {tally.problem_count}; {summary}; "
           f"seed {part_seed}; {time.monotonic() - tally.started:.0f} s")
    assert tally.offered >= planned
    problems = "\n".join(tally.problems)
    assert tally.problem_count == 0, f"{tally.problem_count} unexpected answers (seed {part_seed}):\n{problems}{save_failures(fuzz, tally)}"
    assert not violations, "stored for refused requests:\n" + "\n".join(violations[:20])
    assert fuzz.stack.procs["rasa0"].poll() is None, "rasa crashed"


def kinds_text(tally: Tally) -> str:
    return ", ".join(f"{kind} {n}" for kind, n in tally.kinds.most_common())


def redis_values(client: redis.Redis, key: str) -> List[bytes]:
    """The values of a dedup record (hash), lease or payload id (strings)."""
    kind = client.type(key).decode()
    if kind == "hash":
        return [part for pair in client.hgetall(key).items() for part in pair]
    return [client.get(key) or b""] if kind == "string" else []


#: Rasa's NLG interpolator logs, at ERROR level, a KeyError for every button payload with JSON
#: entities (``/switch_language{"language":"en"}``) together with the frame's locals: the slot
#: values (job title, city) in clear. A known leak (its regression test: test_no_slot_values_in_the_interpolator_log in
#: tests/reliability/test_fuzz.py); such lines are still
#: scanned for numbers and profile names.
KNOWN_LEAK_MARKER = b"rasa.core.nlg.interpolator"


def scan_logs(paths: Sequence[Path], identity: at_rest.Needles,
              words: at_rest.Needles) -> Tuple[List[at_rest.Finding], List[at_rest.Finding]]:
    """(findings, findings in lines of the known interpolator leak) in the raw bytes of ``paths``."""
    findings: List[at_rest.Finding] = []
    known: List[at_rest.Finding] = []
    for path in paths:
        lines = path.read_bytes().splitlines()
        leaky = b"\n".join(line for line in lines if KNOWN_LEAK_MARKER in line)
        rest = b"\n".join(line for line in lines if KNOWN_LEAK_MARKER not in line)
        findings += at_rest.find_in(rest, {**identity, **words}, str(path)) + at_rest.find_in(leaky, identity, str(path))
        known += at_rest.find_in(leaky, words, f"{path} ({KNOWN_LEAK_MARKER.decode()} lines)")
    return findings, known
