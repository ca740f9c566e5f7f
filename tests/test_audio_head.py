"""The Conv1D head on musicnn's frames, on real soundtracks: it trains on a few labelled tracks, tells tracks it
never saw apart, survives a save/load round trip, and serves clips through the same index and service."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from data.settings import Settings
from recommenders.audio.head import HeadEmbedder, train_head
from recommenders.audio.index import AudioIndex
from recommenders.audio.loader import AudioModels
from recommenders.audio.pretrained import PretrainedEmbedder
from recommenders.audio.service import AudioService, embedder_at, embedder_identity
from recommenders.audio.train import track_slices

LABELS = ("wesnoth", "warzone2100")
SECONDS = 30.0


@pytest.fixture(scope="module")
def src() -> Path:
    return Settings.from_env(dotenv=False).home / "audio-src"


@pytest.fixture(scope="module")
def models() -> AudioModels:
    """The models these tests share (each loaded once for the module)."""
    return AudioModels()


@pytest.fixture(scope="module")
def head_dir(tmp_path_factory, src) -> Path:
    assert PretrainedEmbedder.available(), "the pretrained model is not converted: run `make test`"
    root = tmp_path_factory.mktemp("head")
    for label in LABELS:
        (root / "data" / label).mkdir(parents=True)
        for clip in sorted((src / label).iterdir())[:5]:
            (root / "data" / label / clip.name).symlink_to(clip)
    report = train_head(root / "data", root / "model", window=SECONDS, epochs=15)
    assert report["labels"] == sorted(LABELS) and report["tracks"] == {"train": 6, "val": 2, "test": 2}
    return root / "model"


def test_the_head_tells_unseen_tracks_apart(head_dir, src, models) -> None:
    head = models.head(head_dir)
    hits = 0
    unseen = [(label, path) for label in LABELS for path in sorted((src / label).iterdir())[10:14]]
    for label, path in unseen:
        emb, probs = head.embed(track_slices(path, SECONDS, None, head.patches, head.feature_id))
        assert emb.shape == (len(probs), 256) and np.allclose(probs.sum(axis=1), 1, atol=1e-4)
        hits += head.labels[int(np.argmax(probs.mean(axis=0)))] == label
    assert hits >= len(unseen) - 1, f"{hits}/{len(unseen)}"


def test_a_saved_head_reloads_as_the_same_model(head_dir, src, models) -> None:
    x = track_slices(sorted((src / "wesnoth").iterdir())[12], SECONDS, None, models.pretrained().patches)
    first = HeadEmbedder(head_dir)
    again = embedder_at(str(head_dir), AudioModels())
    assert isinstance(again, HeadEmbedder) and embedder_identity(again) == embedder_identity(first)
    np.testing.assert_allclose(first.embed(x)[0], again.embed(x)[0], rtol=1e-5, atol=1e-5)


def test_the_head_serves_clips_through_the_index(head_dir, src, models) -> None:
    head = models.head(head_dir)
    tracks = {i: path for i, path in enumerate(p for label in LABELS for p in sorted((src / label).iterdir())[5:9])}
    embs = {i: head.embed(track_slices(p, SECONDS, None, head.patches, head.feature_id))[0] for i, p in tracks.items()}
    index = AudioIndex().fit(
        np.concatenate(list(embs.values())), np.concatenate([np.full(len(e), i) for i, e in embs.items()])
    )
    service = AudioService(head, index, Settings.from_env(dotenv=False))
    query = sorted((src / "warzone2100").iterdir())[11]
    result = service.recommend_clip(query, 4)
    assert result.labels[0][0] == "warzone2100"
    assert [tracks[r.track_id].parent.name for r in result.recommendations[:3]] == ["warzone2100"] * 3
