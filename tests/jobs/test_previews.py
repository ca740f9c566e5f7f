"""Audio previews: real audio served on loopback, the allow-list, size and duration caps, yt-dlp, the budget.

Also the download guards of `jobs.safe_fetch`: a rebinding resolver never gets the connection to loopback, IPv6
forms that carry a private IPv4 address are private, a drip-feeding server is cut at the overall deadline, and
yt-dlp's redirects are held to the allow-list.
"""

from __future__ import annotations

import socket
import threading
import time
from collections import Counter
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
from jobs.safe_fetch import is_public


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


HITS: Counter[str] = Counter()
HOST_HEADERS: list[str] = []
STOP = threading.Event()


@pytest.fixture(scope="module")
def served(tmp_path_factory, audio_src):
    """A loopback HTTP server with excerpts of a real recording, a text file, redirects, a secret and a drip.

    Every request is counted by path in `HITS`; `/drip` sends one byte every 0.5 s of a declared 1,000.
    """
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

        def redirect(self, location: str) -> None:
            self.send_response(302)
            self.send_header("Location", location)
            self.end_headers()

        def do_GET(self) -> None:
            HITS[self.path] += 1
            HOST_HEADERS.append(self.headers.get("Host", ""))
            port = self.server.server_address[1]
            if self.path == "/to-private":
                return self.redirect("http://10.1.2.3/secret.ogg")
            if self.path == "/to-elsewhere":  # the same server under a name that is not allow-listed
                return self.redirect(f"http://localhost:{port}/elsewhere.ogg")
            if self.path == "/to-clip":
                return self.redirect(f"http://127.0.0.1:{port}/clip.ogg")
            if self.path == "/drip":
                self.send_response(200)
                self.send_header("Content-Type", "audio/ogg")
                self.send_header("Content-Length", "1000")
                self.end_headers()
                for _ in range(1000):
                    if STOP.wait(0.5):
                        return
                    try:
                        self.wfile.write(b"x")
                        self.wfile.flush()
                    except OSError:
                        return
                return
            super().do_GET()

    (root / "secret").write_text("internal only\n")
    (root / "elsewhere.ogg").write_bytes((root / "clip.ogg").read_bytes())
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(Handler, directory=str(root)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    STOP.set()
    server.shutdown()
    server.server_close()


LOOPBACK = ("127.0.0.1",)


@pytest.mark.fast
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


@pytest.mark.fast
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


def test_spotify_audio_is_never_fetched_even_when_allow_listed(tmp_path, empty_engine) -> None:
    """A preview URL on Spotify's hosts (left by the removed crawl) is refused before any DNS look-up or request."""
    settings = Settings.from_env(
        {"MUREC_HOME": str(tmp_path), "MUREC_PREVIEW_ALLOWED_HOSTS": "p.scdn.co,scdn.co", "MUREC_PREVIEW_SEARCH": ""}
    )
    urls = {"a": "https://p.scdn.co/mp3-preview/abc", "b": "https://audio-ak.spotifycdn.com/x.mp3"}
    with empty_engine.begin() as conn:
        ids = ensure_tracks(conn, "spotify", {k: {"title": k} for k in urls})
        for key, url in urls.items():
            conn.execute(update(Track).where(Track.id == ids[key]).values(preview_url=url))
    report = fetch_previews(empty_engine, settings, budget=5)
    assert report.rejected == {"spotify content": 2} and report.fetched == 0 and report.failed == 0
    with empty_engine.connect() as conn:
        assert conn.scalars(select(Track.audio_path)).all() == [None, None]


class RebindingDNS:
    """The system resolver, except that `rebind.example` answers public first and loopback on every later lookup."""

    def __init__(self) -> None:
        self.calls = 0
        self.real = socket.getaddrinfo

    def __call__(self, host, port, *args, **kwargs):
        if host != "rebind.example":
            return self.real(host, port, *args, **kwargs)
        self.calls += 1
        address = "93.184.216.34" if self.calls == 1 else "127.0.0.1"
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]


