"""A local fake of the Telegram Bot API on 127.0.0.1, speaking its real wire format and as strict as Telegram.

python-telegram-bot posts each method as form fields whose values are JSON-encoded (multipart when a file is
attached) to `{base_url}{token}/{method}` and downloads files from `{base_file_url}{token}/{file_path}`; the
fake answers `{"ok": true, "result": …}` with objects of the real shapes, serves queued updates to getUpdates,
and records every call so tests can assert on what the bot sent.

Strictness is the point: a fake that accepts anything hid a bot that sent half a `<a href=…` tag. So, as the
real Bot API does, it parses `parse_mode=HTML` like tdlib (allowed tags only, balanced, attributes quoted), counts
the *visible* text after entity parsing in UTF-16 code units against the 4,096 (message) and 1,024 (caption)
limits, refuses to edit a message into identical content, to edit or delete a message it never sent, and
validates inline keyboards and bot commands, and serves getFile only for files of up to 20 MB — each failure the 400
`Bad Request: …` Telegram answers.

Delivery in groups follows privacy mode ("Bot Features" → Privacy Mode; "Bots FAQ" → What messages will my bot
get?): with `privacy_mode=True` (a bot that is no group admin, as BotFather sets it by default) a group message is
delivered only if it is a command explicitly meant for the bot (`/command@bot_username`), a general command when
the bot was the last bot to post in the group, or a reply to one of the bot's messages; anything else is withheld
(`withheld`). Private chats and callback queries are always delivered; a bot admin (the default here) gets all.

Flood control follows the Bots FAQ ("My bot is hitting limits, how do I avoid this?"): "When sending messages inside
a particular chat, avoid sending more than one message per second. We may allow short bursts that go over this limit,
but eventually you'll begin receiving 429 errors"; "the API will not allow more than 30 messages per second or so";
"your bot will not be able to send more than 20 messages per minute to the same group". The fake counts the methods
that post a message (`send…`, but not sendChatAction) on an injected `clock` (`FloodControl`), and
answers a send over a limit as the Bot API answers any failed request ("Making requests": `ok` false, an integer
`error_code`, a `description`, and for some errors `parameters`, a ResponseParameters whose `retry_after` is "in case
of exceeding flood control, the number of seconds left to wait before the request can be repeated"): HTTP 429,
`{"ok": false, "error_code": 429, "description": "Too Many Requests: retry after N", "parameters": {"retry_after": N}}`.
Such a request is not processed: it goes to `limited`, not to `calls`. `storm(chat, k, retry_after)` makes the next k
sends to a chat answered so, whatever the windows say (a test of a bot under flood control).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import re
import time
from collections import deque
from collections.abc import Callable, Collection
from typing import Any

from aiohttp import web

BOT_USER = {
    "id": 4242,
    "is_bot": True,
    "first_name": "murecom",
    "username": "murecom_test_bot",
    "can_join_groups": True,
    "can_read_all_group_messages": False,
    "supports_inline_queries": True,
}

MESSAGE_LIMIT = 4096
GET_FILE_LIMIT = 20 * 1024 * 1024
CAPTION_LIMIT = 1024
# the tags the Bot API accepts with parse_mode=HTML (https://core.telegram.org/bots/api#html-style)
HTML_TAGS = {
    "b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "span", "tg-spoiler", "a", "code", "pre",
    "blockquote", "tg-emoji",
}  # fmt: skip
NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_ENTITY = re.compile(r"&(#[0-9]{1,7}|#x[0-9a-fA-F]{1,6}|[a-zA-Z]+);")
_COMMAND = re.compile(r"[a-z0-9_]{1,32}")
NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are exactly the same "
    "as a current content and reply markup of the message"
)


class BadRequest(Exception):
    """A 400 answer; the text is Telegram's `description`."""


