"""Tests for privacy.dev_key: the local development key file and runtime key selection."""
from __future__ import annotations

import logging
import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from privacy.dev_key import (
    DEFAULT_DEV_KEY_PATH,
    PROJECT_ROOT,
    dev_key_path,
    ensure_dev_key,
    is_local,
    keyring_for_runtime,
    main,
)
from privacy.errors import DuplicateSecretError, InsecureKeyFileError, MalformedSecretError, MissingSecretError
from privacy.keyring import parse_secret

KEY_A = "7245f2f251959792ab3164d9a9a0aecfde8a8a9c8777d848037e243527f97f6d"  # fixed random test secret (weak ones are refused)
STANDIN = "http://127.0.0.1:8765"
KEY_B = "32efbd15078a66263c6e0bc488c1bcf27d342d9176fc1d2fa10d95a273ece227"  # fixed random test secret (weak ones are refused)


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_creates_owner_only_file_in_owner_only_directory(tmp_path: Path) -> None:
    path = tmp_path / "var" / "privacy.key"
    key = ensure_dev_key(path)
    assert re.fullmatch(r"[0-9a-f]{64}", key)
    assert path.read_text() == key + "\n"
    assert _mode(path) == 0o600
    assert _mode(path.parent) == 0o700
    assert path.stat().st_uid == os.getuid()


def test_creation_ignores_a_permissive_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        path = tmp_path / "fresh" / "privacy.key"
        ensure_dev_key(path)
    finally:
        os.umask(old)
    assert _mode(path) == 0o600 and _mode(path.parent) == 0o700


def test_reuses_existing_key(tmp_path: Path) -> None:
    path = tmp_path / "var" / "privacy.key"
    first = ensure_dev_key(path)
    assert ensure_dev_key(path) == first
    assert ensure_dev_key(str(path)) == first


def test_new_keys_are_random(tmp_path: Path) -> None:
    assert ensure_dev_key(tmp_path / "a" / "k") != ensure_dev_key(tmp_path / "b" / "k")


