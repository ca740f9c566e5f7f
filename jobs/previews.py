"""Audio previews for tracks that have none: the track's preview URL when it has one, else a yt-dlp search.

Never Spotify's audio: a preview is embedded by the audio model, and Spotify's Developer Terms (v9, IV.2.a.i) and
Developer Policy (III.14) forbid ingesting Spotify Content into an ML model, so a URL on Spotify's hosts
(`SPOTIFY_AUDIO_HOSTS`: the 30-second previews the removed playlist crawl stored) is refused even when a deployment's
allow-list names the host.

Every download is bounded and checked, because the URLs come from outside (the rules and why: `jobs.safe_fetch`):
- only http(s) URLs whose host is on the allow-list (`MUREC_PREVIEW_ALLOWED_HOSTS`), and whose addresses, once
  resolved, are public (also through NAT64, 6to4, IPv4-mapped and IPv4-compatible forms); the connection goes to
  the address that was checked (no second DNS lookup to rebind), and each redirect hop is checked the same way;
- yt-dlp makes every request, redirects included, through the same checked and pinned client (`_GuardedRH`, its
  only request handler), so an extractor or a media URL cannot reach a host off the allow-list;
- an overall deadline per download (`DOWNLOAD_DEADLINE` seconds), not only per-read timeouts;
- at most `max_audio_bytes` bytes (streamed, cut off past the cap) and `max_audio_seconds` of audio;
- at most `budget` tracks per run.
A fetched file lands in `<audio_dir>/previews/`, and `Track.audio_path` is set in the same step; then the audio
index is refreshed when the audio recommender is installed.
"""

from __future__ import annotations

import io
import logging
import urllib.request
from dataclasses import dataclass, field
from email.message import Message
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx
import soundfile as sf
from sqlalchemy import Engine, select, update

from data.corpus import Corpus
from data.models import Artist, Track, TrackArtist
from data.settings import Settings
from jobs.safe_fetch import Deadline, FetchRefused, PinnedClient, Resolver, check_url, system_resolver
from recommenders.artifacts import ArtifactStore
from recommenders.audio.loader import AudioModels
from recommenders.audio.setup import ensure_index

log = logging.getLogger(__name__)
DOWNLOAD_DEADLINE = 120.0

#: Refusals of a preview; the same class as the fetcher's, so callers catch one exception.
PreviewRejected = FetchRefused
#: Spotify's audio and web hosts (and their subdomains): no preview is fetched from them (the module docstring).
SPOTIFY_AUDIO_HOSTS = ("scdn.co", "spotifycdn.com", "spotify.com")


def is_spotify_audio(url: str) -> bool:
    """Whether `url` is on one of Spotify's hosts."""
    host = (urlparse(url).hostname or "").lower().rstrip(".")
    return any(host == h or host.endswith("." + h) for h in SPOTIFY_AUDIO_HOSTS)


@dataclass
class PreviewReport:
    considered: int = 0
    fetched: int = 0
    failed: int = 0
    rejected: dict[str, int] = field(default_factory=dict)
    indexed: str = ""


def download(
    url: str,
    dest: Path,
    *,
    allowed: tuple[str, ...],
    max_bytes: int,
    timeout: float = 15.0,
    deadline: float = DOWNLOAD_DEADLINE,
    resolve: Resolver = system_resolver,
) -> Path:
    """Stream `url` into `dest` with the checks above; the partial file is removed on any failure."""
    tmp = dest.with_suffix(dest.suffix + ".part")
    try:
        with (
            PinnedClient(allowed, Deadline(deadline), timeout=timeout, resolve=resolve) as client,
            client.stream("GET", url) as response,
        ):
            if response.status_code != 200:
                raise PreviewRejected(f"HTTP {response.status_code}")
            if int(response.headers.get("content-length") or 0) > max_bytes:
                raise PreviewRejected("file too large")
            size = 0
            with tmp.open("wb") as fh:
                for chunk in client.iter_bytes(response):
                    size += len(chunk)
                    if size > max_bytes:
                        raise PreviewRejected("file too large")
                    fh.write(chunk)
            tmp.replace(dest)
            return dest
    finally:
        tmp.unlink(missing_ok=True)


