"""`murecom export-parquet` and `murecom train-spark`: the training path for a corpus beyond one machine.

The pipeline: `data.export` writes the playlists the recommenders see to Parquet; Spark MLlib ALS
(`recommenders.cf.spark_als`) trains on it, in local mode here or on a cluster; the item factors come back as our
`ALSRecommender` and are published through `ArtifactStore` like every other model, so the bot's serving snapshot
picks them up without knowing Spark exists.

Where it is published: by default as its own artifact, `cf-spark`, which nothing serves (compare it with
`murecom similar --model cf-spark`); `--publish cf` makes it the `/similar` model (and `cf-session` the sessions'
one). With `--evaluate` the model is first trained on the held-out split's training part and measured with the
project's evaluation on each published path, so `/about` quotes a real figure instead of "not evaluated".

On a cluster, run this file with spark-submit (the driver needs murecom installed; executors need only Java):
    spark-submit --master spark://HOST:7077 jobs/spark_train.py --parquet hdfs:///murecom/playlists \\
        --models-dir /srv/murecom/models --work-dir hdfs:///murecom/tmp
(docs/scale.md).
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from data.corpus import Corpus
    from recommenders.artifacts import ArtifactStore
    from recommenders.cf.spark_als import SparkALSResult

log = logging.getLogger(__name__)

#: The artifact a Spark-trained model is published as unless asked otherwise (comparable, not served).
SPARK_ARTIFACT = "cf-spark"
#: The evaluation protocol of each artifact the Spark model may be published as.
PROTOCOLS = {SPARK_ARTIFACT: "one-seed", "cf": "one-seed", "cf-session": "multi-seed"}
#: Defaults tuned for cost on 2 cores, not for accuracy: they are what `make test`'s Spark test can afford.
DEFAULTS: dict[str, Any] = {"factors": 64, "regularization": 0.05, "alpha": 10.0, "iterations": 10}


def train_spark_and_publish(
    store: ArtifactStore,
    spark: SparkSession,
    parquet: Path | str,
    *,
    publish: Sequence[str] = (SPARK_ARTIFACT,),
    params: dict[str, Any] | None = None,
    seed: int = 42,
    corpus: Corpus | None = None,
    evaluate: bool = False,
    n_test: int = 1000,
    work_dir: Path | str | None = None,
    export: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Train Spark ALS on the export at `parquet` and publish it under each name in `publish`.

    With `evaluate` (needs `corpus`), a second Spark fit on the training part of the same held-out split the
    other models are chosen on gives each published path its `served` figure (test part) first.
    Returns {"served": {artifact: meta + version}, "spark": training facts, "evaluation": {...} or absent}.
    """
    # lazy: `murecom --help` imports this module; a command loads only what it runs
    from recommenders.cf.spark_als import fit_spark_als

    unknown = [p for p in publish if p not in PROTOCOLS]
    if unknown or not publish:
        raise ValueError(f"publish as one or more of {sorted(PROTOCOLS)}, not {list(publish) or 'nothing'}")
    if evaluate and corpus is None:
        raise ValueError("--evaluate needs the corpus database (the held-out split is made from it)")
    params = {**DEFAULTS, **(params or {})}
    summary: dict[str, Any] = {"served": {}}
    served: dict[str, dict[str, Any]] = {}
    if evaluate and corpus is not None:
        served, summary["evaluation"] = _evaluate(corpus, spark, publish, params, seed, n_test, work_dir)
    result: SparkALSResult = fit_spark_als(spark, parquet, seed=seed, work_dir=work_dir, **params)
    model = result.model
    summary["spark"] = result.spark
    for artifact in publish:
        meta: dict[str, Any] = {
            "model": model.name,
            "class": model.name,
            "params": model.params(),
            "fit_seconds": result.seconds,
            "n_items": len(model.item_ids),
            "engine": "spark",
            "spark": result.spark,
        }
        if export:
            meta["export"] = export
        protocol = PROTOCOLS[artifact]
        if protocol in served:
            meta["served"] = served[protocol]
            meta["metrics"] = served[protocol]["metrics"]
        with store.staging(artifact) as staged:
            model.save(staged)
            version = store.publish(artifact, staged, meta)
        summary["served"][artifact] = {"version": version, **meta}
        log.info("published Spark ALS as %s (version %s)", artifact, version)
    return summary


