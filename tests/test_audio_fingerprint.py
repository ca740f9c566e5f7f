"""Landmark fingerprints on real recordings: a clip of an indexed track played in a room is named as that track,
a clip of music that is not indexed is named as nothing, and the index grows, saves and loads as the product's.
The room recordings (a reverb, Opus encoding and decoding each) run in the real-data tier, the rest in the fast one."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from data.settings import Settings
from recommenders.audio.band import TELEPHONE_BAND
from recommenders.audio.features import decode, window_audio
from recommenders.audio.fingerprint import FingerprintIndex, hashes, identified_first, track_fingerprint
from recommenders.audio.robustness import WIDE_BAND, opus_voice_note, room_recording
from recommenders.base import Recommendation

SECONDS = 120.0  # of each indexed track (a longer one: 40 s from its start, middle and end), quick to decode


@pytest.fixture(scope="module")
def tracks() -> list[Path]:
    """Nine real soundtrack tracks: the first eight are indexed, the ninth (same soundtrack) is not."""
    src = Settings.from_env(dotenv=False).home / "audio-src"
    chosen = sorted(src.glob("wesnoth/*.ogg"))[:5] + sorted(src.glob("warzone2100/track1*.opus"))[:4]
    assert len(chosen) == 9, f"no real audio in {src}: run scripts/get_audio.sh"
    return chosen


@pytest.fixture(scope="module")
def index(tracks, tmp_path_factory) -> FingerprintIndex:
    cache = tmp_path_factory.mktemp("fp-cache")
    return FingerprintIndex.of_tracks({i: track_fingerprint(p, SECONDS, cache) for i, p in enumerate(tracks[:8])})


def _played_in_room(path: Path, band: tuple[float, float], seed: int) -> np.ndarray:
    """30 s from inside the first indexed stretch, played in a reverberant room with noise, recorded through
    `band` and sent as an Opus voice note, decoded as the bot decodes it."""
    y = decode(path, max_bytes=10**9, max_seconds=30.0, offset=5.0)
    sent = opus_voice_note(room_recording(y, band, np.random.default_rng(seed)))
    return np.concatenate(window_audio(sent, max_bytes=10**9, budget=60.0))


@pytest.mark.parametrize("band", [WIDE_BAND, TELEPHONE_BAND], ids=["wide band", "telephone band"])
def test_a_room_recording_of_an_indexed_track_is_named_as_it(index, tracks, band) -> None:
    for i in (1, 6):
        found = index.identify(_played_in_room(tracks[i], band, seed=i))
        assert found is not None and found.track_id == i, (i, found)
        assert found.aligned >= 3 * max(found.runner_up, 1)


def test_music_that_is_not_indexed_is_named_as_nothing(index, tracks) -> None:
    """The ninth track (not indexed), clean and in a room, and an indexed track's clip with that track left out:
    other tracks of the same soundtrack share chance landmarks, never enough on one time offset."""
    unindexed = np.concatenate(window_audio(tracks[8], max_bytes=10**9, budget=60.0))
    assert index.identify(unindexed) is None
    assert index.identify(_played_in_room(tracks[8], WIDE_BAND, seed=8)) is None
    clean = np.concatenate(window_audio(tracks[2], max_bytes=10**9, budget=60.0))
    assert index.identify(clean) is not None and index.identify(clean).track_id == 2  # type: ignore[union-attr]
    assert index.identify(clean, exclude_track=2) is None


@pytest.mark.fast
def test_the_index_grows_saves_and_loads_as_one_built_at_once(tracks, tmp_path) -> None:
    prints = {i: hashes(_head(tracks[i])) for i in range(8)}
    first = FingerprintIndex.of_tracks({i: prints[i] for i in range(4)})
    grown = first.add({i: prints[i] for i in range(4, 8)} | {99: hashes(np.zeros(10))})
    at_once = FingerprintIndex.of_tracks(prints)
    assert len(first) < len(grown) == len(at_once) and first.track_ids == {0, 1, 2, 3}
    assert grown.track_ids == set(range(8)) | {99}  # a track with no landmark is fingerprinted, not retried
    assert np.array_equal(grown.hashes, at_once.hashes)
    grown.save(tmp_path / "fp")
    loaded = FingerprintIndex.load(tmp_path / "fp")
    assert loaded.track_ids == grown.track_ids
    clip = _head(tracks[5])[22_050 * 5 :]
    found = loaded.identify(clip)
    assert loaded.aligned_counts(clip) == grown.aligned_counts(clip) and found is not None and found.track_id == 5
    assert FingerprintIndex.load_beside(tmp_path) is None  # an index published before fingerprints existed


def _head(path: Path) -> np.ndarray:
    return decode(path, max_bytes=10**9, max_seconds=30.0)


@pytest.mark.fast
def test_the_identified_original_comes_first_once() -> None:
    from recommenders.audio.fingerprint import Identified

    sounds = [Recommendation(7, 0.9, "sounds alike"), Recommendation(3, 0.8, "sounds alike")]
    ranked = identified_first(sounds, Identified(3, 40, 5), 2)
    assert [r.track_id for r in ranked] == [3, 7] and ranked[0].reason.startswith("the same recording")
    assert identified_first(sounds, None, 2) == sounds
