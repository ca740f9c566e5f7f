"""What the MusicBrainz and ListenBrainz clients share: the User-Agent they send, their typed errors, and a small
synchronous HTTP caller that waits out rate limits within a budget.

Both services are open (CC0 data, no key needed) and both ask clients to pace themselves; neither is called unless a
job or command is asked to. The clients are plain synchronous `requests` code like `jobs/spotify.py`, because they
run in jobs (worker threads) and imports, never on the event loop. Clock and sleep are injected so tests wait on a
fake clock instead of real seconds.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

import requests

from data.settings import Settings

log = logging.getLogger(__name__)

Clock = Callable[[], float]
Sleep = Callable[[float], None]


class OpenDataError(RuntimeError):
    """A request to an open-data service failed in a way the caller should know by type."""


class OpenDataTimeout(OpenDataError):
    """The service did not answer within the timeout (a connection or read timeout)."""


class OpenDataGaveUp(OpenDataError):
    """Still rate-limited or unavailable once the wait budget was spent."""


class OpenDataRefused(OpenDataError):
    """The service refused the request (4xx other than not-found and rate limits); retrying will not help."""

    def __init__(self, service: str, status: int, message: str) -> None:
        super().__init__(f"{service} answered {status}: {message}")
        self.status = status


def murecom_version() -> str:
    """The installed murecom version (the package metadata), for the User-Agent."""
    try:
        return metadata.version("murecom")
    except metadata.PackageNotFoundError:  # a checkout run without installing
        return "0.1.0"


def user_agent(settings: Settings) -> str:
    """`murecom/<version> ( <contact> )`: the form MusicBrainz asks for (application/version and a contact).

    Without MUREC_CONTACT there is no meaningful User-Agent to send, so building one fails instead of sending an
    anonymous one the service would refuse or throttle.
    """
    contact = settings.contact.strip()
    if not contact:
        raise ValueError("MUREC_CONTACT (an e-mail or URL) is needed: MusicBrainz requires a contact in the User-Agent")
    return f"murecom/{murecom_version()} ( {contact} )"


@dataclass
class Waits:
    """Every wait a client did, in seconds, with why (what tests and logs read)."""

    seconds: list[float] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)

    def add(self, seconds: float, reason: str) -> None:
        self.seconds.append(seconds)
        self.reasons.append(reason)


class HttpCaller:
    """GET JSON with one policy: a wait before a request when the pacing asks for one, retries of rate-limit
    answers (`retry_statuses`) after the wait `retry_wait` says, all waits of one request summed against
    `wait_budget`, timeouts raised as `OpenDataTimeout`."""

    def __init__(
        self,
        service: str,
        headers: Mapping[str, str],
        *,
        retry_statuses: tuple[int, ...],
        wait_budget: float,
        timeout: float = 10.0,
        clock: Clock = time.monotonic,
        sleep: Sleep = time.sleep,
        session: requests.Session | None = None,
    ) -> None:
        self.service = service
        self.session = session or requests.Session()
        self.session.headers.update(headers)
        self.retry_statuses = retry_statuses
        self.wait_budget = wait_budget
        self.timeout = timeout
        self.clock = clock
        self._sleep = sleep
        self.waits = Waits()

    def before_request(self) -> float:
        """Seconds to wait before the next request (pacing); subclasses' policies override it."""
        return 0.0

    def after_response(self, response: requests.Response) -> None:
        """Read what the response says about pacing (subclasses)."""

    def retry_wait(self, response: requests.Response, attempt: int) -> float:
        """Seconds to wait before retrying a rate-limited answer: Retry-After when given, else doubling from 1 s."""
        try:
            return max(0.0, float(response.headers.get("Retry-After", "")))
        except ValueError:
            return float(2 ** (attempt - 1))

    def wait(self, seconds: float, reason: str) -> None:
        if seconds > 0:
            self.waits.add(seconds, reason)
            self._sleep(seconds)

    def get_json(self, url: str, params: Mapping[str, Any] | None = None) -> Any | None:
        """The decoded JSON body of GET `url`; None for 404 (not found is an answer, not a failure)."""
        spent = 0.0
        attempt = 0
        while True:
            attempt += 1
            pause = self.before_request()
            if pause > 0:
                if spent + pause > self.wait_budget:
                    raise OpenDataGaveUp(f"{self.service}: would wait {pause:.1f}s more, past the budget")
                spent += pause
                self.wait(pause, "pacing")
            try:
                response = self.session.get(url, params=params, timeout=self.timeout)
            except requests.Timeout as exc:
                raise OpenDataTimeout(f"{self.service} did not answer within {self.timeout:.0f}s") from exc
            except requests.ConnectionError as exc:
                raise OpenDataError(f"{self.service} unreachable: {type(exc).__name__}") from exc
            self.after_response(response)
            if response.status_code in self.retry_statuses:
                pause = self.retry_wait(response, attempt)
                if spent + pause > self.wait_budget:
                    raise OpenDataGaveUp(
                        f"{self.service} still answering {response.status_code} after {spent:.1f}s of waiting"
                    )
                spent += pause
                log.warning("%s answered %d; retrying in %.1fs", self.service, response.status_code, pause)
                self.wait(pause, f"HTTP {response.status_code}")
                continue
            if response.status_code == 404:
                return None
            if response.status_code >= 400:
                raise OpenDataRefused(self.service, response.status_code, _message(response))
            return response.json()


def _message(response: requests.Response) -> str:
    """The service's error text, short (bodies can be HTML pages)."""
    try:
        body = response.json()
        text = str(body.get("error") or body) if isinstance(body, dict) else str(body)
    except ValueError:
        text = response.text
    return " ".join(text.split())[:200]
