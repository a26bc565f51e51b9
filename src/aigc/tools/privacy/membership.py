"""Does a model remember its training data? Membership inference and copy detection.

- Loss threshold (Yeom et al. 2018): members have lower loss; the score is -loss.
- Likelihood ratio, shadow-free: LiRA (Carlini et al. 2022) compares an example's logit-scaled
  confidence phi = log(p / (1 - p)) under "in" and "out" Gaussians fitted on shadow models; here
  the two Gaussians are fitted on the target model itself, on one half of the members and one half
  of the non-members, and the other halves are scored (so no score sees its own fit).
- Copy detection for generators: the distance of each generated sample to its nearest training
  example against its nearest held-out example (a model that copies sits closer to training data),
  with the closest pairs as a picture.

The per-example loss comes from the objective generically: a classifier's cross-entropy through
``Classifies``, a one-pass model's ``example_loss`` (``FitsOnce``), else the objective's own
``training_step`` on one example at a time, with a fixed seed (any task whose objective returns
``{"loss"}``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from aigc.core.errors import BadInputError
from aigc.core.seed import make_generator

__all__ = ["attack_scores", "audit_privacy", "example_losses", "nearest_neighbour_audit", "roc_auc", "tpr_at_fpr"]


def roc_auc(members: np.ndarray, nonmembers: np.ndarray) -> float:
    """P(score of a member > score of a non-member) + half the ties (the Mann-Whitney U form)."""
    from scipy.stats import rankdata

    scores = np.concatenate([members, nonmembers])
    ranks = rankdata(scores)
    n1, n0 = len(members), len(nonmembers)
    return float((ranks[:n1].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def tpr_at_fpr(members: np.ndarray, nonmembers: np.ndarray, fpr: float = 0.01) -> float:
    """True-positive rate at the threshold that flags at most ``fpr`` of the non-members."""
    threshold = np.quantile(nonmembers, 1 - fpr, method="higher")
    return float(np.mean(members > threshold))


def _phi(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-12, 1 - 1e-12)
    return np.log(p) - np.log1p(-p)


def attack_scores(member_loss: np.ndarray, nonmember_loss: np.ndarray, seed: int = 0) -> dict[str, Any]:
    """AUC and TPR@1%FPR of the loss-threshold and the shadow-free likelihood-ratio attacks."""
    out = {"loss_threshold": {"auc": roc_auc(-member_loss, -nonmember_loss),
                              "tpr_at_1pct_fpr": tpr_at_fpr(-member_loss, -nonmember_loss)}}
    rng = np.random.default_rng(seed)
    mi, ni = rng.permutation(len(member_loss)), rng.permutation(len(nonmember_loss))
    m_fit, m_eval = np.array_split(_phi(np.exp(-member_loss[mi])), 2)
    n_fit, n_eval = np.array_split(_phi(np.exp(-nonmember_loss[ni])), 2)
    from scipy.stats import norm

    def lr(v: np.ndarray) -> np.ndarray:
        return (norm.logpdf(v, m_fit.mean(), m_fit.std() + 1e-6) - norm.logpdf(v, n_fit.mean(), n_fit.std() + 1e-6))

    out["likelihood_ratio"] = {"auc": roc_auc(lr(m_eval), lr(n_eval)), "tpr_at_1pct_fpr": tpr_at_fpr(lr(m_eval), lr(n_eval))}
    return out


class _LossContext:
    """What ``training_step`` expects of its context, recording losses instead of stepping."""

    def __init__(self, nets: Mapping[str, Any], device: torch.device, seed: int) -> None:
        self.device, self.raw, self.step, self.last_micro = device, nets, 0, True
        self.generator = make_generator(seed, device)
        self.losses: list[float] = []
        self.optimized: set[str] = set()

    def optimize(self, name: str, loss: torch.Tensor) -> None:
        self.losses.append(float(loss.detach()))
        self.optimized.add(name)


@torch.no_grad()
def example_losses(objective: Any, nets: Mapping[str, Any], batch: Mapping[str, torch.Tensor], *,
                   device: torch.device | str = "cpu", seed: int = 0) -> np.ndarray:
    """Per-example loss (N,) of any objective on a batch of tensors."""
    from aigc.train.objective import Classifies, FitsOnce

    if isinstance(objective, FitsOnce):  # a one-pass model: its own per-example loss (no training step)
        return np.concatenate([objective.example_loss(nets, {k: v[i:i + 500].to(device) for k, v in batch.items()})
                               .double().cpu().numpy() for i in range(0, len(next(iter(batch.values()))), 500)])
    if isinstance(objective, Classifies):
        x, y = batch[objective.input_key], batch[objective.label_key]
        return np.concatenate([F.cross_entropy(objective.logits(nets, xb.to(device)).float(), yb.to(device),
                                               reduction="none").cpu().numpy()
                               for xb, yb in zip(x.split(500), y.split(500))])
    n = len(next(iter(batch.values())))
    losses = []
    for i in range(n):
        ctx = _LossContext(nets, torch.device(device), seed + i)  # the same draw for a member and a non-member
        out = objective.training_step(nets, {k: v[i:i + 1].to(device) for k, v in batch.items()}, ctx)
        losses.append(float(out["loss"]) if "loss" in out else float(np.mean(ctx.losses)))
    return np.asarray(losses)


def nearest_neighbour_audit(samples: torch.Tensor, members: torch.Tensor, holdout: torch.Tensor) -> dict[str, Any]:
    """L2 distance of each sample to its nearest member and nearest held-out example."""
    s, m, h = samples.flatten(1).double(), members.flatten(1).double(), holdout.flatten(1).double()
    dm, im = torch.cdist(s, m).min(1)
    dh, _ = torch.cdist(s, h).min(1)
    return {"median_distance_to_train": float(dm.median()), "median_distance_to_holdout": float(dh.median()),
            "fraction_closer_to_train": float((dm < dh).double().mean()),
            "closest_train_distance": float(dm.min()), "_pairs": (dm.argsort()[:8], im)}


def _images(pipe: Any, source: str, split: str, n: int, seed: int) -> dict[str, torch.Tensor]:
    from aigc.data.images import SPLITS, load_image_source
    from aigc.data.transforms import resize

    cfg = pipe.objective.config
    data = load_image_source(source, split=split if split in SPLITS else "all", channels=getattr(cfg, "channels", None))
    x = data.images
    size = getattr(cfg, "image_size", None)
    if size and x.shape[-1] != size:
        x = resize(x, size)
    idx = torch.randperm(len(x), generator=make_generator(seed))[:n]
    out = {"images": x[idx].contiguous()}
    if data.labels is not None:
        out["labels"] = data.labels[idx]
    return out


def audit_privacy(model_dir: str, *, members: str = "train", holdout: str = "test", source: str | None = None,
                  n: int = 1000, samples: int = 500, pictures: str | None = None, seed: int = 0,
                  device: str = "cpu", unit: str = "line") -> dict[str, Any]:
    """The ``aigc audit privacy`` report for any image model directory, or for a token model
    (a language model) with ``members`` and ``holdout`` text files cut into ``unit`` sequences."""
    import aigc
    from aigc.tools.privacy.membership_text import TokenPipeline, audit_text_membership

    pipe = aigc.load(model_dir, device=device)
    if isinstance(pipe, TokenPipeline):
        return audit_text_membership(pipe, members, holdout, n=n, unit=unit, seed=seed)
    src = source or pipe.config.get("data", {}).get("source")
    if not src or src == holdout:
        raise BadInputError(f"{model_dir}: name the image source with --source (config.json has none)")
    member_set = _images(pipe, src, members, n, seed)
    holdout_set = _images(pipe, src, holdout, n, seed + 1)
    report: dict[str, Any] = {"model_id": pipe.model_id, "source": src, "members": members, "holdout": holdout,
                              "n": [len(member_set["images"]), len(holdout_set["images"])]}
    try:
        lm = example_losses(pipe.objective, pipe.nets, member_set, device=pipe.device, seed=seed)
        lh = example_losses(pipe.objective, pipe.nets, holdout_set, device=pipe.device, seed=seed)
        report["membership"] = {"mean_loss_members": float(lm.mean()), "mean_loss_holdout": float(lh.mean()),
                                **attack_scores(lm, lh, seed)}
    except (KeyError, TypeError) as exc:
        report["membership"] = {"skipped": f"the objective gives no per-example loss on these tensors ({exc})"}
    generate = getattr(pipe, "generate", None)
    if callable(generate):
        fake = generate(samples, seed=seed)
        if torch.is_tensor(fake) and fake.shape[1:] == member_set["images"].shape[1:]:
            nn_report = nearest_neighbour_audit(fake.cpu(), member_set["images"], holdout_set["images"])
            order, nearest = nn_report.pop("_pairs")
            report["copy_detection"] = nn_report
            if pictures:
                from aigc.core.artifacts import make_grid, save_png

                pairs = torch.cat([fake.cpu()[order], member_set["images"][nearest[order]]])
                report["pictures"] = [str(save_png(Path(pictures) / "closest_pairs.png", make_grid(pairs, nrow=len(order)),
                                                   pipe.recipe(seed=seed, audit="closest pairs"), scale_to=512))]
    if math.isnan(report.get("membership", {}).get("loss_threshold", {}).get("auc", 0.0)):
        raise BadInputError("membership audit: the losses are not finite")
    return report
