"""Mel power spectrograms in NumPy: what `librosa.feature.melspectrogram` computes, without importing librosa.

librosa's first spectrogram in a process imports the rest of `librosa.core` (pitch tracking, constant-Q, its numba
kernels): about a second of every cold start, for a Hann-windowed STFT and a matrix product. This is that STFT (centred,
zero-padded frames, periodic Hann window, power 2) and librosa's default mel filter bank (Slaney's mel scale, each
filter normalised to unit area), equal to librosa's within float32 rounding (`tests/test_audio_mel.py`); the
catalogue's cached patches stay valid.
"""

from __future__ import annotations

import functools

import numpy as np

_F_SP = 200.0 / 3  # Slaney's mel scale: linear below 1 kHz (200/3 Hz per mel) …
_MIN_LOG_HZ = 1000.0
_MIN_LOG_MEL = _MIN_LOG_HZ / _F_SP
_LOGSTEP = np.log(6.4) / 27.0  # … and logarithmic above it


def _hz_to_mel(f: np.ndarray) -> np.ndarray:
    f = np.asarray(f, np.float64)
    linear = f / _F_SP
    return np.where(f >= _MIN_LOG_HZ, _MIN_LOG_MEL + np.log(np.maximum(f, 1e-10) / _MIN_LOG_HZ) / _LOGSTEP, linear)


def _mel_to_hz(m: np.ndarray) -> np.ndarray:
    m = np.asarray(m, np.float64)
    return np.where(m >= _MIN_LOG_MEL, _MIN_LOG_HZ * np.exp(_LOGSTEP * (m - _MIN_LOG_MEL)), _F_SP * m)


@functools.cache
def mel_filters(sr: int, n_fft: int, n_mels: int) -> np.ndarray:
    """(n_mels, n_fft // 2 + 1) triangular filters from 0 Hz to sr / 2, Slaney-normalised (librosa's defaults)."""
    fft_freqs = np.fft.rfftfreq(n_fft, 1.0 / sr)
    mel_f = _mel_to_hz(np.linspace(_hz_to_mel(np.array(0.0)), _hz_to_mel(np.array(sr / 2.0)), n_mels + 2))
    fdiff = np.diff(mel_f)
    ramps = mel_f[:, None] - fft_freqs[None, :]
    lower = -ramps[:-2] / fdiff[:-1, None]
    upper = ramps[2:] / fdiff[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    weights *= (2.0 / (mel_f[2 : n_mels + 2] - mel_f[:n_mels]))[:, None]
    out = weights.astype(np.float32)
    out.flags.writeable = False  # shared by every caller through the cache
    return out


def mel_power(y: np.ndarray, sr: int, n_fft: int, hop: int, n_mels: int) -> np.ndarray:
    """(n_mels, frames) mel power spectrogram of mono `y`: frames centred on multiples of `hop` (the signal
    zero-padded by n_fft / 2 at both ends), a periodic Hann window, |STFT|²."""
    y = np.asarray(y, np.float32)
    padded = np.pad(y, n_fft // 2)
    n_frames = 1 + (len(padded) - n_fft) // hop
    frames = np.lib.stride_tricks.as_strided(
        padded, (n_frames, n_fft), (padded.strides[0] * hop, padded.strides[0]), writeable=False
    )
    window = (0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(n_fft) / n_fft)).astype(np.float32)
    spectrum = np.fft.rfft(frames * window, axis=1)
    power = (spectrum.real**2 + spectrum.imag**2).astype(np.float32)
    return mel_filters(sr, n_fft, n_mels) @ power.T
