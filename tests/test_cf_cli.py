"""`murecom train / similar / eval` as a user runs them: real processes over a real (partial) Yes.com import."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from data.settings import PROJECT_ROOT


def run_cli(*args: str, home) -> subprocess.CompletedProcess:
    env = {**os.environ, "MUREC_HOME": str(home), "DATABASE_URL": "", "MUREC_MODELS_DIR": str(home / "models")}
    return subprocess.run(
        [sys.executable, "-m", "murecom_cli", *args],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    home = tmp_path_factory.mktemp("cfcli")
    res = run_cli("import", "yes", "--limit", "6000", home=home)
    assert res.returncode == 0, res.stderr
    return home


def test_similar_before_training_says_so(tmp_path) -> None:
    """A home of its own: the module's home gets models once the long test (collected first) has trained."""
    res = run_cli("similar", "0", home=tmp_path)
    assert res.returncode == 2
    assert "murecom train" in res.stdout


@pytest.mark.long
def test_train_similar_eval(home, tmp_path) -> None:
    res = run_cli("train", "--models", "itemknn,sknn", home=home)
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    for artifact, protocol in (("cf", "one-seed"), ("cf-session", "multi-seed")):
        line = next(x for x in lines if x.startswith("published ") and f" as {artifact} (" in x)
        assert f", {protocol} R-prec " in line and "held-out playlists (test split)" in line

    by_name = run_cli("similar", "Hey Soul Sister - Train", "-k", "5", home=home)
    assert by_name.returncode == 0, by_name.stderr
    assert "seed: Hey, Soul Sister" in by_name.stdout
    rows = [line for line in by_name.stdout.splitlines() if line[:2].strip().isdigit()]
    assert len(rows) == 5
    assert all("appears with it in" in r and "open.spotify.com" in r for r in rows)

    excluded = run_cli("similar", "Hey Soul Sister - Train", "--exclude-artist", home=home)
    assert excluded.returncode == 0
    assert "  Train  " not in excluded.stdout.split("\n", 2)[2]

    unknown = run_cli("similar", "999999", home=home)
    assert unknown.returncode == 1 and "no track with id 999999" in unknown.stdout

    out = tmp_path / "table.md"
    ev = run_cli(
        "eval", "--dataset", "yes", "--models", "itemknn,sknn", "--n-test", "150", "--out", str(out), home=home
    )
    assert ev.returncode == 0, ev.stderr
    table = out.read_text()
    for protocol in ("one-seed", "multi-seed", "next-track"):
        assert f"playlists, {protocol} (" in table
    assert "| popularity |" in table and "| random |" in table and "(default) |" in table
    assert "| fallback chain |" in table and "| popular tracks |" in table
    assert list((home / "eval").glob("eval-*.md"))

    bad = run_cli("eval", "--models", "nope", home=home)
    assert bad.returncode == 2 and "unknown model" in bad.stdout
