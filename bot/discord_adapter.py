"""Discord adapter (discord.py 2.x): slash commands with autocomplete, buttons, audio attachments, `!` messages.

Slash commands defer at once (Discord wants an answer within 3 s) and send the core's replies as follow-ups;
buttons carry the core's action strings as custom ids and edit their message in place for picks and paging.
Plain messages starting with `!` (`!similar hotel california`) speak the same commands, and an audio attachment
is a clip to recommend from. discord.py itself handles Discord's rate limits.
"""

from __future__ import annotations

import asyncio
import io
import logging
from typing import Literal

import discord
from discord import app_commands
from discord.ext import commands

from bot.commands import ANALYSING
from bot.core import ChatCore
from bot.replies import ChatContext, Reply
from data.settings import Settings

log = logging.getLogger(__name__)
PREFIX = "!"
AUDIO_EXTENSIONS = (".mp3", ".ogg", ".opus", ".wav", ".flac", ".m4a", ".aac", ".au", ".oga", ".webm")
SESSION_ACTIONS = Literal["start", "join", "add", "next", "like", "skip", "who", "end"]


def render_embed(reply: Reply) -> discord.Embed:
    colour = discord.Colour.red() if reply.kind == "error" else discord.Colour.blurple()
    lines = [reply.text] if reply.text else []
    for t in reply.tracks:
        lines.append(f"**{t.rank}. [{t.title}]({t.url})** — {t.artist} `{t.score:.3f}`\n*{t.reason}*")
    embed = discord.Embed(title=reply.title[:256] or None, description="\n".join(lines)[:4096] or None, colour=colour)
    if reply.footer:
        embed.set_footer(text=reply.footer)
    if reply.image is not None:
        embed.set_image(url=f"attachment://{reply.image_name}")
    return embed


def context_of(user: discord.abc.User, channel_id: int | None) -> ChatContext:
    return ChatContext("discord", str(channel_id or user.id), str(user.id), user.display_name)


class ActionView(discord.ui.View):
    """The reply's buttons; pressing one runs its action through the core."""

    def __init__(self, bot: MurecomDiscord, reply: Reply) -> None:
        super().__init__(timeout=900)
        self.bot = bot
        for r, row in enumerate(reply.buttons[:5]):
            for b in row[:5]:
                button = discord.ui.Button(label=b.label[:80], custom_id=b.action, row=r)
                button.callback = self._make_callback(b.action)
                self.add_item(button)

    def _make_callback(self, action: str):
        async def callback(interaction: discord.Interaction) -> None:
            await self.bot.on_button(interaction, action)

        return callback


