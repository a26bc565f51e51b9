"""Algorithms against Surprise on the same folds, closed forms, and planted structure."""

import numpy as np
import pytest

from aigc.metrics.recommend import rmse
from aigc.recommend.algorithms import ALGORITHMS, make_algorithm
from aigc.recommend.base import Baseline
from aigc.recommend.implicit import EASE, EASEConfig, interactions
from aigc.recommend.knn import KNN, KNNConfig
from aigc.recommend.mf import SVD, SVDConfig, SVDpp, SVDppConfig
from aigc.recommend.protocol import evaluate_topn, kfold, random_split


def _surprise_predictions(algo, data, train_idx, test_idx, scale=(1, 5)):
    from surprise import Dataset, Reader

    d = Dataset(Reader(rating_scale=scale))
    ts = d.construct_trainset([(data.user_ids[u], data.item_ids[i], float(r), None) for u, i, r in
                               zip(data.users[train_idx], data.items[train_idx], data.ratings[train_idx])])
    test = [(data.user_ids[u], data.item_ids[i], float(r)) for u, i, r in
            zip(data.users[test_idx], data.items[test_idx], data.ratings[test_idx])]
    return np.array([p.est for p in algo.fit(ts).test(test)])


@pytest.fixture
def small_explicit(make_planted):
    data, _ = make_planted(n_users=40, n_items=30, density=0.45, noise=0.3, seed=2)
    data.ratings = np.clip(np.round(data.ratings), 1, 5)  # integer stars like MovieLens
    return data


@pytest.mark.parametrize("ours,theirs", [
    (lambda: Baseline(), lambda s: s.BaselineOnly(verbose=False)),
    (lambda: KNN(KNNConfig()), lambda s: s.KNNBaseline(sim_options={"name": "pearson_baseline", "user_based": False},
                                                       verbose=False)),
    (lambda: KNN(KNNConfig(similarity="msd", user_based=True)), lambda s: s.KNNBaseline(verbose=False)),
    (lambda: KNN(KNNConfig(similarity="cosine", user_based=True, centring="none")),
     lambda s: s.KNNBasic(sim_options={"name": "cosine"}, verbose=False)),
    (lambda: KNN(KNNConfig(similarity="pearson", centring="mean", min_k=2)),
     lambda s: s.KNNWithMeans(min_k=2, sim_options={"name": "pearson", "user_based": False}, verbose=False)),
])
def test_baseline_and_knn_equal_surprise_on_the_same_folds(small_explicit, ours, theirs):
    import surprise

    data = small_explicit
    for train_idx, test_idx in kfold(len(data), 3, seed=0):
        model = ours().fit(data.subset(train_idx))
        mine = model.predict(data.users[test_idx], data.items[test_idx])
        ref = _surprise_predictions(theirs(surprise), data, train_idx, test_idx)
        np.testing.assert_allclose(mine, ref, atol=1e-9)
    # a user and an item never seen in training (index -1 here, an unknown raw id there)
    algo = theirs(surprise)
    _surprise_predictions(algo, data, train_idx, test_idx[:1])
    u, i = data.users[train_idx[0]], data.items[train_idx[0]]
    ref = [algo.predict("ghost", data.item_ids[i]).est, algo.predict(data.user_ids[u], "ghost").est]
    np.testing.assert_allclose(model.predict(np.array([-1, u]), np.array([i, -1])), ref, atol=1e-9)


@pytest.mark.parametrize("user_based", [False, True])
def test_knn_keeps_the_k_most_similar_neighbours_like_surprise(make_planted, user_based):
    import surprise

    data, _ = make_planted(n_users=40, n_items=30, density=0.5, noise=0.3, seed=4)  # continuous: no ties
    data.ratings = np.clip(data.ratings, 1, 5)
    train_idx, test_idx = kfold(len(data), 4, seed=1)[0]
    mine = KNN(KNNConfig(k=5, min_k=2, user_based=user_based)).fit(data.subset(train_idx))
    ref = surprise.KNNBaseline(k=5, min_k=2, sim_options={"name": "pearson_baseline", "user_based": user_based},
                               verbose=False)
    np.testing.assert_allclose(mine.predict(data.users[test_idx], data.items[test_idx]),
                               _surprise_predictions(ref, data, train_idx, test_idx), atol=1e-9)


def test_svd_recovers_planted_low_rank_structure(make_planted):
    data, truth = make_planted(n_users=80, n_items=60, rank=3, density=0.5, noise=0.1)
    train_idx, test_idx = random_split(len(data), 0.2, seed=0)
    train = data.subset(train_idx)
    u, i = data.users[test_idx], data.items[test_idx]
    svd = SVD(SVDConfig(factors=3, epochs=150, lr=0.01, reg=0.02)).fit(train, seed=0)
    base = Baseline().fit(train)
    # rank-3 signal of std ~0.85 on top of biases: the baseline cannot see it, SVD recovers it to
    # within 0.2 of the noise-free truth (noise std 0.1)
    assert rmse(base.predict(u, i, clip=False), truth[u, i]) > 0.8
    assert rmse(svd.predict(u, i, clip=False), truth[u, i]) < 0.2


