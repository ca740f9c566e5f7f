"""The group chats opted in to every clip being analysed: kept in the database, so the choice outlives a restart."""

from __future__ import annotations

import pytest

from data.kv import read_state
from data.listening import ListeningChats, key_of

pytestmark = pytest.mark.fast


def test_a_choice_outlives_the_process_and_records_who_made_it(empty_engine) -> None:
    chats = ListeningChats(empty_engine, wall_clock=lambda: 1234.5)
    assert not chats.is_on("telegram", "-100")
    chats.switch("telegram", "-100", True, by="u-admin")
    assert chats.is_on("telegram", "-100") and not chats.is_on("discord", "-100")  # per platform
    assert read_state(empty_engine, key_of("telegram", "-100")) == {"on": True, "by": "u-admin", "at": 1234.5}

    restarted = ListeningChats(empty_engine)
    assert restarted.is_on("telegram", "-100")
    restarted.switch("telegram", "-100", False, by="u-admin")
    assert not ListeningChats(empty_engine).is_on("telegram", "-100")


def test_chat_ids_are_keys_not_patterns(empty_engine) -> None:
    """A chat id with LIKE wildcards in it matches only itself."""
    chats = ListeningChats(empty_engine)
    chats.switch("discord", "1%_", True, by="u")
    assert ListeningChats(empty_engine).is_on("discord", "1%_")
    assert not ListeningChats(empty_engine).is_on("discord", "1")
