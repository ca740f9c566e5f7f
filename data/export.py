"""The playlist corpus as Parquet: the hand-off to engines that do not run in our process (Apache Spark).

A distributed trainer cannot stream `Corpus.playlists()` over SQLAlchemy, so this module writes exactly those
sequences (same playlists, same order, same track ids) to a folder of Parquet files that Spark, or any engine that
reads Parquet, can split across machines. The layout is one row per playlist entry:

    row       int32   the playlist's number in `Corpus.playlists()` order (0, 1, ...; dense, so an engine can use
                      it as a user id as is)
    position  int32   the entry's place in the playlist (play order)
    track_id  int64   the corpus's track id (what a model's item ids are)

Files are written into a temporary sibling folder and renamed into place, so a reader never sees half an export.
The export streams: memory stays at one batch of entries whatever the corpus size.
"""

from __future__ import annotations

import json
import shutil
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from data.corpus import Corpus

#: Column names of the export (the Spark trainer reads these).
ROW, POSITION, TRACK = "row", "position", "track_id"
#: The summary written next to the data files (ignored by Spark: files starting with "_" are hidden to it).
MANIFEST = "_murecom.json"
#: Entries per Parquet row group (and per in-memory batch): ~12 MB of columns, large enough for fast scans.
BATCH = 1_000_000


@dataclass(frozen=True)
class ExportReport:
    """What an export wrote: counts to check against the corpus, and its cost."""

    path: str
    playlists: int
    entries: int
    tracks: int
    files: int
    bytes: int
    seconds: float

    def __str__(self) -> str:
        return (
            f"exported {self.playlists:,} playlists ({self.entries:,} entries, {self.tracks:,} tracks) to "
            f"{self.path} in {self.seconds:.1f}s ({self.bytes / 1e6:.1f} MB)"
        )


def _schema() -> Any:
    # lazy: pyarrow is optional (the spark and dev extras); serving never writes Parquet
    import pyarrow as pa

    return pa.schema([(ROW, pa.int32()), (POSITION, pa.int32()), (TRACK, pa.int64())])


def write_sequences(sequences: Iterable[Sequence[int]], path: Path, *, batch: int = BATCH) -> ExportReport:
    """Write `sequences` (e.g. `Corpus.playlists()` or an evaluation split's training part) to the Parquet folder
    `path`, replacing it atomically. A sequence's number is its `row`; empty sequences keep their number and
    write no entry (as `interaction_matrix` counts them)."""
    try:
        # lazy: pyarrow is optional (the spark and dev extras); serving never writes Parquet
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError as exc:  # the spark extra is optional for serving
        raise RuntimeError("the Parquet export needs pyarrow: pip install 'murecom[spark]'") from exc

    t0 = time.perf_counter()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.{uuid.uuid4().hex}"
    tmp.mkdir()
    schema = _schema()
    rows: list[np.ndarray] = []
    positions: list[np.ndarray] = []
    tracks: list[np.ndarray] = []
    pending = n_rows = n_entries = 0
    seen: set[int] = set()
    try:
        with pq.ParquetWriter(tmp / "part-00000.parquet", schema, compression="zstd") as writer:

            def flush() -> None:
                if not rows:
                    return
                table = pa.Table.from_arrays(
                    [pa.array(np.concatenate(a)) for a in (rows, positions, tracks)], schema=schema
                )
                writer.write_table(table, row_group_size=batch)
                for column in (rows, positions, tracks):
                    column.clear()

            for seq in sequences:
                n = len(seq)
                if n:
                    t = np.asarray(seq, dtype=np.int64)
                    rows.append(np.full(n, n_rows, dtype=np.int32))
                    positions.append(np.arange(n, dtype=np.int32))
                    tracks.append(t)
                    seen.update(t.tolist())
                    pending += n
                    n_entries += n
                    if pending >= batch:
                        flush()
                        pending = 0
                n_rows += 1
            flush()
        report = ExportReport(
            path=str(path),
            playlists=n_rows,
            entries=n_entries,
            tracks=len(seen),
            files=1,
            bytes=sum(f.stat().st_size for f in tmp.iterdir()),
            seconds=round(time.perf_counter() - t0, 2),
        )
        (tmp / MANIFEST).write_text(json.dumps(asdict(report), indent=2))
        if path.exists():  # replace: the old export goes only once the new one is complete
            old = path.parent / f".{path.name}.old.{uuid.uuid4().hex}"
            path.rename(old)
            tmp.rename(path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            tmp.rename(path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return report


def export_playlists(corpus: Corpus, path: Path, *, source: str | None = None) -> ExportReport:
    """The playlists recommenders see (`corpus.playlists(source)`) as Parquet in `path`."""
    return write_sequences(corpus.playlists(source), path)


def read_manifest(path: Path) -> dict[str, Any]:
    """The summary of an export (counts, size); empty when the folder was written by something else."""
    f = Path(path) / MANIFEST
    return json.loads(f.read_text()) if f.exists() else {}
