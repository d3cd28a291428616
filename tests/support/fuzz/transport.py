"""Byte-exact HTTP/1.1 requests on raw sockets, for clients that must lie about framing.

httpx (h11) refuses to send a wrong Content-Length or a Transfer-Encoding it does not know;
the fuzz parts need exactly those (RFC 9112 section 6 on message body length).
"""
from __future__ import annotations

import itertools
import re
import select
import socket
from typing import List, Optional, Sequence, Tuple

from tests.support.fuzz.inputs import WEBHOOK_PATH

_STATUS_LINE = re.compile(rb"HTTP/1\.[01] (\d{3})[^\r\n]*\r\n")


def final_status(data: bytes) -> Optional[int]:
    """The status of the first non-1xx response in ``data`` (None until its status line is there)."""
    pos = 0
    while True:
        match = _STATUS_LINE.match(data, pos)
        if match is None:
            return None
        code = int(match.group(1))
        if code >= 200:
            return code
        end = data.find(b"\r\n\r\n", match.start())
        if end < 0:
            return None
        pos = end + 4  # skip "100 Continue"


def raw_exchange(port: int, head: bytes, parts: Sequence[bytes] = (), *, half_close: bool = False, timeout: float = 30.0) -> Optional[int]:
    """One byte-exact request on a fresh connection; the final status or None (closed without one).

    Like curl, it stops sending the body as soon as the server has answered (a 413 before the
    body), so the answer is not lost to a connection reset; a "100 Continue" lets it go on.
    """
    data = b""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        try:
            sock.sendall(head)
            for part in parts:
                if select.select([sock], [], [], 0)[0]:
                    chunk = sock.recv(65536)
                    data += chunk
                    if not chunk or final_status(data) is not None:
                        break
                sock.sendall(part)
            if half_close:
                sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # the server closed while the body was still being sent
        while final_status(data) is None:
            try:
                chunk = sock.recv(65536)
            except OSError:
                break
            if not chunk:
                break
            data += chunk
        return final_status(data)


def request_head(headers: Sequence[Tuple[bytes, bytes]]) -> bytes:
    lines = [b"POST " + WEBHOOK_PATH.encode() + b" HTTP/1.1", b"Host: 127.0.0.1"]
    lines += [name + b": " + value for name, value in headers]
    return b"\r\n".join(lines) + b"\r\n\r\n"


def pieces(data: bytes, size: int = 16384) -> List[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)] or [b""]


def chunked(data: bytes, sizes: Sequence[int]) -> List[bytes]:
    """``data`` in chunked transfer coding, cut into ``sizes`` (repeated), then the last chunk."""
    out, at = [], 0
    for size in itertools.cycle(sizes or [16384]):
        if at >= len(data):
            break
        part = data[at : at + size]
        out.append(b"%x\r\n%s\r\n" % (len(part), part))
        at += size
    return out + [b"0\r\n\r\n"]
