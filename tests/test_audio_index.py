"""The audio index on real soundtrack recordings: the same windowing for queries and catalogue (beginning, middle
and end of long tracks), votes normalised by the candidate's slice count, and a slice cache that survives a
half-written file."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from data.settings import Settings
from recommenders.audio.embedder import DEFAULT_MODEL_DIR, Embedder
from recommenders.audio.features import windows
from recommenders.audio.index import AudioIndex
from recommenders.audio.service import AudioService
from recommenders.audio.train import track_slices
from recommenders.audio.whitening import MIN_PATCHES_PER_AXIS, can_whiten

# short jingles next to long tracks: the short ones are the ones a raw vote count buries
TRACKS = [
    "wesnoth/victory.ogg",
    "wesnoth/defeat.ogg",
    "wesnoth/defeat2.ogg",
    "wesnoth/elf-land.ogg",
    "wesnoth/battle.ogg",
    "warzone2100/track4.opus",
    "warzone2100/track10.opus",
    "singularity/Awakening.ogg",
]


SECONDS = 120.0  # catalogue budget here (the product's is features.CATALOGUE_SECONDS): long tracks still split


def test_windows_cover_the_whole_track_within_the_budget() -> None:
    assert windows(100.0, 180.0) == [(0.0, 180.0)]
    assert windows(None, 60.0) == [(0.0, 60.0)]
    assert windows(300.0, 180.0) == [(0.0, 60.0), (120.0, 60.0), (240.0, 60.0)]


@pytest.fixture(scope="module")
def embedded() -> tuple[Embedder, dict[int, Path], np.ndarray, np.ndarray]:
    """The shipped Conv1D's slice embeddings of the tracks: (embedder, paths, embeddings, owners)."""
    settings = Settings.from_env(dotenv=False)
    folder = settings.home / "audio-src"
    paths = {i: folder / key for i, key in enumerate(TRACKS) if (folder / key).exists()}
    if len(paths) < len(TRACKS):  # the file names of the packages changed: take short and long ones by length
        by_length = sorted(folder.glob("*/*"), key=lambda p: sf.info(str(p)).duration)
        paths = dict(enumerate(by_length[1:5] + by_length[-4:]))
    embedder = Embedder(DEFAULT_MODEL_DIR)
    embs, owners = [], []
    for track_id, path in paths.items():
        emb, _ = embedder.embed(track_slices(path, SECONDS, None, embedder.patches, embedder.feature_id))
        embs.append(emb)
        owners.append(np.full(len(emb), track_id))
    return embedder, paths, np.concatenate(embs), np.concatenate(owners)


@pytest.fixture(scope="module")
def catalogue(embedded) -> tuple[AudioService, dict[int, Path]]:
    embedder, paths, embs, owners = embedded
    return AudioService(embedder, AudioIndex().fit(embs, owners), Settings.from_env(dotenv=False)), paths


def test_an_unchanged_copy_of_every_indexed_track_ranks_first(catalogue) -> None:
    service, paths = catalogue
    for track_id, path in paths.items():
        ranked = [r.track_id for r in service.recommend_clip(path.read_bytes(), 3).recommendations]
        assert ranked[0] == track_id, (path.name, ranked)


def test_a_short_excerpt_from_the_middle_of_a_long_track_finds_it(catalogue) -> None:
    service, paths = catalogue
    track_id, path = max(paths.items(), key=lambda kv: sf.info(str(kv[1])).duration)
    info = sf.info(str(path))
    assert info.duration > 3 * SECONDS
    data, sr = sf.read(str(path), start=int(info.samplerate * (info.duration / 2 - 5)), frames=info.samplerate * 10)
    buf = io.BytesIO()
    sf.write(buf, data, sr, format="WAV", subtype="PCM_16")
    result = service.recommend_clip(buf.getvalue(), 3)
    assert result.recommendations[0].track_id == track_id
    assert result.seconds_analysed == pytest.approx(10, abs=0.1)


