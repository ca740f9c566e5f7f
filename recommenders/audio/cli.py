"""Audio commands: `murecom train-audio FOLDER`, `murecom index-audio [FOLDER]`, and the `--audio` forms of
`murecom similar` / `murecom eval` (delegated here by recommenders.cli)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def _train(args: argparse.Namespace) -> int:
    # lazy: `murecom --help` imports this module; a command loads only what it runs
    from recommenders.artifacts import ArtifactStore
    from recommenders.audio.head import train_head
    from recommenders.audio.service import MODEL_ARTIFACT
    from recommenders.audio.train import train_classifier

    settings = args.settings
    cache = settings.home / "cache" / "audio-slices"

    def train(out: Path) -> dict:
        if args.on == "pretrained":
            return train_head(Path(args.folder), out, epochs=args.epochs, cache_dir=cache)
        return train_classifier(Path(args.folder), out, epochs=args.epochs, cache_dir=cache)

    if args.out:
        meta = train(Path(args.out))
    else:
        store = ArtifactStore(settings.models_dir)
        with store.staging(MODEL_ARTIFACT) as staged:
            meta = train(staged)
            meta["version"] = store.publish(MODEL_ARTIFACT, staged, {"metrics": meta["metrics"]})
    print(json.dumps({k: meta[k] for k in ("labels", "metrics") if k in meta}, indent=2))
    return 0


def _index(args: argparse.Namespace) -> int:
    # lazy: `murecom --help` imports this module; a command loads only what it runs
    from data.corpus import Corpus
    from data.db import open_database
    from data.importers.audio_folder import import_audio_folder
    from recommenders.artifacts import ArtifactStore
    from recommenders.audio.setup import ensure_index

    settings = args.settings
    engine = open_database(args.settings)
    folder = Path(args.folder) if args.folder else settings.home / "audio-src"
    if folder.exists():
        print(import_audio_folder(engine, folder))
    print(ensure_index(Corpus(engine), ArtifactStore(settings.models_dir), settings))
    return 0


def similar_audio(args: argparse.Namespace) -> int:
    # lazy: `murecom --help` imports this module; a command loads only what it runs
    from data.corpus import Corpus
    from data.db import open_database
    from recommenders.audio.service import AudioError, load_audio_service

    settings = args.settings
    corpus = Corpus(open_database(settings))
    service = load_audio_service(settings, corpus)
    if service is None:
        print("no audio index is published yet: run `murecom setup` (or `murecom index-audio`) first")
        return 2
    try:
        result = service.recommend_clip(Path(args.audio), getattr(args, "k", 10) or 10)
    except AudioError as exc:
        print(f"cannot use {args.audio}: {exc}")
        return 2
    infos = corpus.track_info(r.track_id for r in result.recommendations)
    print(f"{args.audio}: {result.seconds_analysed:.0f} s analysed")
    print("sounds like: " + ", ".join(f"{name} {p:.0%}" for name, p in result.labels[:5]))
    if result.unsure:
        print(f"I am not sure what this is: it does not sound like music I know (p(music) {result.confidence:.2f})")
        return 0
    for i, rec in enumerate(result.recommendations, 1):
        info = infos.get(rec.track_id)
        name = info.label if info else f"track {rec.track_id}"
        print(f"{i:>2}. {name}  [{rec.score:.3f}]  {rec.reason}")
    return 0


def eval_audio(args: argparse.Namespace) -> int:
    """`murecom eval --audio [FOLDER]` / `murecom eval-audio [FOLDER]`: leave-one-label-out retrieval (and
    robustness unless --no-robustness) on a label/clip folder, default the fetched soundtracks."""
    # lazy: `murecom --help` imports this module; a command loads only what it runs
    from recommenders.audio.evaluate import evaluate_audio

    settings = args.settings
    given = getattr(args, "folder", None) or (args.audio if isinstance(getattr(args, "audio", None), str) else None)
    folder = Path(given) if given else settings.home / "audio-src"
    if getattr(args, "queries", None) is not None:
        return _robustness_only(folder, settings.home / "cache" / "audio-slices", args.queries, args.out)
    table = evaluate_audio(
        folder,
        settings.home / "cache" / "audio-slices",
        robustness=getattr(args, "robust", True),
        conv1d_folds=getattr(args, "conv1d_folds", False),
        variants=getattr(args, "variants", False),
    )
    print(table)
    out = getattr(args, "out", None)
    if out:
        Path(out).write_text(table + "\n")
    return 0


def eval_tags(args: argparse.Namespace) -> int:
    """`murecom eval-tags [FOLDER]`: the tag bridge offline (held-out Yes.com playlists) and online (clips of
    FOLDER through the served path), as Markdown tables (recommenders/audio/tag_eval.py says how)."""
    # lazy: `murecom --help` imports this module; a command loads only what it runs
    from data.corpus import Corpus
    from data.db import open_database
    from recommenders.audio.musicnn import MSD_LABELS
    from recommenders.audio.service import load_audio_service
    from recommenders.audio.tag_eval import (
        REFERENCE,
        REFERENCE_SCORING,
        SERVED,
        TODAY,
        clip_queries,
        draw_sweep,
        offline_tag_eval,
        online_tag_table,
        sets_table,
        today_bridge,
    )
    from recommenders.audio.tags import TagBridge
    from recommenders.tags import TagIndex

    settings = args.settings
    corpus = Corpus(open_database(settings))
    if args.sweep:
        service = load_audio_service(settings, corpus)
        if service is None or service.bridge is None:
            print("no audio index with the pretrained tagger is published: run `murecom setup` first")
            return 2
        folder = Path(args.folder) if args.folder else settings.home / "audio-src"
        table = draw_sweep(corpus, service, folder, n_clips=args.clips)
        print(table)
        if args.out:
            Path(args.out).write_text(table + "\n")
        return 0
    parts = ["## Tag bridge offline (Yes.com held-out playlists)", "", offline_tag_eval(corpus, MSD_LABELS)]
    if args.clips > 0:
        service = load_audio_service(settings, corpus)
        if service is None or service.bridge is None:
            print("no audio index with the pretrained tagger is published: run `murecom setup` first")
            return 2
        folder = Path(args.folder) if args.folder else settings.home / "audio-src"
        queries = clip_queries(service, folder, args.clips)
        index = TagIndex.from_corpus(corpus)
        bridges: dict[str, TagBridge] = {TODAY: today_bridge(index, service.bridge.vocabulary)}
        bridges[REFERENCE] = TagBridge(index, service.bridge.vocabulary, **REFERENCE_SCORING)
        bridges[SERVED] = service.bridge
        parts += [f"## Tag bridge online ({len(queries)} clips of {folder} answered)", ""]
        parts.append(online_tag_table(queries, bridges, corpus))
        parts += [f"## Distinct picks on more sets of {args.clips} clips (never used to choose)", ""]
        served_pair = {SERVED: service.bridge, REFERENCE: bridges[REFERENCE]}
        parts.append(sets_table(service, folder, served_pair, corpus, n_clips=args.clips))
    table = "\n".join(parts)
    print(table)
    if args.out:
        Path(args.out).write_text(table + "\n")
    return 0


def _robustness_only(folder: Path, cache: Path, queries: int, out: str | None) -> int:
    """`murecom eval-audio --queries N`: the robustness table alone, N seeded query tracks against the whole folder
    (the full table queries every track: 10 minutes and more on 2 cores)."""
    # lazy: `murecom --help` imports this module; a command loads only what it runs
    from recommenders.audio.evaluate import default_features
    from recommenders.audio.loader import AudioModels
    from recommenders.audio.robustness import evaluate_robustness, format_robustness

    models = AudioModels()
    tagger = models.pretrained()
    result = evaluate_robustness(
        folder, default_features(models)[-1], cache, queries=queries, tags=lambda x: tagger.embed(x)[1]
    )
    table = format_robustness(result)
    print(table)
    if out:
        Path(out).write_text(table + "\n")
    return 0


def _convert(args: argparse.Namespace) -> int:
    # lazy: `murecom --help` imports this module; a command loads only what it runs
    from recommenders.audio.musicnn import PRETRAINED_DIR, compare_with_reference, convert

    out = Path(args.out) if args.out else PRETRAINED_DIR
    for name in args.models:
        meta = convert(name, out)
        print(f"{name}: {meta['variables_restored']} variables, {meta['parameters']:,} parameters -> {out}")
        if args.verify:
            diffs = compare_with_reference(name, out, Path(args.verify))
            print("  max |keras - TF1 graph|: " + ", ".join(f"{k} {v:.1e}" for k, v in diffs.items()))
    return 0


def _calibrate(args: argparse.Namespace) -> int:
    # lazy: `murecom --help` imports this module; a command loads only what it runs
    from recommenders.audio.calibrate import calibrate
    from recommenders.audio.pretrained import PretrainedEmbedder

    folder = Path(args.folder) if args.folder else args.settings.home / "audio-src"
    print(json.dumps(calibrate(PretrainedEmbedder(), folder), indent=2))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    k = sub.add_parser("calibrate-audio", help="fit and measure 'I am not sure what this is' (music vs noise/speech)")
    k.add_argument("folder", nargs="?", help="music: a label/clip folder (default: MUREC_HOME/audio-src)")
    k.set_defaults(func=_calibrate)
    e = sub.add_parser("eval-audio", help="leave-one-label-out retrieval and robustness on a label/clip folder")
    e.add_argument("folder", nargs="?", help="default: MUREC_HOME/audio-src")
    e.add_argument("--no-robustness", dest="robust", action="store_false")
    e.add_argument("--conv1d-folds", action="store_true", help="also train the Conv1D without each label (slow)")
    e.add_argument("--variants", action="store_true", help="only the embedding choices (MSD/MTT, whitened) vs MFCC")
    e.add_argument("--out", help="also write the tables to this file")
    e.add_argument("--queries", type=int, help="only the robustness table, for this many seeded query tracks")
    e.set_defaults(func=eval_audio)
    g = sub.add_parser("eval-tags", help="tagged-alike picks: held-out Yes.com playlists, and clips' distinct picks")
    g.add_argument("folder", nargs="?", help="clips' label/clip folder (default: MUREC_HOME/audio-src)")
    g.add_argument("--clips", type=int, default=50, help="clips through the served path (0: offline only)")
    g.add_argument("--out", help="also write the tables to this file")
    g.add_argument("--sweep", action="store_true", help="only the draw's variety/fit grid on validation data")
    g.set_defaults(func=eval_tags)
    c = sub.add_parser("convert-musicnn", help="rebuild the pretrained musicnn models in Keras 3 from the wheel")
    c.add_argument("--models", nargs="+", default=["MSD_musicnn", "MTT_musicnn"])
    c.add_argument("--out", help="default: recommenders/audio/pretrained")
    c.add_argument("--verify", metavar="AUDIO", help="compare with upstream's TF1 graph on 30 s of this file")
    c.set_defaults(func=_convert)
    t = sub.add_parser("train-audio", help="train the audio classifier on a label/clip folder (GTZAN layout)")
    t.add_argument("folder")
    t.add_argument("--epochs", type=int, default=40)
    t.add_argument(
        "--on",
        choices=("logmel", "pretrained"),
        default="logmel",
        help="train the Conv1D on log-mel slices, or as a head on the pretrained musicnn's frames",
    )
    t.add_argument("--out", help="write the model into this folder instead of publishing it")
    t.set_defaults(func=_train)
    i = sub.add_parser("index-audio", help="import a label/clip folder and (re)build the audio index")
    i.add_argument("folder", nargs="?", help="default: MUREC_HOME/audio-src")
    i.set_defaults(func=_index)
