"""`murecom eval --ask`: /ask measured as the Music-CRS challenge measures conversational recommendation — a ranked
list per turn, nDCG@20 and recall@20 against held-out songs — on two-turn requests built from held-out playlists,
against four baselines on the same requests; and the slots of a hand-written set of natural requests.

Requests (`RequestGenerator`, seeded, documented here because every figure depends on it). A held-out playlist of the
CF evaluation split (`recommenders.evaluation.playlist_split`: validation and test parts, the hidden songs never in
training) gives:
- turn 1: its last visible song, named by its title (half the time "title by artist"), and words for what its hidden
  songs share: up to two tags carried by at least a third of the hidden songs (and by at least two of them), from the
  descriptive vocabulary of `lexicon.SYNONYMS` (moods, occasions, eras, genres; never praise or station tags), the
  most telling first (share × idf); each tag is said through a randomly chosen synonym ("driving" → "for a road
  trip", "80s" → "eighties") inside one of `TURN1` templates;
- turn 2: refines from the hidden songs: "more" of the next shared tag (or of the first, when there is one only) and,
  when turn 1's answer offered an artist none of the hidden songs is by, drop that artist ("no Journey, more 80s").
  The answer of turn 1 is the product's with `DEFAULT_WEIGHTS` (so every system is asked the same words).
The truth of both turns is the hidden songs.

Systems, each answering 20 songs per turn: the product (the parser, the merge of turns, fusion; its weights chosen
on validation by a small grid, then read once on test); popularity; CF from the named song ignoring the words; tags
from the words ignoring the song (the parser's tags, "more" weighted); BM25 over each song's title, artist and tags
with the whole conversation's text as the query, filler words left out (the retriever of the Music-CRS BM25
baseline; a small numpy BM25, k1 = 1.2, b = 0.75). Intervals: paired bootstrap 95 % of the ratio product / baseline
(`recommenders.evaluation.paired_ratio`).
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import scipy.sparse as sp

from data.corpus import Corpus
from data.db import open_database
from data.search import TrackSearch, normalize
from recommenders.artifacts import ArtifactStore
from recommenders.ask.answer import DEFAULT_WEIGHTS, Answerer, Query, Sources, candidate_lists, merge
from recommenders.ask.conversation import Asker
from recommenders.ask.lexicon import FILLERS, SYNONYMS
from recommenders.ask.parse import AskError, Parser, Request
from recommenders.cf.fallback import WithFallback
from recommenders.cf.models import make_model
from recommenders.cf.paths import CF_ARTIFACT
from recommenders.evaluation import Case, paired_ratio, playlist_split, write_table
from recommenders.tags import TagIndex

K = 20
SYSTEMS = ("ask", "popularity", "cf (song only)", "tags (words only)", "bm25 (whole text)")
REQUESTS_FILE = Path(__file__).with_name("requests.json")

TURN1 = (
    "something {tags} like {song}",
    "{tags} songs similar to {song}",
    "i'm in the mood for {tags} music, a bit like {song}",
    "play me {tags} stuff like {song}",
    "anything {tags} that sounds like {song}",
    "give me some {tags} tracks in the vein of {song}",
    "songs like {song}, {tags} please",
)
TURN1_PLAIN = ("songs like {song}", "something similar to {song}", "play me stuff like {song}")
TURN2 = ("no {artist}, more {tag}", "drop {artist} and give me more {tag}", "not {artist}, something more {tag}",
         "more {tag} and nothing by {artist}")  # fmt: skip
TURN2_PLAIN = ("more {tag}", "even more {tag} please", "can it be more {tag}")
#: Occasions said as "for …" rather than as an adjective.
OCCASIONS = {"driving": ("for a road trip", "for driving", "for a long drive"), "party": ("for a party",),
             "romantic": ("for a date night",), "relaxing": ("to relax", "to unwind"), "summer": ("for the beach",),
             "energetic": ("for the gym", "for a workout")}  # fmt: skip


def surfaces() -> dict[str, list[str]]:
    """Each requestable tag → the words that say it (the synonyms meaning exactly that tag, and the tag itself)."""
    out: dict[str, list[str]] = {}
    for phrase, tags in SYNONYMS.items():
        if len(tags) == 1:
            out.setdefault(tags[0], []).append(phrase)
    for tag in out:
        if tag not in out[tag]:
            out[tag].append(tag)
    return out


@dataclass
class AskCase:
    case: Case
    seed: int
    texts: list[str]
    tags: list[str]


def shared_tags(
    tags: TagIndex, words: Mapping[str, Sequence[str]], idf: Mapping[str, float], hidden: Sequence[int]
) -> list[str]:
    """Requestable tags (`words`) most of the hidden songs carry, the most telling (idf) first."""
    counts = Counter(t for h in hidden for t in set(tags.tags_of(h)) if t in words)
    floor = max(2, math.ceil(len(hidden) / 3)) if len(hidden) > 1 else 1
    good = [t for t, c in counts.items() if c >= floor]
    return sorted(good, key=lambda t: (-counts[t] / len(hidden) * idf[t], t))


def say(rng: np.random.Generator, words: Mapping[str, Sequence[str]], tag: str) -> str:
    """How a user might ask for `tag`: an occasion ("for a road trip") half the time when it has one, else a word."""
    if tag in OCCASIONS and rng.random() < 0.5:
        return str(rng.choice(OCCASIONS[tag]))
    return str(rng.choice(words[tag]))


class RequestGenerator:
    """Two-turn requests from held-out playlists (see the module docstring)."""

    def __init__(self, corpus: Corpus, tag_index: TagIndex, seed: int = 42) -> None:
        self.rng = np.random.default_rng(seed)
        self.info = corpus.track_info(corpus.track_artists())
        self.tags = tag_index
        self.words = surfaces()
        n = len(tag_index.track_ids)
        self.idf = {t: math.log((1 + n) / (1 + tag_index.document_frequency.get(t, 0))) for t in self.words}

    def shared_tags(self, hidden: Sequence[int]) -> list[str]:
        return shared_tags(self.tags, self.words, self.idf, hidden)

    def say(self, tag: str) -> str:
        return say(self.rng, self.words, tag)

    def turn1(self, case: Case) -> AskCase | None:
        seed = case.one_seed
        info = self.info.get(seed)
        if info is None:
            return None
        song = (
            normalize(info.title).replace(" w ", " ") if "(" not in info.title else normalize(info.title.split("(")[0])
        )
        if self.rng.random() < 0.5:
            song = f"{song} by {info.artist.lower()}"
        tags = self.shared_tags(case.hidden)
        chosen = tags[: int(self.rng.integers(1, 3))] if tags else []
        if chosen:
            words = " ".join(self.say(t) for t in chosen)
            text = str(self.rng.choice(TURN1)).format(tags=words, song=song)
        else:
            text = str(self.rng.choice(TURN1_PLAIN)).format(song=song)
        return AskCase(case, seed, [text], tags)

    def turn2(self, ask: AskCase, first_answer: Sequence[int], artists: Mapping[int, Sequence[int]]) -> str:
        hidden_artists = {a for h in ask.case.hidden for a in artists.get(h, ())}
        offered = Counter(a for t in first_answer for a in artists.get(t, ())[:1] if a not in hidden_artists)
        tag = ask.tags[1] if len(ask.tags) > 1 else (ask.tags[0] if ask.tags else None)
        artist = None
        if offered:
            top = min(offered.items(), key=lambda kv: (-kv[1], kv[0]))[0]
            artist = next(
                (i.artists[0] for t in first_answer if (i := self.info.get(t)) and i.artist_ids[:1] == (top,)), None
            )
        if tag is None and artist is None:
            return "something else"
        if tag is None:
            return f"no {str(artist).lower()}"
        said = str(self.rng.choice(self.words[tag]))
        if artist is None:
            return str(self.rng.choice(TURN2_PLAIN)).format(tag=said)
        return str(self.rng.choice(TURN2)).format(tag=said, artist=str(artist).lower())


class BM25:
    """Okapi BM25 over one text per item (a sparse items × words matrix; numpy and scipy only)."""

    def __init__(self, ids: Sequence[int], docs: Sequence[str], k1: float = 1.2, b: float = 0.75) -> None:
        self.ids = np.asarray(ids, dtype=np.int64)
        vocab: dict[str, int] = {}
        rows, cols = [], []
        for r, doc in enumerate(docs):
            for w in doc.split():
                rows.append(r)
                cols.append(vocab.setdefault(w, len(vocab)))
        tf = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(self.ids), len(vocab)))
        tf.sum_duplicates()
        dl = np.asarray(tf.sum(axis=1)).ravel()
        df = np.bincount(tf.indices, minlength=len(vocab))
        idf = np.log((len(self.ids) - df + 0.5) / (df + 0.5) + 1.0)
        norm = k1 * (1 - b + b * dl / max(float(dl.mean()), 1e-9))
        data = tf.data * (k1 + 1) / (tf.data + np.repeat(norm, np.diff(tf.indptr)))
        self.matrix = sp.csr_matrix((data, tf.indices, tf.indptr), shape=tf.shape).tocsc()
        self.idf, self.vocab = idf, vocab

    @classmethod
    def for_tracks(cls, corpus: Corpus, tag_index: TagIndex) -> BM25:
        """Each song's title, artist and tags."""
        info = corpus.track_info(corpus.track_artists())
        ids = sorted(info)
        docs = [f"{normalize(info[t].title)} {normalize(info[t].artist)} {' '.join(tag_index.tags_of(t))}" for t in ids]
        return cls(ids, docs)

    def search(self, text: str, k: int = K) -> list[int]:
        words = [self.vocab[w] for w in normalize(text).split() if w in self.vocab and w not in FILLERS]
        if not words:
            return []
        q = np.zeros(len(self.vocab))
        for w in words:
            q[w] += self.idf[w]
        scores = self.matrix @ q
        top = np.argsort(-scores, kind="stable")[:k]
        return [int(self.ids[i]) for i in top if scores[i] > 0]


