"""STT_* settings: defaults, off when unset, every malformed value named, the key never shown."""
from __future__ import annotations

import pytest

from speech.errors import SpeechSettingsError
from speech.settings import META_AUDIO_LIMIT_BYTES, SpeechSettings


def test_unset_or_empty_base_url_means_off():
    assert SpeechSettings.from_env({}) is None
    assert SpeechSettings.from_env({"STT_BASE_URL": "  ", "STT_MODEL": "x"}) is None


def test_defaults():
    settings = SpeechSettings.from_env({"STT_BASE_URL": "http://127.0.0.1:8000/v1/"})
    assert settings == SpeechSettings(
        base_url="http://127.0.0.1:8000/v1/", model="whisper-1", api_key=None, timeout_seconds=15.0,
        max_bytes=5_000_000, max_seconds=180.0, confirm_below=0.6, response_format="verbose_json",
    )
    assert settings.transcriptions_url == "http://127.0.0.1:8000/v1/audio/transcriptions"


def test_every_variable_is_read():
    settings = SpeechSettings.from_env({
        "STT_BASE_URL": "https://stt.example.invalid/v1", "STT_MODEL": "Systran/faster-whisper-small",
        "STT_API_KEY": "sk-secret-value", "STT_TIMEOUT_S": "4.5", "STT_MAX_BYTES": "16_000_000",
        "STT_MAX_SECONDS": "60", "STT_CONFIRM_BELOW": "0.75", "STT_RESPONSE_FORMAT": "JSON",
    })
    assert (settings.model, settings.api_key, settings.timeout_seconds, settings.max_bytes, settings.max_seconds,
            settings.confirm_below, settings.response_format) == (
        "Systran/faster-whisper-small", "sk-secret-value", 4.5, 16_000_000, 60.0, 0.75, "json")
    assert "sk-secret-value" not in repr(settings)


@pytest.mark.parametrize(("variable", "value"), [
    ("STT_BASE_URL", "ftp://host/v1"),
    ("STT_BASE_URL", "http:///v1"),
    ("STT_BASE_URL", "http://host/v1?x=1"),
    ("STT_TIMEOUT_S", "0"),
    ("STT_TIMEOUT_S", "soon"),
    ("STT_TIMEOUT_S", "inf"),
    ("STT_MAX_BYTES", "0"),
    ("STT_MAX_BYTES", str(META_AUDIO_LIMIT_BYTES + 1)),
    ("STT_MAX_BYTES", "5MB"),
    ("STT_MAX_SECONDS", "-1"),
    ("STT_CONFIRM_BELOW", "1.5"),
    ("STT_CONFIRM_BELOW", "nan"),
    ("STT_RESPONSE_FORMAT", "srt"),
    ("STT_API_KEY", "sk-secret with-blank"),
])
def test_malformed_values_name_their_variable(variable, value):
    env = {"STT_BASE_URL": "http://127.0.0.1:8000/v1", variable: value}
    with pytest.raises(SpeechSettingsError) as error:
        SpeechSettings.from_env(env)
    assert error.value.variable == variable
    assert variable in str(error.value)
    assert isinstance(error.value, ValueError)
    if variable == "STT_API_KEY":
        assert "sk-secret" not in str(error.value)


def test_the_largest_meta_audio_is_allowed():
    env = {"STT_BASE_URL": "http://127.0.0.1:8000/v1", "STT_MAX_BYTES": str(META_AUDIO_LIMIT_BYTES)}
    assert SpeechSettings.from_env(env).max_bytes == 16 * 1024 * 1024
