"""What a file is, from its first bytes, before any decoder sees it.

A sender's file name and MIME type are their word; the magic bytes are not. Only the containers listed in
`sniff` reach a decoder, each to the one that reads it: libsndfile in-process for what it knows (WAV, RF64, W64,
AIFF, FLAC, Ogg, MP3, CAF), ffmpeg — told the demuxer, never probing — only for what libsndfile cannot read (MP4/M4A,
Matroska/WebM, AMR, ADTS AAC). Anything else (a gzip archive, a PDF, a picture, a program, text) is refused at once
with a message saying what it looks like: the issue this answers was a 1 MB gzip refused by libsndfile, then
probed by ffmpeg for 11–21 s at 2.1 GB.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Bytes read for sniffing: every signature below lies within them (an MP4 `ftyp` box lists its brands in ~32).
HEAD_BYTES = 64
FORMATS_THAT_WORK = "mp3, ogg, opus, wav, flac and m4a work"


@dataclass(frozen=True)
class Container:
    """A recognised audio container: `sndfile` is libsndfile's format name when libsndfile reads it, `ffmpeg` the
    demuxer ffmpeg is told to use (`-f`) when it does not."""

    name: str
    sndfile: str | None = None
    ffmpeg: str | None = None


class NotAudio(ValueError):
    """The first bytes are not an audio container; `what` says what they look like ("a gzip archive"), when known."""

    def __init__(self, what: str | None) -> None:
        super().__init__(what or "unknown")
        self.what = what


WAV = Container("WAV", sndfile="WAV")
RF64 = Container("RF64", sndfile="RF64")
W64 = Container("Wave64", sndfile="W64")
AIFF = Container("AIFF", sndfile="AIFF")
FLAC = Container("FLAC", sndfile="FLAC")
OGG = Container("Ogg", sndfile="OGG")
MP3 = Container("MP3", sndfile="MP3", ffmpeg="mp3")  # ffmpeg only where libsndfile was built without mpg123
CAF = Container("CAF", sndfile="CAF")
MP4 = Container("MP4/M4A", ffmpeg="mp4")
MATROSKA = Container("Matroska/WebM", ffmpeg="matroska")
AMR = Container("AMR", ffmpeg="amr")
ADTS = Container("AAC", ffmpeg="aac")

# ISO base media brands (major or compatible) of files that carry audio: iTunes audio/books, generic MP4, 3GPP
# voice recordings, DASH/CMAF segments. Image brands (heic, avif, mif1) and others are refused.
MP4_AUDIO_BRANDS = frozenset(
    b.encode()
    for b in (
        "M4A ", "M4B ", "M4P ", "M4V ", "mp41", "mp42", "mp71", "isom", "iso2", "iso3", "iso4", "iso5", "iso6",
        "3gp4", "3gp5", "3gp6", "3gp7", "3ge6", "3ge7", "3gg6", "3g2a", "3g2b", "3g2c", "dash", "cmfc", "msdh",
        "f4a ", "f4v ", "avc1", "qt  ", "MSNV", "NDAS",
    )
)  # fmt: skip
W64_GUID_TAIL = bytes.fromhex("2e91cf11a5d628db04c10000")

# what refused input looks like, for the message to its sender; first match wins
NOT_AUDIO: tuple[tuple[bytes, str], ...] = (
    (b"\x1f\x8b", "a gzip archive"),
    (b"PK\x03\x04", "a zip archive (or an Office document)"),
    (b"PK\x05\x06", "a zip archive"),
    (b"BZh", "a bzip2 archive"),
    (b"\xfd7zXZ\x00", "an xz archive"),
    (b"(\xb5/\xfd", "a zstd archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"Rar!\x1a\x07", "a RAR archive"),
    (b"%PDF", "a PDF document"),
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"\x7fELF", "a program"),
    (b"MZ", "a Windows program"),
    (b"MThd", "a MIDI file (notes, not a recording)"),
)


def sniff(head: bytes) -> Container:
    """The container `head` (a file's first `HEAD_BYTES`) starts, or `NotAudio` saying what it looks like."""
    found = _audio_container(head)
    if found is None:
        raise NotAudio(describe(head))
    return found


def _audio_container(head: bytes) -> Container | None:
    """Signatures from each format's specification, strictest check that still needs only the head."""
    tag4, at8 = head[:4], head[8:12]
    if tag4 in (b"RIFF", b"RIFX") and at8 == b"WAVE":
        return WAV
    if tag4 in (b"RF64", b"BW64") and at8 == b"WAVE":
        return RF64
    if tag4 == b"riff" and head[4:16] == W64_GUID_TAIL:
        return W64
    if tag4 == b"FORM" and at8 in (b"AIFF", b"AIFC"):
        return AIFF
    if tag4 == b"fLaC":
        return FLAC
    if tag4 == b"OggS":
        return OGG
    if tag4 == b"caff":
        return CAF
    if head.startswith(b"#!AMR"):
        return AMR
    if tag4 == b"\x1a\x45\xdf\xa3":
        return MATROSKA
    if head[4:8] == b"ftyp":
        return MP4 if _mp4_audio_brand(head) else None
    if head.startswith(b"ID3") and len(head) >= 10 and head[3] < 0xFF and all(b < 0x80 for b in head[6:10]):
        return MP3  # an ID3v2 tag: version byte, flags, then a 28-bit "syncsafe" size (top bits clear)
    if _is_adts(head):
        return ADTS
    if _is_mpeg_audio_frame(head):
        return MP3
    return None


def _mp4_audio_brand(head: bytes) -> bool:
    """The `ftyp` box: major brand at 8, minor version, then compatible brands to the box's end."""
    size = int.from_bytes(head[:4], "big")
    brands = [head[8:12]] + [head[i : i + 4] for i in range(16, min(size, len(head)) - 3, 4)]
    return any(b in MP4_AUDIO_BRANDS for b in brands)


def _is_adts(head: bytes) -> bool:
    """ADTS AAC: 12-bit sync 0xFFF, layer 00, a valid sampling-frequency index (0–12)."""
    return len(head) >= 4 and head[0] == 0xFF and head[1] & 0xF6 == 0xF0 and (head[2] >> 2) & 0x0F <= 12


def _is_mpeg_audio_frame(head: bytes) -> bool:
    """An MPEG audio frame header: 11-bit sync 0xFFE, a defined version and layer, bitrate index not 15 ("bad"),
    sampling-rate index not 3 ("reserved")."""
    if len(head) < 4 or head[0] != 0xFF or head[1] & 0xE0 != 0xE0:
        return False
    version, layer = (head[1] >> 3) & 3, (head[1] >> 1) & 3
    bitrate, rate = head[2] >> 4, (head[2] >> 2) & 3
    return version != 1 and layer != 0 and bitrate != 15 and rate != 3


def describe(head: bytes) -> str | None:
    """What non-audio input looks like, for the sender: a known signature, else text or web page, else None."""
    for magic, what in NOT_AUDIO:
        if head.startswith(magic):
            return what
    if head[4:8] == b"ftyp":
        return "a video or image file without audio I can use"
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return "an AVI video"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "a WebP image"
    text = _as_text(head)
    if text is not None:
        lowered = text.lstrip().lower()
        return "a web page" if lowered.startswith(("<!doctype html", "<html", "<?xml")) else "a text file"
    return None


def _as_text(head: bytes) -> str | None:
    """`head` as text when it decodes as UTF-8 (a character cut at the end allowed) with no control characters."""
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 3:
            return None
        text = head[: exc.start].decode("utf-8")
    return text if text and all(c.isprintable() or c in "\t\r\n\f" for c in text) else None
