"""A local development secret in a git-ignored, owner-only file.

Why: a developer should be able to run the bot without inventing a secret, but a
production deployment must never silently fall back to a key file on disk. So the
fallback is opt-in (``BLAUPAUSE_ENV=local``), announced with a WARNING, and the file
is created atomically with mode 0600 in an owner-only directory; an existing file
readable or writable by group/others, not owned by us, or a symlink is refused.

Runtime selection (:func:`keyring_for_runtime`):

* ``BLAUPAUSE_ENV`` unset or anything but ``local``: production rules,
  ``PRIVACY_KEY`` is required (:meth:`privacy.keyring.Keyring.from_env`).
* ``BLAUPAUSE_ENV=local`` and ``PRIVACY_KEY`` set: the same, the variable wins.
* ``BLAUPAUSE_ENV=local`` and no ``PRIVACY_KEY``: the secret comes from
  ``PRIVACY_DEV_KEY_FILE`` (relative paths are relative to the project root) or
  ``var/privacy.key`` under the project root; ``PRIVACY_OLD_KEYS`` still applies.
  Refused (:class:`DevKeyRefusedError`) when ``WHATSAPP_API_BASE_URL`` points at
  Meta (unset means Meta's ``https://graph.facebook.com``): real users' messages
  must never be sealed with a key that lives in a file next to the code. Local
  runs point the channel at the Graph API stand-in (``scripts/run.sh`` does).

CLI: ``python -m privacy.dev_key [PATH]`` creates or checks the file and prints only
the path and a note, never the key.
"""
from __future__ import annotations

import argparse
import logging
import os
import secrets
import stat
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from urllib.parse import urlsplit

from privacy.errors import InsecureKeyFileError, PrivacyConfigError
from privacy.keyring import (
    PRIVACY_KEY_ENV,
    PRIVACY_OLD_KEYS_ENV,
    SECRET_BYTES,
    Keyring,
    parse_old_secrets,
    parse_secret,
)

__all__ = [
    "BLAUPAUSE_ENV",
    "PRIVACY_DEV_KEY_FILE_ENV",
    "PROJECT_ROOT",
    "DEFAULT_DEV_KEY_PATH",
    "API_BASE_URL_ENV",
    "DevKeyRefusedError",
    "is_meta_api",
    "ensure_dev_key",
    "dev_key_path",
    "is_local",
    "keyring_for_runtime",
    "main",
]

logger = logging.getLogger(__name__)

BLAUPAUSE_ENV = "BLAUPAUSE_ENV"
PRIVACY_DEV_KEY_FILE_ENV = "PRIVACY_DEV_KEY_FILE"
PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DEV_KEY_PATH = PROJECT_ROOT / "var" / "privacy.key"

API_BASE_URL_ENV = "WHATSAPP_API_BASE_URL"
#: The channel's default when WHATSAPP_API_BASE_URL is unset (connectors/whatsapp/graph/config.py).
META_API_BASE_URL = "https://graph.facebook.com"
_META_DOMAINS = ("facebook.com", "whatsapp.com", "whatsapp.net", "fb.com", "meta.com")

_GROUP_OTHER = stat.S_IRWXG | stat.S_IRWXO


class DevKeyRefusedError(PrivacyConfigError):
    """The local development key would be used against Meta's real Graph API.

    ``variable`` names the setting to change (for the channel's start-up error).
    """

    def __init__(self, api_base_url_host: str) -> None:
        self.variable = PRIVACY_KEY_ENV
        super().__init__(
            f"refusing the local development key (BLAUPAUSE_ENV=local without {PRIVACY_KEY_ENV}) because "
            f"{API_BASE_URL_ENV} points at Meta ({api_base_url_host}); set {PRIVACY_KEY_ENV} for real traffic, "
            f"or point {API_BASE_URL_ENV} at the Graph API stand-in for local use"
        )


def is_meta_api(base_url: str | None) -> bool:
    """True if ``base_url`` (None/empty: the channel's default) is a Meta host."""
    url = (base_url or "").strip() or META_API_BASE_URL
    host = (urlsplit(url if "://" in url else "//" + url).hostname or "").rstrip(".").lower()
    return any(host == domain or host.endswith("." + domain) for domain in _META_DOMAINS)


def _check_directory(directory: Path) -> None:
    info = os.stat(directory)
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise InsecureKeyFileError(
            str(directory), f"directory is writable by group or others (mode {stat.S_IMODE(info.st_mode):04o})"
        )


def _read_existing(path: Path) -> str:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError as exc:
        if path.is_symlink():
            raise InsecureKeyFileError(str(path), "is a symbolic link") from exc
        raise InsecureKeyFileError(str(path), f"cannot be opened ({exc.strerror})") from exc
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise InsecureKeyFileError(str(path), "is not a regular file")
        if info.st_uid != os.getuid():
            raise InsecureKeyFileError(str(path), "is owned by another user")
        if info.st_mode & _GROUP_OTHER:
            raise InsecureKeyFileError(
                str(path),
                f"permissions {stat.S_IMODE(info.st_mode):04o} allow group/other access; "
                f"run: chmod 600 {path}",
            )
        with os.fdopen(fd, "r", encoding="ascii", errors="replace", closefd=False) as handle:
            text = handle.read(4 * SECRET_BYTES + 2)
    finally:
        os.close(fd)
    return parse_secret(text.strip(), name=str(path)).value.hex()


