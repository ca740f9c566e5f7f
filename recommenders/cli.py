"""`murecom train`, `murecom similar "<song>"` and `murecom eval`: the CF models from the command line.

`similar` answers through the objects the bot serves (`recommenders.cf.serving.open_served`: the published model
in the published fallback chain, and the published name search) with the call the chat core makes, so the CLI and
the bot give the same list. `eval` measures candidates fitted on a held-out split before anything is published
(what `train` chooses from), not the served artifacts.

The audio helper's `recommenders.audio.cli` adds its own commands and answers `similar --audio` / `eval --audio`;
this module only delegates to it (imported lazily, so a missing audio stack never breaks the CF commands).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import logging
from dataclasses import asdict
from pathlib import Path
from types import ModuleType
from typing import Any

from data.corpus import Corpus
from data.db import open_database
from data.search import QueryError, TrackSearch
from recommenders.artifacts import ArtifactStore
from recommenders.ask.cli import register as register_ask
from recommenders.ask.evaluate import eval_ask
from recommenders.base import NotInModel, Recommendation, Recommender
from recommenders.cf.fallback import WithFallback
from recommenders.cf.models import BASELINES, make_model, model_factories
from recommenders.cf.paths import CF_ARTIFACT, SESSION_ARTIFACT
from recommenders.cf.rerank import Reranked, rerank
from recommenders.cf.serving import open_served, served_figure
from recommenders.cf.training import fit_for_paths, train_and_publish
from recommenders.evaluation import (
    cold_start_split,
    evaluate_recommender,
    format_path_table,
    format_table,
    listener_split,
    paired_ratio,
    playlist_split,
    report_path,
    write_table,
)
from recommenders.group_eval import Member, evaluate_groups, format_group_table

log = logging.getLogger(__name__)


def _store(args: argparse.Namespace) -> ArtifactStore:
    return ArtifactStore(args.settings.models_dir)


def _audio_cli() -> ModuleType | None:
    """The audio helper's CLI module, or None with a clear message when it is not installed."""
    if (
        importlib.util.find_spec("recommenders.audio") is None
        or importlib.util.find_spec("recommenders.audio.cli") is None
    ):
        print("audio similarity is not available: recommenders.audio.cli is missing from this installation")
        return None
    return importlib.import_module("recommenders.audio.cli")


def _train(args: argparse.Namespace) -> int:
    corpus = Corpus(open_database(args.settings))
    if not corpus.stats()["playlists"]:
        print("the corpus has no playlists: run `murecom import default` first")
        return 2
    models = args.models.split(",") if args.models else None
    try:
        summary = train_and_publish(
            corpus, _store(args), models, evaluate=not args.no_eval, seed=args.seed, indexes=not args.no_indexes
        )
    except ValueError as exc:
        print(f"error: {exc}")
        return 2
    print_summary(summary)
    return 0


def print_summary(summary: dict[str, Any]) -> None:
    """What `train` chose: each model's validation scores, and each served artifact with its test figure."""
    for name, info in summary["models"].items():
        val = " ".join(
            f"{p} R-prec {m['r_precision']:.4f} NDCG@100 {m['ndcg@100']:.4f};" for p, m in info["validation"].items()
        )
        print(f"{name:12s} fit {info['fit_seconds']:.1f}s  validation: {val}")
    for note in summary.get("skipped", {}).values():
        print(note)
    if "evaluation_seconds" in summary:
        print(f"evaluation {summary['evaluation_seconds']:.1f}s (fits on the split included)")
    if "indexes_seconds" in summary:
        print(f"search and fallback indexes {summary['indexes_seconds']:.1f}s")
    for artifact, info in summary["served"].items():
        print(f"published {info['model']} as {artifact} (version {info['version']}): {served_figure(info)}")
        print(f"  refit on the whole corpus {info['fit_seconds']:.1f}s")


def resolve_track(corpus: Corpus, search: TrackSearch, query: str) -> tuple[int | None, str]:
    """A track id from a numeric id or a name/link (through `search`, the served name search); (None, message)
    when not found."""
    query = query.strip()
    if query.isdigit():
        info = corpus.track_info([int(query)]).get(int(query))
        return (info.id, info.label) if info else (None, f"no track with id {query}")
    try:
        res = search.search(query)
    except QueryError as exc:
        return None, str(exc)
    sure, offer = res.decide()  # the bot's rule: a song it does not hold is not answered with another one
    if sure is not None:
        return sure.track.id, sure.track.label
    if not offer:
        return None, f"no track matches {query!r}"
    others = "; ".join(f"{c.track.label} (id {c.track.id})" for c in offer[1:4])
    return offer[0].track.id, offer[0].track.label + (f" (also possible: {others})" if others else "")


