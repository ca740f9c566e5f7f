"""A local fake of Discord on 127.0.0.1 (gateway over WebSocket + REST), speaking its real wire format.

discord.py itself runs against it through its two seams: `discord.http.Route.BASE` (REST, interaction callbacks and
webhook follow-ups all use it) and `discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY` (a `ws://` URL; READY's
`resume_gateway_url` points back here). The gateway says HELLO, answers heartbeats (op 1 → op 11), READY and one
guild with one text channel after IDENTIFY, then dispatches what tests push: MESSAGE_CREATE and INTERACTION_CREATE.
Attachments are served from this server's own URLs, as Discord's CDN would.

It enforces the rules the adapter depends on, answering with Discord's error codes:
- an interaction is acknowledged once (a second callback → 40060), a follow-up or an edit of the original response
  before any acknowledgement → 10015 Unknown Webhook; the first follow-up after a "thinking" defer replaces the
  loading message; component interactions carry the message their buttons are on;
- autocomplete: at most 25 choices, names and values of 1–100 characters;
- messages: content ≤ 2,000, ≤ 10 embeds; embed title ≤ 256, description ≤ 4,096, ≤ 25 fields, footer ≤ 2,048,
  6,000 characters in all; components ≤ 5 action rows of ≤ 5 buttons, labels ≤ 80, custom ids 1–100 and unique;
- application commands: names, descriptions and options as Discord validates them on a bulk overwrite;
- gateway intents: an IDENTIFY asking for a privileged intent (GUILD_MEMBERS 1<<1, GUILD_PRESENCES 1<<8,
  MESSAGE_CONTENT 1<<15) the application has not enabled in the Developer Portal is closed with 4014 "Disallowed
  intent(s)" ("Opcodes and Status Codes" → Gateway Close Event Codes; "Gateway" → Privileged Intents); a wrong
  token at IDENTIFY with 4004 "Authentication failed".
- time, on an injected clock ("Receiving and Responding" → Responding to an Interaction: "you must send an initial
  response within 3 seconds of receiving the event. If the 3 second deadline is exceeded, the token will be
  invalidated", and "Interaction tokens are valid for 15 minutes"): a callback (autocomplete included) more than 3 s
  after the interaction was created → 404 10062 "Unknown interaction"; a follow-up or an edit/delete of @original
  more than 15 min after it → 401 50027 "Invalid Webhook Token" (JSON error codes, "Opcodes and Status Codes");
- rate limits ("Rate Limits"): limits "should not be hard coded"; clients read the headers. POST
  /channels/{id}/messages has a per-route bucket, per channel (channel_id is a top-level resource), of 5 per 5 s (the
  figure libraries have long observed for sending messages; Discord does not publish it), answered on every response
  with X-RateLimit-Limit, -Remaining, -Reset (epoch seconds), -Reset-After and -Bucket; over it → 429 with
  `{"message", "retry_after", "global": false}`, Retry-After and X-RateLimit-Scope: user. The global limit, 50
  requests per second per bot ("All bots can make up to 50 requests per second to our API"; "Interaction endpoints
  are not bound to the bot's Global Rate Limit") → 429 with `"global": true`, X-RateLimit-Global: true and
  X-RateLimit-Scope: global. A `storm` answers the next N requests of a route 429 with a given retry_after
  (Discord's limits are dynamic; scope user or shared). Every 429 carries `Via` (discord.py treats a 429 without it
  as a Cloudflare ban);
- permissions: the bot's permissions per channel, narrowed by `deny` (a member overwrite in the channel's
  permission_overwrites). "Create Message" → Limitations: "When operating on a guild channel, the current user must
  have the SEND_MESSAGES permission"; "Permissions" → ATTACH_FILES (1<<15) "Allows for uploading images and files",
  EMBED_LINKS (1<<14) "Links sent by users with this permission will be auto-embedded" — the docs say no more of
  embeds; the API refuses a bot's rich embed without it (reported in discord.js discussion #7545), and so does this
  fake. Each refusal is 403 50013 ("You lack permissions to perform that action"). Denying SEND_MESSAGES implicitly
  denies ATTACH_FILES and EMBED_LINKS ("Permissions" → Permission Overwrites). A DM has no overwrites. Interaction
  responses and follow-ups go through the application's webhook and are not checked against the channel;
- ephemeral messages (Message flags EPHEMERAL 1<<6): "Create Followup Message": "You can use the EPHEMERAL message
  flag 1 << 6 (64) to send a message that only the user can see"; but "directly after responding to an interaction
  with DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE ... the loading message will be edited instead. The ephemeral flag will
  be ignored, and the value you provided in the initial defer response will be preserved". An ephemeral message is
  kept in `ephemeral`, never among the channel's `messages`. Deleting the loading response ends the loading state:
  the next follow-up is a new message with its own flags (the docs say nothing of this case; it is the workaround
  libraries' guides give for an ephemeral answer after a public defer, though discord-api-docs issue #3087 reported
  10008 Unknown Message for it in 2021);
- DMs ("Channel" → channel type DM = 1, no guild_id): MESSAGE_CREATE without guild_id or member; an interaction in a
  DM carries `user`, not `member`, and context 1 (BOT_DM);
- voice messages ("Message" → Voice Messages: flags IS_VOICE_MESSAGE 1<<13; "They cannot be edited" (50162); "Only
  a single audio attachment is allowed"; the attachment has `duration_secs` and `waveform`, "1 byte per datapoint
  encoded in base64 ... no more than 256 datapoints"); Discord's clients record Ogg Opus as `voice-message.ogg`,
  audio/ogg.
Responses are `application/json` exactly (discord.py parses nothing else).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import itertools
import json
import math
import re
import time
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from aiohttp import WSMsgType, web

API = "/api/v10"
#: Gateway intents that must be enabled per application in the Developer Portal ("Gateway" → Privileged Intents).
GUILD_MEMBERS, GUILD_PRESENCES, MESSAGE_CONTENT = 1 << 1, 1 << 8, 1 << 15
PRIVILEGED_INTENTS = GUILD_MEMBERS | GUILD_PRESENCES | MESSAGE_CONTENT
APP_ID = 880000000000000001
GUILD_ID = 880000000000000002
CHANNEL_ID = 880000000000000003
OWNER_ID = 880000000000000004
DM_CHANNEL_ID = 880000000000000005  # the DM between the member and the bot (channel type 1)
#: Permission bits ("Permissions" → Bitwise Permission Flags).
SEND_MESSAGES, EMBED_LINKS, ATTACH_FILES = 1 << 11, 1 << 14, 1 << 15
EVERYONE_PERMISSIONS = 2248473465835073
ADMINISTRATOR, MANAGE_CHANNELS = 1 << 3, 1 << 4
#: A guild's owner holds every permission ("Permissions" → Permission Hierarchy: "the owner of a guild … has all
#: permissions"): an interaction's `member.permissions` for the owner is the full set.
ALL_PERMISSIONS = (1 << 53) - 1
#: The guild's owner, the acting user by default.
OWNER_USER = {"id": str(OWNER_ID), "username": "dana", "discriminator": "0", "global_name": "Dana", "avatar": None}
#: A second human member: not the owner, only @everyone's permissions (no Manage Channels): not an admin.
MEMBER_USER = {"id": "880000000000000006", "username": "milo", "discriminator": "0", "global_name": "Milo",
               "avatar": None}  # fmt: skip
EPHEMERAL, LOADING, IS_VOICE_MESSAGE = 1 << 6, 1 << 7, 1 << 13  # message flags ("Message" → Message Flags)
RESPONSE_DEADLINE = 3.0  # s to the initial interaction response ("Receiving and Responding")
TOKEN_LIFETIME = 15 * 60.0  # s an interaction token stays valid
#: POST /channels/{id}/messages: 5 per 5 s per channel; the global limit: 50 requests per second.
MESSAGES_LIMIT, MESSAGES_WINDOW, GLOBAL_PER_SECOND = 5, 5.0, 50
BOT_USER = {"id": str(APP_ID), "username": "murecom", "discriminator": "0", "global_name": None, "avatar": None,
            "bot": True, "flags": 0}  # fmt: skip
_COMMAND_NAME = re.compile(r"^[-_\w]{1,32}$")


class DiscordError(Exception):
    def __init__(self, status: int, code: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(f"{status} {code} {message}")
        self.status, self.code, self.message = status, code, message
        self.headers = headers or {}


def rate_limited(retry_after: float, scope: str, headers: dict[str, str] | None = None) -> DiscordError:
    """A 429 as Discord answers it ("Rate Limits" → Exceeding A Rate Limit): the body carries `retry_after` (seconds,
    float) and `global`; the headers Retry-After (whole seconds), X-RateLimit-Scope and, when global,
    X-RateLimit-Global. `Via` is what Discord's edge adds (discord.py takes a 429 without it for a Cloudflare ban)."""
    error = DiscordError(429, 0, "You are being rate limited.", {
        "Via": "1.1 google", "Retry-After": str(math.ceil(retry_after)), "X-RateLimit-Scope": scope,
        **({"X-RateLimit-Global": "true"} if scope == "global" else {}), **(headers or {})})  # fmt: skip
    error.retry_after = retry_after  # type: ignore[attr-defined]
    return error


