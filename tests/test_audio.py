"""The audio recommender on real recordings (Debian soundtrack packages, fetched by scripts/get_audio.sh):
bounded decoding of bad input, split by track, own-slice exclusion, the shipped model end to end."""

from __future__ import annotations

import dataclasses
import io
import json
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from data.corpus import Corpus
from data.db import open_database
from data.importers.audio_folder import import_audio_folder
from data.settings import Settings
from recommenders.artifacts import ArtifactStore
from recommenders.audio.embedder import DEFAULT_MODEL_DIR, Embedder
from recommenders.audio.features import SLICE_FRAMES, AudioError, clip_slices, decode
from recommenders.audio.index import AudioIndex
from recommenders.audio.loader import AudioModels
from recommenders.audio.service import INDEX_ARTIFACT, load_audio_service, render_label_chart
from recommenders.audio.setup import ensure_index
from recommenders.audio.train import list_clips, split_by_track, train_classifier

LIMITS = {"max_bytes": 20_000_000, "max_seconds": 60.0}


@pytest.fixture(scope="module")
def audio_src() -> Path:
    folder = Settings.from_env(dotenv=False).home / "audio-src"
    assert len(list(folder.glob("*/*.ogg"))) > 50, f"no real audio in {folder}: run scripts/get_audio.sh"
    return folder


@pytest.fixture(scope="module")
def excerpt(audio_src) -> tuple[np.ndarray, int, str]:
    """20 s of a real warzone2100 track (samples, rate, label)."""
    path = sorted(audio_src.glob("warzone2100/*"))[3]
    info = sf.info(str(path))
    data, sr = sf.read(str(path), start=int(info.samplerate * 40), frames=info.samplerate * 20, dtype="float32")
    return data, sr, "warzone2100"


def wav_bytes(data: np.ndarray, sr: int, subtype: str = "PCM_16") -> bytes:
    buf = io.BytesIO()
    sf.write(buf, data, sr, format="WAV", subtype=subtype)
    return buf.getvalue()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (np.random.default_rng(0).bytes(50_000), "could not read"),
        (b"ID3 this is a text file pretending to be an mp3\n" * 200, "could not read"),
        (wav_bytes(np.zeros(22050 * 5, np.float32), 22050), "silent"),
        (wav_bytes(np.full(22050 * 5, np.nan, np.float32), 22050, "FLOAT"), "damaged"),
        (wav_bytes((0.1 * np.ones(4000)).astype(np.float32), 22050), "too short"),
    ],
)
def test_bad_audio_gets_a_clear_error(data: bytes, message: str) -> None:
    with pytest.raises(AudioError, match=message):
        decode(data, **LIMITS)


def test_text_file_named_mp3_on_disk(tmp_path) -> None:
    fake = tmp_path / "song.mp3"
    fake.write_text("definitely not audio\n" * 100)
    with pytest.raises(AudioError, match="could not read"):
        decode(fake, **LIMITS)


def test_oversized_upload_is_refused_before_decoding() -> None:
    with pytest.raises(AudioError, match="too large"):
        decode(b"\0" * 1_000_001, max_bytes=1_000_000, max_seconds=60)


def test_one_hour_file_reads_only_the_cap(tmp_path, excerpt) -> None:
    data, sr, _ = excerpt
    mono = data.mean(axis=1) if data.ndim > 1 else data
    hour = tmp_path / "hour.wav"
    with sf.SoundFile(hour, "w", 8000, 1, subtype="PCM_U8") as fh:  # 1 h at 8 kHz, 8 bit: 28.8 MB
        block = np.resize(mono[::5], 8000 * 60).astype(np.float32)
        for _ in range(60):
            fh.write(block)
    assert sf.info(str(hour)).duration == pytest.approx(3600)
    t0 = time.perf_counter()
    y = decode(hour, max_bytes=40_000_000, max_seconds=30)
    assert time.perf_counter() - t0 < 10
    assert len(y) == 30 * 22050


@pytest.mark.parametrize(("rate", "channels"), [(8000, 1), (96000, 2)])
def test_unusual_rates_and_channels_are_resampled(excerpt, rate: int, channels: int) -> None:
    import librosa

    data, sr, _ = excerpt
    mono = data.mean(axis=1) if data.ndim > 1 else data
    resampled = librosa.resample(mono, orig_sr=sr, target_sr=rate)
    signal = np.stack([resampled] * channels, axis=1) if channels == 2 else resampled
    x = clip_slices(wav_bytes(signal, rate), **LIMITS)
    assert x.shape[1:] == (SLICE_FRAMES, 128)
    assert len(x) == pytest.approx(20 * 22050 / 512 / SLICE_FRAMES, abs=1)
    assert np.allclose(x.mean(axis=(1, 2)), 0, atol=1e-3)  # standardised slices: loudness does not matter


