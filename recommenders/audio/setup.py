"""Building and growing the audio index of the corpus tracks that have audio, published atomically."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np

from data.corpus import Corpus
from data.progress import progress
from data.settings import Settings
from recommenders.artifacts import ArtifactStore
from recommenders.audio.band import BAND_ID, load_narrow, narrow_patches
from recommenders.audio.embedder import AudioEmbedder
from recommenders.audio.features import CATALOGUE_SECONDS, AudioError
from recommenders.audio.fingerprint import FOLDER as FINGERPRINTS
from recommenders.audio.fingerprint import FingerprintIndex, track_fingerprint
from recommenders.audio.index import AudioIndex
from recommenders.audio.loader import AudioModels
from recommenders.audio.service import (
    INDEX_ARTIFACT,
    embedder_identity,
    embedder_location,
    load_embedder,
)
from recommenders.audio.train import track_slices

log = logging.getLogger(__name__)


def ensure_index(
    corpus: Corpus,
    store: ArtifactStore,
    settings: Settings,
    seconds: float = CATALOGUE_SECONDS,
    models: AudioModels | None = None,
    narrow_band: bool = True,
) -> str:
    """Embed every track with audio that the current index lacks, and publish the grown index (if it grew).

    A new model version means new embeddings, so the index is rebuilt from scratch when the model changed (or the
    space it is searched in: the embedder's `whiten`).
    `seconds`: audio analysed per track (`features.windows`); tests use less to stay quick. `models`: the caller's
    loaded models (a scheduler that indexes every run keeps one), else the model is loaded for this call.
    `narrow_band`: also publish the telephone-band copy of the catalogue (`band.py`; about ×1.8 the embedding
    time); tests that do not query narrow-band clips leave it out to stay quick.
    """
    t0 = time.perf_counter()
    embedder = load_embedder(store, models or AudioModels())
    identity, whiten = embedder_identity(embedder), embedder.whiten
    meta = store.meta(INDEX_ARTIFACT)
    current = None
    published = store.path(INDEX_ARTIFACT)
    same = (
        meta.get("model") == identity
        and meta.get("model_path") == embedder_location(embedder)
        and meta.get("whiten") == whiten
    )
    if same and published is not None:
        try:
            current = AudioIndex.load(published)
        except Exception:  # noqa: BLE001 - a damaged index is rebuilt, not served; logged with its traceback
            log.exception("published audio index %s does not load; building it again", published.name)
    narrow = load_narrow(published) if current is not None and published is not None else None
    known = current.track_ids if current is not None else set()
    # tracks whose audio could not be used (silent, damaged) are remembered, not retried on every run
    unreadable = set(meta.get("unreadable", [])) if current is not None else set()
    todo = [(t, p) for t, p in corpus.tracks_with_audio() if t not in known and t not in unreadable]
    narrow_known = narrow.track_ids if narrow is not None else set()
    prints = FingerprintIndex.load_beside(published) if current is not None and published is not None else None
    printed = prints.track_ids if prints is not None else set()
    if not todo and (not narrow_band or known == narrow_known) and known == printed:
        return f"audio index up to date ({len(known)} tracks)"
    cache = settings.home / "cache" / "audio-slices"
    embs, owners, failed = [], [], 0
    with progress("audio index", total=len(todo), unit="tracks") as bar:
        for track_id, path in todo:
            try:
                x = track_slices(Path(path), seconds, cache, embedder.patches, embedder.feature_id)
            except (AudioError, OSError) as exc:
                failed += 1
                unreadable.add(track_id)
                log.warning("cannot index track %s (%s): %s", track_id, path, exc)
                bar.update(1)
                continue
            emb, _ = embedder.embed(x)
            embs.append(emb)
            owners.append(np.full(len(emb), track_id))
            bar.update(1)
    if embs:
        new_embs, new_owners = np.concatenate(embs), np.concatenate(owners)
        if current is not None:
            index = current.add(new_embs, new_owners)
        else:
            index = AudioIndex(whiten=whiten).fit(new_embs, new_owners)
    elif current is not None:
        index = current
    else:
        return f"no audio index: none of the {failed} tracks with audio could be read"
    if narrow_band:
        narrow = _grow_narrow(narrow, index.track_ids, corpus, embedder, seconds, cache)
    prints = _grow_fingerprints(prints, index.track_ids, corpus, seconds, cache)
    with store.staging(INDEX_ARTIFACT) as staged:
        index.save(staged)
        prints.save(staged / FINGERPRINTS)
        banded = narrow is not None and narrow.track_ids == index.track_ids
        if banded:
            assert narrow is not None
            (staged / BAND_ID).mkdir()
            narrow.save(staged / BAND_ID)
        version = store.publish(
            INDEX_ARTIFACT,
            staged,
            {
                "model": identity,
                "model_path": embedder_location(embedder),
                "tracks": len(index.track_ids),
                "slices": len(index),
                "unreadable": sorted(unreadable),
                "narrow_band": BAND_ID if banded else None,
                "fingerprints": len(prints),
                "whiten": whiten,
                "whitened": index.whitening.dims if index.whitening is not None else None,
            },
        )
    store.prune(INDEX_ARTIFACT, keep_last=3)
    return (
        f"audio index {version}: {len(index.track_ids)} tracks, {len(index)} slices "
        f"(+{len(embs)} tracks, {failed} unreadable; telephone-band copy: {'yes' if banded else 'no'}; "
        f"{len(prints):,} landmark hashes) "
        f"in {time.perf_counter() - t0:.0f}s"
    )


def _grow_narrow(
    narrow: AudioIndex | None,
    tracks: set[int],
    corpus: Corpus,
    embedder: AudioEmbedder,
    seconds: float,
    cache: Path,
) -> AudioIndex:
    """The index's second set of vectors (band.py), grown to `tracks`: each track embedded by the same model from
    its audio band-limited to the telephone band, so a narrow-band clip meets the catalogue in its own band. An
    index published before this existed gets the whole set on its next run. It has its own whitening (the embedder's
    `whiten`), fitted on the band-limited catalogue: the space of the clips it answers."""
    have = narrow.track_ids if narrow is not None else set()
    todo = [(t, p) for t, p in corpus.tracks_with_audio() if t in tracks and t not in have]
    patches, feature_id = narrow_patches(embedder.patches), f"{embedder.feature_id}|{BAND_ID}"
    embs, owners = [], []
    with progress("audio index, telephone band", total=len(todo), unit="tracks") as bar:
        for track_id, path in todo:
            emb, _ = embedder.embed(track_slices(Path(path), seconds, cache, patches, feature_id))
            embs.append(emb)
            owners.append(np.full(len(emb), track_id))
            bar.update(1)
    if not embs:
        return narrow if narrow is not None else AudioIndex(whiten=embedder.whiten)
    new_embs, new_owners = np.concatenate(embs), np.concatenate(owners)
    if narrow is not None:
        return narrow.add(new_embs, new_owners)
    return AudioIndex(whiten=embedder.whiten).fit(new_embs, new_owners)


def _grow_fingerprints(
    prints: FingerprintIndex | None, tracks: set[int], corpus: Corpus, seconds: float, cache: Path
) -> FingerprintIndex:
    """The index's landmark fingerprints (fingerprint.py), grown to `tracks`: what tells a clip of an indexed
    recording, even played in a room, from music that only sounds like it. A few tenths of a second per track."""
    have = prints.track_ids if prints is not None else set()
    todo = [(t, p) for t, p in corpus.tracks_with_audio() if t in tracks and t not in have]
    new: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    with progress("audio index, landmarks", total=len(todo), unit="tracks") as bar:
        for track_id, path in todo:
            try:
                new[track_id] = track_fingerprint(Path(path), seconds, cache)
            except (AudioError, OSError) as exc:  # indexed by sound, unreadable now: matched by sound alone
                log.warning("no landmarks for track %s (%s): %s", track_id, path, exc)
                new[track_id] = (np.zeros(0, np.uint32), np.zeros(0, np.int32))  # not retried on every run
            bar.update(1)
    if prints is None:
        return FingerprintIndex.of_tracks(new)
    return prints.add(new) if new else prints
