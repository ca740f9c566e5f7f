"""The `murecom` command: one entry point whose subcommands each package registers itself.

Each of `data.cli`, `recommenders.cli`, `bot.cli` and `jobs.cli` exposes `register(subparsers)`; heavy imports
(TensorFlow, librosa) happen inside the command functions, so `murecom --help` stays instant.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys

COMMAND_MODULES = ("data.cli", "recommenders.cli", "bot.cli", "jobs.cli", "jobs.bootstrap")


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
    from data.settings import get_settings

    settings = get_settings()
    os.environ.setdefault("NUMBA_CACHE_DIR", str(settings.home / "numba-cache"))
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else getattr(logging, settings.log_level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if not args.verbose:
        # gensim logs every epoch, alembic every plugin, httpx every request: keep our own INFO lines readable
        for noisy in ("gensim", "alembic", "httpx"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
