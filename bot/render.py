"""Rendering a `Reply` for a platform within that platform's size limits, by construction.

A reply that is too long is shortened by dropping whole tracks (then whole lines of text) and saying how many were
left out — never by cutting the rendered string, which can split a tag (`<a href=…`) or a Markdown link and make
Telegram refuse the whole message. Lengths are counted as the platforms count them: the *visible* text after
markup is parsed, in UTF-16 code units.

User-supplied text (echoed queries, user names, track metadata from the catalogue) is escaped for each platform:
HTML-escaped for Telegram; Markdown- and mention-escaped for Discord, so an echoed `[label](url)` shows as text
instead of a clickable masked link and `@everyone` pings no one.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from dataclasses import dataclass

from discord.utils import escape_markdown, escape_mentions

from bot.replies import Reply, TrackLine

TELEGRAM_MESSAGE_LIMIT = 4096
TELEGRAM_CAPTION_LIMIT = 1024
DISCORD_TITLE_LIMIT = 256
DISCORD_DESCRIPTION_LIMIT = 4096
DISCORD_FOOTER_LIMIT = 2048
DISCORD_EMBED_TOTAL = 6000
DISCORD_BUTTON_LABEL_LIMIT = 80
DISCORD_MAX_ROWS = 5
DISCORD_MAX_BUTTONS_PER_ROW = 5

_TAG = re.compile(r"<[^>]*>")


def utf16_len(text: str) -> int:
    """Both platforms count length in UTF-16 code units (an emoji outside the BMP counts 2)."""
    return len(text.encode("utf-16-le")) // 2


def telegram_visible_len(markup: str) -> int:
    """Length of our own HTML as Telegram counts it: tags removed, entities decoded."""
    return utf16_len(html.unescape(_TAG.sub("", markup)))


def _more(n: int) -> str:
    return f"… and {n} more not shown"


@dataclass(frozen=True)
class Rendered:
    """A rendered reply and whether every track and line made it in."""

    text: str
    complete: bool


def _most(n: int, fits: Callable[[int], bool]) -> int | None:
    """The largest k < n with fits(k) (renderings grow with k, so a binary search), or None if not even 0 fits."""
    if n == 0 or not fits(0):
        return None
    lo, hi = 0, n - 1
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if fits(mid):
            lo = mid
        else:
            hi = mid - 1
    return lo


def _fit(
    head: list[str],
    lines: list[str],
    items: list[str],
    tail: list[str],
    budget: int,
    measure: Callable[[str], int],
    join: Callable[[list[str], list[str], list[str], list[str]], str],
    note: Callable[[str], str],
) -> Rendered:
    """The longest rendering within `budget`: drop items (tracks) from the end, then text lines, then the tail."""
    out = join(head, lines, items, tail)
    if measure(out) <= budget:
        return Rendered(out, True)

    def with_items(keep: int) -> str:
        return join(head, lines, [*items[:keep], note(_more(len(items) - keep))], tail)

    keep = _most(len(items), lambda k: measure(with_items(k)) <= budget)
    if keep is not None:
        return Rendered(with_items(keep), False)
    dropped_items = [note(_more(len(items)))] if items else []

    def with_lines(keep: int) -> str:
        return join(head, [*lines[:keep], note("…")], dropped_items, tail)

    keep = _most(len(lines), lambda k: measure(with_lines(k)) <= budget)
    if keep is not None:
        return Rendered(with_lines(keep), False)
    out = join(head, [], [], [])
    return Rendered(out if measure(out) <= budget else "…", False)


def _plain_cut(text: str, limit: int, escape: Callable[[str], str], measure: Callable[[str], int]) -> str:
    """`text` escaped, shortened on the plain text (never inside an escape) until it fits `limit`."""
    if measure(escape(text)) <= limit:
        return escape(text)
    lo, hi = 0, len(text)  # the longest prefix whose escaped form plus "…" fits
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if measure(escape(text[:mid] + "…")) <= limit:
            lo = mid
        else:
            hi = mid - 1
    return escape(text[:lo] + "…")


# --- Telegram (parse_mode=HTML) ---------------------------------------------------------------------------------
def _telegram_track(t: TrackLine) -> str:
    return (
        f'{t.rank}. <a href="{html.escape(t.url, quote=True)}">{html.escape(t.title)}</a> — '
        f"{html.escape(t.artist)} <code>{t.score:.3f}</code>\n<i>{html.escape(t.reason)}</i>"
    )


def _telegram_join(head: list[str], lines: list[str], items: list[str], tail: list[str]) -> str:
    blocks = [*head]
    if lines:
        blocks.append("\n".join(lines))
    return "\n\n".join([*blocks, *items, *tail])


def telegram_html(reply: Reply, limit: int = TELEGRAM_MESSAGE_LIMIT, *, with_tracks: bool = True) -> Rendered:
    """The reply as Telegram HTML whose visible text fits `limit` (4,096 for a message, 1,024 for a caption)."""
    # a title (ours, around a song name) never takes more than a quarter of the budget
    title = [f"<b>{_plain_cut(reply.title, limit // 4, html.escape, telegram_visible_len)}</b>"] if reply.title else []
    lines = [html.escape(line) for line in reply.text.split("\n")] if reply.text else []
    items = [_telegram_track(t) for t in reply.tracks] if with_tracks else []
    tail = [f"<i>{html.escape(reply.footer)}</i>"] if reply.footer else []
    rendered = _fit(title, lines, items, tail, limit, telegram_visible_len, _telegram_join, html.escape)
    if not rendered.text.strip():
        return Rendered("…", rendered.complete)
    return rendered


# --- Discord (embed Markdown) -----------------------------------------------------------------------------------
def discord_escape(text: str) -> str:
    """User-supplied text made inert in Discord Markdown: no formatting, no masked links, no pings."""
    return escape_mentions(escape_markdown(text))


def _link_label(text: str) -> str:
    return discord_escape(text).replace("[", "\\[").replace("]", "\\]")


def _link_target(url: str) -> str:
    return url.replace("(", "%28").replace(")", "%29").replace(" ", "%20")


def _discord_track(t: TrackLine) -> str:
    return (
        f"**{t.rank}. [{_link_label(t.title)}]({_link_target(t.url)})** — {discord_escape(t.artist)} "
        f"`{t.score:.3f}`\n*{discord_escape(t.reason)}*"
    )


def _discord_join(head: list[str], lines: list[str], items: list[str], tail: list[str]) -> str:
    return "\n".join([*head, *lines, *items, *tail])


@dataclass(frozen=True)
class EmbedText:
    """The text fields of one Discord embed, each within its limit and all within the 6,000 total."""

    title: str
    description: str
    footer: str
    complete: bool


def discord_embed_text(reply: Reply) -> EmbedText:
    """Title, description and footer of the reply's embed, escaped, within Discord's embed limits."""
    title = _plain_cut(reply.title, DISCORD_TITLE_LIMIT, discord_escape, utf16_len) if reply.title else ""
    footer = _plain_cut(reply.footer, DISCORD_FOOTER_LIMIT, lambda s: s, utf16_len) if reply.footer else ""
    budget = min(DISCORD_DESCRIPTION_LIMIT, DISCORD_EMBED_TOTAL - utf16_len(title) - utf16_len(footer))
    lines = [discord_escape(line) for line in reply.text.split("\n")] if reply.text else []
    items = [_discord_track(t) for t in reply.tracks]
    rendered = _fit([], lines, items, [], budget, utf16_len, _discord_join, lambda s: f"*{discord_escape(s)}*")
    return EmbedText(title, rendered.text, footer, rendered.complete)


def discord_button_rows(reply: Reply) -> list[list[tuple[str, str]]]:
    """(label, action) rows of the reply's buttons within Discord's 5 × 5 grid and 80-character labels."""
    return [
        [(b.label[:DISCORD_BUTTON_LABEL_LIMIT] or "·", b.action) for b in row[:DISCORD_MAX_BUTTONS_PER_ROW]]
        for row in reply.buttons[:DISCORD_MAX_ROWS]
    ]