def utf16_len(text: str) -> int:
    """Telegram counts lengths and offsets in UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


def _entity(text: str, i: int) -> tuple[str, int]:
    """The character of an HTML entity at `text[i] == "&"` and the index after it; an unknown one stays literal."""
    m = _ENTITY.match(text, i)
    if m is None:
        return "&", i + 1
    name = m.group(1)
    if name.startswith("#"):
        code = int(name[2:], 16) if name[1:2] in ("x", "X") else int(name[1:])
        if 0 < code <= 0x10FFFF:
            return chr(code), m.end()
        return "&", i + 1
    if name in NAMED_ENTITIES:
        return NAMED_ENTITIES[name], m.end()
    return "&", i + 1


def parse_html(text: str) -> str:
    """The visible text of `text` parsed as Telegram parses parse_mode=HTML, or `BadRequest` as Telegram words it.

    Follows tdlib's parse_html: `<` always opens a tag, tags must be supported, attributes quoted or simple, every
    start tag closed in order; offsets in the messages are UTF-8 byte offsets.
    """
    src = text + "\0"
    visible: list[str] = []
    stack: list[str] = []
    i = 0

    def offset(pos: int) -> int:
        return len(text[:pos].encode())

    def fail(message: str) -> BadRequest:
        return BadRequest(f"Bad Request: can't parse entities: {message}")

    while i < len(text):
        ch = src[i]
        if ch == "&":
            char, i = _entity(src, i)
            visible.append(char)
            continue
        if ch != "<":
            visible.append(ch)
            i += 1
            continue
        begin = i
        i += 1
        if src[i] != "/":
            end = i
            while not src[end].isspace() and src[end] not in ">\0":
                end += 1
            tag = src[i:end].lower()
            if tag not in HTML_TAGS:
                raise fail(f'Unsupported start tag "{tag}" at byte offset {offset(begin)}')
            i = end
            attributes: dict[str, str] = {}
            while src[i] != ">":
                while src[i] != "\0" and src[i].isspace():
                    i += 1
                if src[i] in ">\0":
                    break
                name_start = i
                while not src[i].isspace() and src[i] not in "=>\0":
                    i += 1
                name = src[name_start:i].lower()
                if not name:
                    raise fail(f'Empty attribute name in the tag "{tag}" at byte offset {offset(begin)}')
                while src[i] != "\0" and src[i].isspace():
                    i += 1
                if src[i] != "=":
                    attributes[name] = ""  # a bare attribute, e.g. <blockquote expandable>
                    continue
                i += 1
                while src[i] != "\0" and src[i].isspace():
                    i += 1
                if src[i] == "\0":
                    raise fail(f"Unclosed start tag at byte offset {offset(begin)}")
                if src[i] in "'\"":
                    quote = src[i]
                    close = src.find(quote, i + 1)
                    if close == -1 or close >= len(text):
                        raise fail(f"Unclosed start tag at byte offset {offset(begin)}")
                    raw_value = src[i + 1 : close]
                    i = close + 1
                else:
                    value_start = i
                    while src[i].isalnum() or src[i] in ".-":
                        i += 1
                    raw_value = src[value_start:i]
                    if not raw_value:
                        raise fail(f'Expected equal sign in declaration of an attribute of the tag "{tag}" at '
                                   f"byte offset {offset(begin)}")  # fmt: skip
                value, j = [], 0
                while j < len(raw_value):
                    if raw_value[j] == "&":
                        char, j = _entity(raw_value, j)
                        value.append(char)
                    else:
                        value.append(raw_value[j])
                        j += 1
                attributes[name] = "".join(value)
            if src[i] != ">":
                raise fail(f"Unclosed start tag at byte offset {offset(begin)}")
            if tag == "span" and attributes.get("class") != "tg-spoiler":
                raise fail(f'Tag "span" must have class "tg-spoiler" at byte offset {offset(begin)}')
            i += 1
            stack.append(tag)
        else:
            if not stack:
                raise fail(f"Unexpected end tag at byte offset {offset(begin)}")
            i += 1
            end = i
            while not src[end].isspace() and src[end] not in ">\0":
                end += 1
            closing = src[i:end].lower()
            i = end
            while src[i] != "\0" and src[i].isspace():
                i += 1
            if src[i] != ">":
                raise fail(f"Unclosed end tag at byte offset {offset(begin)}")
            if closing and closing != stack[-1]:
                raise fail(
                    f'Unmatched end tag at byte offset {offset(begin)}, expected "</{stack[-1]}>", found "</{closing}>"'
                )
            stack.pop()
            i += 1
    if stack:
        raise fail(f'Can\'t find end tag corresponding to start tag "{stack[-1]}"')
    return "".join(visible)


def visible_text(params: dict[str, Any], field: str) -> str:
    """The text a user would see of `params[field]` (parsed when parse_mode is HTML)."""
    raw = str(params.get(field, "") or "")
    mode = str(params.get("parse_mode") or "")
    if mode.upper() == "HTML":
        return parse_html(raw)
    if mode:
        raise BadRequest(f"Bad Request: unsupported parse_mode {mode!r} in this fake")
    return raw


def message_text(params: dict[str, Any]) -> str:
    """The visible text of a sendMessage / editMessageText, checked as Telegram checks it (with its keyboard)."""
    text = visible_text(params, "text")
    if not text.strip():
        raise BadRequest("Bad Request: message text is empty")
    if utf16_len(text) > MESSAGE_LIMIT:
        raise BadRequest("Bad Request: message is too long")
    check_keyboard(params.get("reply_markup"))
    return text


def check_keyboard(markup: Any) -> None:
    """Inline keyboards as the Bot API validates them: button text, 1–64 bytes of callback data."""
    if not markup:
        return
    for row in markup.get("inline_keyboard", []):
        for button in row:
            if not str(button.get("text", "")).strip():
                raise BadRequest("Bad Request: text buttons are unallowed in the inline keyboard")
            if "callback_data" in button and not 1 <= len(str(button["callback_data"]).encode()) <= 64:
                raise BadRequest("Bad Request: BUTTON_DATA_INVALID")


#: The fields of the Bot API's Voice object ("This object represents a voice note"): file_id, file_unique_id, duration
#: ("Duration of the audio in seconds as defined by the sender"), and the optional mime_type and file_size.
VOICE_FIELDS = ("file_id", "file_unique_id", "duration", "mime_type", "file_size")


def posts_message(method: str) -> bool:
    """Whether a method posts a message to a chat: what the Bots FAQ's flood limits count (a chat action is none)."""
    return method.startswith("send") and method != "sendChatAction"


