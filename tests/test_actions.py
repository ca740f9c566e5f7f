"""Button actions: one typed codec for every button, its 64-byte budget and the checks on what clients send."""

from __future__ import annotations

import re

import pytest

from bot.actions import (
    ACTION_BYTES,
    ACTION_PATTERN,
    MAX_ID,
    MAX_PAGES,
    PickTrack,
    RadioSong,
    RadioStop,
    RadioTags,
    SessionStep,
    ShowPage,
    decode,
)
from bot.replies import Button

pytestmark = pytest.mark.fast

ACTIONS = [
    PickTrack(0),
    PickTrack(MAX_ID - 1),
    ShowPage(42, 0),
    ShowPage(42, MAX_PAGES - 1),
    SessionStep("join"),
    SessionStep("end"),
    RadioTags("80s rock"),
    RadioSong(7),
    RadioStop(),
]


@pytest.mark.parametrize("action", ACTIONS, ids=lambda a: a.encode())
def test_every_action_round_trips_and_matches_discords_template(action) -> None:
    wire = action.encode()
    assert decode(wire) == action
    assert len(wire.encode()) <= ACTION_BYTES
    assert re.fullmatch(ACTION_PATTERN, wire)


@pytest.mark.parametrize(
    "wire",
    [
        "",
        "pick",
        "pick:",
        "pick:-1",
        "pick:١٢",
        f"pick:{MAX_ID}",
        f"page:1:{MAX_PAGES}",
        "page:notanumber:1",
        f"page:1:{10**30}",
        "sess:end:x",
        "sess:dance",
        "radio:tag:",
        "radio:stop:now",
        "radio:song:abc",
        "unknown:1",
        "pick:1" + "0" * 70,
    ],
)
def test_what_no_button_carries_decodes_to_none(wire: str) -> None:
    assert decode(wire) is None


def test_the_budget_is_checked_where_actions_are_written() -> None:
    long_tag = RadioTags("t" * 60)
    assert not long_tag.fits()
    with pytest.raises(ValueError, match="64 bytes"):
        long_tag.encode()
    assert RadioTags("chill").fits()


def test_buttons_carry_only_actions() -> None:
    assert Button.of("Next", ShowPage(3, 1)).action == "page:3:1"
    with pytest.raises(ValueError):
        Button("Free text", "anything the code writes by hand")
