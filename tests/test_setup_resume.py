"""Setup that resumes and verifies: partial imports are completed, publish leftovers cleaned, `setup` survives kill -9.

Partial states are made the way a kill makes them: the Yes.com importer commits one batch of playlists per
transaction, so an import stopped after its first batch (`limit=2000`) is exactly what a SIGKILL there leaves.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import delete, select

from data.db import make_engine
from data.importers.progress import ImportIncomplete, ensure_imported, read_state
from data.importers.yes import import_yes, source_counts, stored_counts, yes_spec
from data.models import Playlist, PlaylistTrack
from data.settings import PROJECT_ROOT
from recommenders.artifacts import ArtifactStore
from tests.conftest import SMALL_YES_PLAYLISTS

FULL = {"playlists": 18139, "transitions": 172510, "entries": 190649, "tracks": 9775}


def test_interrupted_import_is_resumed_and_recorded(empty_engine, shared_data) -> None:
    folder = shared_data / "yes_big"
    import_yes(empty_engine, folder, limit=2000)  # what a kill after the first batch leaves
    assert stored_counts(empty_engine)["playlists"] == 2000
    assert read_state(empty_engine, "import:yes") is None

    assert ensure_imported(empty_engine, yes_spec(folder)).startswith("resumed and verified")
    assert stored_counts(empty_engine) == FULL
    state = read_state(empty_engine, "import:yes")
    assert state is not None and state["complete"] and state["counts"] == FULL

    assert ensure_imported(empty_engine, yes_spec(folder)).startswith("complete")


def test_damaged_import_is_redone_even_when_recorded_complete(empty_engine, shared_data) -> None:
    spec = yes_spec(shared_data / "yes_big", limit=3000)
    ensure_imported(empty_engine, spec)
    complete = stored_counts(empty_engine)
    with empty_engine.begin() as conn:
        first = conn.scalar(select(Playlist.id).where(Playlist.source == "yes").order_by(Playlist.id))
        conn.execute(delete(PlaylistTrack).where(PlaylistTrack.playlist_id == first, PlaylistTrack.position > 0))
    assert stored_counts(empty_engine) != complete

    assert ensure_imported(empty_engine, spec).startswith("redone and verified")
    assert stored_counts(empty_engine) == complete


def test_import_that_cannot_match_its_source_fails_loudly(empty_engine, shared_data) -> None:
    """Rows beyond what the source holds (here: a full import checked against a 500-playlist source) never pass."""
    folder = shared_data / "yes_big"
    import_yes(empty_engine, folder, limit=600)
    with pytest.raises(ImportIncomplete, match="stored 600 playlists.* but the source has 500 playlists"):
        ensure_imported(empty_engine, yes_spec(folder, limit=500))
    assert not (read_state(empty_engine, "import:yes") or {}).get("complete")


def _stage_forever(root: str) -> None:
    """Child process: open a staging folder, write into it, then wait to be killed."""
    with ArtifactStore(Path(root)).staging("cf") as staged:
        (staged / "model.bin").write_bytes(b"x" * 1000)
        print(staged.name, flush=True)
        sys.stdin.read()


def test_publish_cleans_a_killed_publishers_leftovers_but_not_a_live_staging(tmp_path) -> None:
    store = ArtifactStore(tmp_path)
    code = "import sys; from tests.test_setup_resume import _stage_forever; _stage_forever(sys.argv[1])"
    with subprocess.Popen(
        [sys.executable, "-c", code, str(tmp_path)],
        cwd=PROJECT_ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as child:
        assert child.stdout is not None
        dead = child.stdout.readline().strip()
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    (tmp_path / "cf" / ".CURRENT.0123abcd").write_text("half a pointer")
    assert (tmp_path / "cf" / "staging" / dead / "model.bin").exists()

    with store.staging("cf") as live:
        (live / "model.bin").write_bytes(b"live")
        with store.staging("cf") as staged:  # a second publisher starting while `live` is being written
            (staged / "model.bin").write_bytes(b"new")
            version = store.publish("cf", staged)
        assert live.exists() and (live / "model.bin").read_bytes() == b"live"
        assert not (tmp_path / "cf" / "staging" / dead).exists()
        assert not list((tmp_path / "cf").glob(".CURRENT.*"))
    assert store.current_version("cf") == version
    assert list((tmp_path / "cf" / "staging").iterdir()) == []


def _phase(log: str) -> str:
    """Where a setup was when its output stopped: import (and start-up), training, or publishing the winner."""
    if "published cf version" in log:
        return "publish"
    if "yes import" in log:
        return "training"
    return "import"


def _small_yes(full: Path, small: Path) -> None:
    """A Yes.com folder holding the first `SMALL_YES_PLAYLISTS` playlists of `full` (every song, tag and play count):
    the fast tier's real data, so each of the fault test's 21 setups imports and trains in a few seconds."""
    small.mkdir(parents=True)
    for name in ("song_hash.txt", "tag_hash.txt", "tags.txt"):
        (small / name).symlink_to(full / name)
    with (full / "train.txt").open() as src, (small / "train.txt").open("w") as dst:
        dst.writelines(itertools.islice(src, 2 + SMALL_YES_PLAYLISTS))  # two header lines, then one playlist a line


@pytest.mark.heavy
@pytest.mark.long
@pytest.mark.timeout(1800)  # ten killed setups and their reruns as real processes: ~3 min alone, more on a busy CI
def test_setup_killed_at_random_points_always_ends_complete(tmp_path, shared_data) -> None:
    """kill -9 `murecom setup` 10 times (import, training, publish); after each, a rerun ends with everything.

    Nine kills at stratified random times over a setup's duration, one as the winner is being published.
    Bounded cost: Yes.com only and its first 6,000 playlists (HetRec's resume is tested in-process, the full
    corpus's by the tests above), one fast CF model, no audio.
    """
    from recommenders.cf.models import load_recommender

    rng = random.Random(20261125)
    data = tmp_path / "data"
    _small_yes(shared_data / "yes_big", data / "yes_big")
    expected = source_counts(data / "yes_big")
    assert expected["playlists"] == SMALL_YES_PLAYLISTS
    base_env = {**os.environ, "DATABASE_URL": "", "DISCORD_TOKEN": "", "TELEGRAM_TOKEN": "", "MUREC_DATA": str(data)}
    base_env["NUMBA_CACHE_DIR"] = str(PROJECT_ROOT / "var" / "numba-cache")
    base_env["MUREC_LOG_LEVEL"] = "INFO"
    command = [sys.executable, "-m", "murecom_cli", "setup", "--skip-audio", "--models", "itemknn"]

    def start(home) -> tuple[subprocess.Popen, list[str], threading.Event]:
        """The setup process, its output lines as they come, and an event set when it publishes the first model."""
        proc = subprocess.Popen(
            command,
            cwd=PROJECT_ROOT,
            env={**base_env, "MUREC_HOME": str(home)},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        lines: list[str] = []
        publishing = threading.Event()

        def read() -> None:
            assert proc.stdout is not None
            for line in proc.stdout:
                lines.append(line)
                if "published cf version" in line:
                    publishing.set()

        threading.Thread(target=read, daemon=True).start()
        return proc, lines, publishing

    def run_to_end(home) -> str:
        proc, lines, _ = start(home)
        assert proc.wait(timeout=600) == 0, "".join(lines)[-3000:]
        proc.stdout.close()  # type: ignore[union-attr]
        return "".join(lines)

    t0 = time.monotonic()
    run_to_end(tmp_path / "reference")
    duration = time.monotonic() - t0

    kills: list[tuple[float, str]] = []
    for i in range(10):
        home = tmp_path / f"run{i}"
        for _attempt in range(3):
            shutil.rmtree(home, ignore_errors=True)
            t0 = time.monotonic()
            victim, lines, publishing = start(home)
            if i < 9:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    victim.wait(timeout=duration * (i + rng.random()) / 9)  # stratified over the whole setup
            else:
                assert publishing.wait(timeout=600), "".join(lines)[-3000:]
            if victim.poll() is None:
                os.killpg(victim.pid, signal.SIGKILL)
            victim.wait(timeout=60)
            killed_at = time.monotonic() - t0
            victim.stdout.close()  # type: ignore[union-attr]
            if victim.returncode == -signal.SIGKILL:
                kills.append((round(killed_at, 1), _phase("".join(lines))))
                break
            # A warm setup (numba's cache, the page cache) can end before the reference's cold duration: this stratum
            # is redone from a clean home, its kill time scaled to the duration just seen.
            assert victim.returncode == 0, "".join(lines)[-3000:]
            duration = min(duration, killed_at)

        run_to_end(home)
        engine = make_engine(f"sqlite:///{home / 'murecom.db'}")
        try:
            counts = stored_counts(engine)
        finally:
            engine.dispose()
        assert counts == expected, (killed_at, counts)
        store = ArtifactStore(home / "models")
        path = store.path("cf")
        assert path is not None, f"nothing published after a kill at {killed_at:.1f}s"
        model = load_recommender(path)
        assert len(model.similar(int(model.item_ids[0]), 5)) == 5
        session_path = store.path("cf-session")  # a kill between the two publishes left it out: redone
        assert session_path is not None, f"cf-session not published after a kill at {killed_at:.1f}s"
        load_recommender(session_path)
        assert store.meta("indexes").get("watermark"), f"no corpus indexes after a kill at {killed_at:.1f}s"
        for name in ("cf", "cf-session"):
            assert not list((home / "models" / name).glob(".CURRENT.*"))
            assert not any((home / "models" / name / "staging").glob("*")), f"a killed publish left {name} staging"
    phases = {phase for _, phase in kills}
    assert len(kills) >= 9 and phases == {"import", "training", "publish"}, kills
