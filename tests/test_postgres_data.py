"""The data layer on PostgreSQL: migrations, importers (idempotent), corpus reads and search.

Runs when MUREC_TEST_PG_URL names a PostgreSQL database this test may wipe (CI starts one on loopback with
.ci/services.sh); skipped otherwise.
"""

from __future__ import annotations

import os

import pytest
from sqlalchemy import inspect

from data.corpus import Corpus
from data.importers.hetrec import import_hetrec
from data.importers.yes import import_yes
from data.search import TrackSearch

PG_URL = os.environ.get("MUREC_TEST_PG_URL", "")
pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not PG_URL, reason="MUREC_TEST_PG_URL not set (see .ci/services.sh)"),
]


def test_postgres_import_search_and_reads(pg_engine, shared_data) -> None:
    assert {"tracks", "playlist_tracks", "kv_state"} <= set(inspect(pg_engine).get_table_names())
    first = import_yes(pg_engine, shared_data / "yes_big", limit=1000)
    second = import_yes(pg_engine, shared_data / "yes_big", limit=1000)
    assert first.playlists_new == 1000 and second.playlists_new == 0
    corpus = Corpus(pg_engine)
    playlists = list(corpus.playlists())
    assert len(playlists) == 1000
    assert sum(len(p) for p in playlists) == first.entries
    res = TrackSearch(corpus).search("hotel califrnia")
    assert res.best.track.title == "Hotel California"
    report = import_hetrec(pg_engine, shared_data / "hetrec-lastfm-2k")
    assert report.plays == 92834
    assert corpus.listener_artist_matrix().matrix.nnz == 92834
