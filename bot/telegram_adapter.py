"""Telegram adapter (python-telegram-bot v22): updates in, `ChatCore` calls, replies rendered as HTML messages.

Commands, inline keyboards for picks and paging (callback queries edit the message in place), audio / voice /
audio documents (size-checked before download), inline mode (`@bot song` suggests tracks), photos for the label
chart. Telegram's flood limits are respected with PTB's AIORateLimiter; our own per-user limits live in the core.
"""

from __future__ import annotations

import asyncio
import html
import logging
import uuid

from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InlineQueryResultArticle,
    InputTextMessageContent,
    Update,
)
from telegram.constants import ChatAction, ParseMode
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

from bot.core import ANALYSING, ChatCore
from bot.replies import ChatContext, Reply
from data.settings import Settings

log = logging.getLogger(__name__)
COMMANDS = ("similar", "s", "session", "help", "start", "about")


def render_html(reply: Reply) -> str:
    parts = [f"<b>{html.escape(reply.title)}</b>"] if reply.title else []
    if reply.text:
        parts.append(html.escape(reply.text))
    for t in reply.tracks:
        parts.append(
            f'{t.rank}. <a href="{html.escape(t.url, quote=True)}">{html.escape(t.title)}</a> — '
            f"{html.escape(t.artist)} <code>{t.score:.3f}</code>\n<i>{html.escape(t.reason)}</i>"
        )
    if reply.footer:
        parts.append(f"<i>{html.escape(reply.footer)}</i>")
    return "\n\n".join(parts)[:4096] or "…"


def keyboard(reply: Reply) -> InlineKeyboardMarkup | None:
    if not reply.buttons:
        return None
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(b.label, callback_data=b.action) for b in row] for row in reply.buttons]
    )


def context_of(update: Update) -> ChatContext:
    user = update.effective_user
    chat = update.effective_chat
    return ChatContext(
        "telegram",
        str(chat.id if chat else user.id),
        str(user.id if user else "unknown"),
        (user.first_name or user.username or "someone") if user else "someone",
    )


class TelegramBot:
    """Handlers bound to one core."""

    def __init__(self, core: ChatCore, settings: Settings) -> None:
        self.core = core
        self.settings = settings

    async def send(self, update: Update, replies: list[Reply]) -> None:
        chat = update.effective_chat
        for reply in replies:
            if reply.image is not None:
                await chat.send_photo(
                    reply.image,
                    caption=render_html(reply)[:1024],
                    parse_mode=ParseMode.HTML,
                    reply_markup=keyboard(reply),
                )
            else:
                await chat.send_message(
                    render_html(reply),
                    parse_mode=ParseMode.HTML,
                    reply_markup=keyboard(reply),
                    disable_web_page_preview=True,
                )

    async def on_command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        text = update.effective_message.text or ""
        await update.effective_chat.send_action(ChatAction.TYPING)
        await self.send(update, await self.core.handle_text(context_of(update), text))

    async def on_private_text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await self.send(update, await self.core.handle_text(context_of(update), update.effective_message.text or ""))

    async def on_callback(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        await query.answer()
        replies = await self.core.handle_action(context_of(update), query.data or "")
        first, rest = replies[0], replies[1:]
        if first.kind in ("recommendations", "choices") and first.image is None and query.message is not None:
            # paging and picks replace the message they came from, instead of flooding the chat
            await query.edit_message_text(
                render_html(first),
                parse_mode=ParseMode.HTML,
                reply_markup=keyboard(first),
                disable_web_page_preview=True,
            )
        else:
            rest = replies
        await self.send(update, rest)

    async def on_audio(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        attachment = message.audio or message.voice or message.document
        size = getattr(attachment, "file_size", None) or 0
        if size > self.settings.max_audio_bytes:
            mb = self.settings.max_audio_bytes / 1e6
            await message.reply_text(f"That file is too large; please send at most {mb:.0f} MB.")
            return
        progress = await message.reply_text(ANALYSING)
        tg_file = await attachment.get_file()
        data = bytes(await tg_file.download_as_bytearray())
        name = getattr(attachment, "file_name", None) or tg_file.file_path or "clip"
        replies = await self.core.handle_audio(context_of(update), data[: self.settings.max_audio_bytes + 1], name)
        await self.send(update, replies)
        await progress.delete()

    async def on_inline(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.inline_query
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
                await update.effective_chat.send_message("Sorry, something went wrong on my side. Please try again.")
            except Exception:  # noqa: BLE001 - the failure is already logged; nothing else to tell
                log.warning("could not send the error message either")


def build_application(core: ChatCore, settings: Settings) -> Application:
    """The PTB application with every handler; `base_url`/`base_file_url` come from the settings when set."""
    builder = Application.builder().token(settings.telegram_token).rate_limiter(AIORateLimiter(max_retries=2))
    if settings.telegram_base_url:
        builder = builder.base_url(settings.telegram_base_url)
    if settings.telegram_base_file_url:
        builder = builder.base_file_url(settings.telegram_base_file_url)
    app = builder.build()
    bot = TelegramBot(core, settings)
    app.add_handler(CommandHandler(list(COMMANDS), bot.on_command))
    app.add_handler(CallbackQueryHandler(bot.on_callback))
    app.add_handler(MessageHandler(filters.AUDIO | filters.VOICE | filters.Document.AUDIO, bot.on_audio))
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND & filters.ChatType.PRIVATE, bot.on_private_text))
    app.add_handler(InlineQueryHandler(bot.on_inline))
    app.add_error_handler(bot.on_error)
    return app


async def run_telegram(core: ChatCore, settings: Settings, stop: asyncio.Event | None = None) -> None:
    """Poll Telegram until `stop` is set (or forever)."""
    app = build_application(core, settings)
    async with app:
        await app.start()
        await app.updater.start_polling(allowed_updates=Update.ALL_TYPES)
        log.info("telegram bot @%s running", app.bot.username)
        await (stop or asyncio.Event()).wait()
        await app.updater.stop()
        await app.stop()
