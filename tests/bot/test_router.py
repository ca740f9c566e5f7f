"""The chat core as a router: a new feature is one handler module and one row of the command table, and it then
answers its command and its buttons through the same middleware (rate limits, errors, `served_by`) as the others."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import ClassVar

from bot.actions import Action
from bot.app import build_app
from bot.command_spec import Argument, Command
from bot.commands import COMMANDS
from bot.discord_adapter import MurecomDiscord
from bot.handlers.base import Handler
from bot.middleware import Request
from bot.replies import Button, ChatContext, Reply
from bot.telegram_adapter import bot_commands

ALICE = ChatContext("telegram", "chat-router", "u-alice", "Alice")


@dataclass(frozen=True)
class Shout(Action):
    """The new feature's button: say the word again, louder."""

    prefix: ClassVar[str] = "test_shout"
    word: str


class EchoHandler(Handler):
    """A new feature, written as a handler module would be: its text command and its button."""

    actions = (Shout,)

    async def on_text(self, req: Request, args: str) -> list[Reply]:
        if args == "fail":
            raise RuntimeError("a handler bug")
        corpus_size = req.snap.stats["tracks"]
        return [Reply(f"{args} ({corpus_size} tracks)", buttons=((Button.of("Louder", Shout(args)),),))]

    async def on_action(self, req: Request, action: Action) -> list[Reply]:
        assert isinstance(action, Shout)
        return [Reply(action.word.upper() + "!")]


ECHO = Command("echo", "Say it back", handler=EchoHandler, arguments=(Argument("words", "What to say"),))


def test_a_new_command_is_one_handler_and_one_table_row(bot_settings) -> None:
    app = build_app(bot_settings, commands=(*COMMANDS, ECHO))
    try:
        core = app.core

        async def talk() -> tuple[list[Reply], ...]:
            said = await core.handle_text(ALICE, "/echo hello")
            pressed = await core.handle_action(ALICE, said[0].buttons[0][0].action)
            failed = await core.handle_text(ALICE, "/echo fail")
            helped = await core.handle_text(ALICE, "/help")
            return said, pressed, failed, helped

        [said], [pressed], [failed], [helped] = asyncio.run(talk())
        assert said.text.startswith("hello (") and said.served_by == app.watcher.current().label
        assert said.buttons[0][0].action == "test_shout:hello"
        assert pressed.text == "HELLO!"
        assert failed.kind == "error" and "something went wrong" in failed.text  # the middleware's reply
        assert "/echo <words> — Say it back" in helped.text
        assert "echo" in core.command_words()
        assert [c.command for c in bot_commands(core.commands)][-1] == "echo"
        discord_bot = MurecomDiscord(core, bot_settings, sync_commands=False)
        assert "echo" in {c.name for c in discord_bot.tree.get_commands()}
    finally:
        app.close()


def test_the_default_table_knows_no_echo(core) -> None:
    [reply] = asyncio.run(core.handle_text(ALICE, "/echo hello"))
    assert reply.text == "I don't know /echo. Try /help."
    [press] = asyncio.run(core.handle_action(ALICE, "test_shout:hello"))
    assert press.text == "That button is no longer valid."  # an action type no handler of this core answers