class Window:
    """At most `limit` events in any `seconds` (a sliding window on an injected clock)."""

    def __init__(self, limit: int, seconds: float) -> None:
        self.limit = limit
        self.seconds = seconds
        self.times: deque[float] = deque()

    def retry_after(self, now: float) -> int | None:
        """Whole seconds until one more event fits (Telegram's retry_after is an integer), or None if it fits now."""
        while self.times and self.times[0] <= now - self.seconds:
            self.times.popleft()
        if len(self.times) < self.limit:
            return None
        return max(1, math.ceil(self.times[0] + self.seconds - now))

    def add(self, now: float) -> None:
        self.times.append(now)


class Bucket:
    """About `rate` events a second with bursts of up to `burst` (a token bucket on an injected clock)."""

    def __init__(self, rate: float, burst: int, now: float) -> None:
        self.rate = rate
        self.burst = burst
        self.tokens = float(burst)
        self.last = now

    def _refill(self, now: float) -> None:
        self.tokens = min(float(self.burst), self.tokens + (now - self.last) * self.rate)
        self.last = now

    def retry_after(self, now: float) -> int | None:
        """Whole seconds until one more event fits, or None if it fits now."""
        self._refill(now)
        if self.tokens >= 1:
            return None
        return max(1, math.ceil((1 - self.tokens) / self.rate))

    def add(self, now: float) -> None:
        self._refill(now)
        self.tokens -= 1


class FloodControl:
    """The Bots FAQ's limits on sent messages: per chat about one a second (bursts allowed), 20 a minute per group,
    about 30 a second in all.

    The FAQ allows "short bursts" in a chat without saying how long: the fake allows one a second with bursts of
    `chat_burst` (a token bucket). Groups (negative chat ids) also get the 20-a-minute window, read strictly: at most
    20 in any 60 s.
    """

    def __init__(self, clock: Callable[[], float], chat_burst: int = 20) -> None:
        self.clock = clock
        self.chat_burst = chat_burst
        self.chats: dict[int, Bucket] = {}
        self.groups: dict[int, Window] = {}
        self.overall = Window(30, 1.0)

    def _windows(self, chat_id: int) -> list[Window | Bucket]:
        if chat_id not in self.chats:
            self.chats[chat_id] = Bucket(1.0, self.chat_burst, self.clock())
        chat = self.chats[chat_id]
        if chat_id >= 0:
            return [chat, self.overall]
        return [chat, self.groups.setdefault(chat_id, Window(20, 60.0)), self.overall]

    def retry_after(self, chat_id: int) -> int | None:
        """How long a message to `chat_id` must wait now (the longest of its windows), or None if it may go."""
        now = self.clock()
        waits = [w for w in (window.retry_after(now) for window in self._windows(chat_id)) if w is not None]
        return max(waits) if waits else None

    def sent(self, chat_id: int) -> None:
        now = self.clock()
        for window in self._windows(chat_id):
            window.add(now)


