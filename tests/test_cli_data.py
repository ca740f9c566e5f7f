"""`murecom import` and `murecom stats` as a user runs them: a real process, settings from the environment."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from data.settings import PROJECT_ROOT


def run_cli(*args: str, home) -> subprocess.CompletedProcess:
    env = {**os.environ, "MUREC_HOME": str(home), "DATABASE_URL": ""}
    return subprocess.run(
        [sys.executable, "-m", "murecom_cli", *args],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_import_then_stats(tmp_path) -> None:
    first = run_cli("import", "yes", "--limit", "200", home=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "playlists_new=200" in first.stdout
    again = run_cli("import", "yes", "--limit", "200", home=tmp_path)
    assert "playlists_new=0" in again.stdout
    stats = run_cli("stats", home=tmp_path)
    assert json.loads(stats.stdout)["playlists"] == 200
    assert (tmp_path / "murecom.db").exists()


def test_mpd_without_path_is_a_clear_error(tmp_path) -> None:
    res = run_cli("import", "mpd", home=tmp_path)
    assert res.returncode == 2
    assert "needs the path" in res.stdout
