"""The audio formats murecom reads, and the one way to list a `label/clip.ext` folder (GTZAN's layout)."""

from __future__ import annotations

from pathlib import Path

# what the decoder reads: libsndfile (wav, flac, ogg/vorbis, opus, mp3, au), or Debian's ffmpeg (m4a, aac, webm)
AUDIO_EXTENSIONS = (".mp3", ".ogg", ".opus", ".oga", ".wav", ".flac", ".au", ".m4a", ".aac", ".webm")


def is_audio_name(filename: str) -> bool:
    return filename.lower().endswith(AUDIO_EXTENSIONS)


def audio_files(folder: Path) -> list[Path]:
    """Every audio file one level below a label folder, sorted. Hidden folders are skipped: a label being
    fetched or rendered lives in `.label.partial` until it is complete."""
    return sorted(
        p
        for p in Path(folder).glob("*/*")
        if p.is_file() and is_audio_name(p.name) and not p.parent.name.startswith(".")
    )
