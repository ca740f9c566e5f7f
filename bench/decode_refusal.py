"""Audio decoding of hostile input: wall time and peak memory of refusing a 1 MB gzip sent as audio (the issue's
case), and of decoding a real clip, each in a fresh child process so this script's own memory does not count.

Peak memory is reported by the child: the larger of its own ru_maxrss and its RUSAGE_CHILDREN one, i.e. the largest
of the Python process and any decoder it started and reaped (ffmpeg). Compare checkouts with
`--root` (e.g. main before the change); put an ffmpeg on PATH to see the fallback's cost.

    .venv/bin/python bench/decode_refusal.py [--root /work/main] [--runs 3]
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
peak_kb = max(resource.getrusage(who).ru_maxrss for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
print(json.dumps({"seconds": seconds, "outcome": outcome, "peak_mb": peak_kb / 1024}))
"""


def measure(root: Path, path: Path) -> dict:
    """One decode in a fresh interpreter: its own timing, plus the peak RSS of the largest process it involved."""
    env = dict(os.environ, PYTHONPATH=str(root))
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, str(path)], env=env, capture_output=True, text=True, timeout=300
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parent.parent)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    src = Path(args.root) / "var" / "audio-src"
    clip = next(p for p in sorted(src.glob("*/*.ogg")) if 900_000 < p.stat().st_size < 1_300_000)
    with tempfile.TemporaryDirectory() as tmp:
        gz = Path(tmp) / "clip.ogg.gz"
        gz.write_bytes(gzip.compress(clip.read_bytes()))
        print(f"root {args.root}; ffmpeg: {shutil.which('ffmpeg')}; gzip of {clip.name}: {gz.stat().st_size:,} B")
        for label, path in (("gzip", gz), ("real ogg", clip)):
            for _ in range(args.runs):
                m = measure(args.root, path)
                print(f"{label:9s} {m['seconds']:6.2f} s  peak {m['peak_mb']:7.1f} MB  {m['outcome'][:90]}")


if __name__ == "__main__":
    main()
