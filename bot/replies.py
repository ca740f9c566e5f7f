"""What the chat core answers, independent of any platform: text, ranked tracks, buttons, an image.

Adapters render these: Discord as embeds and `discord.ui` buttons, Telegram as HTML text and inline keyboards,
the console as numbered lines. A button carries a typed action (`bot.actions`) in its wire form.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.actions import Action, decode


@dataclass(frozen=True)
class ChatContext:
    """Who said something, where. `private`: a one-to-one chat with the bot (a DM); `admin`: the user may change the
    chat's settings (a group admin, or the user of a private chat) — adapters find it out only for commands whose row
    is `admin_only`, since it can cost the platform a request."""

    platform: str
    chat_id: str
    user_id: str
    user_name: str
    private: bool = False
    admin: bool = False


@dataclass(frozen=True)
class TrackLine:
    rank: int
    track_id: int
    title: str
    artist: str
    score: float
    reason: str
    url: str


@dataclass(frozen=True)
class Button:
    """A button: its label, and its action's wire form (what Telegram's callback data and Discord's custom id carry,
    and what `ChatCore.handle_action` decodes). Build it with `Button.of(label, action)`."""

    label: str
    action: str

    def __post_init__(self) -> None:
        if decode(self.action) is None:
            raise ValueError(f"not a button action (or over its 64 bytes): {self.action!r}")

    @classmethod
    def of(cls, label: str, action: Action) -> Button:
        return cls(label, action.encode())


@dataclass(frozen=True)
class Reply:
    """One message to send. `kind` lets adapters style it: recommendations, choices, info, error, progress."""

    text: str
    kind: str = "info"
    title: str = ""
    tracks: tuple[TrackLine, ...] = ()
    buttons: tuple[tuple[Button, ...], ...] = ()
    image: bytes | None = None
    image_name: str = "chart.png"
    footer: str = ""
    #: Files to attach (name, bytes): e.g. a session's playlist as M3U and JSON.
    files: tuple[tuple[str, bytes], ...] = ()
    #: The snapshot versions that produced it (not shown; logs and tests read it).
    served_by: str = ""

    def as_text(self) -> str:
        """Plain-text rendering (console, logs, and the fallback of every adapter)."""
        lines = [self.title] if self.title else []
        if self.text:
            lines.append(self.text)
        for t in self.tracks:
            lines.append(f"{t.rank:>2}. {t.title} — {t.artist}  [{t.score:.3f}]")
            lines.append(f"    {t.reason} · {t.url}")
        if self.footer:
            lines.append(self.footer)
        return "\n".join(lines)