def invalid_form(what: str) -> DiscordError:
    return DiscordError(400, 50035, f"Invalid Form Body: {what}")


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    # exactly application/json: aiohttp's json_response adds "; charset=utf-8" and discord.py then parses nothing
    return web.Response(body=json.dumps(data).encode(), status=status, headers={"Content-Type": "application/json",
                                                                                 **(headers or {})})  # fmt: skip


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def check_embeds(embeds: list[dict[str, Any]]) -> None:
    if len(embeds) > 10:
        raise invalid_form("embeds: must be 10 or fewer in length")
    total = 0
    for i, e in enumerate(embeds):
        title, description = e.get("title") or "", e.get("description") or ""
        footer = (e.get("footer") or {}).get("text") or ""
        author = (e.get("author") or {}).get("name") or ""
        fields = e.get("fields") or []
        for name, value, limit in [("title", title, 256), ("description", description, 4096),
                                   ("footer.text", footer, 2048), ("author.name", author, 256)]:  # fmt: skip
            if utf16_len(value) > limit:
                raise invalid_form(f"embeds.{i}.{name}: Must be {limit} or fewer in length.")
        if len(fields) > 25:
            raise invalid_form(f"embeds.{i}.fields: Must be 25 or fewer in length.")
        for j, f in enumerate(fields):
            if not 1 <= utf16_len(f.get("name") or "") <= 256 or not 1 <= utf16_len(f.get("value") or "") <= 1024:
                raise invalid_form(f"embeds.{i}.fields.{j}: name 1-256 and value 1-1024 in length")
        total += sum(utf16_len(x) for x in (title, description, footer, author))
        total += sum(utf16_len(f["name"]) + utf16_len(f["value"]) for f in fields)
    if total > 6000:
        raise invalid_form("embeds: Embed size exceeds maximum size of 6000")


