"""Discord adapter (discord.py 2.x): slash commands with autocomplete, persistent buttons, audio, `!` messages.

The application-command tree is built from the command table (`bot.commands`): `/similar` with a song option and
autocomplete, `/session` as a group of subcommands, `/similar_audio` with an attachment option, `/help`, `/about`.
Slash commands defer at once ("thinking"; Discord wants an answer within 3 s) and send the core's replies as
follow-ups — the first one replaces the loading message.

Buttons are persistent: each is an `ActionButton`, a `discord.ui.DynamicItem` whose custom id is `m:` + the core's
action string. discord.py matches pressed buttons against the template, so they work on any message the bot ever
sent — after 15 minutes and after a restart — with no view to keep in memory. Picks and paging edit their message
in place.

Plain messages starting with `!` (`!similar hotel california`) speak the same commands, and an audio attachment is
a clip to recommend from. Embeds are rendered within Discord's limits and user text is escaped (`bot.render`).
discord.py itself handles Discord's rate limits (it retries a 429 after `retry_after`).
"""

from __future__ import annotations

import asyncio
import io
import logging
import re
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.actions import ACTION_PATTERN, Action, decode
from bot.command_spec import ANALYSING, SOMETHING_WENT_WRONG, Argument, Command, too_large
from bot.core import ChatCore
from bot.radio import Announcer
from bot.render import discord_button_rows, discord_embed_text
from bot.replies import ChatContext, Reply
from bot.supervisor import Diagnosis
from data.audio_files import is_audio_name
from data.settings import Settings

log = logging.getLogger(__name__)
PREFIX = "!"
CUSTOM_ID_PREFIX = "m:"


def render_embed(reply: Reply) -> discord.Embed:
    text = discord_embed_text(reply)
    colour = discord.Colour.red() if reply.kind == "error" else discord.Colour.blurple()
    embed = discord.Embed(title=text.title or None, description=text.description or None, colour=colour)
    if text.footer:
        embed.set_footer(text=text.footer)
    if reply.image is not None:
        embed.set_image(url=f"attachment://{reply.image_name}")
    return embed


def context_of(user: discord.abc.User, channel_id: int | None) -> ChatContext:
    return ChatContext("discord", str(channel_id or user.id), str(user.id), user.display_name)


class ActionButton(
    discord.ui.DynamicItem[discord.ui.Button],
    template=re.escape(CUSTOM_ID_PREFIX) + f"(?P<action>{ACTION_PATTERN})",
):
    """A button carrying a core action in its custom id, so any press — even after a restart — maps back to it.
    The template is the actions' wire grammar (`bot.actions`); a press is decoded into its typed action here (None
    when it is not one this version writes: the core then says the button is no longer valid)."""

    def __init__(self, action: str, label: str = "·", row: int | None = None) -> None:
        super().__init__(discord.ui.Button(label=label, custom_id=CUSTOM_ID_PREFIX + action, row=row))
        self.action = decode(action)

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> ActionButton:
        return cls(match["action"], label=getattr(item, "label", None) or "·")

    async def callback(self, interaction: discord.Interaction) -> None:
        client = interaction.client
        if isinstance(client, MurecomDiscord):
            await client.on_button(interaction, self.action)


def action_view(reply: Reply) -> discord.ui.View | None:
    """The reply's buttons as a view of persistent `ActionButton`s (no timeout: nothing expires)."""
    rows = discord_button_rows(reply)
    if not rows:
        return None
    view = discord.ui.View(timeout=None)
    for r, row in enumerate(rows):
        for label, action in row:
            view.add_item(ActionButton(action, label, row=r))
    return view


