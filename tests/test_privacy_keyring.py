"""Tests for privacy.keyring: secrets from the environment, versions, rotation."""
from __future__ import annotations

import hashlib
import hmac
import re

import pytest

from privacy.errors import (
    DecryptionError,
    DuplicateSecretError,
    MalformedSecretError,
    MissingSecretError,
    PrivacyConfigError,
    PrivacyError,
    UnknownKeyVersionError,
)
from privacy.keyring import Keyring, Secret, key_version_of, parse_old_secrets, parse_secret

KEY_A = "a1" * 32
KEY_B = "b2" * 32
KEY_C = "c3" * 32


def test_from_env_reads_current_secret() -> None:
    keyring = Keyring.from_env({"PRIVACY_KEY": KEY_A})
    assert keyring.current.value == bytes.fromhex(KEY_A)
    assert keyring.retired == ()
    assert keyring.versions == (keyring.current.version,)


def test_version_is_short_hmac_id_not_the_secret() -> None:
    secret = parse_secret(KEY_A)
    expected = hmac.new(bytes.fromhex(KEY_A), b"blaupause/key-version", hashlib.sha256).hexdigest()[:8]
    assert secret.version == expected == key_version_of(bytes.fromhex(KEY_A))
    assert re.fullmatch(r"[0-9a-f]{8}", secret.version)
    assert secret.version not in KEY_A


def test_version_is_stable_and_case_insensitive_in_hex() -> None:
    assert parse_secret(KEY_A).version == parse_secret(KEY_A.upper()).version
    assert parse_secret(KEY_A).version != parse_secret(KEY_B).version


def test_from_env_defaults_to_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PRIVACY_KEY", KEY_B)
    monkeypatch.delenv("PRIVACY_OLD_KEYS", raising=False)
    assert Keyring.from_env().current.value == bytes.fromhex(KEY_B)


@pytest.mark.parametrize("environ", [{}, {"PRIVACY_KEY": ""}])
def test_missing_secret(environ: dict[str, str]) -> None:
    with pytest.raises(MissingSecretError) as info:
        Keyring.from_env(environ)
    assert info.value.variable == "PRIVACY_KEY"
    assert "PRIVACY_KEY" in str(info.value)
    assert isinstance(info.value, PrivacyConfigError)


@pytest.mark.parametrize(
    "value",
    [
        KEY_A[:-1],  # 63 characters
        KEY_A + "0",  # 65 characters
        "g" + KEY_A[1:],  # not hex
        " " + KEY_A[1:],  # whitespace inside the 64 characters
        KEY_A + "\n",  # trailing newline
        "0x" + KEY_A[2:],
        "deadbeef",
    ],
)
def test_malformed_secret_names_variable_but_never_echoes_value(value: str) -> None:
    with pytest.raises(MalformedSecretError) as info:
        Keyring.from_env({"PRIVACY_KEY": value})
    message = str(info.value)
    assert "PRIVACY_KEY" in message
    assert info.value.variable == "PRIVACY_KEY" and info.value.position is None
    assert value.strip() not in message
    assert KEY_A[2:20] not in message and "deadbeef" not in message


def test_old_keys_parsed_in_order_with_spaces_around_commas() -> None:
    keyring = Keyring.from_env({"PRIVACY_KEY": KEY_A, "PRIVACY_OLD_KEYS": f" {KEY_B} ,{KEY_C}"})
    assert [secret.value for secret in keyring.retired] == [bytes.fromhex(KEY_B), bytes.fromhex(KEY_C)]
    assert keyring.secrets[0] is keyring.current
    assert len(set(keyring.versions)) == 3


@pytest.mark.parametrize("blank", ["", "   "])
def test_blank_old_keys_means_none(blank: str) -> None:
    assert Keyring.from_env({"PRIVACY_KEY": KEY_A, "PRIVACY_OLD_KEYS": blank}).retired == ()


def test_malformed_old_key_names_position_not_value() -> None:
    bad = KEY_C[:-2] + "zz"
    with pytest.raises(MalformedSecretError) as info:
        Keyring.from_env({"PRIVACY_KEY": KEY_A, "PRIVACY_OLD_KEYS": f"{KEY_B},{bad}"})
    assert info.value.variable == "PRIVACY_OLD_KEYS"
    assert info.value.position == 2
    assert "PRIVACY_OLD_KEYS entry 2" in str(info.value)
    assert bad not in str(info.value) and KEY_B not in str(info.value)