class FakeTelegram:
    def __init__(
        self,
        token: str = "4242:TEST-token",
        privacy_mode: bool = False,
        clock: Callable[[], float] = time.monotonic,
        chat_burst: int = 20,
    ) -> None:
        self.token = token
        self.privacy_mode = privacy_mode
        self.flood = FloodControl(clock, chat_burst)
        self.limited: list[tuple[str, dict[str, Any], int]] = []  # (method, params, retry_after) of every 429
        self._storms: dict[int, tuple[int, int, frozenset[str] | None]] = {}
        self.withheld: list[dict[str, Any]] = []  # group updates privacy mode kept from the bot
        self._posted_in: set[int] = set()  # chats the bot has sent a message to
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.errors: list[tuple[str, str]] = []  # (method, description) of every 400 answered
        self.downloads: list[str] = []
        self.files: dict[str, tuple[str, bytes]] = {}
        self.file_sizes: dict[str, int] = {}
        self.messages: dict[tuple[int, int], dict[str, Any]] = {}  # what is in each chat now
        self.commands: list[dict[str, str]] | None = None  # set by setMyCommands
        self.admins: dict[int, set[int]] = {}  # chat id → ids of its administrators (getChatMember)
        # a test may hold file downloads (the slow part of a clip) until it sets this event
        self.download_gate: asyncio.Event | None = None
        self.download_started = asyncio.Event()
        self._updates: list[dict[str, Any]] = []
        self._next_update = 1
        self._next_message = 1000
        self._changed = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    @property
    def base_file_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/file/bot"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._method)
        app.router.add_get("/file/bot{token}/{path:.+}", self._file)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    # --- test side ---------------------------------------------------------------------------------------------
    def push(self, update: dict[str, Any]) -> int:
        """Queue an update for getUpdates, unless privacy mode keeps it from the bot (then it is `withheld`)."""
        if not self._delivered(update):
            self.withheld.append(update)
            return 0
        update = {"update_id": self._next_update, **update}
        self._next_update += 1
        self._updates.append(update)
        self._changed.set()
        return update["update_id"]

    def add_file(self, file_id: str, file_path: str, data: bytes, size: int | None = None) -> None:
        """A file users sent; `size`, when given, is the size Telegram holds for it (tests need not upload 25 MB)."""
        self.files[file_id] = (file_path, data)
        if size is not None:
            self.file_sizes[file_id] = size

    def voice_note(self, file_id: str, data: bytes, duration: int, size: int | None = None) -> dict[str, Any]:
        """A voice note a user sent, as Telegram describes it (exactly the Voice fields; Telegram's apps record
        Ogg Opus, "audio/ogg"), its file held for getFile at `voice/<file_id>.oga`."""
        self.add_file(file_id, f"voice/{file_id}.oga", data, size)
        voice = {"file_id": file_id, "file_unique_id": file_id + "u", "duration": duration, "mime_type": "audio/ogg",
                 "file_size": len(data) if size is None else size}  # fmt: skip
        assert tuple(voice) == VOICE_FIELDS
        return voice

    def storm(self, chat_id: int, count: int, retry_after: int, methods: Collection[str] | None = None) -> None:
        """Answer the next `count` sends to `chat_id` (or calls of `methods`, e.g. editMessageText) with a 429 asking
        for `retry_after` seconds, as Telegram does to a bot under flood control."""
        self._storms[int(chat_id)] = (count, retry_after, frozenset(methods) if methods is not None else None)

    def _flood_wait(self, method: str, params: dict[str, Any]) -> int | None:
        """The retry_after a call gets now (a storm first, then the FAQ's windows for sends), or None."""
        if "chat_id" not in params:
            return None
        with contextlib.suppress(TypeError, ValueError):
            chat_id = int(params["chat_id"])
            count, retry_after, methods = self._storms.get(chat_id, (0, 0, None))
            if count > 0 and (method in methods if methods is not None else posts_message(method)):
                self._storms[chat_id] = (count - 1, retry_after, methods)
                return retry_after
            if posts_message(method):
                return self.flood.retry_after(chat_id)
        return None

    async def wait_until(self, predicate: Callable[[], bool], timeout: float = 30.0) -> None:
        """Until `predicate()` holds, checked whenever the fake answers a call (and every 0.2 s)."""
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() >= deadline:
                raise AssertionError(f"not true within {timeout}s; calls: {[m for m, _ in self.calls]}")
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), timeout=0.2)

    async def wait_for(
        self, method: str, where: Callable[[dict], bool] = lambda p: True, timeout: float = 30.0, after: int = 0
    ) -> dict[str, Any]:
        """The first call of `method` (from index `after` on) whose params satisfy `where`.

        Params of an answered send carry `result_message_id`, the id Telegram gave the message.
        """
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for name, params in self.calls[after:]:
                if name == method and where(params):
                    return params
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), timeout=0.2)
        seen = [(m, str(p.get("text") or p.get("caption") or "")[:120]) for m, p in self.calls]
        raise AssertionError(f"no {method} call matched within {timeout}s; calls: {seen}; errors: {self.errors}")

    def _delivered(self, update: dict[str, Any]) -> bool:
        message = update.get("message")
        if not self.privacy_mode or message is None or message["chat"]["type"] not in ("group", "supergroup"):
            return True
        replied = message.get("reply_to_message") or {}
        if (replied.get("from") or {}).get("id") == BOT_USER["id"]:
            return True
        text = message.get("text") or ""
        command = next(
            (e for e in message.get("entities", []) if e["type"] == "bot_command" and e["offset"] == 0), None
        )
        if command is None:
            return False
        word = text[: command["length"]]
        if "@" in word:
            return word.split("@", 1)[1].lower() == BOT_USER["username"].lower()
        return message["chat"]["id"] in self._posted_in  # a general command: only if the bot posted there last

    # --- server side -------------------------------------------------------------------------------------------
    def _message(self, chat_id: Any, **extra: Any) -> dict[str, Any]:
        self._next_message += 1
        chat_id = int(chat_id)
        chat = {"id": chat_id, "type": "private" if chat_id > 0 else "group", "first_name": "Ann"}
        return {"message_id": self._next_message, "date": int(time.time()), "chat": chat, "from": BOT_USER, **extra}

    async def _method(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.json_response({"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401)
        method = request.match_info["method"]
        form = await request.post()
        params: dict[str, Any] = {}
        for key, value in form.items():
            if isinstance(value, web.FileField):
                with value.file:  # aiohttp spools each uploaded file into a temporary file the reader must close
                    params[key] = {"filename": value.filename, "bytes": value.file.read()}
                continue
            try:
                params[key] = json.loads(value)
            except (json.JSONDecodeError, TypeError):
                params[key] = value
        retry_after = self._flood_wait(method, params)
        if retry_after is not None:
            self.limited.append((method, params, retry_after))
            self._changed.set()
            return web.json_response(
                {"ok": False, "error_code": 429, "description": f"Too Many Requests: retry after {retry_after}",
                 "parameters": {"retry_after": retry_after}}, status=429,
            )  # fmt: skip
        if method != "getUpdates":
            self.calls.append((method, params))
            if method.startswith("send") and "chat_id" in params:
                self._posted_in.add(int(params["chat_id"]))
        try:
            result = await self._answer(method, params)
        except BadRequest as exc:
            self.errors.append((method, str(exc)))
            self._changed.set()
            return web.json_response({"ok": False, "error_code": 400, "description": str(exc)}, status=400)
        if posts_message(method) and "chat_id" in params:
            self.flood.sent(int(params["chat_id"]))
        if isinstance(result, dict) and "message_id" in result:
            params["result_message_id"] = result["message_id"]
        self._changed.set()
        return web.json_response({"ok": True, "result": result})

    def _chat_member(self, chat_id: int, user_id: int) -> dict[str, Any]:
        """getChatMember: a ChatMemberAdministrator (every field the Bot API lists for it) for an administrator of
        `admins`, else a ChatMemberMember ("ChatMember": status "administrator" / "member")."""
        user = {"id": user_id, "is_bot": False, "first_name": f"user{user_id}"}
        if user_id not in self.admins.get(chat_id, set()):
            return {"status": "member", "user": user}
        rights = ("can_manage_chat", "can_delete_messages", "can_manage_video_chats", "can_restrict_members",
                  "can_promote_members", "can_change_info", "can_invite_users", "can_post_stories",
                  "can_edit_stories", "can_delete_stories")  # fmt: skip
        return {"status": "administrator", "user": user, "can_be_edited": False, "is_anonymous": False,
                **dict.fromkeys(rights, True)}  # fmt: skip

    def _store(self, message: dict[str, Any], raw: Any, markup: Any) -> dict[str, Any]:
        """Keep what the chat shows now (the message, the text as sent, its keyboard); answer the message."""
        key = (message["chat"]["id"], message["message_id"])
        self.messages[key] = {"message": message, "raw": raw, "reply_markup": markup or None}
        return message

    async def _answer(self, method: str, p: dict[str, Any]) -> Any:
        if method == "getMe":
            return BOT_USER
        if method == "getUpdates":
            offset = int(p.get("offset") or 0)
            deadline = time.monotonic() + min(float(p.get("timeout") or 0), 1.0)
            while True:
                pending = [u for u in self._updates if u["update_id"] >= offset]
                if pending or time.monotonic() >= deadline:
                    return pending
                await asyncio.sleep(0.05)
        if method == "sendMessage":
            text = message_text(p)
            return self._store(self._message(p.get("chat_id", 1), text=text), p.get("text"), p.get("reply_markup"))
        if method == "editMessageText":
            key = (int(p.get("chat_id", 0)), int(p.get("message_id", 0)))
            if key not in self.messages:
                raise BadRequest("Bad Request: message to edit not found")
            text = message_text(p)
            old = self.messages[key]
            if old.get("raw") == p.get("text") and old.get("reply_markup") == (p.get("reply_markup") or None):
                raise BadRequest(NOT_MODIFIED)
            edited = {**old["message"], "text": text, "edit_date": int(time.time())}
            return self._store(edited, p.get("text"), p.get("reply_markup"))
        if method == "sendPhoto":
            caption = visible_text(p, "caption")
            if utf16_len(caption) > CAPTION_LIMIT:
                raise BadRequest("Bad Request: message caption is too long")
            check_keyboard(p.get("reply_markup"))
            photo = [{"file_id": "ph1", "file_unique_id": "ph1u", "width": 640, "height": 480}]
            message = self._message(p.get("chat_id", 1), photo=photo, caption=caption)
            return self._store(message, p.get("caption"), p.get("reply_markup"))
        if method == "sendDocument":
            document = p.get("document")
            if not isinstance(document, dict) or not document.get("bytes"):
                raise BadRequest("Bad Request: file must be non-empty")
            if len(document["bytes"]) > 50 * 1024 * 1024:
                raise BadRequest("Bad Request: file is too big")
            doc = {
                "file_id": f"doc{self._next_message}",
                "file_unique_id": f"docu{self._next_message}",
                "file_name": document.get("filename") or "document",
                "file_size": len(document["bytes"]),
            }
            return self._store(self._message(p.get("chat_id", 1), document=doc), None, None)
        if method == "deleteMessage":
            key = (int(p.get("chat_id", 0)), int(p.get("message_id", 0)))
            if self.messages.pop(key, None) is None:
                raise BadRequest("Bad Request: message to delete not found")
            return True
        if method == "setMyCommands":
            commands = p.get("commands")
            if not isinstance(commands, list) or len(commands) > 100:
                raise BadRequest("Bad Request: commands must be a list of at most 100 BotCommand")
            for command in commands:
                if not _COMMAND.fullmatch(str(command.get("command", ""))):
                    raise BadRequest("Bad Request: BOT_COMMAND_INVALID")
                if not 1 <= len(str(command.get("description", "")).strip()) <= 256:
                    raise BadRequest("Bad Request: BOT_COMMAND_DESCRIPTION_INVALID")
            self.commands = commands
            return True
        if method == "getChatMember":
            return self._chat_member(int(p.get("chat_id", 0)), int(p.get("user_id", 0)))
        if method == "getFile":
            if p.get("file_id") not in self.files:
                raise BadRequest("Bad Request: invalid file_id")
            path, data = self.files[p["file_id"]]
            size = self.file_sizes.get(p["file_id"], len(data))
            if size > GET_FILE_LIMIT:  # "bots can download files of up to 20MB in size" (Bot API, getFile)
                raise BadRequest("Bad Request: file is too big")
            return {
                "file_id": p["file_id"],
                "file_unique_id": p["file_id"] + "u",
                "file_size": size,
                "file_path": path,
            }
        return True

    async def _file(self, request: web.Request) -> web.Response:
        path = request.match_info["path"]
        self.downloads.append(path)
        self.download_started.set()
        if self.download_gate is not None:
            await self.download_gate.wait()
        for file_path, data in self.files.values():
            if file_path == path:
                return web.Response(body=data)
        return web.Response(status=404)
