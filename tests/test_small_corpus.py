"""The fast tier's small corpus is exactly a prefix of the full Yes.com corpus (a slow test: it needs both).

Tests moved to the fast tier read `small_yes_corpus` instead of `yes_corpus` and assert what they asserted before;
this is what makes that honest: the same tracks (ids, titles, artists, popularity, tags) and, in order, the full
corpus's first playlists.
"""

from __future__ import annotations

from data.corpus import Corpus
from tests.conftest import SMALL_YES_PLAYLISTS


def test_the_small_corpus_is_the_full_one_cut_after_its_first_playlists(
    yes_corpus: Corpus, small_yes_corpus: Corpus
) -> None:
    full, small = yes_corpus.stats(), small_yes_corpus.stats()
    assert small["playlists"] == SMALL_YES_PLAYLISTS < full["playlists"]
    assert (small["tracks"], small["artists"]) == (full["tracks"], full["artists"])
    ids = sorted(yes_corpus.track_artists())
    assert sorted(small_yes_corpus.track_artists()) == ids
    assert small_yes_corpus.track_info(ids) == yes_corpus.track_info(ids)
    assert small_yes_corpus.track_tags() == yes_corpus.track_tags()
    assert small_yes_corpus.artist_names(range(1, full["artists"] + 1)) == yes_corpus.artist_names(
        range(1, full["artists"] + 1)
    )
    first = [list(p) for p in yes_corpus.playlists()][:SMALL_YES_PLAYLISTS]
    assert [list(p) for p in small_yes_corpus.playlists()] == first
    assert small_yes_corpus.playlist_ids() == yes_corpus.playlist_ids()[:SMALL_YES_PLAYLISTS]