def _evaluate(
    corpus: Corpus,
    spark: SparkSession,
    publish: Sequence[str],
    params: dict[str, Any],
    seed: int,
    n_test: int,
    work_dir: Path | str | None,
) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    """The `served` block of each published path's protocol: Spark ALS fitted on the split's training part,
    measured on its test part (validation too, for the record), as `recommenders.evaluation` measures the others."""
    # lazy: `murecom --help` imports this module; a command loads only what it runs
    from data.export import write_sequences
    from recommenders.cf.spark_als import fit_spark_als
    from recommenders.evaluation import PATHS, evaluate_recommender, playlist_split

    t0 = time.perf_counter()
    split = playlist_split(corpus, seed=seed, n_test=n_test)
    with tempfile.TemporaryDirectory(prefix="murecom-split-") as tmp:
        write_sequences(split.train, Path(tmp) / "train.parquet")
        model = fit_spark_als(spark, Path(tmp) / "train.parquet", seed=seed, work_dir=work_dir, **params).model
    out: dict[str, dict[str, Any]] = {}
    for protocol in sorted({PROTOCOLS[a] for a in publish}):
        test = split.view("test", protocol)
        metrics = evaluate_recommender(model, test)
        out[protocol] = {
            "path": PATHS.get(protocol, protocol),
            "protocol": protocol,
            "model": model.name,
            "metrics": metrics,
            "validation_metrics": evaluate_recommender(model, split.view("validation", protocol)),
            "ci": {},
            "split": test.describe(),
            "engine": "spark",
        }
        log.info("Spark ALS %s: R-prec %.4f NDCG@100 %.4f", protocol, metrics["r_precision"], metrics["ndcg@100"])
    return out, {"seconds": round(time.perf_counter() - t0, 1), "protocols": sorted(out)}


def _spark_config(args: argparse.Namespace) -> Any:
    # lazy: `murecom --help` imports this module; a command loads only what it runs
    from recommenders.cf.spark_als import SparkConfig

    extra = dict(kv.split("=", 1) for kv in args.conf or [])
    return SparkConfig(master=args.master or None, driver_memory=args.driver_memory, extra=extra)


def _params(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "factors": args.factors,
        "regularization": args.regularization,
        "alpha": args.alpha,
        "iterations": args.iterations,
    }


def _export(args: argparse.Namespace) -> int:
    # lazy: `murecom --help` imports this module; a command loads only what it runs
    from data.corpus import Corpus
    from data.db import open_database
    from data.export import export_playlists

    corpus = Corpus(open_database(args.settings))
    print(export_playlists(corpus, Path(args.path), source=args.source))
    return 0


def _train_spark(args: argparse.Namespace) -> int:
    # lazy: `murecom --help` imports this module; a command loads only what it runs
    from data.corpus import Corpus
    from data.db import open_database
    from data.export import export_playlists, read_manifest
    from recommenders.artifacts import ArtifactStore
    from recommenders.cf.serving import served_figure
    from recommenders.cf.spark_als import spark_available, spark_session

    why_not = spark_available()
    if why_not:
        print(f"error: {why_not}")
        return 2
    settings = args.settings
    corpus = Corpus(open_database(settings))
    if args.parquet:
        parquet = args.parquet
        export = read_manifest(Path(parquet)) if "://" not in parquet else {}
    else:
        if not corpus.stats()["playlists"]:
            print("the corpus has no playlists: run `murecom import default` first")
            return 2
        parquet = str(settings.home / "spark" / "playlists.parquet")
        report = export_playlists(corpus, Path(parquet))
        print(report)
        export = asdict(report)
    spark = spark_session(_spark_config(args))
    try:
        summary = train_spark_and_publish(
            ArtifactStore(settings.models_dir),
            spark,
            parquet,
            publish=args.publish.split(","),
            params=_params(args),
            seed=args.seed,
            corpus=corpus,
            evaluate=args.evaluate,
            n_test=args.n_test,
            work_dir=args.work_dir,
            export=export,
        )
    except ValueError as exc:
        print(f"error: {exc}")
        return 2
    finally:
        spark.stop()
    _print_summary(summary, served_figure)
    return 0


