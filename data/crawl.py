"""Durable state of the Spotify playlist crawl: the queue of search words and of playlists to fetch.

Every unit of crawl work (one search page, one page of a playlist's items) is committed together with the cursor
that says it is done, so a crawler killed at any instant resumes exactly where its last commit left it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from data.models import Base, utcnow

PENDING, DONE, GONE = "pending", "done", "gone"


class CrawlWord(Base):
    """A word to search playlists by; `next_offset` is the next search page to ask for."""

    __tablename__ = "crawl_words"

    word: Mapped[str] = mapped_column(String(100), primary_key=True)
    status: Mapped[str] = mapped_column(String(16), default=PENDING, index=True)
    next_offset: Mapped[int] = mapped_column(Integer, default=0)
    added_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class CrawlPlaylist(Base):
    """A Spotify playlist found by search; `next_offset` is the next page of its items to fetch."""

    __tablename__ = "crawl_playlists"

    spotify_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(500), default="")
    status: Mapped[str] = mapped_column(String(16), default=PENDING, index=True)
    next_offset: Mapped[int] = mapped_column(Integer, default=0)
    total: Mapped[int | None] = mapped_column(Integer)
    added_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
