"""What the bots call for an audio clip: decode (bounded), embed, search the audio index ("sounds alike"), match
the clip's tags to the catalogue's Last.fm tags ("tagged alike"), and the tag probabilities (also drawn as a small
bar chart PNG); a clip that fits nothing the model knows is answered as such."""

from __future__ import annotations

import io
import logging
import time
from collections.abc import Hashable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from data.corpus import Corpus
from data.settings import Settings
from recommenders.artifacts import ArtifactStore
from recommenders.audio.band import load_narrow, matched_query
from recommenders.audio.calibrate import UnsureModel, unsure_features
from recommenders.audio.embedder import DEFAULT_MODEL_DIR, AudioEmbedder, Embedder
from recommenders.audio.features import SR, AudioError, window_audio
from recommenders.audio.fingerprint import FingerprintIndex, identified_first
from recommenders.audio.head import HeadEmbedder, is_head
from recommenders.audio.index import AudioIndex
from recommenders.audio.loader import AudioModels
from recommenders.audio.pretrained import PretrainedEmbedder
from recommenders.audio.tags import ShownPicks, TagBridge
from recommenders.base import Recommendation
from recommenders.tags import TagIndex

log = logging.getLogger(__name__)
INDEX_ARTIFACT = "audio-index"
MODEL_ARTIFACT = "audio-model"
__all__ = [
    "AudioError",
    "AudioModels",
    "AudioService",
    "ClipResult",
    "load_audio_pair",
    "load_audio_service",
    "render_label_chart",
]


@dataclass(frozen=True)
class ClipResult:
    """`recommendations`: the "sounds alike" picks (tracks with audio, by embedding) then the "tagged alike"
    picks (catalogue tracks whose Last.fm tags fit), each with its reason; `labels`: the clip's tags or labels with
    probabilities, best first; `unsure`: the clip fits nothing the model knows (noise, speech), and then there
    are no recommendations."""

    recommendations: list[Recommendation]
    labels: list[tuple[str, float]]
    seconds_analysed: float
    unsure: bool = False
    confidence: float = 1.0


def load_embedder(store: ArtifactStore, models: AudioModels) -> AudioEmbedder:
    """A published (trained) Conv1D model if there is one; else the pretrained music CNN once converted; else the
    Conv1D model shipped with the code (each from the caller's `models`)."""
    published = store.path(MODEL_ARTIFACT)
    if published is not None:
        return embedder_at(str(published), models)
    if PretrainedEmbedder.available():
        return models.pretrained()
    return models.conv1d(DEFAULT_MODEL_DIR)


def embedder_identity(embedder: AudioEmbedder) -> str:
    """What an index records of the model that embedded it: its version and its features."""
    return f"{embedder.version}|{embedder.feature_id}"


def embedder_location(embedder: AudioEmbedder) -> str:
    """Where an embedder is loaded from (the pretrained model's file, or a Conv1D model's folder)."""
    if isinstance(embedder, PretrainedEmbedder):
        return str(embedder.path)
    assert isinstance(embedder, (Embedder, HeadEmbedder))
    return str(embedder.model_dir)


def embedder_at(location: str, models: AudioModels) -> AudioEmbedder:
    """The model stored at `location` (from the caller's `models`): the pretrained model's file, a head on it, or a
    log-mel Conv1D folder."""
    path = Path(location)
    if path.suffix == ".keras":
        return models.pretrained(path)
    return models.head(path) if is_head(path) else models.conv1d(path)


