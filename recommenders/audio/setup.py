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
from recommenders.audio.features import CATALOGUE_SECONDS, AudioError
from recommenders.audio.index import AudioIndex
from recommenders.audio.loader import AudioModels
from recommenders.audio.service import INDEX_ARTIFACT, embedder_identity, embedder_location, load_embedder
from recommenders.audio.train import track_slices

log = logging.getLogger(__name__)


def ensure_index(
    corpus: Corpus,
    store: ArtifactStore,
    settings: Settings,
    seconds: float = CATALOGUE_SECONDS,
    models: AudioModels | None = None,
) -> str:
    """Embed every track with audio that the current index lacks, and publish the grown index (if it grew).

    A new model version means new embeddings, so the index is rebuilt from scratch when the model changed.
    `seconds`: audio analysed per track (`features.windows`); tests use less to stay quick. `models`: the caller's
    loaded models (a scheduler that indexes every run keeps one), else the model is loaded for this call.
    """
    t0 = time.perf_counter()
    embedder = load_embedder(store, models or AudioModels())
    identity = embedder_identity(embedder)
    meta = store.meta(INDEX_ARTIFACT)
    current = None
    published = store.path(INDEX_ARTIFACT)
    same = meta.get("model") == identity and meta.get("model_path") == embedder_location(embedder)
    if same and published is not None:
        try:
            current = AudioIndex.load(published)
        except Exception:  # noqa: BLE001 - a damaged index is rebuilt, not served; logged with its traceback
            log.exception("published audio index %s does not load; building it again", published.name)
    known = current.track_ids if current is not None else set()
    # tracks whose audio could not be used (silent, damaged) are remembered, not retried on every run
    unreadable = set(meta.get("unreadable", [])) if current is not None else set()
    todo = [(t, p) for t, p in corpus.tracks_with_audio() if t not in known and t not in unreadable]
    if not todo:
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
        index = current.add(new_embs, new_owners) if current is not None else AudioIndex().fit(new_embs, new_owners)
    elif current is not None:
        index = current
    else:
        return f"no audio index: none of the {failed} tracks with audio could be read"
    with store.staging(INDEX_ARTIFACT) as staged:
        index.save(staged)
        version = store.publish(
            INDEX_ARTIFACT,
            staged,
            {
                "model": identity,
                "model_path": embedder_location(embedder),
                "tracks": len(index.track_ids),
                "slices": len(index),
                "unreadable": sorted(unreadable),
            },
        )
    store.prune(INDEX_ARTIFACT, keep_last=3)
    return (
        f"audio index {version}: {len(index.track_ids)} tracks, {len(index)} slices "
        f"(+{len(embs)} tracks, {failed} unreadable) in {time.perf_counter() - t0:.0f}s"
    )
