"""Running an external decoder (ffmpeg) as a child process under hard limits.

The limits are set by util-linux's `prlimit` (Debian: util-linux is Essential, so present wherever Debian's ffmpeg
is): `prlimit --as=… --cpu=… -- ffmpeg …` sets the limits on itself, then execs ffmpeg, which inherits them
(setrlimit(2): "resource limits are preserved across execve"). No Python code runs between fork and exec, unlike
`Popen(preexec_fn=…)`, which the subprocess documentation says is not safe in the presence of threads (decoding runs
in worker threads here); and there is no window in which the decoder runs unlimited, unlike `resource.prlimit(pid)`
after the spawn. Without `prlimit` the decoder is not run at all (fail closed).

Besides the kernel's limits, the parent bounds what it takes: standard output up to a caller-given size (read as it
arrives, the child killed once it is exceeded), the last few KB of standard error, and a wall-clock deadline.
"""

from __future__ import annotations

import logging
import os
import selectors
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

log = logging.getLogger(__name__)

# Address space (virtual memory) of the decoder: 512 MiB. Decoding a minute of AAC or Opus to float32 needs tens of
# MB resident (ffmpeg decoding a real 30 s m4a peaked at ~40 MB here); the issue measured ffmpeg at 2.1 GB on a gzip.
# The limit is on mappings, not residency: shared libraries and thread stacks count, hence MALLOC_ARENA_MAX below,
# which stops glibc reserving 64 MB of address space per decoding thread.
CHILD_ADDRESS_SPACE = 768 * 2**20
# CPU seconds: a minute of compressed audio decodes in well under a second of CPU; 15 s allows a slow, shared core
# and stops a decoder spinning on crafted input (SIGXCPU at the soft limit, SIGKILL one second later).
CHILD_CPU_SECONDS = 15
# Wall clock: a child that waits rather than computes; the CPU limit plus slack, so CPU-bound runs meet that first.
CHILD_WALL_SECONDS = 20.0
# Open files: standard streams, the input, a few for the libraries; a decoder has no use for more.
CHILD_OPEN_FILES = 64
# Standard error kept for the log (the tail: ffmpeg's last lines say why it stopped).
STDERR_KEEP = 8192
READ_CHUNK = 1 << 16


@dataclass(frozen=True)
class ChildLimits:
    """The kernel limits and the deadline one decoder child runs under (the defaults are the constants above)."""

    address_space: int = CHILD_ADDRESS_SPACE
    cpu_seconds: int = CHILD_CPU_SECONDS
    wall_seconds: float = CHILD_WALL_SECONDS
    open_files: int = CHILD_OPEN_FILES


CHILD_LIMITS = ChildLimits()


class ChildFailed(RuntimeError):
    """The child produced no usable output. `reason`: "unavailable" (no prlimit or no program), "timeout", "output"
    (more than allowed), "cpu" (SIGXCPU), "killed" (SIGKILL not sent by us: the hard CPU limit or the kernel's OOM
    killer), "file" (SIGXFSZ: it tried to write a file), "exit" (any other failure: a refused allocation ends here)."""

    def __init__(self, reason: str, returncode: int | None = None, stderr: bytes = b"") -> None:
        tail = stderr.decode("utf-8", "replace").strip().splitlines()[-3:]
        super().__init__(f"{reason} (exit {returncode}): {' | '.join(tail)}")
        self.reason, self.returncode, self.stderr = reason, returncode, stderr


def limited_command(cmd: Sequence[str], limits: ChildLimits) -> list[str]:
    """`cmd` behind `prlimit`: address space, CPU (soft; hard one second later), no file output, no core dump."""
    prlimit = shutil.which("prlimit")
    if prlimit is None:
        raise ChildFailed("unavailable", stderr=b"prlimit (util-linux) not found: the decoder is not run unlimited")
    return [
        prlimit,
        f"--as={limits.address_space}",
        f"--cpu={limits.cpu_seconds}:{limits.cpu_seconds + 1}",
        "--fsize=0",  # it writes only to the pipe; a write to any file is SIGXFSZ
        "--core=0",
        f"--nofile={limits.open_files}",
        "--",
        *cmd,
    ]


def run_limited(
    cmd: Sequence[str],
    *,
    max_stdout: int,
    limits: ChildLimits = CHILD_LIMITS,
    clock: Callable[[], float] = time.monotonic,
) -> bytes:
    """The child's standard output (at most `max_stdout` bytes) when it exits 0 within the limits, else
    `ChildFailed`."""
    env = dict(os.environ, MALLOC_ARENA_MAX="2", LC_ALL="C")
    try:
        proc = subprocess.Popen(
            limited_command(cmd, limits),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
    except OSError as exc:
        raise ChildFailed("unavailable", stderr=str(exc).encode()) from exc
    try:
        out, err, stopped = _collect(proc, max_stdout, clock() + limits.wall_seconds, clock)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        for pipe in (proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()
    reason = stopped or _failure(proc.returncode)
    if reason is not None:
        failure = ChildFailed(reason, proc.returncode, err)
        log.warning("decoder child stopped: %s", failure)
        raise failure
    return out


def _collect(
    proc: subprocess.Popen, max_stdout: int, deadline: float, clock: Callable[[], float]
) -> tuple[bytes, bytes, str | None]:
    """Read both pipes as data arrives until they close; kill the child at the deadline or once its output exceeds
    `max_stdout`. Returns (stdout, stderr tail, "timeout"/"output" when we stopped it, else None)."""
    out, err = bytearray(), bytearray()
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ, out)  # type: ignore[arg-type]
        sel.register(proc.stderr, selectors.EVENT_READ, err)  # type: ignore[arg-type]
        while sel.get_map():
            remaining = deadline - clock()
            if remaining <= 0:
                proc.kill()
                return bytes(out), bytes(err), "timeout"
            for key, _ in sel.select(timeout=remaining):
                chunk = os.read(key.fd, READ_CHUNK)
                if not chunk:
                    sel.unregister(key.fileobj)
                    continue
                key.data.extend(chunk)
                if key.data is err and len(err) > STDERR_KEEP:
                    del err[: len(err) - STDERR_KEEP]
                if key.data is out and len(out) > max_stdout:
                    proc.kill()
                    return bytes(out[:max_stdout]), bytes(err), "output"
    try:
        proc.wait(timeout=max(0.0, deadline - clock()))
    except subprocess.TimeoutExpired:
        proc.kill()
        return bytes(out), bytes(err), "timeout"
    return bytes(out), bytes(err), None


def _failure(returncode: int) -> str | None:
    """Why a child we did not stop ended badly, from its exit status (negative: the signal that ended it)."""
    if returncode == 0:
        return None
    return {-signal.SIGXCPU: "cpu", -signal.SIGKILL: "killed", -signal.SIGXFSZ: "file"}.get(returncode, "exit")