def check_audio(path: Path, max_seconds: float) -> float:
    """Duration of a real audio file, or PreviewRejected (not audio / too long); the file is removed if rejected."""
    try:
        duration = sf.info(str(path)).duration
    except (sf.LibsndfileError, RuntimeError) as exc:
        path.unlink(missing_ok=True)
        raise PreviewRejected("not a readable audio file") from exc
    if duration <= 0 or duration > max_seconds:
        path.unlink(missing_ok=True)
        raise PreviewRejected(f"duration {duration:.0f}s outside (0, {max_seconds:.0f}]")
    return duration


class _BodyReader(io.RawIOBase):
    """A file-like view of a streamed httpx response, for yt-dlp's `Response` (reads stop at the deadline)."""

    def __init__(self, client: PinnedClient, response: httpx.Response) -> None:
        super().__init__()
        self._response = response
        self._chunks = client.iter_bytes(response)
        self._buffer = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._buffer:
            piece = next(self._chunks, None)
            if piece is None:
                return 0
            self._buffer = piece
        n = min(len(buffer), len(self._buffer))
        buffer[:n] = self._buffer[:n]
        self._buffer = self._buffer[n:]
        return n

    def close(self) -> None:
        self._response.close()
        super().close()


def _guarded_handler(client: PinnedClient) -> Any:
    """yt-dlp's only request handler: every request, redirects included, through the checked, pinned `client`."""
    # lazy: yt-dlp (~170 ms) only when a preview is searched or fetched through it
    from yt_dlp.networking.common import RequestHandler, Response
    from yt_dlp.networking.exceptions import HTTPError, TransportError

    class _GuardedRH(RequestHandler):
        _SUPPORTED_URL_SCHEMES = ("http", "https")
        RH_NAME = "murecom-guarded"

        def _check_proxies(self, proxies: dict) -> None:
            """Proxies are ignored: connecting through one by name would undo the address pinning."""

        def _check_extensions(self, extensions: dict) -> None:
            super()._check_extensions(extensions)
            for supported in ("cookiejar", "timeout", "legacy_ssl", "keep_header_casing"):
                extensions.pop(supported, None)

        def _send(self, request: Any) -> Any:
            headers = self._get_headers(request)
            jar = self._get_cookiejar(request)
            cookie_probe = urllib.request.Request(request.url, headers=headers)
            jar.add_cookie_header(cookie_probe)
            if cookie_probe.has_header("Cookie"):
                headers["Cookie"] = str(cookie_probe.get_header("Cookie"))
            data = request.data
            if data is not None and not isinstance(data, bytes):
                data = data.read() if hasattr(data, "read") else b"".join(data)
            method = request.method or ("POST" if data is not None else "GET")
            try:
                response, final_url = client.open(method, request.url, headers=headers, content=data)
            except FetchRefused as exc:
                raise TransportError(str(exc)) from exc  # a network error to yt-dlp: reported, not crashed
            info = Message()
            for name, value in response.headers.multi_items():
                if name.lower() not in ("content-encoding", "transfer-encoding"):  # the body arrives decoded
                    info[name] = value
            jar.extract_cookies(_CookieSource(info), cookie_probe)
            wrapped = Response(
                fp=_BodyReader(client, response),
                url=final_url,
                headers=info,
                status=response.status_code,
                reason=response.reason_phrase,
            )
            if not 200 <= response.status_code < 300:
                raise HTTPError(wrapped)
            return wrapped

    return _GuardedRH


@dataclass
class _CookieSource:
    """What `http.cookiejar.CookieJar.extract_cookies` needs of a response."""

    headers: Message

    def info(self) -> Message:
        return self.headers


