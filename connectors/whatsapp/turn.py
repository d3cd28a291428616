"""One turn: an inbound message -> Rasa -> the bot messages -> the post-turn hook -> rendered replies.

The middle room of the corridor (:mod:`.core`). It runs inside the user's key context
(:func:`privacy.context.user_context`, entered by :mod:`.message_flow`), so the encrypted
tracker store can read and write the conversation; it knows nothing of claims, outboxes or
the Graph API, and returns Graph API message objects for :mod:`.delivery` to seal and send.

A "more" page of a long list is answered without Rasa (:class:`.inbound.DirectReply`), also
for a list sent before the pages were stored fitted (the turn lends paging the renderer's
layout for that old state, as the inbound side must not import the renderer). Rasa's
output channel collects instead of sending (:class:`.output.WhatsAppOutput`), so a failed send
can be resumed without running the dialogue again. After Rasa has saved the tracker the
post-turn hook performs the privacy requests (erasure, export) the dialogue asked for and puts
their replies where the markers were; without a hook the markers are dropped (they must never
be rendered). The same hook moves a conversation to a person's new identity (issue 9).

A failed delivery Meta reported since the person's last turn (:mod:`.delivery_statuses` sets
the slot ``last_reply_failed`` in the encrypted conversation) gets a short notice before this
turn's replies (labels.yml ``channel.last_reply_failed``, in the conversation's language), and
the slot is reset (``SlotSet(last_reply_failed, None)``). Only when the slot is set does this
cost a read and a write of the tracker; the check itself reads the tracker Rasa just saved.

A voice note is transcribed before Rasa runs (:mod:`.voice`, when ``STT_BASE_URL`` is set; the
transcriber's language hint is the conversation's ``language`` slot); without transcription it
gets the dialogue's polite answer (``/voice_unavailable``).

A :class:`Turn` is built once per Rasa agent (:mod:`.agent_turns`), not per request.
"""
from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from functools import partial
from typing import Any, Protocol

from rasa.core.channels.channel import OutputChannel, UserMessage
from rasa.shared.core.events import SlotSet

import wording
from connectors.whatsapp.conversation_writes import append_events
from connectors.whatsapp.inbound import CHANNEL_NAME, DirectReply, to_rasa_input
from connectors.whatsapp.outbox import ADDRESS_FIELDS
from connectors.whatsapp.paging import resolve_reply_id
from connectors.whatsapp.payload_ids.maps import PayloadIdMap, owned_by
from connectors.whatsapp.references import References
from connectors.whatsapp.render import legacy_pages, render_response
from connectors.whatsapp.updates.messages import AudioMessage, InboundMessage
from connectors.whatsapp.voice import VoiceNotes
from observability.metrics import voice_notes
from privacy.context import UserKeys
from privacy.owner_tags import owner_tag
from privacy.requests.hook import PrivacyRequests
from privacy.store.saving import tracker_saved_in_this_request

__all__ = ["Turn", "PostTurnHook", "OnNewMessage", "LanguageLookup", "FAILED_DELIVERY_SLOT"]

#: The slot (domain.yml) that records a failed delivery: a category, never Meta's error text.
FAILED_DELIVERY_SLOT = "last_reply_failed"

logger = logging.getLogger(__name__)

#: Rasa's handler for one message (``register`` hands it to the channel; a fake in tests).
OnNewMessage = Callable[[UserMessage], Awaitable[Any]]
#: The user's language for the renderer's built-in labels, by pseudonym (``None``: unknown).
LanguageLookup = Callable[[str], Awaitable[str | None]]

# A tap on "more" of a list sent before the pages were stored fitted (paging state version 1)
# still pages: the turn knows the renderer, the inbound side must not, so it gets the layout.
_RESOLVE_REPLY_ID = partial(resolve_reply_id, legacy_layout=legacy_pages)


class PostTurnHook(Protocol):
    """What the turn calls after Rasa (implemented by the privacy requests, ``PrivacyRequests``)."""

    async def after_turn(
        self, bot_messages: list[dict[str, Any]], user_keys: UserKeys, ref: str
    ) -> list[dict[str, Any]]: ...

    async def move_conversation(self, source: UserKeys, target: UserKeys, ref: str) -> bool: ...