def ndcg(ids: Sequence[int], relevant: set[int], k: int = K) -> float:
    dcg = sum(1.0 / math.log2(r + 2) for r, t in enumerate(ids[:k]) if t in relevant)
    idcg = sum(1.0 / math.log2(r + 2) for r in range(min(len(relevant), k)))
    return dcg / idcg if idcg else 0.0


def recall(ids: Sequence[int], relevant: set[int], k: int = K) -> float:
    return len(set(ids[:k]) & relevant) / len(relevant) if relevant else 0.0


@dataclass
class Prepared:
    """One case ready to score: per turn the product's candidate lists and query, and the baselines' answers."""

    ask: AskCase
    queries: list[Query]
    lists: list[dict[str, list[tuple[int, str]]]]
    baselines: list[dict[str, list[int]]]


class AskEvaluation:
    """The systems of the table over one split's training data (models fitted on it, never on hidden songs)."""

    def __init__(self, corpus: Corpus, split: Any, model: str, seed: int = 42) -> None:
        self.corpus = corpus
        inner = split.fit(make_model(model, seed, "one-seed"))
        session = split.fit(make_model(model, seed, "multi-seed"))
        self.chain = WithFallback.from_corpus(inner, corpus, split.train)
        self.tags = TagIndex.from_corpus(corpus)
        self.sources = Sources(self.chain, self.chain.with_inner(session), self.chain, self.tags)
        self.parser = Parser(TrackSearch(corpus), self.tags)
        self.bm25 = BM25.for_tracks(corpus, self.tags)
        self.generator = RequestGenerator(corpus, self.tags, seed)
        self.artists = corpus.track_artists()
        self.split = split

    def prepare(self, part: str, limit: int | None = None) -> list[Prepared]:
        cases = self.split.view(part, "one-seed").cases[:limit]
        out = []
        answerer = Answerer(self.sources, DEFAULT_WEIGHTS)
        for case in cases:
            ask = self.generator.turn1(case)
            if ask is None:
                continue
            prep = Prepared(ask, [], [], [])
            previous: Query | None = None
            for turn in range(2):
                if turn == 1:
                    first = [p.track_id for p in answerer.answer(prep.queries[0], K, prep.lists[0])]
                    ask.texts.append(self.generator.turn2(ask, first, self.artists))
                try:
                    request = self.parser.parse(ask.texts[turn])
                except AskError:
                    request = Request(ask.texts[turn])
                query, _ = merge(previous, request)
                lists = candidate_lists(query, self.sources)
                query.shown = [p.track_id for p in answerer.answer(query, K, lists)]
                prep.queries.append(query)
                prep.lists.append(lists)
                prep.baselines.append(self._baselines(ask, query, " ".join(ask.texts[: turn + 1])))
                previous = query
            out.append(prep)
        return out

    def _baselines(self, ask: AskCase, query: Query, text: str) -> dict[str, list[int]]:
        seed = ask.seed
        popular = [int(t) for t in self.chain.popular[: K + 1] if int(t) != seed][:K]
        cf = [r.track_id for r in self.chain.similar(seed, K)] if seed in self.chain else []
        wanted = [t for t, w in query.tags.items() if w > 0]
        tags = [t for t, _ in self.tags.representative(wanted, K, weights=query.tags)] if wanted else []
        return {
            "popularity": popular,
            "cf (song only)": cf,
            "tags (words only)": tags,
            "bm25 (whole text)": self.bm25.search(text),
        }

    def score(self, prepared: Sequence[Prepared], weights: Mapping[str, float]) -> dict[str, dict[str, np.ndarray]]:
        """Per system and "turn N metric": the per-case values."""
        answerer = Answerer(self.sources, weights)
        out: dict[str, dict[str, list[float]]] = {s: {} for s in SYSTEMS}
        for prep in prepared:
            relevant = set(prep.ask.case.hidden)
            for turn in range(2):
                answers = {"ask": [p.track_id for p in answerer.answer(prep.queries[turn], K, prep.lists[turn])]}
                answers.update(prep.baselines[turn])
                for system, ids in answers.items():
                    out[system].setdefault(f"turn {turn + 1} ndcg@20", []).append(ndcg(ids, relevant))
                    out[system].setdefault(f"turn {turn + 1} recall@20", []).append(recall(ids, relevant))
        return {s: {m: np.asarray(v) for m, v in ms.items()} for s, ms in out.items()}


