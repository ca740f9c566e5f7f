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
Responses are `application/json` exactly (discord.py parses nothing else); a 429 carries `Via` and `retry_after`.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import re
import time
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
BOT_USER = {"id": str(APP_ID), "username": "murecom", "discriminator": "0", "global_name": None, "avatar": None,
            "bot": True, "flags": 0}  # fmt: skip
_COMMAND_NAME = re.compile(r"^[-_\w]{1,32}$")


class DiscordError(Exception):
    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(f"{status} {code} {message}")
        self.status, self.code, self.message = status, code, message


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

    def __init__(self, token: str = "fake-discord-token", granted_intents: int = PRIVILEGED_INTENTS) -> None:
        """`granted_intents`: the privileged intents enabled for the application in the Developer Portal."""
        self.token = token
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
        self.rate_limits: list[tuple[str, re.Pattern[str]]] = []  # answer the next matching request with a 429
        self.identified = asyncio.Event()
        self._ids = itertools.count(900000000000000000)
        self._interactions: dict[str, dict[str, Any]] = {}  # token → {"acked": type or None, "original": id, …}
        self._sockets: list[web.WebSocketResponse] = []
        self._seq = itertools.count(1)
        self._changed = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.user = {"id": str(OWNER_ID), "username": "dana", "discriminator": "0", "global_name": "Dana",
                     "avatar": None}  # fmt: skip

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
        return {"user": self.user, "roles": [], "joined_at": _now(), "deaf": False, "mute": False, "flags": 0,
                "permissions": "2248473465835073"}  # fmt: skip

    async def send_user_message(
        self,
        content: str,
        attachments: list[tuple[str, bytes, str]] = (),
        *,
        mention_bot: bool = False,
        reply_to: int | None = None,
    ) -> int:
        """A member writes in the channel; attachments are (filename, bytes, content type) served by the fake.
        `mention_bot` starts the message with the bot's mention (`<@id>`, listed in `mentions`, as Discord does);
        `reply_to` makes it a reply (type 19) to that message, carried whole as `referenced_message`."""
        atts = []
        for filename, data, content_type in attachments:
            att_id = self.snowflake()
            name = f"{att_id}-{filename}"
            self.files[name] = data
            url = f"{self.base}/attachments/{name}"
            atts.append({"id": str(att_id), "filename": filename, "size": len(data), "content_type": content_type,
                         "url": url, "proxy_url": url})  # fmt: skip
        extra: dict[str, Any] = {"attachments": atts}
        if mention_bot:
            content = f"<@{APP_ID}> {content}".rstrip()
            extra["mentions"] = [BOT_USER]
        if reply_to is not None:
            referenced = self.messages.get(reply_to) or self.user_messages[reply_to]
            extra.update(type=19, referenced_message=referenced,
                         message_reference={"type": 0, "message_id": str(reply_to), "channel_id": str(CHANNEL_ID),
                                            "guild_id": str(GUILD_ID)})  # fmt: skip
        message = self._message(content, author=self.user, **extra)
        message["member"] = {k: v for k, v in self.member().items() if k != "user"}
        self.user_messages[int(message["id"])] = message
        await self.dispatch("MESSAGE_CREATE", message)
        return int(message["id"])

    async def slash(self, name: str, options: list[dict[str, Any]] | None = None, **extra: Any) -> str:
        """A member runs /name with raw options; returns the interaction token."""
        command = next(c for c in self.commands if c["name"] == name)
        data = {"id": command["id"], "name": name, "type": 1, "options": options or [], **extra}
        return await self._interaction(2, data)

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
        self.rate_limits.append((method, re.compile(path_regex)))

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
        channel = {"id": str(CHANNEL_ID), "type": 0, "name": "music", "position": 0, "guild_id": str(GUILD_ID),
                   "permission_overwrites": [], "nsfw": False, "parent_id": None}  # fmt: skip
        guild = {"id": str(GUILD_ID), "name": "Listening club", "owner_id": str(OWNER_ID), "roles": [everyone],
                 "channels": [channel], "threads": [], "members": [{**self.member(), "user": BOT_USER}],
                 "member_count": 2, "emojis": [], "stickers": [], "features": [], "unavailable": False,
                 "large": False, "voice_states": [], "presences": [], "stage_instances": [],
                 "guild_scheduled_events": [], "soundboard_sounds": []}  # fmt: skip
        await ws.send_str(json.dumps({"op": 0, "t": "GUILD_CREATE", "s": next(self._seq), "d": guild}))

    async def _interaction(self, kind: int, data: dict[str, Any], **extra: Any) -> str:
        token = f"itok-{self.snowflake()}"
        interaction_id = self.snowflake()
        channel = {"id": str(CHANNEL_ID), "type": 0, "name": "music", "guild_id": str(GUILD_ID), "position": 0,
                   "permission_overwrites": [], "nsfw": False, "parent_id": None}  # fmt: skip
        payload = {"id": str(interaction_id), "application_id": str(APP_ID), "type": kind, "token": token,
                   "version": 1, "guild_id": str(GUILD_ID), "channel_id": str(CHANNEL_ID), "channel": channel,
                   "member": self.member(), "data": data, "locale": "en-US", "guild_locale": "en-US",
                   "app_permissions": "2248473465835073", "entitlements": [], "authorizing_integration_owners": {},
                   "context": 0, "attachment_size_limit": 26214400, **extra}  # fmt: skip
        self._interactions[token] = {"id": str(interaction_id), "kind": kind, "acked": None, "original": None,
                                     "followups": [], "choices": None, "message": extra.get("message")}  # fmt: skip
        await self.dispatch("INTERACTION_CREATE", payload)
        return token

    # --- REST ------------------------------------------------------------------------------------------------------
    def _message(self, content: str, author: dict[str, Any], **extra: Any) -> dict[str, Any]:
        return {"id": str(self.snowflake()), "channel_id": str(CHANNEL_ID), "guild_id": str(GUILD_ID),
                "author": author, "content": content, "timestamp": _now(), "edited_timestamp": None, "tts": False,
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
        self, body: dict[str, Any], files: list[dict[str, Any]], kept: list[dict[str, Any]] = (), **extra: Any
    ) -> dict[str, Any]:
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
        return self._message(content, BOT_USER, embeds=embeds, components=components, attachments=attachments, **extra)

    def _edit(self, message_id: int, body: dict[str, Any], files: list[dict[str, Any]]) -> dict[str, Any]:
        old = self.messages[message_id]
        merged = {k: body[k] for k in ("content", "embeds", "components") if k in body}
        new = self._bot_message({**old, **merged}, files, kept=[] if files else old.get("attachments", []))
        new.update(id=old["id"], timestamp=old["timestamp"], edited_timestamp=_now(), flags=0)
        for key in ("interaction_metadata", "webhook_id"):
            if key in old:
                new[key] = old[key]
        self.messages[message_id] = new
        return new

    async def _rest(self, request: web.Request) -> web.Response:
        path = "/" + request.match_info["path"]
        method = request.method
        body, files = await self._body(request)
        self.calls.append((method, path, body))
        try:
            for i, (m, pattern) in enumerate(self.rate_limits):
                if m == method and pattern.fullmatch(path):
                    del self.rate_limits[i]
                    raise DiscordError(429, 0, "You are being rate limited.")
            is_webhook = path.startswith(("/interactions/", "/webhooks/"))
            if not is_webhook and request.headers.get("Authorization") != f"Bot {self.token}":
                raise DiscordError(401, 0, "401: Unauthorized")
            result = await self._route(method, path, body, files, request)
        except DiscordError as exc:
            self.errors.append((method, path, exc.code or exc.status))
            self._changed.set()
            if exc.status == 429:
                data = {"message": exc.message, "retry_after": 0.05, "global": False}
                return _json(data, 429, {"Via": "1.1 google", "Retry-After": "1", "X-RateLimit-Scope": "user"})
            return _json({"code": exc.code, "message": exc.message}, exc.status)
        self._changed.set()
        if result is None:
            return web.Response(status=204)
        return _json(result)

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
        if parts[0] == "channels" and parts[1] == str(CHANNEL_ID):
            if parts[2:] == ["typing"] and method == "POST":
                return None
            if parts[2:] == ["messages"] and method == "POST":
                message = self._bot_message(body, files)
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

    def _state(self, token: str) -> dict[str, Any]:
        if token not in self._interactions:
            raise DiscordError(404, 10015, "Unknown Webhook")
        return self._interactions[token]

    def _callback(self, token: str, body: dict[str, Any], files: list[dict[str, Any]], request: web.Request) -> Any:
        state = self._state(token)
        if state["acked"] is not None:
            raise DiscordError(400, 40060, "Interaction has already been acknowledged.")
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
            message = self._bot_message(data, files) if kind == 4 else self._message("", BOT_USER, flags=128)
            message["interaction_metadata"] = {"id": state["id"], "type": state["kind"], "user": self.user}
            self.messages[int(message["id"])] = message
            state["original"] = int(message["id"])
            state["loading"] = kind == 5
        elif kind in (6, 7):
            state["original"] = int(state["message"]["id"])
            if kind == 7:
                message = self._edit(state["original"], data, files)
        state["acked"] = kind
        if request.query.get("with_response") not in ("1", "true"):
            return None
        interaction = {"id": state["id"], "type": state["kind"], "response_message_loading": kind == 5,
                       "response_message_ephemeral": False}  # fmt: skip
        if state["original"] is not None:
            interaction["response_message_id"] = str(state["original"])
        resource: dict[str, Any] = {"type": kind}
        if message is not None:
            resource["message"] = message
        return {"interaction": interaction, "resource": resource}

    def _webhook(self, method: str, token: str, rest: list[str], body: Any, files: list[dict[str, Any]]) -> Any:
        state = self._state(token)
        if state["acked"] is None or state["acked"] == 8:
            raise DiscordError(404, 10015, "Unknown Webhook")
        if rest == [] and method == "POST":
            if state.get("loading"):  # the first follow-up after a thinking defer replaces the loading message
                state["loading"] = False
                message = self._edit(state["original"], {**body, "content": body.get("content") or ""}, files)
                self.messages[state["original"]]["flags"] = 0
                state["followups"].append(state["original"])
                return message
            message = self._bot_message(body, files, webhook_id=str(APP_ID))
            self.messages[int(message["id"])] = message
            state["followups"].append(int(message["id"]))
            return message
        if rest == ["messages", "@original"]:
            if state["original"] is None:
                raise DiscordError(404, 10008, "Unknown Message")
            if method == "PATCH":
                state["loading"] = False
                return self._edit(state["original"], body, files)
            if method == "GET":
                return self.messages[state["original"]]
            if method == "DELETE":
                del self.messages[state["original"]]
                return None
        raise DiscordError(404, 0, "404: Not Found")

    async def _attachment(self, request: web.Request) -> web.Response:
        data = self.files.get(request.match_info["name"])
        if data is None:
            return web.Response(status=404)
        return web.Response(body=data, content_type="application/octet-stream")


def _now() -> str:
    return datetime.now(UTC).isoformat()
