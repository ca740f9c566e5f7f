"""Publishing an audio model for tests that swap models while the bot serves."""

from __future__ import annotations

import json
import shutil

from recommenders.artifacts import ArtifactStore
from recommenders.audio.embedder import DEFAULT_MODEL_DIR
from recommenders.audio.service import MODEL_ARTIFACT


def publish_shipped_model_as(store: ArtifactStore, version: str) -> str:
    """Publish the shipped Conv1D model's real weights as a new audio model version (no index is built with it)."""
    with store.staging(MODEL_ARTIFACT) as staged:
        for item in DEFAULT_MODEL_DIR.iterdir():
            shutil.copy2(item, staged / item.name)
        meta = {**json.loads((staged / "meta.json").read_text()), "version": version}
        (staged / "meta.json").write_text(json.dumps(meta))
        return store.publish(MODEL_ARTIFACT, staged, meta)
