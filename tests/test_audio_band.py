"""The narrow-band detector on a real recording: the track as it is is wide-band, the same track through a
telephone band is narrow-band, and resampling to 8 kHz (which keeps the bass) does not make it narrow."""

from __future__ import annotations

import soxr

from data.settings import Settings
from recommenders.audio.band import band_pass, is_narrow_band
from recommenders.audio.features import SR, decode


def test_a_telephone_band_copy_is_narrow_and_the_track_itself_is_not() -> None:
    folder = Settings.from_env(dotenv=False).home / "audio-src"
    path = sorted(folder.glob("wesnoth/*.ogg"))[3]
    y = decode(path, max_bytes=10**9, max_seconds=30.0, offset=20.0)
    assert not is_narrow_band(y)
    assert is_narrow_band(band_pass(y))
    assert not is_narrow_band(soxr.resample(soxr.resample(y, SR, 8000), 8000, SR))
