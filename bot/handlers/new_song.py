"""The answer to a song the catalogue lacks: never a dead end.

`/similar` (and whoever else resolves a name) comes here when the name search has no confident candidate. With the
open-data look-up configured (`jobs.song_lookup`), the song is found on MusicBrainz, stored, and answered at once from
what is known around it, each pick saying where it comes from: recordings ListenBrainz listens with it, its own
artists' tracks, artists ListenBrainz listens with its artists, their related artists, and only then what is popular.
The song is queued for the `listenbrainz` job, so after the next retrain the CF model answers for it like any other.
Without the look-up, or when MusicBrainz has nothing confidently it, the bot says it does not know the song and what
it can do instead.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable, Iterator

from bot.actions import PickTrack
from bot.handlers.base import Services, track_line
from bot.middleware import Request
from bot.replies import Button, Reply
from data.search import Candidate, Resolution
from jobs.song_lookup import FoundSong, LookupBusy, LookupFailed
from jobs.spotify import NotASpotifyTrack
from recommenders.base import Recommendation
from recommenders.cf.fallback import WithFallback

#: Picks in the answer for a song just looked up (one page: its neighbours are not in the model yet).
NEW_SONG_PICKS = 10
NEW = "new to me"


def pick_buttons(candidates: list[Candidate]) -> tuple[tuple[Button, ...], ...]:
    """One button per candidate song, a row each: pressing it answers for that song."""
    return tuple((Button.of(c.track.label[:60], PickTrack(c.track.id)),) for c in candidates)


#: How surely the words of an unknown name must be an artist's name for the answer to list that artist's songs:
#: stricter than the search's `ARTIST_AGREES`, since nothing confirms the artist here ("blinding lights the weeknd"
#: agrees 0.71 with Blondie; "get over it eagles" 0.89 with The Eagles).
ARTIST_NAMED = 0.8
NO_LINKS = " I can look up Spotify links only when I am set up to (Spotify and MusicBrainz); send its title instead."
_SPOTIFY_LINK = re.compile(r"open\.spotify\.com/|^\s*spotify:", re.IGNORECASE)


def is_spotify_link(text: str) -> bool:
    """Whether the text is a Spotify link or URI of any kind (a track, or an episode or local file to refuse)."""
    return bool(_SPOTIFY_LINK.search(text))


def unknown_song(query: str, res: Resolution, why: str = "") -> Reply:
    """The answer to a song nobody could find: said plainly, with what the bot can do instead — the songs it knows by
    the artist the name mentions (a candidate whose artist the query's other words agree with), when there is one."""
    named = f"I don't know “{query[:80]}” yet.{why}"
    artist = next((c.track.artist for c in res.candidates if c.artist_agreement >= ARTIST_NAMED), None)
    if artist is not None:  # the name mentions an artist it knows, not one of their titles: their songs
        others = [c for c in res.candidates if c.track.artist == artist][:5]
        return Reply(f"{named} These are the songs by {artist} I know:", kind="choices", buttons=pick_buttons(others))
    return Reply(f"{named} Try its title with the artist (title - artist), a Spotify link, or another song.")


async def answer_unknown(
    services: Services,
    req: Request,
    query: str,
    res: Resolution,
    known: Callable[[int], Awaitable[list[Reply]]],
) -> list[Reply]:
    """The answer for a name the catalogue lacks, after looking it up; a song that turns out to be a track the served
    model knows (MusicBrainz knew it under another spelling) is answered by `known(track_id)`, as usual."""
    lookup = services.lookup
    link = is_spotify_link(query)
    if lookup is None or (link and not lookup.opens_spotify_links):
        return [unknown_song(query, res, NO_LINKS if link else "")]
    try:
        found = await (lookup.by_spotify(query) if link else lookup.by_name(query))
    except NotASpotifyTrack as exc:
        return [Reply(f"I cannot use that Spotify link: {exc}; send me a link to a song.", kind="error")]
    except LookupBusy:
        return [Reply("I am looking up many new songs right now; please try again in a minute.", kind="error")]
    except LookupFailed:
        service = "Spotify and MusicBrainz" if link else "MusicBrainz"
        return [unknown_song(query, res, f" I could not ask {service} about it now; please try again later.")]
    if found is None:
        where = "Spotify or MusicBrainz has nothing" if link else "MusicBrainz has nothing"
        return [unknown_song(query, res, f" {where} that is surely it either.")]
    chain = req.snap.cf
    if chain is not None and found.track_id in chain.inner:
        # the served CF model knows the song: MusicBrainz knew it under another spelling or link, or it has been
        # learnt since it was first looked up (a cached look-up outlives the retrain)
        return await known(found.track_id)
    return await answer_found(services, req, found)


async def answer_found(services: Services, req: Request, found: FoundSong) -> list[Reply]:
    """Picks for a looked-up song from what is known around it (see the module docstring)."""
    chain = req.snap.cf
    if chain is None:
        return [Reply("My recommender is still being trained; try again in a minute.", kind="error")]
    infos = await asyncio.to_thread(services.corpus.track_info, [found.track_id])
    seed = infos.get(found.track_id)
    label = seed.label if seed is not None else f"{found.recording.title} — {found.recording.artist}"
    picks = list(_picks(chain, found))[:NEW_SONG_PICKS]
    infos = await asyncio.to_thread(services.corpus.track_info, [t for t, _ in picks])
    recs = [Recommendation(t, 1.0 - i / 100, reason) for i, (t, reason) in enumerate(picks) if t in infos]
    lines = tuple(track_line(i + 1, r, infos[r.track_id]) for i, r in enumerate(recs))
    learning = " I have queued it to learn from ListenBrainz listeners." if found.added else ""
    return [
        Reply(
            f"“{label}” is {NEW}: I looked it up on MusicBrainz.{learning}",
            kind="recommendations",
            title=f"Similar to {label}",
            tracks=lines,
        )
    ]


def _picks(chain: WithFallback, found: FoundSong) -> Iterator[tuple[int, str]]:
    """(track, reason), best source first, each track once, the song itself never."""
    seen = {found.track_id}

    def fresh(tracks: list[int] | tuple[int, ...], reason: str) -> Iterator[tuple[int, str]]:
        for t in tracks:
            if t not in seen:
                seen.add(t)
                yield t, reason

    yield from fresh(found.similar_tracks, f"{NEW} · listened with it on ListenBrainz")
    for artist in found.artists:
        yield from fresh(chain.artist_tracks(artist, 5), f"{NEW} · by the same artist")
    for artist, name in found.similar_artists:
        yield from fresh(chain.artist_tracks(artist, 3), f"{NEW} · by {name}, listened with it on ListenBrainz")
    for artist in chain.related_artists(found.artists):
        related = chain.artist_names.get(artist)
        yield from fresh(chain.artist_tracks(artist, 3), f"{NEW} · by related artists: {related}" if related else NEW)
    for t, reason in chain.popular_tracks(NEW_SONG_PICKS * 2):
        yield from fresh((t,), f"{NEW} · {reason} (nothing closer known yet)")