def test_accepts_existing_uppercase_key_without_newline(tmp_path: Path) -> None:
    path = tmp_path / "privacy.key"
    path.write_text(KEY_A.upper())
    path.chmod(0o600)
    assert ensure_dev_key(path) == KEY_A


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o660, 0o620, 0o601])
def test_refuses_file_with_group_or_other_permissions(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "privacy.key"
    path.write_text(KEY_A + "\n")
    path.chmod(mode)
    with pytest.raises(InsecureKeyFileError) as info:
        ensure_dev_key(path)
    assert info.value.path == str(path)
    assert f"{mode:04o}" in str(info.value) and "chmod 600" in str(info.value)
    assert KEY_A not in str(info.value)


def test_refuses_symlink(tmp_path: Path) -> None:
    target = tmp_path / "real.key"
    target.write_text(KEY_A)
    target.chmod(0o600)
    link = tmp_path / "privacy.key"
    link.symlink_to(target)
    with pytest.raises(InsecureKeyFileError, match="symbolic link"):
        ensure_dev_key(link)


def test_refuses_dangling_symlink(tmp_path: Path) -> None:
    link = tmp_path / "privacy.key"
    link.symlink_to(tmp_path / "elsewhere.key")
    with pytest.raises(InsecureKeyFileError, match="symbolic link"):
        ensure_dev_key(link)
    assert not (tmp_path / "elsewhere.key").exists()


def test_refuses_directory_in_place_of_file(tmp_path: Path) -> None:
    (tmp_path / "privacy.key").mkdir()
    with pytest.raises(InsecureKeyFileError, match="not a regular file"):
        ensure_dev_key(tmp_path / "privacy.key")


def test_refuses_group_writable_directory(tmp_path: Path) -> None:
    directory = tmp_path / "shared"
    directory.mkdir()
    directory.chmod(0o770)
    with pytest.raises(InsecureKeyFileError, match="writable by group or others"):
        ensure_dev_key(directory / "privacy.key")
    assert not (directory / "privacy.key").exists()


@pytest.mark.parametrize("content", ["", "not a key", KEY_A[:-1], KEY_A + KEY_A])
def test_malformed_file_names_path_not_content(tmp_path: Path, content: str) -> None:
    path = tmp_path / "privacy.key"
    path.write_text(content)
    path.chmod(0o600)
    with pytest.raises(MalformedSecretError) as info:
        ensure_dev_key(path)
    assert str(path) in str(info.value)
    if content:
        assert content not in str(info.value)


# ---------------------------------------------------------------- runtime selection


@pytest.mark.parametrize("value", [None, "", "production", "staging", "LOCALHOST"])
def test_anything_but_local_is_production(value: str | None) -> None:
    environ = {} if value is None else {"BLAUPAUSE_ENV": value}
    assert not is_local(environ)
    with pytest.raises(MissingSecretError):
        keyring_for_runtime(environ)


@pytest.mark.parametrize("value", ["local", " Local "])
def test_local_is_recognised(value: str) -> None:
    assert is_local({"BLAUPAUSE_ENV": value})


def test_production_uses_privacy_key() -> None:
    keyring = keyring_for_runtime({"PRIVACY_KEY": KEY_A, "PRIVACY_OLD_KEYS": KEY_B})
    assert keyring.current == parse_secret(KEY_A)
    assert keyring.retired == (parse_secret(KEY_B),)


def test_local_with_privacy_key_uses_it_and_creates_no_file(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "var" / "privacy.key"
    environ = {"BLAUPAUSE_ENV": "local", "PRIVACY_KEY": KEY_A, "PRIVACY_DEV_KEY_FILE": str(path)}
    with caplog.at_level(logging.WARNING, logger="privacy.dev_key"):
        keyring = keyring_for_runtime(environ)
    assert keyring.current == parse_secret(KEY_A)
    assert not path.exists() and not path.parent.exists()
    assert caplog.records == []


def test_local_without_privacy_key_uses_dev_key_file_and_warns(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "var" / "privacy.key"
    environ = {"BLAUPAUSE_ENV": "local", "WHATSAPP_API_BASE_URL": STANDIN, "PRIVACY_DEV_KEY_FILE": str(path), "PRIVACY_OLD_KEYS": KEY_B}
    with caplog.at_level(logging.WARNING, logger="privacy.dev_key"):
        keyring = keyring_for_runtime(environ)
    key = path.read_text().strip()
    assert keyring.current == parse_secret(key)
    assert keyring.retired == (parse_secret(KEY_B),)
    assert keyring_for_runtime(environ).current == keyring.current  # reused, stable pseudonyms
    warnings = [record for record in caplog.records if record.levelno == logging.WARNING]
    assert len(warnings) == 2
    message = warnings[0].getMessage()
    assert "local development key file" in message and str(path) in message
    assert key not in caplog.text


def test_local_dev_key_equal_to_old_key_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "privacy.key"
    path.write_text(KEY_A)
    path.chmod(0o600)
    with pytest.raises(DuplicateSecretError):
        keyring_for_runtime({"BLAUPAUSE_ENV": "local", "WHATSAPP_API_BASE_URL": STANDIN, "PRIVACY_DEV_KEY_FILE": str(path), "PRIVACY_OLD_KEYS": KEY_A})


def test_dev_key_path_defaults_and_resolution(tmp_path: Path) -> None:
    assert dev_key_path({}) == DEFAULT_DEV_KEY_PATH == PROJECT_ROOT / "var" / "privacy.key"
    assert (PROJECT_ROOT / "privacy" / "dev_key.py").is_file()
    assert dev_key_path({"PRIVACY_DEV_KEY_FILE": "var/other.key"}) == PROJECT_ROOT / "var" / "other.key"
    assert dev_key_path({"PRIVACY_DEV_KEY_FILE": str(tmp_path / "k")}) == tmp_path / "k"


# ---------------------------------------------------------------- CLI


def test_cli_prints_path_and_note_but_never_the_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "var" / "privacy.key"
    assert main([str(path)]) == 0
    first = capsys.readouterr()
    key = path.read_text().strip()
    assert f"created development key file: {path}" in first.out
    assert "not shown" in first.out
    assert key not in first.out + first.err

    assert main([str(path)]) == 0
    second = capsys.readouterr()
    assert f"reusing existing development key file: {path}" in second.out
    assert key not in second.out + second.err


def test_cli_refuses_insecure_file_with_exit_code_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "privacy.key"
    path.write_text(KEY_A)
    path.chmod(0o644)
    assert main([str(path)]) == 2
    captured = capsys.readouterr()
    assert "refusing" in captured.err and KEY_A not in captured.err + captured.out


def test_cli_as_module(tmp_path: Path) -> None:
    path = tmp_path / "var" / "privacy.key"
    env = {**os.environ, "RASA_TELEMETRY_ENABLED": "false"}
    result = subprocess.run(
        [sys.executable, "-m", "privacy.dev_key", str(path)],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert str(path) in result.stdout
    assert path.read_text().strip() not in result.stdout + result.stderr
    assert _mode(path) == 0o600


# ---------------------------------------------------------------- dev key against Meta (issue 16, finding 9)


@pytest.mark.parametrize(
    "base_url",
    [None, "", "https://graph.facebook.com", "https://graph.facebook.com/", "HTTPS://Graph.Facebook.com:443/v21.0",
     "https://graph.whatsapp.com"],
)
def test_dev_key_is_refused_against_metas_graph_api(tmp_path: Path, base_url: str | None) -> None:
    from privacy.dev_key import DevKeyRefusedError

    path = tmp_path / "var" / "privacy.key"
    environ = {"BLAUPAUSE_ENV": "local", "PRIVACY_DEV_KEY_FILE": str(path)}
    if base_url is not None:
        environ["WHATSAPP_API_BASE_URL"] = base_url
    with pytest.raises(DevKeyRefusedError) as info:
        keyring_for_runtime(environ)
    assert "WHATSAPP_API_BASE_URL" in str(info.value) and "PRIVACY_KEY" in str(info.value)
    assert info.value.variable == "PRIVACY_KEY"
    assert not path.exists()  # refused before any key file is created


@pytest.mark.parametrize("base_url", ["http://127.0.0.1:8765", "http://localhost:9000", "http://notfacebook.com.example"])
def test_dev_key_is_allowed_against_a_stand_in(tmp_path: Path, base_url: str) -> None:
    path = tmp_path / "var" / "privacy.key"
    environ = {"BLAUPAUSE_ENV": "local", "PRIVACY_DEV_KEY_FILE": str(path), "WHATSAPP_API_BASE_URL": base_url}
    assert keyring_for_runtime(environ).current == parse_secret(path.read_text().strip())


def test_privacy_key_is_allowed_against_meta_in_local_mode() -> None:
    environ = {"BLAUPAUSE_ENV": "local", "PRIVACY_KEY": KEY_A, "WHATSAPP_API_BASE_URL": "https://graph.facebook.com"}
    assert keyring_for_runtime(environ).current == parse_secret(KEY_A)


def test_weak_privacy_key_is_refused_in_production(tmp_path: Path) -> None:
    from privacy.keyring import WeakSecretError

    with pytest.raises(WeakSecretError, match="PRIVACY_KEY"):
        keyring_for_runtime({"PRIVACY_KEY": "0" * 64})
