"""The Yes.com importer on the real files: counts match the dataset's README, re-running adds nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from data.corpus import Corpus
from data.importers.yes import import_yes
from data.models import Track


def test_counts_match_published_figures(yes_corpus: Corpus) -> None:
    stats = yes_corpus.stats()
    assert stats["tracks"] == 9775
    assert stats["playlists"] == 18139
    playlists = list(yes_corpus.playlists())
    transitions = sum(len(p) - 1 for p in playlists)
    assert transitions == 172510


def test_play_order_and_metadata_survive(yes_corpus: Corpus, shared_data) -> None:
    first_line = (shared_data / "yes_big" / "train.txt").read_text().splitlines()[2].split()
    first = next(iter(yes_corpus.playlists()))
    info = yes_corpus.track_info(first)
    assert [info[t].title for t in first][:3] == [
        "Gucci Time (w/ Swizz Beatz)",
        "Aston Martin Music (w/ Drake & Chrisette Michelle)",
        "Get Back Up (w/ Chris Brown)",
    ][: len(first_line)]
    assert info[first[0]].artists == ("Gucci Mane",)


def test_tags_and_popularity_imported(yes_corpus: Corpus, yes_engine) -> None:
    tags = yes_corpus.track_tags()
    assert len(tags) > 5000
    assert any("rock" in t for t in tags.values())
    with yes_engine.connect() as conn:
        top = conn.execute(select(Track.title).order_by(Track.popularity.desc()).limit(1)).scalar_one()
        assert conn.scalar(select(func.max(Track.popularity))) > 100
    assert top


@pytest.mark.fast
def test_reimport_is_idempotent(empty_engine, shared_data) -> None:
    first = import_yes(empty_engine, shared_data / "yes_big", limit=500)
    before = Corpus(empty_engine).stats()
    second = import_yes(empty_engine, shared_data / "yes_big", limit=500)
    assert first.playlists_new == 500
    assert second.playlists_new == 0
    assert Corpus(empty_engine).stats() == before