def test_slices_ignore_loudness(excerpt) -> None:
    data, sr, _ = excerpt
    loud = clip_slices(wav_bytes(data * 0.9, sr), **LIMITS)
    quiet = clip_slices(wav_bytes(data * 0.05, sr), **LIMITS)
    assert np.abs(loud - quiet).mean() < 0.05


def test_split_is_by_track_and_stratified(audio_src) -> None:
    clips = list_clips(audio_src)
    split = split_by_track(clips, seed=7)
    keys = {name: {c.key for c in part} for name, part in split.items()}
    assert not (keys["train"] & keys["test"]) and not (keys["train"] & keys["val"]) and not (keys["val"] & keys["test"])
    assert sum(len(k) for k in keys.values()) == len(clips)
    for part in split.values():
        assert {c.label for c in part} == {c.label for c in clips}  # every label in every part
    assert split_by_track(clips, seed=7) == split


def test_own_slices_are_excluded_wherever_they_rank() -> None:
    rng = np.random.default_rng(0)
    a, b, c = rng.normal(size=(3, 256))
    emb = np.concatenate([a + 0.01 * rng.normal(size=(6, 256)), b + 0.01 * rng.normal(size=(4, 256)), c[None, :]])
    owners = np.array([1] * 6 + [2] * 4 + [3])
    index = AudioIndex().fit(emb, owners)
    query = a + 0.01 * rng.normal(size=(3, 256))
    assert index.query(query, 3)[0].track_id == 1
    excluded = index.query(query, 3, exclude_track=1)
    assert 1 not in [r.track_id for r in excluded] and len(excluded) == 2
    assert "close matches over 3 slices" in excluded[0].reason


def test_label_chart_is_a_png() -> None:
    png = render_label_chart([("wesnoth", 0.7), ("warzone2100", 0.2), ("singularity", 0.1)])
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 1000


@pytest.fixture(scope="module")
def indexed_home(tmp_path_factory, audio_src):
    """A corpus of the real soundtrack clips, one held out of the index, indexed with the shipped model."""
    home = tmp_path_factory.mktemp("audiohome")
    folder = home / "audio-src"
    held_out = sorted(audio_src.glob("singularity/*.ogg"))[5]
    for label_dir in (audio_src / label for label in ("wesnoth", "warzone2100", "singularity")):
        (folder / label_dir.name).mkdir(parents=True)
        for clip in sorted(label_dir.iterdir())[:8]:
            if clip != held_out:
                (folder / label_dir.name / clip.name).symlink_to(clip)
    settings = Settings.from_env({"MUREC_HOME": str(home)})
    engine = open_database(settings)
    import_audio_folder(engine, folder)
    summary = ensure_index(Corpus(engine), ArtifactStore(settings.models_dir), settings, seconds=30.0)
    return settings, held_out, summary


def test_index_then_recommend_an_unseen_clip(indexed_home) -> None:
    settings, held_out, summary = indexed_home
    assert "tracks" in summary
    service = load_audio_service(settings, Corpus(open_database(settings)))
    assert service is not None
    clip = held_out.read_bytes()
    result = service.recommend_clip(clip[: settings.max_audio_bytes], k=5)
    assert len(result.recommendations) == 5
    scores = [r.score for r in result.recommendations]
    assert scores == sorted(scores, reverse=True)
    assert {name for name, _ in result.labels} == set(service.embedder.labels)  # the pretrained tagger's tags
    assert not result.unsure and 0 <= result.labels[-1][1] <= result.labels[0][1] <= 1
    corpus = Corpus(open_database(settings))
    infos = corpus.track_info(r.track_id for r in result.recommendations)
    assert held_out.stem not in {i.title for i in infos.values()}
    artists = [infos[r.track_id].artist for r in result.recommendations]
    assert artists.count("singularity") >= 2, artists  # the unseen clip's own soundtrack dominates


def test_index_grows_incrementally_and_atomically(indexed_home, audio_src) -> None:
    settings, held_out, _ = indexed_home
    engine = open_database(settings)
    store = ArtifactStore(settings.models_dir)
    before = store.current_version(INDEX_ARTIFACT)
    assert "up to date" in ensure_index(Corpus(engine), store, settings, seconds=30.0)
    extra = settings.home / "audio-src" / "singularity" / held_out.name
    extra.symlink_to(held_out)
    import_audio_folder(engine, settings.home / "audio-src")
    summary = ensure_index(Corpus(engine), store, settings, seconds=30.0)
    assert "+1 tracks" in summary and store.current_version(INDEX_ARTIFACT) != before
    extra.unlink()


