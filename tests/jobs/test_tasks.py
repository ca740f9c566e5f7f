"""The job registry: the command line, the embedded scheduler and the arq workers read the same registered job
functions, and a name that is not a job fails at once, naming the jobs."""

from __future__ import annotations

import pytest

from data.settings import Settings
from jobs import tasks
from jobs.scheduler import DEFAULT_INTERVALS, ScheduledJob, Scheduler
from jobs.worker import worker_settings
from murecom_cli import build_parser


def test_the_registry_holds_the_job_functions_by_name() -> None:
    assert {
        "crawl": tasks.crawl,
        "previews": tasks.previews,
        "retrain": tasks.retrain,
        "listenbrainz": tasks.listenbrainz,
    } == tasks.JOBS
    assert set(DEFAULT_INTERVALS) == set(tasks.JOBS)


def test_an_unknown_job_fails_at_once_naming_the_jobs() -> None:
    settings = Settings.from_env(dotenv=False)
    with pytest.raises(ValueError, match=r"unknown job 'crawll'; jobs: crawl, previews, retrain, listenbrainz"):
        tasks.run("crawll", settings)
    with pytest.raises(ValueError, match=r"unknown job 'crawll'"):
        Scheduler(settings, [ScheduledJob("crawll", 60)])


def test_every_registered_job_can_be_queued_and_has_a_worker_function() -> None:
    parser = build_parser()
    for name in tasks.JOBS:
        assert parser.parse_args(["jobs", "enqueue", name]).job == name
    functions = worker_settings(Settings.from_env(dotenv=False), burst=True, crons=False)["functions"]
    assert [f.__name__ for f in functions] == [f"{name}_job" for name in tasks.JOBS]
