"""A local fake of the Telegram Bot API on 127.0.0.1, speaking its real wire format.

python-telegram-bot posts each method as form fields whose values are JSON-encoded (multipart when a file is
attached) to `{base_url}{token}/{method}` and downloads files from `{base_file_url}{token}/{file_path}`; the
fake answers `{"ok": true, "result": …}` with objects of the real shapes, serves queued updates to getUpdates,
and records every call so tests can assert on what the bot sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable
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


class FakeTelegram:
    def __init__(self, token: str = "4242:TEST-token") -> None:
        self.token = token
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.downloads: list[str] = []
        self.files: dict[str, tuple[str, bytes]] = {}
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
        update = {"update_id": self._next_update, **update}
        self._next_update += 1
        self._updates.append(update)
        self._changed.set()
        return update["update_id"]

    def add_file(self, file_id: str, file_path: str, data: bytes) -> None:
        self.files[file_id] = (file_path, data)

    async def wait_for(
        self, method: str, where: Callable[[dict], bool] = lambda p: True, timeout: float = 30.0, after: int = 0
    ) -> dict[str, Any]:
        """The first call of `method` (from index `after` on) whose params satisfy `where`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for name, params in self.calls[after:]:
                if name == method and where(params):
                    return params
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), timeout=0.2)
        raise AssertionError(f"no {method} call matched within {timeout}s; calls: {[c[0] for c in self.calls]}")

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
                params[key] = {"filename": value.filename, "bytes": value.file.read()}
                continue
            try:
                params[key] = json.loads(value)
            except (json.JSONDecodeError, TypeError):
                params[key] = value
        if method != "getUpdates":
            self.calls.append((method, params))
            self._changed.set()
        result = await self._answer(method, params)
        return web.json_response({"ok": True, "result": result})

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
        if method in ("sendMessage", "editMessageText"):
            return self._message(p.get("chat_id", 1), text=str(p.get("text", "")))
        if method == "sendPhoto":
            photo = [{"file_id": "ph1", "file_unique_id": "ph1u", "width": 640, "height": 480}]
            return self._message(p.get("chat_id", 1), photo=photo, caption=str(p.get("caption", "")))
        if method == "getFile":
            path, data = self.files[p["file_id"]]
            return {
                "file_id": p["file_id"],
                "file_unique_id": p["file_id"] + "u",
                "file_size": len(data),
                "file_path": path,
            }
        return True

    async def _file(self, request: web.Request) -> web.Response:
        path = request.match_info["path"]
        self.downloads.append(path)
        for file_path, data in self.files.values():
            if file_path == path:
                return web.Response(body=data)
        return web.Response(status=404)
