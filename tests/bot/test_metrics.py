"""The metrics endpoint after real traffic: counters, outcomes and latency per command, read over HTTP from
127.0.0.1 as Prometheus would scrape them."""

from __future__ import annotations

import asyncio
import dataclasses
import logging

import httpx
from prometheus_client.parser import text_string_to_metric_families

from bot.app import build_app
from bot.replies import ChatContext

ANN = ChatContext("telegram", "chat-metrics", "u-ann", "Ann")


def scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def sample(samples, metric: str, **labels: str) -> float:
    return samples.get((metric, tuple(sorted(labels.items()))), 0.0)


async def test_metrics_count_requests_outcomes_and_latency(bot_settings, caplog) -> None:
    caplog.set_level(logging.INFO, logger="bot.middleware")
    app = build_app(dataclasses.replace(bot_settings, user_rate_per_minute=8))  # a burst of 4, then "easy there"
    try:
        port = app.metrics.serve(0)
        core = app.core
        [first] = await core.handle_text(ANN, "/similar hotel california")
        await core.handle_action(ANN, first.buttons[0][0].action)
        await core.handle_text(ANN, "/help")
        await core.handle_text(ANN, "/help")
        [told] = await core.handle_text(ANN, "/help")  # the fifth request of the burst of four
        assert told.text.startswith("Easy there")
        samples = await asyncio.to_thread(scrape, port)
    finally:
        app.close()
    # the same requests as log records with their fields (what MUREC_LOG_FORMAT=json writes), no user text
    logged = [r for r in caplog.records if r.name == "bot.middleware" and hasattr(r, "outcome")]
    fields = [(r.platform, r.kind, r.command, r.outcome) for r in logged]  # type: ignore[attr-defined]
    assert fields == [("telegram", "command", "similar", "ok"), ("telegram", "button", "page", "ok"),
                      ("telegram", "command", "help", "ok"), ("telegram", "command", "help", "ok")]  # fmt: skip
    assert all(r.ms >= 0 and "hotel" not in r.getMessage() for r in logged)  # type: ignore[attr-defined]
    requests = "murecom_requests_total"
    assert sample(samples, requests, kind="command", name="similar", outcome="ok") == 1
    assert sample(samples, requests, kind="button", name="page", outcome="ok") == 1
    assert sample(samples, requests, kind="command", name="help", outcome="ok") == 2
    assert sample(samples, requests, kind="command", name="help", outcome="flood") == 1
    assert sample(samples, "murecom_request_seconds_count", kind="command", name="similar") == 1
    assert 0 < sample(samples, "murecom_request_seconds_sum", kind="command", name="similar") < 30
    assert sample(samples, "murecom_audio_in_flight") == 0
