"""SQLAlchemy 2 ORM models of the corpus.

Play order matters for playlist models (Word2Vec windows, next-track evaluation), so playlist entries carry a
`position`. Every imported row carries `(source, source_key)`, unique together, so importers are idempotent:
re-running finds the row instead of adding it again.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    pass


class Artist(Base):
    __tablename__ = "artists"
    __table_args__ = (UniqueConstraint("source", "source_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(500))
    source: Mapped[str] = mapped_column(String(32))
    source_key: Mapped[str] = mapped_column(String(200))
    spotify_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    mbid: Mapped[str | None] = mapped_column(String(36), unique=True, index=True)  # MusicBrainz artist id


class Album(Base):
    __tablename__ = "albums"
    __table_args__ = (UniqueConstraint("source", "source_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(500))
    source: Mapped[str] = mapped_column(String(32))
    source_key: Mapped[str] = mapped_column(String(300))
    spotify_id: Mapped[str | None] = mapped_column(String(64), unique=True)


class Track(Base):
    __tablename__ = "tracks"
    __table_args__ = (UniqueConstraint("source", "source_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(500))
    source: Mapped[str] = mapped_column(String(32))
    source_key: Mapped[str] = mapped_column(String(300))
    album_id: Mapped[int | None] = mapped_column(ForeignKey("albums.id"), index=True)
    duration_ms: Mapped[int | None] = mapped_column(Integer)
    spotify_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    mbid: Mapped[str | None] = mapped_column(String(36), unique=True, index=True)  # MusicBrainz recording id
    isrc: Mapped[str | None] = mapped_column(String(12), index=True)
    popularity: Mapped[int] = mapped_column(Integer, default=0)
    preview_url: Mapped[str | None] = mapped_column(Text)
    audio_path: Mapped[str | None] = mapped_column(Text)
    added_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    album: Mapped[Album | None] = relationship()
    artist_links: Mapped[list[TrackArtist]] = relationship(
        order_by="TrackArtist.position", cascade="all, delete-orphan"
    )


class TrackArtist(Base):
    __tablename__ = "track_artists"

    track_id: Mapped[int] = mapped_column(ForeignKey("tracks.id", ondelete="CASCADE"), primary_key=True)
    artist_id: Mapped[int] = mapped_column(ForeignKey("artists.id"), primary_key=True, index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)

    artist: Mapped[Artist] = relationship()


class Tag(Base):
    __tablename__ = "tags"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)


class TrackTag(Base):
    __tablename__ = "track_tags"

    track_id: Mapped[int] = mapped_column(ForeignKey("tracks.id", ondelete="CASCADE"), primary_key=True)
    tag_id: Mapped[int] = mapped_column(ForeignKey("tags.id"), primary_key=True, index=True)
    weight: Mapped[float] = mapped_column(Float, default=1.0)


class ArtistTag(Base):
    __tablename__ = "artist_tags"

    artist_id: Mapped[int] = mapped_column(ForeignKey("artists.id", ondelete="CASCADE"), primary_key=True)
    tag_id: Mapped[int] = mapped_column(ForeignKey("tags.id"), primary_key=True, index=True)
    weight: Mapped[float] = mapped_column(Float, default=1.0)


class Playlist(Base):
    __tablename__ = "playlists"
    __table_args__ = (UniqueConstraint("source", "source_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(500), default="")
    source: Mapped[str] = mapped_column(String(32), index=True)
    source_key: Mapped[str] = mapped_column(String(200))
    added_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class PlaylistTrack(Base):
    __tablename__ = "playlist_tracks"
    __table_args__ = (Index("ix_playlist_tracks_track", "track_id"),)

    playlist_id: Mapped[int] = mapped_column(ForeignKey("playlists.id", ondelete="CASCADE"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    track_id: Mapped[int] = mapped_column(ForeignKey("tracks.id"))


class Listener(Base):
    """A user of an external listening dataset (e.g. HetRec Last.fm), not a chat user."""

    __tablename__ = "listeners"
    __table_args__ = (UniqueConstraint("source", "source_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(32))
    source_key: Mapped[str] = mapped_column(String(200))


class ListenerArtist(Base):
    """Graded implicit feedback: how often a listener played an artist."""

    __tablename__ = "listener_artists"

    listener_id: Mapped[int] = mapped_column(ForeignKey("listeners.id", ondelete="CASCADE"), primary_key=True)
    artist_id: Mapped[int] = mapped_column(ForeignKey("artists.id"), primary_key=True, index=True)
    plays: Mapped[int] = mapped_column(BigInteger)


class KeyValue(Base):
    """Small durable state (import progress, model pointers) as JSON under a namespaced key."""

    __tablename__ = "kv_state"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    value: Mapped[dict] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)
