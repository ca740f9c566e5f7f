"""ALS trained on Apache Spark (MLlib, implicit feedback), saved as our own `ALSRecommender`.

Why: one machine's `implicit` ALS is the fastest way to train at Yes.com or a slice of the MPD, but when the corpus
outgrows one machine's memory the training must run on an existing distributed engine. Spark MLlib's ALS is the
standard one (blocked ALS, Hu–Koren–Volinsky implicit feedback); it reads the corpus as Parquet exported by
`data.export` (one row per playlist entry), so it never touches our database, and it runs wholly in the JVM: the
executors need no Python and no murecom, only the driver does.

What comes out is an `ALSRecommender` holding Spark's item factors, so the artifact is byte-for-byte our format
(`items.npy`, `item_factors.npy`, `model.json` with class "als"), loaded by the same `load_recommender` the bot uses,
and answers `similar` with the same cosine search.

How Spark's parameters map onto ours (so the saved params describe the served model honestly):
- `rank` → `factors`, `maxIter` → `iterations`, `seed` → `seed`;
- confidence: Spark uses c = 1 + alpha·r, `implicit` (and our user equation) c = alpha·r; a playlist entry is
  r = 1, so the saved `alpha` is 1 + Spark's alpha, and multi-seed answers solve the same confidences Spark did;
- regularisation: Spark scales regParam by each row's number of ratings (ALS-WR), `implicit` does not; the saved
  `regularization` is regParam × the median playlist length, the scaling a typical new playlist gets in Spark.
  Single-seed `similar` (cosine of item factors) does not depend on it at all.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from data.export import ROW, TRACK
from recommenders.cf.als import ALSRecommender

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

log = logging.getLogger(__name__)

#: Java releases Spark 4 runs on (it refuses older ones; newer ones are untested by Spark).
SUPPORTED_JAVA = (17, 21)
JVM_ROOT = Path("/usr/lib/jvm")

#: The JVM's own logging: errors only, to stderr; set before the JVM starts, so even its start-up lines obey.
LOG4J2 = """\
rootLogger.level = error
rootLogger.appenderRef.stderr.ref = console
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{HH:mm:ss} %p %c{1}: %m%n
# PySpark's gateway starts logging as an interpreter: Spark prints "Setting default log level" unless its logger
# is configured at the root's level
logger.gateway.name = org.apache.spark.api.python.PythonGatewayServer
logger.gateway.level = error
"""


def java_version(java_home: Path) -> int | None:
    """The major version of the JDK/JRE at `java_home` (from its `release` file), None when unreadable."""
    try:
        text = (java_home / "release").read_text()
    except OSError:
        return None
    m = re.search(r'JAVA_VERSION="(\d+)(?:\.(\d+))?', text)
    if m is None:
        return None
    major = int(m.group(1))
    return int(m.group(2) or 0) if major == 1 else major  # "1.8.0" is Java 8


def find_java_home(env: Mapping[str, str] | None = None, jvm_root: Path = JVM_ROOT) -> Path | None:
    """The Java that Spark should use: `JAVA_HOME` when set; else the `java` on PATH; else the newest supported
    JDK under /usr/lib/jvm (Debian's openjdk-17 lands there even when no alternative points at it).

    Why not just PATH: CI's environment may carry no JAVA_HOME, and a machine can hold several JDKs (here also
    Temurin 25, which Spark 4 does not support), so we pick one we know works and say which.
    """
    env = os.environ if env is None else env
    if env.get("JAVA_HOME"):
        return Path(env["JAVA_HOME"])
    java = shutil.which("java", path=env.get("PATH"))
    if java is not None:
        home = Path(java).resolve().parent.parent
        if java_version(home) in SUPPORTED_JAVA or java_version(home) is None:
            return home
    candidates = []
    for home in sorted(jvm_root.iterdir()) if jvm_root.is_dir() else []:
        version = java_version(home)
        if version in SUPPORTED_JAVA and (home / "bin" / "java").exists() and not home.is_symlink():
            candidates.append((version, home))
    if candidates:
        return max(candidates)[1]
    return Path(java).resolve().parent.parent if java is not None else None


def log4j_config() -> Path:
    """The file holding `LOG4J2` (written when missing or stale): what `spark_session` hands the JVM it launches,
    and what `spark-submit --driver-java-options "-Dlog4j2.configurationFile=file:PATH"` can be given, since under
    spark-submit the JVM is up before our code runs."""
    path = Path(tempfile.gettempdir()) / "murecom-spark-log4j2.properties"
    if not path.exists() or path.read_text() != LOG4J2:
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(LOG4J2)
        os.replace(tmp, path)  # another process may be starting its JVM on the same file
    return path


@dataclass
class SparkConfig:
    """Where Spark runs and with what memory; defaults are local mode on this 2-core machine."""

    #: "local[2]" here; "spark://host:7077", "yarn" or "k8s://…" on a cluster; None = whatever spark-submit set.
    master: str | None = "local[2]"
    driver_memory: str = "2g"
    app_name: str = "murecom-train"
    #: Shuffle partitions: Spark's default 200 is for clusters; a few per core keeps local mode fast.
    shuffle_partitions: int = 4
    extra: dict[str, str] = field(default_factory=dict)


def spark_session(config: SparkConfig | None = None) -> SparkSession:
    """A SparkSession with its JVM logging at ERROR and no console progress bar (the console is the user's).

    Java is found by `find_java_home` (JAVA_HOME is set for the JVM launch when it was not). `SPARK_LOCAL_IP`
    defaults to 127.0.0.1 in local mode: Spark would otherwise pick a LAN address and warn about it.
    """
    from pyspark.sql import SparkSession  # lazy: pyspark is the optional spark extra

    config = config or SparkConfig()
    home = find_java_home()
    if home is None:
        raise RuntimeError("Spark needs Java 17 or 21 (Debian: apt-get install openjdk-17-jre-headless)")
    os.environ.setdefault("JAVA_HOME", str(home))
    local = config.master is not None and config.master.startswith("local")
    if local:
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
        # with a system BLAS (Debian's libopenblas0), each of Spark's task threads calls it: threads of its own
        # would oversubscribe the cores (Spark's MLlib guide says the same); the JVM inherits this at launch
        os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    java_opts = f"-Dlog4j2.configurationFile=file:{log4j_config()}"
    builder = SparkSession.builder.appName(config.app_name)
    if config.master is not None:
        builder = builder.master(config.master)
    settings = {
        "spark.driver.memory": config.driver_memory,
        "spark.driver.extraJavaOptions": java_opts,
        "spark.executor.extraJavaOptions": java_opts,
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.shuffle.partitions": str(config.shuffle_partitions),
        **config.extra,
    }
    for key, value in settings.items():
        builder = builder.config(key, value)
    t0 = time.perf_counter()
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    logging.getLogger("py4j").setLevel(logging.WARNING)  # its INFO lines narrate every gateway call
    log.info(
        "Spark %s session (%s, Java at %s) up in %.1fs",
        spark.version,
        spark.sparkContext.master,
        home,
        time.perf_counter() - t0,
    )
    return spark


@dataclass(frozen=True)
class SparkALSResult:
    """The trained model and what the training cost, for the artifact's meta."""

    model: ALSRecommender
    seconds: float
    spark: dict[str, Any]


def fit_spark_als(
    spark: SparkSession,
    parquet: str | Path,
    *,
    factors: int = 64,
    regularization: float = 0.05,
    alpha: float = 10.0,
    iterations: int = 10,
    seed: int = 42,
    blocks: int | None = None,
    work_dir: str | Path | None = None,
) -> SparkALSResult:
    """Fit MLlib ALS (implicitPrefs) on the playlist × track pairs of a `data.export` Parquet folder.

    A track repeated in a playlist counts once (r = 1), as in our own ALS. Track ids are the item ids as they are
    (Spark needs them in int32; checked). The item factors come back through Parquet files in `work_dir` (a
    temporary folder by default; on a cluster, a path every node and the driver can read), so the driver never
    holds a second copy in JVM rows; they are sorted by track id, so the artifact is deterministic.
    """
    # lazy: pyspark is the optional spark extra
    from pyspark.ml.recommendation import ALS
    from pyspark.sql import functions as F

    t0 = time.perf_counter()
    entries = spark.read.parquet(str(parquet))
    # cached: the checks below and ALS's own passes would otherwise re-read and re-deduplicate the export
    pairs = entries.select(F.col(ROW).cast("int").alias("u"), F.col(TRACK).alias("t")).distinct().cache()
    stats = pairs.agg(F.max("t").alias("max_track"), F.min("t").alias("min_track"), F.count("*").alias("pairs")).first()
    if stats is None or not stats["pairs"]:
        raise ValueError(f"{parquet} holds no playlist entries to learn from")
    if stats["max_track"] >= 2**31 or stats["min_track"] < 0:
        raise ValueError("Spark ALS needs track ids in 0..2^31-1; re-map them in the export")
    lengths = pairs.groupBy("u").count().approxQuantile("count", [0.5], 0.01)
    median_len = float(lengths[0]) if lengths else 1.0
    ratings = pairs.select("u", F.col("t").cast("int").alias("i"), F.lit(1.0).cast("float").alias("r"))
    n_blocks = blocks or max(2, spark.sparkContext.defaultParallelism)
    als = ALS(
        rank=factors,
        maxIter=iterations,
        regParam=regularization,
        alpha=alpha,
        implicitPrefs=True,
        seed=seed,
        userCol="u",
        itemCol="i",
        ratingCol="r",
        numUserBlocks=n_blocks,
        numItemBlocks=n_blocks,
        coldStartStrategy="drop",
    )
    try:
        fitted = als.fit(ratings)
    finally:
        pairs.unpersist()
    own_tmp = work_dir is None
    out = Path(tempfile.mkdtemp(prefix="murecom-spark-")) if own_tmp else Path(work_dir)  # type: ignore[arg-type]
    factors_path = out / "item_factors.parquet"
    try:
        fitted.itemFactors.write.mode("overwrite").parquet(str(factors_path))
        item_ids, matrix = _read_factors(factors_path, factors)
    finally:
        if own_tmp:
            shutil.rmtree(out, ignore_errors=True)
    model = ALSRecommender(
        factors=factors,
        regularization=regularization * median_len,
        alpha=1.0 + alpha,
        iterations=iterations,
        seed=seed,
    )
    model._set_items(item_ids)
    model._restore({"item_factors": matrix})
    seconds = time.perf_counter() - t0
    info = {
        "engine": "spark",
        "version": spark.version,
        "master": spark.sparkContext.master,
        "params": {
            "rank": factors,
            "maxIter": iterations,
            "regParam": regularization,
            "alpha": alpha,
            "implicitPrefs": True,
            "seed": seed,
            "blocks": n_blocks,
        },
        "pairs": int(stats["pairs"]),
        "median_playlist_length": median_len,
        "seconds": round(seconds, 2),
    }
    log.info(
        "Spark ALS: %d pairs, %d items, rank %d, %d iterations in %.1fs",
        stats["pairs"],
        len(item_ids),
        factors,
        iterations,
        seconds,
    )
    return SparkALSResult(model, seconds, info)


def _read_factors(path: Path, rank: int) -> tuple[np.ndarray, np.ndarray]:
    """(track ids sorted, float32 factors in that order) from Spark's itemFactors Parquet (id, features)."""
    # lazy: pyarrow reads Spark's output, so only the Spark path (the spark extra) needs it
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    table = pq.read_table(path, columns=["id", "features"])
    ids = table.column("id").to_numpy().astype(np.int64)
    flat = pc.list_flatten(table.column("features")).to_numpy().astype(np.float32)
    matrix = flat.reshape(len(ids), rank)
    order = np.argsort(ids, kind="stable")
    return ids[order], np.ascontiguousarray(matrix[order])


def spark_available() -> str | None:
    """None when pyspark and a usable Java are present, else why not (for a clear CLI message or a test skip)."""
    try:
        import pyspark  # noqa: F401
    except ImportError:
        return "pyspark is not installed: pip install 'murecom[spark]'"
    home = find_java_home()
    if home is None:
        return "no Java found for Spark (Debian: apt-get install openjdk-17-jre-headless)"
    try:
        subprocess.run([str(home / "bin" / "java"), "-version"], check=True, capture_output=True, timeout=30)
    except (OSError, subprocess.SubprocessError) as exc:
        return f"Java at {home} does not run: {exc}"
    return None
