"""Importing TensorFlow without its native start-up lines reaching the console chat.

`import tensorflow` (2.21) prints, from C++ straight to file descriptor 2 and before absl's logging is
initialised, a banner ("WARNING: All log messages before absl::InitializeLog() …"), a oneDNN note and a CPU
feature note, twice. `TF_CPP_MIN_LOG_LEVEL` does not reach them, and turning oneDNN off (which also silences them)
halves inference speed on these CPUs. So the import runs with descriptor 2 led through a pipe: those lines are
dropped, every other line (our own log records from other threads, a real error) is passed on unchanged.
"""

from __future__ import annotations

import os
import re
import sys
import threading
from types import ModuleType
from typing import Any

import numpy as np

NATIVE_NOISE = re.compile(
    rb"^(WARNING: All log messages before absl::InitializeLog\(\)|I0000 \S+ +\d+ (port|cpu_feature_guard)\.cc"
    rb"|To enable the following instructions:|rebuild TensorFlow with the appropriate compiler flags)"
)
_lock = threading.Lock()


def import_tensorflow() -> ModuleType:
    """The `tensorflow` module, imported once with its native start-up notes filtered out of stderr."""
    with _lock:
        if "tensorflow" in sys.modules:
            return sys.modules["tensorflow"]
        with filtered_stderr(NATIVE_NOISE):
            # lazy: the one import of TensorFlow (seconds), with its start-up notes filtered
            import tensorflow
        return tensorflow


class filtered_stderr:  # noqa: N801 - used as a context manager, named like one
    """Within the block, lines written to file descriptor 2 that match `noise` are dropped; the rest pass through
    (in order) to the real stderr once written."""

    def __init__(self, noise: re.Pattern[bytes]) -> None:
        self.noise = noise
        self._saved = -1
        self._reader: threading.Thread | None = None

    def __enter__(self) -> filtered_stderr:
        sys.stderr.flush()
        read_end, write_end = os.pipe()
        self._saved = os.dup(2)
        os.dup2(write_end, 2)
        os.close(write_end)
        self._reader = threading.Thread(target=self._pump, args=(read_end, self._saved), daemon=True)
        self._reader.start()
        return self

    def _pump(self, read_end: int, out: int) -> None:
        with os.fdopen(read_end, "rb") as pipe:
            for line in pipe:
                if not self.noise.match(line):
                    os.write(out, line)

    def __exit__(self, *exc: object) -> None:
        sys.stderr.flush()
        os.dup2(self._saved, 2)  # closes the pipe's last write end: the reader sees end-of-file and finishes
        assert self._reader is not None
        self._reader.join()
        os.close(self._saved)


class BatchedForward:
    """A Keras model's forward pass as one traced TensorFlow graph over any batch size, run in batches under a lock
    (the bot's worker threads share one model).

    `Model.predict` builds a tf.data pipeline on every call (a third of a 30 s clip's time on 2 cores) and an eager
    call runs op by op; one `tf.function` with a batch-agnostic signature is traced once and then only executed."""

    def __init__(self, model: Any) -> None:
        tf = import_tensorflow()
        spec = tf.TensorSpec((None, *model.input_shape[1:]), tf.float32)
        self._forward = tf.function(lambda x: model(x, training=False), input_signature=[spec])
        self._lock = threading.Lock()

    def __call__(self, x: np.ndarray, batch_size: int = 64) -> list[np.ndarray]:
        """The model's outputs (one array per output, in order) for `x`."""
        parts: list[list[np.ndarray]] = []
        with self._lock:
            for start in range(0, max(1, len(x)), batch_size):
                out = self._forward(np.ascontiguousarray(x[start : start + batch_size], np.float32))
                parts.append([t.numpy() for t in (out if isinstance(out, (list, tuple)) else [out])])
        return [np.concatenate(p) for p in zip(*parts, strict=True)]
