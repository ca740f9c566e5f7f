"""Audio decoding of hostile input: wall time and peak memory of refusing a 1 MB gzip sent as audio (the issue's
case), and of decoding a real clip, each in a fresh child process so this script's own memory does not count.

Peak memory is reported by the child: the larger of its own VmHWM and its RUSAGE_CHILDREN ru_maxrss, i.e. the
largest of the Python process and any decoder it started and reaped (ffmpeg). Not its own ru_maxrss: Linux carries
the resident size of the process it was forked from into it across exec (a child of a 1 GB process reports 1 GB).
Compare checkouts with `--root` (e.g. main before the change); put an ffmpeg on PATH to see the fallback's cost.

    .venv/bin/python bench/decode_refusal.py [--root /work/main] [--runs 3] [more.m4a ...]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

CHILD = """
import json, resource, sys, time
from recommenders.audio.features import AudioError, window_audio
data = open(sys.argv[1], "rb").read()
t0 = time.perf_counter()
try:
    parts = window_audio(data, max_bytes=20_000_000, budget=30.0)
    outcome = f"decoded {sum(len(p) for p in parts) / 22050:.1f} s"
except AudioError as exc:
    outcome = f"AudioError: {exc}"
seconds = time.perf_counter() - t0
# VmHWM, not RUSAGE_SELF: Linux carries the forking process's resident size into ru_maxrss across exec
hwm_kb = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
peak_kb = max(hwm_kb, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
print(json.dumps({"seconds": seconds, "outcome": outcome, "peak_mb": peak_kb / 1024}))
"""


def measure(root: Path, path: Path) -> dict:
    """One decode in a fresh interpreter: its own timing, plus the peak RSS of the largest process it involved."""
    env = dict(os.environ, PYTHONPATH=str(root))  # and cwd: `python -c` puts the working directory first on sys.path
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, str(path)], env=env, cwd=root, capture_output=True, text=True, timeout=300
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parent.parent)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("extra", nargs="*", type=Path, help="more files to decode (e.g. an m4a, with ffmpeg on PATH)")
    args = parser.parse_args()
    src = Path(args.root) / "var" / "audio-src"
    clip = next(p for p in sorted(src.glob("*/*.ogg")) if 900_000 < p.stat().st_size < 1_300_000)
    with tempfile.TemporaryDirectory() as tmp:
        gz = Path(tmp) / "clip.ogg.gz"
        gz.write_bytes(gzip.compress(clip.read_bytes()))
        print(f"root {args.root}; ffmpeg: {shutil.which('ffmpeg')}; gzip of {clip.name}: {gz.stat().st_size:,} B")
        for label, path in [("gzip", gz), ("real ogg", clip)] + [(p.suffix, p) for p in args.extra]:
            for _ in range(args.runs):
                m = measure(args.root, path)
                print(f"{label:9s} {m['seconds'] * 1000:8.1f} ms  peak {m['peak_mb']:7.1f} MB  {m['outcome'][:80]}")


if __name__ == "__main__":
    main()