def test_rebinding_dns_never_reaches_the_loopback_secret(served, tmp_path, monkeypatch) -> None:
    """The connection goes to the address that was checked; a second lookup (answering 127.0.0.1) never happens."""
    port = served.rsplit(":", 1)[1]
    dns = RebindingDNS()
    monkeypatch.setattr(socket, "getaddrinfo", dns)
    before = HITS["/secret"]
    with pytest.raises(PreviewRejected):
        download(
            f"http://rebind.example:{port}/secret",
            tmp_path / "s.ogg",
            allowed=("rebind.example",),
            max_bytes=1000,
            timeout=1.0,
        )
    assert HITS["/secret"] == before
    assert dns.calls == 1
    assert not list(tmp_path.iterdir())


def test_connection_goes_to_the_resolved_address_with_the_name_as_host(served, tmp_path) -> None:
    """The one lookup's answer is where the bytes come from; the server still sees the name in `Host`."""
    port = served.rsplit(":", 1)[1]
    lookups: list[str] = []

    def resolver(host: str, _port: int) -> list[str]:
        lookups.append(host)
        return ["127.0.0.1"]

    got = download(
        f"http://localhost:{port}/clip.ogg",
        tmp_path / "p.ogg",
        allowed=("localhost",),
        max_bytes=5_000_000,
        resolve=resolver,
    )
    assert sf.info(str(got)).duration == pytest.approx(8.0, abs=0.1)
    assert lookups == ["localhost"]
    assert HOST_HEADERS[-1] == f"localhost:{port}"


@pytest.mark.fast
@pytest.mark.parametrize(
    "address",
    [
        "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1
        "64:ff9b::a00:5",  # NAT64 of 10.0.0.5
        "64:ff9b:1::a9fe:a9fe",  # local-use NAT64 of 169.254.169.254
        "2002:7f00:1::1",  # 6to4 of 127.0.0.1
        "2002:c0a8:102::1",  # 6to4 of 192.168.1.2
        "::ffff:127.0.0.1",  # IPv4-mapped
        "::ffff:10.0.0.1",
        "::127.0.0.1",  # IPv4-compatible
        "::a00:1",
        "2001:0:4136:e378:8000:63bf:f5ff:fffe",  # Teredo, client 10.0.0.1
        "127.0.0.1",
        "100.64.0.1",
        "fd00::1",
        "ff02::1",
    ],
)
def test_private_addresses_in_any_form_are_refused(address: str) -> None:
    with pytest.raises(PreviewRejected, match="private address"):
        check_url("https://p.scdn.co/mp3-preview/abc", ("p.scdn.co",), lambda host, port: [address])


@pytest.mark.fast
@pytest.mark.parametrize(
    "address", ["8.8.8.8", "64:ff9b::808:808", "2002:808:808::1", "::ffff:8.8.8.8", "2606:4700::1"]
)
def test_public_addresses_pass_and_are_the_ones_pinned(address: str) -> None:
    import ipaddress

    assert is_public(ipaddress.ip_address(address))
    target = check_url("https://p.scdn.co/mp3-preview/abc", ("p.scdn.co",), lambda host, port: [address])
    assert (target.host, target.port, target.address) == ("p.scdn.co", 443, address)


def test_drip_feeding_server_is_cut_at_the_overall_deadline(served, tmp_path) -> None:
    """One byte every 0.5 s never trips a 1 s read timeout; the 2 s deadline still ends the download."""
    t0 = time.monotonic()
    with pytest.raises(PreviewRejected, match="deadline of 2s exceeded"):
        download(f"{served}/drip", tmp_path / "d.ogg", allowed=LOOPBACK, max_bytes=5000, timeout=1.0, deadline=2.0)
    elapsed = time.monotonic() - t0
    assert 2.0 <= elapsed < 3.5, elapsed
    assert not list(tmp_path.iterdir())


def test_ytdlp_follows_allow_listed_redirects_only(served, tmp_path) -> None:
    path = ytdlp_fetch(f"{served}/to-clip", tmp_path, "t3", allowed=LOOPBACK, max_bytes=5_000_000, max_seconds=60)
    assert sf.info(str(path)).duration == pytest.approx(8.0, abs=0.1)
    before = HITS["/elsewhere.ogg"]
    with pytest.raises(PreviewRejected, match="localhost is not on the allow-list"):
        ytdlp_fetch(f"{served}/to-elsewhere", tmp_path, "t4", allowed=LOOPBACK, max_bytes=5_000_000, max_seconds=60)
    assert HITS["/elsewhere.ogg"] == before
    assert not list(tmp_path.glob("t4*"))
