"""The fast tier's guard (tests/conftest.py): while it is on, every stdlib way of starting a process raises and is
recorded, and leaving it puts back what was there."""

from __future__ import annotations

import asyncio
import multiprocessing.util
import os
import subprocess

import pytest

from tests.conftest import SPAWNERS, _refusing_processes

pytestmark = pytest.mark.fast


def test_every_way_of_starting_a_process_is_refused_and_recorded() -> None:
    before = [owner.__dict__[name] for owner, name in SPAWNERS]
    with _refusing_processes() as tried:
        with pytest.raises(RuntimeError, match="may not start a process"):
            subprocess.run(["true"], check=True)
        with pytest.raises(RuntimeError, match="may not start a process"):
            asyncio.run(asyncio.create_subprocess_exec("true"))
        for call in (
            lambda: os.posix_spawn("/bin/true", ["true"], {}),
            lambda: os.posix_spawnp("true", ["true"], {}),
            os.fork,
            os.forkpty,
            lambda: os.system("true"),
            lambda: multiprocessing.util.spawnv_passfds("/bin/true", ["true"], []),
        ):
            with pytest.raises(RuntimeError, match="may not start a process"):
                call()
    assert tried == [
        "Popen.__init__",
        "Popen.__init__",
        "os.posix_spawn",
        "os.posix_spawnp",
        "os.fork",
        "os.forkpty",
        "os.system",
        "multiprocessing.util.spawnv_passfds",
    ]
    assert [owner.__dict__[name] for owner, name in SPAWNERS] == before
