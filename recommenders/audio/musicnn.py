"""musicnn (Pons & Serra, MTG-UPF, ISC licence), rebuilt as a Keras 3 functional model in our TensorFlow.

The `musicnn` 0.1.0 wheel ships its trained weights as TF1 checkpoints, but its code needs Keras 2
(`tf.compat.v1.layers`). Here the same network — a musically motivated front end (timbral 7×38 and 7×67 filters,
temporal 128/64/32×1 filters, each max-pooled over frequency), a dense mid end of three residual 1-D convolutions,
and max+mean temporal pooling into a 200-unit penultimate layer — is built from Keras layers whose names are the
checkpoint's variable scopes, and `convert` copies every checkpoint variable into them, refusing to write a model
unless each variable was used exactly once and each Keras weight was set (upstream restores inside a bare
`except:` and would run random weights silently).

Preprocessing follows upstream (16 kHz, n_fft 512, hop 256, 96 mel bands, log10(10000·x + 1), 187-frame patches
of 3 s) but in float32: upstream's `astype(float16)` then `10000 * x` overflows on NumPy 2 (every bin inf, every
clip tagged "rock 0.33, electronic 0.26, …").

Outputs: tag probabilities (sigmoid), the penultimate layer (200) and the pooled mid-end features (1506), one row
per 3 s patch.
"""

from __future__ import annotations

import importlib.util
import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import soxr

from recommenders.audio.features import SR, decode
from recommenders.audio.mel import mel_power
from recommenders.audio.tf_runtime import import_tensorflow

log = logging.getLogger(__name__)

MUSICNN_SR = 16_000
N_FFT = 512
HOP = 256
N_MELS = 96
N_FRAMES = 187  # librosa.time_to_frames(3, sr=16000, n_fft=512, hop_length=256) + 1, as upstream
PATCH_HOP = N_FRAMES  # catalogue and queries alike: back-to-back 3 s patches
MODELS = ("MSD_musicnn", "MTT_musicnn")
PRETRAINED_DIR = Path(__file__).resolve().parent / "pretrained"
LICENCE = (
    "musicnn 0.1.0 weights: Copyright (c) Music Technology Group, Universitat Pompeu Fabra 2019. Code developed by "
    "Jordi Pons (www.jordipons.me). ISC licence: permission to use, copy, modify, and/or distribute this software "
    "for any purpose with or without fee is hereby granted, provided that the above copyright notice and this "
    "permission notice appear in all copies. THE SOFTWARE IS PROVIDED 'AS IS' AND THE AUTHOR DISCLAIMS ALL "
    "WARRANTIES (see LICENSE.md of the musicnn wheel)."
)
MTT_LABELS = [
    "guitar", "classical", "slow", "techno", "strings", "drums", "electronic", "rock", "fast", "piano", "ambient",
    "beat", "violin", "vocal", "synth", "female", "indian", "opera", "male", "singing", "vocals", "no vocals",
    "harpsichord", "loud", "quiet", "flute", "woman", "male vocal", "no vocal", "pop", "soft", "sitar", "solo", "man",
    "classic", "choir", "voice", "new age", "dance", "male voice", "female vocal", "beats", "harp", "cello",
    "no voice", "weird", "country", "metal", "female voice", "choral",
]  # fmt: skip
MSD_LABELS = [
    "rock", "pop", "alternative", "indie", "electronic", "female vocalists", "dance", "00s", "alternative rock",
    "jazz", "beautiful", "metal", "chillout", "male vocalists", "classic rock", "soul", "indie rock", "Mellow",
    "electronica", "80s", "folk", "90s", "chill", "instrumental", "punk", "oldies", "blues", "hard rock", "ambient",
    "acoustic", "experimental", "female vocalist", "guitar", "Hip-Hop", "70s", "party", "country", "easy listening",
    "sexy", "catchy", "funk", "electro", "heavy metal", "Progressive rock", "60s", "rnb", "indie pop", "sad",
    "House", "happy",
]  # fmt: skip
LABELS = {"MSD_musicnn": MSD_LABELS, "MTT_musicnn": MTT_LABELS}


