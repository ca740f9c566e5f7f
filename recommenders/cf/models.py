"""The CF model list: every saveable model class by name, a fresh model by name, and loading any saved one."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any

from recommenders.cf.als import ALSRecommender
from recommenders.cf.baselines import PopularityRecommender, RandomRecommender
from recommenders.cf.common import CFRecommender
from recommenders.cf.ease import EASE
from recommenders.cf.itemknn import ItemKNN
from recommenders.cf.paths import PATH_PARAMS
from recommenders.cf.rp3beta import RP3beta
from recommenders.cf.sknn import SessionKNN
from recommenders.cf.surprise_knn import SurpriseKNNBaseline
from recommenders.cf.word2vec import Word2VecRecommender

#: The saveable CF model classes, in the order `murecom eval` lists them.
MODEL_CLASSES: tuple[type[CFRecommender], ...] = (
    ItemKNN,
    RP3beta,
    EASE,
    SessionKNN,
    ALSRecommender,
    Word2VecRecommender,
    SurpriseKNNBaseline,
    PopularityRecommender,
    RandomRecommender,
)
#: The baselines every table reports but no path is served by.
BASELINES = ("popularity", "random")


def model_classes() -> dict[str, type[CFRecommender]]:
    """Every saveable CF model class by its `name` (what `model.json` records)."""
    return {c.name: c for c in MODEL_CLASSES}


def make_model(name: str, seed: int = 42, protocol: str | None = None, **params: Any) -> CFRecommender:
    """A fresh model by name with its class defaults (the tuned settings live there), the `protocol`'s
    `PATH_PARAMS` and then `params` overriding them, and `seed` passed to the classes that draw random numbers."""
    params = {**PATH_PARAMS.get(protocol or "", {}).get(name, {}), **params}
    classes = model_classes()
    if name not in classes:
        raise ValueError(f"unknown model {name!r}; choose from {sorted(classes)}")
    cls = classes[name]
    if "seed" in inspect.signature(cls.__init__).parameters:
        params = {"seed": seed, **params}
    return cls(**params)


def model_factories(seed: int = 42) -> dict[str, Callable[[], CFRecommender]]:
    """Factories of the comparable models (the baselines popularity and random excluded), by name."""
    names = [n for n in model_classes() if n not in BASELINES]
    return {name: functools.partial(make_model, name, seed) for name in names}


def load_recommender(path: Path) -> CFRecommender:
    """Load whatever CF model `path` holds (its `model.json` marker names the class; every class is imported here)."""
    return CFRecommender.load(Path(path))
