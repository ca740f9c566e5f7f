"""The tags bridge on the real Yes.com corpus: a clip's tag probabilities reach catalogue tracks whose Last.fm tags
fit (an idf-weighted F-measure of coverage and support, popularity as a gentle lift, variety over the list), with
the fitting tags as the reason."""

from __future__ import annotations

import numpy as np
import pytest

from data.corpus import Corpus
from recommenders.audio.musicnn import MSD_LABELS
from recommenders.audio.tags import TagBridge
from recommenders.tags import TagIndex


@pytest.fixture(scope="module")
def corpus(yes_corpus) -> Corpus:
    return yes_corpus


@pytest.fixture(scope="module")
def bridge(corpus) -> TagBridge:
    return TagBridge(TagIndex.from_corpus(corpus), MSD_LABELS)


def probs(**tags: float) -> np.ndarray:
    p = np.full(len(MSD_LABELS), 0.02, np.float32)
    for name, value in tags.items():
        p[[t.lower() for t in MSD_LABELS].index(name.replace("_", " ").lower())] = value
    return p


def test_the_bridge_covers_the_tagged_catalogue(bridge, corpus) -> None:
    tagged = corpus.track_tags()
    assert len(bridge) > 0.5 * len(tagged) and len(bridge) > 5_000


@pytest.mark.parametrize(("clip", "tag"), [({"country": 0.8}, "country"), ({"jazz": 0.7, "rock": 0.3}, "jazz")])
def test_tracks_tagged_like_the_clip_come_first(bridge, corpus, clip, tag) -> None:
    recs = bridge.recommend(probs(**clip), 10)
    tags = corpus.track_tags()
    assert len(recs) == 10
    assert all(tag in tags[r.track_id] for r in recs), [sorted(tags[r.track_id]) for r in recs]
    assert all(r.reason.startswith("tagged alike: ") and tag in r.reason for r in recs)
    scores = [r.score for r in recs]
    assert scores[0] == max(scores)  # the best fit leads; variety (MMR) may order the rest otherwise


def test_idf_lets_a_rare_tag_outweigh_a_common_one(bridge, corpus) -> None:
    """rock is on a large share of the catalogue, punk on few: a clip equally rock and punk gets punk tracks."""
    tags = corpus.track_tags()
    share = {t: sum(t in v for v in tags.values()) / len(tags) for t in ("rock", "punk")}
    assert share["rock"] > 3 * share["punk"]
    recs = bridge.recommend(probs(rock=0.5, punk=0.5), 10)
    assert sum("punk" in tags[r.track_id] for r in recs) >= 8


@pytest.mark.fast
def test_popularity_breaks_ties_between_equally_tagged_tracks() -> None:
    tags = TagIndex({1: frozenset({"jazz"}), 2: frozenset({"jazz"}), 3: frozenset({"rock"})}, {1: 3, 2: 300, 3: 1000})
    bridge = TagBridge(tags, MSD_LABELS)
    recs = bridge.recommend(probs(jazz=0.9), 3)
    assert [r.track_id for r in recs[:2]] == [2, 1] and recs[0].score > recs[1].score
    assert bridge.recommend(probs(jazz=0.9), 3, exclude={2})[0].track_id == 1


@pytest.mark.fast
def test_a_track_with_one_matching_tag_no_longer_outranks_a_fuller_matching_profile(small_yes_corpus) -> None:
    """Issue 23: a clip that is jazz and clearly instrumental too. The cosine gave a track tagged only "jazz" a
    better fit than one tagged jazz and instrumental (sparse tag lists won); the bridge's fit does not."""
    vocabulary = {t.lower() for t in MSD_LABELS}
    tagged = {t: frozenset(x.lower() for x in v) & vocabulary for t, v in small_yes_corpus.track_tags().items()}
    only_jazz = [t for t, v in tagged.items() if v == {"jazz"}]
    jazz_instrumental = [t for t, v in tagged.items() if v == {"jazz", "instrumental"}]
    assert only_jazz and jazz_instrumental
    index = TagIndex.from_corpus(small_yes_corpus)
    clip = probs(jazz=0.55, instrumental=0.2)
    served, cosine = TagBridge(index, MSD_LABELS), TagBridge(index, MSD_LABELS, beta=None, variety=0.0, spread=0.0)
    row = {int(t): i for i, t in enumerate(served.track_ids)}
    sparse, full = row[only_jazz[0]], row[jazz_instrumental[0]]
    assert cosine.fit(clip)[sparse] > cosine.fit(clip)[full]  # the weakness, on these very tracks
    assert served.fit(clip)[full] > served.fit(clip)[sparse]
    first = served.recommend(clip, 5)[0]
    assert tagged[first.track_id] >= {"jazz", "instrumental"}, tagged[first.track_id]
