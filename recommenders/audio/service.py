"""What the bots call for an audio clip: decode (bounded), embed, search the audio index, rank tracks, and the
label probabilities (also drawn as a small bar chart PNG)."""

from __future__ import annotations

import io
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from data.settings import Settings
from recommenders.artifacts import ArtifactStore, LiveModel
from recommenders.audio.embedder import DEFAULT_MODEL_DIR, Embedder
from recommenders.audio.features import SR, AudioError, window_audio
from recommenders.audio.index import AudioIndex
from recommenders.base import Recommendation

log = logging.getLogger(__name__)
INDEX_ARTIFACT = "audio-index"
MODEL_ARTIFACT = "audio-model"
__all__ = ["AudioError", "AudioService", "ClipResult", "load_audio_service", "render_label_chart"]


@dataclass(frozen=True)
class ClipResult:
    recommendations: list[Recommendation]
    labels: list[tuple[str, float]]
    seconds_analysed: float


def model_dir(store: ArtifactStore) -> Path:
    """The published audio model if any, else the one shipped with the code."""
    return store.path(MODEL_ARTIFACT) or DEFAULT_MODEL_DIR


class AudioService:
    def __init__(self, embedder: Embedder, index: LiveModel[AudioIndex] | AudioIndex, settings: Settings) -> None:
        self.embedder = embedder
        self._index = index
        self.settings = settings

    @property
    def index(self) -> AudioIndex | None:
        return self._index.get() if isinstance(self._index, LiveModel) else self._index

    @property
    def description(self) -> str:
        m = self.embedder.meta.get("metrics", {})
        acc = f", held-out track accuracy {m['test_track_accuracy']:.0%}" if "test_track_accuracy" in m else ""
        index = self.index
        size = f", {len(index.track_ids)} tracks indexed" if index is not None else ""
        return f"CNN on log-mel slices over {', '.join(self.embedder.labels)}{acc}{size}"

    def recommend_clip(self, data: bytes | Path, k: int = 10, *, exclude_track: int | None = None) -> ClipResult:
        t0 = time.perf_counter()
        # the catalogue's windowing and slicing (features.windows), within the query's own time budget
        audio = window_audio(data, max_bytes=self.settings.max_audio_bytes, budget=self.settings.max_audio_seconds)
        x = np.concatenate([self.embedder.patches(y) for y in audio])
        emb, probs = self.embedder.embed(x)
        mean = probs.mean(axis=0)
        labels = sorted(zip(self.embedder.labels, (float(p) for p in mean), strict=True), key=lambda lp: -lp[1])
        index = self.index
        recs = index.query(emb, k, exclude_track=exclude_track) if index is not None else []
        seconds = sum(len(y) for y in audio) / SR
        log.info("clip: %d slices, %.2fs, top label %s", len(x), time.perf_counter() - t0, labels[0][0])
        return ClipResult(recs, labels, seconds)


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
    """The service over the published audio index, or None while there is no index (or no model)."""
    store = ArtifactStore(settings.models_dir)
    if store.current_version(INDEX_ARTIFACT) is None:
        return None
    directory = model_dir(store)
    if not (directory / "model.keras").exists():
        return None
    return AudioService(Embedder.load(directory), LiveModel(store, INDEX_ARTIFACT, AudioIndex.load), settings)
