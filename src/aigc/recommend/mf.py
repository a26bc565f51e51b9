"""Matrix factorisation for explicit ratings: biased SVD (Funk; Koren, Bell & Volinsky 2009) and SVD++
(Koren 2008), fitted by stochastic gradient descent on shuffled mini-batches of ratings.

r_ui = mu + b_u + b_i + q_i . (p_u [+ |N(u)|^-1/2 sum_{j in N(u)} y_j])

Each mini-batch applies the per-rating SGD updates of Surprise summed over the batch (index_add, no
Python loop per rating); with batches small against the number of users and items this is the same
algorithm run in parallel (Hogwild-style, Niu et al. 2011). Defaults are Surprise's, so the two are
compared at equal settings.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from aigc.data.ratings import Ratings
from aigc.recommend.base import Recommender, bias_terms

__all__ = ["SVD", "SVDConfig", "SVDpp", "SVDppConfig"]

DTYPE = torch.float32
MIN_BATCHES = 10


@dataclass(kw_only=True)
class SVDConfig:
    """Surprise's defaults are factors=100, epochs=20, lr=0.005, reg=0.02, one rating at a time; on
    ml-100k folds 10 factors, 10 epochs of 8192-rating batches at lr 0.015 and reg 0.04 reach a lower
    RMSE in a quarter of the time (benchmarks/recommend.py)."""

    factors: int = 10
    epochs: int = 10
    lr: float = 0.015
    reg: float = 0.04
    reg_bias: float = 0.02
    init_std: float = 0.1
    batch_size: int = 8192
    lr_decay: float = 1.0  # multiply lr by this after every epoch


@dataclass(kw_only=True)
class SVDppConfig(SVDConfig):
    """Surprise's defaults except reg 0.04 (0.02 in Surprise): RMSE 0.915 against 0.918 on an
    ml-100k 80/20 split, with 1024-rating batches."""

    factors: int = 20
    epochs: int = 20
    lr: float = 0.007
    reg: float = 0.04
    reg_bias: float = 0.02
    batch_size: int = 1024


class SVD(Recommender):
    """Biased matrix factorisation."""

    name = "svd"
    config_class = SVDConfig
    default_lr, default_batch_size = SVDConfig.lr, SVDConfig.batch_size  # what --lr / --batch-size default to

    def _init(self, seed: int) -> torch.Generator:
        c = self.config
        g = torch.Generator().manual_seed(seed)
        self.P = torch.randn(self.n_users, c.factors, generator=g, dtype=DTYPE) * c.init_std
        self.Q = torch.randn(self.n_items, c.factors, generator=g, dtype=DTYPE) * c.init_std
        self.bu = torch.zeros(self.n_users, dtype=DTYPE)
        self.bi = torch.zeros(self.n_items, dtype=DTYPE)
        return g

    def _fit(self, train: Ratings, seed: int) -> None:
        g = self._init(seed)
        u = torch.from_numpy(train.users)
        i = torch.from_numpy(train.items)
        r = torch.from_numpy(train.ratings.astype(np.float64)).to(DTYPE)
        self._prepare(train)
        lr = self.config.lr
        # at least MIN_BATCHES updates per epoch, so a small data set is not fitted in one full batch
        batch = max(1, min(self.config.batch_size, -(-len(train) // MIN_BATCHES)))
        for _ in range(self.config.epochs):
            perm = torch.randperm(len(train), generator=g)
            for b in perm.split(batch):
                self._step(u[b], i[b], r[b], lr)
            lr *= self.config.lr_decay

    def _prepare(self, train: Ratings) -> None:
        pass

    def _step(self, u: torch.Tensor, i: torch.Tensor, r: torch.Tensor, lr: float) -> None:
        c = self.config
        pu, qi = self.P[u], self.Q[i]
        bu, bi = self.bu[u], self.bi[i]
        err = r - (self.mu + bu + bi + (pu * qi).sum(1))
        self.bu.index_add_(0, u, lr * (err - c.reg_bias * bu))
        self.bi.index_add_(0, i, lr * (err - c.reg_bias * bi))
        e = err[:, None]
        self.P.index_add_(0, u, lr * (e * qi - c.reg * pu))
        self.Q.index_add_(0, i, lr * (e * pu - c.reg * qi))

    def _user_vectors(self, users: np.ndarray) -> np.ndarray:
        return self.P.numpy()[users].astype(np.float64)

    def _predict(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        bu, bi = self.bu.numpy(), self.bi.numpy()
        est = bias_terms(self.mu, bu, bi, users, items)
        both = (users >= 0) & (users < self.n_users) & (items >= 0) & (items < self.n_items)
        pu = self._user_vectors(users[both])
        est[both] += np.einsum("nk,nk->n", pu, self.Q.numpy()[items[both]])
        return est

    def scores(self, users: np.ndarray) -> np.ndarray:
        users = np.asarray(users, dtype=np.int64)
        return (self.mu + self.bu.numpy()[users, None] + self.bi.numpy()[None, :]
                + self._user_vectors(users) @ self.Q.numpy().T)

    def item_vectors(self) -> np.ndarray:
        return self.Q.numpy()

    def explain(self, user: int, items: np.ndarray, rated: np.ndarray, values: np.ndarray) -> list[dict]:
        """The factor contribution: which of the user's liked items share the most taste with each."""
        q = self.Q.numpy()
        pu = self._user_vectors(np.array([user]))[0]
        out = []
        for i in items:
            contrib = float(pu @ q[i])
            liked = rated[values >= np.median(values)] if rated.size else rated
            near = liked[np.argsort(-(q[liked] @ q[i]))[:2]] if liked.size else liked
            out.append({"reason": f"taste factors {contrib:+.2f}, item bias {float(self.bi[i]):+.2f}; "
                                  "close in factor space to {0} and {1}" if near.size >= 2 else
                                  f"taste factors {contrib:+.2f}, item bias {float(self.bi[i]):+.2f}",
                        "because": [int(j) for j in near]})
        return out

    def _state(self) -> dict[str, np.ndarray]:
        return {"P": self.P.numpy(), "Q": self.Q.numpy(), "bu": self.bu.numpy(), "bi": self.bi.numpy()}

    def _load_state(self, a: dict[str, np.ndarray]) -> None:
        self.P, self.Q = torch.from_numpy(a["P"]), torch.from_numpy(a["Q"])
        self.bu, self.bi = torch.from_numpy(a["bu"]), torch.from_numpy(a["bi"])


