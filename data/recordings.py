"""A recording as the open music databases name it (MusicBrainz, ListenBrainz; both CC0): the shared shape between
their clients, the importers that store recordings in the corpus, and the resolver that answers a song a user names.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ArtistCredit:
    """One credited artist, in credit order: the name as credited and the MusicBrainz artist id when known."""

    name: str
    mbid: str | None = None


@dataclass(frozen=True)
class Recording:
    """A recording: its MusicBrainz id when known, title, credited artists, ISRCs, and length in milliseconds."""

    title: str
    artists: tuple[ArtistCredit, ...]
    mbid: str | None = None
    isrcs: tuple[str, ...] = ()
    length_ms: int | None = None

    @property
    def artist(self) -> str:
        """The artist line as shown: the credited names joined."""
        return ", ".join(a.name for a in self.artists)
