"""`murecom setup`: first-run preparation composed from the other packages' public functions.

Imports the default real corpus, imports the local real audio when it has been fetched, trains and publishes the
collaborative-filtering models of both paths when either is not published, does not load, or `--retrain`, publishes
the corpus indexes when none match the corpus, and builds the audio index. Safe to run again and to kill at any
point: an import counts as done only when its stored rows match its source (recorded in `kv_state`, see
`data.importers.progress`), otherwise it resumes or is redone; every served artifact is checked, so a setup killed
between two publishes redoes what is missing; publishing cleans the leftovers of a killed publish
(`recommenders.artifacts`).
"""

from __future__ import annotations

import argparse
import logging
import time
from collections.abc import Sequence

from data.settings import Settings

log = logging.getLogger(__name__)


def setup(
    settings: Settings, retrain: bool = False, skip_audio: bool = False, models: Sequence[str] | None = None
) -> dict:
    """Prepare the corpus and models; returns what each step did. `models` limits the CF candidates trained."""
    # lazy: `murecom --help` imports this module; a command loads only what it runs
    from data.corpus import Corpus
    from data.db import open_database
    from data.importers.hetrec import hetrec_spec
    from data.importers.progress import ensure_imported
    from data.importers.yes import yes_spec
    from jobs.retrain import record_trained
    from recommenders.artifacts import ArtifactStore
    from recommenders.cf.models import load_recommender
    from recommenders.cf.paths import CF_ARTIFACT, SERVED
    from recommenders.cf.training import train_and_publish
    from recommenders.indexes import INDEXES, current_indexes

    engine = open_database(settings)
    corpus = Corpus(engine)
    store = ArtifactStore(settings.models_dir)
    done: dict = {}

    t0 = time.perf_counter()
    done["yes"] = ensure_imported(engine, yes_spec(settings.data_dir / "yes_big"))
    if (settings.data_dir / "hetrec-lastfm-2k").exists():
        done["hetrec"] = ensure_imported(engine, hetrec_spec(settings.data_dir / "hetrec-lastfm-2k"))
    done["import_seconds"] = round(time.perf_counter() - t0, 1)

    if not skip_audio:
        done["audio"] = _setup_audio(settings, engine, corpus, store)

    missing = [name for name in SERVED if not _loads(store, name)]
    if retrain or missing:
        t0 = time.perf_counter()
        done["cf"] = train_and_publish(corpus, store, models)
        record_trained(engine, done["cf"]["version"])
        done["cf_seconds"] = round(time.perf_counter() - t0, 1)
    else:
        done["cf"] = f"already published: {', '.join(f'{n} {store.current_version(n)}' for n in SERVED)}"
        # a setup killed after the models but before the indexes: published now (loaded when they match the corpus)
        served = store.path(CF_ARTIFACT)
        assert served is not None
        current_indexes(store, corpus, load_recommender(served))
    done["indexes"] = f"published: {store.current_version(INDEXES)}"
    return done


def _loads(store, name: str) -> bool:
    """Whether the published version of `name` exists and loads (a damaged one is trained again, not served)."""
    # lazy: `murecom --help` imports this module; a command loads only what it runs
    from recommenders.cf.models import load_recommender

    path = store.path(name)
    if path is None:
        return False
    try:
        load_recommender(path)
    except Exception:  # noqa: BLE001 - any failure to load means "train it again"; logged with its traceback
        log.exception("published %s version %s does not load; training again", name, path.name)
        return False
    return True


def _setup_audio(settings, engine, corpus, store) -> str:
    """Import fetched real audio as corpus tracks and index it with the shipped audio model."""
    audio_src = settings.home / "audio-src"
    if not audio_src.exists():
        return "no local audio fetched (scripts/get_audio.sh); audio recommendations stay off"
    try:
        # lazy: `murecom --help` imports this module (and a missing audio part is reported, not raised)
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
    models = [m.strip() for m in args.models.split(",") if m.strip()] if args.models else None
    for step, result in setup(args.settings, retrain=args.retrain, skip_audio=args.skip_audio, models=models).items():
        print(_describe(step, result))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("setup", help="first run: import the real corpus, train and publish the models")
    p.add_argument("--retrain", action="store_true", help="train and publish again even if models exist")
    p.add_argument("--skip-audio", action="store_true", help="do not import or index local audio")
    p.add_argument(
        "--models",
        default="",
        help="comma-separated CF candidates to train (default: all; e.g. itemknn for a fast setup)",
    )
    p.set_defaults(func=_run)
