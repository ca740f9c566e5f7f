"""`/similar <song>`: the song found by name (typos, "title - artist", a Spotify link), then pages of tracks that
go with it from the served collaborative-filtering model, each with its reason; an unclear name gets buttons."""

from __future__ import annotations

import asyncio

from bot.actions import MAX_PAGES, Action, PickTrack, ShowPage
from bot.handlers.base import MAX_TEXT_CHARS, PAGE_SIZE, Handler, track_line
from bot.middleware import Request
from bot.replies import Button, Reply
from data.corpus import TrackInfo
from data.search import CONFIDENT, Candidate, QueryError, Resolution
from recommenders.base import NotInModel

#: Candidates a name is searched for: enough to hold five songs of one artist after the other artists' are set aside.
SEARCH_DEPTH = 10


def pick_buttons(candidates: list[Candidate]) -> tuple[tuple[Button, ...], ...]:
    """One button per candidate song, a row each: pressing it answers for that song."""
    return tuple((Button.of(c.track.label[:60], PickTrack(c.track.id)),) for c in candidates)


def unknown_song(query: str, res: Resolution) -> Reply:
    """The answer to a song the catalogue does not hold: said plainly, with what the bot can do instead — the songs
    it knows by the artist named, when the query names one it knows."""
    named = f"I don't know “{query[:80]}” yet."
    best = res.best
    if best is not None and best.score >= CONFIDENT:  # the name matched an artist, not a title: their other songs
        others = [c for c in res.candidates if c.track.artist == best.track.artist][:5]
        return Reply(f"{named} These are the songs by {best.track.artist} I know:", kind="choices",
                     buttons=pick_buttons(others))  # fmt: skip
    return Reply(f"{named} Try its title with the artist (title - artist), a Spotify link, or another song.")


class SimilarHandler(Handler):
    actions = (PickTrack, ShowPage)

    async def on_text(self, req: Request, args: str) -> list[Reply]:
        query = args
        if not query:
            return [Reply("Which song? For example: /similar hotel california", kind="error")]
        if len(query) > MAX_TEXT_CHARS:
            return [Reply("That is too long to be a song name.", kind="error")]
        try:
            res = await asyncio.to_thread(req.snap.search.search, query, SEARCH_DEPTH)
        except QueryError as exc:
            return [Reply(str(exc), kind="error")]
        sure, offer = res.decide()
        if sure is not None:
            return await self.page(req, sure.track.id, 0, sure.track)
        if offer:
            return [Reply("Which one do you mean?", kind="choices", buttons=pick_buttons(offer))]
        return [unknown_song(query, res)]

    async def on_action(self, req: Request, action: Action) -> list[Reply]:
        if isinstance(action, ShowPage):
            return await self.page(req, action.track_id, action.page)
        assert isinstance(action, PickTrack)
        return await self.page(req, action.track_id, 0)

    async def page(self, req: Request, track_id: int, page: int, seed: TrackInfo | None = None) -> list[Reply]:
        """One page of `/similar` for `track_id` (`seed`: its info when the caller has it, e.g. from the search)."""
        corpus = self.services.corpus
        model = req.snap.cf
        if model is None:
            return [Reply("My recommender is still being trained; try again in a minute.", kind="error")]
        if seed is None:
            seed = (await asyncio.to_thread(corpus.track_info, [track_id])).get(track_id)
        if seed is None:
            return [Reply("I no longer know that track.", kind="error")]
        page = max(0, min(page, MAX_PAGES - 1))
        try:
            recs = await asyncio.to_thread(model.similar, track_id, PAGE_SIZE * MAX_PAGES)
        except NotInModel:
            return [
                Reply(
                    f"I know “{seed.label}” but it never appeared in a playlist I learned from, "
                    "so I cannot say what goes with it yet. Try another song.",
                    kind="error",
                )
            ]
        if not recs:
            return [Reply(f"I have no recommendations for “{seed.label}” yet.", kind="error")]
        n_pages = (len(recs) + PAGE_SIZE - 1) // PAGE_SIZE
        page = min(page, n_pages - 1)
        chunk = recs[page * PAGE_SIZE : (page + 1) * PAGE_SIZE]
        infos = await asyncio.to_thread(corpus.track_info, [r.track_id for r in chunk])
        lines = tuple(
            track_line(page * PAGE_SIZE + i + 1, r, infos[r.track_id])
            for i, r in enumerate(chunk)
            if r.track_id in infos
        )
        nav = []
        if page > 0:
            nav.append(Button.of("◀ Previous", ShowPage(track_id, page - 1)))
        if page + 1 < n_pages:
            nav.append(Button.of("Next ▶", ShowPage(track_id, page + 1)))
        return [
            Reply(
                "",
                kind="recommendations",
                title=f"Similar to {seed.label}",
                tracks=lines,
                buttons=(tuple(nav),) if nav else (),
                footer=f"page {page + 1}/{n_pages}",
            )
        ]
