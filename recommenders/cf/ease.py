"""EASE^R (Steck 2019): a closed-form linear item-item model, B = I − P·diag(1/diag(P)), P = (XᵀX + λI)⁻¹.

It is a *dense* items × items inverse: XᵀX, its inverse and B are n² floats each (float64 while fitting, about
20·n² bytes at the peak), and the inversion costs n³. So, like the Surprise KNNBaseline model, it keeps only the
`max_items` most popular items (default 5,000: ≈0.5 GB peak, ~10 s on 2 cores) and refuses a cap whose dense
matrices would exceed `MAX_DENSE_BYTES`; a seed outside the cap is `NotInModel` (the fallback chain answers it).
Weights may be negative (a song that does *not* go with the seed), so scores are not clipped at zero.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, ClassVar, Self

import numpy as np
import scipy.sparse as sp

from recommenders.cf.common import State
from recommenders.cf.neighbours import NeighbourRecommender

#: Bytes per item pair at the fitting peak (Gram and inverse in float64, B in float32).
BYTES_PER_PAIR = 20
MAX_DENSE_BYTES = 2 * 1024**3


def max_items_for(budget_bytes: int = MAX_DENSE_BYTES) -> int:
    """The largest item count whose dense matrices fit `budget_bytes`."""
    return int((budget_bytes / BYTES_PER_PAIR) ** 0.5)


class EASE(NeighbourRecommender):
    """Embarrassingly shallow autoencoder on the binary playlist × track matrix, capped to the popular items."""

    name: ClassVar[str] = "ease"
    positive_only: ClassVar[bool] = False

    def __init__(self, l2: float = 200.0, max_items: int = 5000) -> None:
        super().__init__()
        if max_items > max_items_for():
            raise ValueError(
                f"max_items={max_items} needs ~{BYTES_PER_PAIR * max_items**2 / 1024**3:.1f} GiB of dense item×item "
                f"matrices; the limit is {max_items_for()} items. Use rp3beta or itemknn for larger catalogues."
            )
        self.l2 = float(l2)
        self.max_items = int(max_items)
        self._b = np.zeros((0, 0), dtype=np.float32)

    def fit_sequences(
        self, sequences: Iterable[Sequence[int]], weights: Iterable[Sequence[float]] | None = None
    ) -> Self:
        binary, _values, item_ids = self._interactions(sequences, weights)
        pop = np.asarray(binary.sum(axis=0)).ravel()
        keep = np.sort(np.lexsort((item_ids, -pop))[: self.max_items])
        x = binary[:, keep].tocsr()
        gram = (x.T @ x).toarray().astype(np.float64)
        cooc = sp.csr_matrix(gram, dtype=np.int32)
        gram[np.diag_indices_from(gram)] += self.l2
        p = np.linalg.inv(gram)
        b = -p / np.diag(p)[None, :]
        b[np.diag_indices_from(b)] = 0.0
        cooc.setdiag(0)
        cooc.eliminate_zeros()
        self._set_items(item_ids[keep])
        self._restore({"weights": b.astype(np.float32), "cooccurrence": cooc})
        return self

    def scores(self, rows: np.ndarray, weights: np.ndarray) -> np.ndarray:
        return weights @ self._b[rows]

    def _state(self) -> State:
        return {"weights": self._b, "cooccurrence": self._cooc}

    def _restore(self, state: Mapping[str, Any]) -> None:
        self._b = np.asarray(state["weights"], dtype=np.float32)
        self._cooc = sp.csr_matrix(state["cooccurrence"], dtype=np.int32)
