"""The encrypted tracker store with senders of Rasa's own tools (rasa shell, rasa interactive).

Locally the store seals their conversations with a development key (privacy/dev_context.py);
in production, against Meta, for WhatsApp pseudonyms and inside another user's context it
fails closed exactly as before (NoKeyInContextError).
"""
from __future__ import annotations

import glob
import logging
import secrets
from pathlib import Path

import pytest
from rasa.core.tracker_store import FailSafeTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, SessionStarted, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from privacy.context import keys_for_user, user_context
from privacy.errors import NoKeyInContextError
from privacy.keyring import Keyring, Secret
from privacy.store.encrypted import EncryptedTrackerStore

DOMAIN = Domain.from_dict({"version": "3.1"})
STANDIN = "http://127.0.0.1:8765"
TEXT = "Ich suche einen Job als Koch in Berlin"
PHONE = "4915550000001"  # obviously fake


def local_env(key: str) -> dict[str, str]:
    return {"BLAUPAUSE_ENV": "local", "WHATSAPP_API_BASE_URL": STANDIN, "PRIVACY_KEY": key}


def open_store(tmp_path: Path, environ: dict[str, str]) -> EncryptedTrackerStore:
    return EncryptedTrackerStore(DOMAIN, host=f"sqlite:///{tmp_path}/trackers.db", environ=environ)


def tracker(sender_id: str) -> DialogueStateTracker:
    result = DialogueStateTracker(sender_id, DOMAIN.slots)
    for event in (ActionExecuted("action_session_start"), SessionStarted(), ActionExecuted("action_listen"),
                  UserUttered(TEXT), BotUttered("Hier sind 4 Stellen")):
        result.update(event)
    return result


def stored_bytes(tmp_path: Path) -> bytes:
    return b"".join(Path(name).read_bytes() for name in sorted(glob.glob(f"{tmp_path}/trackers.db*")))


async def test_local_store_seals_and_reopens_a_shell_conversation(tmp_path: Path) -> None:
    key = secrets.token_hex(32)
    store = open_store(tmp_path, local_env(key))
    await store.save(tracker("default"))
    await store.close()
    assert TEXT.encode() not in stored_bytes(tmp_path) and b"Koch" not in stored_bytes(tmp_path)

    reopened = open_store(tmp_path, local_env(key))  # the next `rasa shell --conversation-id default`
    loaded = await reopened.retrieve("default")
    assert loaded is not None and loaded.latest_message.text == TEXT
    await reopened.close()

    other_key = open_store(tmp_path, local_env(secrets.token_hex(32)))  # another secret opens nothing
    assert await other_key.retrieve("default") is None
    await other_key.close()


@pytest.mark.parametrize("environ", [{}, {"BLAUPAUSE_ENV": "production", "WHATSAPP_API_BASE_URL": STANDIN}])
async def test_production_fails_closed_for_a_sender_without_context(tmp_path: Path, environ: dict[str, str]) -> None:
    store = open_store(tmp_path, {**environ, "PRIVACY_KEY": secrets.token_hex(32)})
    assert store.development_keys is None
    with pytest.raises(NoKeyInContextError, match="no user context is active"):
        await store.retrieve("default")
    with pytest.raises(NoKeyInContextError):
        await store.save(tracker("default"))
    await store.close()


@pytest.mark.parametrize("base_url", [None, "https://graph.facebook.com"])
async def test_local_use_against_meta_refuses_the_development_context(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, base_url: str | None
) -> None:
    environ = local_env(secrets.token_hex(32))
    if base_url is None:
        del environ["WHATSAPP_API_BASE_URL"]
    else:
        environ["WHATSAPP_API_BASE_URL"] = base_url
    with caplog.at_level(logging.WARNING, logger="privacy.store.encrypted"):
        store = open_store(tmp_path, environ)
    assert store.development_keys is None
    assert "refusing development keys" in caplog.text
    with pytest.raises(NoKeyInContextError, match="no user context is active"):
        await store.retrieve("default")
    await store.close()


async def test_a_whatsapp_pseudonym_never_gets_a_development_key(tmp_path: Path) -> None:
    key = secrets.token_hex(32)
    store = open_store(tmp_path, local_env(key))
    user = keys_for_user(Keyring(current=Secret.from_hex(key)), PHONE)
    with pytest.raises(NoKeyInContextError):
        await store.retrieve(user.pseudonym)
    with pytest.raises(NoKeyInContextError):
        await store.save(tracker(user.pseudonym))
    with user_context(user):  # the channel's way still works, with the real keys
        await store.save(tracker(user.pseudonym))
        assert (await store.retrieve(user.pseudonym)) is not None
    await store.close()


async def test_inside_another_users_context_nothing_gets_a_development_key(tmp_path: Path) -> None:
    key = secrets.token_hex(32)
    store = open_store(tmp_path, local_env(key))
    user = keys_for_user(Keyring(current=Secret.from_hex(key)), PHONE)
    with user_context(user):
        with pytest.raises(NoKeyInContextError, match="belongs to another pseudonym"):
            await store.retrieve("default")
    await store.close()


async def test_rasas_fail_safe_wrapper_logs_no_error_and_keeps_the_store(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # The symptom of issue 15 item 6: three ERROR lines per turn and a fallback to memory.
    inner = open_store(tmp_path, local_env(secrets.token_hex(32)))
    store = FailSafeTrackerStore(inner)
    with caplog.at_level(logging.INFO):
        assert await store.retrieve("default") is None
        await store.save(tracker("default"))
        assert (await store.retrieve("default")) is not None
    assert not [record for record in caplog.records if record.levelno >= logging.ERROR]
    assert "InMemoryTrackerStore" not in caplog.text
    await inner.close()
