"""Telegram adapter (python-telegram-bot v22): updates in, `ChatCore` calls, replies rendered as HTML messages.

Commands (the menu set with `set_my_commands` from the command table), inline keyboards for picks and paging
(callback queries edit the message in place), audio / voice / audio documents (size-checked before download),
inline mode (`@bot song` suggests tracks), photos for the label chart. Replies are rendered within Telegram's
limits by construction (`bot.render`): an audio answer whose tracks do not fit a 1,024-character caption goes out
as the chart with a short caption followed by the full list as a message.

Updates are handled concurrently (`concurrent_updates`): PTB's default is one at a time, so one user's clip held
every other user's `/help`. Our own per-user limits live in the core.

Telegram's flood limits (Bots FAQ: about one message a second per chat, 20 a minute per group, about 30 a second in
all) are handled in two parts. PTB's `AIORateLimiter` throttles every request beforehand to the group and overall
rates, but with `max_retries=0`: its own retries would halt *every* request of the bot for each 429, re-send the same
text, wait without bound, and, once out of retries, raise into the handler (the user got "Sorry, something went
wrong"). The retries are ours (`TelegramBot.patiently`, the one way every call to a chat goes): a 429 is waited out
with `asyncio.sleep(retry_after)` while the answer's total wait stays within `MUREC_PLATFORM_WAIT_BUDGET`, and the
message that was held back says so (`held_back`); over the budget the message is dropped, logged and counted
(`murecom_platform_waits_total{adapter="telegram"}`), and nothing reaches the error handler.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import uuid
import warnings
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from typing import Any, TypeVar

from telegram import (
    Audio,
    Bot,
    BotCommand,
    Document,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InlineQueryResultArticle,
    InputFile,
    InputTextMessageContent,
    Message,
    MessageEntity,
    Update,
    Voice,
)
from telegram.constants import ChatAction, ChatMemberStatus, ChatType, ParseMode
from telegram.error import BadRequest, InvalidToken, NetworkError, RetryAfter, TelegramError
from telegram.ext import (
    AIORateLimiter,
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    InlineQueryHandler,
    MessageHandler,
    filters,
)
from telegram.warnings import PTBDeprecationWarning

from bot.command_spec import ANALYSING, SOMETHING_WENT_WRONG, Command, held_back, too_large
from bot.commands import COMMANDS, text_commands
from bot.core import ChatCore
from bot.radio import Announcer
from bot.render import TELEGRAM_CAPTION_LIMIT, telegram_html
from bot.replies import ChatContext, Reply
from bot.supervisor import Diagnosis
from data.audio_files import AUDIO_EXTENSIONS, is_audio_name
from data.settings import Settings

log = logging.getLogger(__name__)
T = TypeVar("T")


def render_html(reply: Reply, note: str = "") -> str:
    """The reply as one Telegram HTML message (at most 4,096 visible characters), with `note` (a held-back note) in
    its footer: within the limit by construction (tracks give way first)."""
    return telegram_html(with_note(reply, note)).text


def with_note(reply: Reply, note: str) -> Reply:
    """The reply with `note` added to its footer (unchanged without one)."""
    if not note:
        return reply
    return dataclasses.replace(reply, footer=f"{reply.footer}\n{note}" if reply.footer else note)


def noted(text: str, note: str) -> str:
    """A short plain-text reply with `note` after it (our fixed texts are far under 4,096 characters)."""
    return f"{text}\n\n{note}" if note else text


def retry_after_seconds(exc: RetryAfter) -> float:
    """The wait a 429 asks for. PTB 22 warns when `retry_after` is read as an int (it becomes a timedelta unless
    PTB_TIMEDELTA opts in); either form is read, without the warning."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


@dataclasses.dataclass
class Patience:
    """How long one answer may wait out Telegram's 429s: MUREC_PLATFORM_WAIT_BUDGET, summed over every retry of every
    message of the answer (the user waits for the answer, not for each message)."""

    budget: float
    waited: float = 0.0


class OwnRetries(logging.Filter):
    """AIORateLimiter(max_retries=0) logs every 429 it passes on as an ERROR with a traceback ("Rate limit hit after
    maximum of 0 retries"); our retry loop handles it and logs what it did, so that record is noise."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Rate limit hit after maximum of 0 retries")


def quiet_rate_limiter_log() -> None:
    """Install `OwnRetries` on PTB's AIORateLimiter logger, once."""
    logger = logging.getLogger("telegram.ext.AIORateLimiter")
    if not any(isinstance(f, OwnRetries) for f in logger.filters):
        logger.addFilter(OwnRetries())


