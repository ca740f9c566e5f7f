"""RP3beta (Paudel et al. 2016): a 3-step random walk item → playlist → item, penalised by the target's popularity.

As in the "Are we really making much progress?" implementation (Dacrema et al. 2019): P_ui and P_iu are the
row-normalised playlist→item and item→playlist transition matrices, raised element-wise to `alpha`; the item-item
weight is W_ij = (P_iu P_ui)_ij / pop_j^beta, and each row keeps its `neighbours` largest weights. A query sums the
seeds' rows, like item-kNN (the same neighbour table, so the same reasons and persistence).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import ClassVar, Self

import numpy as np
import scipy.sparse as sp

from recommenders.cf.neighbours import NeighbourRecommender, build_table


def _row_normalised(m: sp.csr_matrix, power: float) -> sp.csr_matrix:
    """Each row divided by its sum (a transition matrix), then raised element-wise to `power`."""
    m = sp.csr_matrix(m, dtype=np.float64)
    sums = np.asarray(m.sum(axis=1)).ravel()
    out = sp.diags(1.0 / np.maximum(sums, 1e-12)) @ m
    out = sp.csr_matrix(out)
    out.data = np.power(out.data, power)
    return out


class RP3beta(NeighbourRecommender):
    """Popularity-penalised random-walk item similarity."""

    name: ClassVar[str] = "rp3beta"

    def __init__(self, alpha: float = 0.5, beta: float = 0.4, neighbours: int = 200, block: int = 2048) -> None:
        super().__init__()
        if neighbours < 1:
            raise ValueError("neighbours must be >= 1")
        self.alpha = float(alpha)
        self.beta = float(beta)
        self.neighbours = int(neighbours)
        self.block = int(block)

    def fit_sequences(
        self, sequences: Iterable[Sequence[int]], weights: Iterable[Sequence[float]] | None = None
    ) -> Self:
        binary, values, item_ids = self._interactions(sequences, weights)
        p_ui = _row_normalised(values, self.alpha)
        p_iu = _row_normalised(binary.T.tocsr(), self.alpha)
        pop = np.asarray(binary.sum(axis=0)).ravel()
        penalty = sp.diags(1.0 / np.power(np.maximum(pop, 1.0), self.beta))

        def block_scores(start: int, stop: int) -> sp.csr_matrix:
            return sp.csr_matrix((p_iu[start:stop] @ p_ui) @ penalty, dtype=np.float32)

        sim, cooc = build_table(binary, block_scores, self.neighbours, block=self.block)
        self._set_table(sim, cooc, item_ids)
        return self