class Turn:
    """Produces the rendered replies to one message with one dialogue.

    Args:
        on_new_message: runs the dialogue (Rasa's handler).
        id_map: the payload id map shared with the renderer (long payloads, "more" pages).
        references: keyed references of message ids (the Rasa message id).
        output_factory: makes the output channel handed to Rasa; it must collect the bot
            messages in a ``messages`` list (:class:`.output.WhatsAppOutput`).
        language_lookup: the user's ``language`` slot, for built-in labels.
        privacy: the post-turn hook; without it privacy request markers are dropped.
        tracker_store: Rasa's tracker store (the agent's), where failed deliveries are
            recorded and the notice's slot is reset; None without an agent.
        lock_store: the agent's lock store, held around those writes (:mod:`.conversation_writes`).
        voice: transcribes voice notes (:mod:`.voice`); None: voice notes get the polite answer.
    """

    def __init__(
        self,
        on_new_message: OnNewMessage,
        *,
        id_map: PayloadIdMap,
        references: References,
        output_factory: Callable[[], OutputChannel],
        language_lookup: LanguageLookup | None = None,
        privacy: PostTurnHook | None = None,
        tracker_store: Any | None = None,
        lock_store: Any | None = None,
        voice: VoiceNotes | None = None,
    ) -> None:
        self.on_new_message = on_new_message
        self.voice = voice
        self.tracker_store = tracker_store
        self.lock_store = lock_store
        self.id_map = id_map
        self.references = references
        self.output_factory = output_factory
        self.language_lookup = language_lookup
        self.privacy = privacy
        # Without a hook (no agent: tests, embedders) privacy markers are dropped, never sent.
        self._markers_dropped = PrivacyRequests.for_agent(None) if privacy is None else None

    async def produce(self, message: InboundMessage, user_keys: UserKeys, ref: str) -> list[dict[str, Any]]:
        """Run the dialogue once (or resolve a "more" page) and render its replies.

        Payload ids (long button payloads, "more" pages) are remembered under the user's owner
        tag, so they are the person's own and an erasure removes them (issue 16 item 6).
        """
        id_map = owned_by(self.id_map, owner_tag(user_keys.key))
        if isinstance(message, AudioMessage) and self.voice is not None:
            language = await self._conversation_language(user_keys.pseudonym, ref)
            rasa_input = await self.voice.to_turn(message, language=language, ref=ref)
        else:
            if isinstance(message, AudioMessage):
                voice_notes.labels("disabled").inc()
            rasa_input = await to_rasa_input(message, id_map, resolver=_RESOLVE_REPLY_ID)
        if isinstance(rasa_input, DirectReply):
            logger.info("message %s: next page of a list, sent without the dialogue", ref)
            return [dict(page) for page in rasa_input.messages]
        output = self.output_factory()
        await self.on_new_message(
            UserMessage(
                text=rasa_input.text,
                output_channel=output,
                sender_id=user_keys.pseudonym,
                input_channel=CHANNEL_NAME,
                message_id=self.references.rasa_message_id(message.message_id),
                metadata=rasa_input.metadata,
            )
        )
        bot_messages: list[dict[str, Any]] = list(getattr(output, "messages", []))
        # After the turn (Rasa has saved the tracker): erase/export, markers become replies.
        hook = self.privacy if self.privacy is not None else self._markers_dropped
        bot_messages = await hook.after_turn(bot_messages, user_keys, ref)
        bot_messages = await self._failed_delivery_notice(bot_messages, user_keys, ref)
        language = await self._language(bot_messages, user_keys.pseudonym, ref)
        rendered: list[dict[str, Any]] = []
        for bot_message in bot_messages:
            rendered.extend(await render_response(bot_message, id_map=id_map, language=language))
        for reply in rendered:  # a native custom message may name an address: never sealed, never used
            for name in ADDRESS_FIELDS:
                reply.pop(name, None)
        logger.info("message %s: dialogue produced %d reply message(s)", ref, len(rendered))
        return rendered

    async def _failed_delivery_notice(
        self, bot_messages: list[dict[str, Any]], user_keys: UserKeys, ref: str
    ) -> list[dict[str, Any]]:
        """The replies, led by the notice when a failed delivery was recorded; the slot reset."""
        saved = tracker_saved_in_this_request(user_keys.pseudonym)
        if saved is None or self.tracker_store is None or FAILED_DELIVERY_SLOT not in saved.slots:
            return bot_messages  # (a model trained before the slot existed: no slot, no notice)
        if not saved.get_slot(FAILED_DELIVERY_SLOT):
            return bot_messages
        labels = wording.current()
        language = labels.normalize(saved.get_slot("language"))
        notice = labels.text("channel.last_reply_failed", language)
        try:
            await append_events(self.tracker_store, self.lock_store, user_keys.pseudonym, [SlotSet(FAILED_DELIVERY_SLOT, None)])
        except Exception as error:  # the notice may then come once more; never fail the turn for it
            logger.warning("message %s: failed-delivery slot not reset (%s)", ref, type(error).__name__)
        logger.info("message %s: the last reply had failed; the user is told", ref)
        first = bot_messages[0] if bot_messages else {}
        if isinstance(first.get("text"), str) and first["text"].strip() and not first.get("custom"):
            return [{**first, "text": f"{notice}\n\n{first['text']}"}, *bot_messages[1:]]
        return [{"text": notice, "language": language}, *bot_messages]

    @property
    def can_move(self) -> bool:
        """Whether a conversation can be moved (only with the hook: it knows the tracker store)."""
        return self.privacy is not None

    async def move_conversation(self, source: UserKeys, target: UserKeys, ref: str) -> bool:
        """Move ``source``'s conversation to ``target`` (a changed number or BSUID); see :attr:`can_move`."""
        if self.privacy is None:
            return False
        return await self.privacy.move_conversation(source, target, ref)

    async def _conversation_language(self, pseudonym: str, ref: str) -> str | None:
        """The ``language`` slot before the dialogue runs (the transcriber's hint), or None."""
        if self.language_lookup is None:
            return None
        try:
            return await self.language_lookup(pseudonym)
        except Exception as error:  # a hint is never worth failing the turn; the transcriber detects
            logger.warning("message %s: language lookup failed (%s); transcribing without a hint", ref, type(error).__name__)
            return None

    async def _language(self, bot_messages: Sequence[Mapping[str, Any]], pseudonym: str, ref: str) -> str:
        """The language for the renderer's built-in labels ("Bitte wählen:", "Optionen").

        A ``language`` key in the response's metadata wins; otherwise, only when a reply
        has choices (the only place labels appear), the tracker's ``language`` slot; else the
        default language of labels.yml.
        """
        for bot_message in bot_messages:
            language = bot_message.get("language")
            if isinstance(language, str) and language:
                return language
        default = wording.current().default_language
        needs_labels = any(m.get("buttons") or m.get("quick_replies") or m.get("elements") for m in bot_messages)
        if not needs_labels or self.language_lookup is None:
            return default
        try:
            return await self.language_lookup(pseudonym) or default
        except Exception as error:  # a label language is never worth failing the turn
            logger.warning("message %s: language lookup failed (%s); using the default language's labels", ref, type(error).__name__)
            return default