class MurecomDiscord(commands.Bot):
    def __init__(
        self,
        core: ChatCore,
        settings: Settings,
        *,
        sync_commands: bool = True,
        intents: discord.Intents | None = None,
        **options: Any,
    ) -> None:
        """`options` go to discord.py's client (e.g. `guild_ready_timeout`, the wait for guilds before on_ready)."""
        if intents is None:
            intents = discord.Intents.default()
            intents.message_content = True
        super().__init__(command_prefix=commands.when_mentioned, intents=intents, help_command=None, **options)
        self.core = core
        self.settings = settings
        self.sync_commands = sync_commands
        self._commands = {w: c for c in core.commands for w in c.words}
        for command in build_tree_commands(self):
            self.tree.add_command(command)
        self.tree.on_error = self.on_app_command_error  # type: ignore[method-assign]

    async def setup_hook(self) -> None:
        self.add_dynamic_items(ActionButton)
        if self.sync_commands:
            await self.tree.sync()

    # --- rendering ---------------------------------------------------------------------------------------------
    def _payload(self, reply: Reply) -> dict[str, Any]:
        payload: dict[str, Any] = {"embed": render_embed(reply)}
        view = action_view(reply)
        if view is not None:
            payload["view"] = view
        files = [discord.File(io.BytesIO(data), filename=name) for name, data in reply.files]
        if reply.image is not None:
            files.insert(0, discord.File(io.BytesIO(reply.image), filename=reply.image_name))
        if files:
            payload["files"] = files
        return payload

    async def _send_all(self, send: Callable[..., Awaitable[Any]], replies: list[Reply]) -> None:
        for reply in replies:
            await send(**self._payload(reply))

    async def announce(self, chat_id: str, replies: list[Reply]) -> None:
        """Post to a channel unprompted (a radio pick)."""
        channel = self.get_channel(int(chat_id)) or await self.fetch_channel(int(chat_id))
        if not isinstance(channel, discord.abc.Messageable):
            raise TypeError(f"cannot post to channel {chat_id}")
        await self._send_all(channel.send, replies)

    # --- messages ----------------------------------------------------------------------------------------------
    async def on_message(self, message: discord.Message) -> None:
        """`!command` messages, and clips addressed to the bot: in a DM, with the bot mentioned, as a reply to the
        bot, or replied to with `!similar` (or `!similar_audio`). Any other clip in a server channel is not the bot's
        to analyse and gets nothing (a server removes a bot that answers every attachment)."""
        if message.author.bot:
            return
        ctx = context_of(message.author, message.channel.id)
        clip = self._clip_of(message)
        if clip is not None:
            if await self._addressed(message):
                await self._audio_message(message, ctx, clip)
            return
        if not (message.content.startswith(PREFIX) and len(message.content) > 1):
            return
        word, _, args = message.content[len(PREFIX) :].partition(" ")
        command = self._commands.get(word.lower())
        if command is not None and command.asks_about_replied_clip and not args.strip():
            replied = await self._replied(message)
            replied_clip = self._clip_of(replied) if replied is not None else None
            if replied_clip is not None:  # `!similar` as a reply to a clip: that clip is the question
                await self._audio_message(message, ctx, replied_clip)
                return
        await message.channel.typing()  # one indicator (10 s) while the core works
        replies = await self.core.handle_text(ctx, "/" + message.content[len(PREFIX) :])
        await self._send_all(message.channel.send, replies)

    def _clip_of(self, message: discord.Message) -> discord.Attachment | None:
        return next((a for a in message.attachments if self._is_audio(a)), None)

    @staticmethod
    def _is_audio(attachment: discord.Attachment) -> bool:
        kind = (attachment.content_type or "").split(";")[0]
        return kind.startswith("audio/") or is_audio_name(attachment.filename)

    async def _replied(self, message: discord.Message) -> discord.Message | None:
        """The message `message` replies to (from the event, or fetched), if any."""
        reference = message.reference
        if reference is None:
            return None
        if isinstance(reference.resolved, discord.Message):
            return reference.resolved
        if reference.message_id is None:
            return None
        try:
            return await message.channel.fetch_message(reference.message_id)
        except discord.HTTPException:
            return None

    async def _addressed(self, message: discord.Message) -> bool:
        if message.guild is None or (self.user is not None and self.user in message.mentions):
            return True
        replied = await self._replied(message) if message.reference is not None else None
        return replied is not None and self.user is not None and replied.author.id == self.user.id

    async def _audio_message(self, message: discord.Message, ctx: ChatContext, attachment: discord.Attachment) -> None:
        if attachment.size > self.settings.max_audio_bytes:
            await message.channel.send(too_large(self.settings.max_audio_bytes))
            return
        progress = await message.channel.send(ANALYSING)
        try:
            data = await attachment.read()
            replies = await self.core.handle_audio(ctx, data, attachment.filename)
            await self._send_all(message.channel.send, replies)
        finally:  # never leave "Analysing…" behind, whatever failed
            await progress.delete()

    # --- buttons -----------------------------------------------------------------------------------------------
    async def on_button(self, interaction: discord.Interaction, action: Action | None) -> None:
        await interaction.response.defer()
        replies = await self.core.handle_action(context_of(interaction.user, interaction.channel_id), action)
        if not replies:  # a flood already told once: the press is acknowledged (above) and nothing more is sent
            return
        first, rest = replies[0], replies[1:]
        if first.kind in ("recommendations", "choices") and first.image is None:
            payload = self._payload(first)
            await interaction.edit_original_response(embed=payload["embed"], view=payload.get("view"))
        else:
            rest = replies
        await self._send_all(interaction.followup.send, rest)

    # --- slash commands ----------------------------------------------------------------------------------------
    async def run_text(self, interaction: discord.Interaction, text: str) -> None:
        await interaction.response.defer(thinking=True)
        replies = await self.core.handle_text(context_of(interaction.user, interaction.channel_id), text)
        if not replies:  # a flood already told once: no answer, and no "thinking…" left behind
            await interaction.delete_original_response()
            return
        await self._send_all(interaction.followup.send, replies)

    async def run_audio(self, interaction: discord.Interaction, clip: discord.Attachment) -> None:
        await interaction.response.defer(thinking=True)
        if clip.size > self.settings.max_audio_bytes:
            await interaction.followup.send(embed=render_embed(Reply(too_large(self.settings.max_audio_bytes))))
            return
        ctx = context_of(interaction.user, interaction.channel_id)
        replies = await self.core.handle_audio(ctx, await clip.read(), clip.filename)
        await self._send_all(interaction.followup.send, replies)

    async def song_choices(self, current: str) -> list[app_commands.Choice[str]]:
        """Autocomplete of song names (Discord allows 25 choices of at most 100 characters)."""
        pairs = await asyncio.to_thread(self.core.suggest, current[:100], 25)
        return [app_commands.Choice(name=label[:100], value=value[:100]) for label, value in pairs[:25] if label]

    async def on_app_command_error(self, interaction: discord.Interaction, error: Exception) -> None:
        log.error("discord command failed: %s", error, exc_info=error)
        embed = render_embed(Reply(SOMETHING_WENT_WRONG, kind="error"))
        if interaction.response.is_done():
            await interaction.followup.send(embed=embed)
        else:
            await interaction.response.send_message(embed=embed)


