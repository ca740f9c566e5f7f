"""`murecom similar` and the bot's `/similar` are one serving path: for 200 real Yes.com seeds the CLI lists the same
tracks in the same order as the chat core's pages, because both read the published model in the published fallback
chain and make the same call."""

from __future__ import annotations

import contextlib
import io
import random

import pytest

import murecom_cli
from bot.app import build_app
from bot.replies import ChatContext
from data.corpus import Corpus
from data.db import open_database
from data.settings import Settings
from recommenders.artifacts import ArtifactStore
from recommenders.cf.serving import open_served
from recommenders.cli import similar_picks

pytestmark = pytest.mark.heavy  # the bot home trains item-kNN on the real corpus

N_SEEDS = 200
PAGE = 5
PAGES = 6  # what the bot pages through (bot.core PAGE_SIZE × MAX_PAGES picks)
CTX = ChatContext("console", "c", "u", "u")


@pytest.fixture(scope="module")
def settings(bot_home) -> Settings:
    return Settings.from_env(
        {"MUREC_HOME": str(bot_home), "MUREC_USER_RATE_PER_MINUTE": "100000", "MUREC_CHAT_RATE_PER_MINUTE": "100000"}
    )


@pytest.fixture(scope="module")
def seeds(settings) -> list[int]:
    """200 corpus tracks: most known to the CF model, a quarter only to the fallback chain when there are such."""
    corpus = Corpus(open_database(settings))
    served = open_served(ArtifactStore(settings.models_dir), corpus)
    assert served is not None
    in_model = {int(t) for t in served.model.inner.item_ids}  # type: ignore[attr-defined]
    tracks = sorted(int(t) for t in corpus.track_artists())
    rng = random.Random(19)
    outside = [t for t in tracks if t not in in_model]
    chosen = rng.sample(outside, min(len(outside), N_SEEDS // 4))
    chosen += rng.sample(sorted(in_model), N_SEEDS - len(chosen))
    return chosen


async def bot_pages(core, track_id: int) -> list[int]:
    """Every page of the bot's answer to picking `track_id`, as track ids in order."""
    ids: list[int] = []
    for page in range(PAGES):
        action = f"pick:{track_id}" if page == 0 else f"page:{track_id}:{page}"
        [reply] = await core.handle_action(CTX, action)
        assert reply.kind == "recommendations", reply.text
        ids += [line.track_id for line in reply.tracks]
        if not any(b.action.endswith(f":{page + 1}") for row in reply.buttons for b in row):
            break
    return ids


async def test_cli_and_bot_give_the_same_similar_lists(settings, seeds) -> None:
    app = build_app(settings)
    try:
        corpus = Corpus(open_database(settings))
        served = open_served(ArtifactStore(settings.models_dir), corpus)
        assert served is not None
        for track_id in seeds:
            bot = await bot_pages(app.core, track_id)
            assert len(bot) == PAGE * PAGES
            cli_all = [r.track_id for r in similar_picks(served.model, corpus, track_id, PAGE * PAGES)]
            cli_first = [r.track_id for r in similar_picks(served.model, corpus, track_id, PAGE)]
            assert cli_all == bot, track_id
            assert cli_first == bot[:PAGE], track_id
    finally:
        app.close()


async def test_the_cli_command_prints_the_bots_first_page(settings, seeds) -> None:
    """`murecom similar <id> -k 5`, parsed and run in-process as `murecom_cli.main` runs it (without its process-wide
    logging set-up): its rows are the titles of the bot's first page, in order."""
    app = build_app(settings)
    try:
        for track_id in seeds[:: N_SEEDS // 5]:
            [reply] = await app.core.handle_action(CTX, f"pick:{track_id}")
            args = murecom_cli.build_parser().parse_args(["similar", str(track_id), "-k", str(PAGE)])
            args.settings = settings
            out = io.StringIO()
            with contextlib.redirect_stdout(out):
                assert args.func(args) == 0
            rows = [line for line in out.getvalue().splitlines() if line[:2].strip().isdigit()]
            assert [int(r[:2]) for r in rows] == list(range(1, PAGE + 1))
            assert [r[4:44].rstrip() for r in rows] == [f"{line.title:40.40s}".rstrip() for line in reply.tracks]
    finally:
        app.close()
