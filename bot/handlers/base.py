"""The small protocol every feature handler follows, and what the composition root hands each one.

A handler answers its typed command (`on_text`, the words after `/name`) and the button actions it declares
(`on_action`, already decoded into `bot.actions` types); a clip handler answers uploaded audio (`on_clip`), and a
broadcaster posts unprompted (the radio). Every call gets a `Request` — the serving snapshot read once by the
middleware, and who asked where — and returns replies; rate limits, failures and `served_by` are the middleware's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from bot.actions import Action
from bot.metrics import Metrics
from bot.middleware import ChatLocks, Request
from bot.replies import Reply, TrackLine
from data.corpus import Corpus, TrackInfo
from data.listening import ListeningChats
from data.radio import DueStation, RadioStore
from data.sessions import SessionStore
from data.settings import Settings
from jobs.song_lookup import SongLookup
from recommenders.base import Recommendation

if TYPE_CHECKING:  # a command row names its handler class: types only, no import cycle
    from bot.command_spec import Command

#: Picks per page of a ranked list, and how many pages `/similar` keeps.
PAGE_SIZE = 5
MAX_TEXT_CHARS = 2000


@dataclass(frozen=True)
class Services:
    """What handlers may use besides the request's snapshot: the corpus and stores (through `data/`), the settings,
    the wall clock (radio schedules), the chat locks, the command table this core serves (for /help), the metrics
    (gauges a handler owns, e.g. the audio queue), the group chats opted in to every clip being analysed, and the
    look-up of songs the corpus lacks (None when no open-data service may be called)."""

    corpus: Corpus
    sessions: SessionStore
    radio: RadioStore
    settings: Settings
    wall_clock: Callable[[], float]
    chat_locks: ChatLocks
    commands: tuple[Command, ...]
    metrics: Metrics
    listening: ListeningChats
    lookup: SongLookup | None = None


class Handler:
    """A feature: built once per core with the services and its own command row."""

    #: The button actions this feature answers (each type answered by exactly one handler).
    actions: ClassVar[tuple[type[Action], ...]] = ()

    def __init__(self, services: Services, command: Command) -> None:
        self.services = services
        self.command = command

    async def on_text(self, req: Request, args: str) -> list[Reply]:
        """`/name args` (args stripped; "" when none)."""
        raise NotImplementedError(f"/{self.command.name} takes no text")

    async def on_action(self, req: Request, action: Action) -> list[Reply]:
        """A press of one of this feature's buttons."""
        raise NotImplementedError(f"/{self.command.name} has no buttons")

    def close(self) -> None:
        """Release what the handler holds (pools); called once when the process stops."""


class ClipHandler(Handler):
    """A feature that answers an uploaded audio clip."""

    async def on_clip(self, req: Request, data: bytes, filename: str) -> list[Reply]:
        raise NotImplementedError


class Broadcaster(Handler):
    """A feature that posts to chats unprompted on a schedule kept in the database (the radio)."""

    async def due(self, platforms: tuple[str, ...]) -> list[DueStation]:
        raise NotImplementedError

    async def turn(self, req: Request, station: DueStation) -> list[Reply]:
        raise NotImplementedError


def track_line(rank: int, rec: Recommendation, info: TrackInfo) -> TrackLine:
    """A ranked pick as shown: the track's title, artist and link with the model's score and reason."""
    return TrackLine(rank, rec.track_id, info.title, info.artist, rec.score, rec.reason, info.url)
