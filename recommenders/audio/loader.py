"""`AudioModels`: the audio models one owner has loaded, by location, so that owner loads each model once.

Loading a Keras model (and tracing its forward pass) takes seconds, so whoever loads models repeatedly keeps them:
the serving snapshot builder across swaps (a new audio index usually comes with the same model), a job scheduler or
an arq worker across the runs of its jobs, an evaluation across its tables. Each of them creates one `AudioModels`
and passes it down; nothing is cached process-wide, so two owners never share (or pin) each other's models.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from recommenders.audio.embedder import Embedder
from recommenders.audio.head import HeadEmbedder, head_base_path
from recommenders.audio.pretrained import DEFAULT_PRETRAINED, PretrainedEmbedder

T = TypeVar("T")


class AudioModels:
    """Loaded models by (kind, location), the `maxsize` most recently asked for kept. Safe to share between threads
    (a model is loaded under the lock, so two threads asking at once load it once)."""

    def __init__(self, maxsize: int = 4) -> None:
        self.maxsize = maxsize
        self._loaded: OrderedDict[tuple[str, Path, str], object] = OrderedDict()
        self._lock = threading.RLock()

    def _get(self, key: tuple[str, Path, str], load: Callable[[], T]) -> T:
        with self._lock:
            if key in self._loaded:
                self._loaded.move_to_end(key)
            else:
                self._loaded[key] = load()
                while len(self._loaded) > self.maxsize:
                    self._loaded.popitem(last=False)
            return self._loaded[key]  # type: ignore[return-value]

    def pretrained(self, path: Path = DEFAULT_PRETRAINED, embedding: str = "pooled") -> PretrainedEmbedder:
        """The pretrained music CNN at `path` (a converted `.keras` file)."""
        return self._get(("pretrained", Path(path), embedding), lambda: PretrainedEmbedder(Path(path), embedding))

    def conv1d(self, model_dir: Path) -> Embedder:
        """The log-mel Conv1D model folder `model_dir`."""
        return self._get(("conv1d", Path(model_dir), ""), lambda: Embedder(Path(model_dir)))

    def head(self, model_dir: Path) -> HeadEmbedder:
        """The head folder `model_dir` on its pretrained base (the base is shared with `pretrained`)."""
        return self._get(
            ("head", Path(model_dir), ""),
            lambda: HeadEmbedder(Path(model_dir), self.pretrained(head_base_path(Path(model_dir)))),
        )
