"""The console chat over the real core: buttons by number, audio by path, and any input at all survived."""

from __future__ import annotations

import io
import random

from bot.console import run_console


async def chat(core, *lines: str) -> str:
    out = io.StringIO()
    await run_console(core, io.StringIO("".join(f"{line}\n" for line in lines)), out)
    return out.getvalue()


async def test_numbers_press_buttons(core) -> None:
    out = await chat(core, "/similar hotel califrnia", "1")
    assert "Similar to Hotel California — The Eagles" in out
    assert "[1] Next ▶" in out and "page 2/" in out and " 6. " in out


async def test_superscript_digit_is_text_not_a_button(core) -> None:
    """`"²".isdigit()` is true but `int("²")` raises: the console used to crash on it."""
    out = await chat(core, "/similar hotel california", "²", "/help")
    assert "you> ²" in out and "I recommend music." in out


async def test_audio_by_path(core, tmp_path, wesnoth_clip) -> None:
    clip = tmp_path / "clip.ogg"
    clip.write_bytes(wesnoth_clip)
    out = await chat(core, f"/audio {clip}", "/audio /no/such/file.ogg", "/audio bad\0path")
    assert "🎧 Analysing your clip…" in out and "Tracks that sound like your clip" in out
    assert "(image: chart.png," in out
    assert "cannot read '/no/such/file.ogg'" in out and "cannot read 'bad\\x00path'" in out


async def test_random_unicode_never_crashes_the_console(core) -> None:
    rng = random.Random(20261125)
    alphabet = "abc xyz 019²³¹١٢٣④⑤Ⅻ/@#:-_\t\x00\u200b\u202e\ufeffé漢字🎵😀\\'\"<>&*[](){}"
    prefixes = ["", "/", "/similar ", "/session ", "/session add ", "/s@bot ", "/audio ", "/help ", "/about "]
    lines = [
        rng.choice(prefixes) + "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40))) for _ in range(300)
    ]
    lines += [rng.choice(alphabet) * rng.randint(1, 3) for _ in range(60)]  # short lines: "²", "③③"…
    lines += [chr(rng.randint(0x80, 0x2FFFF)) for _ in range(60)]  # lone code points, some unassigned
    out = await chat(core, *lines)
    assert out.count("you> ") == len([line for line in lines if line.strip()])
