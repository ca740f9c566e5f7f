"""`murecom eval --audio [FOLDER]`: the audio path measured where users are, on music a model did not see.

- Leave-one-label-out retrieval: for each label, every track of the folder is indexed (the same windows, index
  and votes as the product) and each track of that label queries it, its own slices excluded; label precision@5
  and average precision over the whole ranking (divided by all relevant tracks in the index). Feature sets:
  MFCC mean/std per slice (standardised on the index), the Conv1D CNN's embedding (the shipped model, or one
  trained without the held-out label when `conv1d_folds` is set, and then also the Conv1D head on musicnn's frames
  trained the same way), and the pretrained musicnn embeddings.
- Tag sanity (recommenders/audio/tag_sanity.py): the tags shown to users, per label of known kind.
- Robustness: each track re-encoded (MP3 64 kbit/s, 8 kHz, +6 dB, a 10 s excerpt from a random point) queries
  the index of the originals: the rate at which its original comes first and in the top 5.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import librosa
import numpy as np

from recommenders.audio.embedder import DEFAULT_MODEL_DIR, Embedder
from recommenders.audio.features import CATALOGUE_SECONDS, SR, AudioError, logmel_patches
from recommenders.audio.head import FrameFeatures, fit_head, head_embeddings, stack, track_frames
from recommenders.audio.index import AudioIndex
from recommenders.audio.loader import AudioModels
from recommenders.audio.pretrained import MTT_PRETRAINED, PretrainedEmbedder
from recommenders.audio.tag_sanity import format_tag_sanity, tag_sanity
from recommenders.audio.train import Clip, list_clips, track_slices, train_classifier
from recommenders.audio.whitening import Whitening, fit_whitening
from recommenders.evaluation import paired_ratio

log = logging.getLogger(__name__)
K = 5
QUERIES = "_queries"  # per query track: (P@5, AP), for paired comparisons


@dataclass
class Features:
    """One way of turning a track into index vectors: name, the model input (`patches`) and the vectors; `whiten`:
    the whitened size the product's index searches them in (the embedder's `whiten`), None for as they are."""

    name: str
    feature_id: str
    patches: Callable[[np.ndarray], np.ndarray]
    vectors: Callable[[np.ndarray], np.ndarray]
    whiten: int | None = None


def mfcc_vectors(slices: np.ndarray) -> np.ndarray:
    """MFCC mean/std (20 coefficients) of each log-mel slice: the baseline the embeddings must beat."""
    feats = []
    for s in slices:
        mfcc = librosa.feature.mfcc(S=s.T, sr=SR, n_mfcc=20)
        feats.append(np.concatenate([mfcc.mean(axis=1), mfcc.std(axis=1)]))
    return np.asarray(feats, np.float32)


def rank_metrics(ranked: list[int], relevant: set[int], k: int = K) -> tuple[float, float]:
    """(precision@k, average precision) of a ranking; AP divides by every relevant track, returned or not."""
    hits, total = 0, 0.0
    for i, t in enumerate(ranked, 1):
        if t in relevant:
            hits += 1
            total += hits / i
    return sum(t in relevant for t in ranked[:k]) / k, total / max(1, len(relevant))


def track_vectors(clips: list[Clip], feats: Features, cache: Path | None) -> dict[int, np.ndarray]:
    out = {}
    for i, clip in enumerate(clips):
        try:
            x = track_slices(clip.path, CATALOGUE_SECONDS, cache, feats.patches, feats.feature_id)
        except AudioError:  # e.g. the silent file a soundtrack package ships
            continue
        out[i] = feats.vectors(x)
    return out


def _overall(every: list[tuple[float, float]]) -> dict[str, float]:
    """Mean P@5 and MAP over (P@5, AP) pairs of query tracks."""
    return {"P@5": float(np.mean([p for p, _ in every])), "MAP": float(np.mean([a for _, a in every]))}


def leave_one_label_out(
    clips: list[Clip], vectors: dict[int, np.ndarray], standardise: bool = False, only: str | None = None
) -> dict:
    """Per-label and overall P@5 / MAP of querying each track of a label against the index of all tracks
    (`only`: just that label's queries)."""
    ids = sorted(vectors)
    stacked = np.concatenate([vectors[i] for i in ids])
    mu, sd = (stacked.mean(axis=0), stacked.std(axis=0) + 1e-6) if standardise else (0.0, 1.0)
    owners = np.concatenate([np.full(len(vectors[i]), i) for i in ids])
    index = AudioIndex().fit((stacked - mu) / sd, owners)
    per_label: dict[str, list[tuple[float, float]]] = {}
    queries: dict[int, tuple[float, float]] = {}
    for i in ids:
        label = clips[i].label
        if only is not None and label != only:
            continue
        relevant = {j for j in ids if j != i and clips[j].label == label}
        if not relevant:
            continue
        ranked = [r.track_id for r in index.query((vectors[i] - mu) / sd, len(ids), exclude_track=i)]
        queries[i] = rank_metrics(ranked, relevant)
        per_label.setdefault(label, []).append(queries[i])
    out: dict = {lab: {"P@5": float(np.mean([p for p, _ in v])), "MAP": float(np.mean([a for _, a in v])),
                       "n": len(v)} for lab, v in sorted(per_label.items())}  # fmt: skip
    out[QUERIES] = queries
    every = [m for v in per_label.values() for m in v]
    out["overall"] = _overall(every)
    return out


def fold_whitening(clips: list[Clip], vectors: dict[int, np.ndarray], label: str, d: int) -> Whitening:
    """The whitening a fold may use: fitted on the patches of every track of the other labels, never on the
    held-out label's tracks (queries or indexed), so nothing of the unseen label leaks into the transform."""
    return fit_whitening(np.concatenate([v for i, v in vectors.items() if clips[i].label != label]), d)


def leave_one_label_out_whitened(clips: list[Clip], vectors: dict[int, np.ndarray], d: int) -> dict:
    """`leave_one_label_out` with a whitening refitted per held-out label by `fold_whitening`."""
    out: dict = {QUERIES: {}}
    for label in sorted({clips[i].label for i in vectors}):
        white = fold_whitening(clips, vectors, label, d)
        fold = leave_one_label_out(clips, {i: white(v) for i, v in vectors.items()}, only=label)
        if label in fold:
            out[label] = fold[label]
            out[QUERIES].update(fold[QUERIES])
    every = list(out[QUERIES].values())
    out["overall"] = _overall(every)
    return out


def evaluate_retrieval(folder: Path, features: list[Features], cache: Path | None) -> dict[str, Any]:
    clips = list_clips(folder)
    result: dict[str, Any] = {"folder": str(folder), "tracks": len(clips), "labels": sorted({c.label for c in clips})}
    for feats in features:
        vectors = track_vectors(clips, feats, cache)
        if feats.whiten is not None:  # as served, but the whitening of each fold never sees the held-out label
            result[feats.name] = leave_one_label_out_whitened(clips, vectors, feats.whiten)
        else:
            result[feats.name] = leave_one_label_out(clips, vectors, standardise=feats.name.startswith("MFCC"))
        log.info("%s: %s", feats.name, result[feats.name]["overall"])
    return result


def conv1d_held_out(folder: Path, cache: Path | None, epochs: int = 40) -> dict[str, Any]:
    """The Conv1D CNN scored honestly: for each label, a model trained on the other labels only embeds every
    track, and that label's tracks query the index (minutes per label on 2 cores)."""
    clips = list_clips(folder)
    labels = sorted({c.label for c in clips})
    out: dict[str, Any] = {}
    for label in labels:
        with tempfile.TemporaryDirectory() as tmp:
            train_dir = Path(tmp) / "data"
            for c in clips:
                if c.label != label:
                    (train_dir / c.label).mkdir(parents=True, exist_ok=True)
                    (train_dir / c.label / c.path.name).symlink_to(c.path.resolve())
            train_classifier(train_dir, Path(tmp) / "model", epochs=epochs, cache_dir=cache)
            model = Embedder(Path(tmp) / "model")

            def vectors(x: np.ndarray, m: Embedder = model) -> np.ndarray:
                return m.embed(x)[0]

            feats = Features("Conv1D", model.feature_id, model.patches, vectors)
            fold = leave_one_label_out(clips, track_vectors(clips, feats, cache), only=label)
            out[label] = fold[label]
            out.setdefault(QUERIES, {}).update(fold[QUERIES])
    n = sum(v["n"] for k, v in out.items() if k != QUERIES)
    out["overall"] = {m: sum(v[m] * v["n"] for k, v in out.items() if k != QUERIES) / n for m in ("P@5", "MAP")}
    return out


def head_held_out(
    folder: Path, cache: Path | None, window: float = 60.0, epochs: int = 30, models: AudioModels | None = None
) -> dict[str, Any]:
    """The Conv1D head on musicnn's frames scored like `conv1d_held_out`: for each label, a head trained on the
    other labels only (validation: a sixth of each training label's tracks) embeds every track, and that label's
    tracks query the index. Frames are computed once for `window` seconds per track (all of it would not fit in
    memory), so the pretrained pooled embedding over the same seconds is returned beside it as the same-setting
    reference."""
    base = (models or AudioModels()).pretrained()
    clips = list_clips(folder)
    frames = track_frames(clips, base, FrameFeatures(base), window, cache)
    pooled = {i: base.embed(track_slices(clips[i].path, window, cache, base.patches, base.feature_id))[0]
              for i in frames}  # fmt: skip
    labels = sorted({clips[i].label for i in frames})
    rng = np.random.default_rng(42)
    out: dict[str, Any] = {}
    for label in labels:
        names = [lab for lab in labels if lab != label]
        label_of = [names.index(c.label) if c.label in names else -1 for c in clips]
        train, val = [], []
        for name in names:
            mine = [i for i in sorted(frames) if clips[i].label == name]
            rng.shuffle(mine)
            n_val = len(mine) // 6 if len(mine) >= 3 else 0
            val += mine[:n_val]
            train += mine[n_val:]
        model = fit_head(*stack(train, frames, label_of), *stack(val, frames, label_of), len(names), epochs=epochs)
        vectors = {i: head_embeddings(model, frames[i])[0] for i in frames}
        fold = leave_one_label_out(clips, vectors, only=label)
        out[label] = fold[label]
        out.setdefault(QUERIES, {}).update(fold[QUERIES])
        log.info("head without %s: %s", label, out[label])
    n = sum(v["n"] for k, v in out.items() if k != QUERIES)
    out["overall"] = {m: sum(v[m] * v["n"] for k, v in out.items() if k != QUERIES) / n for m in ("P@5", "MAP")}
    return {
        f"Conv1D head on musicnn frames trained without the held-out label ({window:.0f} s per track)": out,
        f"pretrained {base.version} ({window:.0f} s per track)": leave_one_label_out(clips, pooled),
    }


def format_table(result: dict[str, Any]) -> str:
    names = [k for k in result if isinstance(result[k], dict) and "overall" in result[k]]
    labels = result["labels"]
    lines = [
        f"Leave-one-label-out retrieval on {result['tracks']} tracks of {result['folder']} (P@5 / MAP)",
        "",
        "| features | " + " | ".join(labels) + " | overall |",
        "| --- |" + " --- |" * (len(labels) + 1),
    ]
    for n in names:
        cells = [f"{result[n][lab]['P@5']:.2f} / {result[n][lab]['MAP']:.2f}" if lab in result[n] else "–"
                 for lab in [*labels, "overall"]]  # fmt: skip
        lines.append(f"| {n} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def format_comparisons(result: dict[str, Any], pairs: list[tuple[str, str]]) -> str:
    """MAP and P@5 of one feature set over another on the same query tracks: ratio of means with a 95 % paired
    bootstrap interval (query tracks resampled jointly), so two rows of the table are compared with their noise."""
    lines = ["| compared (same query tracks) | queries | MAP ratio [95 % CI] | P@5 ratio [95 % CI] |",
             "| --- | ---: | --- | --- |"]  # fmt: skip
    for a, b in pairs:
        qa, qb = result[a][QUERIES], result[b][QUERIES]
        common = sorted(set(qa) & set(qb))
        cells = []
        for m in (1, 0):
            ratio, lo, hi = paired_ratio(np.array([qa[i][m] for i in common]), np.array([qb[i][m] for i in common]))
            cells.append(f"×{ratio:.2f} [{lo:.2f}–{hi:.2f}]")
        lines.append(f"| {a} / {b} | {len(common)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def comparison_pairs(result: dict[str, Any]) -> list[tuple[str, str]]:
    """The default against every other row measured over the same seconds per track, and the head against the
    pretrained embedding at its own 60 s."""
    rows = [k for k in result if isinstance(result[k], dict) and QUERIES in result[k]]
    default = next((k for k in rows if k.startswith("pretrained") and "per track" not in k), None)
    pairs = [(default, k) for k in rows if default and k != default and "per track" not in k]
    head = next((k for k in rows if k.startswith("Conv1D head")), None)
    same = next((k for k in rows if k.startswith("pretrained") and "per track" in k), None)
    if head and same:
        pairs.append((same, head))
    return pairs


def default_features(models: AudioModels | None = None) -> list[Features]:
    """MFCC, the shipped Conv1D and (when converted) the pretrained embedding: the comparison the README shows."""
    models = models or AudioModels()
    cnn = models.conv1d(DEFAULT_MODEL_DIR)
    feats = [
        Features("MFCC mean/std", cnn.feature_id, logmel_patches, mfcc_vectors),
        Features(f"Conv1D CNN (trained on {', '.join(cnn.labels)})", cnn.feature_id, cnn.patches,
                 lambda x: cnn.embed(x)[0]),
    ]  # fmt: skip
    if PretrainedEmbedder.available():
        pre = models.pretrained()
        feats.append(Features(f"pretrained {pre.version}, whitened to {pre.whiten} (served)", pre.feature_id,
                              pre.patches, lambda x: pre.embed(x)[0], pre.whiten))  # fmt: skip
    return feats


def embedding_features(embedder: PretrainedEmbedder) -> Features:
    """A pretrained embedding as index vectors, its patch embeddings cached like slices (keyed by the model's
    version), so the variants below are compared without running musicnn twice over the catalogue."""
    return Features(f"pretrained {embedder.version}", f"{embedder.feature_id}>{embedder.version}",
                    lambda y: embedder.embed(embedder.patches(y))[0], lambda x: x)  # fmt: skip


def unit_rows(x: np.ndarray) -> np.ndarray:
    return np.asarray(x / (np.linalg.norm(x, axis=1, keepdims=True) + 1e-9), np.float32)


#: Whitened sizes compared; MTT and MSD+MTT whitened to 256 were chosen on the halves of the labels, and MSD whitened
#: to 256 did as well with one model per clip: that one is served (`pretrained.WHITEN`).
WHITENED_DIMS = (128, 256)


def embedding_variants(folder: Path, cache: Path | None, models: AudioModels) -> dict[str, Any]:
    """Leave-one-label-out rows of the embedding choices of issue 23: MSD and MTT musicnn pooled, their
    concatenation (each patch L2-normalised first) and each PCA-whitened to each of `WHITENED_DIMS` by `fold_whitening`,
    beside MFCC on the same tracks."""
    clips = list_clips(folder)
    msd = track_vectors(clips, embedding_features(models.pretrained()), cache)
    mtt = track_vectors(clips, embedding_features(models.pretrained(MTT_PRETRAINED)), cache)
    mfcc = track_vectors(clips, Features("MFCC", "logmel128", logmel_patches, mfcc_vectors), cache)
    ids = sorted(set(msd) & set(mtt) & set(mfcc))
    both = {i: np.hstack([unit_rows(msd[i]), unit_rows(mtt[i])]) for i in ids}
    rows = {"MSD pooled": {i: msd[i] for i in ids}, "MTT pooled": {i: mtt[i] for i in ids}, "MSD+MTT pooled": both}
    result: dict[str, Any] = {
        "folder": str(folder),
        "tracks": len(ids),
        "labels": sorted({clips[i].label for i in ids}),
    }
    result["MFCC mean/std"] = leave_one_label_out(clips, {i: mfcc[i] for i in ids}, standardise=True)
    for name, vectors in rows.items():
        result[name] = leave_one_label_out(clips, vectors)
        for d in WHITENED_DIMS:
            result[f"{name}, whitened to {d}"] = leave_one_label_out_whitened(clips, vectors, d)
        log.info("%s: %s", name, result[name]["overall"])
    result[CHOSEN] = choose_on_halves(result, {i: clips[i].label for i in ids}, exclude="MFCC mean/std")
    return result


CHOSEN = "variant chosen on the other half of the labels"


def choose_on_halves(result: dict[str, Any], label_of: dict[int, str], exclude: str) -> dict[str, Any]:
    """An honest choice among the rows: the labels are split in two halves (alternate labels, sorted); the row with
    the best mean P@5 on one half's query tracks answers the other half's, both ways. The returned row holds those
    out-of-choice answers (paired with the other rows by query track) and which row each half chose."""
    labels = sorted(set(label_of.values()))
    halves = [set(labels[0::2]), set(labels[1::2])]
    candidates = [k for k in result if isinstance(result[k], dict) and QUERIES in result[k] and k != exclude]
    queries: dict[int, tuple[float, float]] = {}
    chosen: list[str] = []
    for pick_on, answer in ((halves[0], halves[1]), (halves[1], halves[0])):

        def p_at_5(row: str, on: set[str] = pick_on) -> float:
            return float(np.mean([p for i, (p, _) in result[row][QUERIES].items() if label_of[i] in on]))

        best = max(candidates, key=p_at_5)
        chosen.append(best)
        queries.update({i: v for i, v in result[best][QUERIES].items() if label_of[i] in answer})
    every = list(queries.values())
    overall = _overall(every)
    return {QUERIES: queries, "chosen": chosen, "overall": overall}


def evaluate_audio(
    folder: Path, cache: Path | None, robustness: bool = True, conv1d_folds: bool = False, variants: bool = False
) -> str:
    """The tables of `murecom eval --audio`, as Markdown (each model loaded once for all of them)."""
    models = AudioModels()
    if variants:
        result = embedding_variants(folder, cache, models)
        rows = [k for k in result if isinstance(result[k], dict) and QUERIES in result[k]]
        chosen = "the rows chosen, on each half of the labels: " + ", ".join(result[CHOSEN]["chosen"])
        return "\n\n".join([format_table(result), format_comparisons(result, [(k, rows[0]) for k in rows[1:]]), chosen])
    feats = default_features(models)
    result = evaluate_retrieval(folder, feats, cache)
    if conv1d_folds:
        result["Conv1D CNN trained without the held-out label"] = conv1d_held_out(folder, cache)
        if PretrainedEmbedder.available():
            result.update(head_held_out(folder, cache, models=models))
    tables = [format_table(result), format_comparisons(result, comparison_pairs(result))]
    if robustness:
        # lazy: robustness imports this module (Features, track_vectors)
        from recommenders.audio.robustness import evaluate_robustness, format_robustness

        tagger = models.pretrained() if PretrainedEmbedder.available() else None
        tags = (lambda x: tagger.embed(x)[1]) if tagger is not None else None
        tables.append(format_robustness(evaluate_robustness(folder, feats[-1], cache, tags=tags)))

    if PretrainedEmbedder.available():
        tables.append(format_tag_sanity(tag_sanity(folder, cache, models), folder))
    return "\n\n".join(tables)
