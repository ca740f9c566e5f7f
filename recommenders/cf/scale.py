"""Scale heuristics: which candidates are worth training on a corpus of this size (issue 13's training budget)."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np

from recommenders.cf.models import make_model, model_classes
from recommenders.cf.neighbours import NeighbourRecommender

#: A capped model (`max_items`: EASE^R, KNNBaseline) is compared only while its cap holds at least this share of
#: the training entries: below it most seeds are outside the model and answered by the fallback chain, so it
#: cannot win either path (on Yes.com EASE^R's 5,000 songs hold 84 % of the entries and it still loses both).
MIN_CAP_COVERAGE = 0.5
#: An item-item model (item-kNN, RP3beta: `NeighbourRecommender`) is compared only while the playlists' co-occurring
#: pairs, Σ|p|² (the work of its item × playlist × item product), stay under this many. Its fit grows at least with
#: them: 420 s for RP3beta at 6.5·10⁸ pairs (100 k synthetic MPD playlists, 2 shared cores, bench/mpd_scale.py), so
#: 2·10⁹ pairs is ~20 min per fit, and the split fit plus the refit must fit issue 13's 20-minute training budget
#: with the model that does serve. At the MPD's 1 M playlists (~6.5·10⁹ pairs) SKNN, whose fit is one pass over the
#: entries, is what is left.
MAX_PAIR_MASS = 2_000_000_000


def scaled_candidates(
    names: Sequence[str], sequences: Sequence[Sequence[int]], seed: int = 42, *, max_pairs: int = MAX_PAIR_MASS
) -> tuple[list[str], dict[str, str]]:
    """The candidates worth training on this corpus, and a note for each one skipped.

    Dense models stay capped (their classes refuse a cap beyond 2 GiB); what changes with size is whether the cap
    still covers the corpus, and whether an item-item model's fit (growing with the co-occurring pairs) still fits
    the training budget. Counting is one pass over the playlists, far cheaper than the fit saved.
    """
    classes = model_classes()
    params = {n: make_model(n, seed).params() for n in names}
    capped = {n: int(p["max_items"]) for n, p in params.items() if "max_items" in p}
    pairwise = [n for n in names if issubclass(classes[n], NeighbourRecommender)]
    if not capped and not pairwise:
        return list(names), {}
    lengths = np.fromiter((len(s) for s in sequences), dtype=np.int64)
    pairs = int((lengths * lengths).sum())
    flat = np.fromiter(itertools.chain.from_iterable(sequences), dtype=np.int64)
    total = len(flat)
    ranked = np.cumsum(np.sort(np.unique(flat, return_counts=True)[1])[::-1])
    keep, skipped = [], {}
    for n in names:
        if n in pairwise and pairs > max_pairs:
            skipped[n] = (
                f"{n} skipped: its item × item fit grows with the {pairs:,} co-occurring pairs of the training "
                f"playlists (limit {max_pairs:,}, about 20 minutes per fit on 2 cores), so it cannot be trained "
                f"within the budget at this size (pass --models {n} to train it anyway)"
            )
            continue
        if n in capped and total:
            share = float(ranked[min(capped[n], len(ranked)) - 1]) / total
            if share < MIN_CAP_COVERAGE:
                skipped[n] = (
                    f"{n} skipped: its cap of {capped[n]:,} songs holds {share:.0%} of the {total:,} training entries "
                    f"({len(ranked):,} songs), so most seeds would fall to the fallback chain; it cannot win at this "
                    f"size (pass --models {n} to train it anyway)"
                )
                continue
        keep.append(n)
    return keep, skipped
