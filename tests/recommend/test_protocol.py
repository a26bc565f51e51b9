import numpy as np
import pytest

from aigc.core.errors import BadInputError
from aigc.recommend.base import Baseline
from aigc.recommend.implicit import Popularity, interactions
from aigc.recommend.protocol import (
    evaluate_ratings,
    evaluate_topn,
    kfold,
    random_split,
    time_split,
    top_n,
)


def test_kfold_is_surprises_partition(make_planted):
    from surprise import Dataset, Reader
    from surprise.model_selection import KFold

    n = 103
    folds = kfold(n, 5, seed=3)
    data = Dataset(Reader(rating_scale=(1, 5)))
    data.raw_ratings = [(str(i), "x", 3.0, None) for i in range(n)]
    theirs = [len(test) for _, test in KFold(n_splits=5, random_state=3).split(data)]
    assert [len(t) for _, t in folds] == theirs == [21, 21, 21, 20, 20]
    tests = np.concatenate([t for _, t in folds])
    assert sorted(tests.tolist()) == list(range(n))  # every rating is tested exactly once
    for train, test in folds:
        assert np.intersect1d(train, test).size == 0 and train.size + test.size == n
    with pytest.raises(BadInputError, match="--cv"):
        kfold(10, 1)


def test_time_splits_put_the_latest_ratings_in_test(make_planted):
    data, _ = make_planted(n_users=20, n_items=15, density=0.6)
    train, test = time_split(data, 0.25)
    assert data.timestamps[train].max() <= data.timestamps[test].min()
    assert abs(test.size - round(0.25 * len(data))) == 0
    train, test = time_split(data, 0.25, per_user=True)
    for u in range(data.n_users):
        tr, te = train[data.users[train] == u], test[data.users[test] == u]
        if te.size:
            assert data.timestamps[tr].max(initial=-1) <= data.timestamps[te].min()
    assert np.intersect1d(train, test).size == 0 and train.size + test.size == len(data)
    data.timestamps = None
    with pytest.raises(BadInputError, match="timestamps"):
        time_split(data)


def test_no_test_item_is_ever_counted_as_training(make_planted):
    data, _ = make_planted(n_users=30, n_items=25)
    train_idx, test_idx = random_split(len(data), 0.3, seed=1)
    train, test = data.subset(train_idx), data.subset(test_idx)
    train_pairs = set(zip(train.users.tolist(), train.items.tolist()))
    test_pairs = set(zip(test.users.tolist(), test.items.tolist()))
    assert not train_pairs & test_pairs
    model = Popularity().fit(train)
    seen = interactions(train)
    users = np.arange(data.n_users)
    ranked = top_n(model, seen, users, data.n_items - int(np.asarray(seen.sum(1)).max()))
    for u in users:  # training items never appear; every test item of the user can appear
        assert not set(ranked[u].tolist()) & set(seen[u].indices.tolist())
    full = top_n(model, seen, users, 1)
    assert all(seen[u, full[u, 0]] == 0 for u in users)
    report = evaluate_topn(model, train, test, k=5, threshold=3.5)
    assert 0 < report["users"] <= data.n_users and 0 <= report["ndcg@5"] <= 1


def test_topn_of_an_oracle_is_perfect(make_planted):
    """A model that scores each user's held-out positives highest gets precision = recall = NDCG = 1
    where the user has >= k positives: nothing from training leaks in, nothing held out is dropped."""
    data, _ = make_planted(n_users=25, n_items=40, density=0.6)
    train_idx, test_idx = random_split(len(data), 0.3, seed=0)
    train, test = data.subset(train_idx), data.subset(test_idx)

    class Oracle(Popularity):
        def scores(self, users):
            s = np.zeros((len(users), self.n_items))
            for n, u in enumerate(users):
                s[n, test.items[(test.users == u) & (test.ratings >= 3.5)]] = 1.0
                s[n, train.items[train.users == u]] = 2.0  # must be ignored: training items
            return s

    report = evaluate_topn(Oracle().fit(train), train, test, k=3, threshold=3.5)
    assert report["map@3"] == pytest.approx(1.0) and report["ndcg@3"] == pytest.approx(1.0)


def test_evaluate_ratings_per_fold(make_planted):
    data, _ = make_planted(n_users=30, n_items=20)
    out = evaluate_ratings(Baseline, data, kfold(len(data), 3, seed=0))
    assert len(out["folds"]) == 3 and out["rmse"] == pytest.approx(np.mean([f["rmse"] for f in out["folds"]]))
    assert out["mae"] < out["rmse"] and out["seconds"] > 0
