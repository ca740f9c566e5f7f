"""`murecom eval --ask --dataset lastfm`: the same two-turn evaluation on HetRec Last.fm listeners, where the items are
artists (the listener split of `recommenders.evaluation.listener_split`: a listener's hidden artists are the truth).

Turn 1 names the listener's most played visible artist and up to two tags most hidden artists share ("something
mellow like radiohead"); turn 2 asks for more of the next shared tag and drops an artist turn 1 offered that is
not hidden ("no muse, more 80s"). The product reads the words with the same parser, its names through an artist
name search (`ArtistSearch`, rapidfuzz over the HetRec artists' names, answering in the name search's terms so the
parser files a match as an artist), and answers with the same fusion over an artist CF model (item-kNN on the
training listeners), that list re-ranked by tags, and a tag index over the artists' Last.fm tags. Baselines as on
Yes.com: popularity (most listened artists), CF from the named artist ignoring the words, tags from the words
ignoring the artist, BM25 over artist names and tags with the whole text.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from rapidfuzz import fuzz, process

from data.corpus import Corpus, TrackInfo
from data.search import Candidate, Resolution, normalize
from recommenders.ask.answer import DEFAULT_WEIGHTS, Answerer, Query, Sources, candidate_lists, merge
from recommenders.ask.evaluate import (
    BM25,
    TURN1,
    TURN2,
    TURN2_PLAIN,
    K,
    ndcg,
    recall,
    say,
    shared_tags,
    surfaces,
    tune,
)
from recommenders.ask.parse import AskError, Parser, Request
from recommenders.cf.models import make_model
from recommenders.evaluation import Case, listener_split
from recommenders.tags import TagIndex


class ArtistSearch:
    """A name search over artists, answering as `data.search.TrackSearch` does: each candidate is an artist dressed
    as a track with no title, so the parser takes a match as an artist (`Parser._artist_named`), never as a song."""

    def __init__(self, names: Mapping[int, str]) -> None:
        self.ids = list(names)
        self.names = [normalize(names[a]) for a in self.ids]
        self.labels = dict(names)
        self.corpus: Any = None

    def search(self, query: str, limit: int = 10) -> Resolution:
        hits = process.extract(normalize(query), self.names, scorer=fuzz.ratio, limit=limit)
        cands = []
        for _, score, i in hits:
            a = self.ids[i]
            info = TrackInfo(-a, "", (self.labels[a],), (a,), None, 0, None, "hetrec")
            cands.append(Candidate(info, score / 100.0, title_match=0.0, artist_match=score / 100.0))
        return Resolution(query, cands)


@dataclass
class ArtistCase:
    case: Case
    seed: int
    texts: list[str]
    tags: list[str]


class ArtistAskEvaluation:
    """The systems over one listener split (models fitted on its training listeners only)."""

    def __init__(self, corpus: Corpus, n_test: int, seed: int = 42) -> None:
        self.split = listener_split(corpus, n_test=n_test, seed=seed)
        self.model = self.split.fit(make_model("itemknn", seed, "one-seed"))
        listens = Counter(a for s in self.split.train for a in s)
        artists = sorted({a for s in self.split.train for a in s} | {a for c in self._all_cases() for a in c.hidden})
        self.names = corpus.artist_names(artists)
        tagged = {a: t for a, t in self.split.item_tags.items() if a in self.names}
        self.tags = TagIndex(tagged, dict(listens))
        self.popular = [a for a, _ in sorted(listens.items(), key=lambda kv: (-kv[1], kv[0]))]
        self.sources = Sources(self.model, self.model, None, self.tags)
        self.parser = Parser(ArtistSearch(self.names), self.tags)  # type: ignore[arg-type]
        ids = sorted(self.names)
        self.bm25 = BM25(ids, [f"{normalize(self.names[a])} {' '.join(self.tags.tags_of(a))}" for a in ids])
        self.words = {t: w for t, w in surfaces().items() if t in self.tags}
        n = len(self.tags.track_ids)
        self.idf = {t: float(np.log((1 + n) / (1 + self.tags.document_frequency.get(t, 0)))) for t in self.words}
        self.rng = np.random.default_rng(seed)

    def _all_cases(self) -> list[Case]:
        return [c for part in self.split.parts.values() for c in part]

    def shared_tags(self, hidden: Sequence[int]) -> list[str]:
        return shared_tags(self.tags, self.words, self.idf, hidden)

    def say(self, tag: str) -> str:
        return say(self.rng, self.words, tag)

    def to_items(self, q: Query) -> Query:
        """The query with artists as the items: named artists are the CF seeds, excluded artists excluded items."""
        items = Query.from_json(q.to_json())
        items.seeds = [*items.seeds, *items.artists]
        items.artists = []
        items.exclude_tracks = [*items.exclude_tracks, *(a for a, _ in items.exclude_artists)]
        return items

    def prepare(
        self, part: str
    ) -> list[tuple[ArtistCase, list[Query], list[dict[str, Any]], list[dict[str, list[int]]]]]:
        answerer = Answerer(self.sources, DEFAULT_WEIGHTS)
        out = []
        for case in self.split.view(part, "one-seed").cases:
            seed = case.one_seed
            if seed not in self.names:
                continue
            tags = self.shared_tags(case.hidden)
            chosen = tags[: int(self.rng.integers(1, 3))] if tags else []
            name = self.names[seed].lower()
            text = (str(self.rng.choice(TURN1)).format(tags=" ".join(self.say(t) for t in chosen), song=name) if chosen
                    else f"artists like {name}")  # fmt: skip
            ask = ArtistCase(case, seed, [text], tags)
            queries: list[Query] = []
            lists: list[dict[str, Any]] = []
            baselines: list[dict[str, list[int]]] = []
            previous: Query | None = None
            for turn in range(2):
                if turn == 1:
                    first = [p.track_id for p in answerer.answer(queries[0], K, lists[0])]
                    ask.texts.append(self._turn2(ask, first))
                try:
                    request = self.parser.parse(ask.texts[turn])
                except AskError:
                    request = Request(ask.texts[turn])
                query, _ = merge(previous, request)
                items = self.to_items(query)
                lists.append(candidate_lists(items, self.sources))
                queries.append(items)
                baselines.append(self._baselines(seed, items, " ".join(ask.texts[: turn + 1])))
                previous = query
            out.append((ask, queries, lists, baselines))
        return out

    def _turn2(self, ask: ArtistCase, first: Sequence[int]) -> str:
        hidden = set(ask.case.hidden)
        offered = [a for a in first if a not in hidden and a != ask.seed and a in self.names]
        tag = ask.tags[1] if len(ask.tags) > 1 else (ask.tags[0] if ask.tags else None)
        if tag is None:
            return f"no {self.names[offered[0]].lower()}" if offered else "something else"
        said = str(self.rng.choice(self.words[tag]))
        if not offered:
            return str(self.rng.choice(TURN2_PLAIN)).format(tag=said)
        return str(self.rng.choice(TURN2)).format(tag=said, artist=self.names[offered[0]].lower())

    def _baselines(self, seed: int, q: Query, text: str) -> dict[str, list[int]]:
        cf = [r.track_id for r in self.model.similar(seed, K)] if seed in self.model else []
        wanted = [t for t, w in q.tags.items() if w > 0]
        tags = [a for a, _ in self.tags.representative(wanted, K, weights=q.tags)] if wanted else []
        popular = [a for a in self.popular[: K + 1] if a != seed][:K]
        return {"popularity": popular, "cf (song only)": cf, "tags (words only)": tags,
                "bm25 (whole text)": self.bm25.search(text)}  # fmt: skip

    def score(self, prepared: Sequence[Any], weights: Mapping[str, float]) -> dict[str, dict[str, np.ndarray]]:
        answerer = Answerer(self.sources, weights)
        out: dict[str, dict[str, list[float]]] = {}
        for ask, queries, lists, baselines in prepared:
            relevant = set(ask.case.hidden)
            for turn in range(2):
                answers = {"ask": [p.track_id for p in answerer.answer(queries[turn], K, lists[turn])]}
                answers.update(baselines[turn])
                for system, ids in answers.items():
                    per = out.setdefault(system, {})
                    per.setdefault(f"turn {turn + 1} ndcg@20", []).append(ndcg(ids, relevant))
                    per.setdefault(f"turn {turn + 1} recall@20", []).append(recall(ids, relevant))
        return {s: {m: np.asarray(v) for m, v in ms.items()} for s, ms in out.items()}

    def tune(self, prepared: Sequence[Any]) -> tuple[dict[str, float], float]:
        return tune(self, prepared)
