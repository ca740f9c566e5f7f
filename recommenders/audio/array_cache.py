"""One array per audio file, cached on disk: what setup derives from a catalogue track (model patches, landmarks)
is computed once per file version, not on every run.

The key is the file's resolved path, size and mtime and whatever else the caller says shapes the result, so an
edited file or a changed parameter is a new entry. Written atomically (temporary file, then os.replace), and an
entry that does not load (a crash mid-write on an older version, a full disk) is rebuilt: a cache never makes a
track unreadable.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)


def cached_array(path: Path, key: str, cache_dir: Path | None, build: Callable[[], np.ndarray]) -> np.ndarray:
    """`build()`, or the array cached for this version of `path` and `key` in `cache_dir` (None: no cache)."""
    if cache_dir is None:
        return build()
    stat = path.stat()
    ident = f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{key}"
    cached = cache_dir / f"{hashlib.sha1(ident.encode()).hexdigest()}.npy"
    if cached.exists():
        try:
            return np.load(cached, allow_pickle=False)
        except (ValueError, OSError, EOFError) as exc:
            log.warning("rebuilding the unreadable cache entry %s of %s: %s", cached.name, path, exc)
    x = build()
    cached.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=cached.parent, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            np.save(fh, x)
        os.replace(tmp, cached)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return x
