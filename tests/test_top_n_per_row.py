"""`top_n_per_row` (the neighbour tables of item-kNN, RP3beta, KNNBaseline) against a plain per-row sort."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from recommenders.cf.common import top_n_per_row

pytestmark = pytest.mark.fast


def reference(m: sp.csr_matrix, n: int, comp: sp.csr_matrix) -> list[tuple[list[int], list[float], list[float]]]:
    """Per row: the n best (score desc, column asc) as (columns, scores, companion values)."""
    out = []
    for r in range(m.shape[0]):
        row, crow = m.getrow(r).tocoo(), comp.getrow(r).tocsr()
        best = sorted(zip(row.col.tolist(), row.data.tolist(), strict=True), key=lambda x: (-x[1], x[0]))[:n]
        out.append(([c for c, _ in best], [d for _, d in best], [float(crow[0, c]) for c, _ in best]))
    return out


@pytest.mark.parametrize("n", [1, 3, 7, 50])
def test_keeps_the_n_best_of_each_row_best_first_ties_by_column(n: int) -> None:
    rng = np.random.default_rng(n)
    # few distinct values, so many ties fall exactly at the cut
    dense = rng.integers(0, 5, size=(40, 60)).astype(np.float32) * (rng.random((40, 60)) < 0.5)
    dense[3] = 0.0  # an empty row
    dense[4, :2] = [2.0, 2.0]  # a row shorter than n
    m = sp.csr_matrix(dense)
    comp = m.copy()
    comp.data = np.arange(1, comp.nnz + 1, dtype=np.float32)  # distinct companion values follow their entries
    s, c = top_n_per_row(m, n, comp)
    for r, (cols, scores, comps) in enumerate(reference(m, n, comp)):
        lo, hi = s.indptr[r], s.indptr[r + 1]
        assert s.indices[lo:hi].tolist() == cols
        assert s.data[lo:hi].tolist() == scores
        assert c.data[lo:hi].tolist() == comps and c.indices[lo:hi].tolist() == cols


def test_a_companion_with_another_pattern_is_refused() -> None:
    m = sp.csr_matrix(np.eye(3, dtype=np.float32))
    with pytest.raises(ValueError, match="sparsity pattern"):
        top_n_per_row(m, 1, sp.csr_matrix(np.ones((3, 3), dtype=np.float32)))
