"""Builders for inbound webhook payloads shaped exactly like Meta's.

Why: the channel's webhook must be tested against every message type and status WhatsApp sends,
including batched deliveries (several entries, changes, messages and statuses in one POST),
without a phone. Each builder returns plain dicts in the shape of Meta's payload examples:
https://developers.facebook.com/docs/whatsapp/cloud-api/webhooks/payload-examples
(envelope: https://developers.facebook.com/docs/whatsapp/cloud-api/webhooks/components).

Usage: build message objects (``text``, ``button_reply``, ``location``, ...) or statuses
(``status``), then wrap them with ``payload(...)`` for a single change, or build ``change_value``
/ ``change`` / ``entry`` objects and wrap them with ``envelope`` for batches. Ids and timestamps
default to fresh fake values (``wamid.FAKE…``, now). Test numbers must be obviously fake, such as
4915550000001.

Who sends (the username era, facts in docs/whatsapp-delivery.md and
https://developers.facebook.com/documentation/business-messaging/whatsapp/business-scoped-user-ids):
every message builder's first argument is the sender, one of

- a phone number (``"4915550000001"``): the old payload, ``from`` + ``contacts[].wa_id`` only;
- a business-scoped user id (``"DE.1000000000000000001"``): a username user whose number Meta
  does not share, ``from_user_id`` + ``contacts[].user_id``, no ``from`` and no ``wa_id``;
- a :class:`WhatsAppUser`, for everything in between: phone and BSUID (``from`` +
  ``from_user_id``), a parent BSUID (``contacts[].parent_user_id``), a username
  (``contacts[].profile.username``). ``payload(..., users=[user])`` puts the user's parent BSUID
  and username into the contacts entry (a message object has no place for them).

System messages (``user_changed_number``, ``user_changed_user_id``) carry no ``contacts`` array.
Test BSUIDs must be obviously fake too: ``DE.1000000000000000001``, ``DE.ENT.2000000000000000001``.

The builders live in modules named after what they build (ids, users, messages,
system_messages, statuses, post_body); this package is their one import point: ``from harness import meta_payloads as mp``.
"""
from __future__ import annotations

from harness.meta_payloads import ids, messages, post_body, statuses, system_messages, users
from harness.meta_payloads.ids import *  # noqa: F403 - this package is the builders' one import point
from harness.meta_payloads.messages import *  # noqa: F403
from harness.meta_payloads.post_body import *  # noqa: F403
from harness.meta_payloads.statuses import *  # noqa: F403
from harness.meta_payloads.system_messages import *  # noqa: F403
from harness.meta_payloads.users import *  # noqa: F403

__all__ = [
    *ids.__all__,
    *users.__all__,
    *messages.__all__,
    *system_messages.__all__,
    *statuses.__all__,
    *post_body.__all__,
]
