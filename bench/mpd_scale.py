"""The whole pipeline at Million-Playlist scale: synthetic MPD slices → import → train → serve, each step measured.

1. Writes synthetic slices in the exact MPD layout (`mpd.slice.<a>-<b>.json`, 1,000 playlists each, the MPD's
   `info` and playlist/track fields), deterministic by `--seed`: lengths 5..250 (log-normal, median ~49), Zipf track
   popularity inside ~200 "scenes" (so playlists are coherent and CF has something to learn), albums and artists
   with their own Zipf popularity, names built from the words of the real Yes.com titles and artists. The catalogue
   grows like the MPD's (111 k tracks at 20 k playlists, 2.26 M at 1 M).
2. Measures, each step in its own process (wall time; peak RSS of that process, its VmHWM polled):
   baseline `sqlite3` executemany of the same rows; `murecom import mpd` into SQLite (and PostgreSQL when
   MUREC_TEST_PG_URL is set or `--pg` starts the local server with .ci/services.sh); baseline popularity fit
   (`murecom train --models popularity --no-eval`); the fit of each served model on the whole corpus; `murecom train`
   as users run it (choose on validation, report on test, publish); bot cold start (process start to the first
   `/similar` answer through `build_app` and the chat core), serving RSS, `/similar` p50/p99 (chat core, end to
   end), name-search p50/p99; incremental import of 10 more slices + retrain.
3. Prints a growth table (time, memory, ratio to the baseline of the same size) and writes it to
   var/eval/mpd-scale.md.

Usage: nice -n 10 .venv/bin/python bench/mpd_scale.py [--sizes 10000,100000] [--pg] [--work var/bench/mpd-scale]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from data.progress import progress  # noqa: E402
from recommenders.cf.scale import MAX_PAIR_MASS  # noqa: E402

MURECOM = str(Path(sys.executable).parent / "murecom")
SLICE = 1000
#: Bumped whenever the generator changes, so cached slices of an older generator are not reused.
GENERATOR = "v2"
#: The MPD's own figures, for the catalogue growth and the extrapolation.
MPD_PLAYLISTS, MPD_TRACKS, MPD_ARTISTS, MPD_ALBUMS = 1_000_000, 2_262_292, 295_860, 734_684
#: Goals of issue 13 (2 cores, 24 GB) at 1 M playlists, in seconds / MB / ms.
GOALS = {
    "import (SQLite)": ("s", 15 * 60),
    "import (PostgreSQL)": ("s", 10 * 60),
    "serving models fit": ("s", 20 * 60),
    "cold start to first /similar": ("s", 15),
    "serving RSS": ("MB", 3 * 1024),
    "/similar p99": ("ms", 10),
    "name search p99": ("ms", 20),
}

# --------------------------------------------------------------------------------------------- synthetic slices


def _words(data_dir: Path) -> list[str]:
    """Distinct words of real song titles and artist names (Yes.com), so names look like music metadata."""
    path = data_dir / "yes_big" / "song_hash.txt"
    words: dict[str, None] = {}
    if path.exists():
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            for part in line.split("\t")[1:3]:
                for w in re.findall(r"[A-Za-z][A-Za-z']+", part):
                    words.setdefault(w.capitalize())
    if len(words) < 500:  # no real data: a short fixed list still gives distinct names
        base = ["love", "night", "heart", "blue", "fire", "road", "city", "dream", "rain", "gold", "wild", "dark"]
        words = dict.fromkeys(f"{a.capitalize()}{b}" for a in base for b in base)
    return sorted(words)


def _names(rng: np.random.Generator, words: list[str], n: int, lo: int, hi: int) -> list[str]:
    counts = rng.integers(lo, hi + 1, size=n)
    picks = rng.integers(0, len(words), size=int(counts.sum()))
    out, i = [], 0
    for c in counts:
        out.append(" ".join(words[j] for j in picks[i : i + c]))
        i += c
    return out


def _zipf_p(n: int, a: float, rng: np.random.Generator | None = None) -> np.ndarray:
    p = 1.0 / np.arange(1, n + 1) ** a
    if rng is not None:
        p = p[rng.permutation(n)]
    return p / p.sum()


def _b62(i: int) -> str:
    """A 22-character Spotify-like base-62 id, unique per integer."""
    alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
    s = ""
    x = i * 2654435761 % (62**22) + 62**21
    while x:
        x, r = divmod(x, 62)
        s += alphabet[r]
    return s[:22]


def catalogue_size(playlists: int) -> tuple[int, int, int]:
    """Tracks, albums, artists of a corpus of `playlists`, grown like the MPD's (sub-linear: the long tail)."""
    f = (playlists / MPD_PLAYLISTS) ** 0.75
    return max(1000, int(MPD_TRACKS * f)), max(300, int(MPD_ALBUMS * f)), max(100, int(MPD_ARTISTS * f))


