"""Fuzzed request headers: forged, malformed and lookalike signatures, odd types, framing lies.

The channel answers 401 when no well-formed ``X-Hub-Signature-256`` is presented and 403 when a
well-formed one does not match (connectors/whatsapp/signature.py, Meta's
https://developers.facebook.com/docs/graph-api/webhooks/getting-started#validate-payloads).
:func:`signature_headers` never produces the right signature and says which of the two is due.
"""
from __future__ import annotations

import random
import re
import secrets
from typing import Any, Callable, Dict, List, Tuple

from hypothesis import strategies as st

from harness import meta_payloads as mp
from harness.webhook_sender import SIGNATURE_HEADER, encode_payload, sign
from tests.support.fuzz.inputs import MAX_BODY, POOL, PROFILE_NAMES, TEXTS, new_wamid
from tests.support.fuzz.strategies import rnd_text, seeded

SIGNATURE_KINDS = ("missing", "blank", "wrong-prefix", "bad-length", "not-hex", "list", "garbage", "lookalike-name",
                   "other-body", "other-secret", "upper-wrong", "two-wrong")
FRAMING_KINDS = ("cl-less", "cl-more", "cl-over", "cl-bad", "cl-odd-but-int", "cl-twice", "te-odd", "cl-and-te")
RESERVED = {"content-length", "transfer-encoding", "host", SIGNATURE_HEADER.lower(), "connection", "expect", "upgrade",
            "te", "trailer", "keep-alive", "content-type", "proxy-connection", "x-hub-signature"}
TOKEN = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
header_names = st.text(TOKEN, min_size=1, max_size=24).filter(lambda n: n.lower() not in RESERVED)
header_values = st.one_of(st.binary(max_size=60), st.text(max_size=40).map(lambda t: t.encode("utf-8", "surrogatepass"))).map(
    lambda value: re.sub(rb"[\x00-\x08\x0a-\x1f\x7f]", b"", value).strip(b" \t"))  # what h11 lets httpx send
CONTENT_TYPES = (b"application/json", b"text/plain", b"application/x-www-form-urlencoded", b"multipart/form-data; boundary=zz",
                 b"application/json; charset=utf-16", b"*/*", b"application/xml", b"json")
HEADER_LEAVES = st.tuples(header_names.map(str.encode), header_values, header_values)


def rnd_token(rnd: random.Random, alphabet: str = TOKEN, longest: int = 20) -> str:
    return "".join(rnd.choice(alphabet) for _ in range(rnd.randint(1, longest)))


def rnd_header_value(rnd: random.Random) -> bytes:
    value = rnd_text(rnd, 40).encode("utf-8") if rnd.random() < 0.5 else bytes(rnd.randint(0, 255) for _ in range(rnd.randint(0, 40)))
    return re.sub(rb"[\x00-\x08\x0a-\x1f\x7f]", b"", value).strip(b" \t")


def accepted_by_design(value: bytes, expected: str) -> bool:
    """Would the channel accept this header value as the right signature? (Sanic decodes header bytes
    as UTF-8 with surrogateescape and strips; the channel strips again, lowercases, compares.)"""
    return value.decode("utf-8", "surrogateescape").strip().lower() == expected


PREFIXES = ("sha1=", "sha256", "sha256:", "sha-256=", "sha512=", "hmac=", "=", "sha256==", "sha256=sha256=", "sha 256=", "sha256= ", "")
LOOKALIKES = (b"X-Hub-Signature", b"X-Hub-Signature256", b"X_Hub_Signature_256", b"Hub-Signature-256", b"X-Hub-Signature-265",
              b"X-Hub-Signature-256-Fake")