def test_votes_are_normalised_by_the_candidates_slice_count(catalogue) -> None:
    """A short track's exact copy scores as high as a long track's: both fill their capped share of votes."""
    service, paths = catalogue
    scores = {}
    for track_id, path in paths.items():
        top = service.recommend_clip(path.read_bytes(), 1).recommendations[0]
        scores[track_id] = top.score
    shortest = min(paths, key=lambda t: sf.info(str(paths[t])).duration)
    assert scores[shortest] > 0.9 and min(scores.values()) > 0.5, scores


def test_a_half_written_cache_file_is_rebuilt(tmp_path) -> None:
    path = Settings.from_env(dotenv=False).home / "audio-src" / TRACKS[3]
    first = track_slices(path, 30.0, tmp_path)
    [cached] = list(tmp_path.iterdir())
    cached.write_bytes(cached.read_bytes()[: cached.stat().st_size // 2])
    again = track_slices(path, 30.0, tmp_path)
    assert np.array_equal(first, again)
    assert np.array_equal(np.load(cached), first) and [p.name for p in tmp_path.iterdir()] == [cached.name]


WHITEN = 32  # a few hundred slices here: enough for 32 axes (the product whitens musicnn's 753 to 256)


def test_a_whitened_index_finds_every_track_and_answers_the_same_once_published(embedded, tmp_path) -> None:
    """The whitening is fitted on the catalogue, applied to each query, and saved with the index."""
    embedder, paths, embs, owners = embedded
    assert can_whiten(len(embs), WHITEN)
    index = AudioIndex(whiten=WHITEN).fit(embs, owners)
    assert index.whitening is not None and index.embeddings.shape == (len(embs), WHITEN)
    service = AudioService(embedder, index, Settings.from_env(dotenv=False))
    for track_id, path in paths.items():
        assert service.recommend_clip(path.read_bytes(), 3).recommendations[0].track_id == track_id, path.name
    index.save(tmp_path)
    loaded = AudioIndex.load(tmp_path)
    assert loaded.whiten == WHITEN and loaded.whitening is not None
    for track_id in paths:
        query = embs[owners == track_id][:4]
        assert loaded.query(query, 5) == index.query(query, 5)


def test_a_grown_whitened_index_refits_its_whitening_on_the_whole_catalogue(embedded) -> None:
    _, paths, embs, owners = embedded
    first = ~np.isin(owners, list(paths)[-2:])  # all but two tracks, then those two
    assert can_whiten(int(first.sum()), WHITEN)
    small = AudioIndex(whiten=WHITEN).fit(embs[first], owners[first])
    grown = small.add(embs[~first], owners[~first])
    whole = AudioIndex(whiten=WHITEN).fit(np.concatenate([embs[first], embs[~first]]),
                                          np.concatenate([owners[first], owners[~first]]))  # fmt: skip
    assert small.whitening is not None and grown.whitening is not None and whole.whitening is not None
    assert not np.allclose(np.abs(small.whitening.matrix), np.abs(grown.whitening.matrix), atol=1e-3)
    np.testing.assert_allclose(grown.embeddings, whole.embeddings, atol=1e-4)
    assert len(small) == int(first.sum())  # the published index readers hold is left as it was


def test_too_few_slices_are_searched_in_the_models_space_until_the_index_grows(embedded) -> None:
    """A covariance from fewer slices than `MIN_PATCHES_PER_AXIS` per axis is mostly noise in its weak axes."""
    _, paths, embs, owners = embedded
    one = owners == next(iter(paths))
    d = int(one.sum()) // MIN_PATCHES_PER_AXIS + 1
    assert not can_whiten(int(one.sum()), d) and can_whiten(len(embs), d)
    tiny = AudioIndex(whiten=d).fit(embs[one], owners[one])
    assert tiny.whitening is None and tiny.embeddings.shape[1] == embs.shape[1]
    grown = tiny.add(embs[~one], owners[~one])
    assert grown.whitening is not None and grown.embeddings.shape[1] == d
