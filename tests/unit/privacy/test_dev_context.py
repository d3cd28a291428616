"""Tests for privacy.dev_context: development keys for Rasa's own tools, local use only."""
from __future__ import annotations

import secrets
from pathlib import Path

import pytest

from privacy.dev_context import (
    DevContextRefusedError,
    DevelopmentKeys,
    DevSenderRefusedError,
    check_development_sender,
    development_key,
)
from privacy.errors import NoKeyInContextError
from privacy.identity import data_key, pseudonym
from privacy.keyring import Keyring, Secret

STANDIN = "http://127.0.0.1:8765"
PHONE = "4915550000001"  # obviously fake
BSUID = "DE.1000000000000000042"


@pytest.fixture
def secret() -> Secret:
    return Secret.generate()


def local_env(**extra: str) -> dict[str, str]:
    return {"BLAUPAUSE_ENV": "local", "WHATSAPP_API_BASE_URL": STANDIN, "PRIVACY_KEY": secrets.token_hex(32), **extra}


# ------------------------------------------------------------------ derivation
def test_development_key_is_stable_per_sender_and_secret(secret: Secret) -> None:
    key = development_key(secret, "default")
    assert len(key) == 32
    assert development_key(secret, "default") == key
    assert development_key(secret, "anna-test") != key
    assert development_key(Secret.generate(), "default") != key


def test_development_key_never_equals_a_real_users_key(secret: Secret) -> None:
    # A separate label: the dev key of a sender id is not the data key of the same string as an identifier.
    assert development_key(secret, "anna-test") != data_key(secret, "anna-test")
    assert development_key(secret, "default") != data_key(secret, "default")


@pytest.mark.parametrize("sender", ["default", "anna-test", "0f3c9b7a2d5e4c1b8a6f9e0d3c2b1a09", "1234", "x" * 128])
def test_accepts_the_ids_rasas_tools_use(sender: str) -> None:
    assert check_development_sender(sender) == sender


@pytest.mark.parametrize(
    "sender",
    [
        "u_" + "a" * 32,  # a WhatsApp pseudonym
        "U_ABC",  # in any case
        PHONE,
        "+" + PHONE,
        "0049" + PHONE[2:],
        BSUID,
        "us.ent.11815799212886844830",
        "",
        "anna test",
        "änna",
        "x" * 129,
        "line\nbreak",
    ],
)
def test_refuses_pseudonyms_whatsapp_identifiers_and_odd_shapes(sender: str) -> None:
    with pytest.raises(DevSenderRefusedError) as raised:
        check_development_sender(sender)
    assert isinstance(raised.value, NoKeyInContextError)  # the store's fail-closed path
    if sender and not sender.lower().startswith("u_"):
        assert sender not in str(raised.value)  # a phone number is never echoed


# ------------------------------------------------------------------ runtime rules
@pytest.mark.parametrize("env", [{}, {"BLAUPAUSE_ENV": "production"}, {"BLAUPAUSE_ENV": ""}])
def test_production_has_no_development_keys(env: dict[str, str]) -> None:
    env = {**env, "WHATSAPP_API_BASE_URL": STANDIN, "PRIVACY_KEY": secrets.token_hex(32)}
    assert DevelopmentKeys.for_runtime(env) is None


@pytest.mark.parametrize("base_url", [None, "", "https://graph.facebook.com", "https://graph.facebook.com/v21.0"])
def test_local_use_against_meta_is_refused(base_url: str | None) -> None:
    env = local_env()
    if base_url is None:
        del env["WHATSAPP_API_BASE_URL"]  # unset means Meta's default
    else:
        env["WHATSAPP_API_BASE_URL"] = base_url
    with pytest.raises(DevContextRefusedError, match="WHATSAPP_API_BASE_URL points at Meta"):
        DevelopmentKeys.for_runtime(env)


def test_local_keys_use_the_runtime_keyring_and_the_sender_as_pseudonym() -> None:
    env = local_env()
    current = Secret.from_hex(env["PRIVACY_KEY"])
    keys = DevelopmentKeys.for_runtime(env)
    assert keys is not None
    user_keys = keys.keys_for("default")
    assert user_keys.pseudonym == "default"
    assert user_keys.version == current.version
    assert user_keys.key == development_key(current, "default")
    assert user_keys.retired == () and user_keys.aliases == ()


def test_the_keyring_is_loaded_on_first_use_from_the_dev_key_file(tmp_path: Path) -> None:
    path = tmp_path / "var" / "privacy.key"
    env = {"BLAUPAUSE_ENV": "local", "WHATSAPP_API_BASE_URL": STANDIN, "PRIVACY_DEV_KEY_FILE": str(path)}
    keys = DevelopmentKeys.for_runtime(env)
    assert keys is not None and not path.exists()
    first = keys.keys_for("default")
    assert path.exists()
    assert DevelopmentKeys.for_runtime(env).keys_for("default").key == first.key  # type: ignore[union-attr]


def test_a_pseudonym_never_gets_a_development_key() -> None:
    secret = Secret.generate()
    keys = DevelopmentKeys(Keyring(current=secret))
    with pytest.raises(DevSenderRefusedError):
        keys.keys_for(pseudonym(secret, PHONE))


def test_user_context_active_tells_no_context_from_anyones_context() -> None:
    from privacy.context import keys_for_user, user_context, user_context_active

    assert not user_context_active()
    with user_context(keys_for_user(Keyring(current=Secret.generate()), PHONE)):
        assert user_context_active()
    assert not user_context_active()
