"""The chat core with real search, a real model and the real database: what a person would see."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from bot.app import build_core
from bot.replies import ChatContext
from data.importers.common import ensure_tracks
from data.models import Track
from data.settings import Settings

ALICE = ChatContext("telegram", "chat-1", "u-alice", "Alice")


def run(coro):
    return asyncio.run(coro)


def test_similar_resolves_typo_and_ranks_by_score(core) -> None:
    [reply] = run(core.handle_text(ALICE, "/similar hotel califrnia"))
    assert reply.kind == "recommendations"
    assert reply.title == "Similar to Hotel California — The Eagles"
    assert len(reply.tracks) == 5
    scores = [t.score for t in reply.tracks]
    assert scores == sorted(scores, reverse=True)
    assert all(t.reason and t.url.startswith("https://open.spotify.com/") for t in reply.tracks)
    assert all(t.title != "Hotel California" for t in reply.tracks)
    [[nxt]] = reply.buttons
    assert nxt.label.startswith("Next")


def test_paging_gives_the_next_ranks(core) -> None:
    [first] = run(core.handle_text(ALICE, "/similar hotel california"))
    [page2] = run(core.handle_action(ALICE, first.buttons[0][0].action))
    assert [t.rank for t in page2.tracks] == [6, 7, 8, 9, 10]
    assert not {t.track_id for t in page2.tracks} & {t.track_id for t in first.tracks}
    assert page2.tracks[0].score <= first.tracks[-1].score
    labels = [b.label for b in page2.buttons[0]]
    assert labels[0].endswith("Previous") and labels[1].startswith("Next")


def test_ambiguous_name_offers_choices_then_recommends_the_pick(core) -> None:
    [choices] = run(core.handle_text(ALICE, "/similar eagles"))
    assert choices.kind == "choices"
    labels = [row[0].label for row in choices.buttons]
    assert len(labels) == 5 and all("The Eagles" in label for label in labels)
    [result] = run(core.handle_action(ALICE, choices.buttons[2][0].action))
    assert result.kind == "recommendations"
    assert result.title == f"Similar to {labels[2]}"


def test_unknown_song_and_bad_input_get_clear_replies(core, bot_settings) -> None:
    engine = core.corpus.engine
    with engine.connect() as conn:
        before = conn.scalar(select(func.count()).select_from(Track))
    for text, expected in [
        ("/similar", "Which song?"),
        ("/similar " + "x" * 10_000, "too long"),
        ("/similar 🎵🎶", "I don't know “🎵🎶” yet. Try its title with the artist"),
        ("/similar qqqqzzzzxxxx", "I don't know “qqqqzzzzxxxx” yet."),
        ("/frobnicate", "I don't know /frobnicate"),
    ]:
        [reply] = run(core.handle_text(ALICE, text))
        assert expected in reply.text, (text, reply.text)
    [reply] = run(core.handle_text(ALICE, "/similar '; DROP TABLE tracks;--"))
    assert reply.text.startswith("I don't know “'; DROP TABLE tracks;--” yet.") and not reply.buttons
    for action in ("page:notanumber:1", f"pick:{2**63}", f"page:1:{10**30}", "pick:-1", "pick:١٢", "sess:end:x"):
        [reply] = run(core.handle_action(ALICE, action))
        assert "no longer valid" in reply.text, action
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(Track)) == before


def test_track_missing_from_the_model_is_explained(core) -> None:
    with core.corpus.engine.begin() as conn:
        tid = ensure_tracks(conn, "test", {"lonely": {"title": "Zyzzyva Lonely Nocturne"}})["lonely"]
    [reply] = run(core.handle_action(ALICE, f"pick:{tid}"))
    assert reply.kind == "error"
    assert "never appeared in a playlist" in reply.text


def test_rate_limit_is_per_user_polite_and_said_once_per_window(bot_settings) -> None:
    now = [1000.0]
    core = build_core(bot_settings, clock=lambda: now[0])
    spammer = ChatContext("telegram", "c9", "spammer", "S")
    flood = [run(core.handle_text(spammer, "/help")) for _ in range(200)]
    answered = [r for r in flood if r and "/similar" in r[0].text]
    warned = [r for r in flood if r and "Easy there" in r[0].text]
    assert len(answered) == bot_settings.user_rate_per_minute // 2  # the burst
    assert len(warned) == 1, "one warning per window, not one per message"
    assert sum(1 for r in flood if not r) == 200 - len(answered) - 1
    [other] = run(core.handle_text(ChatContext("telegram", "c8", "calm", "C"), "/help"))
    assert "/similar" in other.text
    now[0] += 60.0  # the window has passed: answered again
    [again] = run(core.handle_text(spammer, "/help"))
    assert "/similar" in again.text


def test_no_published_model_gives_a_clear_reply(tmp_path, bot_home) -> None:
    settings = Settings.from_env({"MUREC_HOME": str(tmp_path), "DATABASE_URL": f"sqlite:///{bot_home / 'murecom.db'}"})
    core = build_core(settings)
    [reply] = run(core.handle_text(ALICE, "/similar hotel california"))
    assert "still being trained" in reply.text


def test_about_reports_corpus_and_model(core) -> None:
    [reply] = run(core.handle_text(ALICE, "/about"))
    assert "18,139 playlists" in reply.text
    assert "itemknn" in reply.text


def test_suggest_for_autocomplete(core) -> None:
    pairs = core.suggest("hotel cal")
    assert pairs[0][0] == "Hotel California — The Eagles"
    [reply] = run(core.handle_text(ALICE, "/similar " + pairs[0][1]))
    assert reply.title == "Similar to Hotel California — The Eagles"


def test_an_unknown_song_lists_only_an_artist_it_surely_names(core) -> None:
    """ "blinding lights the weeknd": no Weeknd in the corpus, and Blondie (whose name is a little like "blinding") is
    not offered as if it were named; "… eagles" names The Eagles, whose songs are listed."""
    [weeknd] = run(core.handle_text(ALICE, "/similar blinding lights the weeknd"))
    assert weeknd.text.startswith("I don't know “blinding lights the weeknd” yet. Try its title") and not weeknd.buttons
    [eagles] = run(core.handle_text(ALICE, "/similar get over it eagles"))
    assert eagles.text.endswith("These are the songs by The Eagles I know:")
    assert eagles.buttons and all(row[0].label.endswith("— The Eagles") for row in eagles.buttons)
