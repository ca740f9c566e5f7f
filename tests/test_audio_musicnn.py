"""The pretrained musicnn, rebuilt in Keras 3: the conversion from the wheel's TF1 checkpoint matches upstream's own
TF1 graph on real audio, refuses a checkpoint it cannot restore completely, and preprocessing stays finite."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from data.settings import Settings
from recommenders.audio.features import decode
from recommenders.audio.musicnn import (
    MSD_LABELS,
    checkpoint_variables,
    compare_with_reference,
    convert,
    log_mel96,
    wheel_dir,
)
from recommenders.audio.pretrained import PretrainedEmbedder

AUDIO = Settings.from_env(dotenv=False).home / "audio-src"


@pytest.fixture(scope="module")
def converted(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("musicnn")
    meta = convert("MSD_musicnn", out)
    assert meta["variables_restored"] == 64 and meta["parameters"] == 792_079
    assert "Universitat Pompeu Fabra" in meta["licence"]
    return out


def test_conversion_matches_upstreams_tf1_graph_on_real_audio(converted: Path) -> None:
    track = sorted(AUDIO.glob("warzone2100/*"))[5]
    diffs = compare_with_reference("MSD_musicnn", converted, track, seconds=15.0)
    assert diffs["tags"] < 1e-5 and diffs["penultimate"] < 1e-4 and diffs["pooled"] < 1e-3, diffs


def _write_checkpoint(folder: Path, variables: dict[str, np.ndarray]) -> None:
    import tensorflow as tf

    folder.mkdir(parents=True)
    graph = tf.Graph()
    with graph.as_default():
        tf_vars = {k: tf.compat.v1.Variable(v, name=k.replace("/", "_")) for k, v in variables.items()}
        saver = tf.compat.v1.train.Saver(var_list=tf_vars)
        with tf.compat.v1.Session(graph=graph) as session:
            session.run(tf.compat.v1.global_variables_initializer())
            saver.save(session, str(folder) + "/", write_meta_graph=False)


@pytest.mark.parametrize("change", ["missing", "extra"])
def test_an_incomplete_or_foreign_checkpoint_is_refused(tmp_path: Path, change: str) -> None:
    variables = checkpoint_variables("MSD_musicnn")
    if change == "missing":
        del variables["batch_normalization_7/moving_variance"]
    else:
        variables["dense_2/kernel"] = np.zeros((3, 3), np.float32)
    _write_checkpoint(tmp_path / "src" / "MSD_musicnn", variables)
    with pytest.raises(RuntimeError, match="lacks|not restored"):
        convert("MSD_musicnn", tmp_path / "out", source=tmp_path / "src")
    assert not (tmp_path / "out" / "MSD_musicnn.keras").exists()


def test_preprocessing_is_float32_and_finite() -> None:
    """Upstream's float16 cast overflows on NumPy 2 (every bin inf); ours stays finite for a loud real track."""
    y = decode(sorted(AUDIO.glob("warzone2100/*"))[5], max_bytes=10**9, max_seconds=10)
    mel = log_mel96(np.clip(y * 4, -1, 1))
    assert mel.dtype == np.float32 and np.isfinite(mel).all() and mel.max() > 3


def test_tags_differ_between_orchestral_and_electronic_music(converted: Path) -> None:
    tagger = PretrainedEmbedder(converted / "MSD_musicnn.keras")
    assert tagger.labels == MSD_LABELS and wheel_dir().name == "musicnn"

    def top(path: Path) -> list[str]:
        x = tagger.patches(decode(path, max_bytes=10**9, max_seconds=30, offset=20))
        tags = tagger.embed(x)[1].mean(axis=0)
        return [MSD_LABELS[i] for i in np.argsort(-tags)[:5]]

    orchestral = top(AUDIO / "wesnoth" / "battle.ogg")
    electronic = top(sorted(AUDIO.glob("warzone2100/*"))[5])
    assert "instrumental" in orchestral or "ambient" in orchestral, orchestral
    assert "electronic" in electronic or "electronica" in electronic, electronic
    assert orchestral[:2] != electronic[:2]
