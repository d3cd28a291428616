"""At-rest needles for the identifiers of the username era: BSUIDs, parent BSUIDs, usernames.

The scanners of harness/at_rest.py must find each of them in every form and encoding a store
could hold it in, and must not cry wolf on data that does not contain them."""
from __future__ import annotations

import json
import sqlite3

import pytest

from harness import at_rest

PHONE = "4915550000001"
BSUID = "DE.1000000000000000001"
PARENT = "DE.ENT.2000000000000000001"
USERNAME = "@erika_test"


def test_bsuid_formats():
    assert at_rest.bsuid_formats(BSUID) == (BSUID, "1000000000000000001")
    assert at_rest.bsuid_formats(PARENT) == (PARENT, "ENT.2000000000000000001", "2000000000000000001")
    for bad in ("4915550000001", "DE", "DE.", ".123456789", ""):
        with pytest.raises(ValueError):
            at_rest.bsuid_formats(bad)


def test_username_formats():
    assert at_rest.username_formats(USERNAME) == (USERNAME, "erika_test")
    assert at_rest.username_formats("erika_test") == (USERNAME, "erika_test")
    assert at_rest.username_formats("@abc") == ("@abc",)  # "abc" alone would match by chance
    with pytest.raises(ValueError):
        at_rest.username_formats("@")


@pytest.mark.parametrize(
    ("stored", "label"),
    [
        (json.dumps({"sender": BSUID}).encode(), BSUID),
        (BSUID.lower().encode(), BSUID),
        (BSUID.encode("utf-16-le"), BSUID),
        (b"user=1000000000000000001;", "1000000000000000001"),
        (json.dumps({"parent": PARENT}).encode(), PARENT),
        (b"ent.2000000000000000001", "ENT.2000000000000000001"),
        (b"2000000000000000001", "2000000000000000001"),
        (json.dumps({"username": USERNAME}, ensure_ascii=True).encode(), USERNAME),
        (b"name:ERIKA_TEST", "erika_test"),
        ("erika_test".encode("utf-16-le"), "erika_test"),
        (b"+49 155 50000001", "+49 155 50000001"),
    ],
)
def test_identity_needles_find_each_form(stored, label):
    patterns = at_rest.identity_needles(phone=PHONE, user_id=BSUID, parent_user_id=PARENT, username=USERNAME)
    found = at_rest.scan_bytes(b"\x00garbage" + stored + b"garbage\x00", patterns, "blob")
    assert label in {finding.needle for finding in found}, found


def test_identity_needles_stay_quiet_on_unrelated_data():
    patterns = at_rest.identity_needles(phone=PHONE, user_id=BSUID, parent_user_id=PARENT, username=USERNAME)
    unrelated = json.dumps({
        "sender": "DE.1000000000000000002",
        "parent": "DE.ENT.2000000000000000002",
        "username": "@erika_x",
        "pseudonym": "b4c1d1a0f2e3",
    }).encode()
    assert at_rest.scan_bytes(unrelated, patterns) == []


def test_identity_needles_need_an_identifier_and_accept_foreign_numbers():
    with pytest.raises(ValueError):
        at_rest.identity_needles()
    assert list(at_rest.identity_needles(phone="15550000001")) == ["15550000001"]


def test_a_deleted_bsuid_row_is_still_found_in_the_sqlite_file(tmp_path):
    path = tmp_path / "store.db"
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA secure_delete = OFF")
        db.execute("CREATE TABLE t (v TEXT)")
        db.execute("INSERT INTO t VALUES (?)", (f"conversation of {BSUID} alias {USERNAME}",))
        db.execute("DELETE FROM t")
    db.close()
    found = at_rest.scan_sqlite_file(path, at_rest.identity_needles(user_id=BSUID, username=USERNAME))
    assert {BSUID, USERNAME} <= {finding.needle for finding in found}
