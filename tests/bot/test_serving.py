"""Serving under change and load: one snapshot per request, live swaps, sessions that cannot race, a busy database,
audio that cannot stall cheap commands. Everything runs on a private copy of the real Yes.com corpus with a real
item-kNN model and a real audio index over a few real soundtrack tracks."""

from __future__ import annotations

import asyncio
import json
import shutil
import sqlite3
import threading
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.app import build_app
from bot.replies import ChatContext
from bot.snapshot import AUDIO_INDEX, CF_SIMILAR
from data.corpus import Corpus
from data.db import make_engine, migrate
from data.importers.audio_folder import import_audio_folder
from data.importers.common import ensure_tracks
from data.sessions import ListeningSession, SessionEvent
from data.settings import Settings
from recommenders.artifacts import ArtifactStore
from recommenders.audio.service import embedder_identity
from recommenders.audio.setup import ensure_index
from recommenders.cf.training import train_and_publish
from recommenders.indexes import INDEXES
from tests.audio_models import publish_shipped_model_as

ANN = ChatContext("telegram", "chat-s", "u-ann", "Ann")


@pytest.fixture(scope="module")
def audio_clips() -> list[Path]:
    src = Settings.from_env(dotenv=False).home / "audio-src"
    clips = sorted(src.glob("wesnoth/*.ogg"))[:3] + sorted(src.glob("warzone2100/*.opus"))[:3]
    assert len(clips) == 6, f"no real audio in {src}: run scripts/get_audio.sh"
    return clips


@pytest.fixture(scope="module")
def serving_home(tmp_path_factory, bot_home, audio_clips) -> Path:
    """A home of its own: the corpus copy with a published item-kNN model and an audio index over 5 real tracks
    (the sixth clip stays unseen, for queries)."""
    home = tmp_path_factory.mktemp("serving")
    src = sqlite3.connect(bot_home / "murecom.db")
    dst = sqlite3.connect(home / "murecom.db")
    src.backup(dst)
    src.close()
    dst.close()
    shutil.copytree(bot_home / "models", home / "models")
    folder = home / "audio-src"
    for clip in audio_clips[:5]:
        (folder / clip.parent.name).mkdir(parents=True, exist_ok=True)
        (folder / clip.parent.name / clip.name).symlink_to(clip)
    settings = Settings.from_env({"MUREC_HOME": str(home)})
    engine = make_engine(settings.database_url)
    migrate(engine)
    import_audio_folder(engine, folder)
    ensure_index(Corpus(engine), ArtifactStore(settings.models_dir), settings, seconds=30.0)
    engine.dispose()
    return home


def settings_for(home: Path, **env: str) -> Settings:
    return Settings.from_env({"MUREC_HOME": str(home), **env})


def say(app, ctx: ChatContext, text: str):
    return asyncio.run(app.core.handle_text(ctx, text))


# --- one snapshot, live swaps ------------------------------------------------------------------------------------
def test_a_crawled_track_is_found_by_name_after_the_next_look(serving_home) -> None:
    app = build_app(settings_for(serving_home))
    title = "Quokka Serenade For Snapshot Tests"
    [before] = say(app, ANN, f"/similar {title}")
    offered = [b.label for row in before.buttons for b in row]
    assert before.kind != "recommendations" and not any("Quokka" in label for label in offered)  # not indexed yet
    with app.engine.begin() as conn:
        tid = ensure_tracks(conn, "crawl", {"q1": {"title": title}})["q1"]
    swapped = threading.Event()
    app.watcher.on_swap(lambda snap: swapped.set())
    assert app.watcher.refresh() is True and swapped.is_set()
    assert app.watcher.current().watermark[0] >= tid
    [after] = say(app, ANN, f"/similar {title}")
    # found by name; the CF model has never seen it, and says so
    assert "Quokka Serenade" in after.text and "never appeared in a playlist" in after.text
    assert app.watcher.refresh() is False, "nothing changed: no rebuild"


