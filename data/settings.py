"""Configuration from the environment (and an optional `.env` file).

One frozen object, read once by the `murecom` command (`Settings.from_env`) and handed to whatever needs it, so
every module sees the same values and tests build their own; there is no process-wide instance to reach for.
Secrets (tokens, client secret) are kept out of `repr` so they never reach a log line.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from pathlib import Path

from dotenv import load_dotenv

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _path(value: str, base: Path) -> Path:
    p = Path(value).expanduser()
    return p if p.is_absolute() else (base / p).resolve()


@dataclass(frozen=True)
class Settings:
    """Every setting murecom reads; `.env.example` documents each key."""

    home: Path
    data_dir: Path
    database_url: str = field(repr=False)
    models_dir: Path
    audio_dir: Path
    discord_token: str = field(default="", repr=False)
    telegram_token: str = field(default="", repr=False)
    telegram_base_url: str = ""
    telegram_base_file_url: str = ""
    spotify_client_id: str = field(default="", repr=False)
    spotify_client_secret: str = field(default="", repr=False)
    spotify_api_prefix: str = "https://api.spotify.com/v1/"
    spotify_token_url: str = "https://accounts.spotify.com/api/token"
    redis_url: str = ""
    max_audio_bytes: int = 20_000_000
    max_audio_seconds: float = 60.0
    max_query_chars: int = 200
    user_rate_per_minute: int = 20
    chat_rate_per_minute: int = 60
    #: not Spotify's p.scdn.co: its previews are Spotify Content, which may not feed the audio model (jobs/previews.py)
    preview_allowed_hosts: tuple[str, ...] = (
        "www.youtube.com",
        "youtube.com",
        "music.youtube.com",
        "googlevideo.com",
    )
    preview_run_budget: int = 50
    preview_search: str = "ytsearch1:{title} {artist} audio"
    log_level: str = "INFO"
    #: "text" (one readable line per record) or "json" (one JSON object per line, for a log collector).
    log_format: str = "text"
    db_busy_timeout_ms: int = 3000
    audio_workers: int = 1
    audio_queue: int = 4
    snapshot_check_seconds: float = 2.0
    radio_default_seconds: float = 210.0
    radio_idle_picks: int = 5
    radio_check_seconds: float = 5.0
    #: Port of the Prometheus metrics endpoint on 127.0.0.1 (0: no endpoint).
    metrics_port: int = 0
    #: Longest a reply waits out a platform's rate limit (429 retry_after, summed over retries) before it is dropped.
    platform_wait_budget: float = 30.0
    #: Open music data (MusicBrainz, ListenBrainz; CC0). Nothing here calls out unless a job or command is asked to.
    #: How to reach whoever runs this instance (an e-mail or URL): MusicBrainz asks every client to name a contact in
    #: its User-Agent ("murecom/<version> ( <contact> )").
    contact: str = ""
    musicbrainz_url: str = "https://musicbrainz.org"
    listenbrainz_url: str = "https://api.listenbrainz.org"
    listenbrainz_labs_url: str = "https://labs.api.listenbrainz.org"
    #: Users whose public playlists the `listenbrainz` job stores; and/or a playlist search it runs.
    listenbrainz_users: tuple[str, ...] = ()
    listenbrainz_search: str = ""
    #: Optional user token (higher rate limits); sent only as the Authorization header, never logged.
    listenbrainz_token: str = field(default="", repr=False)
    #: Longest one open-data request waits out rate limits (429/503 answers, summed over its retries).
    open_data_wait_budget: float = 60.0

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None, *, dotenv: bool = True) -> Settings:
        """Build settings from `env` (default: the process environment after loading `.env`)."""
        if env is None:
            if dotenv:
                load_dotenv(PROJECT_ROOT / ".env", override=False)
            env = dict(os.environ)
        home = _path(env.get("MUREC_HOME", "var"), PROJECT_ROOT)
        data_dir = _path(env.get("MUREC_DATA", "../shared/data"), PROJECT_ROOT)
        db_url = env.get("DATABASE_URL") or f"sqlite:///{home / 'murecom.db'}"
        hosts = env.get("MUREC_PREVIEW_ALLOWED_HOSTS")
        return cls(
            home=home,
            data_dir=data_dir,
            database_url=db_url,
            models_dir=_path(env.get("MUREC_MODELS_DIR", str(home / "models")), PROJECT_ROOT),
            audio_dir=_path(env.get("MUREC_AUDIO_DIR", str(home / "audio")), PROJECT_ROOT),
            discord_token=env.get("DISCORD_TOKEN", ""),
            telegram_token=env.get("TELEGRAM_TOKEN", ""),
            telegram_base_url=env.get("TELEGRAM_BASE_URL", ""),
            telegram_base_file_url=env.get("TELEGRAM_BASE_FILE_URL", ""),
            spotify_client_id=env.get("SPOTIFY_CLIENT_ID", ""),
            spotify_client_secret=env.get("SPOTIFY_CLIENT_SECRET", ""),
            spotify_api_prefix=env.get("SPOTIFY_API_PREFIX", cls.spotify_api_prefix),
            spotify_token_url=env.get("SPOTIFY_TOKEN_URL", cls.spotify_token_url),
            redis_url=env.get("REDIS_URL", ""),
            max_audio_bytes=int(env.get("MUREC_MAX_AUDIO_BYTES", cls.max_audio_bytes)),
            max_audio_seconds=float(env.get("MUREC_MAX_AUDIO_SECONDS", cls.max_audio_seconds)),
            max_query_chars=int(env.get("MUREC_MAX_QUERY_CHARS", cls.max_query_chars)),
            user_rate_per_minute=int(env.get("MUREC_USER_RATE_PER_MINUTE", cls.user_rate_per_minute)),
            chat_rate_per_minute=int(env.get("MUREC_CHAT_RATE_PER_MINUTE", cls.chat_rate_per_minute)),
            preview_allowed_hosts=tuple(h.strip() for h in hosts.split(",") if h.strip())
            if hosts
            else cls.preview_allowed_hosts,
            preview_run_budget=int(env.get("MUREC_PREVIEW_RUN_BUDGET", cls.preview_run_budget)),
            preview_search=env.get("MUREC_PREVIEW_SEARCH", cls.preview_search),
            log_level=env.get("MUREC_LOG_LEVEL", cls.log_level),
            log_format=env.get("MUREC_LOG_FORMAT", cls.log_format).strip().lower() or cls.log_format,
            db_busy_timeout_ms=int(env.get("MUREC_DB_BUSY_TIMEOUT_MS", cls.db_busy_timeout_ms)),
            audio_workers=max(1, int(env.get("MUREC_AUDIO_WORKERS", cls.audio_workers))),
            audio_queue=max(0, int(env.get("MUREC_AUDIO_QUEUE", cls.audio_queue))),
            snapshot_check_seconds=float(env.get("MUREC_SNAPSHOT_CHECK_SECONDS", cls.snapshot_check_seconds)),
            radio_default_seconds=float(env.get("MUREC_RADIO_DEFAULT_SECONDS", cls.radio_default_seconds)),
            radio_idle_picks=max(1, int(env.get("MUREC_RADIO_IDLE_PICKS", cls.radio_idle_picks))),
            radio_check_seconds=float(env.get("MUREC_RADIO_CHECK_SECONDS", cls.radio_check_seconds)),
            metrics_port=int(env.get("MUREC_METRICS_PORT", cls.metrics_port)),
            platform_wait_budget=float(env.get("MUREC_PLATFORM_WAIT_BUDGET", cls.platform_wait_budget)),
            contact=env.get("MUREC_CONTACT", "").strip(),
            musicbrainz_url=env.get("MUSICBRAINZ_URL", cls.musicbrainz_url).rstrip("/") or cls.musicbrainz_url,
            listenbrainz_url=env.get("LISTENBRAINZ_URL", cls.listenbrainz_url).rstrip("/") or cls.listenbrainz_url,
            listenbrainz_labs_url=env.get("LISTENBRAINZ_LABS_URL", cls.listenbrainz_labs_url).rstrip("/")
            or cls.listenbrainz_labs_url,
            listenbrainz_users=tuple(u.strip() for u in env.get("LISTENBRAINZ_USERS", "").split(",") if u.strip()),
            listenbrainz_search=env.get("LISTENBRAINZ_SEARCH", "").strip(),
            listenbrainz_token=env.get("LISTENBRAINZ_TOKEN", "").strip(),
            open_data_wait_budget=float(env.get("MUREC_OPEN_DATA_WAIT_BUDGET", cls.open_data_wait_budget)),
        )

    def describe(self) -> dict[str, str]:
        """Settings as strings for `/about` and logs, secrets reduced to set/unset."""
        out = {}
        for f in fields(self):
            value = getattr(self, f.name)
            out[f.name] = ("set" if value else "unset") if not f.repr else str(value)
        # lazy: data.db loads sqlalchemy, and every `murecom` command (--help too) reads Settings
        from data.db import safe_url

        out["database_url"] = safe_url(self.database_url)
        return out
