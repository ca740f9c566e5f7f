"""`murecom train`, `murecom similar "<song>"` and `murecom eval`: the CF models from the command line.

The audio helper's `recommenders.audio.cli` adds its own commands and answers `similar --audio` / `eval --audio`;
this module only delegates to it (imported lazily, so a missing audio stack never breaks the CF commands).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import logging
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def _store():
    from data.settings import get_settings
    from recommenders.artifacts import ArtifactStore

    return ArtifactStore(get_settings().models_dir)


def _audio_cli():
    """The audio helper's CLI module, or None with a clear message when it is not installed."""
    if (
        importlib.util.find_spec("recommenders.audio") is None
        or importlib.util.find_spec("recommenders.audio.cli") is None
    ):
        print("audio similarity is not available: recommenders.audio.cli is missing from this installation")
        return None
    return importlib.import_module("recommenders.audio.cli")


def _train(args: argparse.Namespace) -> int:
    from data.corpus import Corpus
    from data.db import get_engine
    from recommenders.cf.registry import train_and_publish

    corpus = Corpus(get_engine())
    if not corpus.stats()["playlists"]:
        print("the corpus has no playlists: run `murecom import default` first")
        return 2
    models = args.models.split(",") if args.models else None
    try:
        summary = train_and_publish(corpus, _store(), models, evaluate=not args.no_eval, seed=args.seed)
    except ValueError as exc:
        print(f"error: {exc}")
        return 2
    for name, info in summary["models"].items():
        m = info.get("metrics", {})
        extra = f" R-prec {m['r_precision']:.4f} NDCG@100 {m['ndcg@100']:.4f}" if m else ""
        print(f"{name:14s} version {info['version']} fit {info['fit_seconds']:.1f}s{extra}")
    print(f"published {summary['winner']} as the default /similar model (version {summary['version']})")
    return 0


def resolve_track(corpus, query: str) -> tuple[int | None, str]:
    """A track id from a numeric id or a name/link (via data.search.TrackSearch); (None, message) when not found."""
    query = query.strip()
    if query.isdigit():
        info = corpus.track_info([int(query)]).get(int(query))
        return (info.id, info.label) if info else (None, f"no track with id {query}")
    try:
        from data.search import QueryError, TrackSearch
    except ImportError:
        return None, "name search is not available (data.search missing); pass a numeric track id"
    try:
        res = TrackSearch.for_corpus(corpus).search(query)
    except QueryError as exc:
        return None, str(exc)
    if res.best is None:
        return None, f"no track matches {query!r}"
    note = ""
    if res.ambiguous:
        others = "; ".join(f"{c.track.label} (id {c.track.id})" for c in res.candidates[1:4])
        note = f" (also possible: {others})"
    return res.best.track.id, res.best.track.label + note


def _similar(args: argparse.Namespace) -> int:
    if args.audio:
        audio = _audio_cli()
        return 2 if audio is None else int(audio.similar_audio(args) or 0)
    if not args.song:
        print('give a song: murecom similar "title - artist" (or a track id, or --audio FILE)')
        return 2
    from data.corpus import Corpus
    from data.db import get_engine
    from recommenders.base import NotInModel
    from recommenders.cf.registry import CF_ARTIFACT, load_recommender
    from recommenders.cf.rerank import rerank

    store = _store()
    path = store.path(args.model or CF_ARTIFACT)
    if path is None:
        print(f"no {args.model or CF_ARTIFACT} model is published: run `murecom train` first")
        return 2
    corpus = Corpus(get_engine())
    track_id, label = resolve_track(corpus, args.song)
    if track_id is None:
        print(label)
        return 1
    model = load_recommender(path)
    print(f"seed: {label} (id {track_id}); model {store.meta(args.model or CF_ARTIFACT).get('model', model.name)}")
    try:
        recs = model.similar(track_id, max(args.k * 5, 50))
    except NotInModel:
        print(f"this track is not in the {model.name} model (too rare in its training playlists): try --model itemknn")
        return 1
    artists = corpus.track_artists()
    recs = rerank(
        recs,
        artists,
        k=args.k,
        seed_artists=artists.get(track_id, ()),
        exclude_seed_artist=args.exclude_artist,
        max_per_artist=args.max_per_artist,
    )
    info = corpus.track_info([r.track_id for r in recs])
    print(f"{'#':>2}  {'title':40.40s}  {'artists':28.28s}  {'score':>7s}  reason / link")
    for i, r in enumerate(recs, 1):
        t = info.get(r.track_id)
        title, artist, url = (t.title, t.artist, t.url) if t else (str(r.track_id), "?", "")
        print(f"{i:>2}  {title:40.40s}  {artist:28.28s}  {r.score:7.4f}  {r.reason}  {url}")
    return 0


