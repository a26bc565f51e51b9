"""Training a recommender end to end: ratings -> algorithm -> model directory.

Most recommenders are fitted in closed form or by ALS, not by the gradient-step Trainer, so
``train`` writes the model directory itself: ``config.json`` (task, algorithm, its config, the
settings, the data description, JSON state such as a vocabulary), ``model.safetensors`` (factors,
biases, similarities, the training interactions) and ``ids.json`` (user and item ids, item titles).
The CLI, the demo and the benchmark all call :func:`train`.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from aigc.core.errors import BadInputError
from aigc.data.ratings import Ratings, load_ratings

__all__ = ["IDS_NAME", "RecommendSettings", "algorithm_params", "fit_model", "save_model", "train"]

TASK = "recommend"
IDS_NAME = "ids.json"
# settings field -> the algorithm config field it sets (None: leave the algorithm's default)
MODEL_FLAGS = ("factors", "epochs", "reg", "k", "similarity", "user_based", "alpha", "min_rating", "shrinkage",
               "encoder")


@dataclass(kw_only=True)
class RecommendSettings:
    """What to train; algorithm fields left None take the algorithm's defaults."""

    arch: str = "svd"
    data: str | Ratings = "movielens-100k"
    items: str | None = None  # item,title,genres,description CSV for content/hybrid models
    skip_bad: bool = False
    holdout: float = 0.0  # > 0: report held-out scores on this random share before the final fit
    factors: int | None = None
    epochs: int | None = None
    reg: float | None = None
    k: int | None = None
    similarity: str | None = None
    user_based: bool | None = None
    alpha: float | None = None
    min_rating: float | None = None
    shrinkage: float | None = None
    encoder: str | None = None  # content/hybrid: a local sentence-embedding model directory


def algorithm_params(settings: RecommendSettings, config: Any = None) -> dict[str, Any]:
    """The algorithm config fields the settings (and the shared --lr / --batch-size) set."""
    from aigc.recommend.algorithms import algorithm_class

    cls = algorithm_class(settings.arch)
    fields = {f.name for f in dataclasses.fields(cls.config_class)}
    params = {}
    for name in MODEL_FLAGS:
        value = getattr(settings, name)
        if value is None:
            continue
        if name not in fields:
            raise BadInputError(f"--{name.replace('_', '-')} does not apply to {settings.arch}; its settings are "
                                f"{sorted(fields)}")
        params[name] = value
    if config is not None and getattr(cls, "default_lr", None) is not None:
        params.setdefault("lr", config.lr)
        params.setdefault("batch_size", config.batch_size)
    return params


def fit_model(settings: RecommendSettings, data: Ratings, seed: int = 0, config: Any = None) -> Any:
    from aigc.recommend.algorithms import make_algorithm

    return make_algorithm(settings.arch, algorithm_params(settings, config)).fit(data, seed=seed)


def _holdout_scores(settings: RecommendSettings, data: Ratings, seed: int, config: Any) -> dict[str, float]:
    from aigc.metrics.recommend import mae, rmse
    from aigc.recommend.protocol import evaluate_topn, random_split

    train_idx, test_idx = random_split(len(data), settings.holdout, seed)
    train, test = data.subset(train_idx), data.subset(test_idx)
    model = fit_model(settings, train, seed, config)
    out: dict[str, float] = {}
    if model.explicit and not data.implicit:
        pred = model.predict(test.users, test.items)
        out.update(holdout_rmse=rmse(pred, test.ratings), holdout_mae=mae(pred, test.ratings))
    threshold = 4.0 if not data.implicit else 1.0
    try:
        topn = evaluate_topn(model, train, test, k=10, threshold=threshold)
        out.update({"holdout_ndcg@10": topn["ndcg@10"], "holdout_recall@10": topn["recall@10"]})
    except BadInputError:
        pass
    return out


def save_model(out: str | os.PathLike, model: Any, data: Ratings, meta: dict[str, Any]) -> None:
    """Write config.json, model.safetensors and ids.json atomically."""
    import torch

    from aigc import __version__
    from aigc.core.atomic import atomic_write_json
    from aigc.core.config import config_to_dict
    from aigc.core.modeldir import WEIGHTS_NAME, save_weights, write_config

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    tensors = {f"model.{k}": torch.from_numpy(np.ascontiguousarray(v)) for k, v in model.state().items()}
    tensors.update({"seen.users": torch.from_numpy(data.users), "seen.items": torch.from_numpy(data.items),
                    "seen.ratings": torch.from_numpy(data.ratings.astype(np.float64))})
    save_weights(out / WEIGHTS_NAME, tensors)
    titles = {i: {k: v for k, v in data.item_info.get(i, {}).items() if k in ("title", "genres", "text")}
              for i in data.item_ids}
    atomic_write_json(out / IDS_NAME, {"user_ids": data.user_ids, "item_ids": data.item_ids, "items": titles})
    write_config(out, {"aigc_version": __version__, "task": TASK, "architecture": model.name,
                       "model": config_to_dict(model.config), "state_meta": model.meta(), **meta})


def train(settings: RecommendSettings, config: Any, out: str | os.PathLike, *, resume: bool = False) -> dict[str, Any]:
    """Fit ``settings.arch`` on ``settings.data`` and write the model directory ``out``.

    Recommenders refit from scratch in seconds, so ``resume`` simply runs the stored settings again.
    Only ``config.seed`` (and ``lr`` / ``batch_size`` for the SGD models) of the TrainConfig is used.
    """
    from aigc.core.config import config_to_dict

    start = time.perf_counter()
    data = settings.data if isinstance(settings.data, Ratings) else load_ratings(
        settings.data, skip_bad=settings.skip_bad, items=settings.items)
    summary: dict[str, Any] = {"ratings": len(data), "users": data.n_users, "items": data.n_items,
                               "skipped": len(data.skipped)}
    if settings.holdout > 0:
        summary.update(_holdout_scores(settings, data, config.seed, config))
    model = fit_model(settings, data, config.seed, config)
    stored = dataclasses.replace(settings, data=data.source) if isinstance(settings.data, Ratings) else settings
    save_model(out, model, data, {"settings": config_to_dict(stored), "train": config_to_dict(config),
                                  "data": data.spec()})
    summary["seconds"] = time.perf_counter() - start
    extra = "".join(f", {k}={v:.4f}" for k, v in summary.items() if k.startswith("holdout"))
    skipped = f" ({len(data.skipped)} bad rows skipped)" if data.skipped else ""
    print(f"trained {model.name} on {len(data)} ratings{skipped} in {summary['seconds']:.1f} s{extra} -> {out}",
          file=sys.stderr)
    return summary
