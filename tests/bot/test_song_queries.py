"""Any song a user names gets an answer: real names of songs the corpus holds and of real songs it lacks, through
`/similar` in the chat core with the look-up answering from the fakes (tests/bot/song_queries.py). No dead ends."""

from __future__ import annotations

import pytest

from tests.bot.song_queries import OUTCOMES, ask_all, open_world, table

pytestmark = pytest.mark.heavy  # an item-kNN fit on 6,000 real playlists; a MusicBrainz request a second


def test_every_name_is_answered_and_absent_songs_are_looked_up(tmp_path, shared_data) -> None:
    world = open_world(shared_data, tmp_path, per_kind=12)
    try:
        asked = ask_all(world)
    finally:
        world.close()
    dead = [(a.query.kind, a.query.text, a.text) for a in asked if a.outcome == "dead end"]
    assert dead == [], table(asked)
    absent = [a for a in asked if a.query.kind == "absent"]
    right = [a for a in absent if a.outcome == OUTCOMES[0]]
    assert len(right) >= 0.8 * len(absent), table(asked)  # looked up and answered as the song named
    assert all("is new to me" in a.text for a in right)
    named = [a for a in asked if a.query.kind == "name"]
    assert all(a.outcome == OUTCOMES[0] for a in named), table(asked)