def test_the_corpus_indexes_are_published_per_corpus_state_and_loaded_at_the_next_start(
    serving_home, tmp_path, caplog
) -> None:
    """A bot builds the search and fallback indexes only for a corpus state nobody published them for; the next
    process loads them (a minute of cold start at 100 k MPD playlists), and a grown corpus gets new ones."""
    home = tmp_path / "home"
    shutil.copytree(serving_home, home, symlinks=True)
    settings = settings_for(home)
    store = ArtifactStore(settings.models_dir)
    first = build_app(settings)
    mark = first.watcher.current().watermark
    assert store.meta(INDEXES)["watermark"] == list(mark)
    published = store.current_version(INDEXES)
    first.close()

    caplog.set_level("INFO", logger="recommenders.indexes")
    second = build_app(settings)
    assert "corpus indexes loaded" in caplog.text and "built" not in caplog.text
    assert store.current_version(INDEXES) == published
    [reply] = say(second, ANN, "/similar hotel califrnia")
    assert reply.kind == "recommendations" and "Hotel California" in reply.title

    title = "Wombat Nocturne For Index Tests"
    with second.engine.begin() as conn:
        ensure_tracks(conn, "crawl", {"w1": {"title": title}})
    caplog.clear()
    assert second.watcher.refresh() is True
    assert "built" in caplog.text and store.current_version(INDEXES) != published
    assert store.meta(INDEXES)["watermark"] == list(second.watcher.current().watermark) != list(mark)
    [found] = say(second, ANN, f"/similar {title}")
    assert "Wombat Nocturne" in found.text
    second.close()


def test_a_published_cf_model_is_served_whole_and_a_broken_one_is_not(serving_home, tmp_path) -> None:
    home = tmp_path / "home"
    shutil.copytree(serving_home, home, symlinks=True)
    settings = settings_for(home)
    app = build_app(settings)
    store = ArtifactStore(settings.models_dir)
    old = store.current_version(CF_SIMILAR)
    [reply] = say(app, ANN, "/similar hotel california")
    assert f"cf={old}" in reply.served_by

    # a broken publish (its files damaged) is refused and the old model keeps serving
    with store.staging(CF_SIMILAR) as staged:
        (staged / "model.json").write_text(json.dumps({"class": "itemknn", "params": {}}))
        broken = store.publish(CF_SIMILAR, staged, {"model": "itemknn"})
    assert app.watcher.refresh() is False
    [still] = say(app, ANN, "/similar hotel california")
    assert still.kind == "recommendations" and f"cf={old}" in still.served_by

    summary = train_and_publish(app.corpus, store, models=["itemknn"], evaluate=False)
    new = summary["version"]
    assert new not in (old, broken)
    assert app.watcher.refresh() is True
    [fresh] = say(app, ANN, "/similar hotel california")
    [about] = say(app, ANN, "/about")
    assert f"cf={new}" in fresh.served_by and new in about.text and f"cf={new}" in about.served_by


def test_an_audio_model_is_served_only_with_an_index_built_by_it(serving_home, tmp_path, audio_clips) -> None:
    home = tmp_path / "home"
    shutil.copytree(serving_home, home, symlinks=True)
    settings = settings_for(home)
    app = build_app(settings)
    store = ArtifactStore(settings.models_dir)
    first = app.watcher.current().audio
    assert first is not None
    shipped = first.embedder.version  # the default embedder (the pretrained tagger when converted)

    # a new audio model is published (here: the shipped weights under a new version): no index is built with it yet
    publish_shipped_model_as(store, "audio-v2")
    app.watcher.refresh()
    assert app.watcher.current().audio.embedder.version == shipped, "new model paired with the old index"

    summary = ensure_index(app.corpus, store, settings, seconds=30.0)
    assert "audio index" in summary
    assert app.watcher.refresh() is True
    snap = app.watcher.current()
    index_meta = store.meta(AUDIO_INDEX, snap.versions[AUDIO_INDEX])
    assert embedder_identity(snap.audio.embedder) == index_meta["model"]
    assert snap.audio.embedder.version == "audio-v2"
    [reply] = asyncio.run(app.core.handle_audio(ANN, audio_clips[5].read_bytes(), audio_clips[5].name))
    assert reply.kind == "recommendations" and f"{AUDIO_INDEX}={snap.versions[AUDIO_INDEX]}" in reply.served_by