class MurecomDiscord(commands.Bot):
    def __init__(
        self, core: ChatCore, settings: Settings, *, sync_commands: bool = True, intents: discord.Intents | None = None
    ) -> None:
        if intents is None:
            intents = discord.Intents.default()
            intents.message_content = True
        super().__init__(command_prefix=commands.when_mentioned, intents=intents, help_command=None)
        self.core = core
        self.settings = settings
        self.sync_commands = sync_commands
        self._add_app_commands()

    async def setup_hook(self) -> None:
        if self.sync_commands:
            await self.tree.sync()

    # --- rendering ---------------------------------------------------------------------------------------------
    def _payload(self, reply: Reply) -> dict:
        payload: dict = {"embed": render_embed(reply)}
        if reply.buttons:
            payload["view"] = ActionView(self, reply)
        if reply.image is not None:
            payload["file"] = discord.File(io.BytesIO(reply.image), filename=reply.image_name)
        return payload

    async def _send_all(self, send, replies: list[Reply]) -> None:
        for reply in replies:
            await send(**self._payload(reply))

    # --- messages ----------------------------------------------------------------------------------------------
    async def on_message(self, message: discord.Message) -> None:
        if message.author.bot:
            return
        ctx = context_of(message.author, message.channel.id)
        audio = [a for a in message.attachments if self._is_audio(a)]
        if audio:
            await self._audio_message(message, ctx, audio[0])
        elif message.content.startswith(PREFIX) and len(message.content) > 1:
            await message.channel.typing()  # one indicator (10 s) while the core works
            replies = await self.core.handle_text(ctx, "/" + message.content[len(PREFIX) :])
            await self._send_all(message.channel.send, replies)

    @staticmethod
    def _is_audio(attachment: discord.Attachment) -> bool:
        kind = (attachment.content_type or "").split(";")[0]
        return kind.startswith("audio/") or attachment.filename.lower().endswith(AUDIO_EXTENSIONS)

    async def _audio_message(self, message: discord.Message, ctx: ChatContext, attachment: discord.Attachment) -> None:
        if attachment.size > self.settings.max_audio_bytes:
            mb = self.settings.max_audio_bytes / 1e6
            await message.channel.send(f"That file is too large; please send at most {mb:.0f} MB.")
            return
        progress = await message.channel.send(ANALYSING)
        data = await attachment.read()
        replies = await self.core.handle_audio(ctx, data, attachment.filename)
        await self._send_all(message.channel.send, replies)
        await progress.delete()

    # --- buttons -----------------------------------------------------------------------------------------------
    async def on_button(self, interaction: discord.Interaction, action: str) -> None:
        await interaction.response.defer()
        replies = await self.core.handle_action(context_of(interaction.user, interaction.channel_id), action)
        first, rest = replies[0], replies[1:]
        if first.kind in ("recommendations", "choices") and first.image is None:
            payload = self._payload(first)
            await interaction.edit_original_response(embed=payload["embed"], view=payload.get("view"))
        else:
            rest = replies
        await self._send_all(interaction.followup.send, rest)

    # --- slash commands ----------------------------------------------------------------------------------------
    async def _slash(self, interaction: discord.Interaction, text: str) -> None:
        await interaction.response.defer(thinking=True)
        replies = await self.core.handle_text(context_of(interaction.user, interaction.channel_id), text)
        await self._send_all(interaction.followup.send, replies)

    async def song_choices(self, current: str) -> list[app_commands.Choice[str]]:
        """Autocomplete of song names (Discord allows 25 choices of at most 100 characters)."""
        pairs = await asyncio.to_thread(self.core.suggest, current[:100], 25)
        return [app_commands.Choice(name=label[:100], value=value[:100]) for label, value in pairs]

    def _add_app_commands(self) -> None:
        bot = self

        @app_commands.command(name="similar", description="Tracks similar to a song (name, 'title - artist' or link)")
        @app_commands.describe(song="A song name, 'title - artist', or a Spotify link")
        async def similar(interaction: discord.Interaction, song: app_commands.Range[str, 1, 200]) -> None:
            await bot._slash(interaction, f"/similar {song}")

        @similar.autocomplete("song")
        async def similar_autocomplete(interaction: discord.Interaction, current: str) -> list[app_commands.Choice]:
            return await bot.song_choices(current)

        @app_commands.command(name="session", description="Group listening session in this channel")
        @app_commands.describe(action="what to do", song="the song to add (for 'add')")
        async def session(interaction: discord.Interaction, action: SESSION_ACTIONS, song: str | None = None) -> None:
            await bot._slash(interaction, f"/session {action} {song or ''}".strip())

        @session.autocomplete("song")
        async def session_autocomplete(interaction: discord.Interaction, current: str) -> list[app_commands.Choice]:
            return await bot.song_choices(current)

        @app_commands.command(name="similar_audio", description="Tracks that sound like an audio clip")
        async def similar_audio(interaction: discord.Interaction, clip: discord.Attachment) -> None:
            await interaction.response.defer(thinking=True)
            ctx = context_of(interaction.user, interaction.channel_id)
            if clip.size > bot.settings.max_audio_bytes:
                mb = bot.settings.max_audio_bytes / 1e6
                await interaction.followup.send(f"That file is too large; please send at most {mb:.0f} MB.")
                return
            replies = await bot.core.handle_audio(ctx, await clip.read(), clip.filename)
            await bot._send_all(interaction.followup.send, replies)

        @app_commands.command(name="help", description="What murecom can do")
        async def help_(interaction: discord.Interaction) -> None:
            await bot._slash(interaction, "/help")

        @app_commands.command(name="about", description="Models and corpus behind murecom")
        async def about(interaction: discord.Interaction) -> None:
            await bot._slash(interaction, "/about")

        for command in (similar, session, similar_audio, help_, about):
            self.tree.add_command(command)

    async def on_app_command_error(self, interaction: discord.Interaction, error: Exception) -> None:
        log.error("discord command failed: %s", error, exc_info=error)
        send = interaction.followup.send if interaction.response.is_done() else interaction.response.send_message
        await send("Sorry, something went wrong on my side. Please try again.")


async def run_discord(core: ChatCore, settings: Settings) -> None:
    bot = MurecomDiscord(core, settings)
    bot.tree.on_error = bot.on_app_command_error
    async with bot:
        await bot.start(settings.discord_token)
