"""`murecom eval --audio`: the shipped (or published) audio model on its held-out test tracks.

- classification: per-slice and per-track accuracy, and the confusion matrix (PNG);
- retrieval: the training + validation tracks form the index, each test track is a query; label precision@k of
  the ranked tracks and mean average precision. The baseline runs through the very same slice index and voting,
  with MFCC mean/std features (20 coefficients over each 3 s slice) instead of the CNN's embeddings.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from recommenders.audio.embedder import Embedder
from recommenders.audio.features import SR, AudioError
from recommenders.audio.index import AudioIndex
from recommenders.audio.train import Clip, track_slices

K = 5


def _mfcc_slices(x: np.ndarray) -> np.ndarray:
    """MFCC mean/std per slice, from the same log-mel slices the CNN sees."""
    import librosa

    feats = []
    for s in x:
        mfcc = librosa.feature.mfcc(S=s.T, sr=SR, n_mfcc=20)
        feats.append(np.concatenate([mfcc.mean(axis=1), mfcc.std(axis=1)]))
    f = np.asarray(feats, np.float32)
    return f


def _retrieval(index_vecs, index_owners, query_sets, labels_of, query_labels, k: int = K) -> dict[str, float]:
    index = AudioIndex().fit(index_vecs, index_owners)
    precisions, aps = [], []
    n_items = len(set(index_owners.tolist()))
    for vecs, label in zip(query_sets, query_labels, strict=True):
        ranked = index.query(vecs, n_items)
        rel = [labels_of[r.track_id] == label for r in ranked]
        precisions.append(float(np.mean(rel[:k])))
        hits, total = 0, 0.0
        for i, r in enumerate(rel, 1):
            if r:
                hits += 1
                total += hits / i
        aps.append(total / max(1, sum(rel)))
    return {f"precision@{k}": float(np.mean(precisions)), "MAP": float(np.mean(aps))}


def evaluate_audio(model_dir: Path, data_dir: Path, cache_dir: Path | None, out_dir: Path) -> dict[str, Any]:
    embedder = Embedder.load(model_dir)
    meta = embedder.meta
    labels = embedder.labels
    window = float(meta["params"]["window"])
    split = {name: [Clip(data_dir / key, key.split("/")[0]) for key in keys] for name, keys in meta["split"].items()}
    missing = [c.path for part in split.values() for c in part if not c.path.exists()]
    if missing:
        raise FileNotFoundError(f"{len(missing)} clips of the model's split are missing under {data_dir}")
    slices = {}
    for part in split.values():
        for c in part:
            try:
                slices[c.key] = track_slices(c.path, window, cache_dir)
            except AudioError:  # e.g. the silent file some soundtrack packages ship
                continue
    split = {name: [c for c in part if c.key in slices] for name, part in split.items()}
    emb = {key: embedder.embed(x) for key, x in slices.items()}

    # classification on the test tracks
    conf = np.zeros((len(labels), len(labels)), int)
    slice_hits, slice_total = 0, 0
    for c in split["test"]:
        probs = emb[c.key][1]
        truth = labels.index(c.label)
        slice_hits += int(np.sum(np.argmax(probs, axis=1) == truth))
        slice_total += len(probs)
        conf[truth, int(np.argmax(probs.mean(axis=0)))] += 1
    result: dict[str, Any] = {
        "labels": labels,
        "test_tracks": len(split["test"]),
        "slice_accuracy": slice_hits / slice_total,
        "track_accuracy": float(np.trace(conf) / conf.sum()),
        "confusion": conf.tolist(),
    }

    # retrieval: index = train + val tracks, queries = test tracks
    base = split["train"] + split["val"]
    ids = {c.key: i for i, c in enumerate(base)}
    labels_of = {i: c.label for c, i in ((c, ids[c.key]) for c in base)}
    owners = np.concatenate([np.full(len(slices[c.key]), ids[c.key]) for c in base])
    q_labels = [c.label for c in split["test"]]
    cnn_index = np.concatenate([emb[c.key][0] for c in base])
    result["cnn"] = _retrieval(cnn_index, owners, [emb[c.key][0] for c in split["test"]], labels_of, q_labels)
    mf = {key: _mfcc_slices(x) for key, x in slices.items()}
    mu = np.concatenate([mf[c.key] for c in base]).mean(axis=0)
    sd = np.concatenate([mf[c.key] for c in base]).std(axis=0) + 1e-6
    mfcc_index = np.concatenate([(mf[c.key] - mu) / sd for c in base])
    result["mfcc"] = _retrieval(mfcc_index, owners, [(mf[c.key] - mu) / sd for c in split["test"]], labels_of, q_labels)
    chance = {lab: sum(1 for c in base if c.label == lab) / len(base) for lab in labels}
    result["chance_precision"] = float(np.mean([chance[lab] for lab in q_labels]))

    out_dir.mkdir(parents=True, exist_ok=True)
    result["confusion_png"] = str(_confusion_png(conf, labels, out_dir / "audio_confusion.png"))
    table = format_audio_table(result)
    (out_dir / "audio.md").write_text(table + "\n")
    result["table"] = table
    return result


def format_audio_table(r: dict[str, Any]) -> str:
    lines = [
        f"Audio model on {r['test_tracks']} held-out tracks ({', '.join(r['labels'])}); split by track",
        "",
        "| features | slice accuracy | track accuracy | precision@5 | MAP |",
        "| --- | --- | --- | --- | --- |",
        f"| CNN embedding (slice votes) | {r['slice_accuracy']:.3f} | {r['track_accuracy']:.3f} | "
        f"{r['cnn']['precision@5']:.3f} | {r['cnn']['MAP']:.3f} |",
        f"| MFCC mean/std (same index) | – | – | {r['mfcc']['precision@5']:.3f} | {r['mfcc']['MAP']:.3f} |",
        f"| chance | – | – | {r['chance_precision']:.3f} | – |",
    ]
    return "\n".join(lines)


def _confusion_png(conf: np.ndarray, labels: list[str], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(1.2 + 0.9 * len(labels), 1 + 0.8 * len(labels)), dpi=100)
    ax = fig.add_subplot()
    ax.imshow(conf, cmap="Blues")
    ax.set_xticks(range(len(labels)), labels, rotation=30, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    for i in range(len(labels)):
        for j in range(len(labels)):
            ax.text(j, i, str(conf[i, j]), ha="center", va="center")
    fig.tight_layout()
    fig.savefig(path)
    return path
