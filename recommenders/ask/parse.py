"""Understanding one request: the songs and artists it names, the tags it means, what it excludes, how many picks it
wants, and what it says about the previous turn — or what of it was not understood, to be said back.

How a sentence is read (`Parser.parse`):
1. the text is cleaned (mentions, markup and links other than Spotify's dropped; at most `MAX_CHARS`) and a whole
   text that is a song name ("hotel california", "hotel califrnia - eagles") is that song, as `/similar` reads it;
2. otherwise it is cut into clauses (commas, "but", "and no …") and each clause into segments at marker words:
   "no/not/without …" (exclusions), "more …", "less …", "like/similar to/by …" (a name follows), "something else";
3. in a segment, known phrases are tags (`lexicon.SYNONYMS`: "road trip" → driving, then the corpus's own tags
   except `lexicon.JUNK_TAGS`), filler words are skipped, and each run of other words is searched as a name with
   the name search (`data.search.TrackSearch`): a song only at `CONFIDENT` (`Resolution.decide`), an artist when
   the run is an artist's name (`names_an_artist`), else the run is reported as not understood;
4. after "like", the name is the span, of those ending at a boundary word ("for", "with", a tag…), that matches a
   song best, and the rest of the segment is read as tags ("like hotel california for a road trip").
Work is bounded: at most `MAX_SEARCHES` name searches and `MAX_NAMES` names per request, whatever its length.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from rapidfuzz import fuzz

from data.corpus import TrackInfo
from data.search import ARTIST_ONLY, Candidate, QueryError, Resolution, TrackSearch, core_title, normalize
from recommenders.ask.lexicon import (
    COUNTED,
    ELSE,
    EXCLUDE,
    FILLERS,
    JUNK_TAGS,
    LESS,
    MORE,
    NUMBERS,
    ORDINALS,
    REFERENCE,
    SYNONYMS,
)
from recommenders.tags import TagIndex

#: The longest request read (a chat message longer than this is a paste, not a request).
MAX_CHARS = 1000
#: At most this many songs and artists are taken from one request; more are said back as ignored.
MAX_NAMES = 10
#: At most this many name searches per request (each is a few milliseconds).
MAX_SEARCHES = 16
#: A whole text is a song name when its best match scores at least this (the name as a whole, not a part of it).
WHOLE_NAME = 0.9
#: The most picks a request may ask for.
MAX_COUNT = 25
#: First words of a sentence that asks for something rather than names a song.
OPENERS = frozenset(["something", "songs", "some", "anything", "play", "give", "music", "i", "im", "me", "tracks"])
#: Words that end a name after "like" ("like hotel california for a road trip").
BOUNDARY = frozenset(
    ["for", "with", "but", "and", "that", "to", "in", "on", "from", "while", "when", "or", "at", "during", "plus"]
)

_MENTION = re.compile(r"<[@#][!&]?\d+>|(?<!\w)@\w+")
_MARKUP = re.compile(r"</?[a-zA-Z][^>]{0,40}>|[*_~`|>]+")
_URL = re.compile(r"https?://\S+")
_DECADE = re.compile(r"(?<![\w'])'?(\d0)'?s\b")
_CLAUSES = re.compile(
    r"[,;!?\n]+|\.(?:\s|$)|\s(?:but|plus|although|though)\s|\s(?:and|&)\s(?=(?:no|not|without|more|less|nothing)\b)",
    re.IGNORECASE,
)


def _without_article(name: str) -> str:
    """A normalised name without a leading "the " (people type "eagles" for The Eagles)."""
    return name[4:] if name.startswith("the ") else name


def _names_whole(words: list[str], track: TrackInfo) -> bool:
    """Whether the words are the track's name as people type it whole: its title, alone or with its artist (either
    order, "by" or a dash between), typos allowed."""
    said = " ".join(w for w in words if w != "by")
    title, artist = normalize(core_title(track.title)), normalize(track.artist)
    forms = (
        title,
        normalize(track.title),
        f"{title} {artist}",
        f"{artist} {title}",
        f"{title} {_without_article(artist)}",
    )
    return max(fuzz.ratio(said, f) for f in forms) >= 88


class AskError(ValueError):
    """A request that cannot be read at all; the message is meant for the person who typed it."""


@dataclass(frozen=True)
class NamedSong:
    track_id: int
    label: str
    title: str
    said: str


@dataclass(frozen=True)
class NamedArtist:
    artist_id: int
    name: str
    said: str


@dataclass
class Request:
    """What one turn asks for (`text` as cleaned); empty fields are simply not asked."""

    text: str
    songs: list[NamedSong] = field(default_factory=list)
    artists: list[NamedArtist] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    more_tags: list[str] = field(default_factory=list)
    less_tags: list[str] = field(default_factory=list)
    exclude_tags: list[str] = field(default_factory=list)
    exclude_artists: list[NamedArtist] = field(default_factory=list)
    exclude_songs: list[NamedSong] = field(default_factory=list)
    count: int | None = None
    #: 1-based positions in the previous list to go like ("more like the second one"); -1 is the last
    refs: list[int] = field(default_factory=list)
    exclude_refs: list[int] = field(default_factory=list)
    something_else: bool = False
    #: spans that were read as names but matched nothing sure (said back), with the songs they might be
    unknown: list[str] = field(default_factory=list)
    offered: list[Resolution] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: songs the whole text may name (a title several songs share, typed alone): the person picks one
    choices: list[Candidate] = field(default_factory=list)

    @property
    def contradictions(self) -> list[str]:
        """Tags both wanted and excluded in this one turn ("no rock, only rock")."""
        wanted = set(self.tags) | set(self.more_tags)
        return sorted(wanted & set(self.exclude_tags))

    @property
    def is_empty(self) -> bool:
        """Nothing asked that can be answered (no name, tag, reference, exclusion or count)."""
        return not (
            self.songs or self.artists or self.tags or self.more_tags or self.less_tags or self.exclude_tags
            or self.exclude_artists or self.exclude_songs or self.refs or self.exclude_refs or self.something_else
            or self.count or self.choices
        )  # fmt: skip

    def describe(self) -> str:
        """One line of what was understood (printed by `murecom ask`, shown by the bot)."""
        parts = []
        if self.songs:
            parts.append("songs: " + "; ".join(s.label for s in self.songs))
        if self.artists:
            parts.append("artists: " + ", ".join(a.name for a in self.artists))
        for label, tags in (("tags", self.tags), ("more", self.more_tags), ("less", self.less_tags)):
            if tags:
                parts.append(f"{label}: " + ", ".join(tags))
        excluded = [*self.exclude_tags, *(a.name for a in self.exclude_artists), *(s.label for s in self.exclude_songs)]
        excluded += [f"pick {r}" for r in self.exclude_refs]
        if excluded:
            parts.append("not: " + ", ".join(excluded))
        if self.refs:
            parts.append("like pick " + ", ".join("last" if r == -1 else str(r) for r in self.refs))
        if self.something_else:
            parts.append("something else")
        if self.count:
            parts.append(f"{self.count} picks")
        if self.choices:
            parts.append("one of: " + "; ".join(c.track.label for c in self.choices[:3]))
        return "; ".join(parts) or "nothing I could use"


def clean_text(text: str, max_chars: int = MAX_CHARS) -> str:
    """The request without mentions, markup, control characters and links (Spotify's kept); AskError when empty or
    too long."""
    if not isinstance(text, str) or not text.strip():
        raise AskError("Tell me what you would like, e.g. “something chill like hotel california for a road trip”.")
    if len(text) > max_chars:
        raise AskError(f"That is a long request ({len(text):,} characters); please keep it under {max_chars}.")
    text = "".join(ch if unicodedata.category(ch)[0] != "C" else " " for ch in text)
    text = _URL.sub(lambda m: m.group(0) if "spotify.com" in m.group(0) else " ", text)
    text = _MENTION.sub(" ", text)
    if "spotify.com" not in text:
        text = _MARKUP.sub(" ", text)
    text = " ".join(text.split())
    if not text:
        raise AskError("I only saw mentions and markup there. Tell me a song, an artist or a mood.")
    return text


def _starts(words: list[str], i: int, phrases: tuple[str, ...] | frozenset[str]) -> int:
    """The number of words of the longest of `phrases` that starts at words[i] (0 when none)."""
    best = 0
    for phrase in phrases:
        n = phrase.count(" ") + 1
        if n > best and " ".join(words[i : i + n]) == phrase:
            best = n
    return best


class Parser:
    """Reads requests against one corpus's name search and tag index (both from the serving snapshot)."""

    def __init__(self, search: TrackSearch, tags: TagIndex | None) -> None:
        self.search = search
        self.tag_index = tags
        self._synonyms = {p: tuple(t for t in ts if tags is None or t in tags) for p, ts in SYNONYMS.items()}
        self._max_syn = max(p.count(" ") + 1 for p in SYNONYMS)
        self._searches = 0

    # --- the whole text --------------------------------------------------------------------------------------
    def parse(self, text: str) -> Request:
        """The request `text` makes (AskError when it cannot be read at all)."""
        cleaned = clean_text(text)
        request = Request(cleaned)
        self._searches = 0
        if self._is_a_name(cleaned, request):
            return request
        pre = _DECADE.sub(r"\1s", cleaned)
        for clause in _CLAUSES.split(pre):
            words = normalize(clause).split()
            if words:
                self._clause(words, request)
        return request

    def _is_a_name(self, cleaned: str, request: Request) -> bool:
        """Whether the whole text names one song (the way `/similar` reads it): then that is the request."""
        words = normalize(cleaned).split()
        if not words or _CLAUSES.search(cleaned) or self._all_tags(words):
            return False
        if len(words) >= 3 and words[0] in OPENERS:
            return False  # "something by the eagles" is a request, not the song "Something" by The Beatles
        res = self._search(cleaned)
        if res is None:
            return False
        sure, offer = res.decide()
        if sure is None and len(offer) > 1 and all(_names_whole(words, c.track) for c in offer[:2]):
            request.choices = offer  # a title several songs share, typed alone: ask which, as /similar does
            return True
        if sure is None or sure.score < WHOLE_NAME or not _names_whole(words, sure.track):
            return False
        request.songs.append(NamedSong(sure.track.id, sure.track.label, sure.track.title, cleaned))
        self._note_choice(res, sure, cleaned, request)
        return True

    @staticmethod
    def _sure(res: Resolution) -> Candidate | None:
        """The song a span names: `decide`'s, or the likeliest of several confident ones (several songs share the
        title "Hallelujah"; a request cannot stop to ask, so it takes the likeliest and says so, `_note_choice`)."""
        sure, _ = res.decide()
        return sure if sure is not None else res.confident().best

    @staticmethod
    def _note_choice(res: Resolution, sure: Candidate, span: str, request: Request) -> None:
        title = normalize(core_title(sure.track.title))
        others = [
            c
            for c in res.confident().candidates
            if c.track.id != sure.track.id and fuzz.ratio(normalize(core_title(c.track.title)), title) >= 90
        ]
        if others:
            request.notes.append(f"By “{span[:40]}” I took {sure.track.label} (also: {others[0].track.label}).")

    def _all_tags(self, words: list[str]) -> bool:
        """Whether every word is a tag or a filler ("chill", "80s rock"): then it is no song name."""
        i, tagged = 0, False
        while i < len(words):
            n, _ = self._tag_at(words, i)
            if n:
                i, tagged = i + n, True
            elif words[i] in FILLERS:
                i += 1
            else:
                return False
        return tagged

    # --- clauses and segments --------------------------------------------------------------------------------
    def _marker(self, words: list[str], i: int) -> tuple[str, int]:
        """(kind, length) of the marker starting at words[i]: exclude, more, less, ref, else; ("", 0) when none.
        A multi-word tag phrase wins over a marker ("no vocals" is instrumental, not an exclusion)."""
        syn = _starts(words, i, tuple(p for p in self._synonyms if " " in p))
        if syn:
            return "", 0
        for kind, phrases in (("else", ELSE), ("exclude", EXCLUDE), ("less", LESS), ("more", MORE), ("ref", REFERENCE)):
            n = _starts(words, i, phrases)
            if n:
                if kind == "more" and i + n < len(words) and words[i + n] == "like":
                    return "more", n  # "more like the second one": the reference follows as its own segment
                return kind, n
        return "", 0

    def _clause(self, words: list[str], request: Request) -> None:
        words = self._take_count(words, request)
        segments: list[tuple[str, list[str]]] = [("", [])]
        i = 0
        while i < len(words):
            kind, n = self._marker(words, i)
            if kind and not (segments[-1][0] == "ref" and kind == "ref"):
                segments.append((kind, []))
                i += n
                continue
            segments[-1][1].append(words[i])
            i += 1
        polarity = ""
        for kind, body in segments:
            if kind == "else":
                request.something_else = True
                self._segment(body, "", request)
            elif kind == "ref":
                self._reference(body, polarity, request)
            else:
                polarity = kind
                self._segment(body, kind, request)

    def _take_count(self, words: list[str], request: Request) -> list[str]:
        """Reads "10 songs" / "five more" / "5 upbeat 90s songs" as the count, and drops the number (and the noun
        right after it)."""
        for i, w in enumerate(words):
            n = int(w) if w.isdigit() and len(w) <= 3 else NUMBERS.get(w)
            if n is None or not any(x in COUNTED for x in words[i + 1 : i + 5]):
                continue
            if i > 0 and words[i - 1] in {"top", "number", "no"}:
                continue  # "top 40" is a tag, "number 3" a turn reference
            request.count = max(1, min(MAX_COUNT, n))
            if n > MAX_COUNT:
                request.notes.append(f"I give at most {MAX_COUNT} picks at a time.")
            drop = 2 if i + 1 < len(words) and words[i + 1] in COUNTED else 1
            return words[:i] + words[i + drop :]
        return words

    def _tag_at(self, words: list[str], i: int) -> tuple[int, tuple[str, ...]]:
        """(words, tags) of the longest tag phrase at words[i]: a synonym, else a corpus tag that means something."""
        for n in range(min(self._max_syn, len(words) - i), 0, -1):
            phrase = " ".join(words[i : i + n])
            if phrase in self._synonyms:
                return n, self._synonyms[phrase]
        if self.tag_index is not None:
            for n in range(min(4, len(words) - i), 0, -1):
                phrase = " ".join(words[i : i + n])
                if phrase not in JUNK_TAGS and phrase in self.tag_index and not phrase.isdigit():
                    return n, (phrase,)
        return 0, ()

    def _segment(self, words: list[str], polarity: str, request: Request) -> None:
        """Tags, fillers and name runs of one segment, filed by its polarity ("" wanted, exclude, more, less)."""
        ordinal = self._ordinal(words)
        if ordinal is not None:
            (request.exclude_refs if polarity == "exclude" else request.refs).append(ordinal)
            return
        run: list[str] = []
        i = 0
        while i < len(words):
            n, tags = self._tag_at(words, i)
            if n:
                self._name_run(run, polarity, request)
                run = []
                self._file_tags(tags, polarity, request)
                i += n
                continue
            if words[i] in FILLERS and not run:
                i += 1
                continue
            run.append(words[i])
            i += 1
        self._name_run(run, polarity, request)

    def _file_tags(self, tags: tuple[str, ...], polarity: str, request: Request) -> None:
        target = {"exclude": request.exclude_tags, "more": request.more_tags, "less": request.less_tags}.get(
            polarity, request.tags
        )
        for tag in tags:
            if tag not in target:
                target.append(tag)

    def _ordinal(self, words: list[str]) -> int | None:
        """The position a turn reference names ("the second one", "number 3", "3"), or None."""
        rest = [w for w in words if w not in {"the", "one", "song", "track", "pick", "number", "no", "that", "of"}]
        if len(rest) == 1:
            w = rest[0]
            if w in ORDINALS:
                return ORDINALS[w]
            if w.isdigit() and 0 < int(w) <= 50 and ("number" in words or "one" in words or len(words) == 1):
                return int(w)
        return None

    def _reference(self, words: list[str], polarity: str, request: Request) -> None:
        """A name after "like"/"by": the best-matching span ending at a boundary; the rest is read as tags."""
        ordinal = self._ordinal(words)
        if ordinal is not None:
            (request.exclude_refs if polarity == "exclude" else request.refs).append(ordinal)
            return
        while words and words[0] in {"a", "an", "some", "of"}:
            words = words[1:]
        if not words:
            return
        ends = [
            e for e in range(1, len(words) + 1) if e == len(words) or words[e] in BOUNDARY or self._tag_at(words, e)[0]
        ]
        best: tuple[float, int, Resolution] | None = None
        for e in sorted(ends, reverse=True)[:4]:
            res = self._search(" ".join(words[:e]))
            if res is None:
                break
            sure = self._sure(res)
            score = sure.score if sure is not None else (0.5 if res.names_an_artist else 0.0)
            if score > 0 and (best is None or score > best[0]):
                best = (score, e, res)
        if best is None:
            e = min(ends)
            self._name_run(words[:e], polarity, request)
        else:
            self._file_name(best[2], " ".join(words[: best[1]]), polarity, request)
            e = best[1]
        self._segment(words[e:], "" if polarity == "exclude" else polarity, request)

    def _name_run(self, run: list[str], polarity: str, request: Request) -> None:
        """A run of words that are neither tags nor fillers: searched as a song or an artist name (as typed, then
        without its trailing filler words: "stand by me" is a title, "eagles songs" an artist)."""
        if not run:
            return
        span = " ".join(run)
        if len(request.songs) + len(request.artists) >= MAX_NAMES and polarity != "exclude":
            if not any(n.startswith("I use at most") for n in request.notes):
                request.notes.append(
                    f"I use at most {MAX_NAMES} songs and artists per request; I left out “{span[:40]}” and after."
                )
            return
        res = self._search(span)
        trimmed = list(run)
        while trimmed and trimmed[-1] in FILLERS:
            trimmed.pop()
        if (res is None or self._unresolved(res, span)) and trimmed and len(trimmed) < len(run):
            span = " ".join(trimmed)
            res = self._search(span)
        if res is None:
            request.unknown.append(span)
            return
        self._file_name(res, span, polarity, request)

    def _unresolved(self, res: Resolution, span: str) -> bool:
        return self._sure(res) is None and self._artist_named(res, span) is None

    def _file_name(self, res: Resolution, span: str, polarity: str, request: Request) -> None:
        """File a searched span as a song, an artist (excluded or wanted), or as not understood."""
        sure, offer = self._sure(res), res.decide()[1]
        excluding = polarity == "exclude"
        exact_title = sure is not None and fuzz.ratio(normalize(core_title(sure.track.title)), span) >= 90
        artist = self._artist_named(res, span)
        if artist is not None and (excluding or not exact_title):
            target = request.exclude_artists if excluding else request.artists
            if all(a.artist_id != artist.artist_id for a in target):
                target.append(artist)
            return
        if sure is not None and (exact_title or " " in span or sure.score >= WHOLE_NAME):
            song = NamedSong(sure.track.id, sure.track.label, sure.track.title, span)
            self._note_choice(res, sure, span, request)
            target_songs = request.exclude_songs if excluding else request.songs
            if all(s.track_id != song.track_id for s in target_songs):
                target_songs.append(song)
            return
        request.unknown.append(span)
        if offer:
            request.offered.append(res)

    @staticmethod
    def _artist_named(res: Resolution, span: str) -> NamedArtist | None:
        """The artist `span` names, if it is an artist's name ("eagles", "the eagles", "bob marley" for Bob Marley &
        The Wailers, "norah jones" on a track she is featured on)."""
        said = _without_article(span)
        for c in res.candidates:
            for artist_id, name in zip(c.track.artist_ids, c.track.artists, strict=False):
                norm = _without_article(normalize(name))
                if fuzz.ratio(said, norm) >= ARTIST_ONLY * 100 or (" " in said and norm.startswith(said + " ")):
                    return NamedArtist(artist_id, name, span)
        return None

    def _search(self, span: str) -> Resolution | None:
        """The name search of `span`, or None past the request's search budget or for an unsearchable span."""
        if self._searches >= MAX_SEARCHES:
            return None
        self._searches += 1
        try:
            return self.search.search(span, 10)
        except QueryError:
            return None
