"""`murecom import …` and `murecom stats`: load real data into the corpus database."""

from __future__ import annotations

import argparse
import json
import logging
import tarfile
from pathlib import Path

log = logging.getLogger(__name__)


def _import(args: argparse.Namespace) -> int:
    # lazy: `murecom --help` imports this module; a command loads only what it runs
    from data.corpus import Corpus
    from data.db import open_database, safe_url
    from data.importers.hetrec import import_hetrec
    from data.importers.listenbrainz_dump import import_listenbrainz_dump
    from data.importers.mpd import import_mpd
    from data.importers.yes import import_yes

    settings = args.settings
    engine = open_database(args.settings)
    data_dir = settings.data_dir
    kind = args.kind
    reports: list[object] = []
    if kind in ("yes", "default"):
        reports.append(import_yes(engine, Path(args.path or data_dir / "yes_big"), limit=args.limit))
    if kind in ("hetrec", "default"):
        reports.append(import_hetrec(engine, Path(args.path or data_dir / "hetrec-lastfm-2k")))
    if kind == "mpd":
        if not args.path:
            print("murecom import mpd needs the path of an MPD slice file or of the folder holding them")
            return 2
        reports.append(import_mpd(engine, [Path(args.path)]))
    if kind == "listenbrainz":
        if not args.path:
            print("murecom import listenbrainz needs the path of a listens dump (its folder, or a .tar/.tar.xz of it)")
            return 2
        try:
            reports.append(import_listenbrainz_dump(engine, Path(args.path)))
        except (OSError, ValueError, tarfile.TarError) as exc:
            print(f"murecom import listenbrainz: {exc}")
            return 2
    for report in reports:
        print(report)
    print(f"corpus at {safe_url(settings.database_url)}: {Corpus(engine).stats()}")
    return 0


def _stats(args: argparse.Namespace) -> int:
    # lazy: `murecom --help` imports this module; a command loads only what it runs
    from data.corpus import Corpus
    from data.db import open_database

    print(json.dumps(Corpus(open_database(args.settings)).stats(), indent=2))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("import", help="import real data into the corpus (idempotent)")
    p.add_argument(
        "kind",
        choices=["default", "yes", "hetrec", "mpd", "listenbrainz"],
        help="default = Yes.com + HetRec Last.fm; listenbrainz = a ListenBrainz listens dump (sessions as playlists)",
    )
    p.add_argument("path", nargs="?", help="dataset folder or file (default: under MUREC_DATA)")
    p.add_argument("--limit", type=int, default=None, help="import at most this many Yes.com playlists")
    p.set_defaults(func=_import)
    s = sub.add_parser("stats", help="row counts of the corpus")
    s.set_defaults(func=_stats)
