"""Decoding audio safely and turning it into normalised log-mel slices.

The shape follows the product design: 22,050 Hz mono, n_fft 2048, hop 512, 128 mel bands, slices of 128 frames
(about 3 s). Unlike the reference implementation, which fed raw mel power and so changed its answer with the
loudness of the recording, power is converted to decibels and each slice is standardised (zero mean, unit
variance): the model sees the shape of the spectrum over time, not the volume.

Decoding is bounded: at most `max_bytes` are accepted and at most `max_seconds` are read (soundfile seeks, so a
one-hour file costs the same as a one-minute one); rate × channels × seconds is checked against a fixed budget from
the header before any sample is read, and what is read is downmixed and resampled block by block (memory is one
block, not the declared channels of a minute); undecodable input, silence and clips shorter than one second raise
`AudioError` with a message for the person who sent them.

Before any decoder sees the input, its first bytes are sniffed (`sniff.py`): what is not an audio container is
refused at once, saying what it looks like; what libsndfile reads goes only to libsndfile; only what it cannot read
(MP4/M4A, WebM, AMR, AAC) goes to ffmpeg, told the demuxer, bounded in probing, and run as a child process under
memory, CPU, file and wall-clock limits with its output bounded (`child.py`).
"""

from __future__ import annotations

import functools
import io
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from recommenders.audio.child import CHILD_LIMITS, ChildFailed, ChildLimits, run_limited
from recommenders.audio.mel import mel_power
from recommenders.audio.sniff import FORMATS_THAT_WORK, HEAD_BYTES, Container, NotAudio, sniff

SR = 22_050
N_FFT = 2048
HOP = 512
N_MELS = 128
SLICE_FRAMES = 128
SLICE_SECONDS = SLICE_FRAMES * HOP / SR
MIN_SECONDS = 1.0
SILENCE_RMS = 1e-4
# Decoding budget, in input samples (frames × channels) read before downmixing: a minute of 8-channel 96 kHz
# or 192 kHz stereo fits; a header declaring more is refused before anything is allocated.
MAX_DECODE_SAMPLES = 60 * 96_000 * 8
MAX_RATE = 192_000
BLOCK_FRAMES = 1 << 15
SLICE_HOP = SLICE_FRAMES // 2  # half-overlapping slices, for queries and catalogue alike
N_WINDOWS = 3
CATALOGUE_FILE_BYTES = 200_000_000  # a catalogue file larger than this is not indexed
CATALOGUE_SECONDS = 480.0  # audio analysed per catalogue track: whole up to 8 min, else windows() splits it
# ffmpeg is told the demuxer, so probing only reads stream parameters: 1 MB / 5 s of input is plenty for audio
# (an MP4's are in its moov box, ADTS/AMR's in the first frames); ffmpeg's defaults are 5 MB and unbounded analysis.
FFMPEG_PROBESIZE = 1_000_000
FFMPEG_ANALYZE_US = 5_000_000
# ffmpeg's own cap on any single allocation (-max_alloc): half the child's address space, far above what decoding
# audio asks for, so a crafted size field fails as one refused allocation rather than against the kernel limit
FFMPEG_MAX_ALLOC = 256 * 2**20


class AudioError(ValueError):
    """Audio that cannot be used; `str()` is a message for the person who sent it."""


def decode(
    data: bytes | str | Path,
    *,
    max_bytes: int,
    max_seconds: float,
    offset: float = 0.0,
    limits: ChildLimits = CHILD_LIMITS,
) -> np.ndarray:
    """Mono float32 samples at 22,050 Hz, at most `max_seconds` long, from `offset` seconds on; `limits` bound the
    ffmpeg child when the container needs one."""
    container = admitted(data, max_bytes)
    if _sndfile_reads(container):
        y = _read_soundfile(data, max_seconds, offset)
    elif container.ffmpeg is not None:
        y = _read_ffmpeg(data, container, max_seconds, offset, limits)
    else:
        y = None
    if y is None:
        raise AudioError(
            f"I could not read that as audio: it looks like {container.name} audio but is damaged or truncated "
            f"({FORMATS_THAT_WORK})."
        )
    if y.size < MIN_SECONDS * SR:
        raise AudioError("That clip is too short; send at least a second of music.")
    if not np.isfinite(y).all():
        raise AudioError("That audio is damaged (it holds invalid samples).")
    if float(np.sqrt(np.mean(y**2))) < SILENCE_RMS:
        raise AudioError("That clip is silent.")
    return y.astype(np.float32)


def admitted(data: bytes | str | Path, max_bytes: int) -> Container:
    """The container of input fit to hand to a decoder: it opens, is neither empty nor over `max_bytes`, and its
    first bytes are an audio container's. Otherwise `AudioError`, before any decoder has seen it."""
    if isinstance(data, (str, Path)):
        path = Path(data)
        try:
            size = path.stat().st_size
        except OSError as exc:
            raise AudioError("I cannot open that file.") from exc
    else:
        size = len(data)
    if size == 0:
        raise AudioError("That file is empty.")
    if size > max_bytes:
        raise AudioError(f"That file is too large; please send at most {max_bytes / 1e6:.0f} MB.")
    return _container(data)


