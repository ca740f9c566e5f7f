"""`/listen on|off` through the real core: only a group's admin switches it, a private chat needs nothing, and the
choice is the database's, so a new process (a new core over the same home) keeps it."""

from __future__ import annotations

import asyncio

from bot.app import build_core
from bot.replies import ChatContext

GROUP = "listen-group-1"
ADMIN = ChatContext("telegram", GROUP, "u-admin", "Ada", admin=True)
MEMBER = ChatContext("telegram", GROUP, "u-member", "Mel")


def test_only_an_admin_switches_a_group_and_the_choice_outlives_the_process(core, bot_settings) -> None:
    async def say(ctx: ChatContext, text: str) -> str:
        [reply] = await core.handle_text(ctx, text)
        return reply.text

    async def run() -> None:
        assert "only the clips addressed to me" in await say(MEMBER, "/listen")
        refused = await say(MEMBER, "/listen on")
        assert refused == "Only an admin of this chat can change which clips I listen to."
        assert not core.listens_to_every_clip("telegram", GROUP)
        switched = await say(ADMIN, "/listen ON")
        assert switched.startswith("From now on I analyse every audio clip posted here") and "@BotFather" in switched
        assert core.listens_to_every_clip("telegram", GROUP)
        assert not core.listens_to_every_clip("discord", GROUP)
        assert "every audio clip posted here" in await say(MEMBER, "/listen")

    asyncio.run(run())
    restarted = build_core(bot_settings)
    try:
        assert restarted.listens_to_every_clip("telegram", GROUP)
        [off] = asyncio.run(restarted.handle_text(ADMIN, "/listen off"))
        assert off.text.startswith("From now on I analyse only the clips addressed to me")
        assert not restarted.listens_to_every_clip("telegram", GROUP)
    finally:
        restarted.close()


def test_a_private_chat_needs_no_switch(core) -> None:
    me = ChatContext("telegram", "u-solo", "u-solo", "Solo", private=True, admin=True)
    [reply] = asyncio.run(core.handle_text(me, "/listen on"))
    assert reply.text == "In a private chat I already listen to every clip you send."
    assert not core.listens_to_every_clip("telegram", "u-solo")
