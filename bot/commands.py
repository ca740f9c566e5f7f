"""The bot's commands, defined once: names, arguments, help texts, limits and the messages adapters share.

The core dispatches `/name` to the handler named here, `/help` is generated from this table, and each adapter
builds its own surface from it: the console's commands, Telegram's command menu (`set_my_commands`) and Discord's
application-command tree (with `/session` as a group of subcommands). Adding a command here and a handler in the
core is all it takes for it to appear everywhere, with the same words.
"""

from __future__ import annotations

from dataclasses import dataclass

ANALYSING = "🎧 Analysing your clip…"
SOMETHING_WENT_WRONG = "Sorry, something went wrong on my side. Please try again."
SONG_MAX_CHARS = 200  # a song name, "title - artist" or a link, as a slash-command option
DESCRIPTION_MAX_CHARS = 100  # Discord's limit for command and option descriptions (Telegram allows 256)


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
    """One command. `handler` names the core method that answers it ("" for audio, which is not text)."""

    name: str
    description: str
    handler: str = ""
    arguments: tuple[Argument, ...] = ()
    aliases: tuple[str, ...] = ()
    subcommands: tuple[Command, ...] = ()
    help: str = ""  # the line in /help; defaults to the usage and the description

    def __post_init__(self) -> None:
        if len(self.description) > DESCRIPTION_MAX_CHARS:
            raise ValueError(f"description of /{self.name} is longer than {DESCRIPTION_MAX_CHARS} characters")

    @property
    def usage(self) -> str:
        args = " ".join(f"<{a.name}>" if a.required else f"[{a.name}]" for a in self.arguments)
        return f"/{self.name} {args}".rstrip()


SONG = Argument("song", "A song name, 'title - artist', or a Spotify link", autocomplete=True)

SIMILAR = Command(
    "similar",
    "Tracks similar to a song (a name, 'title - artist' or a Spotify link)",
    handler="_similar",
    arguments=(SONG,),
    aliases=("s",),
)
AUDIO = Command(
    "similar_audio",
    "Tracks that sound like an audio clip",
    arguments=(Argument("clip", "An audio file (mp3, ogg, wav, flac, m4a…)", attachment=True),),
    aliases=("audio",),  # the console's `/audio PATH`
    help="Send an audio clip (voice note, audio file) — tracks that sound like it",
)
SESSION = Command(
    "session",
    "Group listening session in this chat",
    handler="_session",
    subcommands=(
        Command("start", "Start a group listening session in this chat"),
        Command("join", "Take part in the session"),
        Command("add", "Add a song you like to the session", arguments=(SONG,)),
        Command("next", "Play a pick for the whole group"),
        Command("like", "Like what is playing"),
        Command("skip", "Skip what is playing"),
        Command("who", "Who is in the session, and how well your tastes match"),
        Command("export", "The session's tracks as a playlist file (M3U and JSON)"),
        Command("end", "End the session"),
    ),
)
RADIO = Command(
    "radio",
    "Keep playing picks: for the session, a song, or tags like '80s rock'; 'stop' stops",
    handler="_radio",
    arguments=(Argument("what", "A song, tags such as '80s rock' or 'chill', or 'stop'", required=False),),
)
ABOUT = Command("about", "Models and corpus behind the recommendations", handler="_about")
HELP = Command("help", "What I can do", handler="_help", aliases=("start",))

COMMANDS: tuple[Command, ...] = (SIMILAR, AUDIO, SESSION, RADIO, ABOUT, HELP)


def text_commands() -> tuple[Command, ...]:
    """The commands typed as text (`/name args`); audio arrives as a file instead."""
    return tuple(c for c in COMMANDS if c.handler)


def dispatch_table() -> dict[str, str]:
    """Every accepted command word (names and aliases) to the name of the core method answering it."""
    return {word: c.handler for c in text_commands() for word in (c.name, *c.aliases)}


def help_text() -> str:
    """/help, generated from the table."""
    lines = ["I recommend music."]
    for c in COMMANDS:
        if c.subcommands:
            first, *rest = c.subcommands
            lines.append(f"{c.usage} {first.name} — {first.description.lower()}")
            lines.append(" · ".join(f"{c.usage} {s.usage[1:]}" for s in rest))
        else:
            lines.append(c.help or f"{c.usage} — {c.description}")
    return "\n".join(lines)


def session_usage() -> str:
    """The session subcommands in one line, for a reply to a wrong one."""
    return ", ".join(s.usage[1:] for s in SESSION.subcommands)
