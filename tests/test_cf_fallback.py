"""The fallback chain on real Yes.com + HetRec data: every corpus track gets labelled picks; cold start vs popular."""

from __future__ import annotations

import pytest

from data.corpus import Corpus
from data.db import make_engine, migrate
from recommenders.base import NotInModel
from recommenders.cf.fallback import WithFallback
from recommenders.cf.itemknn import ItemKNN
from recommenders.evaluation import cold_start_split, evaluate_recommender, paired_ratio


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, shared_data) -> Corpus:
    """Yes.com playlists and the HetRec listeners in one database (the listeners feed artist similarity)."""
    from data.importers.hetrec import import_hetrec
    from data.importers.yes import import_yes

    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('fb') / 'fb.db'}")
    migrate(engine)
    import_yes(engine, shared_data / "yes_big")
    import_hetrec(engine, shared_data / "hetrec-lastfm-2k")
    yield Corpus(engine)
    engine.dispose()


@pytest.fixture(scope="module")
def cold(corpus):
    return cold_start_split(corpus, source="yes", n_songs=300, seed=5)


@pytest.fixture(scope="module")
def chain(corpus, cold) -> WithFallback:
    return WithFallback.from_corpus(cold.fit(ItemKNN()), corpus, cold.train)


def test_cold_start_beats_popularity_with_an_interval(chain, corpus, cold) -> None:
    popular = WithFallback.from_corpus(chain.inner, corpus, cold.train, steps=("popular",))
    ours, theirs = {}, {}
    a = evaluate_recommender(chain, cold, per_case=ours)
    b = evaluate_recommender(popular, cold, per_case=theirs)
    assert a["answered"] == b["answered"] == 1.0  # no seed is left without an answer
    for metric in ("ndcg@100", "r_precision"):
        ratio, lo, _ = paired_ratio(ours[metric], theirs[metric])
        assert lo > 1.0, (metric, ratio, lo)


def test_unknown_seed_gets_its_artist_then_related_artists(chain, cold, corpus) -> None:
    artists = corpus.track_artists()
    seed = cold.cases[0].one_seed
    assert seed not in chain.inner
    recs = chain.similar(seed, 40)
    assert len(recs) == 40 and seed not in {r.track_id for r in recs}
    assert [r.score for r in recs] == sorted((r.score for r in recs), reverse=True)
    own = set(artists[seed])
    same = [r for r in recs if r.reason == "by the same artist"]
    assert same and all(own & set(artists[r.track_id]) for r in same)
    related = [r for r in recs if r.reason.startswith("by related artists: ")]
    assert related
    names = corpus.artist_names({a for r in related for a in artists[r.track_id]})
    for r in related:
        assert r.reason.removeprefix("by related artists: ") in {names[a] for a in artists[r.track_id]}
        assert not own & set(artists[r.track_id])


def test_tag_steps_say_which_tags(chain, corpus, cold) -> None:
    tags = corpus.track_tags()
    seed = max((c.one_seed for c in cold.cases), key=lambda t: (len(tags.get(t, ())), t))
    assert seed not in chain.inner and len(tags[seed]) >= 3
    by_tags = WithFallback(
        chain.inner, [], chain.track_artists, chain.track_tags, steps=("tags", "dominant_tag")
    ).similar(seed, 15)
    assert by_tags[0].reason.startswith("same tags: ")
    for r in by_tags:
        if r.reason.startswith("same tags: "):
            shared = set(r.reason.removeprefix("same tags: ").split(", "))
            assert shared <= tags[seed] & tags[r.track_id]
    dom = WithFallback(chain.inner, [], chain.track_artists, chain.track_tags, steps=("dominant_tag",))
    picks = dom.similar(seed, 10)
    tag = picks[0].reason.removeprefix("popular in ")
    assert tag in tags[seed] and all(tag in tags[r.track_id] for r in picks)


def test_known_seed_is_the_models_answer_and_foreign_ids_raise(chain) -> None:
    seed = int(chain.inner.item_ids[0])
    assert chain.similar(seed, 10) == chain.inner.similar(seed, 10)
    with pytest.raises(NotInModel):
        chain.similar(10**9)
    with pytest.raises(ValueError, match="unknown fallback steps"):
        WithFallback(chain.inner, [], {}, {}, steps=("nope",))


def test_a_saved_chain_answers_exactly_as_the_built_one(chain, cold, tmp_path) -> None:
    """The serving snapshot loads a saved chain (memory-mapped arrays) instead of rebuilding it from the corpus."""
    chain.save(tmp_path)
    loaded = WithFallback.load(tmp_path, chain.inner)
    seeds = [c.one_seed for c in cold.cases[:60]]
    assert all(s not in chain.inner for s in seeds)  # every answer comes from the chain itself
    reasons = set()
    for seed in seeds:
        expected = chain.similar(seed, 12)
        assert loaded.similar(seed, 12) == expected
        reasons.update(r.reason.split(":")[0] for r in expected)
    assert {"by the same artist", "by related artists", "same tags"} <= reasons
    many = [c.one_seed for c in cold.cases[60:64]]
    assert loaded.similar_to_many(many, 20) == chain.similar_to_many(many, 20)
    assert (10**9 in loaded) is False and all(s in loaded for s in seeds)
    with pytest.raises(ValueError, match="needs the CF model"):
        WithFallback.load(tmp_path)
