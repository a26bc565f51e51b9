"""Recommenders on MovieLens 100k, side by side with scikit-surprise in the same run.

Rating prediction: 5-fold CV (Surprise's protocol; the *same* folds are given to both libraries):
RMSE, MAE and fit+test seconds per fold (mean) for baseline, knn_baseline (item-based,
pearson_baseline similarity), svd and svdpp. Each side runs its own defaults, except kNN, which uses
the same similarity on both sides. Top-N: one 80/20 random split, ratings >= 4 held out as
positives, full ranking with training items removed: NDCG@10 and Recall@10 for popularity, item-kNN,
ALS, BPR and EASE. Bandit: 20% of users held out as new users, replayed on their logged ratings.

    OMP_NUM_THREADS=1 python benchmarks/recommend.py                 # full run (a few minutes)
    OMP_NUM_THREADS=1 python benchmarks/recommend.py --quick --out /tmp/r.json   # smoke check, < 60 s

ml-100k is read from AIGC_DATA_DIR/ml-100k or ~/.cache/aigc/data/ml-100k (else downloaded from
GroupLens). MovieLens may not be redistributed: never commit it.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import command, machine

from aigc.core.atomic import atomic_write_json
from aigc.data.ratings import Ratings, load_ratings
from aigc.metrics.recommend import mae, rmse
from aigc.recommend.algorithms import make_algorithm
from aigc.recommend.protocol import evaluate_ratings, evaluate_topn, kfold, random_split

OURS: dict[str, tuple[str, dict[str, Any]]] = {
    "baseline": ("baseline", {}),
    "knn_baseline": ("knn", {"similarity": "pearson_baseline", "user_based": False}),
    "svd": ("svd", {}),
    "svdpp": ("svdpp", {}),
    "blend": ("blend", {}),  # knn_baseline + svdpp + svd, weights fitted on 10% of each training fold
}
TOPN: dict[str, tuple[str, dict[str, Any]]] = {
    "popularity": ("popularity", {}),
    "item_knn": ("knn", {"similarity": "cosine", "centring": "none", "k": 40}),
    "als": ("als", {}),
    "bpr": ("bpr", {}),
    "ease": ("ease", {}),
}


def surprise_algorithms() -> dict[str, Callable[[], Any]]:
    import surprise

    return {
        "baseline": lambda: surprise.BaselineOnly(verbose=False),
        "knn_baseline": lambda: surprise.KNNBaseline(sim_options={"name": "pearson_baseline", "user_based": False},
                                                     verbose=False),
        "svd": lambda: surprise.SVD(random_state=0),
        "svdpp": lambda: surprise.SVDpp(random_state=0, cache_ratings=True),
    }


def run_surprise(make: Callable[[], Any], data: Ratings, folds: list) -> dict[str, float]:
    """Surprise on our folds: trainset/testset built from the same rating indices."""
    from surprise import Dataset, Reader

    raw = [(data.user_ids[u], data.item_ids[i], float(r)) for u, i, r in zip(data.users, data.items, data.ratings)]
    reader_data = Dataset(Reader(rating_scale=(float(data.ratings.min()), float(data.ratings.max()))))
    per_fold = []
    for train_idx, test_idx in folds:
        trainset = reader_data.construct_trainset([raw[k] + (None,) for k in train_idx])
        testset = [raw[k] for k in test_idx]
        start = time.perf_counter()
        algo = make()
        algo.fit(trainset)
        pred = np.array([p.est for p in algo.test(testset)])
        seconds = time.perf_counter() - start
        true = data.ratings[test_idx]
        per_fold.append((rmse(pred, true), mae(pred, true), seconds))
    arr = np.array(per_fold)
    return {"rmse": float(arr[:, 0].mean()), "mae": float(arr[:, 1].mean()), "seconds": float(arr[:, 2].mean()),
            "rmse_folds": arr[:, 0].round(5).tolist()}


def run_ours(name: str, params: dict, data: Ratings, folds: list) -> dict[str, float]:
    out = evaluate_ratings(lambda: make_algorithm(name, params), data, folds)
    return {"rmse": out["rmse"], "mae": out["mae"], "seconds": out["seconds"],
            "rmse_folds": [round(f["rmse"], 5) for f in out["folds"]], "params": params}


def paired_svd_timing(data: Ratings, folds: list, repeats: int = 3) -> dict[str, Any]:
    """Fit+test seconds of our SVD and Surprise's SVD, alternating on each fold and keeping each
    side's fastest of ``repeats`` (other processes on a shared machine slow whichever runs then)."""
    import surprise

    ours, theirs = [], []
    for fold in folds:
        mine, ref = [], []
        for _ in range(repeats):
            mine.append(run_ours("svd", {}, data, [fold])["seconds"])
            ref.append(run_surprise(lambda: surprise.SVD(random_state=0), data, [fold])["seconds"])
        ours.append(min(mine))
        theirs.append(min(ref))
    return {"ours_seconds": float(np.mean(ours)), "surprise_seconds": float(np.mean(theirs)),
            "speedup": float(np.mean(theirs) / np.mean(ours)), "repeats": repeats}


