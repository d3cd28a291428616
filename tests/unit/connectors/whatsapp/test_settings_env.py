"""WhatsAppSettings: every setting is read, validated, and errors name the setting (never its value)."""
from __future__ import annotations

import pytest

from connectors.whatsapp.settings import (
    DEFAULT_API_BASE_URL,
    DEFAULT_API_VERSION,
    DEFAULT_MAX_BODY_BYTES,
    SettingsError,
    WhatsAppSettings,
)

ENV = {
    "WHATSAPP_VERIFY_TOKEN": "verify-me",
    "WHATSAPP_APP_SECRET": "app-secret-value",
    "WHATSAPP_ACCESS_TOKEN": "access-token-value",
    "WHATSAPP_PHONE_NUMBER_ID": "100000000000001",
}


def test_defaults_from_environment() -> None:
    settings = WhatsAppSettings.load(None, ENV)
    assert settings.verify_token == "verify-me"
    assert settings.app_secret == "app-secret-value"
    assert settings.access_token == "access-token-value"
    assert settings.phone_number_id == "100000000000001"
    assert settings.api_base_url == DEFAULT_API_BASE_URL
    assert settings.api_version == DEFAULT_API_VERSION
    assert settings.max_body_bytes == DEFAULT_MAX_BODY_BYTES > 3 * 1024 * 1024
    assert settings.dedup_url == ""


def test_optional_settings_from_environment() -> None:
    env = dict(
        ENV,
        WHATSAPP_API_BASE_URL="http://127.0.0.1:8765/",
        WHATSAPP_API_VERSION="v21.0",
        WHATSAPP_MAX_BODY_BYTES="4096",
        WHATSAPP_DEDUP_URL="redis://127.0.0.1:6379/0",
    )
    settings = WhatsAppSettings.load({}, env)
    assert settings.api_base_url == "http://127.0.0.1:8765"
    assert settings.api_version == "v21.0"
    assert settings.max_body_bytes == 4096
    assert settings.dedup_url == "redis://127.0.0.1:6379/0"


def test_credentials_values_win_and_empty_ones_fall_back() -> None:
    credentials = {"verify_token": "from-credentials", "app_secret": None, "access_token": "", "phone_number_id": 200000000000002}
    settings = WhatsAppSettings.load(credentials, ENV)
    assert settings.verify_token == "from-credentials"
    assert settings.app_secret == "app-secret-value"
    assert settings.access_token == "access-token-value"
    assert settings.phone_number_id == "200000000000002"


@pytest.mark.parametrize(
    "variable", ["WHATSAPP_VERIFY_TOKEN", "WHATSAPP_APP_SECRET", "WHATSAPP_ACCESS_TOKEN", "WHATSAPP_PHONE_NUMBER_ID"]
)
def test_missing_required_setting_is_named(variable: str) -> None:
    env = {key: value for key, value in ENV.items() if key != variable}
    with pytest.raises(SettingsError) as caught:
        WhatsAppSettings.load(None, env)
    assert caught.value.setting == variable
    assert variable in str(caught.value)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("WHATSAPP_PHONE_NUMBER_ID", "+49 155 50000001"),
        ("WHATSAPP_API_BASE_URL", "api.example.invalid"),
        ("WHATSAPP_API_BASE_URL", "ftp://example.invalid"),
        ("WHATSAPP_API_VERSION", "21"),
        ("WHATSAPP_MAX_BODY_BYTES", "lots"),
        ("WHATSAPP_MAX_BODY_BYTES", "12"),
        ("WHATSAPP_DEDUP_URL", "memcached://127.0.0.1"),
        ("WHATSAPP_DEDUP_URL", "redis://"),
        ("WHATSAPP_VERIFY_TOKEN", "two words"),
        ("WHATSAPP_APP_SECRET", "tab\there"),
    ],
)
def test_malformed_setting_is_named_without_its_value(variable: str, value: str) -> None:
    with pytest.raises(SettingsError) as caught:
        WhatsAppSettings.load(None, dict(ENV, **{variable: value}))
    assert caught.value.setting == variable
    assert value not in str(caught.value)


def test_credentials_section_must_be_a_mapping() -> None:
    with pytest.raises(SettingsError):
        WhatsAppSettings.load(["not", "a", "mapping"], ENV)  # type: ignore[arg-type]


def test_credentials_value_of_wrong_type_is_named() -> None:
    with pytest.raises(SettingsError) as caught:
        WhatsAppSettings.load({"app_secret": ["x"]}, ENV)
    assert caught.value.setting == "WHATSAPP_APP_SECRET"


def test_repr_hides_secrets() -> None:
    settings = WhatsAppSettings.load(None, dict(ENV, WHATSAPP_DEDUP_URL="redis://:pw-123@127.0.0.1:6379/0"))
    text = repr(settings)
    for secret in ("verify-me", "app-secret-value", "access-token-value", "pw-123"):
        assert secret not in text
    assert "100000000000001" in text


def test_identity_anchor_defaults_to_the_business_bsuid() -> None:
    settings = WhatsAppSettings.load(None, ENV)
    assert settings.identity_anchor == "user_id" and not settings.use_parent_user_id


@pytest.mark.parametrize("source", ["env", "credentials"])
def test_identity_anchor_parent_from_environment_or_credentials(source: str) -> None:
    if source == "env":
        settings = WhatsAppSettings.load(None, dict(ENV, WHATSAPP_IDENTITY_ANCHOR=" parent_user_id "))
    else:
        settings = WhatsAppSettings.load({"identity_anchor": "parent_user_id"}, dict(ENV, WHATSAPP_IDENTITY_ANCHOR="user_id"))
    assert settings.identity_anchor == "parent_user_id" and settings.use_parent_user_id


@pytest.mark.parametrize("value", ["phone", "parent", "USER_ID", "user_id,parent_user_id", "bsuid"])
def test_identity_anchor_is_validated(value: str) -> None:
    with pytest.raises(SettingsError) as raised:
        WhatsAppSettings.load(None, dict(ENV, WHATSAPP_IDENTITY_ANCHOR=value))
    assert raised.value.setting == "WHATSAPP_IDENTITY_ANCHOR"
    assert value not in str(raised.value).replace("user_id, parent_user_id", "")
    with pytest.raises(SettingsError):
        WhatsAppSettings(verify_token="v", app_secret="a", access_token="t", phone_number_id="1", identity_anchor=value)
