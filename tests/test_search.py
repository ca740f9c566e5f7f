"""Name search on the real Yes.com titles: exact, typos, "title - artist", artist-only, Spotify links, hostile input."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import func, select, update

from data.corpus import Corpus
from data.importers.yes import import_yes
from data.models import Track
from data.query_set import build_queries, outcomes, songs, success_by_kind, tune_threshold
from data.search import CONFIDENT, QueryError, TrackSearch, normalize, parse_spotify_track_id

# The index covers every track (title, artists, popularity): the small corpus holds all 9,775 exactly as the full
# one does (tests/test_small_corpus.py), so these run in the fast tier.
pytestmark = pytest.mark.fast


@pytest.fixture(scope="module")
def search(small_yes_corpus: Corpus) -> TrackSearch:
    return TrackSearch(small_yes_corpus)


@pytest.mark.parametrize(
    ("query", "title", "artist"),
    [
        ("hotel california", "Hotel California", "The Eagles"),
        ("hotel califrnia", "Hotel California", "The Eagles"),
        ("Hotel California - Eagles", "Hotel California", "The Eagles"),
        ("eagles hotel california", "Hotel California", "The Eagles"),
        ("stairway to haven led zepelin", "Stairway To Heaven", "Led Zeppelin"),
        ("nirvana smells like teen spirit", "Smells Like Teen Spirit", "Nirvana"),
        ("smells like teen spirit by nirvana", "Smells Like Teen Spirit", "Nirvana"),
        ("black and yellow", "Black And Yellow", "Wiz Khalifa"),
        ("BEYONCÉ halo", "Halo", "Beyonce"),
        ("whip my hair", "Whip My Hair", "Willow"),
    ],
)
def test_resolves_real_titles(search: TrackSearch, query: str, title: str, artist: str) -> None:
    res = search.search(query)
    assert res.best is not None
    assert (res.best.track.title, res.best.track.artist) == (title, artist)
    assert not res.ambiguous
    assert res.best.score > 0.9


def test_artist_only_query_is_ambiguous_and_lists_that_artist_by_popularity(search: TrackSearch) -> None:
    res = search.search("the eagles", limit=5)
    assert res.ambiguous
    assert len(res.candidates) == 5
    assert all(c.track.artist == "The Eagles" for c in res.candidates)
    pops = [c.track.popularity for c in res.candidates]
    assert pops == sorted(pops, reverse=True)


def test_real_names_resolve_to_the_song_when_sure(search: TrackSearch) -> None:
    for query in ("hotel califrnia", "stairway to haven led zepelin", "Hotel California - Eagles"):
        sure, offer = search.search(query, 10).decide()
        assert sure is not None and offer == [], query
    sure, offer = search.search("eagles", 10).decide()  # an artist alone: one of their songs, which one?
    assert sure is None and len(offer) == 5 and {c.track.artist for c in offer} == {"The Eagles"}


@pytest.mark.parametrize(
    "query",
    # real songs the corpus lacks: by artists it knows (Led Zeppelin, The Eagles) and by one it does not
    ["the rain song led zeppelin", "No Quarter - Led Zeppelin", "get over it eagles", "blinding lights the weeknd"],
)
def test_a_song_the_catalogue_lacks_is_not_offered_as_another(search: TrackSearch, query: str) -> None:
    """The old floor offered the artist's other songs as "did you mean" (Black Dog for "the rain song")."""
    res = search.search(query, 10)
    assert res.decide() == (None, [])
    assert all(c.confidence < CONFIDENT for c in res.candidates)


def test_the_confidence_threshold_is_the_one_tuned_on_validation_queries(search: TrackSearch, small_yes_engine) -> None:
    """`CONFIDENT` is what `tune_threshold` picks on the validation half (a smaller draw than the 400 per kind the
    constant's comment reports, so the fast tier can afford it: it must land within a few hundredths)."""
    queries = [q for q in build_queries(songs(small_yes_engine), per_kind=120) if q.split == "validation"]
    validation = outcomes(search, queries)
    tuned = tune_threshold(validation)
    assert abs(tuned - CONFIDENT) <= 0.06, tuned
    rates = success_by_kind(validation, CONFIDENT)
    assert rates["name"] >= 0.97 and rates["title"] >= 0.97 and rates["typo"] >= 0.85 and rates["absent"] >= 0.8
    assert success_by_kind(validation, 0.35)["absent"] < 0.2  # the old floor: nearly every absent song mis-offered


