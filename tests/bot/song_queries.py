"""Songs named in the chat, measured on the path users take: `/similar <name>` through the chat core, over a corpus
that lacks some real songs, with the open-data look-up answering from the fakes of MusicBrainz and ListenBrainz.

The world is real data: the fakes know every Yes.com song and serve the Yes.com playlists as listening sessions
(`tests/jobs/open_catalogue.py`); the bot's corpus is the first 6,000 Yes.com playlists without the songs that the
"absent" queries name (`data.query_set`), so those are real songs the bot has never heard of. Used by
`tests/bot/test_song_queries.py` (a small draw) and `bench/song_queries.py` (the reported figures).
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
import statistics
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, delete, select

from bot.app import build_core
from bot.replies import ChatContext, Reply
from data.corpus import Corpus
from data.db import make_engine, migrate
from data.importers.yes import import_yes
from data.models import PlaylistTrack, Track, TrackArtist
from data.query_set import SongQuery, build_queries, same_song, songs
from data.settings import Settings
from recommenders.artifacts import ArtifactStore
from recommenders.cf.training import train_and_publish
from tests.jobs.fake_listenbrainz import FakeListenBrainz
from tests.jobs.fake_musicbrainz import FakeMusicBrainz
from tests.jobs.fake_spotify import Catalogue, FakeSpotify
from tests.jobs.fake_spotify import _id as spotify_id_of
from tests.jobs.open_catalogue import OpenCatalogue

ASKER = ChatContext("console", "song-queries", "u-eval", "Eval", private=True, admin=True)
OUTCOMES = ("answered: the song", "answered: another song", "choices with the song", "choices without it", "dead end")


@dataclass
class World:
    settings: Settings
    engine: Engine
    musicbrainz: FakeMusicBrainz
    listenbrainz: FakeListenBrainz
    spotify: FakeSpotify
    queries: list[SongQuery]

    def close(self) -> None:
        self.musicbrainz.stop()
        self.listenbrainz.stop()
        self.spotify.stop()
        self.engine.dispose()


def link_queries(queries: list[SongQuery], catalogue: Catalogue, yes_ids: dict[int, int]) -> list[SongQuery]:
    """Spotify links (as people paste them, with a share parameter) to the songs of the "name" queries (songs the
    corpus holds, though under no Spotify id) and of the "absent" ones (songs it lacks), where Spotify has them.
    `yes_ids`: each query's corpus track id → its Yes.com song id (what the fake Spotify's ids are made from)."""
    out = []
    for q in queries:
        track = spotify_id_of("t", yes_ids[q.track_id])
        if q.kind in ("name", "absent") and track in catalogue.tracks:
            kind = "link: in the corpus" if q.kind == "name" else "link: absent"
            link = f"https://open.spotify.com/track/{track}?si=0123456789abcdef"
            out.append(dataclasses.replace(q, text=link, kind=kind))
    return out


def open_world(
    data: Path, home: Path, per_kind: int, *, playlists: int = 6000, latency: tuple[float, float] | None = None
) -> World:
    """The fakes (answering in `latency` seconds, uniformly drawn, if given) and a bot home whose corpus lacks the
    songs of the "absent" queries, with item-kNN published."""
    catalogue = OpenCatalogue.load(data / "yes_big", n_playlists=3000)
    rng = random.Random(7)
    delay = (lambda: rng.uniform(*latency)) if latency else None
    musicbrainz = FakeMusicBrainz(catalogue, time.monotonic).start()  # type: ignore[arg-type]
    listenbrainz = FakeListenBrainz(catalogue, time.monotonic, limit=1000, window=10.0).start()  # type: ignore[arg-type]
    musicbrainz.latency = listenbrainz.latency = delay
    home_env = {"MUREC_HOME": str(home), **musicbrainz.env(), **listenbrainz.env()}
    engine = make_engine(Settings.from_env(home_env, dotenv=False).database_url)
    migrate(engine)
    import_yes(engine, data / "yes_big", limit=playlists)
    queries = build_queries(songs(engine), per_kind=per_kind)
    with engine.connect() as conn:
        yes_ids = {
            int(t): int(k)
            for t, k in conn.execute(
                select(Track.id, Track.source_key).where(Track.id.in_([q.track_id for q in queries]))
            )
        }
    spotify_catalogue = Catalogue(data / "yes_big", n_playlists=3000)
    queries += link_queries(queries, spotify_catalogue, yes_ids)
    spotify = FakeSpotify(spotify_catalogue).start()
    absent = [q.track_id for q in queries if q.kind == "absent"]
    with engine.begin() as conn:
        conn.execute(delete(PlaylistTrack).where(PlaylistTrack.track_id.in_(absent)))
        conn.execute(delete(TrackArtist).where(TrackArtist.track_id.in_(absent)))
        conn.execute(delete(Track).where(Track.id.in_(absent)))
        assert conn.scalar(select(Track.id).where(Track.id.in_(absent))) is None
    spotify.latency = delay
    settings = Settings.from_env({**home_env, **spotify.env()}, dotenv=False)
    train_and_publish(Corpus(engine), ArtifactStore(settings.models_dir), models=["itemknn"], evaluate=False)
    return World(settings, engine, musicbrainz, listenbrainz, spotify, queries)


def outcome(query: SongQuery, reply: Reply) -> str:
    """What the person got: an answer (for the song named, or another), choices (holding it or not), or a dead end
    (no picks and nothing to press)."""
    if reply.kind == "recommendations" and reply.tracks and all(t.reason for t in reply.tracks):
        label = reply.title.removeprefix("Similar to ")
        title, _, artist = label.partition(" — ")
        return OUTCOMES[0] if same_song(query.title, query.artist, title, artist) else OUTCOMES[1]
    labels = [b.label for row in reply.buttons for b in row]
    if reply.kind == "choices" and labels:
        held = any(same_song(query.title, query.artist, *label.partition(" — ")[::2]) for label in labels)
        return OUTCOMES[2] if held else OUTCOMES[3]
    return OUTCOMES[4]


@dataclass(frozen=True)
class Asked:
    query: SongQuery
    outcome: str
    seconds: float
    text: str


def ask_all(world: World) -> list[Asked]:
    """Every query through one chat core, one after the other (as one busy chat would)."""
    core = build_core(world.settings)

    async def run() -> list[Asked]:
        out = []
        for q in world.queries:
            t0 = time.perf_counter()
            [reply, *_] = await core.handle_text(ASKER, f"/similar {q.text}")
            out.append(Asked(q, outcome(q, reply), time.perf_counter() - t0, reply.text or reply.title))
        return out

    try:
        return asyncio.run(run())
    finally:
        core.close()


def table(asked: list[Asked]) -> str:
    """A markdown table: per query kind, the share of each outcome, and the latency p50/p99 (ms)."""
    lines = ["| query kind | n | " + " | ".join(OUTCOMES) + " | p50 ms | p99 ms |", "|---" * (len(OUTCOMES) + 4) + "|"]
    for kind in sorted({a.query.kind for a in asked}):
        of_kind = [a for a in asked if a.query.kind == kind]
        counts = Counter(a.outcome for a in of_kind)
        ms = sorted(a.seconds * 1000 for a in of_kind)
        p99 = ms[min(len(ms) - 1, round(0.99 * (len(ms) - 1)))]
        shares = " | ".join(f"{100 * counts[o] / len(of_kind):.1f} %" for o in OUTCOMES)
        lines.append(f"| {kind} | {len(of_kind)} | {shares} | {statistics.median(ms):.0f} | {p99:.0f} |")
    return "\n".join(lines)
