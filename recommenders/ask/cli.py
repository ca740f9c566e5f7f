"""`murecom ask "TEXT" [--then "TEXT" …]`: the chat's `/ask` from the command line, over the published models (the
objects the bot serves: `recommenders.cf.serving.open_served`), printing after each turn what was understood and the
picks as "N. Title — Artist"; and `murecom eval --ask` (`recommenders.ask.evaluate`)."""

from __future__ import annotations

import argparse

from data.corpus import Corpus
from data.db import open_database
from recommenders.artifacts import ArtifactStore
from recommenders.ask.answer import Answerer, Query, Sources
from recommenders.ask.conversation import Asker
from recommenders.ask.parse import Parser
from recommenders.cf.paths import CF_ARTIFACT, SESSION_ARTIFACT
from recommenders.cf.serving import open_served
from recommenders.tags import TagIndex


def served_asker(corpus: Corpus, store: ArtifactStore) -> Asker | None:
    """The asker over the published models, as the bot's snapshot composes it (None when nothing is published)."""
    cf = open_served(store, corpus, CF_ARTIFACT)
    if cf is None:
        return None
    session = open_served(store, corpus, SESSION_ARTIFACT)
    tags = TagIndex.from_corpus(corpus)
    sources = Sources(cf.model, session.model if session is not None else cf.model, cf.model, tags)
    return Asker(Parser(cf.search, tags), Answerer(sources))


def ask(args: argparse.Namespace) -> int:
    corpus = Corpus(open_database(args.settings))
    asker = served_asker(corpus, ArtifactStore(args.settings.models_dir))
    if asker is None:
        print("no cf model is published: run `murecom train` first")
        return 2
    previous: Query | None = None
    status = 0
    for n, text in enumerate([args.text, *(args.then or [])], 1):
        turn = asker.turn(text, previous)
        print(f"turn {n}: {text}")
        if turn.request is not None:
            print(f"  understood: {turn.request.describe()}")
        for note in turn.notes:
            print(f"  note: {note}")
        if turn.error is not None:
            print(f"  {turn.error}")
            for c in turn.offer:
                print(f"  - {c.track.label}")
            status = 1
            continue
        infos = corpus.track_info([p.track_id for p in turn.picks])
        for i, p in enumerate(turn.picks, 1):
            info = infos.get(p.track_id)
            label = f"{info.title} — {info.artist}" if info else str(p.track_id)
            print(f"{i:>3}. {label}  ({p.reason})")
        previous = turn.query
    return status


def register(sub: argparse._SubParsersAction) -> None:
    a = sub.add_parser("ask", help='a request in your own words: murecom ask "something chill like hotel california"')
    a.add_argument("text", help="the first turn")
    a.add_argument("--then", action="append", metavar="TEXT", help="a following turn (repeatable)")
    a.set_defaults(func=ask)
