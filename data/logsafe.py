"""The one logging setup, and the filter that keeps secrets out of every log line and crash traceback.

Why a filter and not care at each call site: the secrets leak through code we do not own — httpx logs every
request URL at INFO/DEBUG, and the Telegram Bot API puts the bot token in the URL path; python-telegram-bot's
`InvalidToken` message quotes the token; a crash prints its traceback. So every root handler gets a
`RedactSecrets` filter that rewrites the formatted message, the exception text and the stack text of each record,
replacing each configured secret (as written, URL-quoted, and inside a Basic auth header) by `[REDACTED]`. Uncaught
exceptions, in the main thread or any other, are logged through the same handlers instead of printed raw.

With `MUREC_LOG_FORMAT=json` each record is one JSON object per line (`JsonLines`), with the fields a caller passed
as `extra` (the middleware's request records: platform, kind, command, outcome, milliseconds), so a log collector
can count and filter without parsing prose. The filter runs before formatting, so both formats are redacted.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import sys
import threading
import time
from collections.abc import Iterable
from types import TracebackType
from urllib.parse import quote, urlsplit

from data.settings import Settings

REDACTED = "[REDACTED]"
MIN_SECRET_CHARS = 6  # shorter values would redact ordinary words; no real token is this short
NOISY_LOGGERS = ("gensim", "alembic", "httpx")


def secrets_of(settings: Settings) -> list[str]:
    """The values that must never be logged: bot tokens, the Spotify credentials, passwords in service URLs."""
    values = [settings.discord_token, settings.telegram_token, settings.spotify_client_secret]
    if settings.spotify_client_id and settings.spotify_client_secret:
        pair = f"{settings.spotify_client_id}:{settings.spotify_client_secret}".encode()
        values.append(base64.b64encode(pair).decode())  # the Basic auth header of Spotify's token request
    for url in (settings.database_url, settings.redis_url):
        password = urlsplit(url).password if url else None
        if password:
            values.append(password)
    return [v for v in values if v and len(v) >= MIN_SECRET_CHARS]


class RedactSecrets(logging.Filter):
    """Replace every secret in a record's message, exception and stack text; never drops a record."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        forms = {form for s in secrets for form in (s, quote(s, safe=""), quote(s)) if form}
        longest_first = sorted(forms, key=len, reverse=True)
        self._pattern = re.compile("|".join(map(re.escape, longest_first))) if forms else None

    def redact(self, text: str) -> str:
        return self._pattern.sub(REDACTED, text) if self._pattern is not None else text

    def filter(self, record: logging.LogRecord) -> bool:
        if self._pattern is None:
            return True
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a bad format string: keep the raw parts, redacted
            message = f"{record.msg} {record.args}"
        record.msg, record.args = self.redact(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


#: Attributes every LogRecord has; anything else on a record came from a caller's `extra`.
_RECORD_ATTRIBUTES = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "taskName"}


class JsonLines(logging.Formatter):
    """One JSON object per record: time (UTC, ISO 8601), level, logger, message, the caller's `extra` fields, and
    the (already redacted) exception text."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, object] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        out.update((k, v) for k, v in record.__dict__.items() if k not in _RECORD_ATTRIBUTES and k not in out)
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            out["exception"] = record.exc_text
        return json.dumps(out, default=str, ensure_ascii=False)


JsonLines.converter = time.gmtime


def _log_uncaught(kind: type[BaseException], value: BaseException, tb: TracebackType | None) -> None:
    if issubclass(kind, KeyboardInterrupt):
        sys.__excepthook__(kind, value, tb)
        return
    logging.getLogger("murecom").critical("crashed", exc_info=(kind, value, tb))


def _log_uncaught_in_thread(args: threading.ExceptHookArgs) -> None:
    if args.exc_value is None:
        return
    logging.getLogger("murecom").critical(
        "thread %s crashed",
        getattr(args.thread, "name", "?"),
        exc_info=(args.exc_type, args.exc_value, args.exc_traceback),
    )


def configure_logging(settings: Settings, *, verbose: bool = False) -> RedactSecrets:
    """Set up the root handlers with the secrets filter; crashes are logged through them. Returns the filter."""
    level = logging.DEBUG if verbose else getattr(logging, settings.log_level.upper(), logging.INFO)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if settings.log_format == "json":
        for handler in logging.getLogger().handlers:
            handler.setFormatter(JsonLines())
    if not verbose:
        # gensim logs every epoch, alembic every plugin, httpx every request: keep our own INFO lines readable
        for noisy in NOISY_LOGGERS:
            logging.getLogger(noisy).setLevel(logging.WARNING)
    redactor = RedactSecrets(secrets_of(settings))
    for handler in logging.getLogger().handlers:
        handler.addFilter(redactor)
    sys.excepthook = _log_uncaught
    threading.excepthook = _log_uncaught_in_thread
    return redactor