def test_svd_and_svdpp_match_surprise_rmse_on_the_same_folds(small_explicit):
    import surprise

    data = small_explicit
    folds = kfold(len(data), 3, seed=0)
    scores = {k: [] for k in ("svd", "s_svd", "svdpp", "s_svdpp")}
    for train_idx, test_idx in folds:
        train, true = data.subset(train_idx), data.ratings[test_idx]
        u, i = data.users[test_idx], data.items[test_idx]
        cfg = SVDConfig(factors=10, epochs=40, lr=0.01, reg=0.05)
        scores["svd"].append(rmse(SVD(cfg).fit(train).predict(u, i), true))
        scores["s_svd"].append(rmse(_surprise_predictions(surprise.SVD(n_factors=10, n_epochs=40, lr_all=0.01, reg_all=0.05,
                                                                       random_state=0), data, train_idx, test_idx), true))
        scores["svdpp"].append(rmse(SVDpp(SVDppConfig(epochs=20)).fit(train).predict(u, i), true))
        scores["s_svdpp"].append(rmse(_surprise_predictions(surprise.SVDpp(random_state=0), data, train_idx, test_idx), true))
    mean = {k: float(np.mean(v)) for k, v in scores.items()}
    assert mean["svd"] <= mean["s_svd"] + 0.02, mean
    assert mean["svdpp"] <= mean["s_svdpp"] + 0.02, mean


def test_ease_is_the_closed_form(make_planted):
    data, _ = make_planted(n_users=30, n_items=12, density=0.4)
    model = EASE(EASEConfig(reg=3.0)).fit(data)
    x = interactions(data).toarray()
    # B minimises ||X - X B||^2 + lambda ||B||^2 with diag(B) = 0: check the KKT conditions directly
    g = x.T @ x + 3.0 * np.eye(12)
    grad = g @ model.B - x.T @ x  # must be diagonal (the Lagrange multipliers of diag(B) = 0)
    np.testing.assert_allclose(grad - np.diag(np.diag(grad)), 0, atol=1e-8)
    np.testing.assert_allclose(np.diag(model.B), 0)
    np.testing.assert_allclose(model.scores(np.arange(3)), x[:3] @ model.B)


def _implicit_clusters(seed=0):
    """Users in 3 groups each interacting with a random half of their group's 10 items."""
    from aigc.data.ratings import Ratings

    rng = np.random.default_rng(seed)
    rows = [(u, g * 10 + i) for u in range(60) for g in [u % 3] for i in rng.choice(10, 6, replace=False)]
    rows += [(u, int(rng.integers(30))) for u in range(60)]  # a little noise
    rows = sorted(set(rows))
    arr = np.array(rows)
    return Ratings(users=arr[:, 0], items=arr[:, 1], ratings=np.full(len(rows), 5.0),
                   user_ids=[str(u) for u in range(60)], item_ids=[str(i) for i in range(30)])


@pytest.mark.parametrize("algo,params", [("ease", {"reg": 10.0}), ("als", {"factors": 3, "epochs": 8, "reg": 1.0}),
                                         ("bpr", {"factors": 8, "epochs": 40, "lr": 0.05}),
                                         ("knn", {"similarity": "cosine", "centring": "none", "k": 10})])
def test_topn_models_beat_popularity_on_planted_groups(algo, params):
    data = _implicit_clusters()
    train_idx, test_idx = random_split(len(data), 0.25, seed=0)
    train, test = data.subset(train_idx), data.subset(test_idx)
    pop = evaluate_topn(make_algorithm("popularity").fit(train), train, test, k=5)
    ours = evaluate_topn(make_algorithm(algo, params).fit(train, seed=0), train, test, k=5)
    assert ours["ndcg@5"] > pop["ndcg@5"] + 0.2 and ours["recall@5"] > 0.6, (ours, pop)


@pytest.mark.parametrize("algo", sorted(set(ALGORITHMS) - {"content", "hybrid"}))
def test_state_roundtrip_gives_identical_scores(algo, make_planted):
    data, _ = make_planted(n_users=20, n_items=15, density=0.5)
    params = {"epochs": 2} if algo in ("svd", "svdpp", "als", "bpr") else {}
    model = make_algorithm(algo, params).fit(data, seed=0)
    again = make_algorithm(algo, params).load_state({k: np.array(v) for k, v in model.state().items()})
    users = np.arange(5)
    np.testing.assert_allclose(again.scores(users), model.scores(users), rtol=1e-6)
    twin = make_algorithm(algo, params).fit(data, seed=0)  # same seed, same model
    np.testing.assert_allclose(twin.scores(users), model.scores(users))


def test_blend_is_no_worse_than_its_best_member(make_planted):
    from aigc.recommend.blend import Blend, BlendConfig

    data, _ = make_planted(n_users=60, n_items=40, rank=2, density=0.5, noise=0.3, seed=3)
    train_idx, test_idx = random_split(len(data), 0.25, seed=0)
    train, u, i = data.subset(train_idx), data.users[test_idx], data.items[test_idx]
    members = [{"algo": "baseline", "params": {}},
               {"algo": "svd", "params": {"factors": 2, "epochs": 100, "lr": 0.01}}]
    blend = Blend(BlendConfig(members=members, holdout=0.2)).fit(train, seed=0)
    single = [rmse(m.predict(u, i), data.ratings[test_idx]) for m in blend.models]
    assert rmse(blend.predict(u, i), data.ratings[test_idx]) <= min(single) + 0.01
    assert blend.weights[2] > blend.weights[1]  # the factor model carries the planted structure
