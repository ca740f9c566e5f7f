"""The Discord adapter: `!` messages under dpytest, slash commands and buttons through their callbacks.

dpytest simulates Discord's gateway and HTTP for messages but knows nothing of interactions, so slash commands
(taken from the bot's real `app_commands.CommandTree`) and buttons (from the real `discord.ui.View`) are invoked
with a recording stand-in for `discord.Interaction` that records defer / follow-up / edit calls in order.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import discord
import discord.ext.test as dpytest
import pytest

from bot.app import build_core
from bot.discord_adapter import ActionView, MurecomDiscord


@pytest.fixture
async def dbot(bot_settings):
    intents = discord.Intents.default()
    intents.message_content = True
    intents.members = True  # dpytest's simulated guild needs its member cache
    bot = MurecomDiscord(build_core(bot_settings), bot_settings, sync_commands=False, intents=intents)
    await bot._async_setup_hook()
    dpytest.configure(bot)
    yield bot
    await dpytest.empty_queue()


def description(message: discord.Message) -> str:
    return "\n".join((e.title or "") + "\n" + (e.description or "") for e in message.embeds)


async def test_message_command_replies_with_ranked_embed(dbot) -> None:
    await dpytest.message("!similar hotel califrnia")
    sent = dpytest.get_message()
    text = description(sent)
    assert "Similar to Hotel California — The Eagles" in text
    assert text.count("](https://open.spotify.com/") == 5
    assert "**1. [" in text and "**5. [" in text


async def test_unknown_command_and_chatter(dbot) -> None:
    await dpytest.message("just chatting")
    assert dpytest.verify().message().nothing()
    await dpytest.message("!frobnicate")
    assert "I don't know /frobnicate" in description(dpytest.get_message())


@dataclass
class RecordingResponse:
    log: list

    def is_done(self) -> bool:
        return any(c[0] in ("defer", "send_message") for c in self.log)

    async def defer(self, **kw) -> None:
        self.log.append(("defer", kw, time.monotonic()))

    async def send_message(self, *args, **kw) -> None:
        self.log.append(("send_message", {"args": args, **kw}, time.monotonic()))


@dataclass
class RecordingFollowup:
    log: list

    async def send(self, *args, **kw) -> None:
        self.log.append(("followup", {"args": args, **kw}, time.monotonic()))


@dataclass
class FakeUser:
    id: int = 99
    display_name: str = "Dana"


@dataclass
class RecordingInteraction:
    """Stands in for discord.Interaction (Discord's side), recording what the bot answers."""

    log: list = field(default_factory=list)
    user: FakeUser = field(default_factory=FakeUser)
    channel_id: int = 1234

    def __post_init__(self) -> None:
        self.response = RecordingResponse(self.log)
        self.followup = RecordingFollowup(self.log)

    async def edit_original_response(self, **kw) -> None:
        self.log.append(("edit", kw, time.monotonic()))


async def test_slash_similar_defers_first_then_follows_up(dbot) -> None:
    command = dbot.tree.get_command("similar")
    interaction = RecordingInteraction()
    start = time.monotonic()
    await command.callback(interaction, song="stairway to heaven")
    kinds = [c[0] for c in interaction.log]
    assert kinds[0] == "defer" and interaction.log[0][1] == {"thinking": True}
    assert interaction.log[0][2] - start < 0.5, "must defer before any slow work"
    follow = interaction.log[1][1]
    assert "Similar to Stairway To Heaven — Led Zeppelin" in follow["embed"].title
    assert isinstance(follow["view"], ActionView)


async def test_autocomplete_offers_song_names(dbot) -> None:
    command = dbot.tree.get_command("similar")
    choices = await command._params["song"].autocomplete(RecordingInteraction(), "hotel cal")
    assert choices[0].name == "Hotel California — The Eagles"
    assert len(choices) <= 25 and all(len(c.name) <= 100 for c in choices)


async def test_buttons_pick_and_page_in_place(dbot) -> None:
    interaction = RecordingInteraction()
    await dbot.tree.get_command("similar").callback(interaction, song="eagles")
    view = interaction.log[1][1]["view"]
    labels = [b.label for b in view.children]
    assert len(labels) == 5 and all("Eagles" in label for label in labels)
    press = RecordingInteraction()
    await view.children[0].callback(press)
    assert press.log[0][0] == "defer"
    edited = press.log[1]
    assert edited[0] == "edit" and edited[1]["embed"].title == f"Similar to {labels[0]}"
    next_view = edited[1]["view"]
    page = RecordingInteraction()
    await next_view.children[-1].callback(page)
    assert "**6. [" in page.log[1][1]["embed"].description


async def test_session_slash_commands(dbot) -> None:
    session = dbot.tree.get_command("session")
    for action, song, expected in [
        ("start", None, "Session started by Dana"),
        ("add", "smells like teen spirit", "added Smells Like Teen Spirit"),
        ("next", None, "Now playing for the group"),
        ("who", None, "Dana: 1 songs, served 1×"),
        ("end", None, "Session ended after 1 picks"),
    ]:
        interaction = RecordingInteraction()
        await session.callback(interaction, action=action, song=song)
        embed = interaction.log[1][1]["embed"]
        assert expected in f"{embed.title}\n{embed.description}", (action, embed.description)


async def test_help_and_about(dbot) -> None:
    interaction = RecordingInteraction()
    await dbot.tree.get_command("about").callback(interaction)
    assert "18,139 playlists" in interaction.log[1][1]["embed"].description
    names = {c.name for c in dbot.tree.get_commands()}
    assert names == {"similar", "session", "similar_audio", "help", "about"}
