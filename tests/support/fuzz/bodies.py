"""Validly signed fuzz bodies: Meta-like envelopes, broken bytes, odd JSON, oversized messages.

Every Hypothesis draw happens before the seeded structure is built (Hypothesis replays choice
prefixes and insists that they lead to the same draws).
"""
from __future__ import annotations

from typing import Any, Callable, Dict, List, Sequence, Tuple

from hypothesis import strategies as st

from harness import meta_payloads as mp
from harness.webhook_sender import encode_payload
from tests.support.fuzz.envelopes import Envelopes
from tests.support.fuzz.inputs import MAX_BODY, POOL, PROFILE_NAMES, TEXTS, fresh, new_wamid, stale_by
from tests.support.fuzz.json_text import to_body
from tests.support.fuzz.strategies import choose, huge_integer, junk, raw_numbers

BAD_UTF8 = (b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xc0\xaf", b"\x80")
MINIMAL = (b"", b"null", b"{}", b"[]", b'""', b'{"object":"whatsapp_business_account"}',
           b'{"object":"whatsapp_business_account","entry":[]}',
           b'{"object":"whatsapp_business_account","entry":[{}]}', b'{"object":"whatsapp_business_account","entry":null}',
           b'{"object":"whatsapp_business_account","entry":[{"changes":[{"value":null}]}]}')
NUMBER_PLACES = ("{n}", '{{"object":{n}}}', '{{"object":"whatsapp_business_account","entry":{n}}}',
                 '{{"object":"whatsapp_business_account","n":{n},"entry":[]}}')
WRAPPERS = ((b"\xef\xbb\xbf", b""), (b" \n\t", b"\r\n "), (b"", b"x"), (b"", b"{}"), (b"[", b"]"), (b"\x00", b""))


def body_strategy(reply_ids: Sequence[str]) -> st.SearchStrategy:
    """(label, body bytes) of every kind the brief asks for; all of them get a valid signature.

    Every Hypothesis draw happens before the seeded structure is built (Hypothesis replays
    choice prefixes and insists that they lead to the same draws).
    """
    reused: List[str] = []

    @st.composite
    def body(draw: Callable[[Any], Any]) -> Tuple[str, bytes]:
        kind = choose(draw, (56, "envelope"), (4, "envelope-utf8"), (5, "invalid-utf8"), (8, "truncated"), (6, "random-bytes"),
                      (6, "non-object"), (3, "deep"), (4, "numbers"), (4, "wrapped"), (4, "minimal"))
        if kind == "random-bytes":
            return kind, draw(st.binary(max_size=600))
        if kind == "non-object":
            return kind, to_body(draw(junk.filter(lambda v: not isinstance(v, dict))))
        if kind == "deep":
            opener, closer = draw(st.sampled_from([("[", "]"), ('{"a":', "}"), ('{"entry":[', "]}")]))
            depth = draw(st.integers(500, (MAX_BODY - 100) // len(opener + closer)))
            inner = opener * depth + "1" + closer * depth
            if draw(st.booleans()):
                inner = '{"object":"whatsapp_business_account","entry":' + inner + "}"
            return kind, inner.encode()
        if kind == "numbers":
            return kind, draw(st.sampled_from(NUMBER_PLACES)).format(n=draw(st.one_of(raw_numbers, huge_integer)).text).encode()
        if kind == "minimal":
            return kind, draw(st.sampled_from(MINIMAL))
        at, bad, (prefix, suffix) = draw(st.integers(0, 10**9)), draw(st.sampled_from(BAD_UTF8)), draw(st.sampled_from(WRAPPERS))
        text = to_body(Envelopes(draw, reply_ids, reused).envelope(), ascii_only=kind != "envelope-utf8")
        if kind == "invalid-utf8":
            at %= len(text) + 1
            return kind, text[:at] + bad + text[at:]
        if kind == "truncated":
            return kind, text[: at % len(text)]
        if kind == "wrapped":
            return kind, prefix + text + suffix
        return kind, text

    return body()


@st.composite
def oversized_cases(draw: Callable[[Any], Any]) -> Dict[str, Any]:
    """A message padded to a size around and above MAX_BODY, and how to frame it."""
    size = choose(draw, (40, st.integers(MAX_BODY - 64, MAX_BODY)), (40, st.integers(MAX_BODY + 1, MAX_BODY + 64)),
                  (20, st.integers(MAX_BODY + 65, 3 * MAX_BODY)))
    number = draw(st.sampled_from(POOL))
    # Refused sizes carry a fresh message (wrongly accepted it would run and be stored);
    # accepted sizes a stale one (acknowledged without running the dialogue).
    ts = fresh() if size > MAX_BODY else str(stale_by(draw(st.integers(0, 10**6))))
    message = mp.text(number, draw(st.sampled_from(TEXTS)), wamid=new_wamid(), ts=ts)
    payload = mp.payload(message, profile_name=draw(st.sampled_from(PROFILE_NAMES)))
    base = encode_payload(payload)
    padding = size - len(base) - len(',"padding":""')
    body = base[:-1] + b',"padding":"' + b"x" * padding + b'"}'
    assert len(body) == size
    return {"body": body, "framing": choose(draw, (50, "content-length"), (40, "chunked"), (10, "expect-100")),
            "sizes": draw(st.lists(st.integers(1, 40000), min_size=1, max_size=6).map(lambda s: [max(x, 512) for x in s]))}

