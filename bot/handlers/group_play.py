"""Picking for a group, shared by sessions and the radio: the next track that blends the members' tastes (or a tag
station's), recorded as played — the database refuses a repeat, so a race lost to another process re-picks."""

from __future__ import annotations

from bot.actions import SessionStep
from bot.handlers.base import Services
from bot.replies import Button, ChatContext, Reply, TrackLine
from bot.snapshot import Snapshot
from data.sessions import SessionState
from recommenders.group import GroupPick, member_seeds, pick_next, pick_station

#: How many times a pick is retried after losing a race for a track to another process. Within a process a chat's
#: commands are serialised; across processes each lost race means the other one committed a play (progress is always
#: made), and a chat has at most a handful of commands in flight, so a few retries always suffice.
PLAY_RETRIES = 8
STILL_TRAINING = "My recommender is still being trained; try again in a minute."


class GroupPlayer:
    """Plays the group's next pick (called from a worker thread holding the chat's lock)."""

    def __init__(self, services: Services) -> None:
        self.services = services

    def pick(self, snap: Snapshot, state: SessionState) -> GroupPick | None:
        """The group's next pick: a tag station's when radio plays tags, else the blend of the members' tastes."""
        model = snap.model_for_sessions()
        station = self.services.radio.tags(state.id)
        if station and snap.tags is not None:
            return pick_station(state, model, snap.tags, station)
        if model is None:
            return None
        seeds = [t for ts in member_seeds(state).values() for t in ts]
        names = {t: i.label for t, i in self.services.corpus.track_info(seeds).items()}
        return pick_next(state, model, names=names, tags=snap.tags)

    def play_next(
        self, snap: Snapshot, ctx: ChatContext, state: SessionState, title: str = "Now playing for the group"
    ) -> list[Reply]:
        """Pick, record the play, and announce it with the like/skip/next buttons."""
        sessions = self.services.sessions
        if snap.model_for_sessions() is None and not self.services.radio.tags(state.id):
            return [Reply(STILL_TRAINING, kind="error")]
        for _ in range(PLAY_RETRIES):
            pick = self.pick(snap, state)
            if pick is None:
                return [Reply("Add a song first: /session add <song>.", kind="error")]
            if sessions.play(state.id, ctx.user_id, pick.track_id, pick.served.user_id):
                break
            # another process played that track in the meantime: look again at the session as it is now
            fresh = sessions.active(ctx.platform, ctx.chat_id)
            if fresh is None:
                return [Reply("That session has ended.", kind="error")]
            state = fresh
        else:
            return [Reply("The group is picking very fast; try /session next again.", kind="error")]
        info = self.services.corpus.track_info([pick.track_id])[pick.track_id]
        line = TrackLine(1, pick.track_id, info.title, info.artist, pick.score, pick.reason, info.url)
        buttons = (
            Button.of("👍 Like", SessionStep("like")),
            Button.of("⏭ Skip", SessionStep("skip")),
            Button.of("Next", SessionStep("next")),
        )
        return [Reply("", kind="recommendations", title=title, tracks=(line,), buttons=(buttons,))]
