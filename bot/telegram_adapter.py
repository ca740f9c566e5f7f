"""Telegram adapter (python-telegram-bot v22): updates in, `ChatCore` calls, replies rendered as HTML messages.

Commands (the menu set with `set_my_commands` from the command table), inline keyboards for picks and paging
(callback queries edit the message in place), audio / voice / audio documents (size-checked before download),
inline mode (`@bot song` suggests tracks), photos for the label chart. Replies are rendered within Telegram's
limits by construction (`bot.render`): an audio answer whose tracks do not fit a 1,024-character caption goes out
as the chart with a short caption followed by the full list as a message.

Updates are handled concurrently (`concurrent_updates`): PTB's default is one at a time, so one user's clip held
every other user's `/help`. Telegram's flood limits are respected with PTB's AIORateLimiter; our own per-user
limits live in the core.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Sequence
from typing import Any

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
from telegram.constants import ChatAction, ChatType, ParseMode
from telegram.error import BadRequest, InvalidToken, NetworkError
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

from bot.command_spec import ANALYSING, SOMETHING_WENT_WRONG, Command, too_large
from bot.commands import COMMANDS, text_commands
from bot.core import ChatCore
from bot.radio import Announcer
from bot.render import TELEGRAM_CAPTION_LIMIT, telegram_html
from bot.replies import ChatContext, Reply
from bot.supervisor import Diagnosis
from data.audio_files import AUDIO_EXTENSIONS, is_audio_name
from data.settings import Settings

log = logging.getLogger(__name__)


def render_html(reply: Reply) -> str:
    """The reply as one Telegram HTML message (at most 4,096 visible characters)."""
    return telegram_html(reply).text


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


def context_of(update: Update) -> ChatContext:
    user = update.effective_user
    chat = update.effective_chat
    user_id = str(user.id) if user else "unknown"
    return ChatContext(
        "telegram",
        str(chat.id) if chat else user_id,
        user_id,
        (user.first_name or user.username or "someone") if user else "someone",
    )


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
    """Whether a clip is for the bot: in a private chat, as a reply to the bot, or with the bot mentioned."""
    if message.chat.type == ChatType.PRIVATE:
        return True
    replied = message.reply_to_message
    if replied is not None and replied.from_user is not None and replied.from_user.id == bot.id:
        return True
    mentions = message.parse_caption_entities([MessageEntity.MENTION]).values()
    return any(m.lstrip("@").lower() == (bot.username or "").lower() for m in mentions)


class TelegramBot:
    """Handlers bound to one core."""

    def __init__(self, core: ChatCore, settings: Settings) -> None:
        self.core = core
        self.settings = settings
        self.commands = {w: c for c in core.commands for w in c.words}

    async def send(self, update: Update, replies: list[Reply]) -> None:
        chat = update.effective_chat
        if chat is None:  # an inline query has no chat to answer in
            return
        await self.deliver(update.get_bot(), chat.id, replies, topic_of(update))

    async def deliver(self, bot: Bot, chat_id: int | str, replies: list[Reply], topic: int | None = None) -> None:
        """Send replies to a chat (in its forum topic `topic`, if any): text, the chart as a photo, attached files as
        documents."""
        where: dict[str, Any] = {"message_thread_id": topic} if topic is not None else {}
        for reply in replies:
            if reply.image is not None:
                caption = telegram_html(reply, TELEGRAM_CAPTION_LIMIT)
                if caption.complete:
                    await bot.send_photo(
                        chat_id,
                        reply.image,
                        caption=caption.text,
                        parse_mode=ParseMode.HTML,
                        reply_markup=keyboard(reply),
                        **where,
                    )
                else:
                    # the list does not fit a caption: the chart with its title, then the whole list as a message
                    short = telegram_html(reply, TELEGRAM_CAPTION_LIMIT, with_tracks=False)
                    await bot.send_photo(chat_id, reply.image, caption=short.text, parse_mode=ParseMode.HTML, **where)
                    await bot.send_message(chat_id, render_html(reply), **message_options(reply), **where)
            else:
                await bot.send_message(chat_id, render_html(reply), **message_options(reply), **where)
            for name, data in reply.files:
                await bot.send_document(chat_id, InputFile(data, filename=name), **where)

    async def on_unsupported(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A video, video note, photo or other document in a private chat: one short reply (in a group: nothing)."""
        message = update.effective_message
        if message is not None:
            await message.reply_text(UNSUPPORTED)

    async def on_command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message, chat = update.effective_message, update.effective_chat
        if message is None or chat is None:
            return
        text = message.text or ""
        word, _, args = text[1:].partition(" ")
        command = self.commands.get(word.split("@", 1)[0].lower())
        replied = message.reply_to_message
        if command is not None and command.asks_about_replied_clip and not args.strip():
            clip = clip_of(replied) if replied is not None else None
            if clip is not None:  # `/similar` sent as a reply to a clip: that clip is the question
                await self._analyse(update, message, clip)
                return
            if not command.typed:
                await message.reply_text(NO_CLIP)
                return
        await chat.send_action(ChatAction.TYPING, message_thread_id=topic_of(update))
        await self.send(update, await self.core.handle_text(context_of(update), text))

    async def on_private_text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        if update.effective_message is None:
            return
        await self.send(update, await self.core.handle_text(context_of(update), update.effective_message.text or ""))

    async def on_callback(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        if query is None:
            return
        await query.answer()
        replies = await self.core.handle_action(context_of(update), query.data or "")
        if not replies:  # a flood already told once: the press is answered (above) and nothing more is sent
            return
        first, rest = replies[0], replies[1:]
        if first.kind in ("recommendations", "choices") and first.image is None and query.message is not None:
            # paging and picks replace the message they came from, instead of flooding the chat
            try:
                await query.edit_message_text(render_html(first), **message_options(first))
            except BadRequest as exc:
                if not is_not_modified(exc):  # the same button twice: the message already shows the answer
                    raise
        else:
            rest = replies
        await self.send(update, rest)

    async def on_audio(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A clip: analysed in a private chat, and in a group only when it is addressed to the bot (a reply to one of
        its messages, or a caption mentioning it). A bot that is a group admin sees every voice note of the group;
        the others are not its to analyse, and get nothing."""
        message = update.effective_message
        if message is None:
            return
        clip = clip_of(message)
        if clip is None or not addressed_to(message, update.get_bot()):
            return
        await self._analyse(update, message, clip)

    async def _analyse(self, update: Update, message: Message, clip: Audio | Voice | Document) -> None:
        size = getattr(clip, "file_size", None) or 0
        limit = min(self.settings.max_audio_bytes, GET_FILE_LIMIT)
        if size > limit:
            await message.reply_text(too_large(limit))
            return
        progress = await message.reply_text(ANALYSING)
        try:
            tg_file = await clip.get_file()
            data = bytes(await tg_file.download_as_bytearray())
            name = getattr(clip, "file_name", None) or tg_file.file_path or "clip"
            replies = await self.core.handle_audio(context_of(update), data[: self.settings.max_audio_bytes + 1], name)
            await self.send(update, replies)
        finally:  # never leave "Analysing…" behind, whatever failed
            await progress.delete()

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
            try:
                await update.effective_chat.send_message(SOMETHING_WENT_WRONG, message_thread_id=topic_of(update))
            except Exception:  # noqa: BLE001 - the failure is already logged; nothing else to tell
                log.warning("could not send the error message either")


def build_application(core: ChatCore, settings: Settings) -> Application:
    """The PTB application with every handler; `base_url`/`base_file_url` come from the settings when set."""
    builder = (
        Application.builder()
        .token(settings.telegram_token)
        .rate_limiter(AIORateLimiter(max_retries=2))
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
