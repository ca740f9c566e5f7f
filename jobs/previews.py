"""Audio previews for tracks that have none: a preview URL when Spotify gives one, else a yt-dlp search.

Every download is bounded and checked, because the URLs come from outside:
- only http(s) URLs whose host is on the allow-list (`MUREC_PREVIEW_ALLOWED_HOSTS`), and whose addresses, once
  resolved, are public — a private, loopback or link-local address is refused unless that very IP (or
  localhost) is itself allow-listed (tests allow 127.0.0.1); redirects are followed by hand and checked the same way;
- at most `max_audio_bytes` bytes (streamed, cut off past the cap) and `max_audio_seconds` of audio;
- at most `budget` tracks per run.
A fetched file lands in `<audio_dir>/previews/`, and `Track.audio_path` is set in the same step; then the audio
index is refreshed when the audio recommender is installed.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urljoin, urlparse

import httpx
import soundfile as sf
from sqlalchemy import Engine, select, update

from data.models import Artist, Track, TrackArtist
from data.settings import Settings

log = logging.getLogger(__name__)
MAX_REDIRECTS = 3


class PreviewRejected(ValueError):
    """A preview that must not or could not be used; the message says why."""


@dataclass
class PreviewReport:
    considered: int = 0
    fetched: int = 0
    failed: int = 0
    rejected: dict[str, int] = field(default_factory=dict)
    indexed: str = ""


def _host_allowed(host: str, allowed: tuple[str, ...]) -> bool:
    return any(host == a or host.endswith("." + a) for a in allowed)


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def check_url(url: str, allowed: tuple[str, ...]) -> None:
    """Raise PreviewRejected unless `url` may be fetched (scheme, allow-list, public address)."""
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise PreviewRejected(f"not an http(s) URL: {url[:80]}")
    host = parsed.hostname.lower()
    if not _host_allowed(host, allowed):
        raise PreviewRejected(f"host {host} is not on the allow-list")
    try:
        infos = socket.getaddrinfo(host, parsed.port or (443 if parsed.scheme == "https" else 80))
    except socket.gaierror as exc:
        raise PreviewRejected(f"cannot resolve {host}") from exc
    # a private address is acceptable only when the allow-list names that very IP (or localhost) itself, never
    # through a domain name, which could be re-pointed inside the network (DNS rebinding)
    literal_ok = host in allowed and (host == "localhost" or _is_ip(host))
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if not address.is_global and not literal_ok:
            raise PreviewRejected(f"{host} resolves to a private address ({address})")


def download(url: str, dest: Path, *, allowed: tuple[str, ...], max_bytes: int, timeout: float = 15.0) -> Path:
    """Stream `url` into `dest` with the checks above; the partial file is removed on any failure."""
    tmp = dest.with_suffix(dest.suffix + ".part")
    try:
        with httpx.Client(follow_redirects=False, timeout=timeout) as client:
            for _ in range(MAX_REDIRECTS + 1):
                check_url(url, allowed)
                with client.stream("GET", url) as response:
                    if response.is_redirect:
                        url = urljoin(url, response.headers.get("location", ""))
                        continue
                    if response.status_code != 200:
                        raise PreviewRejected(f"HTTP {response.status_code}")
                    if int(response.headers.get("content-length") or 0) > max_bytes:
                        raise PreviewRejected("file too large")
                    size = 0
                    with tmp.open("wb") as fh:
                        for chunk in response.iter_bytes(65536):
                            size += len(chunk)
                            if size > max_bytes:
                                raise PreviewRejected("file too large")
                            fh.write(chunk)
                    tmp.replace(dest)
                    return dest
            raise PreviewRejected("too many redirects")
    except httpx.HTTPError as exc:
        raise PreviewRejected(f"download failed: {type(exc).__name__}") from exc
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


def ytdlp_fetch(
    target: str, dest_dir: Path, stem: str, *, allowed: tuple[str, ...], max_bytes: int, max_seconds: float
) -> Path:
    """Download with yt-dlp: a URL (allow-list checked) or a search such as `ytsearch1:title artist`."""
    import yt_dlp
    from yt_dlp.utils import match_filter_func

    if "://" in target:
        check_url(target, allowed)
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
    }
    with yt_dlp.YoutubeDL(options) as ydl:
        try:
            info = ydl.extract_info(target, download=True)
        except yt_dlp.utils.DownloadError as exc:
            raise PreviewRejected(f"yt-dlp: {str(exc).splitlines()[0][:120]}") from exc
        if info and info.get("entries"):
            info = info["entries"][0]
        if not info:
            raise PreviewRejected("yt-dlp found nothing")
        path = Path(ydl.prepare_filename(info))
    if not path.exists():
        raise PreviewRejected("yt-dlp skipped it (too long or too large)")
    return path


def fetch_previews(engine: Engine, settings: Settings, *, budget: int | None = None) -> PreviewReport:
    """Fetch up to `budget` previews for the most popular tracks without audio."""
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
        report.indexed = index_new_audio(engine, settings)
    return report


def index_new_audio(engine: Engine, settings: Settings) -> str:
    """Refresh the audio index so new previews are searchable (when the audio recommender is installed)."""
    try:
        from recommenders.audio.setup import ensure_index
    except ModuleNotFoundError:
        return "audio recommender not installed; previews stored for later indexing"
    from data.corpus import Corpus
    from recommenders.artifacts import ArtifactStore

    return ensure_index(Corpus(engine), ArtifactStore(settings.models_dir), settings)
