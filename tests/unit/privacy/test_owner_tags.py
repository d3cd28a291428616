"""privacy.owner_tags: one tag per data key of a person, unlinkable without the key."""
from __future__ import annotations

import re

from privacy.context import keys_for_user
from privacy.keyring import Keyring, Secret
from privacy.owner_tags import owner_tag, owner_tags


def test_tags_cover_anchor_retired_and_alias_keys_once_each() -> None:
    keyring = Keyring(current=Secret.generate(), retired=(Secret.generate(),))
    keys = keys_for_user(keyring, "4915550000401", ["DE.1000000000000000401"])
    tags = owner_tags(keys)
    expected = [keys.key, *(r.key for r in keys.retired), *(a.key for a in keys.aliases)]
    assert tags == tuple(dict.fromkeys(owner_tag(key) for key in expected))
    assert all(re.fullmatch(r"[0-9a-f]{32}", tag) for tag in tags)
    assert owner_tag(keys.key) != owner_tag(keys.retired[0].key)
