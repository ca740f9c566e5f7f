"""One turn of a conversation: read the request, merge it with the conversation so far, answer it, and say back
what was not understood; and the conversation state per chat and user, kept in the database (`kv_state`) and
forgotten after `TTL_SECONDS` without a turn (read against an injected clock)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import Engine, delete

from data.kv import read_state, write_state
from data.models import KeyValue
from data.search import Candidate
from recommenders.ask.answer import Answerer, Pick, Query, merge
from recommenders.ask.parse import AskError, Parser, Request

#: A conversation is forgotten after this long without a turn: "more like the second one" an hour later is a new
#: conversation, not a reference to a list long gone from the screen.
TTL_SECONDS = 30 * 60
EXAMPLE = "something chill like hotel california for a road trip"


@dataclass
class Turn:
    """The outcome of one turn: the request read, the effective query, the picks, and what to say back."""

    request: Request | None
    query: Query | None
    picks: list[Pick] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    error: str | None = None
    #: songs a name that matched nothing sure might be (offered as buttons when nothing else was asked)
    offer: list[Candidate] = field(default_factory=list)


class Asker:
    """Parser + answerer: one turn at a time, given the conversation's previous query."""

    def __init__(self, parser: Parser, answerer: Answerer) -> None:
        self.parser = parser
        self.answerer = answerer

    def turn(self, text: str, previous: Query | None) -> Turn:
        try:
            request = self.parser.parse(text)
        except AskError as exc:
            return Turn(None, None, error=str(exc))
        said_back = [f"I did not understand “{u[:60]}”, so I left it out." for u in request.unknown]
        if request.choices:
            return Turn(request, None, error="Which one do you mean?", offer=request.choices[:5])
        if request.contradictions:
            both = ", ".join(request.contradictions)
            return Turn(request, None, error=f"You asked both for {both} and for no {both}. Which one do you want?")
        if request.is_empty:
            offer = [c for res in request.offered for c in res.decide()[1]][:5]
            if request.unknown:
                names = "; ".join(f"“{u[:60]}”" for u in request.unknown[:3])
                error = f"I don't know {names}: no song, artist or mood of mine goes by that name."
                if offer:
                    error += " Did you mean one of these?"
                else:
                    error += f" Try a title with its artist, or a mood: “{EXAMPLE}”."
                return Turn(request, None, error=error, offer=offer)
            return Turn(request, None, error=f"I found no song, artist or mood in that. Try: “{EXAMPLE}”.")
        query, notes = merge(previous, request)
        self._name_seeds(query)
        notes = [*request.notes, *notes, *said_back]
        if query.is_empty:
            return Turn(request, query, notes=notes, error=" ".join(notes) or f"Tell me more, e.g. “{EXAMPLE}”.")
        picks = self.answerer.answer(query)
        query.shown = [p.track_id for p in picks]
        if not picks:
            notes.append("Nothing I know fits all of that; try fewer exclusions.")
        return Turn(request, query, picks, notes)

    def _name_seeds(self, query: Query) -> None:
        """Titles for seeds taken from an earlier list ("more like the second one"), for the picks' reasons."""
        missing = [t for t, title in query.seeds if not title]
        if missing:
            infos = self.parser.search.corpus.track_info(missing)
            query.seeds = [(t, title or (infos[t].title if t in infos else "")) for t, title in query.seeds]


class AskState:
    """The conversation's query per (platform, chat, user) in `kv_state`, expiring after `ttl` seconds."""

    PREFIX = "ask:"

    def __init__(self, engine: Engine, clock: Callable[[], float], ttl: float = TTL_SECONDS) -> None:
        self.engine, self.clock, self.ttl = engine, clock, ttl

    def key(self, platform: str, chat_id: str, user_id: str) -> str:
        return f"{self.PREFIX}{platform}:{chat_id}:{user_id}"

    def load(self, key: str) -> Query | None:
        """The conversation's last query, or None when there is none or it expired."""
        value = read_state(self.engine, key)
        if value is None or self.clock() - float(value.get("at", 0.0)) > self.ttl:
            return None
        return Query.from_json(value["query"])

    def save(self, key: str, query: Query) -> None:
        with self.engine.begin() as conn:
            write_state(conn, key, {"at": self.clock(), "query": query.to_json()})

    def forget(self, key: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(KeyValue).where(KeyValue.key == key))
