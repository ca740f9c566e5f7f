"""Sniffing before decoding: every container libsndfile reads, written from a real recording, is recognised and
decodes; non-audio files (made by the real tools: gzip, zip, matplotlib, the Python binary) are refused from their
first bytes with a message saying what they look like; audio headers followed by damage get the clear error, fast.
No process is started: everything here is in-process (the fast tier)."""

from __future__ import annotations

import gzip
import io
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from data.settings import Settings
from recommenders.audio.features import SR, AudioError, decode, window_audio
from recommenders.audio.sniff import HEAD_BYTES, NotAudio, sniff

pytestmark = pytest.mark.fast

LIMITS = {"max_bytes": 20_000_000, "max_seconds": 60.0}
SECONDS = 6


@pytest.fixture(scope="module")
def audio_src() -> Path:
    folder = Settings.from_env(dotenv=False).home / "audio-src"
    assert list(folder.glob("*/*.ogg")) and list(folder.glob("*/*.opus")), f"no real audio in {folder}"
    return folder


@pytest.fixture(scope="module")
def real_clip(audio_src) -> tuple[np.ndarray, int]:
    """6 s of a real wesnoth recording (stereo, as decoded by libsndfile), from 30 s in."""
    path = sorted(audio_src.glob("wesnoth/*.ogg"))[1]
    rate = sf.info(str(path)).samplerate
    data, _ = sf.read(str(path), start=rate * 30, frames=rate * SECONDS, dtype="float32", always_2d=True)
    assert np.sqrt(np.mean(data**2)) > 0.01
    return data, rate


def written(clip: tuple[np.ndarray, int], fmt: str, subtype: str | None = None, rate: int | None = None) -> bytes:
    data, sr = clip
    if rate is not None and rate != sr:
        import librosa

        data = librosa.resample(data.T, orig_sr=sr, target_sr=rate).T
    buf = io.BytesIO()
    sf.write(buf, data, rate or sr, format=fmt, subtype=subtype)
    return buf.getvalue()


# (libsndfile format, subtype, rate or None for the clip's own, the name sniffing must give)
CONTAINERS = [
    ("WAV", "PCM_16", None, "WAV"),
    ("WAV", "FLOAT", None, "WAV"),
    ("RF64", "PCM_24", None, "RF64"),
    ("W64", "PCM_16", None, "Wave64"),
    ("AIFF", "PCM_16", None, "AIFF"),
    ("FLAC", "PCM_16", None, "FLAC"),
    ("OGG", "VORBIS", None, "Ogg"),
    ("OGG", "OPUS", 48_000, "Ogg"),
    ("MP3", "MPEG_LAYER_III", None, "MP3"),
    ("CAF", "ALAC_16", None, "CAF"),
]