def test_candidates_are_ranked_by_confidence(search: TrackSearch) -> None:
    res = search.search("california", limit=5)
    scores = [c.score for c in res.candidates]
    assert scores == sorted(scores, reverse=True)
    assert all(0 <= s <= 1 for s in scores)


@pytest.mark.parametrize(
    "query",
    ["'; DROP TABLE tracks;--", 'title" OR 1=1 --', "AND *", "NEAR(a b)", "🎵🎶🔥", "%_%", "\\x00", "a" * 199],
)
def test_hostile_or_odd_input_is_plain_text(search: TrackSearch, small_yes_engine, query: str) -> None:
    with small_yes_engine.connect() as conn:
        before = conn.scalar(select(func.count()).select_from(Track))
    t0 = time.perf_counter()
    res = search.search(query)
    assert time.perf_counter() - t0 < 2.0
    assert all(0 <= c.score <= 1 for c in res.candidates)
    with small_yes_engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(Track)) == before


@pytest.mark.parametrize("query", ["", "   ", "\n\t", "x" * 10_000])
def test_empty_or_huge_query_gets_a_clear_error(search: TrackSearch, query: str) -> None:
    with pytest.raises(QueryError) as err:
        search.search(query)
    assert "song" in str(err.value) or "characters" in str(err.value)


def test_spotify_link_uri_and_id(empty_engine, shared_data, tmp_path) -> None:
    import_yes(empty_engine, shared_data / "yes_big", limit=50)
    corpus = Corpus(empty_engine)
    with empty_engine.begin() as conn:
        tid = conn.scalar(select(Track.id).where(Track.title == "Hotel California"))
        conn.execute(update(Track).where(Track.id == tid).values(spotify_id="40riOy7x9W7GXjyGp4pjAv"))
    search = TrackSearch(corpus)
    for q in (
        "https://open.spotify.com/track/40riOy7x9W7GXjyGp4pjAv?si=abc",
        "https://open.spotify.com/intl-de/track/40riOy7x9W7GXjyGp4pjAv",
        "spotify:track:40riOy7x9W7GXjyGp4pjAv",
        "40riOy7x9W7GXjyGp4pjAv",
    ):
        res = search.search(q)
        assert res.best is not None and res.best.track.id == tid and res.best.score == 1.0
    assert search.search("spotify:track:0000000000000000000000").candidates == []
    saved = tmp_path / "search"
    saved.mkdir()
    search.save(saved)
    loaded = TrackSearch.load(saved, corpus)
    assert loaded.search("spotify:track:40riOy7x9W7GXjyGp4pjAv").best.track.id == tid  # type: ignore[union-attr]
    assert loaded.search("spotify:track:0000000000000000000000").candidates == []


def test_parse_and_normalize() -> None:
    assert parse_spotify_track_id("hotel california") is None
    assert parse_spotify_track_id("spotify:track:40riOy7x9W7GXjyGp4pjAv") == "40riOy7x9W7GXjyGp4pjAv"
    assert normalize("Beyoncé's  HALO!") == "beyonce s halo"


def test_suggest_prefix(search: TrackSearch) -> None:
    short = search.suggest("ho", limit=10)
    assert 0 < len(short) <= 10
    assert all(normalize(c.track.title).startswith("ho") for c in short)
    longer = search.suggest("hotel cal", limit=5)
    assert longer[0].track.title == "Hotel California"


def test_a_saved_index_answers_exactly_as_the_built_one(
    search: TrackSearch, small_yes_corpus: Corpus, tmp_path
) -> None:
    """The serving snapshot loads a saved index (memory-mapped arrays) instead of rebuilding it at every start."""
    search.save(tmp_path)
    loaded = TrackSearch.load(tmp_path, small_yes_corpus)
    assert len(loaded) == len(search)
    queries = ["hotel califrnia", "Hotel California - Eagles", "BEYONCÉ halo", "eagles", "a", "'; DROP TABLE x"]
    for q in queries:
        assert loaded.search(q) == search.search(q)
    assert loaded.suggest("ho", 10) == search.suggest("ho", 10)
