"""Publishing per path on real Yes.com: each served artifact holds the default chosen on validation for its path,
its meta the figure measured on that path's test part, and `load_served` answers every corpus track."""

from __future__ import annotations

import pytest

from recommenders.artifacts import ArtifactStore
from recommenders.base import NotInModel
from recommenders.cf.models import make_model
from recommenders.cf.paths import CF_ARTIFACT, SERVED, SESSION_ARTIFACT
from recommenders.cf.serving import load_served, served_figure
from recommenders.cf.training import train_and_publish
from recommenders.evaluation import evaluate_recommender, playlist_split, primary_score

N_TEST = 300
MODELS = ["sknn", "itemknn"]


@pytest.fixture(scope="module")
def published(yes_corpus, tmp_path_factory):
    store = ArtifactStore(tmp_path_factory.mktemp("models"))
    return store, train_and_publish(yes_corpus, store, MODELS, n_test=N_TEST)


def test_each_path_serves_its_validation_default(published) -> None:
    store, summary = published
    for artifact, protocol in SERVED.items():
        meta = store.meta(artifact)
        served = meta["served"]
        assert served["protocol"] == protocol and served["split"]["part"] == "test"
        val = {n: summary["models"][n]["validation"][protocol] for n in MODELS}
        assert meta["model"] == max(MODELS, key=lambda n: (primary_score(val[n]), n))
        other = next(n for n in MODELS if n != meta["model"])
        ratio, lo, hi = served["ci"][other]["r_precision"]
        assert lo <= ratio <= hi
    assert summary["version"] == store.current_version(CF_ARTIFACT)


def test_the_figure_is_the_served_models_on_its_path(published, yes_corpus) -> None:
    """Re-measure the published model's settings on the same split and path: /about's line must quote it."""
    store, _ = published
    split = playlist_split(yes_corpus, n_test=N_TEST)
    for artifact, protocol in SERVED.items():
        meta = store.meta(artifact)
        model = split.fit(make_model(meta["model"], protocol=protocol))
        assert model.params() == meta["params"]
        again = evaluate_recommender(model, split.view("test", protocol))
        for metric in ("r_precision", "ndcg@100"):
            assert meta["served"]["metrics"][metric] == pytest.approx(again[metric])
        line = served_figure(meta)
        assert line == (
            f"{meta['model']}, {protocol} R-prec {again['r_precision']:.3f} / NDCG@100 {again['ndcg@100']:.3f} "
            f"on {len(split.cases):,} held-out playlists (test split)"
        )
    # a meta whose figure belongs to another model is refused, not printed
    meta = dict(store.meta(SESSION_ARTIFACT))
    meta["model"] = "rp3beta"
    with pytest.raises(ValueError, match="served figure is of"):
        served_figure(meta)
    assert "not evaluated" in served_figure({"model": "itemknn"})


def test_load_served_answers_every_corpus_track(published, yes_corpus, tmp_path) -> None:
    store, _ = published
    assert load_served(ArtifactStore(tmp_path), yes_corpus) is None
    served = load_served(store, yes_corpus, CF_ARTIFACT)  # its build time is measured by bench/cf_latency.py
    assert served is not None
    for track in sorted(yes_corpus.track_artists()):
        assert len(served.similar(track, 5)) == 5
    with pytest.raises(NotInModel):
        served.similar(10**9)


def test_the_session_artifact_is_served_with_the_chain(published, yes_corpus) -> None:
    store, summary = published
    assert store.current_version(SESSION_ARTIFACT) == summary["served"][SESSION_ARTIFACT]["version"]
    model = load_served(store, yes_corpus, SESSION_ARTIFACT)
    assert model is not None
    seeds = [int(t) for t in sorted(yes_corpus.track_artists())[:3]]
    assert len(model.similar_to_many(seeds, 10)) == 10
