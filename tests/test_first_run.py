"""What a newcomer does after `make run`: `murecom setup` on the real data, then the console chat — as processes."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from data.settings import PROJECT_ROOT, Settings


@pytest.mark.heavy
@pytest.mark.long
def test_setup_then_console_chat(tmp_path) -> None:
    real_audio = Settings.from_env(dotenv=False).home / "audio-src"
    assert real_audio.exists(), "run scripts/get_audio.sh"
    # a small real catalogue with audio (two tracks per soundtrack) keeps setup's indexing to seconds
    for label in ("singularity", "warzone2100", "wesnoth"):
        (tmp_path / "audio-src" / label).mkdir(parents=True)
        for clip in sorted((real_audio / label).iterdir())[:2]:
            (tmp_path / "audio-src" / label / clip.name).symlink_to(clip)
    env = {**os.environ, "MUREC_HOME": str(tmp_path), "DATABASE_URL": "", "DISCORD_TOKEN": "", "TELEGRAM_TOKEN": ""}
    env["NUMBA_CACHE_DIR"] = str(PROJECT_ROOT / "var" / "numba-cache")

    def murecom(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "murecom_cli", *args],
            cwd=PROJECT_ROOT,
            env=env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=900,
        )

    setup = murecom("setup")
    assert setup.returncode == 0, setup.stderr[-3000:]
    assert "cf: published" in setup.stdout and "audio index" in setup.stdout
    again = murecom("setup")
    assert "already published" in again.stdout and "up to date" in again.stdout

    clip = sorted(real_audio.glob("wesnoth/*.ogg"))[1]
    chat = murecom("run", stdin=f"/similar hotel califrnia\n/similar eagles\n3\n/audio {clip}\n/about\n")
    assert chat.returncode == 0, chat.stderr[-3000:]
    out = chat.stdout
    assert "No DISCORD_TOKEN or TELEGRAM_TOKEN" in out
    assert "Similar to Hotel California — The Eagles" in out
    assert "Which one do you mean?" in out and "Similar to Life In The Fast Lane — The Eagles" in out
    assert "Tracks that sound like your clip" in out and "Sounds like: " in out
    assert "18,139 playlists" in out and "6 with audio" in out
