"""A Gaussian in a PCA subspace, one per class: the classic linear-Gaussian image model, fitted in one
pass over the data (no gradient steps) — and, with ``--dp-epsilon``, a differentially private
generator whose statistics are each released once through the Gaussian mechanism.

Fit: the top ``latent_dim`` eigenvectors V of the (uncentred) second-moment matrix Σ x xᵀ of the
flattened images; then per class c the count n_c, the sum Σ Vᵀx and the second moment
Σ (Vᵀx)(Vᵀx)ᵀ of the projections, giving the class mean m_c and covariance S_c. Sample:
z ~ N(m_c, S_c), image = clamp(V z, 0, 1). Blurry (a linear model), but every sample is a plausible
member of its class.

Private fit: images are first scaled to L2 norm at most ``clip``, so one example moves Σ x xᵀ and the
per-class second moments by at most clip² (Frobenius), the per-class sums by clip and the counts by
1; each of the four releases gets its share ``budget`` of the squared GDP budget μ² (symmetric
matrices are noised on their upper triangle, Dwork, Talwar, Thakurta & Zhang 2014's "Analyze
Gauss" for the PCA), and :mod:`aigc.train.release` accounts the four exactly. Noisy covariances
are made positive definite by flooring their eigenvalues at ``var_floor``. With 6000 images per
class the noise at ε = 10 is small against the statistics; see ``benchmarks/privacy.py``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping

import torch
from torch import nn

from aigc.core.errors import BadInputError
from aigc.image_gen.gan import sample_labels
from aigc.train.release import check_shares, clip_rows

__all__ = ["GaussConfig", "GaussModel", "GaussObjective"]

RELEASES = ("basis", "counts", "sums", "moments")
MAX_DIM = 4096  # channels x size x size: the D x D second moment is eigendecomposed


@dataclass(kw_only=True)
class GaussConfig:
    image_size: int = 32
    channels: int = 1
    latent_dim: int = 50  # PCA components
    num_classes: int = 0  # > 0: one Gaussian per class (set from the data by `aigc train image-gen --cond`)
    clip: float | None = None  # DP: L2 bound per image in [0, 1] pixels (default 0.35 sqrt(D), ~ an MNIST digit's)
    budget: tuple[float, float, float, float] = (0.25, 0.05, 0.2, 0.5)  # DP: mu^2 shares of the RELEASES
    var_floor: float = 1e-3  # smallest variance kept in a class covariance
    hflip: bool = False  # add each image's mirror image

    def __post_init__(self) -> None:
        if self.channels not in (1, 3) or not 4 <= self.image_size <= 64:
            raise ValueError(f"channels 1 or 3 and image_size 4..64 are required, got {self.channels}, "
                             f"{self.image_size}")
        if self.dim > MAX_DIM:
            raise ValueError(f"channels x image_size^2 = {self.dim} is more than the {MAX_DIM} this model "
                             "eigendecomposes; use a smaller --image-size")
        if not 1 <= self.latent_dim <= self.dim:
            raise ValueError(f"latent_dim (PCA components) must be in 1..{self.dim}, got {self.latent_dim}")
        if self.num_classes < 0 or self.num_classes == 1:
            raise ValueError(f"num_classes must be 0 (unconditional) or >= 2, got {self.num_classes}")
        if self.clip is not None and not self.clip > 0:
            raise ValueError(f"clip must be > 0, got {self.clip}")
        if not self.var_floor > 0:
            raise ValueError(f"var_floor must be > 0, got {self.var_floor}")
        self.budget = tuple(float(b) for b in self.budget)  # type: ignore[assignment]
        check_shares(self.budget, RELEASES)

    @property
    def dim(self) -> int:
        return self.channels * self.image_size ** 2

    @property
    def clip_norm(self) -> float:
        return self.clip if self.clip is not None else 0.35 * math.sqrt(self.dim)


class GaussModel(nn.Module):
    """The fitted statistics as buffers: ``basis`` (D, k), per class ``mean`` (K, k) and ``factor``
    (K, k, k) with factor @ factorᵀ = covariance; K = max(num_classes, 1)."""

    def __init__(self, config: GaussConfig) -> None:
        super().__init__()
        k, groups = config.latent_dim, max(config.num_classes, 1)
        self.register_buffer("basis", torch.zeros(config.dim, k))
        self.register_buffer("mean", torch.zeros(groups, k))
        self.register_buffer("factor", torch.zeros(groups, k, k))

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Standard-normal ``z`` (B, k) -> flattened images (B, D), unclamped."""
        idx = labels if labels is not None else torch.zeros(len(z), dtype=torch.long, device=z.device)
        latent = self.mean[idx] + torch.einsum("bij,bj->bi", self.factor[idx], z)
        return latent @ self.basis.T


