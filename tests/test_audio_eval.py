"""`murecom eval --audio` on a small real folder: leave-one-label-out retrieval and robustness run end to end."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from data.settings import Settings
from recommenders.audio.embedder import DEFAULT_MODEL_DIR, Embedder
from recommenders.audio.evaluate import (
    QUERIES,
    Features,
    choose_on_halves,
    evaluate_retrieval,
    fold_whitening,
    format_comparisons,
    format_table,
    mfcc_vectors,
    rank_metrics,
)
from recommenders.audio.features import logmel_patches
from recommenders.audio.robustness import evaluate_robustness, format_robustness
from recommenders.audio.train import Clip


def test_average_precision_counts_relevant_tracks_that_were_not_returned() -> None:
    assert rank_metrics([1, 2, 3, 4, 5], {1, 3}) == (pytest.approx(0.4), pytest.approx((1 + 2 / 3) / 2))
    assert rank_metrics([1, 9], {1, 3}, k=2)[1] == pytest.approx(0.5)  # track 3 never returned: AP halves


ROOMS = ("room, wide band, Opus 24k", "room, telephone band, Opus 24k")
LABELS = ("extremetuxracer", "warmux")


@pytest.mark.heavy
@pytest.mark.long
def test_retrieval_and_robustness_tables_on_real_audio(tmp_path: Path) -> None:
    src = Settings.from_env(dotenv=False).home / "audio-src"
    for label in LABELS:  # three tracks of 1–2 minutes each: the tables' whole path in seconds of audio
        (tmp_path / label).mkdir()
        for clip in sorted(p for p in (src / label).iterdir() if 60 < sf.info(str(p)).duration < 120)[:3]:
            (tmp_path / label / clip.name).symlink_to(clip)
    cnn = Embedder(DEFAULT_MODEL_DIR)
    feats = [
        Features("MFCC", "logmel128", logmel_patches, mfcc_vectors),
        Features("Conv1D", "logmel128", cnn.patches, lambda x: cnn.embed(x)[0]),
    ]
    result = evaluate_retrieval(tmp_path, feats, None)
    for name in ("MFCC", "Conv1D"):
        assert set(result[name]) == {*LABELS, "overall", QUERIES}
        assert 0 <= result[name]["overall"]["MAP"] <= 1 and len(result[name][QUERIES]) == 6
    assert "| Conv1D |" in format_table(result)
    assert "| Conv1D / MFCC | 6 | ×" in format_comparisons(result, [("Conv1D", "MFCC")])
    robust = evaluate_robustness(tmp_path, feats[1], None)
    rows = robust["rows"]
    assert set(rows) == {"MP3 64 kbit/s", "8 kHz", "+6 dB", "10 s excerpt", *ROOMS}
    assert rows["+6 dB"]["first"] >= 0.8  # louder is the easiest change: slices are standardised
    # only the telephone band goes to the band-limited vectors (8 kHz keeps its bass)
    assert {name: row["narrow"] for name, row in rows.items() if row["narrow"]} == {ROOMS[1]: 1.0}
    assert "| 10 s excerpt |" in format_robustness(robust)
    # landmarks name an MP3 copy as its original, and never name another track when the original is left out
    assert rows["MP3 64 kbit/s"]["identified"] == 1.0 and rows["MP3 64 kbit/s"]["first"] == 1.0
    assert max(row["false"] for row in rows.values()) == 0.0


@pytest.mark.fast
def test_fold_whitening_never_sees_the_held_out_label() -> None:
    rng = np.random.default_rng(0)
    clips = [Clip(Path(f"{lab}/{i}.ogg"), lab) for lab in ("a", "b", "c") for i in range(3)]
    vectors = {i: rng.normal(size=(5, 8)) * np.arange(1, 9) for i in range(len(clips))}
    white = fold_whitening(clips, vectors, "a", 4)
    changed = {i: v * 100 + 7 if clips[i].label == "a" else v for i, v in vectors.items()}
    again = fold_whitening(clips, changed, "a", 4)
    assert np.allclose(white.mean, again.mean) and np.allclose(white.matrix, again.matrix)
    fitted = np.concatenate([white(v) for i, v in vectors.items() if clips[i].label != "a"])
    assert fitted.shape[1] == 4 and np.allclose(np.cov(fitted, rowvar=False), np.eye(4), atol=1e-3)
    assert not np.allclose(fold_whitening(clips, vectors, "b", 4).matrix, white.matrix)


@pytest.mark.fast
def test_the_variant_is_chosen_on_one_half_of_the_labels_and_scored_on_the_other() -> None:
    """Row "a" is best on the labels x and z, row "b" on y: each half is answered by the row the other half chose,
    so a row that is best only where it was chosen cannot flatter itself."""
    label_of = {0: "x", 1: "y", 2: "z", 3: "y"}
    result = {
        "MFCC mean/std": {QUERIES: {i: (0.1, 0.1) for i in label_of}},
        "a": {QUERIES: {0: (0.9, 0.8), 1: (0.2, 0.2), 2: (0.9, 0.8), 3: (0.2, 0.2)}},
        "b": {QUERIES: {0: (0.5, 0.5), 1: (0.6, 0.6), 2: (0.5, 0.5), 3: (0.6, 0.6)}},
    }
    row = choose_on_halves(result, label_of, exclude="MFCC mean/std")
    assert row["chosen"] == ["a", "b"]  # halves: {x, z} then {y}
    assert row[QUERIES] == {1: (0.2, 0.2), 3: (0.2, 0.2), 0: (0.5, 0.5), 2: (0.5, 0.5)}
    assert row["overall"]["P@5"] == pytest.approx(0.35)