#: The fusion grid searched on validation (the RRF constant and each source's weight).
GRID = {"k": (10, 60), "cf": (0.5, 1.0), "cf+tags": (0.0, 1.0, 2.0, 4.0), "tags": (0.0, 0.25, 0.5, 1.0)}


class Scorer(Protocol):
    """What `tune` needs of an evaluation (the songs' and the artists' alike)."""

    def score(self, prepared: Sequence[Any], weights: Mapping[str, float]) -> dict[str, dict[str, np.ndarray]]: ...


def tune(evaluation: Scorer, prepared: Sequence[Any]) -> tuple[dict[str, float], float]:
    """The grid point with the best mean nDCG@20 over both turns of the validation requests."""
    best: tuple[float, dict[str, float]] | None = None
    keys = list(GRID)
    for values in itertools.product(*(GRID[k] for k in keys)):
        weights = {**DEFAULT_WEIGHTS, **dict(zip(keys, values, strict=True))}
        scores = evaluation.score(prepared, weights)["ask"]
        mean = float(np.mean([scores["turn 1 ndcg@20"].mean(), scores["turn 2 ndcg@20"].mean()]))
        if best is None or mean > best[0]:
            best = (mean, weights)
    assert best is not None
    return best[1], best[0]


def format_ask_table(per: Mapping[str, Mapping[str, np.ndarray]], title: str) -> str:
    metrics = ("turn 1 ndcg@20", "turn 1 recall@20", "turn 2 ndcg@20", "turn 2 recall@20")
    lines = [f"### {title}", "", "| system | " + " | ".join(metrics) + " |", "|---|" + "---:|" * len(metrics)]
    for system in SYSTEMS:
        cells = [f"{per[system][m].mean():.4f}" for m in metrics]
        lines.append(f"| {system} | " + " | ".join(cells) + " |")
    lines += ["", "ask / baseline, paired bootstrap 95% CI:", "",
              "| baseline | " + " | ".join(metrics) + " |", "|---|" + "---:|" * len(metrics)]  # fmt: skip
    for system in SYSTEMS[1:]:
        cells = []
        for m in metrics:
            r, lo, hi = paired_ratio(per["ask"][m], per[system][m])
            cells.append(f"{r:.2f} [{lo:.2f}–{hi:.2f}]")
        lines.append(f"| {system} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


# --- the hand-written requests: slots and exclusions ---------------------------------------------------------


def load_requests(path: Path = REQUESTS_FILE) -> list[dict[str, Any]]:
    return list(json.loads(path.read_text()))


def slots_of(request: Request) -> set[tuple[str, str]]:
    """A parsed request's slots, comparable with the hand-written expectations (names normalised)."""
    out = {("song", normalize(s.label)) for s in request.songs}
    out |= {("artist", normalize(a.name)) for a in request.artists}
    out |= {("tag", t) for t in [*request.tags, *request.more_tags]}
    out |= {("exclude_tag", t) for t in request.exclude_tags}
    out |= {("exclude_artist", normalize(a.name)) for a in request.exclude_artists}
    return out


def expected_slots(item: Mapping[str, Any]) -> set[tuple[str, str]]:
    out = {("song", normalize(s)) for s in item["songs"]} | {("artist", normalize(a)) for a in item["artists"]}
    out |= {("tag", t) for t in item["tags"]} | {("exclude_tag", t) for t in item["exclude_tags"]}
    return out | {("exclude_artist", normalize(a)) for a in item["exclude_artists"]}


def slot_report(asker: Asker, items: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Slot precision and recall per kind (micro), the share of answers breaking an expected exclusion, and the
    requests whose slots differ (for reading)."""
    tp: Counter[str] = Counter()
    fp: Counter[str] = Counter()
    fn: Counter[str] = Counter()
    broken, answered, misses = 0, 0, []
    names = asker.parser.search.corpus.artist_names
    for item in items:
        turn = asker.turn(item["text"], None)
        got = slots_of(turn.request) if turn.request is not None else set()
        want = expected_slots(item)
        for kind, _ in got & want:
            tp[kind] += 1
        for kind, _ in got - want:
            fp[kind] += 1
        for kind, _ in want - got:
            fn[kind] += 1
        if got != want:
            misses.append({"text": item["text"], "missing": sorted(want - got), "extra": sorted(got - want)})
        if turn.picks:
            answered += 1
            excluded_artists = {normalize(a) for a in item["exclude_artists"]}
            for p in turn.picks:
                tags = set(asker.answerer.track_tags(p.track_id))
                artists = {normalize(n) for n in names(asker.answerer.track_artists(p.track_id)).values()}
                if tags & set(item["exclude_tags"]) or artists & excluded_artists:
                    broken += 1
                    break
    kinds = sorted(set(tp) | set(fp) | set(fn))
    rows = {}
    for kind in [*kinds, "all"]:
        t = sum(tp.values()) if kind == "all" else tp[kind]
        f_p = sum(fp.values()) if kind == "all" else fp[kind]
        f_n = sum(fn.values()) if kind == "all" else fn[kind]
        rows[kind] = {"precision": t / (t + f_p) if t + f_p else 1.0, "recall": t / (t + f_n) if t + f_n else 1.0,
                      "expected": t + f_n}  # fmt: skip
    return {"slots": rows, "requests": len(items), "answered": answered, "broken": broken, "misses": misses}


def format_slot_table(report: Mapping[str, Any]) -> str:
    lines = [f"### Slots of the {report['requests']} hand-written requests (recommenders/ask/requests.json)", "",
             "| slot | expected | precision | recall |", "|---|---:|---:|---:|"]  # fmt: skip
    for kind, row in report["slots"].items():
        lines.append(f"| {kind} | {row['expected']} | {row['precision']:.3f} | {row['recall']:.3f} |")
    share = report["broken"] / max(1, report["answered"])
    lines.append("")
    lines.append(f"Answers breaking an expected exclusion: {report['broken']} of {report['answered']} ({share:.1%}).")
    return "\n".join(lines) + "\n"


def eval_ask(args: argparse.Namespace) -> int:
    """Tune on validation, report on test: Yes.com playlists (songs), then HetRec listeners (artists) when imported,
    then the slot table."""
    corpus = Corpus(open_database(args.settings))
    if not corpus.stats()["playlists"]:
        print("no held-out playlists: import playlists first (`murecom import default`)")
        return 2
    start = time.perf_counter()
    text, summary = "", {}
    evaluation = None
    weights = dict(DEFAULT_WEIGHTS)
    if args.dataset in ("yes", "both"):
        model = ArtifactStore(args.settings.models_dir).meta(CF_ARTIFACT).get("model", "itemknn")
        split = playlist_split(corpus, source=args.source, n_test=args.n_test, seed=args.seed)
        evaluation = AskEvaluation(corpus, split, model, args.seed)
        val = evaluation.prepare("validation")
        weights, val_score = tune(evaluation, val)
        test = evaluation.prepare("test")
        per = evaluation.score(test, weights)
        fitted = ", ".join(f"{k}={v:g}" for k, v in weights.items() if k in GRID)
        text += format_ask_table(
            per,
            f"/ask on two-turn requests from held-out Yes.com playlists: test, {len(test)} requests "
            f"(CF model {model}; fusion {fitted} chosen on {len(val)} validation requests, mean nDCG@20 "
            f"{val_score:.4f})",
        )
        examples = "\n".join(f"- {' → '.join(p.ask.texts)}" for p in test[:5])
        text += f"\nExamples of generated requests (test):\n{examples}\n\n"
        summary["yes"] = {
            "weights": weights,
            "test": {s: {m: float(v.mean()) for m, v in ms.items()} for s, ms in per.items()},
        }
    if args.dataset in ("lastfm", "both"):
        text += _eval_artists(corpus, args, summary)
    if evaluation is None:
        tags = TagIndex.from_corpus(corpus)
        chain = WithFallback.from_corpus(
            make_model("popularity").fit_sequences([list(p) for p in corpus.playlists()]), corpus
        )
        asker = Asker(Parser(TrackSearch(corpus), tags), Answerer(Sources(chain, chain, chain, tags), weights))
    else:
        asker = Asker(evaluation.parser, Answerer(evaluation.sources, weights))
    report = slot_report(asker, load_requests())
    text += format_slot_table(report)
    text += f"\n({time.perf_counter() - start:.0f} s)\n"
    print(text)
    path = write_table(text, args.settings.home / "eval", Path(args.out) if args.out else None)
    summary["slots"] = report
    path.with_suffix(".json").write_text(json.dumps(summary, indent=2, default=float))
    print(f"written to {path}")
    return 0


def _eval_artists(corpus: Corpus, args: argparse.Namespace, summary: dict[str, Any]) -> str:
    """The same evaluation on HetRec listeners, artists as items (`recommenders.ask.evaluate_artists`)."""
    # lazy: evaluate_artists builds on this module's metrics and tuning, so a top import would be a circle
    from recommenders.ask.evaluate_artists import ArtistAskEvaluation

    try:
        evaluation = ArtistAskEvaluation(corpus, min(args.n_test, 500), args.seed)
    except ValueError as exc:
        print(f"skipping HetRec: {exc}")
        return ""
    val = evaluation.prepare("validation")
    weights, val_score = evaluation.tune(val)
    test = evaluation.prepare("test")
    per = evaluation.score(test, weights)
    fitted = ", ".join(f"{k}={v:g}" for k, v in weights.items() if k in GRID)
    text = format_ask_table(
        per,
        f"/ask on two-turn requests from held-out HetRec Last.fm listeners (artists): test, {len(test)} requests "
        f"(artist CF itemknn; fusion {fitted} chosen on {len(val)} validation requests, mean nDCG@20 {val_score:.4f})",
    )
    examples = "\n".join(f"- {' → '.join(a.texts)}" for a, *_ in test[:5])
    text += f"\nExamples of generated requests (test):\n{examples}\n\n"
    summary["hetrec"] = {
        "weights": weights,
        "test": {s: {m: float(v.mean()) for m, v in ms.items()} for s, ms in per.items()},
    }
    return text
