"""`murecom setup`: first-run preparation composed from the other packages' public functions.

Imports the default real corpus (idempotent), imports the local real audio when it has been fetched, trains and
publishes the collaborative-filtering models when none is published yet (or `--retrain`), and builds the audio
index. Safe to run again: every step is skipped or idempotent when its result is already there.
"""

from __future__ import annotations

import argparse
import logging
import time

log = logging.getLogger(__name__)


def setup(retrain: bool = False, skip_audio: bool = False) -> dict:
    """Prepare the corpus and models; returns what each step did."""
    from data.corpus import Corpus
    from data.db import get_engine
    from data.importers.hetrec import import_hetrec
    from data.importers.yes import import_yes
    from data.settings import get_settings
    from recommenders.artifacts import ArtifactStore

    settings = get_settings()
    engine = get_engine()
    corpus = Corpus(engine)
    store = ArtifactStore(settings.models_dir)
    done: dict = {}

    t0 = time.perf_counter()
    if not any(True for _ in corpus.playlists(source="yes", min_len=1)):
        done["yes"] = import_yes(engine, settings.data_dir / "yes_big")
    if (settings.data_dir / "hetrec-lastfm-2k").exists() and corpus.listener_artist_matrix().matrix.nnz == 0:
        done["hetrec"] = import_hetrec(engine, settings.data_dir / "hetrec-lastfm-2k")
    done["import_seconds"] = round(time.perf_counter() - t0, 1)

    if not skip_audio:
        done["audio"] = _setup_audio(settings, engine, corpus, store)

    from recommenders.cf.registry import CF_ARTIFACT, train_and_publish

    if retrain or store.current_version(CF_ARTIFACT) is None:
        from jobs.retrain import record_trained

        t0 = time.perf_counter()
        done["cf"] = train_and_publish(corpus, store)
        record_trained(engine, done["cf"]["version"])
        done["cf_seconds"] = round(time.perf_counter() - t0, 1)
    else:
        done["cf"] = f"already published: {store.current_version(CF_ARTIFACT)}"
    return done


def _setup_audio(settings, engine, corpus, store) -> str:
    """Import fetched real audio as corpus tracks and index it with the shipped audio model."""
    audio_src = settings.home / "audio-src"
    if not audio_src.exists():
        return "no local audio fetched (scripts/get_audio.sh); audio recommendations stay off"
    try:
        from data.importers.audio_folder import import_audio_folder
        from recommenders.audio import setup as audio_setup
    except ModuleNotFoundError as exc:
        return f"audio recommender not available: {exc.name}"
    report = import_audio_folder(engine, audio_src)
    return f"{report}; {audio_setup.ensure_index(corpus, store, settings)}"


def _describe(step: str, result: object) -> str:
    if step == "cf" and isinstance(result, dict):
        lines = [f"cf: published {result['winner']} as the default (version {result['version']})"]
        for name, info in result["models"].items():
            m = info.get("metrics", {})
            scores = ", ".join(f"{k} {m[k]:.4f}" for k in ("r_precision", "ndcg@100") if k in m)
            lines.append(f"  {name}: fit {info['fit_seconds']:.1f}s {scores}")
        for name, m in result.get("baselines", {}).items():
            scores = ", ".join(f"{k} {m[k]:.4f}" for k in ("r_precision", "ndcg@100") if k in m)
            lines.append(f"  baseline {name}: {scores}")
        return "\n".join(lines)
    return f"{step}: {result}"


def _run(args: argparse.Namespace) -> int:
    for step, result in setup(retrain=args.retrain, skip_audio=args.skip_audio).items():
        print(_describe(step, result))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("setup", help="first run: import the real corpus, train and publish the models")
    p.add_argument("--retrain", action="store_true", help="train and publish again even if models exist")
    p.add_argument("--skip-audio", action="store_true", help="do not import or index local audio")
    p.set_defaults(func=_run)