def _text_callback(
    bot: MurecomDiscord, words: str, argument: Argument | None
) -> Callable[..., Coroutine[Any, Any, None]]:
    """The slash-command callback for `/words [argument]`; its signature is what discord.py turns into options."""
    if argument is None:

        async def plain(interaction: discord.Interaction) -> None:
            await bot.run_text(interaction, f"/{words}")

        return plain

    async def required(interaction: discord.Interaction, song: str) -> None:
        await bot.run_text(interaction, f"/{words} {song}")

    async def optional(interaction: discord.Interaction, song: str | None = None) -> None:
        await bot.run_text(interaction, f"/{words} {song or ''}".rstrip())

    with_song: Callable[..., Coroutine[Any, Any, None]] = required if argument.required else optional
    song_type = app_commands.Range[str, 1, argument.max_length]
    with_song.__annotations__["song"] = song_type if argument.required else song_type | None
    with_song = app_commands.rename(song=argument.name)(with_song)
    with_song = app_commands.describe(song=argument.description)(with_song)
    if argument.autocomplete:

        async def complete(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
            return await bot.song_choices(current)

        with_song = app_commands.autocomplete(song=complete)(with_song)
    return with_song


def _command(bot: MurecomDiscord, command: Command, words: str) -> app_commands.Command[Any, ..., Any]:
    argument = command.arguments[0] if command.arguments else None
    return app_commands.Command(
        name=command.name, description=command.description, callback=_text_callback(bot, words, argument)
    )


def build_tree_commands(bot: MurecomDiscord) -> list[app_commands.Command[Any, ..., Any] | app_commands.Group]:
    """Discord's application commands, from the command table the core serves."""
    out: list[app_commands.Command[Any, ..., Any] | app_commands.Group] = []
    for command in bot.core.commands:
        if not command.typed:
            [clip_arg] = command.arguments

            async def similar_audio(interaction: discord.Interaction, clip: discord.Attachment) -> None:
                await bot.run_audio(interaction, clip)

            callback = app_commands.describe(clip=clip_arg.description)(similar_audio)
            out.append(app_commands.Command(name=command.name, description=command.description, callback=callback))
        elif command.subcommands:
            group = app_commands.Group(name=command.name, description=command.description)
            for sub in command.subcommands:
                group.add_command(_command(bot, sub, f"{command.name} {sub.name}"))
            out.append(group)
        else:
            out.append(_command(bot, command, command.name))
    return out


def explain(exc: BaseException) -> Diagnosis | None:
    """What a failure of the Discord adapter means to the operator (for `bot.supervisor`)."""
    if isinstance(exc, discord.LoginFailure):
        return Diagnosis(
            "Discord refused the token: set DISCORD_TOKEN to the bot token of the Developer Portal "
            "(your application → Bot → Reset Token) and restart",
            permanent=True,
        )
    if isinstance(exc, discord.PrivilegedIntentsRequired):
        return Diagnosis(
            "Discord refused the Message Content intent: enable it in the Developer Portal (your application → Bot → "
            "Privileged Gateway Intents → Message Content Intent); I keep trying"
        )
    if isinstance(exc, discord.HTTPException | discord.GatewayNotFound | OSError):
        return Diagnosis("Discord is unreachable or failing; I keep trying")
    return None


async def run_discord(core: ChatCore, settings: Settings, announcers: dict[str, Announcer] | None = None) -> None:
    bot = MurecomDiscord(core, settings)
    if announcers is not None:
        announcers["discord"] = bot.announce
    async with bot:
        await bot.start(settings.discord_token)
