"""Surprise's KNNBaseline, item-based, fed a *graded* signal so that its neighbours are ordered by evidence.

Why not plain playlist membership: if every rating is 1, Surprise's `pearson_baseline` divides by a zero variance
(ZeroDivisionError), and `msd`/`cosine` give every co-occurring pair exactly 1.0, so neighbours are arbitrary ties.
The graded signal used here, per playlist (or listener):
- playlists: a member song is rated 4, or 5 when the station played it more than once; as many non-member songs as
  members, drawn by popularity (seeded), are rated 1 ("a popular song this playlist did not pick"). Item baselines
  then learn each song's acceptance rate and the shrunk Pearson correlation of the residuals rewards pairs that
  are picked (and skipped) together, more so the more playlists support it;
- listeners (Last.fm): the real play counts, log-scaled into 1..5 per listener (their own most played = 5).
The similarity matrix Surprise builds is dense, n_items² float64 several times over (freq, products, squares, sim:
about 40·n² bytes while fitting), so the model keeps only the `max_items` most popular items (default 3000, ≈360 MB
peak) and refuses a `max_items` whose dense matrices would exceed `MAX_DENSE_BYTES` (2 GiB): use item-kNN or ALS
beyond. After fitting, only the top `neighbours` per item are kept, in the same sparse table as item-kNN.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import ClassVar, Self

import numpy as np
import scipy.sparse as sp

from recommenders.cf.common import interaction_matrix, top_n_per_row
from recommenders.cf.neighbours import NeighbourRecommender

#: Bytes Surprise needs per item pair while computing pearson_baseline (int64 freq + 4 float64 n×n arrays).
BYTES_PER_PAIR = 40
#: Refuse configurations whose dense item×item matrices would exceed this.
MAX_DENSE_BYTES = 2 * 1024**3
SIMILARITIES = ("pearson_baseline", "msd", "cosine", "pearson")


def max_items_for(budget_bytes: int = MAX_DENSE_BYTES) -> int:
    """The largest item count whose dense similarity computation fits `budget_bytes`."""
    return int((budget_bytes / BYTES_PER_PAIR) ** 0.5)


class SurpriseKNNBaseline(NeighbourRecommender):
    """Item-based KNNBaseline (pearson_baseline similarity) on a graded signal, capped to the most popular items."""

    name: ClassVar[str] = "knnbaseline"

    def __init__(
        self,
        max_items: int = 3000,
        neighbours: int = 200,
        similarity: str = "pearson_baseline",
        shrinkage: int = 100,
        negatives: float = 1.0,
        graded: bool = True,
        seed: int = 42,
    ) -> None:
        super().__init__()
        if similarity not in SIMILARITIES:
            raise ValueError(f"similarity must be one of {SIMILARITIES}")
        limit = max_items_for()
        if max_items > limit:
            raise ValueError(
                f"max_items={max_items} needs ~{BYTES_PER_PAIR * max_items**2 / 1024**3:.1f} GiB of dense item×item "
                f"matrices; the limit is {limit} items ({MAX_DENSE_BYTES / 1024**3:.0f} GiB). "
                "Use the itemknn or als model for larger catalogues."
            )
        if not graded and similarity in ("pearson_baseline", "pearson"):
            raise ValueError(
                f"{similarity} on all-1 ratings divides by a zero variance: keep graded=True or use msd/cosine"
            )
        if max_items < 2:
            raise ValueError("max_items must be >= 2")
        self.max_items = int(max_items)
        self.neighbours = int(neighbours)
        self.similarity = similarity
        self.shrinkage = int(shrinkage)
        self.negatives = float(negatives)
        self.graded = bool(graded)
        self.seed = int(seed)
        self.trainset_ratings = 0

    # --- the graded signal ------------------------------------------------------------------------------------
    def ratings(self, binary: sp.csr_matrix, graded: sp.csr_matrix, listeners: bool) -> sp.csr_matrix:
        """Rows × items ratings in 1..5 (0 = unrated) from membership/plays; see the module docstring."""
        rng = np.random.default_rng(self.seed)
        if not self.graded:
            return binary.copy()
        if listeners:
            out = graded.tocsr().astype(np.float64)
            for r in range(out.shape[0]):
                lo, hi = out.indptr[r], out.indptr[r + 1]
                if hi > lo:
                    v = np.log1p(out.data[lo:hi])
                    top = v.max()
                    out.data[lo:hi] = 1.0 + 4.0 * v / top if top > 0 else 3.0
            return out.tocsr()
        pos = graded.tocsr().astype(np.float64)
        pos.data = np.where(pos.data > 1, 5.0, 4.0)
        if self.negatives <= 0:
            return pos
        pop = np.asarray(binary.sum(axis=0)).ravel()
        p = pop / pop.sum()
        rows, cols = [], []
        n_items = binary.shape[1]
        for r in range(binary.shape[0]):
            members = binary.indices[binary.indptr[r] : binary.indptr[r + 1]]
            want = min(int(round(len(members) * self.negatives)), n_items - len(members))
            if want <= 0:
                continue
            draw = rng.choice(n_items, size=min(n_items, want * 2 + 4), replace=False, p=p)
            draw = draw[~np.isin(draw, members)][:want]
            rows.append(np.full(len(draw), r))
            cols.append(draw)
        if rows:
            neg = sp.csr_matrix(
                (np.ones(sum(len(c) for c in cols)), (np.concatenate(rows), np.concatenate(cols))), shape=pos.shape
            )
            pos = (pos + neg).tocsr()
        return pos

    # --- fitting ----------------------------------------------------------------------------------------------
    def fit_sequences(
        self, sequences: Iterable[Sequence[int]], weights: Iterable[Sequence[float]] | None = None
    ) -> Self:
        listeners = weights is not None
        if listeners:
            self.unit = "listeners"
        binary, graded, item_ids = interaction_matrix(sequences, weights)
        pop = np.asarray(binary.sum(axis=0)).ravel()
        keep = np.lexsort((item_ids, -pop))[: self.max_items]
        keep.sort()
        binary, graded, item_ids = binary[:, keep].tocsr(), graded[:, keep].tocsr(), item_ids[keep]
        active = np.diff(binary.indptr) > 0
        binary, graded = binary[active], graded[active]
        if binary.shape[1] < 2 or binary.shape[0] == 0:
            raise ValueError("not enough data for KNNBaseline: need at least two items rated by someone")
        ratings = self.ratings(binary, graded, listeners)
        sim = self._surprise_similarity(ratings)
        np.fill_diagonal(sim, 0.0)
        s = sp.csr_matrix(np.where(sim > 0, sim, 0.0))
        s.eliminate_zeros()
        (s,) = top_n_per_row(s, self.neighbours)
        # the evidence quoted in reasons: playlists holding both songs, gathered at the kept positions
        cooc = (binary.T @ binary).tocsr()
        rows = np.repeat(np.arange(s.shape[0]), np.diff(s.indptr))
        counts = np.asarray(cooc[rows, s.indices]).ravel() if s.nnz else np.zeros(0)
        c = sp.csr_matrix((counts, s.indices.copy(), s.indptr.copy()), shape=s.shape)
        self._set_table(s, c, item_ids)
        return self

    def _surprise_similarity(self, ratings: sp.csr_matrix) -> np.ndarray:
        """Run Surprise's KNNBaseline on a Trainset built straight from the ratings matrix; returns its sim."""
        from surprise import KNNBaseline, Trainset  # lazy: Surprise is needed only to fit, never to serve

        ratings = ratings.tocsr()
        coo = ratings.tocoo()
        ur: dict[int, list[tuple[int, float]]] = {}
        ir: dict[int, list[tuple[int, float]]] = {}
        for u, i, r in zip(coo.row.tolist(), coo.col.tolist(), coo.data.tolist(), strict=True):
            ur.setdefault(u, []).append((i, r))
            ir.setdefault(i, []).append((u, r))
        n_users, n_items = ratings.shape
        trainset = Trainset(
            ur,
            ir,
            n_users,
            n_items,
            len(coo.data),
            (1, 5),
            {u: u for u in range(n_users)},
            {i: i for i in range(n_items)},
        )
        self.trainset_ratings = len(coo.data)
        algo = KNNBaseline(
            k=self.neighbours,
            sim_options={"name": self.similarity, "user_based": False, "shrinkage": self.shrinkage},
            bsl_options={"method": "als", "n_epochs": 10},
            verbose=False,
        )
        algo.fit(trainset)
        return np.asarray(algo.sim, dtype=np.float64)
