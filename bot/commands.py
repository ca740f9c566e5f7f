"""The bot's commands, defined once: names, arguments, help texts, and the handler class answering each.

The core routes `/name` to the row's handler (built once), `/help` is generated from this table, and each adapter
builds its own surface from the table its core serves: the console's commands, Telegram's command menu
(`set_my_commands`) and Discord's application-command tree (with `/session` as a group of subcommands). A new
feature is one handler module under `bot/handlers/` and one row here; it then appears everywhere, with the same words.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.command_spec import (
    ANALYSING,
    SOMETHING_WENT_WRONG,
    Argument,
    Command,
    too_large,
)
from bot.handlers.ask import AskHandler
from bot.handlers.audio import AudioHandler
from bot.handlers.info import AboutHandler, HelpHandler
from bot.handlers.listen import ListenHandler
from bot.handlers.radio import RadioHandler
from bot.handlers.session import SessionHandler
from bot.handlers.similar import SimilarHandler

__all__ = [
    "ABOUT",
    "ANALYSING",
    "ASK",
    "AUDIO",
    "COMMANDS",
    "HELP",
    "LISTEN",
    "RADIO",
    "SESSION",
    "SIMILAR",
    "SOMETHING_WENT_WRONG",
    "Argument",
    "Command",
    "text_commands",
    "too_large",
]

SONG = Argument("song", "A song name, 'title - artist', or a Spotify link", autocomplete=True)

SIMILAR = Command(
    "similar",
    "Tracks similar to a song (a name, 'title - artist' or a Spotify link)",
    handler=SimilarHandler,
    arguments=(SONG,),
    aliases=("s",),
    clip_reply=True,
)
ASK = Command(
    "ask",
    "Ask in your own words: 'something chill like hotel california for a road trip'",
    handler=AskHandler,
    arguments=(Argument("request", "What you would like to hear, in your own words", max_length=1000),),
    plain_text=True,
)
AUDIO = Command(
    "similar_audio",
    "Tracks that sound like an audio clip",
    handler=AudioHandler,
    arguments=(Argument("clip", "An audio file (mp3, ogg, wav, flac, m4a…)", attachment=True),),
    aliases=("audio",),  # the console's `/audio PATH`
    help="Send an audio clip (voice note, audio file) — tracks that sound like it",
)
SESSION = Command(
    "session",
    "Group listening session in this chat",
    handler=SessionHandler,
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
    handler=RadioHandler,
    arguments=(Argument("what", "A song, tags such as '80s rock' or 'chill', or 'stop'", required=False),),
)
LISTEN = Command(
    "listen",
    "Admins: 'on' to have me analyse every audio clip posted here, 'off' for only those addressed to me",
    handler=ListenHandler,
    arguments=(Argument("choice", "on or off (nothing: what I do now)", required=False, max_length=3),),
    admin_only=True,
)
ABOUT = Command("about", "Models and corpus behind the recommendations", handler=AboutHandler)
HELP = Command("help", "What I can do", handler=HelpHandler, aliases=("start",))

COMMANDS: tuple[Command, ...] = (SIMILAR, ASK, AUDIO, SESSION, RADIO, LISTEN, ABOUT, HELP)


def text_commands(commands: Sequence[Command] = COMMANDS) -> tuple[Command, ...]:
    """The commands typed as text (`/name args`); audio arrives as a file instead."""
    return tuple(c for c in commands if c.typed)
