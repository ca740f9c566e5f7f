"""The `murecom` command: one entry point whose subcommands each package registers itself.

Each of `data.cli`, `recommenders.cli`, `bot.cli` and `jobs.cli` exposes `register(subparsers)`; heavy imports
(TensorFlow, librosa) happen inside the command functions, so `murecom --help` stays instant. Logging is set up in
one place, `data.logsafe.configure_logging`, which also keeps the configured secrets out of every log line.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from data.logsafe import configure_logging
from data.settings import Settings

COMMAND_MODULES = ("data.cli", "recommenders.cli", "bot.cli", "jobs.cli", "jobs.bootstrap", "jobs.spark_train")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="murecom", description="Music-recommendation chatbot.")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue
            raise
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

    settings = Settings.from_env()
    os.environ.setdefault("NUMBA_CACHE_DIR", str(settings.home / "numba-cache"))
    args = build_parser().parse_args(argv)

    configure_logging(settings, verbose=args.verbose)
    args.settings = settings  # the one Settings of this process, handed to the command
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
