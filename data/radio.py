"""Storage of radio mode: which sessions play on their own, when their next pick is due, which slot is next.

Radio survives restarts and scale-out because its schedule is rows, not timers: any process may look for due
stations, and `claim` — a conditional update of the slot number — lets exactly one of them post a given slot.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import JSON, Boolean, Engine, Float, ForeignKey, Index, Integer, String, insert, select, update
from sqlalchemy.orm import Mapped, mapped_column

from data.models import Base
from data.sessions import ListeningSession


class RadioStation(Base):
    __tablename__ = "radio_stations"
    __table_args__ = (Index("ix_radio_stations_due", "active", "due_at"),)

    session_id: Mapped[int] = mapped_column(ForeignKey("listening_sessions.id", ondelete="CASCADE"), primary_key=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    slot: Mapped[int] = mapped_column(Integer, default=0)
    due_at: Mapped[float] = mapped_column(Float)
    idle: Mapped[int] = mapped_column(Integer, default=0)
    tags: Mapped[list | None] = mapped_column(JSON)
    started_by: Mapped[str] = mapped_column(String(64))


@dataclass(frozen=True)
class DueStation:
    """A station whose next pick is due: where to post it and which slot it is."""

    session_id: int
    platform: str
    chat_id: str
    slot: int
    idle: int
    tags: tuple[str, ...]


class RadioStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def start(self, session_id: int, started_by: str, due_at: float, tags: tuple[str, ...] = ()) -> None:
        """Switch radio on for the session (again), with its first pick due at `due_at`."""
        with self.engine.begin() as conn:
            existing = conn.scalar(select(RadioStation.session_id).where(RadioStation.session_id == session_id))
            values = {"active": True, "due_at": due_at, "idle": 0, "tags": list(tags), "started_by": started_by}
            if existing is None:
                conn.execute(insert(RadioStation).values(session_id=session_id, slot=0, **values))
            else:
                conn.execute(update(RadioStation).where(RadioStation.session_id == session_id).values(**values))

    def stop(self, session_id: int) -> bool:
        """Switch radio off; False when it was not on."""
        with self.engine.begin() as conn:
            result = conn.execute(
                update(RadioStation)
                .where(RadioStation.session_id == session_id, RadioStation.active.is_(True))
                .values(active=False)
            )
        return result.rowcount == 1

    def tags(self, session_id: int) -> tuple[str, ...] | None:
        """The station's tags (empty for a song/session radio), or None when radio is off."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(RadioStation.tags).where(RadioStation.session_id == session_id, RadioStation.active.is_(True))
            ).first()
        return None if row is None else tuple(row[0] or ())

    def due(self, now: float, platforms: tuple[str, ...]) -> list[DueStation]:
        """Stations of active sessions on `platforms` whose next pick is due at `now`."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(
                    RadioStation.session_id,
                    ListeningSession.platform,
                    ListeningSession.chat_id,
                    RadioStation.slot,
                    RadioStation.idle,
                    RadioStation.tags,
                )
                .join(ListeningSession, ListeningSession.id == RadioStation.session_id)
                .where(
                    RadioStation.active.is_(True),
                    RadioStation.due_at <= now,
                    ListeningSession.active.is_(True),
                    ListeningSession.platform.in_(platforms),
                )
                .order_by(RadioStation.due_at)
            ).all()
        return [
            DueStation(int(s), str(p), str(c), int(slot), int(idle), tuple(t or ())) for s, p, c, slot, idle, t in rows
        ]

    def claim(self, station: DueStation, until: float) -> bool:
        """Take `station`'s slot for this process (pushing its due time to `until`); False when another process
        took it first — the one guarantee that no slot is ever posted twice."""
        with self.engine.begin() as conn:
            result = conn.execute(
                update(RadioStation)
                .where(
                    RadioStation.session_id == station.session_id,
                    RadioStation.slot == station.slot,
                    RadioStation.active.is_(True),
                )
                .values(slot=RadioStation.slot + 1, due_at=until, idle=RadioStation.idle + 1)
            )
        return result.rowcount == 1

    def reschedule(self, session_id: int, due_at: float) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(RadioStation).where(RadioStation.session_id == session_id).values(due_at=due_at))

    def reacted(self, session_id: int) -> None:
        """Someone liked, skipped or added a song: the radio is being listened to."""
        with self.engine.begin() as conn:
            conn.execute(update(RadioStation).where(RadioStation.session_id == session_id).values(idle=0))
