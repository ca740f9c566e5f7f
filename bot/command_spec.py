"""What a command is (name, arguments, help, aliases, the handler class answering it) and the texts adapters share.

Kept apart from the table (`bot.commands`) so that handler modules can name these types and texts without importing
the table that names them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the table names handler classes; handler modules import this module: types only, no cycle
    from bot.handlers.base import Handler

ANALYSING = "🎧 Analysing your clip…"
SOMETHING_WENT_WRONG = "Sorry, something went wrong on my side. Please try again."
SONG_MAX_CHARS = 200  # a song name, "title - artist" or a link, as a slash-command option
DESCRIPTION_MAX_CHARS = 100  # Discord's limit for command and option descriptions (Telegram allows 256)


def held_back(platform: str, seconds: float) -> str:
    """The note an answer carries when the platform's rate limit (a 429) held it back before it could be sent."""
    return f"(Sent {seconds:.0f} s late: {platform} asked me to slow down.)"


def too_large(max_bytes: int) -> str:
    """The one reply to an audio file over the size limit, whichever adapter noticed it first."""
    return f"That file is too large; please send at most {max_bytes / 1e6:.0f} MB."


@dataclass(frozen=True)
class Argument:
    """A command argument; `autocomplete` offers song names, `attachment` is an uploaded file."""

    name: str
    description: str
    required: bool = True
    max_length: int = SONG_MAX_CHARS
    autocomplete: bool = False
    attachment: bool = False


@dataclass(frozen=True)
class Command:
    """One command: its words and help, and `handler`, the class answering it (built once by the chat core)."""

    name: str
    description: str
    handler: type[Handler] | None = None
    arguments: tuple[Argument, ...] = ()
    aliases: tuple[str, ...] = ()
    subcommands: tuple[Command, ...] = ()
    help: str = ""  # the line in /help; defaults to the usage and the description
    #: Whether a message that is no command (a song name typed in a private chat) goes to this command.
    plain_text: bool = False
    #: Whether `/name` alone, sent as a reply to an audio clip, asks about that clip (`/similar` does).
    clip_reply: bool = False
    #: Whether it changes the chat's settings: adapters then tell the handler whether the user is the chat's admin.
    admin_only: bool = False

    def __post_init__(self) -> None:
        if len(self.description) > DESCRIPTION_MAX_CHARS:
            raise ValueError(f"description of /{self.name} is longer than {DESCRIPTION_MAX_CHARS} characters")

    @property
    def usage(self) -> str:
        args = " ".join(f"<{a.name}>" if a.required else f"[{a.name}]" for a in self.arguments)
        return f"/{self.name} {args}".rstrip()

    @property
    def words(self) -> tuple[str, ...]:
        """Every word that invokes it: the name and the aliases."""
        return (self.name, *self.aliases)

    @property
    def asks_about_replied_clip(self) -> bool:
        """Whether `/name` alone, sent as a reply to an audio clip, asks about that clip: the clip command's words and
        those of a command marked `clip_reply` (`/similar`). It is how a clip is handed to a bot that does not see it
        (a Telegram group under privacy mode) or that must not answer clips nobody addressed to it (a Discord
        server)."""
        return not self.typed or self.clip_reply

    @property
    def typed(self) -> bool:
        """Whether it is typed as text (`/name args`); a clip command takes an uploaded file instead."""
        return not any(a.attachment for a in self.arguments)
