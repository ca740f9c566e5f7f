"""Narrow-band (telephone) queries: detected from their spectrum, and matched against a band-limited catalogue.

A clip recorded through a phone line or a small speaker holds little below 300 Hz or above 3.4 kHz. The embedder
never saw such audio, so the clip's patches land far from the original's wide-band patches (5 of 20 found first).
The remedy is to compare like with like: the catalogue is embedded a second time from its audio band-limited to
the same 300–3,400 Hz, and a query detected as narrow-band is band-limited the same way and searched there. Wide-band
queries never touch the second set, so the clean rows cannot lose anything.

The detector is one spectral rule: the energy below `LOW_EDGE` Hz and the energy above `HIGH_EDGE` Hz, each
relative to the energy inside the band; a clip is narrow-band when both are below `NARROW_RATIO` (music has its
bass and its cymbals; a telephone-band recording has neither). Audio resampled to 8 kHz keeps its bass and stays
wide-band. The threshold was chosen on validation tracks that are not the reported ones (README, "Robustness").
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from recommenders.audio.features import SR
from recommenders.audio.index import AudioIndex

TELEPHONE_BAND = (300.0, 3400.0)
LOW_EDGE = 200.0
HIGH_EDGE = 4000.0
NARROW_RATIO = 0.003  # validation tracks: telephone band ≤ 0.0001, anything wider ≥ 0.018 (README, "Robustness")
BAND_ID = "tel300-3400"  # the band-limited vectors' folder in a published index, and their patch cache's key


def band_pass(y: np.ndarray, band: tuple[float, float] = TELEPHONE_BAND, rate: int = SR) -> np.ndarray:
    """`y` band-limited to `band` Hz (8th-order Butterworth, zero phase): the same filter for catalogue and query,
    so their patches differ only by what the recording changed."""
    # lazy: scipy.signal takes 0.6 s to import, a thirteenth of a cold start, and only narrow-band clips (and
    # building the index's band-limited copy) filter; detecting the band is NumPy's FFT alone
    from scipy.signal import butter, sosfiltfilt

    sos = butter(8, band, btype="bandpass", fs=rate, output="sos")
    return sosfiltfilt(sos, np.asarray(y, np.float64)).astype(np.float32)


def out_of_band(y: np.ndarray, rate: int = SR) -> tuple[float, float]:
    """(energy below `LOW_EDGE`, energy above `HIGH_EDGE`), each relative to the energy of the telephone band."""
    power = np.abs(np.fft.rfft(np.asarray(y, np.float64))) ** 2
    freqs = np.fft.rfftfreq(len(y), 1.0 / rate)
    lo, hi = TELEPHONE_BAND
    inside = float(power[(freqs >= lo) & (freqs <= hi)].sum()) + 1e-12
    below = float(power[(freqs > 20.0) & (freqs < LOW_EDGE)].sum())
    above = float(power[freqs > HIGH_EDGE].sum())
    return below / inside, above / inside


def is_narrow_band(y: np.ndarray, rate: int = SR, threshold: float = NARROW_RATIO) -> bool:
    """Whether a clip was recorded through a telephone-like band: nothing to speak of below or above it."""
    return max(out_of_band(y, rate)) < threshold


def matched_query(audio: list[np.ndarray], narrow_index: bool) -> tuple[list[np.ndarray], bool]:
    """The query's windows as they are searched, and whether they go to the band-limited vectors: a narrow-band
    clip is band-limited like the catalogue's second set, when the index has one; anything else is left as it is."""
    if narrow_index and is_narrow_band(np.concatenate(audio)):
        return [band_pass(y) for y in audio], True
    return audio, False


def narrow_patches(patches: Callable[[np.ndarray], np.ndarray]) -> Callable[[np.ndarray], np.ndarray]:
    """A model's input for the catalogue's band-limited vectors: its own patches of the band-limited audio."""
    return lambda y: patches(band_pass(y))


def load_narrow(index_path: Path) -> AudioIndex | None:
    """The band-limited vectors published beside an index (its `BAND_ID` folder), or None for an index built
    before they existed (then every query searches the wide-band vectors, as it did)."""
    folder = Path(index_path) / BAND_ID
    return AudioIndex.load(folder) if (folder / "owners.npy").exists() else None
