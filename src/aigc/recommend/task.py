"""The recommendation task (strings only: nothing heavy is imported here)."""

from aigc.core.task import Task

TASK = Task(
    name="recommend",
    summary="recommenders (baseline, kNN, SVD, SVD++, ALS, BPR, EASE, content, hybrid, blend) from ratings",
    train_example="aigc train recommend --algo svd --data movielens-100k --holdout 0.2 --out runs/svd",
    architectures={
        "baseline": "aigc.recommend.base:Baseline",
        "knn": "aigc.recommend.knn:KNN",
        "svd": "aigc.recommend.mf:SVD",
        "svdpp": "aigc.recommend.mf:SVDpp",
        "als": "aigc.recommend.implicit:ImplicitALS",
        "bpr": "aigc.recommend.implicit:BPR",
        "ease": "aigc.recommend.implicit:EASE",
        "popularity": "aigc.recommend.implicit:Popularity",
        "content": "aigc.recommend.content:ContentTFIDF",
        "hybrid": "aigc.recommend.content:Hybrid",
        "blend": "aigc.recommend.blend:Blend",
    },
    pipeline="aigc.recommend.pipeline:RecommendPipeline",
    settings="aigc.recommend.train:RecommendSettings",
    train="aigc.recommend.train:train",
    train_parser="aigc.recommend.cli:add_train_args",
    generate_parser="aigc.recommend.cli:generate_parser",
    commands={
        "recommend": ("recommend items to a user, with reasons", "aigc.recommend.cli:add_recommend"),
        "similar": ("items most like an item", "aigc.recommend.cli:add_similar"),
    },
    evaluators={"recommend": ("cross-validated RMSE/MAE and top-N precision/recall/NDCG/MAP of a recommender",
                              "aigc.recommend.cli:add_eval_recommend")},
    media=("json",),
    smoke_train=("--algo", "svd", "--data", "csv:{ratings}", "--epochs", "2", "--factors", "4"),
    smoke_run=("recommend", "{model}", "--user", "1", "--n", "3", "--out", "{out}/recs.json"),
    demo="aigc.recommend.demo:run",
    demo_seconds=1,
)
