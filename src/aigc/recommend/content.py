"""Content-based and hybrid recommenders over item text (title, genres, description).

- ``ContentTFIDF``: TF-IDF item vectors (scikit-learn); a user's profile is the sum of the vectors of
  the items they rated, weighted by the rating minus the user's mean; scores are cosine similarities.
- Either can read item text through a local sentence-embedding model instead of TF-IDF
  (``encoder``: a Hugging Face encoder directory, e.g. a sentence-transformers model saved with
  ``save_pretrained``): mean-pooled, L2-normalised token states, as sentence-transformers computes them.
- ``Hybrid``: a biased factor model (SVD) whose item factors and biases are also regressed on the
  TF-IDF features (ridge). A new item with only a description gets its factors from the regression,
  so it is recommendable at once to the users whose factors match it (cold start for freshly
  generated content), without retraining.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from aigc.core.errors import BadInputError
from aigc.data.ratings import Ratings
from aigc.recommend.base import Recommender
from aigc.recommend.mf import SVD, SVDConfig

__all__ = ["ContentConfig", "ContentTFIDF", "Hybrid", "HybridConfig", "SentenceEncoder", "TextFeatures",
           "text_features"]


class TextFeatures:
    """A TF-IDF vectoriser that saves as a vocabulary (JSON) plus idf weights (safetensors)."""

    def __init__(self, max_features: int = 5000) -> None:
        self.max_features = max_features
        self.vocab: list[str] = []
        self.idf = np.zeros(0)

    def _vectorizer(self, vocab: list[str] | None = None):
        from sklearn.feature_extraction.text import TfidfVectorizer

        return TfidfVectorizer(sublinear_tf=True, stop_words="english", max_features=self.max_features,
                               vocabulary={w: n for n, w in enumerate(vocab)} if vocab else None)

    def fit_transform(self, texts: list[str]) -> sp.csr_matrix:
        vec = self._vectorizer()
        try:
            x = vec.fit_transform(texts)
        except ValueError as exc:  # every text empty or stop words only
            raise BadInputError(f"the items have no usable text for a content model ({exc}); give titles, "
                                f"genres or descriptions (--items FILE)") from exc
        self.vocab = [w for w, _ in sorted(vec.vocabulary_.items(), key=lambda kv: kv[1])]
        self.idf = vec.idf_.astype(np.float64)
        return x.tocsr()

    def transform(self, texts: list[str]) -> sp.csr_matrix:
        vec = self._vectorizer(self.vocab)
        vec.idf_ = self.idf
        return vec.transform(texts).tocsr()


class SentenceEncoder:
    """Sentence embeddings from a local Hugging Face encoder directory (needs ``transformers``): the
    token states averaged over the attention mask and L2-normalised (sentence-transformers' mean
    pooling), as a sparse matrix so the content models treat them like TF-IDF rows."""

    vocab: list[str] = []

    def __init__(self, path: str, batch_size: int = 32, max_length: int = 256) -> None:
        self.path, self.batch_size, self.max_length = path, batch_size, max_length
        self.idf = np.zeros(0)
        self._model: Any = None

    def _load(self) -> tuple[Any, Any]:
        if self._model is None:
            from pathlib import Path

            if not (Path(self.path) / "config.json").is_file():
                raise BadInputError(f"--encoder {self.path}: not a Hugging Face model directory (no config.json); "
                                    "save one with `SentenceTransformer(name).save(DIR)` or `save_pretrained(DIR)`")
            try:
                from transformers import AutoModel, AutoTokenizer
            except ImportError as exc:
                raise BadInputError("--encoder needs the transformers package: pip install transformers") from exc
            self._tokenizer = AutoTokenizer.from_pretrained(self.path, local_files_only=True)
            self._model = AutoModel.from_pretrained(self.path, local_files_only=True).eval()
        return self._tokenizer, self._model

    def transform(self, texts: list[str]) -> sp.csr_matrix:
        import torch

        tokenizer, model = self._load()
        rows = []
        with torch.no_grad():
            for start in range(0, len(texts), self.batch_size):
                batch = tokenizer(texts[start:start + self.batch_size], padding=True, truncation=True,
                                  max_length=self.max_length, return_tensors="pt")
                states = model(**batch).last_hidden_state
                mask = batch["attention_mask"].unsqueeze(-1).to(states.dtype)
                mean = (states * mask).sum(1) / mask.sum(1).clamp_min(1e-9)
                rows.append(torch.nn.functional.normalize(mean, dim=1).double().numpy())
        dense = np.concatenate(rows) if rows else np.zeros((0, 0))
        return sp.csr_matrix(dense)

    def fit_transform(self, texts: list[str]) -> sp.csr_matrix:
        return self.transform(texts)


def text_features(config: Any) -> TextFeatures | SentenceEncoder:
    """The item-text featuriser a content/hybrid config asks for."""
    encoder = getattr(config, "encoder", None)
    return SentenceEncoder(encoder) if encoder else TextFeatures(config.max_features)


def _texts(train: Ratings) -> list[str]:
    return [train.item_text(i) for i in range(train.n_items)]


def _normalise_rows(m: np.ndarray) -> np.ndarray:
    return m / np.maximum(np.linalg.norm(m, axis=1, keepdims=True), 1e-12)


@dataclass(kw_only=True)
class ContentConfig:
    max_features: int = 5000
    encoder: str | None = None  # a local sentence-embedding model directory instead of TF-IDF


class ContentTFIDF(Recommender):
    """Content-based ranking by TF-IDF similarity to the user's rated items."""

    name = "content"
    config_class = ContentConfig
    explicit = False

    def _fit(self, train: Ratings, seed: int) -> None:
        self.text = text_features(self.config)
        self.X = self.text.fit_transform(_texts(train))
        self._profiles(train)

    def _profiles(self, train: Ratings) -> None:
        n_u = np.maximum(np.bincount(train.users, minlength=self.n_users), 1)
        mean_u = np.bincount(train.users, train.ratings, minlength=self.n_users) / n_u
        w = train.ratings - mean_u[train.users]
        if not np.any(w):  # implicit feedback: every interaction counts
            w = np.ones_like(w)
        r = sp.csr_matrix((w, (train.users, train.items)), shape=(self.n_users, self.n_items))
        self.profiles = np.asarray((r @ self.X).toarray())

    def add_items(self, texts: list[str]) -> np.ndarray:
        """Append items described by ``texts``; returns their new indices."""
        new = self.text.transform(texts)
        self.X = sp.vstack([self.X, new]).tocsr()
        self.n_items += len(texts)
        return np.arange(self.n_items - len(texts), self.n_items)

    def scores(self, users: np.ndarray) -> np.ndarray:
        prof = _normalise_rows(self.profiles[np.asarray(users)])
        return np.asarray((self.X @ prof.T).T)

    def profile_scores(self, liked: np.ndarray) -> np.ndarray:
        """(n_items,) similarity of every item to the mean of the items ``liked`` (a new user's picks)."""
        prof = np.asarray(self.X[liked].sum(0))
        return np.asarray(self.X @ _normalise_rows(prof).T).ravel()

    def item_vectors(self) -> np.ndarray:
        return np.asarray(self.X.toarray())

    def explain(self, user: int, items: np.ndarray, rated: np.ndarray, values: np.ndarray) -> list[dict]:
        out = []
        for i in items:
            sims = np.asarray((self.X[rated] @ self.X[i].T).toarray()).ravel() if rated.size else np.zeros(0)
            near = rated[np.argsort(-sims)[:2]] if rated.size else rated
            words = self._shared_words(i, near[:1])
            out.append({"reason": "its description is like {0}" + (f" ({words})" if words else ""),
                        "because": [int(j) for j in near[:1]]})
        return out

    def _shared_words(self, i: int, others: np.ndarray) -> str:
        if not others.size or not self.text.vocab:  # sentence embeddings have no words to show
            return ""
        a, b = self.X[i].toarray().ravel(), np.asarray(self.X[others].sum(0)).ravel()
        top = np.argsort(-(a * b))[:3]
        return ", ".join(self.text.vocab[t] for t in top if a[t] * b[t] > 0)

    def meta(self) -> dict[str, Any]:
        return {"vocab": self.text.vocab}

    def load_meta(self, meta: dict[str, Any]) -> None:
        self.text = text_features(self.config)
        self.text.vocab = list(meta["vocab"])

    def _state(self) -> dict[str, np.ndarray]:
        x = self.X.tocoo()
        return {"idf": self.text.idf, "x_row": x.row.astype(np.int64), "x_col": x.col.astype(np.int64),
                "x_val": x.data, "profiles": self.profiles, "x_width": np.array([self.X.shape[1]], dtype=np.int64)}

    def _load_state(self, a: dict[str, np.ndarray]) -> None:
        self.text.idf = a["idf"]
        width = a["idf"].size or int(a["x_width"].item())
        self.X = sp.csr_matrix((a["x_val"], (a["x_row"], a["x_col"])), shape=(self.n_items, width))
        self.profiles = a["profiles"]


