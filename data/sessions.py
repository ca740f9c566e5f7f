"""Storage of group listening sessions: who is in, which songs they seeded, liked or skipped, what was played.

Everything a session decides from is an event row, so a bot restart loses nothing: the next `/session next`
rebuilds the state from the events. The database itself keeps the invariants that concurrent commands could break
(migration 0004): one active session per chat (platform + chat id), and a track played at most once per session;
the methods here report a lost race as a return value instead of an error.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import DateTime, Engine, ForeignKey, Index, Integer, String, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from data.db import session_scope
from data.models import Base, utcnow

EVENT_KINDS = ("seed", "like", "skip", "played")


class ListeningSession(Base):
    __tablename__ = "listening_sessions"
    __table_args__ = (
        Index("ix_listening_sessions_chat", "platform", "chat_id", "active"),
        Index(
            "uq_listening_sessions_active_chat",
            "platform",
            "chat_id",
            unique=True,
            sqlite_where=text("active"),
            postgresql_where=text("active"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    platform: Mapped[str] = mapped_column(String(16))
    chat_id: Mapped[str] = mapped_column(String(64))
    active: Mapped[bool] = mapped_column(default=True)
    started_by: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class SessionMember(Base):
    __tablename__ = "session_members"

    session_id: Mapped[int] = mapped_column(ForeignKey("listening_sessions.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    joined_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class SessionEvent(Base):
    __tablename__ = "session_events"
    __table_args__ = (
        Index(
            "uq_session_events_played_once",
            "session_id",
            "track_id",
            unique=True,
            sqlite_where=text("kind = 'played'"),
            postgresql_where=text("kind = 'played'"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("listening_sessions.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    track_id: Mapped[int] = mapped_column(ForeignKey("tracks.id"))
    served_user_id: Mapped[str | None] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


@dataclass(frozen=True)
class Member:
    user_id: str
    name: str


@dataclass(frozen=True)
class Event:
    user_id: str
    kind: str
    track_id: int
    served_user_id: str | None


@dataclass(frozen=True)
class SessionState:
    """Everything needed to pick the next track, rebuilt from the database."""

    id: int
    members: list[Member]
    events: list[Event]
    started_by: str = ""

    def is_member(self, user_id: str) -> bool:
        return any(m.user_id == user_id for m in self.members)

    @property
    def played(self) -> list[Event]:
        return [e for e in self.events if e.kind == "played"]


class SessionStore:
    """Repository of listening sessions over the corpus database."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def active(self, platform: str, chat_id: str) -> SessionState | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(ListeningSession.id, ListeningSession.started_by).where(
                    ListeningSession.platform == platform,
                    ListeningSession.chat_id == chat_id,
                    ListeningSession.active.is_(True),
                )
            ).first()
            if row is None:
                return None
            sid, started_by = row
            members = [
                Member(u, n)
                for u, n in conn.execute(
                    select(SessionMember.user_id, SessionMember.name)
                    .where(SessionMember.session_id == sid)
                    .order_by(SessionMember.joined_at, SessionMember.user_id)
                )
            ]
            events = [
                Event(*row)
                for row in conn.execute(
                    select(SessionEvent.user_id, SessionEvent.kind, SessionEvent.track_id, SessionEvent.served_user_id)
                    .where(SessionEvent.session_id == sid)
                    .order_by(SessionEvent.id)
                )
            ]
        return SessionState(sid, members, events, started_by)

    def start(self, platform: str, chat_id: str, user_id: str, name: str) -> int | None:
        """Start a session with its starter as first member; None when the chat already has an active one."""
        try:
            with session_scope(self.engine) as s:
                row = ListeningSession(platform=platform, chat_id=chat_id, started_by=user_id)
                s.add(row)
                s.flush()
                s.add(SessionMember(session_id=row.id, user_id=user_id, name=name[:100]))
                return row.id
        except IntegrityError:
            return None

    def join(self, session_id: int, user_id: str, name: str) -> bool:
        """Add a member; False when already in (also when a concurrent join of the same user won)."""
        try:
            with session_scope(self.engine) as s:
                if s.get(SessionMember, (session_id, user_id)) is not None:
                    return False
                s.add(SessionMember(session_id=session_id, user_id=user_id, name=name[:100]))
                return True
        except IntegrityError:
            return False

    def record(
        self, session_id: int, user_id: str, kind: str, track_id: int, served_user_id: str | None = None
    ) -> None:
        if kind not in EVENT_KINDS:
            raise ValueError(f"unknown session event {kind!r}")
        with session_scope(self.engine) as s:
            s.add(
                SessionEvent(
                    session_id=session_id, user_id=user_id, kind=kind, track_id=track_id, served_user_id=served_user_id
                )
            )

    def play(self, session_id: int, user_id: str, track_id: int, served_user_id: str | None) -> bool:
        """Record that `track_id` was played; False when it was already played in this session (a lost race)."""
        try:
            self.record(session_id, user_id, "played", track_id, served_user_id)
        except IntegrityError:
            return False
        return True

    def end(self, session_id: int) -> bool:
        """End the session; False when it had already ended (so only one of two concurrent ends reports it)."""
        with self.engine.begin() as conn:
            result = conn.execute(
                update(ListeningSession)
                .where(ListeningSession.id == session_id, ListeningSession.active.is_(True))
                .values(active=False, ended_at=utcnow())
            )
        return result.rowcount == 1