def _read_soundfile(data: bytes | str | Path, max_seconds: float, offset: float) -> np.ndarray | None:
    """libsndfile (wav, flac, ogg/vorbis, opus, mp3): seek to `offset`, then read, downmix and resample block by
    block, so memory stays at one block whatever rate and channel count the file declares."""
    source = io.BytesIO(data) if isinstance(data, bytes) else str(data)
    try:
        with sf.SoundFile(source) as fh:
            rate, channels = fh.samplerate, fh.channels
            start = 0
            if offset > 0 and fh.seekable():
                start = fh.seek(min(int(offset * rate), max(0, fh.frames - 1)))
            frames = int(max_seconds * rate)
            if fh.frames > 0:
                frames = min(frames, fh.frames - start)
            check_decode_budget(rate, channels, frames)
            return _stream_mono(fh.blocks(blocksize=BLOCK_FRAMES, frames=frames, dtype="float32", always_2d=True), rate)
    except AudioError:
        raise
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError):
        return None


def check_decode_budget(rate: int, channels: int, frames: int) -> None:
    """Refuse, before reading a sample, input whose rate × channels × seconds exceeds the fixed decoding budget.

    The header is the sender's word: a small FLAC can declare 8 channels at 655,350 Hz, and decoding even a
    minute of that is 300 million samples of work before anything is downmixed."""
    if rate <= 0 or channels <= 0 or frames * channels > MAX_DECODE_SAMPLES or rate > MAX_RATE:
        raise AudioError(
            f"That file declares {channels} channels at {rate:,} Hz, more than I decode; "
            "please send ordinary stereo audio (at most 192 kHz)."
        )


def _stream_mono(blocks, rate: int) -> np.ndarray:
    """Downmix each block and feed it through one streaming soxr resampler (the quality librosa's soxr_hq uses)."""
    resampler = soxr.ResampleStream(rate, SR, 1, dtype="float32", quality="HQ") if rate != SR else None
    out: list[np.ndarray] = []
    for block in blocks:
        mono = np.ascontiguousarray(block.mean(axis=1), dtype=np.float32)
        out.append(resampler.resample_chunk(mono) if resampler is not None else mono)
    if resampler is not None:
        out.append(resampler.resample_chunk(np.zeros(0, np.float32), last=True))
    return np.concatenate(out) if out else np.zeros(0, np.float32)


def _container(data: bytes | str | Path) -> Container:
    """The sniffed container of the input's first bytes; what is not audio is refused here, saying what it looks
    like, before any decoder has seen it."""
    if isinstance(data, bytes):
        head = data[:HEAD_BYTES]
    else:
        try:
            with open(data, "rb") as fh:
                head = fh.read(HEAD_BYTES)
        except OSError as exc:
            raise AudioError("I cannot open that file.") from exc
    try:
        return sniff(head)
    except NotAudio as exc:
        what = f"it looks like {exc.what}" if exc.what else "it is not a format I know"
        raise AudioError(f"I could not read that as audio: {what} ({FORMATS_THAT_WORK}).") from exc


def _read_ffmpeg(
    data: bytes | str | Path, container: Container, max_seconds: float, offset: float, limits: ChildLimits
) -> np.ndarray | None:
    """A container libsndfile cannot read, through ffmpeg (Debian's, when installed) as a limited child process.

    Bytes go through a temporary file rather than a pipe: the MP4 demuxer must seek when the `moov` index follows
    the audio (ffmpeg's own default when writing M4A; piped, such a file fails with "partial file"). Standard output
    is bounded to the samples asked for plus a second."""
    unavailable = f"I cannot read {container.name} audio on this server; please send mp3, ogg, opus, wav or flac."
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise AudioError(unavailable)
    max_stdout = int((max_seconds + 1) * SR) * 4
    with _local_file(data) as path:
        try:
            out = run_limited(
                _ffmpeg_command(ffmpeg, container, path, max_seconds, offset), max_stdout=max_stdout, limits=limits
            )
        except ChildFailed as exc:
            if exc.reason == "unavailable":
                raise AudioError(unavailable) from exc
            raise AudioError(
                f"I could not read that as audio: it looks like {container.name} audio but decoding it failed "
                f"({FORMATS_THAT_WORK})."
            ) from exc
    usable = len(out) - len(out) % 4
    return np.frombuffer(out[:usable], dtype=np.float32).copy() if usable else None


@contextmanager
def _local_file(data: bytes | str | Path) -> Iterator[str]:
    """An absolute path holding the input: the file itself, or the bytes in a temporary file removed afterwards."""
    if not isinstance(data, bytes):
        yield str(Path(data).resolve())
        return
    with tempfile.NamedTemporaryFile(prefix="murecom-decode-") as tmp:
        tmp.write(data)
        tmp.flush()
        yield tmp.name


def _sndfile_reads(container: Container) -> bool:
    """Whether this build of libsndfile reads the container (MP3 needs libsndfile ≥ 1.1 built with mpg123)."""
    return container.sndfile is not None and container.sndfile in _sndfile_formats()


