"""A synthetic playlist corpus with realistic power-law popularity, for the CF scaling benchmarks only.

Track popularity follows a Zipf law (exponent `zipf`, ~1.0 for music plays); playlist lengths are log-normal
(median ~`median_len`, clipped to [5, 250]), like the Million Playlist Dataset's shape. Generation is vectorised:
1M playlists × 2M tracks take a few seconds. Tests never use this (they use the real Yes.com data).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp


def synthetic_matrix(
    n_playlists: int, n_tracks: int, *, median_len: float = 20.0, zipf: float = 1.0, seed: int = 0
) -> sp.csr_matrix:
    """Binary playlists × tracks CSR matrix (duplicates within a playlist collapsed)."""
    rng = np.random.default_rng(seed)
    lengths = np.clip(rng.lognormal(np.log(median_len), 0.8, n_playlists), 5, 250).astype(np.int64)
    ranks = np.arange(1, n_tracks + 1, dtype=np.float64)
    cdf = np.cumsum(ranks**-zipf)
    cdf /= cdf[-1]
    total = int(lengths.sum())
    cols = np.searchsorted(cdf, rng.random(total)).astype(np.int32)
    cols = rng.permutation(n_tracks).astype(np.int32)[cols]  # popular tracks not all at low ids
    rows = np.repeat(np.arange(n_playlists, dtype=np.int32), lengths)
    m = sp.csr_matrix((np.ones(total, np.float32), (rows, cols)), shape=(n_playlists, n_tracks))
    m.sum_duplicates()
    m.data[:] = 1.0
    return m


def used_columns(m: sp.csr_matrix) -> tuple[sp.csr_matrix, np.ndarray]:
    """Drop tracks nobody played; returns the matrix and the kept track ids."""
    used = np.flatnonzero(np.diff(m.tocsc().indptr) > 0)
    return m[:, used].tocsr(), used.astype(np.int64)