class GaussObjective:
    """The :class:`~aigc.train.objective.FitsOnce` objective: ``fit`` fills the buffers, ``sample`` draws."""

    config_class = GaussConfig
    sampling_network = "model"

    def __init__(self, config: GaussConfig) -> None:
        self.config = config
        self.nets: dict[str, nn.Module] = {"model": GaussModel(config)}

    def networks(self) -> dict[str, nn.Module]:
        return self.nets

    def privacy_shares(self) -> dict[str, float]:
        return dict(zip(RELEASES, self.config.budget))

    @torch.no_grad()
    def fit(self, nets: Mapping[str, nn.Module], data: Mapping[str, torch.Tensor], release) -> dict[str, float]:
        cfg = self.config
        images = data["images"]
        if images.ndim != 4 or tuple(images.shape[1:]) != (cfg.channels, cfg.image_size, cfg.image_size):
            raise BadInputError(f"images must be (N, {cfg.channels}, {cfg.image_size}, {cfg.image_size}), "
                                f"got {tuple(images.shape)}")
        groups = max(cfg.num_classes, 1)
        labels = data["labels"].long() if cfg.num_classes else torch.zeros(len(images), dtype=torch.long)
        if release.private and cfg.hflip:
            raise BadInputError("--hflip adds a second copy of every image, which doubles what one example "
                                "contributes; leave it off under --dp-epsilon")
        if cfg.hflip:
            images, labels = torch.cat([images, images.flip(-1)]), torch.cat([labels, labels])
        x = images.flatten(1).double()
        if release.private:
            x = clip_rows(x, cfg.clip_norm)
        elif len(x) <= cfg.latent_dim:
            raise BadInputError(f"{len(x)} images cannot fit {cfg.latent_dim} components; use a smaller --latent-dim")
        c2 = cfg.clip_norm ** 2
        second = torch.zeros(cfg.dim, cfg.dim, dtype=torch.float64)
        for chunk in x.split(4096):
            second += chunk.T @ chunk
        second = release.add("basis", second, c2, symmetric=True)
        eig, vectors = torch.linalg.eigh(second)
        basis = vectors[:, -cfg.latent_dim:].flip(1)  # top components first
        z = x @ basis
        one_hot = torch.nn.functional.one_hot(labels, groups).double()
        counts = release.add("counts", one_hot.sum(0), 1.0)
        sums = release.add("sums", one_hot.T @ z, cfg.clip_norm)
        moments = torch.stack([z[labels == g].T @ z[labels == g] for g in range(groups)])
        moments = release.add("moments", moments, c2, symmetric=True)
        if release.private and float(counts.min()) < 2:
            raise BadInputError(f"a class has (noisy) count {float(counts.min()):.1f}: too few images for a private "
                                "fit; use more data or a larger --dp-epsilon")
        if not release.private and int(counts.min()) < 2:
            raise BadInputError("every class needs at least 2 images to fit its covariance")
        n = counts.clamp_min(2.0)
        mean = sums / n[:, None]
        cov = moments / n[:, None, None] - mean[:, :, None] * mean[:, None, :]
        values, vecs = torch.linalg.eigh((cov + cov.transpose(1, 2)) / 2)
        floored = int((values < cfg.var_floor).sum())
        factor = vecs * values.clamp_min(cfg.var_floor).sqrt()[:, None, :]
        model = nets["model"]
        model.basis.copy_(basis.float())
        model.mean.copy_(mean.float())
        model.factor.copy_(factor.float())
        kept = float(eig[-cfg.latent_dim:].clamp_min(0).sum() / eig.clamp_min(0).sum().clamp_min(1e-12))
        return {"images": float(len(x)), "second_moment_kept": kept, "floored_variances": float(floored)}

    @torch.no_grad()
    def example_loss(self, nets: Mapping[str, nn.Module], batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """Negative log-likelihood (N,) of each image's projection under its class's Gaussian (up
        to a constant): what a membership audit scores."""
        cfg, model = self.config, nets["model"]
        x = batch["images"].flatten(1).to(model.basis.dtype) @ model.basis
        if cfg.num_classes and "labels" not in batch:
            raise KeyError("labels")
        y = batch["labels"].long() if cfg.num_classes else torch.zeros(len(x), dtype=torch.long)
        factor, diff = model.factor[y], (x - model.mean[y]).unsqueeze(-1)
        white = torch.linalg.solve(factor, diff).squeeze(-1)  # factor @ white = x - mean
        logdet = torch.linalg.slogdet(factor).logabsdet  # half the log-determinant of the covariance
        return 0.5 * white.pow(2).sum(1) + logdet

    @torch.no_grad()
    def sample(self, nets: Mapping[str, nn.Module], generator: torch.Generator, n: int = 64,
               batch_size: int = 256, labels: torch.Tensor | int | list[int] | None = None) -> torch.Tensor:
        """(n, C, S, S) images in [0, 1] (for ``labels``: one class, one per image, or uniform
        draws when None, on a conditional model)."""
        cfg = self.config
        device = nets["model"].basis.device
        y = sample_labels(labels, n, cfg.num_classes, generator, device)
        z = torch.randn(n, cfg.latent_dim, generator=generator, device=device)
        ys = y.split(batch_size) if y is not None else [None] * len(z.split(batch_size))
        out = torch.cat([nets["model"](c, b) for c, b in zip(z.split(batch_size), ys)])
        return out.clamp(0, 1).view(n, cfg.channels, cfg.image_size, cfg.image_size)