def signature_headers(kind: str, params: Dict[str, Any], body: bytes, secret: str) -> Tuple[List[Tuple[bytes, bytes]], int]:
    """(signature headers of ``kind``, status the channel must answer); never the right signature."""
    right = sign(secret, body)
    hexdigest = right[len("sha256="):]
    other = sign(secret, body + params["tail"])
    name = SIGNATURE_HEADER.encode()
    if kind == "missing":
        return [], 401
    if kind == "blank":
        return [(name, b"")], 401
    if kind == "lookalike-name":
        return [(params["lookalike"], right.encode())], 401
    if kind == "other-body":
        return [(name, other.encode())], 403
    if kind == "other-secret":
        return [(name, sign(secrets.token_hex(16), body).encode())], 403
    if kind == "upper-wrong":
        return [(name, ("SHA256=" + other[len("sha256="):].upper()).encode())], 403
    if kind == "two-wrong":  # two headers: the first one counts
        first = ("sha1=" + other[len("sha256="):]) if params["flip"] else other
        return [(name, first.encode()), (name, sign(secrets.token_hex(8), body).encode())], 401 if params["flip"] else 403
    if kind == "wrong-prefix":
        value = (params["prefix"] + hexdigest).encode()
    elif kind == "bad-length":
        cut = params["cut"]
        value = ("sha256=" + (hexdigest[:cut], hexdigest + hexdigest[: cut + 1], hexdigest + "0")[params["length"]]).encode()
    elif kind == "not-hex":
        # h11 refuses to send a header value that ends in white space: a space goes inside, never last.
        at = params["at"] if params["char"].strip() else min(params["at"], 62)
        value = ("sha256=" + hexdigest[:at] + params["char"] + hexdigest[at + 1 :]).encode("utf-8")
    elif kind == "list":
        value = f"{right},{other}".encode() if params["flip"] else f"{other};{right}".encode()
    else:  # garbage
        value = params["garbage"]
    if accepted_by_design(value, right):  # e.g. the prefix "SHA256=": right by design, so make it wrong
        return [(name, other.encode())], 403
    stripped = value.decode("utf-8", "surrogateescape").strip()
    return [(name, value)], 403 if re.fullmatch(r"(?i)sha256=[0-9a-f]{64}", stripped) else 401


@st.composite
def header_cases(draw: Callable[[Any], Any], secret: str) -> Dict[str, Any]:
    """A valid, fresh message under a wrong signature of some kind, odd headers, and (for a
    quarter of the cases) a framing lie to tell over a raw socket; ``expected`` is the answer due."""
    leaf_name, leaf_value, garbage = draw(HEADER_LEAVES)
    rnd = seeded(draw)
    number, text, profile = rnd.choice(POOL), rnd.choice(TEXTS), rnd.choice(PROFILE_NAMES)
    messages = [mp.text(number, text, wamid=new_wamid()) for _ in range(rnd.randint(1, 2))]
    body = encode_payload(mp.payload(*messages, profile_name=profile))
    params = {"prefix": rnd.choice(PREFIXES) if rnd.random() < 0.7 else rnd_token(rnd, TOKEN + "=:", 10), "cut": rnd.randint(0, 63),
              "at": rnd.randint(0, 63), "char": rnd.choice("gGzZ-+.=~é "), "lookalike": rnd.choice(LOOKALIKES),
              "garbage": garbage if rnd.random() < 0.5 else rnd_header_value(rnd),
              "flip": rnd.random() < 0.5, "tail": rnd.choice([b" ", b"\n", b"{}", b"\x00"]), "length": rnd.randint(0, 2)}
    extra = [(leaf_name, leaf_value)] if rnd.random() < 0.5 else []
    extra += [(rnd_token(rnd).encode(), rnd_header_value(rnd)) for _ in range(rnd.randint(0, 3))]
    extra = [(name, value) for name, value in extra if name.decode().lower() not in RESERVED]
    if rnd.random() < 0.03:  # one oversized header: Sanic answers 413 before the channel
        extra.append((b"X-Fuzz-Big", b"b" * rnd.randint(9000, 20000)))
    odd_type = rnd_token(rnd, TOKEN + "/;= ", 30).strip().encode() or b"x"
    content_type = [(b"Content-Type", rnd.choice(CONTENT_TYPES + (odd_type,)))] if rnd.random() < 0.9 else []
    kind = rnd.choice(SIGNATURE_KINDS)
    signature, expected = signature_headers(kind, params, body, secret)
    return {"body": body, "framing": rnd.choice(FRAMING_KINDS) if rnd.random() < 0.25 else None,  # raw sockets
            "kind": kind, "expected": expected, "headers": content_type + signature + extra, "cut": rnd.randint(0, len(body) - 1),
            "more": rnd.randint(1, 5000),
            "over": rnd.choice([rnd.randint(MAX_BODY + 1, 4 * MAX_BODY), rnd.randint(MAX_BODY + 1, 10**20)]),
            "bad_cl": rnd.choice(["abc", "1.5", "0x10", "12abc", "1e3", "١٢x", "-", "", "1 2"]),
            "odd_cl": rnd.choice(["+{n}", " {n}", "{n:_}", "0{n}"]),
            "te": rnd.choice(["gzip", "identity", "Chunked", "CHUNKED", "chunked, gzip", "x"]),
            "sizes": [rnd.randint(1, 4096) for _ in range(rnd.randint(1, 8))]}