def check_components(rows: list[dict[str, Any]]) -> None:
    if len(rows) > 5:
        raise invalid_form("components: Must be 5 or fewer in length.")
    seen: set[str] = set()
    for i, row in enumerate(rows):
        if row.get("type") != 1:
            raise invalid_form(f"components.{i}.type: top-level components must be action rows")
        buttons = row.get("components") or []
        if not 1 <= len(buttons) <= 5:
            raise invalid_form(f"components.{i}.components: Must be between 1 and 5 in length.")
        for j, b in enumerate(buttons):
            if b.get("type") != 2:
                raise invalid_form(f"components.{i}.components.{j}.type: only buttons in this fake")
            if utf16_len(b.get("label") or "") > 80:
                raise invalid_form(f"components.{i}.components.{j}.label: Must be 80 or fewer in length.")
            custom_id = b.get("custom_id")
            if b.get("style") != 5 and (not custom_id or len(custom_id) > 100):
                raise invalid_form(f"components.{i}.components.{j}.custom_id: Must be between 1 and 100 in length.")
            if custom_id in seen:
                raise invalid_form(f"components.{i}.components.{j}.custom_id: Component custom id cannot be duplicated")
            seen.add(custom_id)


def check_commands(commands: list[dict[str, Any]], depth: int = 0) -> None:
    if len(commands) > 100 or (depth and len(commands) > 25):
        raise invalid_form("too many commands or options")
    names = [c.get("name", "") for c in commands]
    if len(set(names)) != len(names):
        raise invalid_form("Application command names must be unique")
    for c in commands:
        name, description = c.get("name", ""), c.get("description", "")
        if not _COMMAND_NAME.match(name) or name != name.lower():
            raise invalid_form(f"name {name!r}: Command name is invalid")
        if not 1 <= len(description) <= 100:
            raise invalid_form(f"{name}.description: Must be between 1 and 100 in length.")
        options = c.get("options") or []
        if any(o.get("type") in (1, 2) for o in options) and any(o.get("type") not in (1, 2) for o in options):
            raise invalid_form(f"{name}.options: subcommands cannot be mixed with other options")
        required_seen_optional = False
        for o in options:
            if o.get("required") and required_seen_optional:
                raise invalid_form(f"{name}.options: Required options must be placed before non-required options")
            required_seen_optional |= not o.get("required")
        check_commands(options, depth + 1) if options else None


