"""`/help` (generated from the command table this core serves) and `/about` (the corpus and the served models,
with their held-out figures, from the snapshot)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from bot.handlers.base import Handler
from bot.middleware import Request
from bot.replies import Reply
from bot.snapshot import describe_cf

if TYPE_CHECKING:  # a command row names its handler class: types only, no import cycle
    from bot.command_spec import Command


def help_text(commands: Sequence[Command]) -> str:
    """/help, generated from the table."""
    lines = ["I recommend music."]
    for c in commands:
        if c.subcommands:
            first, *rest = c.subcommands
            lines.append(f"{c.usage} {first.name} — {first.description.lower()}")
            lines.append(" · ".join(f"{c.usage} {s.usage[1:]}" for s in rest))
        else:
            lines.append(c.help or f"{c.usage} — {c.description}")
    return "\n".join(lines)


class HelpHandler(Handler):
    async def on_text(self, req: Request, args: str) -> list[Reply]:
        return [Reply(help_text(self.services.commands))]


class AboutHandler(Handler):
    async def on_text(self, req: Request, args: str) -> list[Reply]:
        snap = req.snap
        stats = snap.stats
        audio = snap.audio
        facts = {
            "corpus": f"{stats['tracks']:,} tracks, {stats['playlists']:,} playlists, "
            f"{stats['tracks_with_audio']:,} with audio",
            "similar-by-name model": describe_cf(snap.cf_meta),
            "group-session model": describe_cf(snap.session_meta) if snap.session_meta else "the same",
            "audio model": audio.description if audio is not None else "not available",
        }
        return [Reply("\n".join(f"{k}: {v}" for k, v in facts.items()), title="About murecom")]
