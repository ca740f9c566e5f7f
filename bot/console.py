"""The local console chat: the bot's commands typed in a terminal (or piped in), replies printed as text.

Buttons become numbered options: type the number to press one (choices and "Next ▶"/"◀ Previous" alike). An audio
clip is a file path: `/audio PATH` (the command table's audio command). Any line is accepted: nothing typed ends the
chat but Ctrl-D.
"""

from __future__ import annotations

import asyncio
import re
import sys
from typing import TextIO

from bot.command_spec import ANALYSING
from bot.core import ChatCore
from bot.radio import Announcer
from bot.replies import ChatContext, Reply

PROMPT = "you> "
BUTTON_NUMBER = re.compile(r"[0-9]{1,4}")  # ASCII digits only: "²".isdigit() is true but int("²") fails


def render(reply: Reply, actions: list[str]) -> str:
    """Text of a reply; its buttons are numbered continuing `actions`, which receives their actions."""
    out = [reply.as_text()] if reply.as_text() else []
    for row in reply.buttons:
        for button in row:
            actions.append(button.action)
            out.append(f"  [{len(actions)}] {button.label}")
    if reply.image is not None:
        out.append(f"  (image: {reply.image_name}, {len(reply.image)} bytes)")
    for name, data in reply.files:
        out.append(f"  (file: {name}, {len(data)} bytes)")
    return "\n".join(out)


def console_announcer(stdout: TextIO = sys.stdout) -> Announcer:
    """How the radio posts to the console chat: printed between prompts, its buttons not numbered (type /radio stop,
    /session like or /session skip instead)."""

    async def announce(_chat_id: str, replies: list[Reply]) -> None:
        for reply in replies:
            print(render(reply, []), file=stdout, flush=True)

    return announce


async def run_console(core: ChatCore, stdin: TextIO = sys.stdin, stdout: TextIO = sys.stdout) -> None:
    ctx = ChatContext("console", "console", "you", "you", private=True)
    interactive = stdin.isatty()
    print("murecom console chat — /help for commands, a number to press a button, Ctrl-D to quit.", file=stdout)
    audio_words = {f"/{w}" for c in core.commands if not c.typed for w in c.words}  # the clip command's
    actions: list[str] = []
    while True:
        if interactive:
            print(PROMPT, end="", file=stdout, flush=True)
        line = await asyncio.to_thread(stdin.readline)
        if not line:
            break
        line = line.strip()
        if not line:
            continue
        if not interactive:
            print(f"{PROMPT}{line[:200]}{'…' if len(line) > 200 else ''}", file=stdout)
        word, _, rest = line.partition(" ")
        if BUTTON_NUMBER.fullmatch(line) and 1 <= int(line) <= len(actions):
            replies = await core.handle_action(ctx, actions[int(line) - 1])
        elif word.lower() in audio_words:
            path = rest.strip()
            try:
                with open(path, "rb") as fh:
                    data = fh.read(core.settings.max_audio_bytes + 1)
            except (OSError, ValueError) as exc:  # ValueError: a NUL in the path
                print(f"cannot read {path!r}: {getattr(exc, 'strerror', None) or exc}", file=stdout)
                continue
            print(ANALYSING, file=stdout)
            replies = await core.handle_audio(ctx, data, path)
        else:
            replies = await core.handle_text(ctx, line)
        actions = []
        for reply in replies:
            print(render(reply, actions), file=stdout, flush=True)
