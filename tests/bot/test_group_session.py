"""A group listening session end to end: three members, seeds, likes, skips, a bot restart in the middle."""

from __future__ import annotations

import asyncio

from bot.app import build_core
from bot.replies import ChatContext

CHAT = "group-42"
ANN = ChatContext("telegram", CHAT, "u1", "Ann")
BOB = ChatContext("telegram", CHAT, "u2", "Bob")
CAT = ChatContext("telegram", CHAT, "u3", "Cat")


def say(core, ctx, text):
    return asyncio.run(core.handle_text(ctx, text))


def served_name(reply) -> str:
    reason = reply.tracks[0].reason
    assert reason.startswith("for ")
    return reason[len("for ") :].split(":")[0].split(";")[0]


def test_group_session_is_fair_never_repeats_and_survives_restart(bot_settings) -> None:
    core = build_core(bot_settings)
    assert "Start one" in say(core, ANN, "/session next")[0].text
    assert "Session started by Ann" in say(core, ANN, "/session start")[0].text
    assert "already running" in say(core, BOB, "/session start")[0].text
    assert "Welcome, Bob" in say(core, BOB, "/session join")[0].text
    assert "already in" in say(core, BOB, "/session join")[0].text
    assert "Add a song first" in say(core, ANN, "/session next")[0].text
    # three different tastes: classic rock, hip hop, country
    assert "added Hotel California" in say(core, ANN, "/session add hotel california")[0].text
    assert "added Black And Yellow" in say(core, BOB, "/session add black and yellow")[0].text
    assert "added Need You Now" in say(core, CAT, "/session add need you now - lady antebellum")[0].text

    picks, served = [], []
    for i in range(4):
        [reply] = say(core, [ANN, BOB, CAT][i % 3], "/session next")
        picks.append(reply.tracks[0].track_id)
        served.append(served_name(reply))
    skip_replies = say(core, BOB, "/session skip")
    assert "Skipped" in skip_replies[0].text
    skipped = picks[-1]
    picks.append(skip_replies[1].tracks[0].track_id)
    served.append(served_name(skip_replies[1]))
    assert "likes" in say(core, CAT, "/session like")[0].text

    # restart: a brand-new core over the same database continues the same session
    core = build_core(bot_settings)
    who = say(core, ANN, "/session who")[0].text
    assert "Ann" in who and "Bob" in who and "Cat" in who
    for i in range(7):
        [reply] = say(core, [ANN, BOB, CAT][i % 3], "/session next")
        picks.append(reply.tracks[0].track_id)
        served.append(served_name(reply))

    assert len(picks) == len(set(picks)), "a track was played twice"
    assert skipped not in picks[picks.index(skipped) + 1 :]
    # fairness: in every window of 3 consecutive picks each member is served
    for start in range(len(served) - 2):
        assert set(served[start : start + 3]) == {"Ann", "Bob", "Cat"}, served
    assert "ended after 12 picks" in say(core, BOB, "/session end")[0].text
    assert "Start one" in say(core, BOB, "/session next")[0].text


def test_picks_follow_each_members_taste(bot_settings) -> None:
    core = build_core(bot_settings)
    rock = ChatContext("discord", "g2", "r", "Rocker")
    say(core, rock, "/session start")
    say(core, rock, "/session add stairway to heaven")
    [reply] = say(core, rock, "/session next")
    info = core.corpus.track_info([reply.tracks[0].track_id])
    rock_pick = info[reply.tracks[0].track_id]
    tags = core.corpus.track_tags().get(rock_pick.id, frozenset())
    assert "rock" in tags or "classic rock" in tags, (rock_pick.label, tags)