class SVDpp(SVD):
    """SVD++: the user factor plus the normalised sum of implicit factors y_j of the items rated."""

    name = "svdpp"
    config_class = SVDppConfig
    default_lr, default_batch_size = SVDppConfig.lr, SVDppConfig.batch_size

    def _init(self, seed: int) -> torch.Generator:
        g = super()._init(seed)
        self.Y = torch.randn(self.n_items, self.config.factors, generator=g, dtype=DTYPE) * self.config.init_std
        return g

    def _prepare(self, train: Ratings) -> None:
        import warnings

        with warnings.catch_warnings():  # torch calls its CSR support beta; CPU spmm is what we use
            warnings.simplefilter("ignore", UserWarning)
            self._prepare_sparse(train)

    def _prepare_sparse(self, train: Ratings) -> None:
        import scipy.sparse as sp

        m = sp.csr_matrix((np.ones(len(train)), (train.users, train.items)), shape=(self.n_users, self.n_items))
        m.data[:] = 1.0
        n = np.asarray(m.sum(1)).ravel()
        norm = sp.diags(1.0 / np.sqrt(np.maximum(n, 1))) @ m
        self.N = torch.sparse_csr_tensor(torch.from_numpy(norm.indptr).long(), torch.from_numpy(norm.indices).long(),
                                         torch.from_numpy(norm.data.astype(np.float32)), size=norm.shape)
        self.NT = torch.sparse_csr_tensor(*_csr_parts(norm.T.tocsr()), size=(self.n_items, self.n_users))
        self.Mt = torch.sparse_csr_tensor(*_csr_parts(m.T.tocsr()), size=(self.n_items, self.n_users))

    def _step(self, u: torch.Tensor, i: torch.Tensor, r: torch.Tensor, lr: float) -> None:
        c = self.config
        imp = self.N @ self.Y  # (n_users, k): |N(u)|^-1/2 sum y_j, for all users (cheap: nnz * k)
        pu, qi, zu = self.P[u], self.Q[i], imp[u]
        bu, bi = self.bu[u], self.bi[i]
        err = r - (self.mu + bu + bi + ((pu + zu) * qi).sum(1))
        e = err[:, None]
        self.bu.index_add_(0, u, lr * (err - c.reg_bias * bu))
        self.bi.index_add_(0, i, lr * (err - c.reg_bias * bi))
        # y_j update of every rating (u, i) for every j in N(u): sum over the batch's users of
        # err * |N(u)|^-1/2 * q_i, minus reg * y_j once per rating of u in the batch
        g_user = torch.zeros(self.n_users, c.factors, dtype=DTYPE).index_add_(0, u, e * qi)
        cnt = torch.zeros(self.n_users, dtype=DTYPE).index_add_(0, u, torch.ones_like(err))
        touches = self.Mt @ cnt[:, None]
        self.Y += lr * (self.NT @ g_user - c.reg * touches * self.Y)
        self.P.index_add_(0, u, lr * (e * qi - c.reg * pu))
        self.Q.index_add_(0, i, lr * (e * (pu + zu) - c.reg * qi))

    def _fit(self, train: Ratings, seed: int) -> None:
        super()._fit(train, seed)
        self.Z = (self.N @ self.Y).numpy()

    def _user_vectors(self, users: np.ndarray) -> np.ndarray:
        return self.P.numpy()[users] + self.Z[users]

    def _state(self) -> dict[str, np.ndarray]:
        return {**super()._state(), "Y": self.Y.numpy(), "Z": self.Z}

    def _load_state(self, a: dict[str, np.ndarray]) -> None:
        super()._load_state(a)
        self.Y, self.Z = torch.from_numpy(a["Y"]), a["Z"]


def _csr_parts(m) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    return (torch.from_numpy(m.indptr).long(), torch.from_numpy(m.indices).long(),
            torch.from_numpy(np.asarray(m.data, dtype=np.float32)))
