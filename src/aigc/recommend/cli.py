"""``aigc train recommend``, ``aigc recommend``, ``aigc similar`` and ``aigc eval recommend``."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from aigc.core.cli_args import HelpFormatter, add_device_arg, add_seed_arg, positive_int
from aigc.core.errors import BadInputError

__all__ = ["add_eval_recommend", "add_recommend", "add_similar", "add_train_args", "generate_parser"]

ALGOS = ("baseline", "knn", "svd", "svdpp", "als", "bpr", "ease", "popularity", "content", "hybrid", "blend")
DATA_HELP = "movielens-100k | movielens-1m | movielens-latest-small | csv:PATH (user,item[,rating[,timestamp]])"


def _add_data_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", default="movielens-100k", help=DATA_HELP)
    p.add_argument("--items", default=None, metavar="CSV",
                   help="item side information: item,title,genres,description (genres split on |)")
    p.add_argument("--skip-bad", action="store_true",
                   help="skip and count bad rows (wrong columns, bad or out-of-range rating, duplicates) "
                        "instead of stopping at the first, which is reported with its line number")


def _add_model_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("algorithm settings (default: the algorithm's own)")
    g.add_argument("--factors", type=positive_int, default=None, help="latent factors (svd, svdpp, als, bpr, hybrid)")
    g.add_argument("--epochs", type=positive_int, default=None, help="passes over the data")
    g.add_argument("--reg", type=float, default=None, help="L2 regularisation (ease: lambda)")
    g.add_argument("--k", type=positive_int, default=None, help="neighbours (knn)")
    g.add_argument("--similarity", choices=["cosine", "pearson", "msd", "pearson_baseline"], default=None,
                   help="knn similarity")
    g.add_argument("--user-based", action="store_true", default=None, help="knn over users instead of items")
    g.add_argument("--shrinkage", type=float, default=None, help="knn pearson_baseline shrinkage (default 100)")
    g.add_argument("--alpha", type=float, default=None, help="als confidence weight of an interaction")
    g.add_argument("--min-rating", type=float, default=None,
                   help="implicit models: ratings >= this count as interactions (default: all)")
    g.add_argument("--encoder", default=None, metavar="DIR",
                   help="content, hybrid: embed item text with this local sentence-embedding model (a Hugging "
                        "Face directory, e.g. all-MiniLM-L6-v2 saved with save_pretrained; needs transformers) "
                        "instead of TF-IDF")


def add_train_args(p: argparse.ArgumentParser) -> None:
    """Flags of ``aigc train recommend`` (the shared --out/--seed/--lr/--batch-size come from the core;
    --lr/--batch-size apply to the SGD models svd, svdpp, bpr, hybrid; --steps is not used)."""
    p.add_argument("--algo", "--arch", dest="arch", choices=ALGOS, default="svd", metavar="ALGO",
                   help="recommender: " + ", ".join(ALGOS))
    _add_data_args(p)
    p.add_argument("--holdout", type=float, default=0.0, metavar="FRACTION",
                   help="first report RMSE/NDCG@10 on this random share held out, then fit on everything")
    _add_model_args(p)


def generate_parser(model_dir: str) -> argparse.ArgumentParser:
    """``aigc generate DIR`` for a recommender is ``aigc recommend DIR``."""
    p = argparse.ArgumentParser(prog=f"aigc generate {model_dir}", formatter_class=HelpFormatter,
                                description="Recommend items to a user. Example: aigc generate runs/svd --user 42 --n 10")
    _add_recommend_args(p)
    p.set_defaults(func=lambda a: run_recommend(model_dir, a))
    return p


def _add_recommend_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--user", required=True, help="user id as in the training data (a new id gets a labelled fallback)")
    p.add_argument("--n", type=positive_int, default=10, help="how many items")
    p.add_argument("--liked", action="append", default=[], metavar="ITEM",
                   help="for a new user: an item they like (repeatable; content and hybrid models)")
    p.add_argument("--add-items", metavar="CSV", default=None,
                   help="first add new items from item,title,genres,description (content and hybrid models "
                        "place them by their text at once)")
    p.add_argument("--include-seen", action="store_true", help="do not drop items the user already rated")
    p.add_argument("--out", default=None, help="also write the list as JSON with its recipe")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    add_device_arg(p, "cpu (recommenders run on numpy)")


def add_recommend(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("recommend", help="recommend items to a user from a recommender model",
                              formatter_class=HelpFormatter,
                              description="Recommend items to a user, each with its reason (similar items or the "
                                          "factor contribution). Example: aigc recommend runs/svd --user 42 --n 10")
    p.add_argument("model_dir", help="a model directory written by `aigc train recommend`")
    _add_recommend_args(p)
    p.set_defaults(func=lambda a: run_recommend(a.model_dir, a))


def _load(model_dir: str) -> Any:
    import aigc

    pipe = aigc.load(model_dir, device="cpu")
    if getattr(pipe, "task", "") != "recommend":
        raise BadInputError(f"{model_dir}: a {pipe.task!r} model, not a recommender")
    return pipe


def run_recommend(model_dir: str, args: argparse.Namespace) -> int:
    pipe = _load(model_dir)
    added: list[str] = []
    if args.add_items:
        from aigc.data.ratings import read_items_csv

        added = pipe.add_items(read_items_csv(args.add_items))
    result = pipe.recommend(args.user, args.n, liked=args.liked, exclude_seen=not args.include_seen)
    if added:
        result["added_items"] = added
    if args.out:
        pipe.save(result, args.out, seed=0, user=args.user, n=args.n, liked=args.liked, add_items=args.add_items)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    if result["fallback"]:
        print(f"user {args.user}: {result['fallback']}")
    for rank, e in enumerate(result["items"], 1):
        print(f"{rank:>3}. {e['title']} [{e['item']}]  score {e['score']:.3f}  — {e['reason']}")
    return 0


def add_similar(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("similar", help="items most like an item, from a recommender model",
                              formatter_class=HelpFormatter,
                              description="List the items most like an item (cosine of the model's item vectors). "
                                          "Example: aigc similar runs/svd --item 50 --n 10")
    p.add_argument("model_dir", help="a model directory written by `aigc train recommend`")
    p.add_argument("--item", required=True, help="item id as in the training data")
    p.add_argument("--n", type=positive_int, default=10, help="how many items")
    p.add_argument("--out", default=None, help="also write the list as JSON with its recipe")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=run_similar)


def run_similar(args: argparse.Namespace) -> int:
    pipe = _load(args.model_dir)
    result = pipe.similar(args.item, args.n)
    if args.out:
        pipe.save(result, args.out, seed=0, item=args.item, n=args.n)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"like {result['title']} [{result['item']}]:")
    for rank, e in enumerate(result["similar"], 1):
        print(f"{rank:>3}. {e['title']} [{e['item']}]  similarity {e['similarity']:.3f}")
    return 0


def add_eval_recommend(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "recommend", help="cross-validated RMSE/MAE and top-N precision/recall/NDCG/MAP of a recommender",
        formatter_class=HelpFormatter,
        description="Score a recommender with the shared protocol: k-fold CV RMSE/MAE (Surprise's folds) for "
                    "rating models, and top-N metrics with the user's training items removed from a full "
                    "ranking. Example: aigc eval recommend --algo svd --data movielens-100k --cv 5")
    p.add_argument("--algo", "--arch", dest="arch", choices=ALGOS, default="svd", metavar="ALGO",
                   help="recommender: " + ", ".join(ALGOS))
    _add_data_args(p)
    _add_model_args(p)
    p.add_argument("--cv", type=positive_int, default=5, help="folds for RMSE/MAE (rating models)")
    p.add_argument("--split", choices=["random", "time", "time-per-user"], default="random",
                   help="top-N hold-out: random, globally latest, or each user's latest ratings")
    p.add_argument("--test-fraction", type=float, default=0.2, help="top-N hold-out share")
    p.add_argument("--top-k", type=positive_int, default=10, help="K of the top-N metrics")
    p.add_argument("--threshold", type=float, default=4.0, help="held-out ratings >= this are positives")
    add_seed_arg(p, "folds, splits and model initialisation")
    p.add_argument("--json", dest="json_out", default=None, metavar="OUT", help="also write the report as JSON")
    p.set_defaults(func=run_eval_recommend)


def run_eval_recommend(args: argparse.Namespace) -> int:
    from aigc.recommend.evaluate import evaluate

    report = evaluate(args)
    for key, value in report.items():
        if isinstance(value, float):
            print(f"{key:>16}: {value:.4f}")
        elif not isinstance(value, (list, dict)):
            print(f"{key:>16}: {value}")
    if args.json_out:
        from aigc.core.atomic import atomic_write_json

        atomic_write_json(args.json_out, report)
        print(f"report written to {args.json_out}", file=sys.stderr)
    return 0
