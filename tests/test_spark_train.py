"""The Spark training path on the real Yes.com corpus: export → Spark MLlib ALS in local mode → an artifact the bot
serves. One real `murecom train-spark` process (one Spark session, one JVM) trains and publishes; the tests then
read what it left with the loaders the bot uses. Kept cheap: rank 32, 5 iterations, `local[2]`; the tests that
need Spark are marked `spark` (skip them with `-m 'not spark'`). pyspark is the `spark` extra, which CI installs
(`make test EXTRAS=dev,spark`); without it, or without Java, they skip, except on CI, where they fail.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from data.export import MANIFEST, POSITION, ROW, TRACK, export_playlists, write_sequences
from data.settings import PROJECT_ROOT
from recommenders.artifacts import ArtifactStore
from recommenders.cf.als import ALSRecommender
from recommenders.cf.baselines import PopularityRecommender
from recommenders.cf.models import load_recommender
from recommenders.cf.serving import load_served, served_figure
from recommenders.cf.spark_als import find_java_home
from recommenders.evaluation import evaluate_recommender, playlist_split

#: What the test trains with (the same settings for our own ALS in the agreement test).
FACTORS, ITERATIONS, N_TEST, SEED = 32, 5, 400, 42
#: The goal of issue 13 for the Spark test on 2 cores: session start plus training of the served model.
BUDGET_SECONDS = 60.0


def _read_export(path: Path) -> list[list[int]]:
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    rows = table.column(ROW).to_numpy()
    order = np.lexsort((table.column(POSITION).to_numpy(), rows))
    tracks = table.column(TRACK).to_numpy()[order]
    rows = rows[order]
    cuts = np.flatnonzero(np.diff(rows)) + 1
    return [seq.tolist() for seq in np.split(tracks, cuts)] if len(rows) else []


def test_export_is_the_corpus_sequences(yes_corpus, tmp_path) -> None:
    """The Parquet export holds exactly what `Corpus.playlists()` yields: same playlists, order and track ids."""
    report = export_playlists(yes_corpus, tmp_path / "playlists")
    expected = [list(p) for p in yes_corpus.playlists()]
    assert _read_export(tmp_path / "playlists") == expected
    assert report.playlists == len(expected) == yes_corpus.stats()["playlists"]
    assert report.entries == sum(map(len, expected))
    assert report.tracks == len({t for p in expected for t in p})
    assert json.loads((tmp_path / "playlists" / MANIFEST).read_text())["entries"] == report.entries


def test_export_replaces_atomically_and_keeps_row_numbers(tmp_path) -> None:
    """A new export replaces the old one whole (no temp folder left); an empty sequence keeps its number."""
    path = tmp_path / "out"
    write_sequences([[1, 2, 3], [4]], path)
    report = write_sequences([[7, 8], [], [9, 7, 9]], path)
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    assert table.column(ROW).to_pylist() == [0, 0, 2, 2, 2]
    assert table.column(TRACK).to_pylist() == [7, 8, 9, 7, 9]
    assert (report.playlists, report.entries, report.tracks) == (3, 5, 3)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def _jdk(root: Path, name: str, version: str) -> Path:
    home = root / name
    (home / "bin").mkdir(parents=True)
    (home / "bin" / "java").write_text("")
    (home / "release").write_text(f'JAVA_VERSION="{version}"\n')
    return home


def test_java_home_prefers_a_supported_jdk(tmp_path) -> None:
    """With no JAVA_HOME and no java on PATH, Spark gets a 17 or 21 from the JVM folder, never an unsupported
    newer one (this machine also holds a Temurin 25); an explicit JAVA_HOME is always respected."""
    root = tmp_path / "jvm"
    _jdk(root, "temurin-25-jdk-amd64", "25.0.1")
    jdk17 = _jdk(root, "java-17-openjdk-amd64", "17.0.15")
    empty_path = str(tmp_path / "nothing")
    assert find_java_home({"PATH": empty_path}, root) == jdk17
    jdk21 = _jdk(root, "java-21-openjdk-amd64", "21.0.4")
    assert find_java_home({"PATH": empty_path}, root) == jdk21
    assert find_java_home({"PATH": empty_path, "JAVA_HOME": "/opt/my-java"}, root) == Path("/opt/my-java")
    assert find_java_home({"PATH": empty_path}, tmp_path / "no-jvm-here") is None


@pytest.fixture(scope="module")
def spark_run(yes_engine, tmp_path_factory) -> dict:
    """`murecom train-spark --evaluate` as a user runs it, over the Yes.com test database, publishing the Spark
    model as its own artifact, as /similar's and as the sessions' (the one Spark session of this module)."""
    from recommenders.cf.spark_als import spark_available

    why_not = spark_available()
    if why_not:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the Spark test: {why_not}")
        pytest.skip(why_not)
    home = tmp_path_factory.mktemp("spark")
    env = {
        **os.environ,
        "MUREC_HOME": str(home),
        "DATABASE_URL": str(yes_engine.url),
        "MUREC_MODELS_DIR": str(home / "models"),
    }
    args = ["--factors", str(FACTORS), "--iterations", str(ITERATIONS), "--n-test", str(N_TEST), "--seed", str(SEED)]
    t0 = time.perf_counter()
    res = subprocess.run(
        [sys.executable, "-m", "murecom_cli", "train-spark", "--evaluate", "--publish", "cf-spark,cf,cf-session"]
        + args,
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    seconds = time.perf_counter() - t0
    assert res.returncode == 0, res.stdout + res.stderr
    return {"home": home, "store": ArtifactStore(home / "models"), "res": res, "seconds": seconds}


@pytest.mark.spark
def test_cli_reports_and_keeps_spark_logs_quiet(spark_run) -> None:
    res = spark_run["res"]
    out = res.stdout
    assert re.search(r"exported 18,139 playlists \([\d,]+ entries", out)
    assert re.search(r"Spark 4\.\d+\.\d+ \(local\[2\]\): ALS rank 32, 5 iterations on [\d,]+ playlist-track pairs", out)
    assert re.search(r"published as cf \(version [\w-]+\): als, one-seed R-prec 0\.\d+ / NDCG@100 0\.\d+ on", out)
    assert "published as cf-session" in out and "multi-seed R-prec" in out
    # the JVM's own log lines (Spark's "yy/MM/dd HH:mm:ss LEVEL Class:" and our ERROR-only pattern) stay out
    assert not re.search(r"^\d\d/\d\d/\d\d \d\d:\d\d:\d\d (INFO|WARN)", res.stderr, re.M), res.stderr
    assert not re.search(r"^\d\d:\d\d:\d\d (INFO|WARN) ", res.stderr, re.M), res.stderr
    assert "Setting default log level" not in res.stderr
    assert "Using Spark's default log4j profile" not in res.stderr


@pytest.mark.spark
def test_training_stays_within_budget(spark_run) -> None:
    """Session start plus the training of the served model under a minute on 2 cores (the whole run, with the
    export, the held-out evaluation's own fit and the publishing, is reported alongside)."""
    meta = spark_run["store"].meta("cf")
    fit = meta["spark"]["seconds"]
    print(f"Spark ALS on Yes.com: fit {fit:.1f}s, whole train-spark run {spark_run['seconds']:.1f}s")
    assert fit < BUDGET_SECONDS
    assert spark_run["seconds"] < 3 * BUDGET_SECONDS


@pytest.mark.spark
def test_artifact_is_exactly_our_als_format(spark_run, yes_corpus, tmp_path) -> None:
    """Same files, same marker and params keys as `ALSRecommender.save`, item ids = the corpus's tracks."""
    store = spark_run["store"]
    path = store.path("cf")
    assert path is not None
    ours = ALSRecommender(factors=4, iterations=1, threads=1).fit_sequences([[1, 2, 3], [2, 3]])
    ours.save(tmp_path)
    assert sorted(p.name for p in path.iterdir()) == sorted([*(p.name for p in tmp_path.iterdir()), "meta.json"])
    marker, reference = json.loads((path / "model.json").read_text()), json.loads((tmp_path / "model.json").read_text())
    assert marker.keys() == reference.keys() and marker["params"].keys() == reference["params"].keys()
    assert marker["class"] == "als" and marker["params"]["factors"] == FACTORS
    model = load_recommender(path)
    assert isinstance(model, ALSRecommender)
    corpus_tracks = {t for p in yes_corpus.playlists() for t in p}
    assert set(model.item_ids.tolist()) == corpus_tracks
    assert model.item_factors.shape == (len(corpus_tracks), FACTORS) and np.isfinite(model.item_factors).all()
    meta = store.meta("cf")
    assert meta["engine"] == "spark" and meta["spark"]["params"]["implicitPrefs"] is True
    assert store.meta("cf-spark")["spark"] == meta["spark"]  # one training, published under each name asked


@pytest.fixture(scope="module")
def playlists(yes_corpus) -> list[list[int]]:
    return [list(p) for p in yes_corpus.playlists()]


@pytest.mark.spark
def test_served_similar_co_occurs_more_than_chance(spark_run, yes_corpus, playlists) -> None:
    """Through the bot's loader (fallback chain included): the neighbours of popular tracks share playlists with
    them far more often than their popularity alone would make them."""
    served = load_served(spark_run["store"], yes_corpus, "cf")
    assert served is not None
    sets = [set(p) for p in playlists]
    df = Counter(t for s in sets for t in s)
    n = len(sets)
    lifts = []
    for seed, _ in df.most_common(20):
        recs = served.similar(seed, 10)
        assert len(recs) == 10 and seed not in {r.track_id for r in recs}
        for r in recs:
            both = sum(1 for s in sets if seed in s and r.track_id in s)
            lifts.append(both / (df[seed] * df[r.track_id] / n))
    assert np.median(lifts) > 2.0, np.median(lifts)


@pytest.mark.spark
def test_evaluated_figure_beats_popularity(spark_run, yes_corpus) -> None:
    """The figure /about quotes (Spark ALS fitted on the held-out split's training part, one-seed, test part) is
    well above the popularity baseline on the same split, and `served_figure` accepts the meta."""
    meta = spark_run["store"].meta("cf")
    assert served_figure(meta).startswith("als, one-seed R-prec")
    split = playlist_split(yes_corpus, n_test=N_TEST, seed=SEED)
    assert meta["served"]["split"]["cases"] == len(split.view("test").cases)
    pop = evaluate_recommender(split.fit(PopularityRecommender()), split.view("test", "one-seed"))
    ours = meta["served"]["metrics"]
    assert ours["ndcg@100"] > 2 * pop["ndcg@100"], (ours["ndcg@100"], pop["ndcg@100"])
    assert ours["r_precision"] > 2 * pop["r_precision"], (ours["r_precision"], pop["r_precision"])
    session = spark_run["store"].meta("cf-session")["served"]
    assert session["protocol"] == "multi-seed" and session["metrics"]["ndcg@100"] > 0


@pytest.mark.spark
def test_agrees_with_our_own_als(spark_run, playlists) -> None:
    """Spark's factors and `implicit`'s at the same rank and iterations find largely the same neighbours (two
    solvers of one objective, up to Spark's count-scaled regularisation): far above the ~0.1% of chance."""
    spark_model = load_recommender(spark_run["store"].path("cf-spark"))
    ours = ALSRecommender(factors=FACTORS, iterations=ITERATIONS, seed=SEED, threads=1).fit_sequences(playlists)
    df = Counter(t for p in playlists for t in set(p))
    overlaps = []
    for seed, _ in df.most_common(200):
        a = {r.track_id for r in ours.similar(seed, 10)}
        b = {r.track_id for r in spark_model.similar(seed, 10)}
        overlaps.append(len(a & b) / 10)
    assert np.mean(overlaps) > 0.3, np.mean(overlaps)


@pytest.mark.spark
def test_multi_seed_answers_from_the_saved_user_equation(spark_run, yes_corpus) -> None:
    """`similar_to_many` (the saved alpha and regularisation in our user equation) ranks a playlist's own songs
    near the top: the Spark factors explain the playlists they were trained on."""
    model = load_recommender(spark_run["store"].path("cf"))
    assert isinstance(model, ALSRecommender)
    longest = sorted((list(p) for p in yes_corpus.playlists()), key=len)[-20:]
    ranks = []
    for p in longest:
        scores = model.item_factors @ model.user_vector(p)
        order = (-scores).argsort().argsort()
        index = {int(t): i for i, t in enumerate(model.item_ids)}
        ranks.append(np.median([order[index[t]] for t in p]))
    assert np.median(ranks) < 0.05 * len(model.item_ids)


@pytest.mark.spark
def test_the_bot_answers_similar_from_the_spark_model(spark_run, yes_engine, yes_corpus) -> None:
    """The chat core built as `murecom run` builds it serves /similar from the Spark-published `cf` version, and its
    picks are that model's own neighbours (the fallback chain is not what answers)."""
    import asyncio

    from bot.app import build_app
    from bot.replies import ChatContext
    from data.search import TrackSearch
    from data.settings import Settings

    store = spark_run["store"]
    best = TrackSearch(yes_corpus).search("Hotel California - The Eagles").best
    assert best is not None
    settings = Settings.from_env({"MUREC_HOME": str(spark_run["home"]), "DATABASE_URL": str(yes_engine.url)})
    app = build_app(settings, engine=yes_engine)
    [reply] = asyncio.run(app.core.handle_text(ChatContext("telegram", "c", "u", "Ann"), "/similar hotel california"))
    assert f"cf={store.current_version('cf')}" in reply.served_by, reply.served_by
    own = {r.track_id for r in load_recommender(store.path("cf")).similar(best.track.id, 100)}
    assert len(reply.tracks) >= 5 and all(t.track_id in own for t in reply.tracks), reply