@functools.cache
def _sndfile_formats() -> frozenset[str]:
    return frozenset(sf.available_formats())


def _ffmpeg_command(ffmpeg: str, container: Container, path: str, max_seconds: float, offset: float) -> list[str]:
    """ffmpeg told the demuxer (no format probing), probing bounded, reading only the local file (`file:` and the
    protocol whitelist: a name is never taken as a URL), first audio stream only, to mono float32 on stdout."""
    assert container.ffmpeg is not None
    return [
        ffmpeg, "-nostdin", "-hide_banner", "-v", "error", "-max_alloc", str(FFMPEG_MAX_ALLOC),
        "-probesize", str(FFMPEG_PROBESIZE), "-analyzeduration", str(FFMPEG_ANALYZE_US),
        "-protocol_whitelist", "file", "-threads", "1", "-f", container.ffmpeg,
        "-ss", str(offset), "-t", str(max_seconds), "-i", f"file:{path}",
        "-map", "0:a:0", "-vn", "-sn", "-dn", "-f", "f32le", "-ac", "1", "-ar", str(SR), "pipe:1",
    ]  # fmt: skip


def log_mel(y: np.ndarray) -> np.ndarray:
    """(frames, 128) log-mel spectrogram in dB relative to the clip's loudest bin."""
    mel = mel_power(y, SR, N_FFT, HOP, N_MELS)
    db = 10.0 * np.log10(np.maximum(mel, 1e-10)) - 10.0 * np.log10(max(float(mel.max()), 1e-10))
    return np.maximum(db, db.max() - 80.0).T.astype(np.float32)  # librosa's power_to_db: ref the max, top 80 dB


def slices(mel: np.ndarray, hop: int = SLICE_FRAMES) -> np.ndarray:
    """(n, 128, 128) standardised slices; a tail of at least half a slice is padded, shorter tails dropped."""
    out: list[np.ndarray] = []
    for start in range(0, max(1, len(mel)), hop):
        piece = mel[start : start + SLICE_FRAMES]
        if len(piece) < SLICE_FRAMES:
            if len(piece) < SLICE_FRAMES // 2 and out:
                break
            piece = np.pad(piece, ((0, SLICE_FRAMES - len(piece)), (0, 0)), mode="edge")
        out.append((piece - piece.mean()) / (piece.std() + 1e-6))
    return np.stack(out).astype(np.float32)


def clip_slices(
    data: bytes | str | Path, *, max_bytes: int, max_seconds: float, hop: int = SLICE_FRAMES, offset: float = 0.0
) -> np.ndarray:
    """Decode and slice one stretch in one call."""
    return slices(log_mel(decode(data, max_bytes=max_bytes, max_seconds=max_seconds, offset=offset)), hop=hop)


def logmel_patches(y: np.ndarray) -> np.ndarray:
    """The Conv1D model's input for one window of audio: half-overlapping standardised log-mel slices."""
    return slices(log_mel(y), hop=SLICE_HOP)


def windows(duration: float | None, budget: float) -> list[tuple[float, float]]:
    """(offset, seconds) stretches to analyse: all of it when it fits the budget, else its beginning, middle and
    end, a third of the budget each.

    Queries and catalogue tracks go through this same rule, so an unchanged copy of an indexed track yields the
    same slices as the index holds, and a short excerpt from anywhere in a track meets indexed audio more often
    than one fixed window would allow."""
    if duration is None or duration <= budget:
        return [(0.0, budget)]
    part = budget / N_WINDOWS
    return [(0.0, part), ((duration - part) / 2, part), (duration - part, part)]


def duration_of(data: bytes | str | Path) -> float | None:
    """Seconds declared by the header, or None when libsndfile cannot tell (then the start is read)."""
    try:
        return float(sf.info(io.BytesIO(data) if isinstance(data, bytes) else str(data)).duration)
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError):
        return None


def window_audio(data: bytes | str | Path, *, max_bytes: int, budget: float) -> list[np.ndarray]:
    """The decoded windows of `windows` (mono, 22,050 Hz). A silent or unreadable window is left out; only when
    every window fails does the first failure reach the sender."""
    container = admitted(data, max_bytes)  # too large, empty or not audio: refused before any header is parsed
    duration = duration_of(data) if _sndfile_reads(container) else None
    parts: list[np.ndarray] = []
    first_error: AudioError | None = None
    for offset, seconds in windows(duration, budget):
        try:
            parts.append(decode(data, max_bytes=max_bytes, max_seconds=seconds, offset=offset))
        except AudioError as exc:
            first_error = first_error or exc
    if not parts:
        assert first_error is not None
        raise first_error
    return parts


def wav_bytes(y: np.ndarray, rate: int = SR) -> bytes:
    """16-bit WAV bytes of mono samples (clipped to full scale): clips built in evaluation, as a user would send."""
    buf = io.BytesIO()
    sf.write(buf, np.clip(y, -1, 1).astype(np.float32), rate, format="WAV", subtype="PCM_16")
    return buf.getvalue()