@dataclass
class Catalogue:
    fragments: list[str]  # each track's JSON fields after "pos"
    album: np.ndarray
    artist: np.ndarray
    duration: np.ndarray
    scene: np.ndarray
    scene_tracks: list[np.ndarray] = field(default_factory=list)
    scene_p: list[np.ndarray] = field(default_factory=list)
    global_p: np.ndarray = field(default_factory=lambda: np.zeros(0))
    playlist_words: list[str] = field(default_factory=list)
    _cdf: dict[int, np.ndarray] = field(default_factory=dict)

    def draw(self, rng: np.random.Generator, scene: int, size: int) -> np.ndarray:
        """`size` tracks of `scene` (-1: the whole catalogue) by popularity. The same draws as
        `rng.choice(tracks, size, p=p)`, whose cumulative sum over 2.26 M tracks per call would dominate writing
        a slice: the normalised CDF is computed once and searched, as `Generator.choice` does inside."""
        if scene not in self._cdf:
            p = self.global_p if scene < 0 else self.scene_p[scene]
            cdf = p.cumsum()
            cdf /= cdf[-1]
            self._cdf[scene] = cdf
        idx = self._cdf[scene].searchsorted(rng.random(size), side="right")
        return idx if scene < 0 else self.scene_tracks[scene][idx]


def make_catalogue(size: int, seed: int, data_dir: Path, scenes: int = 200) -> Catalogue:
    """Tracks with albums and artists of their own popularity, split into scenes; the sizes grow with `size`."""
    rng = np.random.default_rng(seed)
    words = _words(data_dir)
    n_tracks, n_albums, n_artists = catalogue_size(size)
    album_artist = rng.choice(n_artists, size=n_albums, p=_zipf_p(n_artists, 0.9, rng))
    track_album = rng.choice(n_albums, size=n_tracks, p=_zipf_p(n_albums, 0.8, rng))
    track_artist = album_artist[track_album]
    scene_of_artist = rng.integers(0, scenes, size=n_artists)
    track_scene = scene_of_artist[track_artist]
    artist_names = _names(rng, words, n_artists, 1, 3)
    album_names = _names(rng, words, n_albums, 1, 4)
    track_names = _names(rng, words, n_tracks, 1, 5)
    duration = rng.integers(90_000, 420_000, size=n_tracks)
    fragments = []
    for t in range(n_tracks):
        al, ar = int(track_album[t]), int(track_artist[t])
        fragments.append(
            f'"artist_name": {json.dumps(artist_names[ar])}, "track_uri": "spotify:track:{_b62(t)}", '
            f'"artist_uri": "spotify:artist:{_b62(10**9 + ar)}", "track_name": {json.dumps(track_names[t])}, '
            f'"album_uri": "spotify:album:{_b62(2 * 10**9 + al)}", "duration_ms": {int(duration[t])}, '
            f'"album_name": {json.dumps(album_names[al])}'
        )
    # track popularity: Zipf over all tracks (a ≈ 1, like the MPD's), and the same weights inside each scene
    global_p = _zipf_p(n_tracks, 1.0, rng)
    cat = Catalogue(fragments, track_album, track_artist, duration, track_scene, global_p=global_p)
    for s in range(scenes):
        members = np.flatnonzero(track_scene == s)
        if not len(members):
            members = rng.integers(0, n_tracks, size=1)
        p = global_p[members]
        cat.scene_tracks.append(members)
        cat.scene_p.append(p / p.sum())
    cat.playlist_words = words
    return cat


