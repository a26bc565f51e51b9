"""``aigc eval recommend``: one algorithm through the shared protocol (see ``protocol.py``)."""

from __future__ import annotations

import argparse
from typing import Any

from aigc.core.errors import BadInputError
from aigc.data.ratings import Ratings, load_ratings
from aigc.recommend.protocol import (
    evaluate_ratings,
    evaluate_topn,
    kfold,
    random_split,
    time_split,
)
from aigc.recommend.train import MODEL_FLAGS, RecommendSettings, fit_model

__all__ = ["evaluate", "evaluate_settings"]


def evaluate_settings(settings: RecommendSettings, data: Ratings, *, cv: int = 5, split: str = "random",
                      test_fraction: float = 0.2, k: int = 10, threshold: float = 4.0, seed: int = 0) -> dict[str, Any]:
    """CV RMSE/MAE (rating models on explicit data) and top-N scores on one hold-out split."""
    from aigc.recommend.algorithms import make_algorithm
    from aigc.recommend.train import algorithm_params

    params = algorithm_params(settings)
    report: dict[str, Any] = {"algo": settings.arch, "data": data.spec(), "params": params}
    probe = make_algorithm(settings.arch, params)
    if probe.explicit and not data.implicit:
        cvr = evaluate_ratings(lambda: make_algorithm(settings.arch, params), data, kfold(len(data), cv, seed), seed=seed)
        report.update({"cv": cv, "rmse": cvr["rmse"], "mae": cvr["mae"], "fit_test_seconds": cvr["seconds"],
                       "folds": cvr["folds"]})
    if split == "random":
        train_idx, test_idx = random_split(len(data), test_fraction, seed)
    else:
        train_idx, test_idx = time_split(data, test_fraction, per_user=split == "time-per-user")
    train, test = data.subset(train_idx), data.subset(test_idx)
    model = fit_model(settings, train, seed)
    topn = evaluate_topn(model, train, test, k=k, threshold=threshold if not data.implicit else 1.0)
    report.update({"split": split, "test_fraction": test_fraction, **topn})
    return report


def evaluate(args: argparse.Namespace) -> dict[str, Any]:
    if not 0 < args.test_fraction < 1:
        raise BadInputError(f"--test-fraction must be in (0, 1), got {args.test_fraction}")
    settings = RecommendSettings(arch=args.arch, data=args.data, items=args.items, skip_bad=args.skip_bad,
                                 **{f: getattr(args, f) for f in MODEL_FLAGS})
    data = load_ratings(args.data, skip_bad=args.skip_bad, items=args.items)
    return evaluate_settings(settings, data, cv=args.cv, split=args.split, test_fraction=args.test_fraction,
                             k=args.top_k, threshold=args.threshold, seed=args.seed)
