"""Recommendation: collaborative (baseline, kNN, SVD, SVD++, ALS, BPR, EASE), content-based (TF-IDF)
and hybrid recommenders, a shared evaluation protocol, and contextual bandits that learn from feedback.

Every recommender follows one interface (``aigc.recommend.base.Recommender``): ``fit(ratings)``,
``predict(users, items)``, ``scores(users)``, ``explain``; ``aigc.recommend.algorithms.ALGORITHMS``
names them. Nothing heavy is imported here.
"""

__all__: list[str] = []