def run_topn(data: Ratings, algos: dict, seed: int) -> dict[str, dict[str, float]]:
    train_idx, test_idx = random_split(len(data), 0.2, seed)
    train, test = data.subset(train_idx), data.subset(test_idx)
    out = {}
    for label, (name, params) in algos.items():
        start = time.perf_counter()
        report = evaluate_topn(make_algorithm(name, params).fit(train, seed=seed), train, test, k=10, threshold=4.0)
        out[label] = {"ndcg@10": report["ndcg@10"], "recall@10": report["recall@10"],
                      "precision@10": report["precision@10"], "map@10": report["map@10"],
                      "coverage": report["coverage"], "novelty": report["novelty"],
                      "seconds": time.perf_counter() - start}
        print(f"topn {label}: ndcg@10 {report['ndcg@10']:.4f} recall@10 {report['recall@10']:.4f}", flush=True)
    return out


def run_bandit(data: Ratings, seed: int, rounds: int) -> dict[str, Any]:
    from aigc.recommend.bandit import item_features, replay

    rng = np.random.default_rng(seed)
    new_users = rng.permutation(data.n_users)[: data.n_users // 5]
    is_new = np.isin(data.users, new_users)
    train, logged = data.subset(np.flatnonzero(~is_new)), data.subset(np.flatnonzero(is_new))
    model = make_algorithm("hybrid", {}).fit(train, seed=seed)
    x, prior = item_features(model, train)
    out = replay(x, prior, logged.users, logged.items, logged.ratings, rounds=rounds, pool=50, seed=seed)
    out["features"] = "hybrid item factors + bias + 1; prior = the static model for an average user"
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default="movielens-100k")
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quick", action="store_true", help="20k ratings, 2 folds, no Surprise SVD++ (smoke check)")
    p.add_argument("--skip-surprise", action="store_true")
    p.add_argument("--out", default=str(Path(__file__).resolve().parent / "results" / "recommend.json"))
    args = p.parse_args(argv)
    data = load_ratings(args.data)
    folds_n = args.folds
    if args.quick:
        data = data.subset(np.random.default_rng(0).permutation(len(data))[:20_000])
        folds_n = 2
    folds = kfold(len(data), folds_n, args.seed)
    result: dict[str, Any] = {"data": data.spec(), "folds": folds_n, "fold_seed": args.seed, "ours": {},
                              "surprise": {}, "machine": machine(), "command": command()}
    for label, (name, params) in OURS.items():
        result["ours"][label] = run_ours(name, params, data, folds)
        print(f"ours {label}: {result['ours'][label]['rmse']:.4f} in {result['ours'][label]['seconds']:.2f} s/fold",
              flush=True)
    if not args.skip_surprise:
        for label, make in surprise_algorithms().items():
            if args.quick and label == "svdpp":
                continue
            result["surprise"][label] = run_surprise(make, data, folds)
            print(f"surprise {label}: {result['surprise'][label]['rmse']:.4f} in "
                  f"{result['surprise'][label]['seconds']:.2f} s/fold", flush=True)
    if not args.skip_surprise:
        result["svd_timing"] = paired_svd_timing(data, folds, repeats=1 if args.quick else 3)
        print(f"svd timing: {result['svd_timing']}", flush=True)
    result["topn"] = run_topn(data, TOPN, args.seed)
    result["bandit"] = run_bandit(data, args.seed, rounds=10 if args.quick else 20)
    print(f"bandit reward: {result['bandit']['reward']}", flush=True)
    result["summary"] = summary(result)
    atomic_write_json(args.out, result)
    print(json.dumps(result["summary"], indent=2))
    return 0


def summary(result: dict[str, Any]) -> dict[str, Any]:
    ours, theirs = result["ours"], result["surprise"]
    best = min(ours, key=lambda k: ours[k]["rmse"])
    out: dict[str, Any] = {"best_ours": {"algo": best, "rmse": ours[best]["rmse"]}}
    if "svd" in theirs:
        out["svd_speedup_vs_surprise"] = theirs["svd"]["seconds"] / ours["svd"]["seconds"]
        out["svd_rmse_ours_minus_surprise"] = ours["svd"]["rmse"] - theirs["svd"]["rmse"]
    if "svd_timing" in result:
        out["svd_speedup_paired"] = result["svd_timing"]["speedup"]
    return out


if __name__ == "__main__":
    sys.exit(main())