def write_slice(cat: Catalogue, first_pid: int, folder: Path, seed: int) -> Path:
    """One `mpd.slice.<a>-<b>.json` of 1,000 playlists, its content a function of (`seed`, `first_pid`) only."""
    rng = np.random.default_rng([seed, first_pid])
    lengths = np.clip(np.round(rng.lognormal(np.log(49), 0.8, size=SLICE)), 5, 250).astype(int)
    parts = []
    for k in range(SLICE):
        pid = first_pid + k
        n = int(lengths[k])
        scenes = rng.integers(0, len(cat.scene_tracks), size=2)
        draw = 3 * n  # popular songs are drawn again and again: draw more, keep the first n distinct
        n_main, n_second = int(draw * 0.6), int(draw * 0.25)
        picks = np.concatenate(
            [
                cat.draw(rng, int(scenes[0]), n_main),
                cat.draw(rng, int(scenes[1]), n_second),
                cat.draw(rng, -1, draw - n_main - n_second),
            ]
        )
        rng.shuffle(picks)
        tracks = list(dict.fromkeys(int(t) for t in picks))[:n]  # playlists rarely repeat a song
        name = " ".join(
            cat.playlist_words[j] for j in rng.integers(0, len(cat.playlist_words), size=rng.integers(1, 3))
        )
        entries = ", ".join(f'{{"pos": {pos}, {cat.fragments[t]}}}' for pos, t in enumerate(tracks))
        albums = len({int(cat.album[t]) for t in tracks})
        artists = len({int(cat.artist[t]) for t in tracks})
        followers = int(rng.zipf(2.5))
        parts.append(
            f'{{"name": {json.dumps(name)}, "collaborative": "false", "pid": {pid}, '
            f'"modified_at": {1_400_000_000 + int(rng.integers(0, 10**8))}, "num_tracks": {len(tracks)}, '
            f'"num_albums": {albums}, "num_followers": {followers}, "num_edits": {int(rng.integers(1, 50))}, '
            f'"duration_ms": {int(cat.duration[tracks].sum())}, "num_artists": {artists}, "tracks": [{entries}]}}'
        )
    last = first_pid + SLICE - 1
    info = {"generated_on": "synthetic (bench/mpd_scale.py)", "slice": f"{first_pid}-{last}", "version": "v1"}
    path = folder / f"mpd.slice.{first_pid}-{last}.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(f'{{"info": {json.dumps(info)}, "playlists": [' + ", ".join(parts) + "]}", encoding="utf-8")
    tmp.replace(path)
    return path


def write_slices(cat: Catalogue, first: int, count: int, folder: Path, seed: int, desc: str) -> list[Path]:
    """Slices `first`..`first+count-1` (playlist ids 1000·i …) in `folder`; slices already written are kept."""
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    with progress(desc, total=count, unit="slices") as bar:
        for i in range(first, first + count):
            path = folder / f"mpd.slice.{i * SLICE}-{i * SLICE + SLICE - 1}.json"
            out.append(path if path.exists() else write_slice(cat, i * SLICE, folder, seed))
            bar.update(1)
    return out


# --------------------------------------------------------------------------------------------- measured steps