class AudioService:
    """Safe to call from several threads at once: the embedder serialises its model calls, the index and the tag
    bridge are read-only."""

    def __init__(
        self,
        embedder: AudioEmbedder,
        index: AudioIndex | None,
        settings: Settings,
        bridge: TagBridge | None = None,
        narrow: AudioIndex | None = None,
        fingerprints: FingerprintIndex | None = None,
    ) -> None:
        self.embedder = embedder
        self.index = index
        self.settings = settings
        self.bridge = bridge
        self.narrow = narrow  # the catalogue band-limited to the telephone band, for narrow-band clips (band.py)
        self.fingerprints = fingerprints  # which indexed recording a clip is, if any (fingerprint.py)
        # "I am not sure what this is": calibrated for the pretrained tagger only (recommenders/audio/calibrate.py)
        self.unsure = UnsureModel.load(embedder.version)

    @property
    def description(self) -> str:
        index = self.index
        size = f", {len(index.track_ids)} tracks indexed by sound" if index is not None else ""
        if index is not None and index.whitening is not None:
            size += f" (whitened to {index.whitening.dims} dimensions)"
        tagged = f", {len(self.bridge):,} catalogue tracks reachable by tags" if self.bridge is not None else ""
        if isinstance(self.embedder, PretrainedEmbedder):
            return f"{self.embedder.description}{size}{tagged}"
        m = self.embedder.meta.get("metrics", {})
        acc = f", held-out track accuracy {m['test_track_accuracy']:.0%}" if "test_track_accuracy" in m else ""
        on = "musicnn frames" if isinstance(self.embedder, HeadEmbedder) else "log-mel slices"
        return f"Conv1D CNN on {on} over {', '.join(self.embedder.labels)}{acc}{size}"

    def recommend_clip(
        self,
        data: bytes | Path,
        k: int = 10,
        *,
        exclude_track: int | None = None,
        shown: ShownPicks | None = None,
        chat: Hashable = None,
    ) -> ClipResult:
        """`shown`: what each chat was shown lately, left out of `chat`'s tagged-alike picks, which are recorded
        there in the same step (`ShownPicks.choose`)."""
        t0 = time.perf_counter()
        # the catalogue's windowing and slicing (features.windows), within the query's own time budget
        audio = window_audio(data, max_bytes=self.settings.max_audio_bytes, budget=self.settings.max_audio_seconds)
        # the clip as recorded (before any band matching): its landmarks lie in the band every clip keeps
        found = (
            self.fingerprints.identify(np.concatenate(audio), exclude_track) if self.fingerprints is not None else None
        )
        audio, narrow = matched_query(audio, self.narrow is not None)
        x = np.concatenate([self.embedder.patches(y) for y in audio])
        emb, probs = self.embedder.embed(x)
        mean = probs.mean(axis=0)
        labels = sorted(zip(self.embedder.labels, (float(p) for p in mean), strict=True), key=lambda lp: -lp[1])
        seconds = sum(len(y) for y in audio) / SR
        confidence = 1.0
        if self.unsure is not None:
            confidence = self.unsure.p_music(unsure_features(emb, probs))
            if confidence < self.unsure.threshold and found is None:  # one of our recordings is music
                log.info("clip: %.2fs, not music (p %.3f)", time.perf_counter() - t0, confidence)
                return ClipResult([], labels, seconds, unsure=True, confidence=confidence)
        index = self.narrow if narrow else self.index
        sounds = index.query(emb, k, exclude_track=exclude_track) if index is not None else []
        sounds = identified_first(sounds, found, k)
        tagged: list[Recommendation] = []
        if self.bridge is not None and len(self.bridge):
            sounds = sounds[: max(1, k // 2)]  # half the picks by sound, the rest from the whole catalogue by tags
            exclude = {r.track_id for r in sounds} | ({exclude_track} if exclude_track is not None else set())
            bridge, n = self.bridge, k - len(sounds)

            def pick(avoid: frozenset[int]) -> list[Recommendation]:
                return bridge.recommend(mean, n, exclude=exclude | avoid)

            tagged = shown.choose(chat, pick) if shown is not None else pick(frozenset())
        recs = sounds + tagged
        log.info("clip: %d patches, %.2fs, top label %s", len(x), time.perf_counter() - t0, labels[0][0])
        return ClipResult(recs, labels, seconds, confidence=confidence)


def render_label_chart(labels: list[tuple[str, float]]) -> bytes:
    """A small horizontal bar chart of the label probabilities, as PNG bytes."""
    # lazy: matplotlib adds ~0.4 s to the bot's start; only a clip's chart needs it
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    shown = labels[:8]
    fig = Figure(figsize=(4, 0.4 + 0.35 * len(shown)), dpi=100)
    ax = fig.add_subplot()
    names = [n for n, _ in shown][::-1]
    values = [p for _, p in shown][::-1]
    ax.barh(names, values, color="#5865F2")
    ax.set_xlim(0, 1)
    for i, v in enumerate(values):
        ax.text(min(v + 0.02, 0.85), i, f"{v:.0%}", va="center", fontsize=8)
    ax.set_xlabel("probability")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def load_audio_pair(
    index_path: Path, meta: Mapping[str, Any], settings: Settings, tags: TagIndex, models: AudioModels
) -> AudioService:
    """The service over one published index and the very model that embedded it (the index's meta names it), so a
    query is never embedded by one model and compared against vectors of another. With the pretrained tagger, the
    tag bridge reads the corpus's tag index `tags` (the one the serving snapshot holds). The model comes from the
    caller's `models` (the snapshot builder keeps one across swaps, so an index published for the same model reuses
    the loaded model)."""
    embedder = embedder_at(meta["model_path"], models)
    if embedder_identity(embedder) != meta.get("model"):
        raise ValueError(f"index was built with {meta.get('model')}, but {meta['model_path']} now holds "
                         f"{embedder_identity(embedder)}")  # fmt: skip
    bridge = TagBridge(tags, embedder.labels) if isinstance(embedder, PretrainedEmbedder) else None
    return AudioService(
        embedder,
        AudioIndex.load(index_path),
        settings,
        bridge,
        load_narrow(index_path),
        FingerprintIndex.load_beside(index_path),
    )


def load_audio_service(settings: Settings, corpus: Corpus, models: AudioModels | None = None) -> AudioService | None:
    """The service over the published audio index (for the command line), or None while there is none. `models`:
    the caller's loaded models to reuse, if it keeps any."""
    store = ArtifactStore(settings.models_dir)
    version = store.current_version(INDEX_ARTIFACT)
    if version is None:
        return None
    path = store.path(INDEX_ARTIFACT, version)
    assert path is not None
    meta = store.meta(INDEX_ARTIFACT, version)
    models = models or AudioModels()
    with ThreadPoolExecutor(1, thread_name_prefix="murecom-model-load") as pool:
        # the model (TensorFlow's import and the traced graph: most of a cold start) loads into `models` while the
        # corpus's tags are read; `load_audio_pair` then finds it loaded (or waits on `models` for it to be)
        pool.submit(embedder_at, meta["model_path"], models)
        tags = TagIndex.from_corpus(corpus)
        return load_audio_pair(path, meta, settings, tags, models)