def ytdlp_fetch(
    target: str,
    dest_dir: Path,
    stem: str,
    *,
    allowed: tuple[str, ...],
    max_bytes: int,
    max_seconds: float,
    deadline: float = DOWNLOAD_DEADLINE,
    resolve: Resolver = system_resolver,
) -> Path:
    """Download with yt-dlp: a URL (allow-list checked) or a search such as `ytsearch1:title artist`.

    Every HTTP request yt-dlp makes goes through one `PinnedClient` (allow-list, public pinned address, checked
    redirects) under one deadline for the whole search and download.
    """
    # lazy: yt-dlp (~170 ms) only when a preview is searched or fetched through it
    import yt_dlp
    from yt_dlp.utils import match_filter_func

    if "://" in target:
        check_url(target, allowed, resolve)
    options = {
        "outtmpl": str(dest_dir / f"{stem}.%(ext)s"),
        "format": "bestaudio/best",
        "max_filesize": max_bytes,
        "match_filter": match_filter_func(f"duration <=? {int(max_seconds)}"),
        "noplaylist": True,
        "quiet": True,
        "no_warnings": True,
        "noprogress": True,
        "socket_timeout": 15,
        "retries": 1,
        "playlistend": 1,
        "external_downloader": {"default": "native"},  # no ffmpeg/curl fetching behind the guarded handler
    }

    with PinnedClient(allowed, Deadline(deadline), timeout=15.0, resolve=resolve) as client:
        handler = _guarded_handler(client)

        class GuardedYoutubeDL(yt_dlp.YoutubeDL):
            def build_request_director(self, handlers: Any, preferences: Any = None) -> Any:
                return super().build_request_director([handler], preferences)

        with GuardedYoutubeDL(options) as ydl:
            try:
                info = ydl.extract_info(target, download=True)
            except yt_dlp.utils.DownloadError as exc:
                raise PreviewRejected(f"yt-dlp: {str(exc).splitlines()[0][:160]}") from exc
            if info and info.get("entries"):
                info = info["entries"][0]
            if not info:
                raise PreviewRejected("yt-dlp found nothing")
            path = Path(ydl.prepare_filename(info))
    if not path.exists():
        raise PreviewRejected("yt-dlp skipped it (too long or too large)")
    return path


def fetch_previews(
    engine: Engine, settings: Settings, *, budget: int | None = None, models: AudioModels | None = None
) -> PreviewReport:
    """Fetch up to `budget` previews for the most popular tracks without audio, then index them (with the caller's
    loaded audio `models`, if it keeps any)."""
    budget = settings.preview_run_budget if budget is None else budget
    report = PreviewReport()
    folder = settings.audio_dir / "previews"
    folder.mkdir(parents=True, exist_ok=True)
    wanted = select(Track.id, Track.title, Track.preview_url).where(Track.audio_path.is_(None))
    if not settings.preview_search:
        wanted = wanted.where(Track.preview_url.is_not(None))
    with engine.connect() as conn:
        rows = conn.execute(wanted.order_by(Track.popularity.desc(), Track.id).limit(max(0, budget) * 3)).all()
        artists = dict(
            conn.execute(
                select(TrackArtist.track_id, Artist.name)
                .join(Artist, Artist.id == TrackArtist.artist_id)
                .where(TrackArtist.track_id.in_([r[0] for r in rows]), TrackArtist.position == 0)
            ).all()
        )
    allowed = settings.preview_allowed_hosts
    for track_id, title, preview_url in rows:
        if report.fetched >= budget:
            break
        report.considered += 1
        try:
            if preview_url and is_spotify_audio(preview_url):
                raise PreviewRejected(f"spotify content: {urlparse(preview_url).hostname}")
            if preview_url:
                suffix = Path(urlparse(preview_url).path).suffix[:6] or ".mp3"
                path = download(
                    preview_url, folder / f"{track_id}{suffix}", allowed=allowed, max_bytes=settings.max_audio_bytes
                )
            else:
                query = settings.preview_search.format(title=title, artist=artists.get(track_id, ""))
                path = ytdlp_fetch(
                    query,
                    folder,
                    str(track_id),
                    allowed=allowed,
                    max_bytes=settings.max_audio_bytes,
                    max_seconds=settings.max_audio_seconds,
                )
            check_audio(path, settings.max_audio_seconds)
        except PreviewRejected as exc:
            reason = str(exc).split(":")[0]
            report.rejected[reason] = report.rejected.get(reason, 0) + 1
            log.info("preview of track %s rejected: %s", track_id, exc)
            continue
        except Exception:  # noqa: BLE001 - one bad track must not stop the run; logged with its traceback
            report.failed += 1
            log.exception("preview of track %s failed", track_id)
            continue
        with engine.begin() as conn:
            conn.execute(update(Track).where(Track.id == track_id).values(audio_path=str(path)))
        report.fetched += 1
    if report.fetched:
        report.indexed = index_new_audio(engine, settings, models)
    return report


def index_new_audio(engine: Engine, settings: Settings, models: AudioModels | None = None) -> str:
    """Refresh the audio index so new previews are searchable."""
    return ensure_index(Corpus(engine), ArtifactStore(settings.models_dir), settings, models=models)