@dataclass
class Measure:
    seconds: float
    peak_mb: float
    ok: bool
    out: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def _peak_rss_mb(pid: int, stop: threading.Event, out: list[float]) -> None:
    """Poll the child's VmHWM (its own high-water mark since exec) until `stop`. `os.wait4`'s ru_maxrss cannot be
    used: Linux carries the parent's peak over the exec into the child's figure, so every small step showed this
    benchmark's own RSS."""
    status = Path(f"/proc/{pid}/status")
    while not stop.is_set():
        try:
            for line in status.read_text().splitlines():
                if line.startswith("VmHWM:"):
                    out.append(int(line.split()[1]) / 1024)
        except (OSError, ValueError):
            pass
        stop.wait(0.2)


def run_step(cmd: list[str], env: dict[str, str], log_path: Path) -> Measure:
    """Run one step in its own process: wall seconds and that process's own peak RSS (VmHWM, polled)."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("w") as err, subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=err, text=True) as p:
        t0 = time.perf_counter()
        stop, peaks = threading.Event(), [0.0]
        poller = threading.Thread(target=_peak_rss_mb, args=(p.pid, stop, peaks), daemon=True)
        poller.start()
        assert p.stdout is not None
        out = p.stdout.read()
        _, status, _usage = os.wait4(p.pid, 0)
        seconds = time.perf_counter() - t0
        stop.set()
        poller.join()
        p.returncode = os.waitstatus_to_exitcode(status)
    ok = p.returncode == 0
    if not ok:
        tail = log_path.read_text(errors="replace").strip().splitlines()[-5:]
        print(f"  FAILED ({p.returncode}): {' '.join(cmd[:4])} …\n    " + "\n    ".join(tail), flush=True)
    extra: dict[str, Any] = {}
    for line in out.splitlines():
        if line.startswith("RESULT "):
            extra = json.loads(line[7:])
    return Measure(seconds, max(peaks), ok, out, extra)


def child_baseline_sqlite(folder: str, db: str) -> None:
    """The plain baseline: the same rows into three plain tables with sqlite3 executemany (no ids, no get-or-create
    of artists/albums, no ORM), one transaction per slice."""
    con = sqlite3.connect(db)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("CREATE TABLE IF NOT EXISTS tracks (uri TEXT PRIMARY KEY, name TEXT, artist TEXT, album TEXT, ms INT)")
    con.execute("CREATE TABLE IF NOT EXISTS playlists (pid INTEGER PRIMARY KEY, name TEXT)")
    con.execute("CREATE TABLE IF NOT EXISTS entries (pid INT, pos INT, uri TEXT, PRIMARY KEY (pid, pos))")
    rows = 0
    for path in sorted(Path(folder).glob("mpd.slice.*.json")):
        doc = json.loads(path.read_text(encoding="utf-8"))
        tracks, pls, entries = [], [], []
        for pl in doc["playlists"]:
            pls.append((pl["pid"], pl["name"]))
            for t in pl["tracks"]:
                tracks.append((t["track_uri"], t["track_name"], t["artist_name"], t["album_name"], t["duration_ms"]))
                entries.append((pl["pid"], t["pos"], t["track_uri"]))
        with con:
            con.executemany("INSERT OR IGNORE INTO tracks VALUES (?, ?, ?, ?, ?)", tracks)
            con.executemany("INSERT OR IGNORE INTO playlists VALUES (?, ?)", pls)
            con.executemany("INSERT OR IGNORE INTO entries VALUES (?, ?, ?)", entries)
        rows += len(entries)
    print("RESULT " + json.dumps({"entries": rows}))


def _pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def child_serve(spawned_at: float, n_queries: int, seed: int) -> None:
    """Cold start (process start → first /similar answer), then serving RSS and latencies, in one bot process."""
    # lazy: the cold start measured here includes loading the bot; the parent and other children never load it
    from sqlalchemy import text

    from bot.app import build_app
    from bot.replies import ChatContext
    from data.settings import Settings

    settings = Settings.from_env(dotenv=False)
    app = build_app(settings)
    snap = app.watcher.current()
    with app.engine.connect() as conn:
        first = conn.execute(text("SELECT track_id FROM playlist_tracks LIMIT 1")).scalar_one()
    info = app.corpus.track_info([first])[first]
    ctx = ChatContext("console", "bench", "bench", "bench")
    replies = asyncio.run(app.core.handle_text(ctx, f"/similar {info.title} - {info.artist}"))
    cold = time.time() - spawned_at
    assert replies and replies[0].kind != "error", replies
    # queries: songs drawn by popularity (random entries), asked as people type them
    with app.engine.connect() as conn:
        n_entries = conn.execute(text("SELECT max(rowid) FROM playlist_tracks")).scalar_one()
        rng = np.random.default_rng(seed)
        rowids = sorted({int(x) for x in rng.integers(1, n_entries + 1, size=n_queries * 2)})[: n_queries * 2]
        ids = [
            int(r)
            for r in conn.execute(
                text(f"SELECT track_id FROM playlist_tracks WHERE rowid IN ({','.join(map(str, rowids))})")
            ).scalars()
        ]
    rng.shuffle(ids)
    infos = app.corpus.track_info(ids[:n_queries])
    queries = [f"{i.title} - {i.artist}" for i in infos.values()]

    async def similar_all() -> tuple[list[float], int]:
        times, errors = [], 0
        for i, q in enumerate(queries):
            c = ChatContext("console", f"c{i}", f"u{i}", "U")
            t0 = time.perf_counter()
            r = await app.core.handle_text(c, f"/similar {q}")
            times.append((time.perf_counter() - t0) * 1000)
            errors += not r or r[0].kind == "error"
        return times, errors

    sim_ms, errors = asyncio.run(similar_all())
    search_ms, model_ms = [], []
    for i, q in enumerate(queries):
        typo = q[: len(q) // 3] + q[len(q) // 3 + 1 :] if i % 2 else q.split(" - ")[0].lower()
        t0 = time.perf_counter()
        snap.search.search(typo)
        search_ms.append((time.perf_counter() - t0) * 1000)
    assert snap.cf is not None
    for t in list(infos)[:n_queries]:
        t0 = time.perf_counter()
        snap.cf.similar(t, 100)
        model_ms.append((time.perf_counter() - t0) * 1000)
    rss = 0.0
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            rss = int(line.split()[1]) / 1024
    result = {
        "cold_s": cold,
        "rss_mb": rss,
        "similar_p50": _pct(sim_ms, 50),
        "similar_p99": _pct(sim_ms, 99),
        "similar_errors": errors,
        "search_p50": _pct(search_ms, 50),
        "search_p99": _pct(search_ms, 99),
        "model_p50": _pct(model_ms, 50),
        "model_p99": _pct(model_ms, 99),
        "queries": len(queries),
        "tracks": len(snap.search),
        "served": {k: v for k, v in snap.versions.items() if v},
    }
    app.close()
    print("RESULT " + json.dumps(result))


# --------------------------------------------------------------------------------------------- the run


def start_postgres() -> str | None:
    """A PostgreSQL URL for the import step: MUREC_TEST_PG_URL's server with our own database (never the test
    database, which tests wipe), started by .ci/services.sh when asked."""
    url = os.environ.get("MUREC_TEST_PG_URL", "")
    if not url:
        out = subprocess.run(["bash", str(ROOT / ".ci" / "services.sh")], capture_output=True, text=True, check=False)
        m = re.search(r"MUREC_TEST_PG_URL=(\S+)", out.stdout)
        if not m:
            print("PostgreSQL: not available (.ci/services.sh failed); skipping the PostgreSQL import")
            return None
        url = m.group(1)
    return url.rsplit("/", 1)[0] + "/murecom_scale"


def reset_pg_database(url: str) -> None:
    """Drop and create the bench's own database (as the server's postgres superuser on this machine)."""
    name = url.rsplit("/", 1)[1]
    owner = re.search(r"//([^:@/]+)", url)
    for sql in (
        f"DROP DATABASE IF EXISTS {name}",
        f"CREATE DATABASE {name} OWNER {owner.group(1) if owner else 'postgres'}",
    ):
        subprocess.run(["runuser", "-u", "postgres", "--", "psql", "-qc", sql], check=True, capture_output=True)


def co_occurring_pairs(db: Path) -> int:
    """Σ|p|² over the imported playlists: what decides whether `murecom train` fits the item-item models."""
    con = sqlite3.connect(db)
    try:
        sql = "SELECT SUM(n * n) FROM (SELECT COUNT(*) AS n FROM playlist_tracks GROUP BY playlist_id)"
        return int(con.execute(sql).fetchone()[0] or 0)
    finally:
        con.close()


def fit_seconds(out: str) -> dict[str, float]:
    """`murecom train`'s per-model fit lines and the evaluation/publish figures it prints."""
    got = {m.group(1): float(m.group(2)) for m in re.finditer(r"^(\S+)\s+fit ([\d.]+)s", out, re.M)}
    for key in ("evaluation", "refit and publish", "search and fallback indexes"):
        m = re.search(rf"^{key} ([\d.]+)s", out, re.M)
        if m:
            got[key] = float(m.group(1))
    return got