def bot_commands(commands: Sequence[Command] = COMMANDS) -> list[BotCommand]:
    """Telegram's command menu, from the command table (aliases stay usable but unlisted)."""
    return [BotCommand(c.name, c.description) for c in text_commands(commands)]


def is_not_modified(exc: BadRequest) -> bool:
    """Telegram's answer to an edit that changes nothing, e.g. the same paging button pressed twice."""
    return "message is not modified" in str(exc).lower()


def keyboard(reply: Reply) -> InlineKeyboardMarkup | None:
    if not reply.buttons:
        return None
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(b.label, callback_data=b.action) for b in row] for row in reply.buttons]
    )


def message_options(reply: Reply) -> dict[str, Any]:
    """How every text message is sent or edited: HTML, the reply's keyboard, no link previews."""
    return {"parse_mode": ParseMode.HTML, "reply_markup": keyboard(reply), "disable_web_page_preview": True}


def context_of(update: Update, admin: bool = False) -> ChatContext:
    """Who wrote where; `admin` is found out by `is_chat_admin` only for commands that need it (it costs a request)."""
    user = update.effective_user
    chat = update.effective_chat
    user_id = str(user.id) if user else "unknown"
    private = chat is not None and chat.type == ChatType.PRIVATE
    return ChatContext(
        "telegram",
        str(chat.id) if chat else user_id,
        user_id,
        (user.first_name or user.username or "someone") if user else "someone",
        private,
        admin or private,
    )


async def is_chat_admin(update: Update) -> bool:
    """Whether the sender may change the chat's settings: the chat's creator or an administrator (getChatMember), or
    an anonymous administrator (the message is sent on behalf of the group itself: `sender_chat` is the chat)."""
    message, chat, user = update.effective_message, update.effective_chat, update.effective_user
    if chat is None:
        return False
    if chat.type == ChatType.PRIVATE:
        return True
    if message is not None and message.sender_chat is not None and message.sender_chat.id == chat.id:
        return True
    if user is None:
        return False
    try:
        member = await chat.get_member(user.id)
    except TelegramError as exc:  # not answerable now: not an admin, and the handler says so
        log.warning("telegram: could not check the admins of chat %s: %s", chat.id, exc)
        return False
    return member.status in (ChatMemberStatus.ADMINISTRATOR, ChatMemberStatus.OWNER)


#: getFile serves bots files of up to 20 MB (Bot API, getFile); a larger one can never be downloaded.
GET_FILE_LIMIT = 20_000_000  # (conservative: "20 MB" read as 10^6 bytes, so the reply's figure is the rule's)
UNSUPPORTED = "I can only listen to audio: send me a voice note or an audio file (mp3, ogg, m4a, wav…)."
NO_CLIP = "Reply to an audio clip or voice note with /similar_audio (or /similar), or send me the clip privately."


def topic_of(update: Update) -> int | None:
    """The forum topic an update came from, so the answer goes to that topic (not to the group's General one)."""
    message = update.effective_message
    return message.message_thread_id if message is not None and message.is_topic_message else None


def clip_of(message: Message) -> Audio | Voice | Document | None:
    """The audio a message carries: an audio file, a voice note, or a document that is audio."""
    document = message.document
    if document is not None and not (
        (document.mime_type or "").startswith("audio/") or is_audio_name(document.file_name or "")
    ):
        document = None
    return message.audio or message.voice or document


def addressed_to(message: Message, bot: Bot) -> bool:
    """Whether a message (a clip, or text) is for the bot: in a private chat, as a reply to the bot, or with the bot
    mentioned (in its text or its caption)."""
    if message.chat.type == ChatType.PRIVATE:
        return True
    replied = message.reply_to_message
    if replied is not None and replied.from_user is not None and replied.from_user.id == bot.id:
        return True
    kinds: list[str | None] = [MessageEntity.MENTION]
    mentions = [*message.parse_entities(kinds).values(), *message.parse_caption_entities(kinds).values()]
    return any(m.lstrip("@").lower() == (bot.username or "").lower() for m in mentions)


def without_mention(text: str, bot: Bot) -> str:
    """The text without the bot's @mention (what is left is the request)."""
    mention = f"@{bot.username or ''}"
    return " ".join(w for w in text.split() if w.lower() != mention.lower()).strip()