def test_an_index_searched_in_another_space_is_built_again(indexed_home) -> None:
    """An index published before its model's index was whitened (its meta has no `whiten`) is rebuilt by the next
    `ensure_index`, not grown: its vectors are not in the space the model's index now searches."""
    settings, _, _ = indexed_home
    engine = open_database(settings)
    store = ArtifactStore(settings.models_dir)
    published = store.path(INDEX_ARTIFACT)
    assert published is not None and store.meta(INDEX_ARTIFACT)["whiten"] == 256
    meta = json.loads((published / "meta.json").read_text())
    del meta["whiten"]
    (published / "meta.json").write_text(json.dumps(meta))
    summary = ensure_index(Corpus(engine), store, settings, seconds=30.0)
    rebuilt = store.path(INDEX_ARTIFACT)
    assert rebuilt is not None and rebuilt != published, summary
    assert store.meta(INDEX_ARTIFACT)["whiten"] == 256 and AudioIndex.load(rebuilt).whiten == 256


def test_a_damaged_published_index_is_built_again_not_served(indexed_home) -> None:
    """A published index that no longer loads (a disk fault, a kill mid-copy by another tool) is rebuilt by the next
    `ensure_index` — what `murecom setup` runs — instead of failing it."""
    settings, _, _ = indexed_home
    engine = open_database(settings)
    store = ArtifactStore(settings.models_dir)
    damaged = store.path(INDEX_ARTIFACT)
    assert damaged is not None
    tracks = len(AudioIndex.load(damaged).owners)
    (damaged / "owners.npy").write_bytes(b"not an array")
    summary = ensure_index(Corpus(engine), store, settings, seconds=30.0)
    rebuilt = store.path(INDEX_ARTIFACT)
    assert rebuilt is not None and rebuilt != damaged, summary
    assert len(AudioIndex.load(rebuilt).owners) == tracks


def test_shipped_model_loads_once_and_reports_honest_metrics() -> None:
    models = AudioModels()
    emb = models.conv1d(DEFAULT_MODEL_DIR)
    assert models.conv1d(DEFAULT_MODEL_DIR) is emb
    metrics = emb.meta["metrics"]
    assert 0 <= metrics["test_track_accuracy"] <= 1 and metrics["test_track_accuracy"] > metrics["majority_baseline"]
    x = np.random.default_rng(0).normal(size=(4, SLICE_FRAMES, 128)).astype(np.float32)
    vectors, probs = emb.embed(x)
    assert vectors.shape == (4, 256) and probs.shape == (4, len(emb.labels))


@pytest.mark.heavy
def test_training_on_a_small_slice_of_real_audio(audio_src, tmp_path) -> None:
    small = tmp_path / "small"
    for label in ("wesnoth", "singularity"):
        (small / label).mkdir(parents=True)
        for clip in sorted((audio_src / label).glob("*.ogg"))[:5]:
            shutil.copy(clip, small / label / clip.name)
    meta = train_classifier(small, tmp_path / "model", epochs=2, patience=1, window=9.0)
    assert (tmp_path / "model" / "model.keras").exists()
    parts = {k: set(v) for k, v in meta["split"].items()}
    assert not (parts["train"] & parts["test"]) and meta["slices"]["train"] > 0
    emb = Embedder(tmp_path / "model")
    assert emb.labels == ["singularity", "wesnoth"]


def test_service_settings_caps_apply(indexed_home) -> None:
    settings, held_out, _ = indexed_home
    service = load_audio_service(dataclasses.replace(settings, max_audio_bytes=1000), Corpus(open_database(settings)))
    with pytest.raises(AudioError, match="too large"):
        service.recommend_clip(held_out.read_bytes())


def test_chat_core_answers_a_clip_with_tracks_and_a_chart(indexed_home) -> None:
    import asyncio

    from bot.app import build_core
    from bot.replies import ChatContext

    settings, held_out, _ = indexed_home
    core = build_core(settings)
    ctx = ChatContext("telegram", "c1", "u1", "Ann")
    [reply] = asyncio.run(core.handle_audio(ctx, held_out.read_bytes(), held_out.name))
    assert reply.kind == "recommendations" and len(reply.tracks) == 10
    assert reply.text.startswith("Sounds like: ") and reply.image[:4] == b"\x89PNG"
    [empty] = asyncio.run(core.handle_audio(ctx, b"", "x.ogg"))
    assert empty.kind == "error" and "empty" in empty.text
    [garbage] = asyncio.run(core.handle_audio(ctx, b"\x00\x01garbage" * 500, "x.mp3"))
    assert garbage.kind == "error" and "could not read" in garbage.text
