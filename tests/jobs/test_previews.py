"""Audio previews: real audio served on loopback, the allow-list, size and duration caps, yt-dlp, the budget."""

from __future__ import annotations

import socket
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from sqlalchemy import select, update

from data.importers.common import ensure_tracks
from data.models import Track
from data.settings import Settings
from jobs.previews import PreviewRejected, check_url, download, fetch_previews, ytdlp_fetch


@pytest.fixture(scope="module")
def audio_src() -> Path:
    folder = Settings.from_env(dotenv=False).home / "audio-src"
    assert any(folder.glob("*/*.ogg")), f"no real audio in {folder}: run scripts/get_audio.sh"
    return folder


def write_ogg(path: Path, data: np.ndarray, sr: int) -> None:
    """Write Ogg Vorbis in blocks (libsndfile's Vorbis encoder can crash on one large write)."""
    with sf.SoundFile(path, "w", sr, data.shape[1] if data.ndim > 1 else 1, format="OGG", subtype="VORBIS") as fh:
        for start in range(0, len(data), 8192):
            fh.write(data[start : start + 8192])


@pytest.fixture(scope="module")
def served(tmp_path_factory, audio_src):
    """A loopback HTTP server with excerpts of a real recording, a text file and a redirect to a private address."""
    root = tmp_path_factory.mktemp("www")
    source = sorted(audio_src.glob("wesnoth/*.ogg"))[0]
    data, sr = sf.read(source, frames=44100 * 90, dtype="float32")
    write_ogg(root / "clip.ogg", data[: sr * 8], sr)
    write_ogg(root / "long.ogg", data, sr)
    (root / "fake.mp3").write_text("this is not audio\n" * 100)
    (root / "big.bin").write_bytes(np.random.default_rng(0).bytes(3_000_000))

    class Handler(SimpleHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

        def do_GET(self) -> None:
            if self.path == "/to-private":
                self.send_response(302)
                self.send_header("Location", "http://10.1.2.3/secret.ogg")
                self.end_headers()
                return
            super().do_GET()

    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(Handler, directory=str(root)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


LOOPBACK = ("127.0.0.1",)


@pytest.mark.parametrize(
    ("url", "allowed", "why"),
    [
        ("http://10.0.0.1/x.mp3", ("p.scdn.co",), "allow-list"),
        ("http://192.168.1.2/x.mp3", ("p.scdn.co",), "allow-list"),
        ("http://169.254.169.254/latest/meta-data", ("p.scdn.co",), "allow-list"),
        ("http://127.0.0.1/x.mp3", ("p.scdn.co",), "allow-list"),
        ("file:///etc/passwd", ("p.scdn.co",), "not an http"),
        ("ftp://p.scdn.co/x.mp3", ("p.scdn.co",), "not an http"),
    ],
)
def test_allow_list_refuses(url: str, allowed: tuple[str, ...], why: str) -> None:
    with pytest.raises(PreviewRejected, match=why):
        check_url(url, allowed)


def test_allowed_host_resolving_to_a_private_address_is_refused(monkeypatch) -> None:
    """DNS answers for an allow-listed name that point inside the network (rebinding) are refused."""

    def private_dns(host, port, *args, **kwargs):
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.5", port))]

    monkeypatch.setattr(socket, "getaddrinfo", private_dns)
    with pytest.raises(PreviewRejected, match="private address"):
        check_url("https://p.scdn.co/mp3-preview/abc", ("p.scdn.co",))


def test_download_real_audio_and_caps(served, tmp_path) -> None:
    got = download(f"{served}/clip.ogg", tmp_path / "a.ogg", allowed=LOOPBACK, max_bytes=5_000_000)
    assert sf.info(str(got)).duration == pytest.approx(8.0, abs=0.1)
    with pytest.raises(PreviewRejected, match="too large"):
        download(f"{served}/big.bin", tmp_path / "b.bin", allowed=LOOPBACK, max_bytes=1_000_000)
    with pytest.raises(PreviewRejected, match="allow-list"):
        download(f"{served}/to-private", tmp_path / "c.ogg", allowed=LOOPBACK, max_bytes=5_000_000)
    with pytest.raises(PreviewRejected, match="HTTP 404"):
        download(f"{served}/missing.ogg", tmp_path / "d.ogg", allowed=LOOPBACK, max_bytes=5_000_000)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.ogg"]  # nothing partial left behind


def test_ytdlp_downloads_from_a_loopback_url(served, tmp_path) -> None:
    path = ytdlp_fetch(f"{served}/clip.ogg", tmp_path, "t1", allowed=LOOPBACK, max_bytes=5_000_000, max_seconds=60)
    assert path.exists() and sf.info(str(path)).duration == pytest.approx(8.0, abs=0.1)
    with pytest.raises(PreviewRejected, match="allow-list"):
        ytdlp_fetch("http://192.168.0.10/x.ogg", tmp_path, "t2", allowed=LOOPBACK, max_bytes=5_000_000, max_seconds=60)


def test_fetch_previews_budget_and_bad_files(served, tmp_path, empty_engine) -> None:
    settings = Settings.from_env(
        {
            "MUREC_HOME": str(tmp_path),
            "MUREC_PREVIEW_ALLOWED_HOSTS": "127.0.0.1",
            "MUREC_PREVIEW_SEARCH": "",
            "MUREC_MAX_AUDIO_SECONDS": "60",
        }
    )
    urls = {
        "good1": f"{served}/clip.ogg",
        "long": f"{served}/long.ogg",
        "text": f"{served}/fake.mp3",
        "private": "http://10.9.9.9/x.ogg",
        "good2": f"{served}/clip.ogg",
        "good3": f"{served}/clip.ogg",
    }
    with empty_engine.begin() as conn:
        ids = ensure_tracks(conn, "test", {k: {"title": k} for k in urls})
        for key, url in urls.items():
            pop = 100 - list(urls).index(key)
            conn.execute(update(Track).where(Track.id == ids[key]).values(preview_url=url, popularity=pop))
    report = fetch_previews(empty_engine, settings, budget=2)
    assert report.fetched == 2
    assert sum(report.rejected.values()) == 3
    with empty_engine.connect() as conn:
        paths = dict(conn.execute(select(Track.source_key, Track.audio_path)).all())
    assert paths["good1"] and paths["good2"] and paths["good3"] is None
    assert paths["long"] is None and paths["text"] is None and paths["private"] is None
    assert sf.info(paths["good1"]).duration == pytest.approx(8.0, abs=0.1)
    assert not list((settings.audio_dir / "previews").glob("*.part"))
