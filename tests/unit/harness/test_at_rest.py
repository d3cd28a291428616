"""The raw at-rest scanners (harness/at_rest.py) find what they must, where they must.

Why these tests: the end-to-end at-rest proof (tests/e2e/test_at_rest_scan.py) passes when the
scanners find nothing, so a scanner that silently reads nothing would make it pass vacuously.
Each test here plants a secret in a real SQLite file, PostgreSQL table or Redis key and checks
that the scanner reports it, in every encoding and value type it claims to read, and that it
stays quiet about what is not there.
"""
from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Iterator

import psycopg2
import pytest
import redis

from harness.at_rest import (
    encodings_of,
    find_in,
    needles,
    phone_formats,
    postgres_tables,
    redis_keys,
    scan_postgres,
    scan_redis,
    scan_sqlite_file,
)

# Planted values exist only in this file, so a hit can only come from the plant.
PLANTED_NUMBER = "4915550000591"
PLANTED_NAME = "Ottilie Scannerprobe"
PLANTED_TEXT = "Ich suche eine Stelle als Glockengießerin in Köln"


def test_encodings_cover_utf8_json_escapes_and_case() -> None:
    forms = encodings_of("Köln")
    assert "köln".encode("utf-8") in forms
    assert b"k\\u00f6ln" in forms
    assert "köln".encode("latin-1") in forms
    assert all(form == form.lower() for form in forms)
    with pytest.raises(ValueError):
        encodings_of("")


def test_phone_formats_include_the_common_spellings() -> None:
    formats = phone_formats("4915550000501")
    for expected in ("4915550000501", "+4915550000501", "+49 155 50000501", "0155 50000501", "015550000501"):
        assert expected in formats
    assert "15550000501" in formats
    with pytest.raises(ValueError):
        phone_formats("+4915550000501")


def test_find_in_is_case_blind_and_names_the_place() -> None:
    patterns = needles([PLANTED_NAME, "nirgendwo-zu-finden"])
    found = find_in(b'{"profile":{"name":"OTTILIE SCANNERPROBE"}}', patterns, "sample")
    assert [(f.where, f.needle) for f in found] == [("sample", PLANTED_NAME)]
    assert b"OTTILIE" in found[0].excerpt
    assert find_in('{"text":"K\\u00f6ln"}'.encode(), needles(["Köln"]), "json") != []
    assert find_in(b"nothing here", patterns, "clean") == []


def test_sqlite_scan_reads_the_file_and_its_journal_siblings(tmp_path: Path) -> None:
    database = tmp_path / "store.db"
    connection = sqlite3.connect(database)
    connection.execute("CREATE TABLE t (k TEXT, v BLOB)")
    connection.execute("INSERT INTO t VALUES (?, ?)", ("a", PLANTED_TEXT.encode("utf-8")))
    connection.commit()
    connection.close()
    patterns = needles([PLANTED_TEXT, "Glockengießerin", PLANTED_NAME])
    found = scan_sqlite_file(database, patterns)
    assert {f.needle for f in found} == {PLANTED_TEXT, "Glockengießerin"}

    (tmp_path / "store.db-wal").write_bytes(b"\x00" + PLANTED_NAME.encode("utf-8"))
    assert PLANTED_NAME in {f.needle for f in scan_sqlite_file(database, patterns)}
    with pytest.raises(FileNotFoundError):
        scan_sqlite_file(tmp_path / "missing.db", patterns)


@pytest.fixture
def planted_table(postgres_url: str, unique_name: str) -> Iterator[str]:
    connection = psycopg2.connect(postgres_url)
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TABLE {unique_name} (id INTEGER, note TEXT, blob BYTEA, meta JSONB)")
        cursor.execute(
            f"INSERT INTO {unique_name} VALUES (1, 'harmlos', %s, '{{}}'), (2, NULL, NULL, %s)",
            (psycopg2.Binary(b"\x00\x01" + PLANTED_NUMBER.encode() + b"\xff"), '{"name": "%s"}' % PLANTED_NAME),
        )
    try:
        yield unique_name
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {unique_name}")
        connection.close()


@pytest.mark.postgres
def test_postgres_scan_reads_bytea_and_json_of_named_tables(postgres_url: str, planted_table: str) -> None:
    patterns = needles([*phone_formats(PLANTED_NUMBER), PLANTED_NAME, PLANTED_TEXT])
    found, counts = scan_postgres(postgres_url, patterns, tables=[planted_table])
    assert counts == {f"public.{planted_table}": 2}
    hits = {(f.needle, f.where.rsplit(".", 1)[-1]) for f in found}
    assert (PLANTED_NUMBER, "blob") in hits and (PLANTED_NAME, "meta") in hits
    assert PLANTED_TEXT not in {f.needle for f in found}
    with pytest.raises(psycopg2.errors.UndefinedTable):
        scan_postgres(postgres_url, patterns, tables=["no_such_table_here_x"])


@pytest.mark.postgres
def test_postgres_scan_of_the_whole_database_includes_new_tables(postgres_url: str, planted_table: str) -> None:
    assert ("public", planted_table) in postgres_tables(postgres_url)
    found, counts = scan_postgres(postgres_url, needles([PLANTED_NAME]))
    assert counts[f"public.{planted_table}"] == 2
    assert any(planted_table in f.where for f in found)


@pytest.fixture
def planted_keys(redis_url: str, unique_name: str) -> Iterator[str]:
    client = redis.Redis.from_url(redis_url)
    prefix = f"{unique_name}:"
    client.set(prefix + "string", b"\x00" + PLANTED_NUMBER.encode())
    client.hset(prefix + "hash", mapping={"c": b"\xff\xfe", PLANTED_NAME: b"1"})
    client.rpush(prefix + "list", b"x", PLANTED_TEXT.encode("utf-8"))
    client.sadd(prefix + "set", "+49 155 50000591")
    client.zadd(prefix + "zset", {"0155 50000591": 1.0})
    client.xadd(prefix + "stream", {"text": "Glockengießerin"})
    client.set(prefix + PLANTED_NUMBER, b"clean value")
    try:
        yield prefix
    finally:
        client.delete(*client.keys(prefix + "*"))
        client.close()


@pytest.mark.redis
def test_redis_scan_reads_every_value_type_and_key_names(redis_url: str, planted_keys: str) -> None:
    patterns = needles([*phone_formats(PLANTED_NUMBER), PLANTED_NAME, PLANTED_TEXT, "Glockengießerin"])
    found, counts = scan_redis(redis_url, patterns, prefixes=[planted_keys])
    assert sum(counts.values()) == 7
    where_by_type = {f.where.rsplit(":", 1)[-1]: f.needle for f in found}
    assert set(where_by_type) >= {"string", "hash", "list", "set", "zset", "stream", f"{PLANTED_NUMBER} (key name)"}
    assert where_by_type["set"] == "+49 155 50000591" and where_by_type["zset"] == "0155 50000591"


@pytest.mark.redis
def test_redis_prefix_filter_leaves_other_keys_out(redis_url: str, planted_keys: str, unique_name: str) -> None:
    keys = redis_keys(redis_url, prefixes=[planted_keys])
    assert sum(len(k) for k in keys.values()) == 7
    found, counts = scan_redis(redis_url, needles([PLANTED_NAME]), prefixes=[unique_name + "-other:"])
    assert found == [] and sum(counts.values()) == 0
