"""data.progress: log lines off a terminal (injected clock, no sleeps), a tqdm bar on one, and a cheap import."""

from __future__ import annotations

import io
import subprocess
import sys

import pytest

from data.progress import LogProgress, progress, track


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class FakeTTY(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.fast
def test_log_lines_every_tenth_of_the_total_with_counts_and_eta() -> None:
    clock, lines = Clock(), []
    bar = LogProgress("import", total=1000, unit="playlists", clock=clock, emit=lines.append)
    for _ in range(250):
        clock.now += 0.08  # 50 items per second: a tenth every 2 s, never 10 s between two lines
        bar.update(4)
    bar.close()
    # 10%, 20%, … 90% (not 100%: the closing line reports it), then the closing line
    assert len(lines) == 10, lines
    assert lines[0].startswith("import: 100/1,000 playlists (10%)")
    assert "50/s, 0:02 elapsed, ETA 0:18" in lines[0]  # 900 left at 50/s
    assert lines[-1].startswith("import: done, 1,000/1,000 playlists (100%)")
    assert "ETA" not in lines[-1]


@pytest.mark.fast
def test_log_lines_every_ten_seconds_when_the_total_is_unknown() -> None:
    clock, lines = Clock(), []
    with LogProgress("train", unit="models", clock=clock, emit=lines.append) as bar:
        bar.update()
        assert lines == []
        clock.now += 9.9
        bar.update()
        assert lines == []
        clock.now += 0.2
        bar.update()
        assert lines == ["train: 3 models, 0.30/s, 0:10 elapsed"]
        clock.now += 3
        bar.update()
    assert lines[-1] == "train: done, 4 models, 0.31/s, 0:13 elapsed"


@pytest.mark.fast
def test_slow_work_logs_by_time_between_fractions() -> None:
    clock, lines = Clock(), []
    bar = LogProgress("eval", total=100, unit="cases", clock=clock, emit=lines.append)
    clock.now += 30
    bar.update(1)  # 1%: no fraction step, but 30 s since the start
    assert len(lines) == 1 and "1/100 cases (1%)" in lines[0] and "ETA 49:30" in lines[0]


@pytest.mark.fast
def test_off_a_terminal_progress_logs_and_track_yields_everything() -> None:
    lines: list[str] = []
    got = list(track(range(5), "steps", stream=io.StringIO(), emit=lines.append))
    assert got == [0, 1, 2, 3, 4]
    assert lines[-1].startswith("steps: done, 5/5 items (100%)")


@pytest.mark.fast
def test_on_a_terminal_a_tqdm_bar_is_drawn() -> None:
    tty = FakeTTY()
    lines: list[str] = []
    with progress("import", total=10, unit="files", stream=tty, emit=lines.append) as bar:
        bar.update(10)
    assert lines == []
    assert "import" in tty.getvalue() and "10/10" in tty.getvalue()


def test_importing_the_module_does_not_import_tqdm() -> None:
    code = "import sys, data.progress; print('tqdm' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_a_cli_import_off_a_terminal_logs_progress_lines(tmp_path) -> None:
    from tests.test_cli_data import run_cli

    res = run_cli("import", "yes", "--limit", "300", home=tmp_path)
    assert res.returncode == 0, res.stderr
    lines = [line for line in res.stderr.splitlines() if "murecom.progress" in line]
    assert any("yes import: done, 300/300 playlists (100%)" in line for line in lines), res.stderr
    assert "\r" not in res.stderr  # no bar redraws in a log
