"""Button actions, typed: what a button asks for, and the one wire form every platform carries.

A button's action travels as a short string — Telegram's `callback_data` (at most 64 bytes), the tail of Discord's
`custom_id` (`m:` + action) and the console's numbered buttons — and comes back from a user's client, which can send
anything. Each action is a frozen dataclass with a `prefix`; its fields are written after the prefix, separated by
`:`. Subclasses register themselves, so a feature's module declares its own actions. `decode` is the only parser: it
returns the typed action or None (a stale, forged or malformed press), checking every int field against its bound
and the 64-byte budget in one place. `ACTION_PATTERN` is the wire grammar as a regular expression, for Discord's
`DynamicItem` template (which then decodes the match).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import ClassVar

#: Telegram's limit for callback data (Bot API, InlineKeyboardButton.callback_data: 1-64 bytes).
ACTION_BYTES = 64
#: Track ids come from users' clients: anything at or above this is refused.
MAX_ID = 2**62
#: `/similar` keeps this many pages of five picks.
MAX_PAGES = 6
SESSION_STEPS = ("join", "next", "like", "skip", "who", "end")


class Action:
    """Base of every button action: `prefix` names it on the wire; int fields carry an exclusive upper bound."""

    prefix: ClassVar[str]
    bounds: ClassVar[dict[str, int]] = {}
    registry: ClassVar[dict[str, type[Action]]] = {}

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        if "prefix" not in cls.__dict__:  # a shared base of actions, not an action of its own
            return
        if cls.prefix in Action.registry:
            raise ValueError(f"two button actions share the prefix {cls.prefix!r}")
        Action.registry[cls.prefix] = cls

    def encode(self) -> str:
        fields = [str(getattr(self, f.name)) for f in dataclasses.fields(self)]  # type: ignore[arg-type]
        text = ":".join([self.prefix, *fields])
        if len(text.encode()) > ACTION_BYTES:
            raise ValueError(f"button action longer than {ACTION_BYTES} bytes: {text!r}")
        return text

    def fits(self) -> bool:
        """Whether the action fits the wire budget (e.g. a tag name typed by a user may not)."""
        try:
            self.encode()
        except ValueError:
            return False
        return True

    def check(self) -> None:
        """Raise ValueError when a field is out of range (called by `decode` on what clients send)."""


@dataclass(frozen=True)
class TrackAction(Action):
    """An action about one track (its id comes back from a client: bounded)."""

    bounds: ClassVar[dict[str, int]] = {"track_id": MAX_ID}
    track_id: int


@dataclass(frozen=True)
class ShowPage(TrackAction):
    """Another page of a `/similar` list."""

    prefix: ClassVar[str] = "page"
    bounds: ClassVar[dict[str, int]] = {"track_id": MAX_ID, "page": MAX_PAGES}
    page: int


@dataclass(frozen=True)
class PickTrack(TrackAction):
    """A song chosen among "Which one do you mean?": its first page of `/similar`."""

    prefix: ClassVar[str] = "pick"


@dataclass(frozen=True)
class SessionStep(Action):
    """A group-session command pressed as a button (join, next, like, skip, who, end)."""

    prefix: ClassVar[str] = "sess"
    step: str

    def check(self) -> None:
        if self.step not in SESSION_STEPS:
            raise ValueError(f"unknown session step {self.step!r}")


@dataclass(frozen=True)
class RadioStop(Action):
    """Stop the radio of this chat."""

    prefix: ClassVar[str] = "radio:stop"


@dataclass(frozen=True)
class RadioTags(Action):
    """Start the radio station of a tag (offered when what was typed after /radio was not clear)."""

    prefix: ClassVar[str] = "radio:tag"
    tag: str


@dataclass(frozen=True)
class RadioSong(TrackAction):
    """Start the radio from a song (offered when what was typed after /radio was not clear)."""

    prefix: ClassVar[str] = "radio:song"


#: The wire grammar as a regular expression: lower-case words, then fields, all `:`-separated, within the budget
#: (Discord's DynamicItem template appends it to its `m:` prefix; `decode` then checks it is a known action).
ACTION_PATTERN = r"[a-z_]+(?::[^:]+)*"


def decode(text: str) -> Action | None:
    """The action a client sent, or None when it is not one this version of the bot writes."""
    if not text or len(text.encode()) > ACTION_BYTES:
        return None
    for kind in sorted(Action.registry.values(), key=lambda a: -len(a.prefix)):  # "radio:tag" before "radio"
        if text != kind.prefix and not text.startswith(kind.prefix + ":"):
            continue
        parts = text[len(kind.prefix) + 1 :].split(":") if text != kind.prefix else []
        fields = dataclasses.fields(kind)  # type: ignore[arg-type]
        if len(parts) != len(fields):
            return None
        values: list[int | str] = []
        for field, part in zip(fields, parts, strict=True):
            if field.name in kind.bounds:
                number = _bounded_int(part, kind.bounds[field.name])
                if number is None:
                    return None
                values.append(number)
            elif part:
                values.append(part)
            else:
                return None
        action = kind(*values)
        try:
            action.check()
        except ValueError:
            return None
        return action
    return None


def _bounded_int(text: str, upper: int) -> int | None:
    """`text` as an int in [0, upper), else None: ASCII digits only ("١٢".isdigit() is true, but it is no id)."""
    if not text.isascii() or not text.isdigit() or len(text) > 19:
        return None
    value = int(text)
    return value if value < upper else None