def similar_picks(
    model: Recommender,
    corpus: Corpus,
    track_id: int,
    k: int,
    *,
    exclude_seed_artist: bool = False,
    max_per_artist: int = 0,
) -> list[Recommendation]:
    """`murecom similar`'s list: the served model's `similar(track_id, k)`, the call the chat core makes for
    `/similar`, so without options it is the bot's list. The options filter a deeper served list (the bot has no
    such options, so with them the list differs from the bot's on purpose). NotInModel for a non-corpus id."""
    if not exclude_seed_artist and max_per_artist <= 0:
        return model.similar(track_id, k)
    recs = model.similar(track_id, max(k * 5, 50))
    artists = corpus.track_artists()
    return rerank(
        recs,
        artists,
        k=k,
        seed_artists=artists.get(track_id, ()),
        exclude_seed_artist=exclude_seed_artist,
        max_per_artist=max_per_artist,
    )


def _similar(args: argparse.Namespace) -> int:
    if args.audio:
        audio = _audio_cli()
        return 2 if audio is None else int(audio.similar_audio(args) or 0)
    if not args.song:
        print('give a song: murecom similar "title - artist" (or a track id, or --audio FILE)')
        return 2
    store = _store(args)
    name = args.model or CF_ARTIFACT
    if store.path(name) is None:
        print(f"no {name} model is published: run `murecom train` first")
        return 2
    corpus = Corpus(open_database(args.settings))
    served = open_served(store, corpus, name)
    if served is None:  # unpublished between the two reads
        print(f"no {name} model is published: run `murecom train` first")
        return 2
    track_id, label = resolve_track(corpus, served.search, args.song)
    if track_id is None:
        print(label)
        return 1
    print(f"seed: {label} (id {track_id}); model {served_figure(served.meta)}")
    try:
        recs = similar_picks(
            served.model,
            corpus,
            track_id,
            args.k,
            exclude_seed_artist=args.exclude_artist,
            max_per_artist=args.max_per_artist,
        )
    except NotInModel:
        print(f"track {track_id} is not in the corpus")
        return 1
    info = corpus.track_info([r.track_id for r in recs])
    print(f"{'#':>2}  {'title':40.40s}  {'artists':28.28s}  {'score':>7s}  reason / link")
    for i, r in enumerate(recs, 1):
        t = info.get(r.track_id)
        title, artist, url = (t.title, t.artist, t.url) if t else (str(r.track_id), "?", "")
        print(f"{i:>2}  {title:40.40s}  {artist:28.28s}  {r.score:7.4f}  {r.reason}  {url}")
    return 0


def _eval(args: argparse.Namespace) -> int:
    """Models fitted on a held-out split, before anything is published (what `train` chooses from); the served
    artifacts are not read here (`--groups` reads only which model the session artifact is)."""
    if args.audio:
        audio = _audio_cli()
        return 2 if audio is None else int(audio.eval_audio(args) or 0)
    if args.ask:
        return eval_ask(args)
    if args.groups:
        return _eval_groups(args)
    corpus = Corpus(open_database(args.settings))
    factories = model_factories(args.seed)
    names = args.models.split(",") if args.models else list(factories)
    unknown = [n for n in names if n not in factories]
    if unknown:
        print(f"unknown model(s) {unknown}; choose from {sorted(factories)}")
        return 2
    if not corpus.stats()["playlists"] and args.dataset != "lastfm":
        print("no held-out playlists: import playlists first (`murecom import default`)")
        return 2
    results: dict[str, Any] = {}
    text = ""
    if args.dataset in ("yes", "both"):
        text += _eval_playlists(corpus, names, args, results)
    if args.dataset in ("lastfm", "both"):
        text += _eval_listeners(corpus, names, args, results)
    text += (
        "\nHigher is better. Ratios are model / default on the test part, with paired bootstrap 95% intervals;"
        " the default of each path is the best on the validation part (disjoint playlists, same seed).\n"
    )
    print(text)
    path = write_table(text, args.settings.home / "eval", Path(args.out) if args.out else None)
    path.with_suffix(".json").write_text(json.dumps(results, indent=2, default=float))
    print(f"written to {path}" + (f" and {args.out}" if args.out else ""))
    return 0


