"""Importer of a folder of audio laid out `label/clip.ext` (GTZAN's layout, or the Debian soundtracks fetched by
scripts/get_audio.sh) as corpus tracks with audio: title from the file name, the label as artist and as a tag.
Idempotent: tracks are keyed by `label/file name`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, update

from data.audio_files import audio_files
from data.importers.common import ensure_artists, ensure_tags, ensure_tracks, link_track_artists, link_track_tags
from data.models import Track


@dataclass
class AudioFolderReport:
    tracks: int = 0
    labels: int = 0


def import_audio_folder(engine: Engine, folder: Path, source: str = "local-audio") -> AudioFolderReport:
    folder = Path(folder)
    files = audio_files(folder)
    labels = sorted({p.parent.name for p in files})
    with engine.begin() as conn:
        artist_ids = ensure_artists(conn, source, {label: {"name": label} for label in labels})
        tag_ids = ensure_tags(conn, labels)
        keys = {f"{p.parent.name}/{p.name}": p for p in files}
        track_ids = ensure_tracks(conn, source, {k: {"title": p.stem.replace("_", " ")[:500]} for k, p in keys.items()})
        for key, path in keys.items():
            conn.execute(update(Track).where(Track.id == track_ids[key]).values(audio_path=str(path.resolve())))
        link_track_artists(conn, ((track_ids[k], artist_ids[p.parent.name], 0) for k, p in keys.items()))
        link_track_tags(conn, ((track_ids[k], tag_ids[p.parent.name], 1.0) for k, p in keys.items()))
    return AudioFolderReport(tracks=len(files), labels=len(labels))