# --- sessions that cannot race -----------------------------------------------------------------------------------
def test_concurrent_groups_get_one_session_per_chat_and_no_repeats(serving_home, tmp_path) -> None:
    home = tmp_path / "home"
    shutil.copytree(serving_home, home, symlinks=True)
    settings = settings_for(home, MUREC_USER_RATE_PER_MINUTE="100000", MUREC_CHAT_RATE_PER_MINUTE="100000")
    # two processes' worth of cores over one database: the database, not a lock in one process, keeps the rules
    apps = [build_app(settings), build_app(settings)]
    seeds = ["hotel california", "black and yellow", "need you now - lady antebellum", "stairway to heaven", "yellow"]
    chats = [f"g{c}" for c in range(20)]

    async def member(chat: str, m: int) -> None:
        ctx = ChatContext("telegram", chat, f"{chat}-u{m}", f"M{m}")
        core = apps[m % 2].core
        await core.handle_text(ctx, "/session start")
        await core.handle_text(ctx, "/session join")
        await core.handle_text(ctx, f"/session add {seeds[m]}")
        for _ in range(4):
            [reply] = await core.handle_text(ctx, "/session next")
            assert reply.kind == "recommendations", reply.text

    async def everyone() -> None:
        await asyncio.gather(*(member(chat, m) for chat in chats for m in range(5)))

    asyncio.run(everyone())
    with apps[0].engine.connect() as conn:
        active = conn.execute(
            select(ListeningSession.chat_id, func.count())
            .where(ListeningSession.active.is_(True), ListeningSession.platform == "telegram")
            .where(ListeningSession.chat_id.in_(chats))
            .group_by(ListeningSession.chat_id)
        ).all()
        plays = conn.execute(
            select(SessionEvent.session_id, SessionEvent.track_id, func.count())
            .join(ListeningSession, ListeningSession.id == SessionEvent.session_id)
            .where(SessionEvent.kind == "played", ListeningSession.platform == "telegram")
            .where(ListeningSession.chat_id.in_(chats))
            .group_by(SessionEvent.session_id, SessionEvent.track_id)
        ).all()
    assert sorted(c for c, _ in active) == sorted(chats) and all(n == 1 for _, n in active)
    assert len(plays) == 20 * 5 * 4, "every next played a track"
    assert all(n == 1 for _, _, n in plays), "a track was played twice in a session"


def test_only_members_end_a_session(serving_home, tmp_path) -> None:
    home = tmp_path / "home"
    shutil.copytree(serving_home, home, symlinks=True)
    app = build_app(settings_for(home))
    outsider = ChatContext("telegram", ANN.chat_id, "u-zed", "Zed")
    say(app, ANN, "/session start")
    [refused] = say(app, outsider, "/session end")
    assert refused.kind == "error" and "Only members" in refused.text
    assert "is already running" in say(app, ANN, "/session start")[0].text
    assert "Session ended." in say(app, ANN, "/session end")[0].text


# --- a busy database ---------------------------------------------------------------------------------------------
def test_a_locked_database_answers_busy_quickly_and_reads_still_work(serving_home, tmp_path) -> None:
    home = tmp_path / "home"
    shutil.copytree(serving_home, home, symlinks=True)
    app = build_app(settings_for(home, MUREC_DB_BUSY_TIMEOUT_MS="200"))
    holder = sqlite3.connect(home / "murecom.db", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process holds the write lock
    try:
        [busy] = say(app, ANN, "/session start")
        assert busy.kind == "error" and "busy" in busy.text
        [read] = say(app, ANN, "/similar hotel california")  # WAL readers do not queue behind the writer
        assert read.kind == "recommendations"
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert "Session started" in say(app, ANN, "/session start")[0].text


# --- audio cannot stall cheap commands ---------------------------------------------------------------------------
def test_a_burst_of_clips_is_bounded_and_does_not_delay_cheap_commands(serving_home, audio_clips) -> None:
    app = build_app(settings_for(serving_home, MUREC_AUDIO_WORKERS="1", MUREC_AUDIO_QUEUE="1"))
    clip = audio_clips[5].read_bytes()

    async def scenario():
        clips = [
            asyncio.create_task(app.core.handle_audio(ChatContext("discord", f"c{i}", f"u{i}", "U"), clip, "x.opus"))
            for i in range(6)
        ]
        cheap = asyncio.create_task(app.core.handle_text(ANN, "/similar hotel california"))
        await asyncio.wait([cheap, *clips], return_when=asyncio.FIRST_COMPLETED)
        refused_at_once = [t.result()[0] for t in clips if t.done()]
        analysing = [t for t in clips if not t.done()]
        done, _ = await asyncio.wait([cheap, *analysing], return_when=asyncio.FIRST_COMPLETED)
        cheap_first = done == {cheap}
        await asyncio.gather(cheap, *clips)
        return cheap.result(), [t.result()[0] for t in clips], refused_at_once, cheap_first

    cheap, clip_replies, refused_at_once, cheap_first = asyncio.run(scenario())
    assert cheap[0].kind == "recommendations"
    assert cheap_first, "/similar waited for a clip"
    answered = [r for r in clip_replies if r.kind == "recommendations"]
    assert len(answered) == 2, "one analysing + one queued"
    assert len(refused_at_once) == 4 and all("busy" in r.text for r in refused_at_once), "the rest told at once"
