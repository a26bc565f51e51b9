"""Latent maps and traversals for models that encode (the ``Encodes`` capability, e.g. the VAE).

``latent_map`` encodes labelled images and projects the latents to 2-D with PCA and t-SNE
(scikit-learn), coloured by class; ``traversal`` decodes the mean latent moved along the first
principal directions, -3 to +3 standard deviations, as an image grid.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from aigc.core.errors import BadInputError

__all__ = ["encode_all", "project", "separation", "traversal"]


def encode_all(objective: Any, nets: Mapping[str, torch.nn.Module], images: torch.Tensor) -> np.ndarray:
    from aigc.train.objective import Encodes

    if not isinstance(objective, Encodes):
        raise BadInputError("this model does not encode images to latents (no Encodes capability, e.g. a VAE)")
    with torch.no_grad():
        return objective.encode(nets, images).reshape(len(images), -1).double().cpu().numpy()


def project(latents: np.ndarray, *, seed: int = 0) -> dict[str, np.ndarray]:
    """{"pca": (N, 2), "tsne": (N, 2)} projections of (N, D) latents."""
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE

    pca = PCA(n_components=2, random_state=seed).fit_transform(latents)
    perplexity = float(min(30, max(2, (len(latents) - 1) // 3)))
    tsne = TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(latents)
    return {"pca": pca, "tsne": tsne}


def separation(points: np.ndarray, labels: np.ndarray) -> float:
    """Leave-one-out 1-nearest-neighbour accuracy of the classes in a 2-D map (chance = 1/classes)."""
    d = ((points[:, None, :] - points[None, :, :]) ** 2).sum(-1)
    np.fill_diagonal(d, np.inf)
    return float(np.mean(labels[d.argmin(1)] == labels))


def traversal(objective: Any, nets: Mapping[str, torch.nn.Module], latents: np.ndarray, *, directions: int = 4,
              steps: int = 9) -> torch.Tensor:
    """(directions * steps, C, H, W) decoded images: the mean latent moved along principal axes."""
    from sklearn.decomposition import PCA

    k = min(directions, latents.shape[1], len(latents))
    pca = PCA(n_components=k).fit(latents)
    scales = np.linspace(-3, 3, steps)
    rows = [pca.mean_ + s * np.sqrt(pca.explained_variance_[i]) * pca.components_[i] for i in range(k) for s in scales]
    z = torch.tensor(np.stack(rows), dtype=torch.float32, device=next(iter(nets.values())).parameters().__next__().device)
    with torch.no_grad():
        return objective.decode(nets, z).detach().float().cpu().clamp(0, 1)