@dataclass(kw_only=True)
class HybridConfig(SVDConfig):
    ridge: float = 1.0  # L2 penalty of the text -> (factors, bias) regression
    max_features: int = 5000
    encoder: str | None = None  # a local sentence-embedding model directory instead of TF-IDF
    min_ratings: int = 5  # items with fewer training ratings use the content factors


class Hybrid(SVD):
    """SVD whose item factors are also predicted from text (used for new and rarely rated items)."""

    name = "hybrid"
    config_class = HybridConfig
    default_lr, default_batch_size = HybridConfig.lr, HybridConfig.batch_size

    def _fit(self, train: Ratings, seed: int) -> None:
        super()._fit(train, seed)
        self.text = text_features(self.config)
        x = self.text.fit_transform(_texts(train))
        counts = np.bincount(train.items, minlength=self.n_items)
        fit_on = counts >= self.config.min_ratings
        target = np.hstack([self.Q.numpy().astype(np.float64), self.bi.numpy()[:, None].astype(np.float64)])
        self.W, self.w0 = _ridge(x[fit_on], target[fit_on], self.config.ridge)
        rare = np.flatnonzero(~fit_on)
        if rare.size:
            self._set_items(rare, np.asarray(x[rare] @ self.W) + self.w0)

    def _set_items(self, idx: np.ndarray, qb: np.ndarray) -> None:
        import torch

        self.Q[idx] = torch.from_numpy(qb[:, :-1]).to(self.Q.dtype)
        self.bi[idx] = torch.from_numpy(qb[:, -1]).to(self.bi.dtype)

    def add_items(self, texts: list[str]) -> np.ndarray:
        """Append items described only by ``texts``: factors and bias from the text regression."""
        import torch

        qb = np.asarray(self.text.transform(texts) @ self.W) + self.w0
        self.Q = torch.cat([self.Q, torch.from_numpy(qb[:, :-1]).to(self.Q.dtype)])
        self.bi = torch.cat([self.bi, torch.from_numpy(qb[:, -1]).to(self.bi.dtype)])
        self.n_items += len(texts)
        return np.arange(self.n_items - len(texts), self.n_items)

    def meta(self) -> dict[str, Any]:
        return {"vocab": self.text.vocab}

    def load_meta(self, meta: dict[str, Any]) -> None:
        self.text = text_features(self.config)
        self.text.vocab = list(meta["vocab"])

    def _state(self) -> dict[str, np.ndarray]:
        return {**super()._state(), "idf": self.text.idf, "W": self.W, "w0": self.w0}

    def _load_state(self, a: dict[str, np.ndarray]) -> None:
        super()._load_state(a)
        self.text.idf, self.W, self.w0 = a["idf"], a["W"], a["w0"]


def _ridge(x: sp.csr_matrix, y: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """min ||x W + w0 - y||^2 + alpha ||W||^2 (centred closed form through the dual when rows < columns)."""
    x = sp.csr_matrix(x, dtype=np.float64)
    y_mean = y.mean(0)
    x_mean = np.asarray(x.mean(0)).ravel()
    xd = x.toarray() - x_mean
    yc = y - y_mean
    if xd.shape[0] < xd.shape[1]:
        w = xd.T @ np.linalg.solve(xd @ xd.T + alpha * np.eye(xd.shape[0]), yc)
    else:
        w = np.linalg.solve(xd.T @ xd + alpha * np.eye(xd.shape[1]), xd.T @ yc)
    return w, y_mean - x_mean @ w