def _print_summary(summary: dict[str, Any], figure: Any) -> None:
    s = summary["spark"]
    print(
        f"Spark {s['version']} ({s['master']}): ALS rank {s['params']['rank']}, {s['params']['maxIter']} iterations "
        f"on {s['pairs']:,} playlist-track pairs in {s['seconds']:.1f}s"
    )
    for artifact, info in summary["served"].items():
        print(f"published as {artifact} (version {info['version']}): {figure(info)}")


def _add_params(p: argparse.ArgumentParser) -> None:
    p.add_argument("--factors", type=int, default=DEFAULTS["factors"], help="ALS rank")
    p.add_argument("--iterations", type=int, default=DEFAULTS["iterations"])
    p.add_argument("--regularization", type=float, default=DEFAULTS["regularization"], help="Spark's regParam")
    p.add_argument("--alpha", type=float, default=DEFAULTS["alpha"], help="Spark's confidence weight")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument(
        "--publish",
        default=SPARK_ARTIFACT,
        help=f"comma-separated artifacts to publish as: {', '.join(PROTOCOLS)} (cf = what /similar serves)",
    )
    p.add_argument("--driver-memory", default="2g", help="the Spark driver's heap (local mode: the whole job's)")
    p.add_argument("--conf", action="append", metavar="KEY=VALUE", help="any other Spark setting (repeatable)")
    p.add_argument("--work-dir", default=None, help="where Spark writes the item factors (default: a temp folder)")


def register(sub: argparse._SubParsersAction) -> None:
    e = sub.add_parser("export-parquet", help="write the playlists recommenders see to a Parquet folder (for Spark)")
    e.add_argument("path", help="the folder to write (replaced atomically)")
    e.add_argument("--source", default=None, help="only playlists of this source (yes, mpd, …)")
    e.set_defaults(func=_export)

    t = sub.add_parser("train-spark", help="train ALS on Apache Spark and publish it in the bot's artifact format")
    t.add_argument("--parquet", help="train on this export (a path or a cluster URL) instead of exporting the corpus")
    t.add_argument("--master", default="local[2]", help="Spark master (local[2], spark://HOST:7077, yarn, …)")
    t.add_argument("--evaluate", action="store_true", help="measure each published path on held-out playlists first")
    t.add_argument("--n-test", type=int, default=1000, help="held-out playlists per part for --evaluate")
    _add_params(t)
    t.set_defaults(func=_train_spark)


def main(argv: list[str] | None = None) -> int:
    """The spark-submit entry: train on an existing export and publish into a models folder (no database).

    The master, executors and memory come from spark-submit's own options, so none is set here.
    """
    # lazy: `murecom --help` imports this module; a command loads only what it runs
    from recommenders.artifacts import ArtifactStore
    from recommenders.cf.serving import served_figure
    from recommenders.cf.spark_als import SparkConfig, spark_session

    p = argparse.ArgumentParser(prog="spark_train.py", description=main.__doc__)
    p.add_argument("--parquet", required=True, help="a `murecom export-parquet` folder (path or cluster URL)")
    p.add_argument("--models-dir", required=True, help="the artifact store the bot reads (MUREC_MODELS_DIR)")
    _add_params(p)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    extra = dict(kv.split("=", 1) for kv in args.conf or [])
    spark = spark_session(SparkConfig(master=None, driver_memory=args.driver_memory, extra=extra))
    try:
        summary = train_spark_and_publish(
            ArtifactStore(Path(args.models_dir)),
            spark,
            args.parquet,
            publish=args.publish.split(","),
            params=_params(args),
            seed=args.seed,
            work_dir=args.work_dir,
        )
    finally:
        spark.stop()
    _print_summary(summary, served_figure)
    return 0


if __name__ == "__main__":
    sys.exit(main())