class TelegramBot:
    """Handlers bound to one core. Every call that posts to a chat goes through `patiently` (429s waited out within
    the answer's budget); each handler makes one `Patience` for its answer."""

    def __init__(self, core: ChatCore, settings: Settings) -> None:
        self.core = core
        self.settings = settings
        self.commands = {w: c for c in core.commands for w in c.words}

    def patience(self) -> Patience:
        """A fresh wait budget for one answer."""
        return Patience(self.settings.platform_wait_budget)

    async def patiently(self, chat_id: int | str, call: Callable[[str], Awaitable[T]], patience: Patience) -> T | None:
        """`call(note)`, retried after each 429 (`RetryAfter`) while the answer's total wait stays within its budget;
        the retry carries `note`, the held-back note (a call without text ignores it). Over the budget the message is
        dropped (None): logged at WARNING with the chat and the wait asked, counted as "dropped"; a message sent after
        waiting is counted as "sent"."""
        held = 0.0
        note = ""
        while True:
            try:
                result = await call(note)
            except RetryAfter as exc:
                wait = retry_after_seconds(exc)
                if patience.waited + wait > patience.budget:
                    log.warning(
                        "telegram: reply to chat %s dropped: Telegram asked to wait %.0f s, over the %.0f s budget "
                        "(%.0f s waited already)", chat_id, wait, patience.budget, patience.waited,
                    )  # fmt: skip
                    self.core.metrics.platform_waits.labels(adapter="telegram", outcome="dropped").inc()
                    return None
                patience.waited += wait
                held += wait
                await asyncio.sleep(wait)
                note = held_back("Telegram", held)
                continue
            if held:
                self.core.metrics.platform_waits.labels(adapter="telegram", outcome="sent").inc()
            return result

    async def send(self, update: Update, replies: list[Reply], patience: Patience | None = None) -> None:
        chat = update.effective_chat
        if chat is None:  # an inline query has no chat to answer in
            return
        await self.deliver(update.get_bot(), chat.id, replies, topic_of(update), patience)

    async def deliver(
        self,
        bot: Bot,
        chat_id: int | str,
        replies: list[Reply],
        topic: int | None = None,
        patience: Patience | None = None,
    ) -> None:
        """Send replies to a chat (in its forum topic `topic`, if any): text, the chart as a photo, attached files as
        documents; each message waited out on a 429 within the answer's `patience`."""
        patience = patience or self.patience()
        where: dict[str, Any] = {"message_thread_id": topic} if topic is not None else {}
        for reply in replies:
            if reply.image is not None:
                await self._send_chart(bot, chat_id, reply, reply.image, where, patience)
            else:
                await self._send_text(bot, chat_id, reply, where, patience)
            for name, data in reply.files:
                await self._send_file(bot, chat_id, name, data, where, patience)

    async def _send_text(
        self, bot: Bot, chat_id: int | str, reply: Reply, where: dict[str, Any], patience: Patience
    ) -> None:
        async def call(note: str) -> Message:
            return await bot.send_message(chat_id, render_html(reply, note), **message_options(reply), **where)

        await self.patiently(chat_id, call, patience)

    async def _send_chart(
        self, bot: Bot, chat_id: int | str, reply: Reply, image: bytes, where: dict[str, Any], patience: Patience
    ) -> None:
        """The chart with the list as its caption when it fits 1,024 characters; else the chart with its title, then
        the whole list as a message. A held-back note goes into the caption only if the list still fits with it."""
        caption = telegram_html(reply, TELEGRAM_CAPTION_LIMIT)
        if caption.complete:

            async def photo(note: str) -> Message:
                noted_caption = telegram_html(with_note(reply, note), TELEGRAM_CAPTION_LIMIT)
                shown = noted_caption.text if noted_caption.complete else caption.text
                return await bot.send_photo(
                    chat_id, image, caption=shown, parse_mode=ParseMode.HTML, reply_markup=keyboard(reply), **where
                )

            await self.patiently(chat_id, photo, patience)
            return

        async def chart(note: str) -> Message:
            short = telegram_html(with_note(reply, note), TELEGRAM_CAPTION_LIMIT, with_tracks=False)
            return await bot.send_photo(chat_id, image, caption=short.text, parse_mode=ParseMode.HTML, **where)

        await self.patiently(chat_id, chart, patience)
        await self._send_text(bot, chat_id, reply, where, patience)

    async def _send_file(
        self, bot: Bot, chat_id: int | str, name: str, data: bytes, where: dict[str, Any], patience: Patience
    ) -> None:
        async def call(note: str) -> Message:  # a file has no text of its own: the note went with its message
            return await bot.send_document(chat_id, InputFile(data, filename=name), **where)

        await self.patiently(chat_id, call, patience)

    async def reply_text(self, message: Message, text: str, patience: Patience) -> Message | None:
        """A plain-text reply to `message`, waited out on a 429 (the retry carries the held-back note)."""

        async def call(note: str) -> Message:
            return await message.reply_text(noted(text, note))

        return await self.patiently(message.chat_id, call, patience)

    async def on_unsupported(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A video, video note, photo or other document in a private chat: one short reply (in a group: nothing)."""
        message = update.effective_message
        if message is not None:
            await self.reply_text(message, UNSUPPORTED, self.patience())

    async def on_command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message, chat = update.effective_message, update.effective_chat
        if message is None or chat is None:
            return
        patience = self.patience()
        text = message.text or ""
        word, _, args = text[1:].partition(" ")
        command = self.commands.get(word.split("@", 1)[0].lower())
        replied = message.reply_to_message
        if command is not None and command.asks_about_replied_clip and not args.strip():
            clip = clip_of(replied) if replied is not None else None
            if clip is not None:  # `/similar` sent as a reply to a clip: that clip is the question
                await self._analyse(update, message, clip, patience)
                return
            if not command.typed:
                await self.reply_text(message, NO_CLIP, patience)
                return

        async def typing(note: str) -> bool:
            return await chat.send_action(ChatAction.TYPING, message_thread_id=topic_of(update))

        await self.patiently(chat.id, typing, patience)
        admin = command is not None and command.admin_only and await is_chat_admin(update)
        await self.send(update, await self.core.handle_text(context_of(update, admin), text), patience)

    async def on_private_text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        if update.effective_message is None:
            return
        await self.send(update, await self.core.handle_text(context_of(update), update.effective_message.text or ""))

    async def on_group_text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Text in a group is the bot's only when it mentions the bot or replies to it ("@murecom something chill
        for a road trip"): then it is a request in words, as in a private chat; other chatter gets nothing."""
        message = update.effective_message
        if message is None or not addressed_to(message, update.get_bot()):
            return
        text = without_mention(message.text or "", update.get_bot())
        if text:
            await self.send(update, await self.core.handle_text(context_of(update), text))

    async def on_callback(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        if query is None:
            return
        patience = self.patience()
        chat_id = update.effective_chat.id if update.effective_chat is not None else "?"

        async def answer(note: str) -> bool:
            return await query.answer()

        await self.patiently(chat_id, answer, patience)
        replies = await self.core.handle_action(context_of(update), query.data or "")
        if not replies:  # a flood already told once: the press is answered (above) and nothing more is sent
            return
        first, rest = replies[0], replies[1:]
        if first.kind in ("recommendations", "choices") and first.image is None and query.message is not None:
            # paging and picks replace the message they came from, instead of flooding the chat

            async def edit(note: str) -> Any:
                return await query.edit_message_text(render_html(first, note), **message_options(first))

            try:
                await self.patiently(chat_id, edit, patience)
            except BadRequest as exc:
                if not is_not_modified(exc):  # the same button twice: the message already shows the answer
                    raise
        else:
            rest = replies
        await self.send(update, rest, patience)

    async def on_audio(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A clip: analysed in a private chat, and in a group only when it is addressed to the bot (a reply to one of
        its messages, or a caption mentioning it) or the group's admin opted in with `/listen on`. A bot that is a
        group admin sees every voice note of the group; the others are not its to analyse, and get nothing."""
        message = update.effective_message
        if message is None:
            return
        clip = clip_of(message)
        if clip is None:
            return
        listening = self.core.listens_to_every_clip("telegram", str(message.chat.id))
        if not (listening or addressed_to(message, update.get_bot())):
            return
        await self._analyse(update, message, clip, self.patience())

    async def _analyse(
        self, update: Update, message: Message, clip: Audio | Voice | Document, patience: Patience
    ) -> None:
        size = getattr(clip, "file_size", None) or 0
        limit = min(self.settings.max_audio_bytes, GET_FILE_LIMIT)
        if size > limit:
            await self.reply_text(message, too_large(limit), patience)
            return
        progress = await self.reply_text(message, ANALYSING, patience)
        try:
            tg_file = await clip.get_file()
            data = bytes(await tg_file.download_as_bytearray())
            name = getattr(clip, "file_name", None) or tg_file.file_path or "clip"
            replies = await self.core.handle_audio(context_of(update), data[: self.settings.max_audio_bytes + 1], name)
            await self.send(update, replies, patience)
        finally:  # never leave "Analysing…" behind, whatever failed
            if progress is not None:

                async def delete(note: str) -> bool:
                    return await progress.delete()

                await self.patiently(message.chat_id, delete, patience)

    async def on_inline(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.inline_query
        if query is None:
            return
        text = (query.query or "").strip()
        if len(text) < 2:
            await query.answer([], cache_time=5)
            return
        pairs = await asyncio.to_thread(self.core.suggest, text[:200], 10)
        results = [
            InlineQueryResultArticle(
                id=uuid.uuid5(uuid.NAMESPACE_URL, value).hex,
                title=label,
                input_message_content=InputTextMessageContent(f"/similar {value}"),
            )
            for label, value in pairs
        ]
        await query.answer(results, cache_time=30)

    async def on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        log.error("telegram handler failed: %s", context.error, exc_info=context.error)
        if isinstance(update, Update) and update.effective_chat is not None:
            chat = update.effective_chat

            async def sorry(note: str) -> Message:
                return await chat.send_message(noted(SOMETHING_WENT_WRONG, note), message_thread_id=topic_of(update))

            try:
                await self.patiently(chat.id, sorry, self.patience())
            except Exception:  # noqa: BLE001 - the failure is already logged; nothing else to tell
                log.warning("could not send the error message either")


def build_application(core: ChatCore, settings: Settings) -> Application:
    """The PTB application with every handler; `base_url`/`base_file_url` come from the settings when set."""
    quiet_rate_limiter_log()
    builder = (
        Application.builder()
        .token(settings.telegram_token)
        # throttling only: the retries are ours (`TelegramBot.patiently`; see the module docstring)
        .rate_limiter(AIORateLimiter(max_retries=0))
        .concurrent_updates(True)  # one user's clip must not hold everyone else's commands
    )
    if settings.telegram_base_url:
        builder = builder.base_url(settings.telegram_base_url)
    if settings.telegram_base_file_url:
        builder = builder.base_file_url(settings.telegram_base_file_url)
    app = builder.build()
    bot = TelegramBot(core, settings)
    clip_words = [w for c in core.commands if not c.typed for w in c.words]  # only as a reply to a clip
    app.add_handler(CommandHandler(core.command_words() + clip_words, bot.on_command))
    app.add_handler(CallbackQueryHandler(bot.on_callback))
    audio_documents: filters.BaseFilter = filters.Document.AUDIO
    for extension in AUDIO_EXTENSIONS:
        audio_documents = audio_documents | filters.Document.FileExtension(extension.lstrip("."))
    app.add_handler(MessageHandler(filters.AUDIO | filters.VOICE | audio_documents, bot.on_audio))
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND & filters.ChatType.PRIVATE, bot.on_private_text))
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND & filters.ChatType.GROUPS, bot.on_group_text))
    other_media = filters.VIDEO | filters.VIDEO_NOTE | filters.PHOTO | filters.Document.ALL | filters.Sticker.ALL
    app.add_handler(MessageHandler(other_media & filters.ChatType.PRIVATE, bot.on_unsupported))
    app.add_handler(InlineQueryHandler(bot.on_inline))
    app.add_error_handler(bot.on_error)
    return app


def explain(exc: BaseException) -> Diagnosis | None:
    """What a failure of the Telegram adapter means to the operator (for `bot.supervisor`)."""
    if isinstance(exc, InvalidToken):
        return Diagnosis(
            "Telegram refused the token: set TELEGRAM_TOKEN to the token @BotFather gave (/token there) and restart",
            permanent=True,
        )
    if isinstance(exc, NetworkError):
        return Diagnosis("Telegram is unreachable or failing; I keep trying")
    return None


async def run_telegram(
    core: ChatCore,
    settings: Settings,
    stop: asyncio.Event | None = None,
    announcers: dict[str, Announcer] | None = None,
) -> None:
    """Poll Telegram until `stop` is set (or forever); registers how to post to a Telegram chat unprompted (radio)."""
    app = build_application(core, settings)
    telegram_bot = TelegramBot(core, settings)

    async def announce(chat_id: str, replies: list[Reply]) -> None:
        await telegram_bot.deliver(app.bot, int(chat_id), replies)

    if announcers is not None:
        announcers["telegram"] = announce
    try:
        async with app:
            await app.bot.set_my_commands(bot_commands(core.commands))
            await app.start()
            assert app.updater is not None  # the builder makes one unless told not to
            try:
                await app.updater.start_polling(allowed_updates=Update.ALL_TYPES)
                log.info("telegram bot @%s running", app.bot.username)
                await (stop or asyncio.Event()).wait()
            finally:  # also when cancelled (the supervisor stops adapters so): leave the application closable
                if app.updater.running:
                    await app.updater.stop()
                await app.stop()
    finally:
        # a start that failed (e.g. a refused token at getMe) leaves the bot's HTTP client open: PTB shuts down only
        # what finished initialising; closing a closed client is a no-op
        await app.bot.request.shutdown()
