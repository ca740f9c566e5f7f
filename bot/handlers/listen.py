"""`/listen on|off`: an admin opts a group chat in to having every audio clip posted there analysed.

Clips in groups are analysed only when addressed to the bot (`data.listening` says why); a chat built around sharing
music can ask for all of them. Only the chat's admin may switch it (the adapter tells whether the user is one); a
private chat needs nothing, since every clip there is for the bot.
"""

from __future__ import annotations

from bot.handlers.base import Handler
from bot.middleware import Request
from bot.replies import Reply

#: What else a platform needs before the bot can see every clip of a group.
PLATFORM_NOTES = {
    "telegram": " (Telegram delivers every clip only to a bot that is a group admin or whose privacy mode is off in "
    "@BotFather.)",
    "discord": " (I need the View Channel and Read Message History permissions here.)",
}
ADDRESSED = "a reply to me, a mention of me, or /similar sent as a reply to a clip"


class ListenHandler(Handler):
    async def on_text(self, req: Request, args: str) -> list[Reply]:
        ctx = req.ctx
        if ctx.private:
            return [Reply("In a private chat I already listen to every clip you send.")]
        choice = args.lower()
        listening = self.services.listening
        if choice not in ("on", "off"):
            state = "every audio clip posted here" if listening.is_on(ctx.platform, ctx.chat_id) else (
                f"only the clips addressed to me: {ADDRESSED}"
            )  # fmt: skip
            return [Reply(f"In this chat I analyse {state}. An admin can switch it with /listen on or /listen off.")]
        if not ctx.admin:
            return [Reply("Only an admin of this chat can change which clips I listen to.", kind="error")]
        on = choice == "on"
        await self.services.chat_locks.run(ctx, listening.switch, ctx.platform, ctx.chat_id, on, ctx.user_id)
        if on:
            note = PLATFORM_NOTES.get(ctx.platform, "")
            return [Reply(f"From now on I analyse every audio clip posted here; /listen off stops it.{note}")]
        return [Reply(f"From now on I analyse only the clips addressed to me here: {ADDRESSED}.")]
