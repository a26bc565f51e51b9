"""Content and hybrid models (cold start), and the bandits that learn from feedback."""

import numpy as np
import pytest

from aigc.core.errors import BadInputError
from aigc.recommend.bandit import BanditConfig, LinearBandit, item_features, replay
from aigc.recommend.content import ContentTFIDF, Hybrid, HybridConfig, TextFeatures


def test_text_features_save_as_vocab_and_idf():
    from sklearn.feature_extraction.text import TfidfVectorizer

    texts = ["rockets and stars", "a love story", "stars of love"]
    feats = TextFeatures()
    x = feats.fit_transform(texts)
    ref = TfidfVectorizer(sublinear_tf=True, stop_words="english").fit(texts)
    np.testing.assert_allclose(x.toarray(), ref.transform(texts).toarray())
    again = TextFeatures()
    again.vocab, again.idf = list(feats.vocab), feats.idf.copy()
    new = ["stars, rockets and love"]
    np.testing.assert_allclose(again.transform(new).toarray(), ref.transform(new).toarray())
    with pytest.raises(BadInputError, match="no usable text"):
        TextFeatures().fit_transform(["", "the and"])


def test_cold_start_item_goes_to_users_whose_taste_matches_its_description(make_tastes):
    data = make_tastes()
    model = Hybrid(HybridConfig(factors=4, epochs=60, lr=0.02)).fit(data, seed=0)
    new = model.add_items(["a voyage among the stars and galaxy rockets", "a wedding, a kiss and love"])
    assert new.tolist() == [data.n_items, data.n_items + 1]
    users = np.arange(data.n_users)
    scores = model.scores(users)  # (U, n_items + 2)
    space_fans, romance_fans = users[users % 2 == 0], users[users % 2 == 1]
    # the space item is predicted high for space fans and low for romance fans, and vice versa
    assert scores[space_fans, new[0]].mean() > 4.0 and scores[romance_fans, new[0]].mean() < 2.5
    assert scores[romance_fans, new[1]].mean() > 4.0 and scores[space_fans, new[1]].mean() < 2.5
    # and it ranks in the top half of the whole catalogue for every matching user
    rank = (scores[space_fans] > scores[space_fans, new[0]][:, None]).sum(1)
    assert rank.max() < (data.n_items + 2) // 2


def test_content_model_ranks_by_description(make_tastes):
    data = make_tastes()
    model = ContentTFIDF().fit(data)
    top = np.argsort(-model.scores(np.array([0, 1])), axis=1)[:, :5]
    assert (top[0] % 2 == 0).all() and (top[1] % 2 == 1).all()  # user 0 likes even (space) items
    reasons = model.explain(1, top[1][:1], np.flatnonzero(data.users == 1), data.ratings[data.users == 1])
    assert "{0}" in reasons[0]["reason"] and reasons[0]["because"]


def test_linucb_update_is_the_ridge_closed_form():
    rng = np.random.default_rng(0)
    prior = rng.normal(size=4)
    bandit = LinearBandit(prior, BanditConfig(reg=2.0))
    xs, rs = rng.normal(size=(6, 4)), rng.integers(0, 2, 6).astype(float)
    for x, r in zip(xs, rs):
        bandit.update(x, r)
    # argmin ||X theta - r||^2 + reg ||theta - prior||^2
    expected = np.linalg.solve(xs.T @ xs + 2.0 * np.eye(4), xs.T @ rs + 2.0 * prior)
    np.testing.assert_allclose(bandit.theta, expected)
    a_inv = np.linalg.inv(xs.T @ xs + 2.0 * np.eye(4))
    cand = rng.normal(size=(5, 4))
    ucb = cand @ expected + 0.7 * np.sqrt(np.einsum("nd,de,ne->n", cand, a_inv, cand))
    bandit.config = BanditConfig(alpha=0.7, reg=2.0)
    assert bandit.choose(cand, "linucb", rng) == int(np.argmax(ucb))


def test_replay_bandits_learn_a_users_taste_that_the_static_model_misses(make_tastes):
    """New users, half of whom like the opposite of the population's favourite: the static model
    keeps recommending the population's taste, the bandits learn each user's from accept/skip."""
    data = make_tastes(n_users=40, n_items=40, per_user=30)
    model = Hybrid(HybridConfig(factors=4, epochs=60, lr=0.02)).fit(data, seed=0)
    x, prior = item_features(model, data)
    rng = np.random.default_rng(5)
    users = np.repeat(np.arange(30), 40)
    items = np.tile(np.arange(40), 30)
    likes = np.where(np.arange(30) < 20, 1, 0)  # 20 space fans, 10 romance fans
    ratings = np.where(items % 2 == likes[users], 5.0, 1.0)
    out = replay(x, prior, users, items, ratings, rounds=15, seed=0,
                 config=BanditConfig(alpha=0.3, v=0.3, reg=1.0))
    reward = out["reward"]
    assert out["users"] == 30 and len(out["curve"]["linucb"]) == 15
    assert reward["linucb"] > reward["static"] + 0.1 and reward["thompson"] > reward["static"] + 0.1
    assert reward["linucb"] > reward["random"] + 0.2
    assert abs(reward["random"] - 0.5) < 0.1
    del rng
