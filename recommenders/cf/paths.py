"""The served user paths: which artifact serves which protocol, the models compared for them, and the settings
that differ by path.

Two artifacts are served, each the default of one user path, chosen on the validation playlists and reported on
the test playlists of that same path (`recommenders.evaluation.report_path`):
- `CF_ARTIFACT` ("cf"): `/similar`, the one-seed protocol;
- `SESSION_ARTIFACT` ("cf-session"): `/session next`, the multi-seed protocol.
"""

from __future__ import annotations

from typing import Any

CF_ARTIFACT = "cf"
SESSION_ARTIFACT = "cf-session"
#: Served artifacts and the protocol (user path) each is chosen and reported on.
SERVED: dict[str, str] = {CF_ARTIFACT: "one-seed", SESSION_ARTIFACT: "multi-seed"}
#: The models compared for both paths (what `murecom setup` trains): the strong simple baselines and item-kNN;
#: ALS, Word2Vec and KNNBaseline lost on both paths (README) and are compared by `murecom eval` only.
CANDIDATES: tuple[str, ...] = ("sknn", "rp3beta", "itemknn", "ease")

#: Settings that differ by user path from the class defaults (both tuned on validation by bench/cf_tune.py):
#: RP3beta's popularity penalty helps a session but hurts a single seed; SKNN wants fewer neighbours for a session.
PATH_PARAMS: dict[str, dict[str, dict[str, Any]]] = {
    "one-seed": {"rp3beta": {"beta": 0.0}},
    "multi-seed": {"sknn": {"neighbours": 50}},
}