def _eval_groups(args: argparse.Namespace) -> int:
    """Group picks on simulated groups of held-out Yes.com playlists and Last.fm listeners (recommenders/group_eval)."""
    corpus = Corpus(open_database(args.settings))
    name = _store(args).meta(SESSION_ARTIFACT).get("model", "rp3beta")  # the model sessions are served by
    sizes = tuple(int(n) for n in args.group_sizes.split(","))
    text = (
        f"Group picks by {name} (the session default), {args.n_groups} random groups per size, 10 picks each; "
        f"seed {args.seed}. Differences are the product's strategy minus each other one, paired bootstrap 95% CI.\n\n"
    )
    splits = []
    if args.dataset in ("yes", "both"):
        splits.append(("Yes.com playlists", playlist_split(corpus, n_test=args.n_test, seed=args.seed)))
    if args.dataset in ("lastfm", "both"):
        try:
            splits.append(("Last.fm listeners", listener_split(corpus, n_test=min(args.n_test, 500), seed=args.seed)))
        except ValueError as exc:
            print(f"skipping Last.fm: {exc}")
    for title, split in splits:
        model = split.fit(make_model(name, args.seed, "multi-seed"))
        members = [Member(tuple(c.seeds), frozenset(c.hidden)) for c in split.view("test").cases]
        reports = evaluate_groups(model, members, sizes=sizes, n_groups=args.n_groups, seed=args.seed)
        text += format_group_table(reports, f"### {title} ({len(members)} held-out members)") + "\n\n"
    print(text)
    path = write_table(text, args.settings.home / "eval", Path(args.out) if args.out else None)
    print(f"written to {path}")
    return 0


def _eval_playlists(corpus: Any, names: list[str], args: argparse.Namespace, results: dict[str, Any]) -> str:
    """Both served paths on one split, next-track on its own split, cold start, and the variety options."""
    text = ""
    split = playlist_split(corpus, source=args.source, n_test=args.n_test, seed=args.seed)
    fitted = fit_for_paths(split, [*names, *BASELINES], ["one-seed", "multi-seed"], args.seed)
    defaults = {}
    for protocol in ("one-seed", "multi-seed"):
        report = report_path(fitted[protocol], split, protocol, candidates=names, log=log.info)
        defaults[protocol] = report.default
        results[f"{split.name}/{protocol}"] = asdict(report)
        title = f"{split.name}, {protocol} ({report.split['cases']} test playlists, seed {args.seed})"
        text += format_path_table(report, title) + "\n"
    nt = playlist_split(corpus, source=args.source, n_test=args.n_test, seed=args.seed, protocol="next-track")
    nt_fitted = fit_for_paths(nt, [*names, *BASELINES], ["next-track"], args.seed)["next-track"]
    report = report_path(nt_fitted, nt, "next-track", candidates=names, log=log.info)
    results[f"{nt.name}/next-track"] = asdict(report)
    text += format_path_table(report, f"{nt.name}, next-track ({report.split['cases']} test playlists)") + "\n"
    text += _eval_cold_start(corpus, cold_start_split(corpus, source=args.source, seed=args.seed), args, results)
    text += _variety(fitted["one-seed"][defaults["one-seed"]], split.view("test", "one-seed"), defaults["one-seed"])
    return text


