"""Tag sanity: are the tags users see plausible for music whose kind is known?

For each label of a label/clip folder, each track's tags are the mean tag probabilities over its first minute
(the product's windows and patches) under both pretrained taggers: musicnn MSD (the 50 Last.fm tags shown to users
and bridged to the catalogue) and musicnn MTT (MagnaTagATune: instruments and classical vocabulary). Reported per
label: the tags that most often come first, and the share of tracks whose first tag belongs to a family — classical
(MTT: classical, strings, piano, harpsichord, violin, cello, choir, choral, opera, harp, flute), rock (MSD: rock,
metal, hard rock, heavy metal, punk, alternative rock, classic rock, indie rock, Progressive rock) and electronic
(MSD: electronic, electronica, electro, dance, House, ambient, chillout, chill). A renderings of Bach chorales
whose first MTT tag is "techno" would show here before any user saw it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from recommenders.audio.features import AudioError
from recommenders.audio.loader import AudioModels
from recommenders.audio.musicnn import PRETRAINED_DIR
from recommenders.audio.pretrained import PretrainedEmbedder
from recommenders.audio.train import list_clips, track_slices

SECONDS = 60.0
FAMILIES: dict[str, tuple[str, frozenset[str]]] = {
    "classical": ("MTT_musicnn", frozenset(
        {"classical", "strings", "piano", "harpsichord", "violin", "cello", "choir", "choral", "opera", "harp",
         "flute", "classic"})),
    "rock": ("MSD_musicnn", frozenset(
        {"rock", "metal", "hard rock", "heavy metal", "punk", "alternative rock", "classic rock", "indie rock",
         "Progressive rock"})),
    "electronic": ("MSD_musicnn", frozenset(
        {"electronic", "electronica", "electro", "dance", "House", "ambient", "chillout", "chill"})),
}  # fmt: skip


@dataclass(frozen=True)
class LabelTags:
    label: str
    tracks: int
    first_tags: dict[str, list[tuple[str, float]]]  # tagger -> [(tag, share of tracks where it comes first)]
    family_share: dict[str, float]  # family -> share of tracks whose first tag (under its tagger) is in it


def track_tag_means(folder: Path, tagger: PretrainedEmbedder, cache: Path | None) -> dict[Path, np.ndarray]:
    """Mean tag probabilities of each track's first minute (tracks that cannot be read are left out)."""
    out: dict[Path, np.ndarray] = {}
    for clip in list_clips(folder):
        try:
            x = track_slices(clip.path, SECONDS, cache, tagger.patches, tagger.feature_id)
        except AudioError:
            continue
        out[clip.path] = tagger.embed(x)[1].mean(axis=0)
    return out


def tag_sanity(folder: Path, cache: Path | None = None, models: AudioModels | None = None) -> list[LabelTags]:
    models = models or AudioModels()
    taggers = {name: models.pretrained(PRETRAINED_DIR / f"{name}.keras") for name in ("MSD_musicnn", "MTT_musicnn")}
    firsts: dict[str, dict[Path, str]] = {}
    for name, tagger in taggers.items():
        means = track_tag_means(folder, tagger, cache)
        firsts[name] = {path: tagger.labels[int(np.argmax(m))] for path, m in means.items()}
    by_label: dict[str, list[Path]] = {}
    for clip in list_clips(folder):
        if all(clip.path in f for f in firsts.values()):
            by_label.setdefault(clip.label, []).append(clip.path)
    out = []
    for label, paths in sorted(by_label.items()):
        first_tags = {}
        for name in taggers:
            counts = Counter(firsts[name][p] for p in paths)
            first_tags[name] = [(tag, n / len(paths)) for tag, n in counts.most_common(3)]
        shares = {
            family: sum(firsts[name][p] in tags for p in paths) / len(paths)
            for family, (name, tags) in FAMILIES.items()
        }
        out.append(LabelTags(label, len(paths), first_tags, shares))
    return out


def format_tag_sanity(rows: list[LabelTags], folder: Path) -> str:
    lines = [
        f"Tag sanity on {folder}: the tags that come first for a label's tracks (share of its tracks), and the "
        "share of tracks whose first tag is classical (MTT), rock or electronic (MSD)",
        "",
        "| label | tracks | first MSD tags | first MTT tags | classical | rock | electronic |",
        "| --- | ---: | --- | --- | ---: | ---: | ---: |",
    ]
    for r in rows:
        tags = {n: ", ".join(f"{t} {s:.0%}" for t, s in r.first_tags[n]) for n in r.first_tags}
        shares = " | ".join(f"{r.family_share[f]:.0%}" for f in FAMILIES)
        lines.append(f"| {r.label} | {r.tracks} | {tags['MSD_musicnn']} | {tags['MTT_musicnn']} | {shares} |")
    return "\n".join(lines)
