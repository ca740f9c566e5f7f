"""What the bots call for an audio clip: decode (bounded), embed, search the audio index ("sounds alike"), match
the clip's tags to the catalogue's Last.fm tags ("tagged alike"), and the tag probabilities (also drawn as a small
bar chart PNG); a clip that fits nothing the model knows is answered as such."""

from __future__ import annotations

import io
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from data.settings import Settings
from recommenders.artifacts import ArtifactStore, LiveModel
from recommenders.audio.calibrate import UnsureModel, unsure_features
from recommenders.audio.embedder import DEFAULT_MODEL_DIR, AudioEmbedder, Embedder
from recommenders.audio.features import SR, AudioError, window_audio
from recommenders.audio.index import AudioIndex
from recommenders.audio.pretrained import PretrainedEmbedder
from recommenders.audio.tags import TagBridge
from recommenders.base import Recommendation

log = logging.getLogger(__name__)
INDEX_ARTIFACT = "audio-index"
MODEL_ARTIFACT = "audio-model"
__all__ = ["AudioError", "AudioService", "ClipResult", "load_audio_service", "render_label_chart"]


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


def load_embedder(store: ArtifactStore) -> AudioEmbedder:
    """A published (trained) Conv1D model if there is one; else the pretrained music CNN once converted; else the
    Conv1D model shipped with the code."""
    published = store.path(MODEL_ARTIFACT)
    if published is not None:
        return Embedder.load(published)
    if PretrainedEmbedder.available():
        return PretrainedEmbedder.load()
    return Embedder.load(DEFAULT_MODEL_DIR)


class AudioService:
    """Safe to call from several threads at once: the embedder serialises its model calls, the index and the tag
    bridge are read-only."""

    def __init__(
        self,
        embedder: AudioEmbedder,
        index: LiveModel[AudioIndex] | AudioIndex | None,
        settings: Settings,
        bridge: TagBridge | None = None,
    ) -> None:
        self.embedder = embedder
        self._index = index
        self.settings = settings
        self.bridge = bridge
        # "I am not sure what this is": calibrated for the pretrained tagger only (recommenders/audio/calibrate.py)
        self.unsure = UnsureModel.load(embedder.version)

    @property
    def index(self) -> AudioIndex | None:
        return self._index.get() if isinstance(self._index, LiveModel) else self._index

    @property
    def description(self) -> str:
        index = self.index
        size = f", {len(index.track_ids)} tracks indexed by sound" if index is not None else ""
        tagged = f", {len(self.bridge):,} catalogue tracks reachable by tags" if self.bridge is not None else ""
        if isinstance(self.embedder, PretrainedEmbedder):
            return f"{self.embedder.description}{size}{tagged}"
        m = self.embedder.meta.get("metrics", {})
        acc = f", held-out track accuracy {m['test_track_accuracy']:.0%}" if "test_track_accuracy" in m else ""
        return f"CNN on log-mel slices over {', '.join(self.embedder.labels)}{acc}{size}"

    def recommend_clip(self, data: bytes | Path, k: int = 10, *, exclude_track: int | None = None) -> ClipResult:
        t0 = time.perf_counter()
        # the catalogue's windowing and slicing (features.windows), within the query's own time budget
        audio = window_audio(data, max_bytes=self.settings.max_audio_bytes, budget=self.settings.max_audio_seconds)
        x = np.concatenate([self.embedder.patches(y) for y in audio])
        emb, probs = self.embedder.embed(x)
        mean = probs.mean(axis=0)
        labels = sorted(zip(self.embedder.labels, (float(p) for p in mean), strict=True), key=lambda lp: -lp[1])
        seconds = sum(len(y) for y in audio) / SR
        confidence = 1.0
        if self.unsure is not None:
            confidence = self.unsure.p_music(unsure_features(emb, probs))
            if confidence < self.unsure.threshold:
                log.info("clip: %.2fs, not music (p %.3f)", time.perf_counter() - t0, confidence)
                return ClipResult([], labels, seconds, unsure=True, confidence=confidence)
        index = self.index
        sounds = index.query(emb, k, exclude_track=exclude_track) if index is not None else []
        tagged: list[Recommendation] = []
        if self.bridge is not None and len(self.bridge):
            sounds = sounds[: max(1, k // 2)]  # half the picks by sound, the rest from the whole catalogue by tags
            exclude = {r.track_id for r in sounds} | ({exclude_track} if exclude_track is not None else set())
            tagged = self.bridge.recommend(mean, k - len(sounds), exclude=exclude)
        recs = sounds + tagged
        log.info("clip: %d patches, %.2fs, top label %s", len(x), time.perf_counter() - t0, labels[0][0])
        return ClipResult(recs, labels, seconds, confidence=confidence)


def render_label_chart(labels: list[tuple[str, float]]) -> bytes:
    """A small horizontal bar chart of the label probabilities, as PNG bytes."""
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


def load_audio_service(settings: Settings) -> AudioService | None:
    """The service over the published audio index, or None while there is no index. With the pretrained tagger,
    the tag bridge over the corpus's tagged tracks comes along (built once, a second or two)."""
    store = ArtifactStore(settings.models_dir)
    if store.current_version(INDEX_ARTIFACT) is None:
        return None
    embedder = load_embedder(store)
    bridge = None
    if isinstance(embedder, PretrainedEmbedder):
        from data.corpus import Corpus
        from data.db import get_engine

        bridge = TagBridge.from_corpus(Corpus(get_engine(settings.database_url)), embedder.labels)
    return AudioService(embedder, LiveModel(store, INDEX_ARTIFACT, AudioIndex.load), settings, bridge)
