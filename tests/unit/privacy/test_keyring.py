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

KEY_A = "7245f2f251959792ab3164d9a9a0aecfde8a8a9c8777d848037e243527f97f6d"  # fixed random test secret (weak ones are refused)
KEY_B = "32efbd15078a66263c6e0bc488c1bcf27d342d9176fc1d2fa10d95a273ece227"  # fixed random test secret (weak ones are refused)
KEY_C = "d435bac239969230f827bd719849a955d0b3215bba59ae0bd09ddd2ff5ba3722"  # fixed random test secret (weak ones are refused)


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


# ---------------------------------------------------------------- weak secrets (issue 16, finding 9)

WEAK_KEYS = {
    "all zeros": "0" * 64,
    "one byte repeated": "5" * 64,
    "two bytes repeated": "a1" * 32,
    "a 16-byte pattern twice": "00112233445566778899aabbccddeeff" * 2,
    "counting": bytes(range(32)).hex(),
    "few distinct bytes": (bytes(range(8)) * 3 + bytes([7, 6, 5, 4, 3, 2, 1, 0])).hex(),
}


@pytest.mark.parametrize("weak", list(WEAK_KEYS.values()), ids=list(WEAK_KEYS))
def test_weak_privacy_key_is_refused_naming_the_variable(weak: str) -> None:
    from privacy.keyring import WeakSecretError

    with pytest.raises(WeakSecretError) as info:
        Keyring.from_env({"PRIVACY_KEY": weak})
    assert info.value.variable == "PRIVACY_KEY" and info.value.position is None
    assert str(info.value).startswith("PRIVACY_KEY: ") and weak not in str(info.value)
    assert isinstance(info.value, PrivacyConfigError)


@pytest.mark.parametrize("weak", list(WEAK_KEYS.values()), ids=list(WEAK_KEYS))
def test_weak_old_key_is_refused_with_its_position(weak: str) -> None:
    from privacy.keyring import WeakSecretError

    with pytest.raises(WeakSecretError) as info:
        Keyring.from_env({"PRIVACY_KEY": KEY_A, "PRIVACY_OLD_KEYS": f"{KEY_B},{weak}"})
    assert info.value.variable == "PRIVACY_OLD_KEYS" and info.value.position == 2
    assert "PRIVACY_OLD_KEYS entry 2" in str(info.value) and weak not in str(info.value)


def test_random_secrets_always_pass_the_strength_check() -> None:
    from privacy.keyring import check_strength

    for _ in range(2000):
        secret = Secret.generate()
        assert check_strength(secret) is secret