class FakeDiscord:
    """One guild, one text channel, one human member; tests push messages and interactions and read `messages`."""

    def __init__(
        self,
        token: str = "fake-discord-token",
        granted_intents: int = PRIVILEGED_INTENTS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """`granted_intents`: the privileged intents enabled for the application in the Developer Portal. `clock`
        (seconds) times the interaction deadlines and the rate-limit windows: tests dilate or jump it."""
        self.token = token
        self.clock = clock
        self.ephemeral: dict[int, dict[str, Any]] = {}  # id → an ephemeral message (seen by its user only)
        self.denied: dict[int, int] = {}  # channel id → permission bits denied to the bot there
        self._storms: list[dict[str, Any]] = []  # {"method", "pattern", "left", "retry_after", "scope"}
        self._windows: dict[str, tuple[float, int]] = {}  # bucket key → (window start, requests in it)
        self._recent: deque[float] = deque()  # times of the bot's requests in the last second (global limit)
        self.granted_intents = granted_intents
        self.identifies = 0  # IDENTIFY payloads received, accepted or not
        self.port = 0
        self.calls: list[tuple[str, str, Any]] = []  # (method, path, body)
        self.errors: list[tuple[str, str, int]] = []  # (method, path, code) of every error answered
        self.messages: dict[int, dict[str, Any]] = {}  # id → the message as Discord holds it now
        self.user_messages: dict[int, dict[str, Any]] = {}  # what members wrote, by id (replies carry them)
        self.deleted: list[int] = []
        self.commands: list[dict[str, Any]] = []  # the application commands after the last bulk overwrite
        self.files: dict[str, bytes] = {}
        self.sent_files: dict[str, bytes] = {}  # what the bot attached, by file name (the last one of a name)
        self.identified = asyncio.Event()
        self._ids = itertools.count(900000000000000000)
        self._interactions: dict[str, dict[str, Any]] = {}  # token → {"acked": type or None, "original": id, …}
        self._sockets: list[web.WebSocketResponse] = []
        self._seq = itertools.count(1)
        self._changed = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.user = dict(OWNER_USER)  # the acting human: the guild's owner unless a test switches to MEMBER_USER

    # --- lifecycle -------------------------------------------------------------------------------------------------
    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_base(self) -> str:
        return self.base + API

    @property
    def gateway(self) -> str:
        return f"ws://127.0.0.1:{self.port}/gateway"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/gateway", self._gateway)
        app.router.add_get("/attachments/{name}", self._attachment)
        app.router.add_route("*", API + "/{path:.*}", self._rest)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        for ws in list(self._sockets):
            await ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    # --- test side -------------------------------------------------------------------------------------------------
    def snowflake(self) -> int:
        return next(self._ids)

    def member(self) -> dict[str, Any]:
        """The acting user (`self.user`: the owner by default, or `MEMBER_USER`) as a guild member; `permissions` is
        what Discord computes for the member in the channel (sent in interactions)."""
        owner = self.user["id"] == str(OWNER_ID)
        return {"user": self.user, "roles": [], "joined_at": _now(), "deaf": False, "mute": False, "flags": 0,
                "permissions": str(ALL_PERMISSIONS if owner else EVERYONE_PERMISSIONS)}  # fmt: skip

    async def send_user_message(
        self,
        content: str,
        attachments: list[tuple[str, bytes, str]] = (),
        *,
        mention_bot: bool = False,
        reply_to: int | None = None,
        dm: bool = False,
        flags: int = 0,
        attachment_fields: dict[str, Any] | None = None,
    ) -> int:
        """A member writes in the channel (or, `dm`, in their DM with the bot: no guild_id, no member); attachments are
        (filename, bytes, content type) served by the fake, with `attachment_fields` added to each.
        `mention_bot` starts the message with the bot's mention (`<@id>`, listed in `mentions`, as Discord does);
        `reply_to` makes it a reply (type 19) to that message, carried whole as `referenced_message`."""
        channel_id = DM_CHANNEL_ID if dm else CHANNEL_ID
        atts = []
        for filename, data, content_type in attachments:
            att_id = self.snowflake()
            name = f"{att_id}-{filename}"
            self.files[name] = data
            url = f"{self.base}/attachments/{name}"
            atts.append({"id": str(att_id), "filename": filename, "size": len(data), "content_type": content_type,
                         "url": url, "proxy_url": url, **(attachment_fields or {})})  # fmt: skip
        extra: dict[str, Any] = {"attachments": atts, "flags": flags}
        if mention_bot:
            content = f"<@{APP_ID}> {content}".rstrip()
            extra["mentions"] = [BOT_USER]
        if reply_to is not None:
            referenced = self.messages.get(reply_to) or self.user_messages[reply_to]
            reference = {"type": 0, "message_id": str(reply_to), "channel_id": str(channel_id)}
            if not dm:
                reference["guild_id"] = str(GUILD_ID)
            extra.update(type=19, referenced_message=referenced, message_reference=reference)
        message = self._message(content, self.user, channel_id, **extra)
        if not dm:
            message["member"] = {k: v for k, v in self.member().items() if k != "user"}
        self.user_messages[int(message["id"])] = message
        await self.dispatch("MESSAGE_CREATE", message)
        return int(message["id"])

    async def send_voice_message(
        self, ogg_opus: bytes, duration_secs: float, *, dm: bool = False, reply_to: int | None = None
    ) -> int:
        """A voice message as Discord's clients send it: flags IS_VOICE_MESSAGE, no content, one attachment
        `voice-message.ogg` (audio/ogg, Ogg Opus) with `duration_secs` and a `waveform` (base64 of ≤ 256 bytes)."""
        waveform = base64.b64encode(bytes((i * 37) % 256 for i in range(min(256, max(1, int(duration_secs * 10))))))
        fields = {"duration_secs": duration_secs, "waveform": waveform.decode(), "flags": 0}
        return await self.send_user_message("", [("voice-message.ogg", ogg_opus, "audio/ogg")], dm=dm,
                                            reply_to=reply_to, flags=IS_VOICE_MESSAGE,
                                            attachment_fields=fields)  # fmt: skip

    async def slash(
        self, name: str, options: list[dict[str, Any]] | None = None, *, dm: bool = False, deliver: bool = True,
        **extra: Any,
    ) -> str:  # fmt: skip
        """A member runs /name with raw options (in the DM with `dm`); returns the interaction token. `deliver=False`
        creates it without dispatching it (a test answers it itself)."""
        command = next(c for c in self.commands if c["name"] == name)
        data = {"id": command["id"], "name": name, "type": 1, "options": options or [], **extra}
        return await self._interaction(2, data, dm=dm, deliver=deliver)

    async def autocomplete(self, name: str, options: list[dict[str, Any]]) -> str:
        command = next(c for c in self.commands if c["name"] == name)
        return await self._interaction(4, {"id": command["id"], "name": name, "type": 1, "options": options})

    async def click(self, message_id: int, custom_id: str) -> str:
        """A member presses a button of a message; the interaction carries that message, as Discord's does."""
        message = self.messages[message_id]
        ids = [b.get("custom_id") for row in message.get("components", []) for b in row["components"]]
        assert custom_id in ids, f"no button {custom_id!r} on message {message_id}: {ids}"
        return await self._interaction(3, {"custom_id": custom_id, "component_type": 2}, message=message)

    def attachment_option(self, name: str, filename: str, data: bytes, content_type: str) -> tuple[dict, dict]:
        """The option and `resolved` part of a slash command with an attachment option."""
        att_id = str(self.snowflake())
        self.files[f"{att_id}-{filename}"] = data
        url = f"{self.base}/attachments/{att_id}-{filename}"
        attachment = {"id": att_id, "filename": filename, "size": len(data), "content_type": content_type,
                      "url": url, "proxy_url": url}  # fmt: skip
        return {"name": name, "type": 11, "value": att_id}, {"attachments": {att_id: attachment}}

    def rate_limit_next(self, method: str, path_regex: str) -> None:
        """Answer the next matching request with one 429 (retry_after 0.05 s)."""
        self.storm(method, path_regex, 1, 0.05)

    def storm(self, method: str, path_regex: str, count: int, retry_after: float, scope: str = "user") -> None:
        """Answer the next `count` requests matching `method` and `path_regex` with 429s asking to wait `retry_after`
        seconds (Discord's limits are dynamic: a route can refuse more than its last headers announced)."""
        self._storms.append({"method": method, "pattern": re.compile(path_regex), "left": count,
                             "retry_after": retry_after, "scope": scope})  # fmt: skip

    async def deny(self, channel_id: int, bits: int) -> None:
        """Deny the bot `bits` in a channel: a member permission overwrite, sent as CHANNEL_UPDATE when connected."""
        self.denied[channel_id] = self.denied.get(channel_id, 0) | bits
        if self._sockets:
            await self.dispatch("CHANNEL_UPDATE", self.channel(channel_id))

    def permissions(self, channel_id: int) -> int:
        """The bot's permissions in a channel: @everyone's, less the channel's overwrite for the bot (a DM: all)."""
        return EVERYONE_PERMISSIONS & ~self.denied.get(channel_id, 0)

    def channel(self, channel_id: int = CHANNEL_ID) -> dict[str, Any]:
        """The channel object: the guild text channel (type 0) or the DM (type 1, no guild_id)."""
        if channel_id == DM_CHANNEL_ID:
            return {"id": str(DM_CHANNEL_ID), "type": 1, "recipients": [self.user], "last_message_id": None}
        denied = self.denied.get(channel_id, 0)
        overwrites = [{"id": str(APP_ID), "type": 1, "allow": "0", "deny": str(denied)}] if denied else []
        return {"id": str(channel_id), "type": 0, "name": "music", "position": 0, "guild_id": str(GUILD_ID),
                "permission_overwrites": overwrites, "nsfw": False, "parent_id": None}  # fmt: skip

    @property
    def interactions(self) -> dict[str, dict[str, Any]]:
        """Every interaction's state, by token."""
        return self._interactions

    def interaction(self, token: str) -> dict[str, Any]:
        return self._interactions[token]

    async def wait_until(self, condition: Callable[[], Any], timeout: float = 30.0) -> Any:
        """Wait (on the fake's change event, not a sleep loop) until `condition()` is truthy; return it."""
        deadline = time.monotonic() + timeout
        while True:
            value = condition()
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"condition not met within {timeout}s; errors: {self.errors}")
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), timeout=0.5)

    def channel_messages(self, after: int = 0) -> list[dict[str, Any]]:
        return [m for mid, m in sorted(self.messages.items()) if mid > after]

    # --- gateway ---------------------------------------------------------------------------------------------------
    async def dispatch(self, event: str, data: dict[str, Any]) -> None:
        assert self._sockets, "no bot is connected to the gateway"
        for ws in list(self._sockets):
            await ws.send_str(json.dumps({"op": 0, "t": event, "s": next(self._seq), "d": data}))

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.send_str(json.dumps({"op": 10, "d": {"heartbeat_interval": 41250}, "s": None, "t": None}))
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                payload = json.loads(msg.data)
                if payload["op"] == 1:
                    await ws.send_str(json.dumps({"op": 11, "d": None, "s": None, "t": None}))
                elif payload["op"] == 2:
                    self.identifies += 1
                    if payload["d"]["token"] != self.token:
                        await ws.close(code=4004, message=b"Authentication failed.")
                        break
                    if payload["d"].get("intents", 0) & PRIVILEGED_INTENTS & ~self.granted_intents:
                        # a privileged intent asked for but not enabled in the Developer Portal
                        await ws.close(code=4014, message=b"Disallowed intent(s).")
                        self._changed.set()
                        break
                    self._sockets.append(ws)
                    await self._ready(ws)
                    self.identified.set()
        finally:
            if ws in self._sockets:
                self._sockets.remove(ws)
        return ws

    async def _ready(self, ws: web.WebSocketResponse) -> None:
        ready = {"v": 10, "user": BOT_USER, "guilds": [{"id": str(GUILD_ID), "unavailable": True}],
                 "session_id": "fake-session", "resume_gateway_url": self.gateway,
                 "application": {"id": str(APP_ID), "flags": 0}}  # fmt: skip
        await ws.send_str(json.dumps({"op": 0, "t": "READY", "s": next(self._seq), "d": ready}))
        everyone = {"id": str(GUILD_ID), "name": "@everyone", "permissions": "2248473465835073", "position": 0,
                    "color": 0, "hoist": False, "managed": False, "mentionable": False, "flags": 0}  # fmt: skip
        channel = self.channel(CHANNEL_ID)
        guild = {"id": str(GUILD_ID), "name": "Listening club", "owner_id": str(OWNER_ID), "roles": [everyone],
                 "channels": [channel], "threads": [], "members": [{**self.member(), "user": BOT_USER}],
                 "member_count": 2, "emojis": [], "stickers": [], "features": [], "unavailable": False,
                 "large": False, "voice_states": [], "presences": [], "stage_instances": [],
                 "guild_scheduled_events": [], "soundboard_sounds": []}  # fmt: skip
        await ws.send_str(json.dumps({"op": 0, "t": "GUILD_CREATE", "s": next(self._seq), "d": guild}))

    async def _interaction(
        self, kind: int, data: dict[str, Any], *, dm: bool = False, deliver: bool = True, **extra: Any
    ) -> str:
        """An interaction as INTERACTION_CREATE carries it: in the guild channel with `member` and context 0
        (GUILD), or in the DM with `user` and context 1 (BOT_DM) ("Receiving and Responding" → Interaction Object)."""
        token = f"itok-{self.snowflake()}"
        interaction_id = self.snowflake()
        channel_id = DM_CHANNEL_ID if dm else CHANNEL_ID
        where: dict[str, Any] = {"user": self.user, "context": 1} if dm else {
            "guild_id": str(GUILD_ID), "member": self.member(), "guild_locale": "en-US", "context": 0}  # fmt: skip
        payload = {"id": str(interaction_id), "application_id": str(APP_ID), "type": kind, "token": token,
                   "version": 1, "channel_id": str(channel_id), "channel": self.channel(channel_id), "data": data,
                   "locale": "en-US", "app_permissions": str(self.permissions(channel_id)), "entitlements": [],
                   "authorizing_integration_owners": {}, "attachment_size_limit": 26214400, **where,
                   **extra}  # fmt: skip
        self._interactions[token] = {"id": str(interaction_id), "kind": kind, "acked": None, "original": None,
                                     "followups": [], "ephemeral": [], "choices": None, "created": self.clock(),
                                     "acked_at": None, "dm": dm, "message": extra.get("message")}  # fmt: skip
        if deliver:
            await self.dispatch("INTERACTION_CREATE", payload)
        return token

    # --- REST ------------------------------------------------------------------------------------------------------
    def _message(
        self, content: str, author: dict[str, Any], channel_id: int = CHANNEL_ID, **extra: Any
    ) -> dict[str, Any]:
        where = {} if channel_id == DM_CHANNEL_ID else {"guild_id": str(GUILD_ID)}
        return {"id": str(self.snowflake()), "channel_id": str(channel_id), **where, "author": author,
                "content": content, "timestamp": _now(), "edited_timestamp": None, "tts": False,
                "mention_everyone": False, "mentions": [], "mention_roles": [], "attachments": [], "embeds": [],
                "pinned": False, "type": 0, "components": [], "flags": 0, **extra}  # fmt: skip

    async def _body(self, request: web.Request) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """The JSON body, or multipart's payload_json and its files."""
        if request.content_type.startswith("multipart/"):
            payload: dict[str, Any] = {}
            files = []
            reader = await request.multipart()
            async for part in reader:
                if part.name == "payload_json":
                    payload = json.loads(await part.text())
                else:
                    files.append({"name": part.filename, "bytes": await part.read()})
            return payload, files
        text = await request.text()
        return (json.loads(text) if text else {}), []

    def _bot_message(
        self, body: dict[str, Any], files: list[dict[str, Any]], kept: list[dict[str, Any]] = (),
        channel_id: int = CHANNEL_ID, **extra: Any,
    ) -> dict[str, Any]:  # fmt: skip
        """A message the bot sends or edits, validated as Discord validates it; `kept` are earlier attachments."""
        content = body.get("content") or ""
        embeds = body.get("embeds") or []
        components = body.get("components") or []
        if utf16_len(content) > 2000:
            raise invalid_form("content: Must be 2000 or fewer in length.")
        check_embeds(embeds)
        check_components(components)
        if not (content or embeds or files or kept or components):
            raise DiscordError(400, 50006, "Cannot send an empty message")
        for f in files:
            self.sent_files[f["name"]] = f["bytes"]
        attachments = [*kept] + [{"id": str(self.snowflake()), "filename": f["name"], "size": len(f["bytes"]),
                                  "url": f"{self.base}/attachments/{f['name']}", "proxy_url": ""}
                                 for f in files]  # fmt: skip
        return self._message(content, BOT_USER, channel_id, embeds=embeds, components=components,
                             attachments=attachments, **extra)  # fmt: skip

    def _store(self, message_id: int) -> dict[int, dict[str, Any]]:
        """Where a bot message lives: the channel's `messages`, or `ephemeral` (seen by its user only)."""
        return self.ephemeral if message_id in self.ephemeral else self.messages

    def _edit(self, message_id: int, body: dict[str, Any], files: list[dict[str, Any]]) -> dict[str, Any]:
        store = self._store(message_id)
        old = store[message_id]
        if old["flags"] & IS_VOICE_MESSAGE:  # "Message" → voice messages "cannot be edited"
            raise DiscordError(400, 50162, "Voice messages cannot be edited.")
        merged = {k: body[k] for k in ("content", "embeds", "components") if k in body}
        new = self._bot_message({**old, **merged}, files, kept=[] if files else old.get("attachments", []),
                                channel_id=int(old["channel_id"]))  # fmt: skip
        new.update(id=old["id"], timestamp=old["timestamp"], edited_timestamp=_now(), flags=old["flags"] & EPHEMERAL)
        for key in ("interaction_metadata", "webhook_id"):
            if key in old:
                new[key] = old[key]
        store[message_id] = new
        return new

    async def _rest(self, request: web.Request) -> web.Response:
        path = "/" + request.match_info["path"]
        method = request.method
        body, files = await self._body(request)
        self.calls.append((method, path, body))
        bucket_headers: dict[str, str] = {}
        try:
            self._storm(method, path)
            is_webhook = path.startswith(("/interactions/", "/webhooks/"))
            if not is_webhook and request.headers.get("Authorization") != f"Bot {self.token}":
                raise DiscordError(401, 0, "401: Unauthorized")
            if not is_webhook:  # interaction endpoints are not bound to the global limit
                self._global_limit()
            bucket_headers = self._bucket(method, path)
            result = await self._route(method, path, body, files, request)
        except DiscordError as exc:
            self.errors.append((method, path, exc.code or exc.status))
            self._changed.set()
            if exc.status == 429:
                data = {"message": exc.message, "retry_after": exc.retry_after,  # type: ignore[attr-defined]
                        "global": exc.headers.get("X-RateLimit-Global") == "true"}  # fmt: skip
                return _json(data, 429, exc.headers)
            return _json({"code": exc.code, "message": exc.message}, exc.status, {**bucket_headers, **exc.headers})
        self._changed.set()
        if result is None:
            return web.Response(status=204, headers=bucket_headers)
        return _json(result, headers=bucket_headers)

    async def _route(self, method: str, path: str, body: Any, files: list[dict[str, Any]], request: web.Request) -> Any:
        parts = path.strip("/").split("/")
        if path == "/users/@me":
            return BOT_USER
        if path == "/oauth2/applications/@me":
            return {"id": str(APP_ID), "name": "murecom", "description": "", "icon": None, "bot_public": True,
                    "bot_require_code_grant": False, "owner": self.user, "verify_key": "00", "flags": 0}  # fmt: skip
        if parts[:2] == ["applications", str(APP_ID)] and parts[2:] == ["commands"] and method == "PUT":
            check_commands(body)
            self.commands = [{**c, "id": str(self.snowflake()), "application_id": str(APP_ID), "version": "1"}
                             for c in body]  # fmt: skip
            return self.commands
        if parts[0] == "channels" and parts[1] in (str(CHANNEL_ID), str(DM_CHANNEL_ID)):
            channel_id = int(parts[1])
            if parts[2:] == ["typing"] and method == "POST":
                return None
            if parts[2:] == ["messages"] and method == "POST":
                self._check_permissions(channel_id, body, files)
                message = self._bot_message(body, files, channel_id=channel_id)
                self.messages[int(message["id"])] = message
                return message
            if len(parts) == 4 and parts[2] == "messages":
                message_id = int(parts[3])
                if message_id not in self.messages:
                    raise DiscordError(404, 10008, "Unknown Message")
                if method == "DELETE":
                    del self.messages[message_id]
                    self.deleted.append(message_id)
                    return None
                if method == "PATCH":
                    return self._edit(message_id, body, files)
        if parts[0] == "interactions" and parts[3:] == ["callback"] and method == "POST":
            return self._callback(parts[2], body, files, request)
        if parts[0] == "webhooks" and parts[1] == str(APP_ID):
            return self._webhook(method, parts[2], parts[3:], body, files)
        raise DiscordError(404, 0, f"404: Not Found ({method} {path})")

    def _storm(self, method: str, path: str) -> None:
        for storm in self._storms:
            if storm["left"] > 0 and storm["method"] == method and storm["pattern"].fullmatch(path):
                storm["left"] -= 1
                raise rate_limited(storm["retry_after"], storm["scope"])

    def _global_limit(self) -> None:
        now = self.clock()
        while self._recent and now - self._recent[0] >= 1.0:
            self._recent.popleft()
        if len(self._recent) >= GLOBAL_PER_SECOND:
            raise rate_limited(1.0 - (now - self._recent[0]), "global")
        self._recent.append(now)

    def _bucket(self, method: str, path: str) -> dict[str, str]:
        """Count a request against its per-route bucket; its X-RateLimit headers (none for routes without one)."""
        match = re.fullmatch(r"/channels/(\d+)/messages", path)
        if method != "POST" or match is None:
            return {}
        now = self.clock()
        key = f"messages:{match[1]}"
        start, used = self._windows.get(key, (now, 0))
        if now - start >= MESSAGES_WINDOW:
            start, used = now, 0
        reset_after = MESSAGES_WINDOW - (now - start)
        headers = {"X-RateLimit-Limit": str(MESSAGES_LIMIT), "X-RateLimit-Bucket": hashlib.md5(b"messages").hexdigest(),
                   "X-RateLimit-Reset": f"{time.time() + reset_after:.3f}",
                   "X-RateLimit-Reset-After": f"{reset_after:.3f}"}  # fmt: skip
        if used >= MESSAGES_LIMIT:
            raise rate_limited(reset_after, "user", {**headers, "X-RateLimit-Remaining": "0"})
        self._windows[key] = (start, used + 1)
        return {**headers, "X-RateLimit-Remaining": str(MESSAGES_LIMIT - used - 1)}

    def _check_permissions(self, channel_id: int, body: dict[str, Any], files: list[dict[str, Any]]) -> None:
        """Create Message's permissions: SEND_MESSAGES to post, ATTACH_FILES for files, EMBED_LINKS for embeds."""
        granted = self.permissions(channel_id)
        needed = SEND_MESSAGES | (ATTACH_FILES if files else 0) | (EMBED_LINKS if body.get("embeds") else 0)
        if needed & ~granted:
            raise DiscordError(403, 50013, "Missing Permissions")

    def _state(self, token: str) -> dict[str, Any]:
        if token not in self._interactions:
            raise DiscordError(404, 10015, "Unknown Webhook")
        return self._interactions[token]

    def _live_token(self, token: str) -> dict[str, Any]:
        """An interaction's state while its token is valid: 15 minutes from its creation."""
        state = self._state(token)
        if self.clock() - state["created"] > TOKEN_LIFETIME:
            raise DiscordError(401, 50027, "Invalid Webhook Token")
        return state

    def _callback(self, token: str, body: dict[str, Any], files: list[dict[str, Any]], request: web.Request) -> Any:
        state = self._state(token)
        if state["acked"] is not None:
            raise DiscordError(400, 40060, "Interaction has already been acknowledged.")
        if self.clock() - state["created"] > RESPONSE_DEADLINE:  # the 3 s deadline: the token is invalidated
            raise DiscordError(404, 10062, "Unknown interaction")
        kind, data = body.get("type"), body.get("data") or {}
        allowed = {2: {4, 5, 9}, 3: {4, 5, 6, 7}, 4: {8}}[state["kind"]]
        if kind not in allowed:
            raise DiscordError(400, 40043, f"Interaction response type {kind} is invalid for this interaction")
        message = None
        if kind == 8:
            choices = data.get("choices") or []
            if len(choices) > 25:
                raise invalid_form("data.choices: Must be 25 or fewer in length.")
            for i, c in enumerate(choices):
                if not 1 <= len(c.get("name", "")) <= 100 or not 1 <= len(str(c.get("value", ""))) <= 100:
                    raise invalid_form(f"data.choices.{i}: name and value must be between 1 and 100 in length.")
            state["choices"] = choices
        elif kind in (4, 5):
            ephemeral = (data.get("flags") or 0) & EPHEMERAL
            channel_id = DM_CHANNEL_ID if state["dm"] else CHANNEL_ID
            message = (self._bot_message(data, files, channel_id=channel_id) if kind == 4
                       else self._message("", BOT_USER, channel_id, flags=LOADING))  # fmt: skip
            message["flags"] |= ephemeral
            message["interaction_metadata"] = {"id": state["id"], "type": state["kind"], "user": self.user}
            (self.ephemeral if ephemeral else self.messages)[int(message["id"])] = message
            state["original"] = int(message["id"])
            state["loading"] = kind == 5
        elif kind in (6, 7):
            state["original"] = int(state["message"]["id"])
            if kind == 7:
                message = self._edit(state["original"], data, files)
        state["acked"], state["acked_at"] = kind, self.clock()
        if request.query.get("with_response") not in ("1", "true"):
            return None
        interaction = {"id": state["id"], "type": state["kind"], "response_message_loading": kind == 5,
                       "response_message_ephemeral": bool(message and message["flags"] & EPHEMERAL)}  # fmt: skip
        if state["original"] is not None:
            interaction["response_message_id"] = str(state["original"])
        resource: dict[str, Any] = {"type": kind}
        if message is not None:
            resource["message"] = message
        return {"interaction": interaction, "resource": resource}

    def _webhook(self, method: str, token: str, rest: list[str], body: Any, files: list[dict[str, Any]]) -> Any:
        state = self._live_token(token)
        if state["acked"] is None or state["acked"] == 8:
            raise DiscordError(404, 10015, "Unknown Webhook")
        if rest == [] and method == "POST":
            return self._followup(state, body, files)
        if len(rest) == 2 and rest[0] == "messages":
            message_id = state["original"] if rest[1] == "@original" else int(rest[1])
            if message_id is None or message_id not in self._store(message_id):
                raise DiscordError(404, 10008, "Unknown Message")
            if method == "PATCH":
                if message_id == state["original"]:
                    state["loading"] = False
                return self._edit(message_id, body, files)
            if method == "GET":
                return self._store(message_id)[message_id]
            if method == "DELETE":
                del self._store(message_id)[message_id]
                self.deleted.append(message_id)
                if message_id == state["original"]:  # the loading message gone: the next follow-up is a new one
                    state["loading"] = False
                return None
        raise DiscordError(404, 0, "404: Not Found")

    def _followup(self, state: dict[str, Any], body: dict[str, Any], files: list[dict[str, Any]]) -> dict[str, Any]:
        """A follow-up: the first after a thinking defer replaces the loading message and keeps the defer's
        ephemerality whatever its flags; any other is a new message, ephemeral when its flags carry 64."""
        state.setdefault("answered_at", self.clock())
        if state.get("loading"):
            state["loading"] = False
            original = state["original"]
            message = self._edit(original, {**body, "content": body.get("content") or ""}, files)
            ephemeral = original in self.ephemeral
            (state["ephemeral"] if ephemeral else state["followups"]).append(original)
            return message
        channel_id = DM_CHANNEL_ID if state["dm"] else CHANNEL_ID
        message = self._bot_message(body, files, channel_id=channel_id, webhook_id=str(APP_ID))
        message_id = int(message["id"])
        if (body.get("flags") or 0) & EPHEMERAL:
            message["flags"] = EPHEMERAL
            self.ephemeral[message_id] = message
            state["ephemeral"].append(message_id)
        else:
            self.messages[message_id] = message
            state["followups"].append(message_id)
        return message

    async def _attachment(self, request: web.Request) -> web.Response:
        data = self.files.get(request.match_info["name"])
        if data is None:
            return web.Response(status=404)
        return web.Response(body=data, content_type="application/octet-stream")


def _now() -> str:
    return datetime.now(UTC).isoformat()
