"""Synthetic ratings with known structure, made in the test (MovieLens is never needed)."""

from __future__ import annotations

import numpy as np
import pytest

from aigc.data.ratings import Ratings


def planted(n_users: int = 80, n_items: int = 60, rank: int = 3, density: float = 0.5, noise: float = 0.1,
            seed: int = 0) -> tuple[Ratings, np.ndarray]:
    """Ratings mu + b_u + b_i + p_u . q_i (+ noise) on a random ``density`` share of the matrix;
    returns them with the (n_users, n_items) noise-free truth."""
    rng = np.random.default_rng(seed)
    p = rng.normal(0, 0.7, (n_users, rank))
    q = rng.normal(0, 0.7, (n_items, rank))
    truth = 3.5 + rng.normal(0, 0.3, (n_users, 1)) + rng.normal(0, 0.3, (1, n_items)) + p @ q.T
    mask = rng.random((n_users, n_items)) < density
    u, i = np.nonzero(mask)
    r = truth[u, i] + rng.normal(0, noise, u.size)
    return Ratings(users=u.astype(np.int64), items=i.astype(np.int64), ratings=r,
                   user_ids=[f"u{k}" for k in range(n_users)], item_ids=[f"i{k}" for k in range(n_items)],
                   timestamps=rng.integers(0, 10_000, u.size), source="planted"), truth


TEXTS = {0: "rockets stars galaxy space voyage", 1: "love wedding kiss romance heart"}


def tastes(n_users: int = 40, n_items: int = 30, per_user: int = 12, seed: int = 0) -> Ratings:
    """Two tastes: even users love even items (space) and dislike odd ones (romance), odd users the
    reverse; every item has a description of its kind."""
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(n_users):
        for i in rng.choice(n_items, per_user, replace=False):
            rows.append((u, i, 5.0 if u % 2 == i % 2 else 1.0 + rng.integers(0, 2)))
    arr = np.array(rows)
    info = {f"m{i}": {"title": f"Film {chr(65 + i % 26)}{i}", "genres": ["Romance" if i % 2 else "Space"],
                      "text": TEXTS[i % 2]} for i in range(n_items)}
    return Ratings(users=arr[:, 0].astype(np.int64), items=arr[:, 1].astype(np.int64), ratings=arr[:, 2],
                   user_ids=[f"u{k}" for k in range(n_users)], item_ids=[f"m{k}" for k in range(n_items)],
                   item_info=info, source="tastes")


@pytest.fixture
def make_planted():
    return planted


@pytest.fixture
def make_tastes():
    return tastes


@pytest.fixture
def with_task(monkeypatch):
    """Register the recommend task for CLI tests (until the registry line lands in core)."""
    from aigc.core import registry

    monkeypatch.setitem(registry.TASKS, "recommend", "aigc.recommend.task:TASK")
