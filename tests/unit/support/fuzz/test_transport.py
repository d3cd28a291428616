"""Raw-socket HTTP of the fuzz harness: status parsing, chunked coding, one real exchange."""
from __future__ import annotations

import socket
import threading
from typing import Iterator

import pytest

from tests.support.fuzz.inputs import WEBHOOK_PATH
from tests.support.fuzz.transport import chunked, final_status, pieces, raw_exchange, request_head


def test_final_status_skips_interim_responses() -> None:
    assert final_status(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 413 Payload Too Large\r\n\r\n") == 413
    assert final_status(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n") == 200


def test_final_status_is_none_until_a_final_status_line_is_there() -> None:
    assert final_status(b"") is None
    assert final_status(b"HTTP/1.1 20") is None
    assert final_status(b"HTTP/1.1 100 Continue\r\n") is None  # interim response not complete yet
    assert final_status(b"HTTP/1.1 100 Continue\r\n\r\n") is None
    assert final_status(b"garbage") is None


def _dechunk(parts: list[bytes]) -> bytes:
    data, out = b"".join(parts), b""
    while True:
        size_line, _, rest = data.partition(b"\r\n")
        size = int(size_line, 16)
        if size == 0:
            assert rest == b"\r\n"
            return out
        out, data = out + rest[:size], rest[size + 2:]
        assert rest[size:size + 2] == b"\r\n"


@pytest.mark.parametrize("sizes", [[1], [3, 5], [4096], []])
def test_chunked_coding_round_trips_and_ends_with_the_last_chunk(sizes: list[int]) -> None:
    data = bytes(range(256)) * 3
    parts = chunked(data, sizes)
    assert parts[-1] == b"0\r\n\r\n"
    assert _dechunk(parts) == data


def test_chunked_of_nothing_is_only_the_last_chunk() -> None:
    assert chunked(b"", [5]) == [b"0\r\n\r\n"]


def test_pieces_cover_the_data_and_an_empty_body_is_one_empty_piece() -> None:
    assert b"".join(pieces(b"x" * 40000, 16384)) == b"x" * 40000
    assert [len(p) for p in pieces(b"x" * 40000, 16384)] == [16384, 16384, 7232]
    assert pieces(b"") == [b""]


def test_request_head_is_a_post_to_the_webhook_with_the_given_headers() -> None:
    head = request_head([(b"Content-Length", b"2"), (b"X-A", b"b")])
    assert head == (f"POST {WEBHOOK_PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 2\r\nX-A: b\r\n\r\n").encode()


@pytest.fixture
def early_413() -> Iterator[tuple[int, list[bytes]]]:
    """A server that answers 413 as soon as the head arrives and then closes (like Sanic)."""
    server = socket.create_server(("127.0.0.1", 0))
    received: list[bytes] = []

    def serve() -> None:
        connection, _ = server.accept()
        with connection:
            data = b""
            while b"\r\n\r\n" not in data:
                data += connection.recv(65536)
            received.append(data)
            connection.sendall(b"HTTP/1.1 413 Payload Too Large\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1], received
    thread.join(timeout=5)
    server.close()


def test_raw_exchange_returns_the_answer_given_before_the_body(early_413: tuple[int, list[bytes]]) -> None:
    port, received = early_413
    head = request_head([(b"Content-Length", b"400000")])
    assert raw_exchange(port, head, pieces(b"x" * 400000), timeout=5.0) == 413
    assert received and received[0].startswith(b"POST " + WEBHOOK_PATH.encode())


def test_raw_exchange_raises_when_nothing_listens() -> None:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]
    with pytest.raises(OSError):  # connection refused: the caller learns the stack is gone
        raw_exchange(port, request_head([]), timeout=1.0)