def test_empty_old_key_entry_is_an_error() -> None:
    with pytest.raises(MalformedSecretError) as info:
        parse_old_secrets(f"{KEY_B},,{KEY_C}")
    assert info.value.position == 2


def test_old_key_equal_to_current_is_rejected() -> None:
    with pytest.raises(DuplicateSecretError) as info:
        Keyring.from_env({"PRIVACY_KEY": KEY_A, "PRIVACY_OLD_KEYS": f"{KEY_B},{KEY_A.upper()}"})
    assert info.value.position == 2
    assert "PRIVACY_KEY" in str(info.value)
    assert KEY_A not in str(info.value) and KEY_A.upper() not in str(info.value)


def test_duplicate_old_keys_are_rejected() -> None:
    with pytest.raises(DuplicateSecretError) as info:
        Keyring.from_env({"PRIVACY_KEY": KEY_A, "PRIVACY_OLD_KEYS": f"{KEY_B},{KEY_C},{KEY_B}"})
    assert info.value.position == 3
    assert "entry 1" in str(info.value)
    assert isinstance(info.value, MalformedSecretError)


def test_constructor_rejects_duplicate_secret() -> None:
    a = parse_secret(KEY_A)
    with pytest.raises(DuplicateSecretError):
        Keyring(current=a, retired=(parse_secret(KEY_B), Secret(version="other", value=a.value)))


def test_constructor_rejects_version_collision() -> None:
    with pytest.raises(DuplicateSecretError, match="same key version"):
        Keyring(
            current=Secret(version="v1", value=bytes.fromhex(KEY_A)),
            retired=(Secret(version="v1", value=bytes.fromhex(KEY_B)),),
        )


def test_constructor_type_checks() -> None:
    with pytest.raises(TypeError):
        Keyring(current=KEY_A)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Keyring(current=parse_secret(KEY_A), retired=[parse_secret(KEY_B)])  # type: ignore[arg-type]


def test_by_version_finds_current_and_retired() -> None:
    keyring = Keyring.from_env({"PRIVACY_KEY": KEY_A, "PRIVACY_OLD_KEYS": f"{KEY_B},{KEY_C}"})
    for secret in keyring.secrets:
        assert keyring.by_version(secret.version) is secret


def test_by_version_unknown_raises_typed_error() -> None:
    keyring = Keyring.from_env({"PRIVACY_KEY": KEY_A})
    with pytest.raises(UnknownKeyVersionError) as info:
        keyring.by_version("00000000")
    assert info.value.version == "00000000"
    assert isinstance(info.value, DecryptionError) and isinstance(info.value, PrivacyError)


def test_repr_never_shows_secret_value() -> None:
    keyring = Keyring.from_env({"PRIVACY_KEY": KEY_A, "PRIVACY_OLD_KEYS": KEY_B})
    text = repr(keyring) + str(keyring.current)
    assert "a1a1" not in text and "b2b2" not in text
    assert "\\xa1" not in text and "\\xb2" not in text
    assert keyring.current.version in text


def test_secret_validation() -> None:
    with pytest.raises(ValueError):
        Secret(version="v1", value=b"short")
    with pytest.raises(ValueError):
        Secret(version="has space", value=bytes(32))
    with pytest.raises(ValueError):
        Secret(version="", value=bytes(32))
    with pytest.raises(ValueError):
        Secret.from_value(bytes(31))


def test_generate_gives_distinct_well_formed_secrets() -> None:
    first, second = Secret.generate(), Secret.generate()
    assert first != second and len(first.value) == 32
    assert first.version == key_version_of(first.value)


def test_from_hex_labels_errors() -> None:
    with pytest.raises(MalformedSecretError) as info:
        Secret.from_hex("nothex", name="SOME_FILE", position=4)
    assert str(info.value).startswith("SOME_FILE entry 4:")
    with pytest.raises(MalformedSecretError):
        parse_secret(None)  # type: ignore[arg-type]