def _eval_cold_start(corpus: Any, cold: Any, args: argparse.Namespace, results: dict[str, Any]) -> str:
    """The fallback chain on songs removed from training, against popular tracks, one-seed."""
    inner = cold.fit(make_model("itemknn", args.seed, "one-seed"))
    chains = {
        "fallback chain": WithFallback.from_corpus(inner, corpus, cold.train),
        "artists only": WithFallback.from_corpus(inner, corpus, cold.train, steps=("artists", "popular")),
        "tags only": WithFallback.from_corpus(inner, corpus, cold.train, steps=("tags", "popular")),
        "popular tracks": WithFallback.from_corpus(inner, corpus, cold.train, steps=("popular",)),
    }
    per: dict[str, dict[str, Any]] = {n: {} for n in chains}
    rows = {n: evaluate_recommender(m, cold, per_case=per[n]) for n, m in chains.items()}
    results[cold.name] = rows
    lines = [
        f"### {cold.name}: {len(cold.cases)} songs removed from training, one-seed",
        "",
        "| fallback | R-prec | NDCG@100 | recall@100 | answered | NDCG@100 ratio to popular [95% CI] |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for n, r in rows.items():
        ratio, lo, hi = paired_ratio(per[n]["ndcg@100"], per["popular tracks"]["ndcg@100"])
        lines.append(
            f"| {n} | {r['r_precision']:.4f} | {r['ndcg@100']:.4f} | {r['recall@100']:.4f} | {r['answered']:.2f} "
            f"| {ratio:.2f} [{lo:.2f}–{hi:.2f}] |"
        )
    return "\n".join(lines) + "\n\n"


def _eval_listeners(corpus: Any, names: list[str], args: argparse.Namespace, results: dict[str, Any]) -> str:
    try:
        split = listener_split(corpus, n_test=min(args.n_test, 500), seed=args.seed)
    except ValueError as exc:
        print(f"skipping Last.fm: {exc}")
        return ""
    text = ""
    fitted = fit_for_paths(split, [*names, *BASELINES], ["one-seed", "multi-seed"], args.seed)
    for protocol in ("one-seed", "multi-seed"):
        report = report_path(fitted[protocol], split, protocol, candidates=names, log=log.info)
        results[f"{split.name}/{protocol}"] = asdict(report)
        text += format_path_table(report, f"{split.name}, {protocol} ({report.split['cases']} test listeners)")
        text += "\n"
    return text


def _variety(model: Any, split: Any, name: str) -> str:
    """The variety options on the one-seed default: what they cost in accuracy, gain in diversity."""
    options: dict[str, dict[str, Any]] = {
        "": {},
        " + artist cap 1": {"max_per_artist": 1},
        " + MMR λ=0.7": {"mmr_lambda": 0.7},
        " + no seed artist": {"exclude_seed_artist": True},
    }
    rows = {
        f"{name}{label}": evaluate_recommender(Reranked(model, split.item_artists, **kw), split)
        for label, kw in options.items()
    }
    return format_table(rows, f"variety options on the one-seed default ({name}), test part") + "\n"


def register(sub: argparse._SubParsersAction) -> None:
    t = sub.add_parser("train", help="train, evaluate and publish the CF defaults of /similar and /session")
    t.add_argument(
        "--models",
        help="comma-separated models to compare (default: sknn,rp3beta,itemknn,ease minus the capped ones whose cap "
        "holds under half of the corpus's entries; a note says which were skipped)",
    )
    t.add_argument("--no-eval", action="store_true", help="skip the held-out evaluation (first model wins)")
    t.add_argument(
        "--no-indexes",
        action="store_true",
        help="do not publish the search and fallback indexes (a scratch store nothing serves, e.g. a benchmark)",
    )
    t.add_argument("--seed", type=int, default=42)
    t.set_defaults(func=_train)

    s = sub.add_parser("similar", help='songs similar to one: murecom similar "title - artist" (or a track id)')
    s.add_argument("song", nargs="?", help="a title, 'title - artist', a Spotify link, or a numeric track id")
    s.add_argument("-k", type=int, default=10, help="how many picks")
    s.add_argument("--model", help="artifact name (default 'cf', the /similar default; 'cf-session' for sessions)")
    s.add_argument(
        "--exclude-artist", action="store_true", help="leave out the seed's own artist (unlike the bot's list)"
    )
    s.add_argument(
        "--max-per-artist", type=int, default=0, help="artist cap in the list (default 0: no cap, the bot's list)"
    )
    s.add_argument("--audio", metavar="PATH", help="an audio file: content-based similarity (audio models)")
    s.set_defaults(func=_similar)

    e = sub.add_parser("eval", help="evaluate CF models and baselines on held-out data; prints and writes a table")
    e.add_argument("--dataset", choices=["yes", "lastfm", "both"], default="both")
    e.add_argument("--models", help="comma-separated subset of the models (default: all)")
    e.add_argument("--source", default=None, help="playlist source to evaluate on (default: all playlists)")
    e.add_argument("--n-test", type=int, default=1000, help="held-out playlists (listeners: at most 500) per part")
    e.add_argument("--seed", type=int, default=42)
    e.add_argument("--out", help="also write the table to this file")
    e.add_argument(
        "--audio",
        nargs="?",
        const=True,
        default=False,
        metavar="FOLDER",
        help="evaluate the audio models instead (the fetched soundtracks, or a label/clip FOLDER)",
    )
    e.add_argument("--groups", action="store_true", help="evaluate group-session strategies on simulated groups")
    e.add_argument(
        "--ask", action="store_true", help="evaluate /ask on two-turn requests built from held-out playlists"
    )
    e.add_argument("--group-sizes", default="2,3,5", help="group sizes for --groups")
    e.add_argument("--n-groups", type=int, default=300, help="random groups per size for --groups")
    e.set_defaults(func=_eval)

    register_ask(sub)
    if importlib.util.find_spec("recommenders.audio") is not None:
        try:
            audio_cli = importlib.import_module("recommenders.audio.cli")
        except ModuleNotFoundError as exc:
            if exc.name != "recommenders.audio.cli":
                raise
        else:
            audio_cli.register(sub)