def _create(path: Path) -> str | None:
    """Create the file atomically; None if another process created it first."""
    key = secrets.token_hex(SECRET_BYTES)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    except FileExistsError:
        return None
    try:
        os.fchmod(fd, 0o600)  # exact mode regardless of the umask
        os.write(fd, (key + "\n").encode("ascii"))
        os.fsync(fd)
    except OSError:
        os.close(fd)
        path.unlink(missing_ok=True)
        raise
    os.close(fd)
    return key


def _ensure(path: str | os.PathLike[str]) -> tuple[str, bool]:
    target = Path(path)
    directory = target.parent
    if not directory.exists():
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(directory, 0o700)  # mkdir's mode is filtered by the umask
    _check_directory(directory)
    if target.exists() or target.is_symlink():
        return _read_existing(target), False
    created = _create(target)
    if created is None:
        return _read_existing(target), False
    return created, True


def ensure_dev_key(path: str | os.PathLike[str]) -> str:
    """Return the 64-hex-character development secret stored at ``path``, creating it if needed.

    A new file gets a fresh secret from the OS CSPRNG, mode 0600, and a new parent
    directory mode 0700. An existing file is reused only if it is a regular file
    owned by the current user with no group/other permissions in a directory not
    writable by group/others (``InsecureKeyFileError`` otherwise) and holds a
    well-formed secret (``MalformedSecretError`` naming the path otherwise).
    """
    return _ensure(path)[0]


def is_local(environ: Mapping[str, str] | None = None) -> bool:
    """True only if ``BLAUPAUSE_ENV`` is ``local``; anything else means production."""
    env = os.environ if environ is None else environ
    return env.get(BLAUPAUSE_ENV, "").strip().lower() == "local"


def dev_key_path(environ: Mapping[str, str] | None = None) -> Path:
    """``PRIVACY_DEV_KEY_FILE`` (relative to the project root) or ``var/privacy.key``."""
    env = os.environ if environ is None else environ
    configured = env.get(PRIVACY_DEV_KEY_FILE_ENV, "").strip()
    if not configured:
        return DEFAULT_DEV_KEY_PATH
    candidate = Path(configured).expanduser()
    return candidate if candidate.is_absolute() else PROJECT_ROOT / candidate


def keyring_for_runtime(environ: Mapping[str, str] | None = None, *, api_base_url: str | None = None) -> Keyring:
    """The keyring for this process: ``PRIVACY_KEY`` in production, a dev key file locally.

    Production (``BLAUPAUSE_ENV`` not ``local``) raises ``MissingSecretError`` when
    ``PRIVACY_KEY`` is absent. Locally without ``PRIVACY_KEY`` it logs a WARNING with
    the file path (never the key) and uses :func:`ensure_dev_key`, unless the Graph API
    base URL is Meta's (or unset): then :class:`DevKeyRefusedError`. The channel passes
    ``api_base_url`` from its validated settings (environment *or* credentials.yml,
    connectors/whatsapp/settings.py); other callers (maintenance commands) fall back to
    ``WHATSAPP_API_BASE_URL``.
    """
    env = os.environ if environ is None else environ
    if not is_local(env) or env.get(PRIVACY_KEY_ENV, "") != "":
        return Keyring.from_env(env)
    base_url = api_base_url if api_base_url is not None else env.get(API_BASE_URL_ENV)
    if is_meta_api(base_url):
        raise DevKeyRefusedError(urlsplit((base_url or "").strip() or META_API_BASE_URL).hostname or "?")
    path = dev_key_path(env)
    current = parse_secret(ensure_dev_key(path), name=str(path))
    retired = parse_old_secrets(env.get(PRIVACY_OLD_KEYS_ENV, ""), strict=True)
    logger.warning(
        "%s is not set; using the local development key file %s (BLAUPAUSE_ENV=local, never use this in production)",
        PRIVACY_KEY_ENV,
        path,
    )
    return Keyring.with_env_names(current, retired)


def main(argv: Sequence[str] | None = None) -> int:
    """CLI entry point; prints the path and a note, never the key. Exit 2 on refusal."""
    parser = argparse.ArgumentParser(
        prog="python -m privacy.dev_key",
        description="Create (or check) the local development privacy key file. The key is never printed.",
    )
    parser.add_argument("path", nargs="?", default=None, help=f"key file (default: {DEFAULT_DEV_KEY_PATH})")
    args = parser.parse_args(argv)
    path = Path(args.path) if args.path else dev_key_path()
    try:
        _, created = _ensure(path)
    except (PrivacyConfigError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    action = "created" if created else "reusing existing"
    print(f"{action} development key file: {path}")
    print(
        "note: local development only (BLAUPAUSE_ENV=local); the key is not shown. "
        f"Production must set {PRIVACY_KEY_ENV} instead."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
