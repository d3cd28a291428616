"""Meta's webhook envelope with any field missing, duplicated or of a random type.

Shaped like Meta's webhook payloads (harness/meta_payloads/); the fate of each message
decides how few of them reach the dialogue (see :class:`Envelopes`).
"""
from __future__ import annotations

import time
from typing import Any, Callable, List, Sequence, Tuple

from connectors.whatsapp.updates.messages import BUSINESS_ACCOUNT_OBJECT
from harness import meta_payloads as mp
from harness.local_stack import PHONE_NUMBER_ID
from tests.support.fuzz.inputs import MESSAGE_TYPES, POOL, PROFILE_NAMES, REPLY_PAYLOADS, TEXTS, fresh, new_wamid, stale_by
from tests.support.fuzz.json_text import MISSING, Pairs, Raw
from tests.support.fuzz.strategies import LEAVES, WEIRD_DIGITS, rnd_text, seeded


class Envelopes:
    """Meta's envelope where any field may be missing, duplicated or of a random type.

    For speed, Hypothesis draws a bag of leaf values per example (texts, odd scalars, junk
    structures, a lone surrogate, extreme numbers) and the seed of a ``random.Random`` that
    builds the structure: a few hundred Hypothesis draws per body cost more than the request.

    Each message gets a fate first so that few of them run the dialogue (~0.3 s each): most are
    stale by their timestamp, some lack a usable sender or id, some are "live" (valid sender,
    new id, fresh timestamp) or wild (every field independent); about 2 % run the dialogue.
    """

    def __init__(self, draw: Callable[[Any], Any], reply_ids: Sequence[str], reused: List[str]) -> None:
        self.bag = draw(LEAVES)
        self.rnd = seeded(draw)
        self.reply_ids, self.reused = list(reply_ids) or ["/help"], reused

    def pick(self, *options: Tuple[int, Any]) -> Any:
        option = self.rnd.choices([o for _, o in options], weights=[w for w, _ in options])[0]
        return option() if callable(option) else option

    def chance(self, percent: float) -> bool:
        return self.rnd.random() * 100 < percent

    def leaf(self, name: str) -> Any:
        return self.rnd.choice(self.bag[name])

    def text(self) -> str:
        return self.leaf("texts") if self.rnd.random() < 0.6 else rnd_text(self.rnd)

    def junk(self) -> Any:
        return self.leaf(self.rnd.choice(("junk", "junk", "scalars", "non_strings")))

    def non_string(self) -> Any:
        return self.leaf("non_strings")

    def obj(self, *fields: Tuple[str, Any]) -> Pairs:
        """An object of ``fields`` (values or callables; MISSING leaves the key out), sometimes
        with a duplicate key (junk first and the value last, or the other way round), extra
        keys, or its keys in another order."""
        items: List[Tuple[str, Any]] = []
        for name, option in fields:
            value = option() if callable(option) else option
            if value is MISSING:
                continue
            if self.chance(3):
                items.append((name, self.junk()))
            items.append((name, value))
            if self.chance(1):
                items.append((name, self.junk()))
        if self.chance(8):
            items.extend((self.text()[:10], self.junk()) for _ in range(self.rnd.randint(1, 3)))
        if self.chance(8):
            self.rnd.shuffle(items)
        return Pairs(tuple(items))

    def many(self, make: Callable[[], Any], low: int, high: int) -> List[Any]:
        return [make() for _ in range(self.rnd.randint(low, high))]

    # -- message fields
    def pool(self) -> str:
        return self.rnd.choice(POOL)

    def sender(self) -> Any:
        return self.pick((30, self.pool), (10, self.formatted), (20, self.bad_phone), (20, self.text), (15, self.non_string), (5, MISSING))

    def formatted(self) -> str:
        number = self.pool()
        style = self.rnd.choice(["+{cc}{a}{b}", "00{cc}{a}{b}", "+{cc} {a} {b}", "+{cc} ({a}) {b}"])
        return style.format(cc=number[:2], a=number[2:5], b=number[5:])

    def bad_phone(self) -> str:
        return self.rnd.choice(["0155500091", "+", "49", "4" * 20, "0049", "00000000", "++4915550009101", " "])

    def surrogate(self) -> str:
        return self.leaf("surrogates")

    def message_id(self) -> Any:
        value = self.pick((80, new_wamid), (6, self.text), (4, "REUSE"), (4, self.non_string), (1, self.surrogate), (4, MISSING))
        if value == "REUSE":
            return self.rnd.choice(self.reused) if self.reused else new_wamid()
        if isinstance(value, str) and value.startswith("wamid.FUZZ"):
            self.reused.append(value)
            del self.reused[:-50]
        return value

    def stale(self) -> str:
        return str(stale_by(self.rnd.randint(0, 10**8)))

    def timestamp(self, fate: str) -> Any:
        if fate == "stale":
            return self.pick((80, self.stale), (10, lambda: int(self.stale())), (5, "0"), (5, "١٠٠"))
        if fate == "live":
            return self.pick((80, fresh), (5, lambda: str(int(time.time()) + self.rnd.randint(1, 10**9))), (5, MISSING),
                             (5, lambda: self.rnd.choice([None, 1.5e9, float("nan"), self.text()])), (5, lambda: int(time.time())))
        return self.pick((40, self.stale), (10, fresh), (15, self.non_string), (5, MISSING),
                         (8, lambda: self.rnd.choice(WEIRD_DIGITS)), (2, lambda: "1" * self.rnd.randint(309, 5000)))

    def text_body(self) -> Any:
        return self.pick((40, lambda: self.rnd.choice(TEXTS)), (35, self.text), (4, lambda: self.text() * self.rnd.randint(100, 400)),
                         (3, self.surrogate), (6, lambda: self.rnd.choice(["", " ", "\n\t"])), (7, self.junk), (5, MISSING))

    def reply_id(self) -> Any:
        token = lambda: "~" + "".join(self.rnd.choices("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", k=self.rnd.randint(0, 16)))  # noqa: E731
        return self.pick((25, lambda: self.rnd.choice(self.reply_ids)), (20, lambda: self.rnd.choice(REPLY_PAYLOADS)), (10, token),
                         (5, lambda: "~more:" + self.text()), (25, self.text), (2, self.surrogate), (13, self.junk))

    def coordinate(self) -> Any:
        return self.pick((45, lambda: self.rnd.uniform(-90, 90)), (10, lambda: self.leaf("floats")),
                         (10, lambda: self.rnd.choice(["52.5", "nan", "1e999", "-13.4", "", "0x1p3"])), (10, lambda: self.leaf("numbers")),
                         (2, lambda: Raw("1" * self.rnd.randint(310, 400))), (13, self.junk), (10, MISSING))

    def title(self) -> Any:
        return self.pick((80, self.text), (2, self.surrogate), (10, self.junk), (8, MISSING))

    def content(self, kind: Any) -> Any:
        if kind == "text":
            return self.obj(("body", self.text_body), ("preview_url", lambda: self.rnd.choice([True, False])))
        if kind == "interactive":
            reply = lambda: self.obj(("id", self.reply_id), ("title", self.title), ("description", self.title))  # noqa: E731
            kind_of_reply = self.pick((45, "button_reply"), (45, "list_reply"), (10, self.text))
            return self.obj(("type", kind_of_reply), (kind_of_reply, reply))
        if kind == "button":
            return self.obj(("payload", lambda: self.pick((1, self.reply_id), (1, self.title))), ("text", self.title))
        if kind == "location":
            return self.obj(("latitude", self.coordinate), ("longitude", self.coordinate), ("name", self.title), ("address", self.title))
        return self.obj(("id", self.text), ("mime_type", self.text), ("caption", self.title), ("emoji", self.title))

    def message(self) -> Any:
        fate = self.pick((170, "stale"), (1, "live"), (16, "nosender"), (8, "noid"), (3, "wild"))
        kind = self.pick((35, "text"), (14, "interactive"), (6, "button"), (8, "location"), (25, lambda: self.rnd.choice(MESSAGE_TYPES)),
                         (8, self.text), (4, self.non_string))
        if fate == "live":
            sender, identifier = self.pick((8, self.pool), (2, self.formatted)), new_wamid()
        elif fate == "nosender":
            sender, identifier = self.pick((4, self.bad_phone), (3, self.non_string), (3, MISSING), (1, "")), self.message_id()
        elif fate == "noid":
            sender, identifier = self.sender(), self.pick((3, MISSING), (2, ""), (3, self.non_string))
        else:
            sender, identifier = self.sender(), self.message_id()
        fields: List[Tuple[str, Any]] = [
            ("from", sender),
            ("id", identifier),
            ("timestamp", self.timestamp(fate)),
            ("type", kind),
            (kind if isinstance(kind, str) else "text", lambda: self.pick((85, lambda: self.content(kind)), (10, self.junk), (5, MISSING))),
        ]
        if self.chance(5):
            fields.append(("from_user_id", lambda: self.pick((1, self.text), (1, self.non_string))))
        if self.chance(5):
            fields.append(("context", self.junk))
        return self.obj(*fields)

    def status_error(self) -> Pairs:
        return self.obj(("code", lambda: self.pick((1, lambda: self.rnd.randint(-10, 200000)), (1, self.junk))), ("title", self.text))

    def status(self) -> Any:
        return self.obj(
            ("id", lambda: self.pick((70, new_wamid), (10, self.text), (1, self.surrogate), (12, self.non_string), (5, MISSING))),
            ("status", lambda: self.pick((80, lambda: self.rnd.choice(["sent", "delivered", "read", "failed"])), (10, self.text),
                                         (10, self.junk))),
            ("timestamp", lambda: self.pick((80, fresh), (10, self.non_string), (10, lambda: self.rnd.choice(WEIRD_DIGITS)))),
            ("recipient_id", lambda: self.pick((1, self.pool), (1, self.junk))),
            ("errors", lambda: self.pick((70, MISSING), (20, lambda: self.many(self.status_error, 0, 2)), (10, self.junk))),
        )

    def contact(self) -> Pairs:
        name = lambda: self.pick((1, lambda: self.rnd.choice(PROFILE_NAMES)), (1, self.text), (1, self.junk))  # noqa: E731
        return self.obj(("profile", lambda: self.obj(("name", name))), ("wa_id", lambda: self.pick((1, self.pool), (1, self.junk))))

    def metadata(self) -> Pairs:
        return self.obj(("display_phone_number", mp.DEFAULT_DISPLAY_PHONE_NUMBER),
                        ("phone_number_id", lambda: self.pick((3, PHONE_NUMBER_ID), (1, self.junk))))

    def value(self) -> Any:
        messages = lambda: self.many(lambda: self.pick((95, self.message), (5, self.junk)), 1, 3)  # noqa: E731
        return self.obj(
            ("messaging_product", lambda: self.pick((9, "whatsapp"), (1, self.junk))),
            ("metadata", lambda: self.pick((85, self.metadata), (10, self.junk), (5, MISSING))),
            ("contacts", lambda: self.pick((80, lambda: self.many(self.contact, 0, 2)), (10, self.junk), (10, MISSING))),
            ("messages", lambda: self.pick((80, messages), (10, self.junk), (10, MISSING))),
            ("statuses", lambda: self.pick((75, MISSING), (20, lambda: self.many(self.status, 1, 2)), (5, self.junk))),
            ("errors", lambda: self.pick((95, MISSING), (5, self.junk))),
        )

    def change(self) -> Pairs:
        return self.obj(("field", lambda: self.pick((90, "messages"), (4, MISSING), (6, self.text))),
                        ("value", lambda: self.pick((90, self.value), (5, self.junk), (5, MISSING))))

    def entry(self) -> Pairs:
        return self.obj(("id", lambda: self.pick((9, mp.DEFAULT_WABA_ID), (1, self.text))),
                        ("changes", lambda: self.pick((90, lambda: self.many(self.change, 1, 2)), (5, self.junk), (5, MISSING))))

    def envelope(self) -> Pairs:
        return self.obj(
            ("object", lambda: self.pick((93, BUSINESS_ACCOUNT_OBJECT), (3, self.text), (3, self.junk),
                                         (1, BUSINESS_ACCOUNT_OBJECT.upper()))),
            ("entry", lambda: self.pick((90, lambda: self.many(self.entry, 1, 2)), (5, self.junk), (5, MISSING))),
        )