def _eval(args: argparse.Namespace) -> int:
    if args.audio:
        audio = _audio_cli()
        return 2 if audio is None else int(audio.eval_audio(args) or 0)
    from data.corpus import Corpus
    from data.db import get_engine
    from data.settings import get_settings
    from recommenders.cf.baselines import PopularityRecommender, RandomRecommender
    from recommenders.cf.registry import model_factories
    from recommenders.evaluation import fit_and_evaluate, format_table, listener_split, playlist_split, write_table

    corpus = Corpus(get_engine())
    factories = model_factories(args.seed)
    names = args.models.split(",") if args.models else list(factories)
    unknown = [n for n in names if n not in factories]
    if unknown:
        print(f"unknown model(s) {unknown}; choose from {sorted(factories)}")
        return 2
    chosen = {
        "popularity": PopularityRecommender,
        "random": lambda: RandomRecommender(args.seed),
        **{n: factories[n] for n in names},
    }
    text = ""
    results = {}
    if args.dataset in ("yes", "both"):
        split = playlist_split(corpus, source=args.source, n_test=args.n_test, seed=args.seed)
        if not split.cases:
            print("no held-out playlists: import playlists first (`murecom import default`)")
            return 2
        fitted: dict = {}
        rows = fit_and_evaluate(chosen, split, log=log.info, fitted=fitted)
        rows.update(_reranked_rows(fitted, split))
        results[split.name] = rows
        text += format_table(rows, f"{split.name}: {len(split.cases)} held-out playlists, seed {args.seed}") + "\n"
    if args.dataset in ("lastfm", "both"):
        try:
            lsplit = listener_split(corpus, n_test=args.n_test, seed=args.seed)
        except ValueError as exc:
            print(f"skipping Last.fm: {exc}")
        else:
            rows = fit_and_evaluate(chosen, lsplit, log=log.info)
            results[lsplit.name] = rows
            text += format_table(rows, f"{lsplit.name}: {len(lsplit.cases)} held-out listeners, seed {args.seed}")
    text += "\nHigher is better except clicks (pages of 10 before the first hit; 11 = no hit in 100).\n"
    print(text)
    path = write_table(text, get_settings().home / "eval", Path(args.out) if args.out else None)
    (path.with_suffix(".json")).write_text(json.dumps(results, indent=2))
    print(f"written to {path}" + (f" and {args.out}" if args.out else ""))
    return 0


def _reranked_rows(fitted: dict, split) -> dict[str, dict[str, float]]:
    """The variety options on the best-known blend (or item-kNN): what they cost in accuracy, gain in diversity."""
    from recommenders.cf.rerank import Reranked
    from recommenders.evaluation import evaluate_recommender

    base = next((n for n in ("itemknn", "als") if n in fitted), None)
    if base is None:
        return {}
    options: dict[str, dict[str, Any]] = {
        "artist cap 1": {"max_per_artist": 1},
        "MMR λ=0.7": {"mmr_lambda": 0.7},
        "no seed artist": {"exclude_seed_artist": True},
    }
    return {
        f"{base} + {label}": evaluate_recommender(Reranked(fitted[base], split.item_artists, **kw), split)
        for label, kw in options.items()
    }


def register(sub: argparse._SubParsersAction) -> None:
    t = sub.add_parser("train", help="train, evaluate and publish the CF models (the winner serves /similar)")
    t.add_argument("--models", help="comma-separated subset of the models (default: all)")
    t.add_argument("--no-eval", action="store_true", help="skip the held-out evaluation (first model wins)")
    t.add_argument("--seed", type=int, default=42)
    t.set_defaults(func=_train)

    s = sub.add_parser("similar", help='songs similar to one: murecom similar "title - artist" (or a track id)')
    s.add_argument("song", nargs="?", help="a title, 'title - artist', a Spotify link, or a numeric track id")
    s.add_argument("-k", type=int, default=10, help="how many picks")
    s.add_argument("--model", help="artifact name (default: the published winner, 'cf')")
    s.add_argument("--exclude-artist", action="store_true", help="leave out the seed's own artist")
    s.add_argument("--max-per-artist", type=int, default=2, help="artist cap in the list (0 = no cap)")
    s.add_argument("--audio", metavar="PATH", help="an audio file: content-based similarity (audio models)")
    s.set_defaults(func=_similar)

    e = sub.add_parser("eval", help="evaluate CF models and baselines on held-out data; prints and writes a table")
    e.add_argument("--dataset", choices=["yes", "lastfm", "both"], default="both")
    e.add_argument("--models", help="comma-separated subset of the models (default: all)")
    e.add_argument("--source", default=None, help="playlist source to evaluate on (default: all playlists)")
    e.add_argument("--n-test", type=int, default=1000, help="held-out playlists / listeners")
    e.add_argument("--seed", type=int, default=42)
    e.add_argument("--out", help="also write the table to this file")
    e.add_argument("--audio", action="store_true", help="evaluate the audio models instead (genre agreement)")
    e.set_defaults(func=_eval)

    if importlib.util.find_spec("recommenders.audio") is not None:
        try:
            audio_cli = importlib.import_module("recommenders.audio.cli")
        except ModuleNotFoundError as exc:
            if exc.name != "recommenders.audio.cli":
                raise
        else:
            audio_cli.register(sub)
