"""Decoding is bounded before allocation: a header's rate × channels × seconds is checked against a fixed budget
before any sample is read, and accepted input is downmixed and resampled block by block."""

from __future__ import annotations

import io
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from data.settings import Settings
from recommenders.audio.features import SR, AudioError, decode

LIMITS = {"max_bytes": 20_000_000, "max_seconds": 60.0}


def _peak_bytes(fn) -> tuple[object, int]:
    """(result or raised exception, peak bytes traced while running fn); NumPy reports its buffers to tracemalloc."""
    tracemalloc.start()
    try:
        try:
            out: object = fn()
        except AudioError as exc:
            out = exc
        return out, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.fixture(scope="module")
def bomb(tmp_path_factory) -> Path:
    """A 0.37 MB FLAC declaring 8 channels at 655,350 Hz for 65 s (a constant signal compresses to almost nothing):
    read naively, one minute of it is 1.26 GB of float32 before downmixing."""
    path = tmp_path_factory.mktemp("bomb") / "bomb.flac"
    rate, channels = 655_350, 8
    with sf.SoundFile(path, "w", rate, channels, format="FLAC", subtype="PCM_16") as fh:
        block = np.full((rate * 5, channels), 0.01, np.float32)
        for _ in range(13):
            fh.write(block)
    assert path.stat().st_size < 1_000_000
    return path


@pytest.mark.parametrize("as_bytes", [False, True])
def test_rate_and_channel_bomb_is_refused_before_allocation(bomb: Path, as_bytes: bool) -> None:
    source = bomb.read_bytes() if as_bytes else bomb
    out, peak = _peak_bytes(lambda: decode(source, **LIMITS))
    assert isinstance(out, AudioError) and "8 channels at 655,350 Hz" in str(out)
    assert peak < 5_000_000, f"{peak / 1e6:.0f} MB allocated for a refused file"


def test_multichannel_input_within_budget_is_downmixed_in_blocks() -> None:
    """30 s of real 6-channel 48 kHz audio (35 MB as float32) decodes with a few MB at peak, to the right length."""
    folder = Settings.from_env(dotenv=False).home / "audio-src"
    path = sorted(folder.glob("warzone2100/*"))[3]
    data, sr = sf.read(str(path), start=sf.info(str(path)).samplerate * 40, frames=sf.info(str(path)).samplerate * 30)
    mono = data.mean(axis=1) if data.ndim > 1 else data
    import librosa

    six = np.repeat(librosa.resample(mono, orig_sr=sr, target_sr=48_000)[:, None], 6, axis=1) * 0.5
    buf = io.BytesIO()
    sf.write(buf, six, 48_000, format="WAV", subtype="PCM_16")
    wav = buf.getvalue()
    y, peak = _peak_bytes(lambda: decode(wav, **LIMITS))
    assert isinstance(y, np.ndarray) and len(y) == pytest.approx(30 * SR, abs=SR // 10)
    assert peak < 20_000_000, f"{peak / 1e6:.0f} MB at peak"
    reference = librosa.resample(six.mean(axis=1).astype(np.float32), orig_sr=48_000, target_sr=SR)
    n = min(len(y), len(reference)) - 2000
    assert np.corrcoef(y[1000:n], reference[1000:n])[0, 1] > 0.999