def log_mel96(y: np.ndarray) -> np.ndarray:
    """(frames, 96) float32 log-compressed mel spectrogram of mono 22,050 Hz audio, at musicnn's 16 kHz."""
    y16 = soxr.resample(np.asarray(y, np.float32), SR, MUSICNN_SR, quality="HQ")
    mel = mel_power(y16, MUSICNN_SR, N_FFT, HOP, N_MELS)
    return np.log10(np.float32(10000.0) * mel.T.astype(np.float32) + np.float32(1.0)).astype(np.float32)


def mel_patches(y: np.ndarray, hop: int = PATCH_HOP) -> np.ndarray:
    """(n, 187, 96) patches; a clip shorter than one patch is repeated to fill it (musicnn's own `repeat-pad`)."""
    mel = log_mel96(y)
    if len(mel) < N_FRAMES:
        mel = np.resize(mel, (N_FRAMES, N_MELS)) if len(mel) else np.zeros((N_FRAMES, N_MELS), np.float32)
    starts = range(0, len(mel) - N_FRAMES + 1, hop)
    return np.stack([mel[s : s + N_FRAMES] for s in starts]).astype(np.float32)


def build_musicnn(n_classes: int = 50, midend_filters: int = 64, backend_units: int = 200):
    """The inference graph of upstream `build_musicnn` (dropout is the identity there), with Keras layers named as
    the checkpoint's variable scopes. Outputs: [tags, penultimate, pooled]."""
    import_tensorflow()
    # lazy: Keras loads TensorFlow (seconds), so only when a model is built or loaded
    import keras
    from keras import layers

    inp = keras.Input(shape=(N_FRAMES, N_MELS), name="log_mel96")
    x = layers.Reshape((N_FRAMES, N_MELS, 1))(inp)
    x = layers.BatchNormalization(name="batch_normalization")(x)
    padded = layers.ZeroPadding2D(((3, 3), (0, 0)))(x)

    def block(source, filters: int, kernel: tuple[int, int], padding: str, i: int):
        conv = layers.Conv2D(filters, kernel, padding=padding, activation="relu", name=f"conv2d{_n(i)}")(source)
        bn = layers.BatchNormalization(name=f"batch_normalization_{i + 1}")(conv)
        width = int(bn.shape[2])
        pooled = layers.MaxPooling2D(pool_size=(1, width), strides=(1, width))(bn)
        return layers.Reshape((N_FRAMES, filters))(pooled)

    timbral = int(1.6 * 128)
    temporal = int(1.6 * 32)
    front = [
        block(padded, timbral, (7, int(0.4 * N_MELS)), "valid", 0),
        block(padded, timbral, (7, int(0.7 * N_MELS)), "valid", 1),
        block(x, temporal, (128, 1), "same", 2),
        block(x, temporal, (64, 1), "same", 3),
        block(x, temporal, (32, 1), "same", 4),
    ]
    front_features = layers.Concatenate(axis=2)(front)  # (187, 561)
    width = int(front_features.shape[2])
    fe = layers.Reshape((N_FRAMES, width, 1))(front_features)

    def mid(source, i: int):
        pad = layers.ZeroPadding2D(((3, 3), (0, 0)))(source)
        conv = layers.Conv2D(
            midend_filters, (7, int(pad.shape[2])), padding="valid", activation="relu", name=f"conv2d_{i}"
        )(pad)
        bn = layers.BatchNormalization(name=f"batch_normalization_{i + 1}")(conv)
        return layers.Permute((1, 3, 2))(bn)  # (187, filters, 1)

    m1 = mid(fe, 5)
    m2 = layers.Add()([mid(m1, 6), m1])
    m3 = layers.Add()([mid(m2, 7), m2])
    midend = layers.Concatenate(axis=2)([fe, m1, m2, m3])
    channels = int(midend.shape[2])
    midend = layers.Reshape((N_FRAMES, channels))(midend)
    max_pool = layers.Reshape((channels, 1))(layers.GlobalMaxPooling1D()(midend))
    mean_pool = layers.Reshape((channels, 1))(layers.GlobalAveragePooling1D()(midend))
    pooled = layers.Flatten(name="pooled")(layers.Concatenate(axis=2)([max_pool, mean_pool]))
    h = layers.BatchNormalization(name="batch_normalization_9")(pooled)
    h = layers.Dense(backend_units, activation="relu", name="dense")(h)
    penultimate = layers.BatchNormalization(name="batch_normalization_10")(h)
    logits = layers.Dense(n_classes, name="dense_1")(penultimate)
    tags = layers.Activation("sigmoid", name="tags")(logits)
    return keras.Model(inp, [tags, penultimate, pooled], name="musicnn")