@pytest.mark.parametrize(("fmt", "subtype", "rate", "name"), CONTAINERS, ids=[f"{c[0]}-{c[1]}" for c in CONTAINERS])
def test_each_container_libsndfile_writes_is_sniffed_and_decodes(real_clip, fmt, subtype, rate, name) -> None:
    data = written(real_clip, fmt, subtype, rate)
    assert sniff(data[:HEAD_BYTES]).name == name
    y = decode(data, **LIMITS)
    assert len(y) == pytest.approx(SECONDS * SR, abs=SR // 10)  # MP3/Opus add a few ms of codec delay
    reference = decode(written(real_clip, "WAV", "FLOAT"), **LIMITS)
    n = min(len(y), len(reference))
    assert np.sqrt(np.mean(y[:n] ** 2)) == pytest.approx(np.sqrt(np.mean(reference[:n] ** 2)), rel=0.1)


def test_mp3_without_an_id3_tag_is_sniffed_from_its_frame_sync(real_clip) -> None:
    data = written(real_clip, "MP3", "MPEG_LAYER_III")
    assert data[0] == 0xFF and data[1] & 0xE0 == 0xE0  # libsndfile writes no ID3 tag: the first frame header
    tagged = b"ID3\x04\x00\x00\x00\x00\x00\x0aTIT2\x00\x00\x00\x00\x00\x00" + data
    assert sniff(data[:HEAD_BYTES]).name == sniff(tagged[:HEAD_BYTES]).name == "MP3"
    assert len(decode(tagged, **LIMITS)) == pytest.approx(SECONDS * SR, abs=SR // 10)


@pytest.mark.parametrize("suffix", [".ogg", ".opus"])
def test_real_recordings_on_disk_are_sniffed_and_decoded(audio_src, suffix: str) -> None:
    path = sorted(audio_src.glob(f"*/*{suffix}"))[0]
    assert sniff(path.read_bytes()[:HEAD_BYTES]).name == "Ogg"
    y = decode(path, max_bytes=50_000_000, max_seconds=10)
    assert len(y) == pytest.approx(min(10, sf.info(str(path)).duration) * SR, abs=SR // 10)


def _zip(payload: bytes) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("clip.ogg", payload)
    return buf.getvalue()


def _figure(fmt: str) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(2, 2))
    ax.plot([0, 1], [1, 0])
    buf = io.BytesIO()
    fig.savefig(buf, format=fmt)
    plt.close(fig)
    return buf.getvalue()


@pytest.fixture(scope="module")
def not_audio(audio_src) -> dict[str, bytes]:
    """Real files of other kinds, made by the tools that make them (a real recording inside the archives)."""
    ogg = sorted(audio_src.glob("*/*.ogg"))[0].read_bytes()
    return {
        "a gzip archive": gzip.compress(ogg),
        "a zip archive": _zip(ogg),
        "a PDF document": _figure("pdf"),
        "a PNG image": _figure("png"),
        "a program": Path(sys.executable).resolve().read_bytes()[:100_000],
        "a web page": b"<!DOCTYPE html>\n<html><body><audio src='song.mp3'></audio></body></html>\n" * 20,
        "a text file": ("Tracks I like: Yes — Roundabout, Genesis — Firth of Fifth\n" * 50).encode(),
    }


@pytest.mark.parametrize(
    "kind",
    ["a gzip archive", "a zip archive", "a PDF document", "a PNG image", "a program", "a web page", "a text file"],
)
def test_non_audio_is_refused_from_its_first_bytes_saying_what_it_looks_like(not_audio, kind: str) -> None:
    data = not_audio[kind]
    with pytest.raises(NotAudio):
        sniff(data[:HEAD_BYTES])
    t0 = time.perf_counter()
    with pytest.raises(AudioError, match=f"could not read that as audio: it looks like {kind}") as caught:
        decode(data, **LIMITS)
    assert time.perf_counter() - t0 < 0.05  # the first 64 bytes decide it
    assert isinstance(caught.value.__cause__, NotAudio)


def test_non_audio_on_disk_is_refused_by_reading_only_its_head(tmp_path, not_audio) -> None:
    path = tmp_path / "song.mp3"
    path.write_bytes(not_audio["a gzip archive"])
    with pytest.raises(AudioError, match="it looks like a gzip archive"):
        decode(path, **LIMITS)


def test_the_windowed_path_the_bot_uses_refuses_before_reading_any_header(not_audio) -> None:
    with pytest.raises(AudioError, match="it looks like a gzip archive"):
        window_audio(not_audio["a gzip archive"], max_bytes=20_000_000, budget=30.0)
    with pytest.raises(AudioError, match="That file is empty"):
        window_audio(b"", max_bytes=20_000_000, budget=30.0)


def test_unknown_binary_says_it_is_not_a_format_i_know() -> None:
    with pytest.raises(AudioError, match="it is not a format I know"):
        decode(b"\x00\x01garbage" * 500, **LIMITS)


def test_mp4_brands_decide_between_audio_and_images() -> None:
    m4a = b"\x00\x00\x00\x1cftypM4A \x00\x00\x02\x00M4A isomiso2\x00\x00\x00\x08free"
    phone = b"\x00\x00\x00\x18ftyp3gp4\x00\x00\x00\x00isom3gp4\x00\x00\x00\x08free"
    heic = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic\x00\x00\x00\x08free"
    assert sniff(m4a).name == sniff(phone).name == "MP4/M4A"
    assert sniff(m4a).ffmpeg == "mp4"
    with pytest.raises(NotAudio, match="video or image"):
        sniff(heic)


def test_containers_libsndfile_cannot_read_need_ffmpeg_and_say_so_without_it(monkeypatch, tmp_path) -> None:
    """No ffmpeg on PATH (as on this machine): an M4A gets a reply naming the format, not "damaged"."""
    monkeypatch.setenv("PATH", str(tmp_path))
    m4a = b"\x00\x00\x00\x1cftypM4A \x00\x00\x02\x00M4A isomiso2" + bytes(5000)
    webm = bytes.fromhex("1a45dfa3") + bytes(5000)
    with pytest.raises(AudioError, match="cannot read MP4/M4A audio on this server"):
        decode(m4a, **LIMITS)
    with pytest.raises(AudioError, match="cannot read Matroska/WebM audio on this server"):
        decode(webm, **LIMITS)


def _damaged(real_clip) -> dict[str, bytes]:
    """Real audio files cut short or overwritten after their first bytes: the magic is right, the rest is not."""
    flac = written(real_clip, "FLAC", "PCM_16")
    ogg = written(real_clip, "OGG", "VORBIS")
    mp3 = written(real_clip, "MP3", "MPEG_LAYER_III")
    wav = written(real_clip, "WAV", "PCM_16")
    noise = np.random.default_rng(1).bytes(200_000)
    return {
        "flac-cut-in-header": flac[:40],
        "flac-then-noise": flac[:42] + noise,
        "ogg-first-page-only": ogg[:60],
        "ogg-then-noise": ogg[:28] + noise,
        "mp3-id3-then-text": b"ID3\x03\x00\x00\x00\x00\x00\x00" + b"not really an mp3 " * 500,
        "mp3-sync-then-noise": mp3[:4] + noise,
        "wav-header-only": wav[:44],
        "aiff-magic-then-noise": b"FORM\x00\x00\x10\x00AIFF" + noise,
    }


# (case, the reply): a header with no samples behind it is an empty clip, the rest are damaged files of their kind
DAMAGED = [
    ("flac-cut-in-header", "looks like FLAC audio but is damaged or truncated"),
    ("flac-then-noise", "looks like FLAC audio but is damaged or truncated"),
    ("ogg-first-page-only", "looks like Ogg audio but is damaged or truncated"),
    ("ogg-then-noise", "looks like Ogg audio but is damaged or truncated"),
    ("mp3-id3-then-text", "looks like MP3 audio but is damaged or truncated"),
    ("mp3-sync-then-noise", "looks like MP3 audio but is damaged or truncated"),
    ("wav-header-only", "too short"),
    ("aiff-magic-then-noise", "looks like AIFF audio but is damaged or truncated"),
]


@pytest.mark.parametrize(("case", "reply"), DAMAGED, ids=[c for c, _ in DAMAGED])
def test_valid_magic_with_damage_behind_it_gets_a_clear_error_quickly(real_clip, case: str, reply: str) -> None:
    data = _damaged(real_clip)[case]
    sniff(data[:HEAD_BYTES])  # recognised as audio: the decoder, not the sniffer, finds the damage
    t0 = time.perf_counter()
    with pytest.raises(AudioError, match=reply):
        decode(data, **LIMITS)
    assert time.perf_counter() - t0 < 1.0
