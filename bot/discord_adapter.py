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
a clip to recommend from (a voice message is one: an audio/ogg attachment). Embeds are rendered within Discord's
limits and user text is escaped (`bot.render`).

Delivery survives what Discord answers (`_deliver`):
- rate limits: discord.py waits a 429's `retry_after` and retries; a reply that had to wait is edited afterwards to
  say so (`held_back`), one that would wait past `MUREC_PLATFORM_WAIT_BUDGET` is dropped and logged
  (`rate_limit_trace`); both are counted in `murecom_platform_waits`;
- permissions: a 403 "Missing Permissions" (50013) falls back to the reply without its files (the chart, with a note
  that it needs Attach Files), then to plain text (no embed: Embed Links); a channel where nothing can be posted is
  logged once, with what to grant;
- interactions: error replies to a slash command go to its user only (ephemeral); an interaction whose token expired
  (15 minutes) or was never acknowledged in time is logged and left, the bot carries on.
"""

from __future__ import annotations

import asyncio
import dataclasses
import io
import logging
import re
from collections.abc import Awaitable, Callable, Coroutine
from contextvars import ContextVar
from typing import Any

import aiohttp
import discord
from discord import app_commands
from discord.ext import commands

from bot.actions import ACTION_PATTERN, Action, decode
from bot.command_spec import ANALYSING, SOMETHING_WENT_WRONG, Argument, Command, held_back, too_large
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
CONTENT_MAX_CHARS = 2000  # a message's content ("Message" → Create Message)
MISSING_PERMISSIONS = 50013
#: An interaction that can no longer be answered: Unknown Webhook, Unknown interaction (past 3 s), Invalid Webhook
#: Token (past 15 minutes) — JSON error codes of "Opcodes and Status Codes".
INTERACTION_GONE = {10015, 10062, 50027}
CHART_NEEDS_ATTACH_FILES = "(The chart needs the Attach Files permission in this channel.)"


@dataclasses.dataclass
class HeldBack:
    """One reply's encounter with Discord's 429s while it is being sent: what it was asked to wait, in all."""

    budget: float
    started: float
    waited: float = 0.0
    refusals: int = 0


#: The reply being sent by this task (set by `MurecomDiscord._deliver`); other requests are left to discord.py alone.
_SENDING: ContextVar[HeldBack | None] = ContextVar("discord_reply_being_sent", default=None)


def rate_limit_trace() -> aiohttp.TraceConfig:
    """An aiohttp trace (discord.py's `http_trace` option) over the bot's one HTTP session, which REST calls and
    interaction follow-ups (webhooks) share. For a reply being sent it notes each 429 — discord.py then sleeps the
    `retry_after` and retries, at most 5 tries — and refuses to wait past the budget by raising `discord.RateLimited`
    from inside the request, as discord.py itself does past its `max_ratelimit_timeout`. That option alone is not
    enough: discord.py raises it to at least 30 s, applies it to REST calls only (its webhook follow-ups sleep any
    `retry_after`), and tells nothing of a 429 that was waited out. A trace is aiohttp's public hook for this; the
    library is not patched."""

    async def on_request_end(
        session: aiohttp.ClientSession, context: Any, params: aiohttp.TraceRequestEndParams
    ) -> None:
        held = _SENDING.get()
        if held is None or params.response.status != 429:
            return
        try:  # the body's retry_after is precise; Retry-After is rounded up to whole seconds
            retry_after = float((await params.response.json(content_type=None))["retry_after"])
        except (ValueError, KeyError, TypeError, aiohttp.ClientError):
            retry_after = float(params.response.headers.get("Retry-After", "1"))
        held.refusals += 1
        if held.waited + retry_after > held.budget:
            raise discord.RateLimited(retry_after)
        held.waited += retry_after

    trace = aiohttp.TraceConfig()
    trace.on_request_end.append(on_request_end)
    return trace


@dataclasses.dataclass(frozen=True)
class Sent:
    """A reply as it went out: the message, and the reply it rendered (after any permission fallback)."""

    message: discord.Message
    reply: Reply
    embedded: bool


def plain_text(reply: Reply, extra: str = "") -> str:
    """The reply as message content (no embed): escaped, within 2,000 characters, cut at a line."""
    text = discord.utils.escape_markdown(reply.as_text())
    if extra:
        text = f"{text}\n{extra}"
    if len(text) <= CONTENT_MAX_CHARS:
        return text
    cut = text[: CONTENT_MAX_CHARS - 1].rsplit("\n", 1)[0]
    return cut + "…"


def with_footer(reply: Reply, note: str) -> Reply:
    return dataclasses.replace(reply, footer=f"{reply.footer}\n{note}".strip())


def render_embed(reply: Reply) -> discord.Embed:
    text = discord_embed_text(reply)
    colour = discord.Colour.red() if reply.kind == "error" else discord.Colour.blurple()
    embed = discord.Embed(title=text.title or None, description=text.description or None, colour=colour)
    if text.footer:
        embed.set_footer(text=text.footer)
    if reply.image is not None:
        embed.set_image(url=f"attachment://{reply.image_name}")
    return embed


def context_of(
    user: discord.abc.User, channel_id: int | None, *, private: bool = False, admin: bool = False
) -> ChatContext:
    return ChatContext("discord", str(channel_id or user.id), str(user.id), user.display_name, private, admin)


def message_context(message: discord.Message) -> ChatContext:
    """Who wrote where: a DM is private (its user its admin); in a server, an admin is whoever may manage the channel
    (Manage Channels, which Administrator and ownership imply) — computed from the cached roles, no request."""
    private = message.guild is None
    author, channel = message.author, message.channel
    admin = private or (
        isinstance(author, discord.Member)
        and isinstance(channel, discord.abc.GuildChannel)
        and channel.permissions_for(author).manage_channels
    )
    return context_of(author, channel.id, private=private, admin=admin)


def interaction_context(interaction: discord.Interaction) -> ChatContext:
    """As `message_context`, from an interaction: Discord sends the member's permissions in the channel with it."""
    private = interaction.guild_id is None
    admin = private or interaction.permissions.manage_channels
    return context_of(interaction.user, interaction.channel_id, private=private, admin=admin)


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
        """`options` go to discord.py's client (e.g. `guild_ready_timeout`, the wait for guilds before on_ready).
        discord.py's `max_ratelimit_timeout` is the wait budget (it keeps pre-emptive waits on an exhausted bucket
        within it, at least 30 s); `rate_limit_trace` keeps each reply's 429 waits within it."""
        if intents is None:
            intents = discord.Intents.default()
            intents.message_content = True
        options.setdefault("max_ratelimit_timeout", settings.platform_wait_budget)
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=intents,
            help_command=None,
            http_trace=rate_limit_trace(),
            **options,
        )
        self._mute_channels: set[int | None] = set()  # channels already logged as refusing every message
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

    # --- rendering and delivery ---------------------------------------------------------------------------------
    def _payload(self, reply: Reply, *, embed: bool = True, files: bool = True) -> dict[str, Any]:
        """The send arguments of a reply: an embed (or, `embed=False`, plain content), its buttons, its files."""
        payload: dict[str, Any] = {"allowed_mentions": discord.AllowedMentions.none()}
        if embed:
            payload["embed"] = render_embed(reply)
        else:
            payload["content"] = plain_text(reply)
        view = action_view(reply)
        if view is not None:
            payload["view"] = view
        attached = [discord.File(io.BytesIO(data), filename=name) for name, data in reply.files]
        if reply.image is not None:
            attached.insert(0, discord.File(io.BytesIO(reply.image), filename=reply.image_name))
        if attached and files:
            payload["files"] = attached
        return payload

    def _fallbacks(self, reply: Reply) -> list[tuple[Reply, bool, bool]]:
        """What to try, in order, while Discord answers 403 Missing Permissions: (reply, embed, files) — the whole
        reply; without its files (Attach Files), saying the chart needs it; as plain text (Embed Links), with then
        without the files."""
        has_files = bool(reply.files) or reply.image is not None
        if not has_files:
            return [(reply, True, False), (reply, False, False)]
        bare = with_footer(dataclasses.replace(reply, image=None, files=()), CHART_NEEDS_ATTACH_FILES)
        return [(reply, True, True), (bare, True, False), (reply, False, True), (bare, False, False)]

    async def _send_permitted(
        self, send: Callable[..., Awaitable[Any]], reply: Reply, channel_id: int | None, **extra: Any
    ) -> Sent | None:
        """Send the reply in the richest form the channel permits; None (logged once per channel) if none is."""
        for variant, embed, files in self._fallbacks(reply):
            try:
                message = await send(**self._payload(variant, embed=embed, files=files), **extra)
            except discord.Forbidden as exc:
                if exc.code != MISSING_PERMISSIONS:
                    raise
                log.info("discord: channel %s refused a reply (embed=%s, files=%s): %s", channel_id, embed, files, exc)
                continue
            return Sent(message, variant, embed)
        if channel_id not in self._mute_channels:
            self._mute_channels.add(channel_id)
            log.warning(
                "discord: I cannot post in channel %s: grant me Send Messages there (and Embed Links, Attach Files "
                "for charts and rich answers)", channel_id
            )  # fmt: skip
        return None

    async def _deliver(
        self, send: Callable[..., Awaitable[Any]], reply: Reply, channel_id: int | None, **extra: Any
    ) -> Sent | None:
        """Send one reply through Discord's rate limits and the channel's permissions. A reply held back by 429s
        but sent within the budget is edited to say how late it is; one that would wait longer is dropped (logged,
        counted), never raised: the rest of the bot carries on."""
        loop = asyncio.get_running_loop()
        held = HeldBack(self.settings.platform_wait_budget, loop.time())
        token = _SENDING.set(held)
        try:
            sent = await self._send_permitted(send, reply, channel_id, **extra)
        except discord.RateLimited as exc:
            log.warning(
                "discord: a reply to channel %s was dropped: Discord asked me to wait %.1f s more, past the budget of "
                "%.1f s (MUREC_PLATFORM_WAIT_BUDGET)", channel_id, exc.retry_after, held.budget
            )  # fmt: skip
            self.core.metrics.platform_waits.labels(adapter="discord", outcome="dropped").inc()
            return None
        finally:
            _SENDING.reset(token)
        if sent is not None and held.refusals:
            self.core.metrics.platform_waits.labels(adapter="discord", outcome="sent").inc()
            note = held_back("Discord", loop.time() - held.started)
            if sent.embedded:
                await self._try_edit(sent.message, embed=render_embed(with_footer(sent.reply, note)))
            else:
                await self._try_edit(sent.message, content=plain_text(sent.reply, note))
        return sent

    @staticmethod
    async def _try_edit(message: discord.Message, **changes: Any) -> None:
        try:
            await message.edit(**changes)
        except discord.HTTPException as exc:
            log.info("discord: could not edit message %s: %s", message.id, exc)

    async def _send_all(
        self, send: Callable[..., Awaitable[Any]], replies: list[Reply], channel_id: int | None, **extra: Any
    ) -> None:
        """Deliver each reply; stop (logged) when the interaction they answer can no longer be answered."""
        for reply in replies:
            try:
                await self._deliver(send, reply, channel_id, **extra)
            except discord.HTTPException as exc:
                if exc.code not in INTERACTION_GONE:
                    raise
                log.warning("discord: an answer in channel %s could not be sent, its interaction is gone: %s",
                            channel_id, exc)  # fmt: skip
                return

    async def announce(self, chat_id: str, replies: list[Reply]) -> None:
        """Post to a channel unprompted (a radio pick)."""
        channel = self.get_channel(int(chat_id)) or await self.fetch_channel(int(chat_id))
        if not isinstance(channel, discord.abc.Messageable):
            raise TypeError(f"cannot post to channel {chat_id}")
        await self._send_all(channel.send, replies, channel.id)

    # --- messages ----------------------------------------------------------------------------------------------
    async def on_message(self, message: discord.Message) -> None:
        """`!command` messages, and clips addressed to the bot: in a DM, with the bot mentioned, as a reply to the
        bot, or replied to with `!similar` (or `!similar_audio`). Any other clip in a server channel is not the bot's
        to analyse and gets nothing (a server removes a bot that answers every attachment)."""
        if message.author.bot:
            return
        ctx = message_context(message)
        clip = self._clip_of(message)
        if clip is not None:
            if await self._addressed(message):
                await self._audio_message(message, ctx, clip)
            return
        if not (message.content.startswith(PREFIX) and len(message.content) > 1):
            # words for the bot (in a DM, with a mention of it, or as a reply to it): a request, as /ask reads it
            text = self._without_mention(message.content)
            if text and not text.startswith(PREFIX) and await self._addressed(message, clips_too=False):
                await message.channel.typing()  # one indicator (10 s) while the core works
                replies = await self.core.handle_text(ctx, text)
                await self._send_all(message.channel.send, replies, message.channel.id)
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
        await self._send_all(message.channel.send, replies, message.channel.id)

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

    def _without_mention(self, content: str) -> str:
        """The message without the bot's mention (`<@id>` or `<@!id>`)."""
        if self.user is None:
            return content.strip()
        return re.sub(rf"<@!?{self.user.id}>", " ", content).strip()

    async def _addressed(self, message: discord.Message, *, clips_too: bool = True) -> bool:
        """Whether a message is for the bot: in a DM, with a mention of it, as a reply to it, or — a clip only
        (`clips_too`) — in a channel an admin opted in with `/listen on`."""
        if message.guild is None or (self.user is not None and self.user in message.mentions):
            return True
        if clips_too and self.core.listens_to_every_clip("discord", str(message.channel.id)):
            return True
        replied = await self._replied(message) if message.reference is not None else None
        return replied is not None and self.user is not None and replied.author.id == self.user.id

    async def _audio_message(self, message: discord.Message, ctx: ChatContext, attachment: discord.Attachment) -> None:
        if attachment.size > self.settings.max_audio_bytes:
            await message.channel.send(too_large(self.settings.max_audio_bytes))
            return
        progress = await self._progress(message.channel)
        try:
            data = await attachment.read()
            replies = await self.core.handle_audio(ctx, data, attachment.filename)
            await self._send_all(message.channel.send, replies, message.channel.id)
        finally:  # never leave "Analysing…" behind, whatever failed
            if progress is not None:
                await progress.delete()

    async def _progress(self, channel: discord.abc.Messageable) -> discord.Message | None:
        """ "Analysing…", if the channel lets the bot post (the answer then finds out what it may post, and says so)."""
        try:
            return await channel.send(ANALYSING)
        except discord.Forbidden as exc:
            log.info("discord: no progress message in %s: %s", getattr(channel, "id", None), exc)
            return None

    # --- buttons -----------------------------------------------------------------------------------------------
    async def on_button(self, interaction: discord.Interaction, action: Action | None) -> None:
        """Acknowledge the press at once (3 s), then edit the message in place or follow up; a press whose
        interaction is gone (acknowledged too late, token expired) is logged and left."""
        try:
            await interaction.response.defer()
            replies = await self.core.handle_action(interaction_context(interaction), action)
            if not replies:  # a flood already told once: the press is acknowledged (above) and nothing more is sent
                return
            first, rest = replies[0], replies[1:]
            if first.kind in ("recommendations", "choices") and first.image is None:
                payload = self._payload(first)
                await interaction.edit_original_response(embed=payload["embed"], view=payload.get("view"))
            else:
                rest = replies
            await self._send_all(interaction.followup.send, rest, interaction.channel_id)
        except discord.HTTPException as exc:
            if exc.code not in INTERACTION_GONE:
                raise
            log.warning("discord: button interaction %s is gone before its answer: %s", interaction.id, exc)

    # --- slash commands ----------------------------------------------------------------------------------------
    async def run_text(self, interaction: discord.Interaction, text: str) -> None:
        """Defer first — the 3 s deadline holds however long the core takes — then answer in follow-ups."""
        await interaction.response.defer(thinking=True)
        replies = await self.core.handle_text(interaction_context(interaction), text)
        await self._answer(interaction, replies)

    async def run_audio(self, interaction: discord.Interaction, clip: discord.Attachment) -> None:
        await interaction.response.defer(thinking=True)
        if clip.size > self.settings.max_audio_bytes:
            await self._answer(interaction, [Reply(too_large(self.settings.max_audio_bytes))])
            return
        ctx = interaction_context(interaction)
        replies = await self.core.handle_audio(ctx, await clip.read(), clip.filename)
        await self._answer(interaction, replies)

    async def _answer(self, interaction: discord.Interaction, replies: list[Reply]) -> None:
        """Answer a deferred slash command: public replies as follow-ups (the first replaces "thinking…"), error
        replies to its user only. The first follow-up after a defer takes the defer's (public) ephemerality whatever
        its flags, so before an error can be ephemeral the loading message is deleted; no replies (a flood already
        told once) delete it too. An interaction gone (expired token) is logged and left."""
        loading = True
        try:
            if not replies:
                await interaction.delete_original_response()
            for reply in replies:
                private = reply.kind == "error"
                if private and loading:
                    await interaction.delete_original_response()
                loading = False
                extra = {"ephemeral": True} if private else {}
                await self._send_all(interaction.followup.send, [reply], interaction.channel_id, **extra)
        except discord.HTTPException as exc:
            if exc.code not in INTERACTION_GONE:
                raise
            log.warning("discord: interaction %s is gone before its answer: %s", interaction.id, exc)

    async def song_choices(self, current: str) -> list[app_commands.Choice[str]]:
        """Autocomplete of song names (Discord allows 25 choices of at most 100 characters)."""
        pairs = await asyncio.to_thread(self.core.suggest, current[:100], 25)
        return [app_commands.Choice(name=label[:100], value=value[:100]) for label, value in pairs[:25] if label]

    async def on_app_command_error(self, interaction: discord.Interaction, error: Exception) -> None:
        log.error("discord command failed: %s", error, exc_info=error)
        embed = render_embed(Reply(SOMETHING_WENT_WRONG, kind="error"))
        try:
            if interaction.response.is_done():
                await interaction.followup.send(embed=embed, ephemeral=True)
            else:
                await interaction.response.send_message(embed=embed, ephemeral=True)
        except discord.HTTPException as exc:  # e.g. the interaction expired: the failure is logged above
            log.warning("discord: could not tell the user of interaction %s: %s", interaction.id, exc)


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