def _n(i: int) -> str:
    return "" if i == 0 else f"_{i}"


WEIGHT_NAMES = {
    "Conv2D": ("kernel", "bias"),
    "Dense": ("kernel", "bias"),
    "BatchNormalization": ("gamma", "beta", "moving_mean", "moving_variance"),
}


def wheel_dir() -> Path:
    """The installed musicnn package folder (installed by the Makefile with `pip install --no-deps musicnn==0.1.0`)."""
    spec = importlib.util.find_spec("musicnn")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("musicnn is not installed: run `.venv/bin/pip install --no-deps musicnn==0.1.0`")
    return Path(list(spec.submodule_search_locations)[0])


def checkpoint_variables(name: str, source: Path | None = None) -> dict[str, np.ndarray]:
    """The trained variables of one checkpoint (optimizer slots left out). The prefix is the model folder itself:
    the shipped `checkpoint` index file names its author's home folder and cannot be followed."""
    # lazy: TensorFlow takes seconds to import; only the one-off conversion reads checkpoints
    import tensorflow as tf

    reader = tf.compat.v1.train.NewCheckpointReader(str((source or wheel_dir()) / name) + "/")
    return {
        key: reader.get_tensor(key)
        for key in reader.get_variable_to_shape_map()
        if "Adam" not in key and not key.endswith("_power")
    }


def convert(name: str, out_dir: Path = PRETRAINED_DIR, source: Path | None = None) -> dict[str, Any]:
    """Rebuild `name` (MSD_musicnn or MTT_musicnn) in Keras 3, copy every checkpoint variable, and save
    `<name>.keras` + `<name>.json` (labels, provenance, licence) into `out_dir`."""
    variables = checkpoint_variables(name, source)
    model = build_musicnn(len(LABELS[name]))
    used: set[str] = set()
    for layer in model.layers:
        kind = type(layer).__name__
        if kind not in WEIGHT_NAMES:
            if layer.weights:
                raise RuntimeError(f"layer {layer.name} ({kind}) has weights the checkpoint does not describe")
            continue
        keys = [f"{layer.name}/{w}" for w in WEIGHT_NAMES[kind]]
        missing = [k for k in keys if k not in variables]
        if missing:
            raise RuntimeError(f"checkpoint {name} lacks {missing}")
        layer.set_weights([variables[k] for k in keys])
        used.update(keys)
    unused = sorted(set(variables) - used)
    if unused:
        raise RuntimeError(f"checkpoint variables not restored into the Keras model: {unused}")
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save(out_dir / f"{name}.keras")
    meta = {
        "name": name,
        "labels": LABELS[name],
        "variables_restored": len(used),
        "parameters": int(sum(np.prod(v.shape) for v in variables.values())),
        "source": "musicnn 0.1.0 wheel (PyPI), TF1 checkpoint " + name,
        "licence": LICENCE,
    }
    (out_dir / f"{name}.json").write_text(json.dumps(meta, indent=2))
    log.info("converted %s: %d variables, %d parameters", name, meta["variables_restored"], meta["parameters"])
    return meta


def compare_with_reference(name: str, out_dir: Path, audio: Path, seconds: float = 30.0) -> dict[str, float]:
    """Largest absolute difference, per output, between the converted model and upstream's TF1 graph on
    `seconds` of real audio (the check `tests/test_audio_musicnn.py` makes)."""
    import_tensorflow()
    # lazy: Keras loads TensorFlow (seconds), so only when a model is built or loaded
    import keras

    # lazy: musicnn_reference imports this module (wheel_dir)
    from recommenders.audio.musicnn_reference import reference_outputs

    x = mel_patches(decode(audio, max_bytes=500_000_000, max_seconds=seconds))
    ours = keras.models.load_model(out_dir / f"{name}.keras", compile=False).predict(x, verbose=0)
    theirs = reference_outputs(name, x)
    return {
        k: float(np.abs(a - b).max()) for k, a, b in zip(("tags", "penultimate", "pooled"), ours, theirs, strict=True)
    }
