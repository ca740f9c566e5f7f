"""Lookups over the whole catalogue stored as flat arrays, saved as `.npy` and memory-mapped on load.

The serving snapshot holds several lookups over every track (a track's artists, an artist's tracks, play counts,
the names the search scores against). As Python dicts, tuples and strings they cost seconds to build and hundreds
of MB at the Million Playlist Dataset's 2.26 M tracks; as flat arrays they load in milliseconds and a query touches
a few pages.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

EMPTY = np.zeros(0, dtype=np.int64)


def positions(keys: np.ndarray, wanted: Any) -> np.ndarray:
    """The index of each `wanted` value in the sorted `keys`, -1 where it is absent (one value or an array)."""
    wanted = np.asarray(wanted)
    if not len(keys):
        return np.full(wanted.shape, -1, dtype=np.int64)
    i = np.minimum(np.searchsorted(keys, wanted), len(keys) - 1)
    return np.where(keys[i] == wanted, i, -1)


def mapped(path: Path) -> np.ndarray:
    """A saved `.npy` array over a read-only memory map, as a plain ndarray view (indexing a `np.memmap` costs a
    Python-level call per access, which the search pays thousands of times per query)."""
    if hasattr(os, "posix_fadvise"):  # ask for the file in the page cache now (asynchronously): the first
        fd = os.open(path, os.O_RDONLY)  # queries after a start then do not wait for the disk
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_WILLNEED)
        finally:
            os.close(fd)
    return np.load(path, mmap_mode="r").view(np.ndarray)


class Postings:
    """`keys` (sorted, unique) → `values[indptr[i]:indptr[i + 1]]`, in the order given when built."""

    def __init__(self, keys: np.ndarray, indptr: np.ndarray, values: np.ndarray) -> None:
        if len(indptr) != len(keys) + 1:
            raise ValueError("indptr must hold one more entry than keys")
        self.keys, self.indptr, self.values = keys, indptr, values

    @classmethod
    def from_mapping(cls, mapping: Mapping[int, Iterable[int]]) -> Postings:
        keys = np.array(sorted(int(k) for k in mapping), dtype=np.int64)
        lists = [np.fromiter((int(v) for v in mapping[int(k)]), dtype=np.int64) for k in keys]
        indptr = np.zeros(len(keys) + 1, dtype=np.int64)
        np.cumsum([len(v) for v in lists], out=indptr[1:])
        values = np.concatenate(lists) if lists else EMPTY
        return cls(keys, indptr, values)

    def _row(self, key: int) -> int:
        return int(positions(self.keys, key))

    def get(self, key: object, default: np.ndarray | tuple[()] = ()) -> np.ndarray | tuple[()]:
        """The values of `key` (an array), or `default` when it has none."""
        if not isinstance(key, int | np.integer):
            return default
        i = self._row(int(key))
        return default if i < 0 else self.values[self.indptr[i] : self.indptr[i + 1]]

    def __getitem__(self, key: int) -> np.ndarray:
        i = self._row(int(key))
        if i < 0:
            raise KeyError(key)
        return self.values[self.indptr[i] : self.indptr[i + 1]]

    def __contains__(self, key: object) -> bool:
        return isinstance(key, int | np.integer) and self._row(int(key)) >= 0

    def __iter__(self) -> Iterator[int]:
        return (int(k) for k in self.keys)

    def __len__(self) -> int:
        return len(self.keys)

    def save(self, folder: Path, name: str) -> None:
        for part in ("keys", "indptr", "values"):
            np.save(folder / f"{name}.{part}.npy", getattr(self, part))

    @classmethod
    def load(cls, folder: Path, name: str) -> Postings:
        parts = [mapped(folder / f"{name}.{p}.npy") for p in ("keys", "indptr", "values")]
        return cls(*parts)


class Counts:
    """Integer key → count (0 when absent), like a `Counter`, over two arrays sorted by key."""

    def __init__(self, keys: np.ndarray, counts: np.ndarray) -> None:
        order = np.argsort(keys, kind="stable")
        self.keys, self.counts = np.asarray(keys)[order], np.asarray(counts)[order]

    def __getitem__(self, key: int) -> int:
        i = int(positions(self.keys, int(key)))
        return int(self.counts[i]) if i >= 0 else 0

    def of(self, keys: np.ndarray) -> np.ndarray:
        """The counts of many keys at once (0 where absent)."""
        i = positions(self.keys, keys)
        return np.where(i >= 0, self.counts[np.maximum(i, 0)], 0) if len(self.keys) else np.zeros(len(keys), np.int64)

    def __len__(self) -> int:
        return len(self.keys)

    def most_common_keys(self) -> np.ndarray:
        """Keys by count, highest first; equal counts by key."""
        return self.keys[np.lexsort((self.keys, -self.counts))]


class StringTable:
    """A list of strings as one UTF-8 byte array and offsets; item `i` is decoded when asked for."""

    def __init__(self, blob: np.ndarray, offsets: np.ndarray) -> None:
        self.blob, self.offsets = blob, offsets
        self._bytes = np.ascontiguousarray(blob).data  # a plain buffer: no numpy call per string

    @classmethod
    def from_strings(cls, strings: Iterable[str]) -> StringTable:
        encoded = [s.encode("utf-8") for s in strings]
        offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
        np.cumsum([len(b) for b in encoded], out=offsets[1:])
        return cls(np.frombuffer(b"".join(encoded), dtype=np.uint8), offsets)

    def __getitem__(self, i: int) -> str:
        return str(self._bytes[int(self.offsets[i]) : int(self.offsets[i + 1])], "utf-8")

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def save(self, folder: Path, name: str) -> None:
        np.save(folder / f"{name}.blob.npy", self.blob)
        np.save(folder / f"{name}.offsets.npy", self.offsets)

    @classmethod
    def load(cls, folder: Path, name: str) -> StringTable:
        return cls(mapped(folder / f"{name}.blob.npy"), mapped(folder / f"{name}.offsets.npy"))


CSR_SUFFIX = ".csr"


def save_csr(folder: Path, matrix: sp.csr_matrix) -> None:
    """A CSR matrix as three plain `.npy` arrays plus its shape, so `load_csr` can memory-map them."""
    folder.mkdir()
    matrix.sort_indices()
    for name in ("data", "indices", "indptr"):
        np.save(folder / f"{name}.npy", getattr(matrix, name))
    np.save(folder / "shape.npy", np.asarray(matrix.shape, dtype=np.int64))


def load_csr(folder: Path) -> sp.csr_matrix:
    """The matrix `save_csr` wrote, over read-only memory maps: a cold start reads no table into memory, the
    pages a query touches come from the page cache, and a process serving several versions shares them."""
    arrays = {name: mapped(folder / f"{name}.npy") for name in ("data", "indices", "indptr")}
    rows, cols = (int(x) for x in np.load(folder / "shape.npy"))
    m = sp.csr_matrix((arrays["data"], arrays["indices"], arrays["indptr"]), shape=(rows, cols), copy=False)
    m.has_sorted_indices = True  # saved sorted; scipy would otherwise check (and try to sort) in place
    return m