def measure_size(size: int, args: argparse.Namespace, pg_url: str | None) -> dict[str, Measure]:
    base = Path(args.work) / f"{GENERATOR}-{size}"
    slices, more = base / "slices", base / "more"
    home = base / "home"
    words_dir = Path(os.environ.get("MUREC_DATA", ROOT.parent / "shared" / "data"))
    t0 = time.perf_counter()
    cat = make_catalogue(size, args.seed, words_dir)
    write_slices(cat, 0, size // SLICE, slices, args.seed, f"write {size:,} playlists")
    write_slices(cat, size // SLICE, 10, more, args.seed, "write 10 more slices")
    del cat
    print(f"{size:,} playlists: slices ready in {time.perf_counter() - t0:.0f}s", flush=True)
    if home.exists() and not args.only:
        shutil.rmtree(home)
    home.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "MUREC_HOME": str(home),
        "MUREC_USER_RATE_PER_MINUTE": "1000000",
        "MUREC_CHAT_RATE_PER_MINUTE": "1000000",
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("DATABASE_URL", None)
    logs = base / "logs"
    me = [sys.executable, str(Path(__file__).resolve())]
    steps: list[tuple[str, list[str], dict[str, str]]] = [
        ("baseline: sqlite3 executemany", [*me, "--child", "baseline", str(slices), str(base / "plain.db")], env),
        ("import (SQLite)", [MURECOM, "import", "mpd", str(slices)], env),
    ]
    if pg_url:
        steps.append(("import (PostgreSQL)", [MURECOM, "import", "mpd", str(slices)], {**env, "DATABASE_URL": pg_url}))
    scratch = {**env, "MUREC_MODELS_DIR": str(base / "scratch-models")}
    fit_only = [MURECOM, "train", "--no-eval", "--no-indexes", "--models"]  # the fit and save, nothing else
    steps += [
        ("baseline: popularity fit", [*fit_only, "popularity"], scratch),
        ("fit sknn", [*fit_only, "sknn"], scratch),
        ("fit rp3beta", [*fit_only, "rp3beta"], scratch),
        ("murecom train", [MURECOM, "train"], env),
        ("serve: cold start + latency", [*me, "--child", "serve", "SPAWN", str(args.queries)], env),
        ("incremental import (10 slices)", [MURECOM, "import", "mpd", str(more)], env),
        ("retrain after increment", [MURECOM, "train"], env),
    ]
    if args.only:
        steps = [st for st in steps if any(st[0].startswith(o) for o in args.only.split(","))]
    results: dict[str, Measure] = {}
    with progress(f"measure {size:,}", total=len(steps), unit="steps") as bar:
        for label, cmd, step_env in steps:
            if label == "import (PostgreSQL)" and pg_url:
                reset_pg_database(pg_url)
            if label == "fit rp3beta":
                pairs = co_occurring_pairs(home / "murecom.db")
                if pairs > MAX_PAIR_MASS:  # what `murecom train` skips at this size is not fitted here either
                    results[label] = Measure(0, 0, True, extra={"skipped": f"{pairs:,} pairs > {MAX_PAIR_MASS:,}"})
                    print(f"  {label}: skipped ({pairs:,} co-occurring pairs, limit {MAX_PAIR_MASS:,})", flush=True)
                    bar.update(1)
                    continue
            cmd = [str(time.time()) if c == "SPAWN" else c for c in cmd]
            log_name = re.sub(r"\W+", "-", label).strip("-") + ".log"
            load_before = os.getloadavg()[0]
            m = run_step(cmd, step_env, logs / log_name)
            m.extra.setdefault("_load", (load_before + os.getloadavg()[0]) / 2)
            results[label] = m
            print(f"  {label}: {m.seconds:.1f}s, peak {m.peak_mb:.0f} MB{'' if m.ok else ' (FAILED)'}", flush=True)
            if len(m.extra) > 1:
                print(f"    {m.extra}", flush=True)
            if label.startswith("murecom train"):
                print(f"    {fit_seconds(m.out)}", flush=True)
            if label.startswith("baseline: sqlite3"):
                (base / "plain.db").unlink(missing_ok=True)  # measured; its GBs are not needed again
            bar.update(1)
    if "baseline: sqlite3 executemany" not in results:
        return results
    results["_entries"] = Measure(0, 0, True, extra=results["baseline: sqlite3 executemany"].extra)
    return results


def fmt_table(all_results: dict[int, dict[str, Measure]]) -> str:
    sizes = sorted(all_results)
    head = "| step | " + " | ".join(f"{s:,} playlists: time · peak RSS · ×baseline" for s in sizes) + " |"
    lines = [head, "|---|" + "---:|" * len(sizes)]
    entries = " | ".join(f"{all_results[s]['_entries'].extra.get('entries', 0):,}" for s in sizes)
    lines.append(f"| playlist entries | {entries} |")
    baseline_of = {
        "import (SQLite)": "baseline: sqlite3 executemany",
        "import (PostgreSQL)": "baseline: sqlite3 executemany",
        "incremental import (10 slices)": None,
        "fit sknn": "baseline: popularity fit",
        "fit rp3beta": "baseline: popularity fit",
        "murecom train": "baseline: popularity fit",
        "retrain after increment": "baseline: popularity fit",
    }
    labels = list(dict.fromkeys(k for s in sizes for k in all_results[s] if not k.startswith("_")))
    for label in labels:
        cells = []
        for s in sizes:
            m = all_results[s].get(label)
            if m is None:
                cells.append("–")
                continue
            if "skipped" in m.extra:
                cells.append(f"skipped: {m.extra['skipped']}")
                continue
            cell = f"{m.seconds:,.1f} s · {m.peak_mb:,.0f} MB"
            b = baseline_of.get(label)
            if b and b in all_results[s] and all_results[s][b].seconds > 0:
                cell += f" · ×{m.seconds / all_results[s][b].seconds:.1f}"
            if not m.ok:
                cell += " (failed)"
            cells.append(cell)
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    serve_rows = [
        ("cold start to first /similar", "cold_s", "{:.1f} s"),
        ("serving RSS", "rss_mb", "{:,.0f} MB"),
        ("/similar p50 / p99 (chat core, end to end)", ("similar_p50", "similar_p99"), "{:.1f} / {:.1f} ms"),
        ("name search p50 / p99", ("search_p50", "search_p99"), "{:.1f} / {:.1f} ms"),
        ("model.similar p50 / p99", ("model_p50", "model_p99"), "{:.2f} / {:.2f} ms"),
        ("tracks in the search index", "tracks", "{:,}"),
    ]
    loads = []
    for s in sizes:
        values = [m.extra["_load"] for k, m in all_results[s].items() if "_load" in m.extra]
        loads.append(f"{min(values):.1f}–{max(values):.1f}" if values else "–")
    lines.append("| machine load (1-min average, 2 cores shared) | " + " | ".join(loads) + " |")
    for label, key, fmt in serve_rows:
        cells = []
        for s in sizes:
            extra = all_results[s].get("serve: cold start + latency", Measure(0, 0, False)).extra
            keys = key if isinstance(key, tuple) else (key,)
            cells.append(fmt.format(*(extra[k] for k in keys)) if all(k in extra for k in keys) else "–")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--child", nargs="*", help=argparse.SUPPRESS)
    ap.add_argument("--sizes", default="10000,100000", help="playlist counts (multiples of 1,000; 1000000 allowed)")
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--queries", type=int, default=300, help="/similar and name-search queries per size")
    ap.add_argument("--pg", action="store_true", help="start the local PostgreSQL (.ci/services.sh) if not given")
    ap.add_argument("--work", default=str(ROOT / "var" / "bench" / "mpd-scale"), help="slices, homes and logs")
    ap.add_argument("--out", default=str(ROOT / "var" / "eval" / "mpd-scale.md"))
    ap.add_argument("--merge", action="store_true", help="keep the other sizes of the last run's .json in the table")
    ap.add_argument("--only", default="", help="comma-separated step labels (prefixes) to run; the others are kept")
    args = ap.parse_args()
    if args.child:
        kind, *rest = args.child
        if kind == "baseline":
            child_baseline_sqlite(rest[0], rest[1])
        elif kind == "serve":
            child_serve(float(rest[0]), int(rest[1]), args.seed)
        return
    sizes = [int(s) for s in args.sizes.split(",") if s]
    if any(s % SLICE for s in sizes):
        sys.exit("sizes must be multiples of 1,000 (one slice)")
    pg_url = start_postgres() if (args.pg or os.environ.get("MUREC_TEST_PG_URL")) else None
    all_results: dict[int, dict[str, Measure]] = {}
    raw_path = Path(args.out).with_suffix(".json")
    if (args.merge or args.only) and raw_path.exists():  # sizes (or steps) measured by an earlier run
        for size, steps in json.loads(raw_path.read_text()).items():
            all_results[int(size)] = {k: Measure(**v) for k, v in steps.items()}
    for size in sizes:
        earlier = all_results.get(size, {}) if args.only else {}
        all_results[size] = {**earlier, **measure_size(size, args, pg_url)}
        raw = {s: {k: {**vars(m), "out": ""} for k, m in r.items()} for s, r in all_results.items()}
        raw_path.parent.mkdir(parents=True, exist_ok=True)
        raw_path.write_text(json.dumps(raw, indent=1))
        table = fmt_table(all_results)
        shown = ",".join(str(n) for n in sorted(all_results))
        command = f"nice -n 10 .venv/bin/python bench/mpd_scale.py --sizes {shown}{' --pg' if pg_url else ''}"
        text = (
            f"## MPD-scale growth (synthetic slices in the MPD layout, seed {args.seed}, {os.cpu_count()} cores)\n\n"
            f"`{command}`\n\n{table}\n"
            "Each step ran in its own process; peak RSS is that process's own (VmHWM, polled). ×baseline: the import "
            "steps against plain sqlite3 executemany of the same rows, the training steps against a popularity fit "
            "(`murecom train --models popularity --no-eval`: reading the corpus plus one counting pass).\n"
        )
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text)
        print("\n" + text, flush=True)
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
