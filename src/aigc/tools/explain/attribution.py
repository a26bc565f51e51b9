"""Pixel attributions (Captum) for any classifier or GAN discriminator in a model directory.

A model is found by what it can do, never by its task: an objective with the
:class:`~aigc.train.objective.Classifies` capability is scored by its class logits; a model with a
network named ``discriminator`` is scored by ``-D(x)``, so positive attributions are the pixels that
made it say *fake*. Methods: saliency (|d score / d x|, Simonyan et al. 2014), Integrated Gradients
(Sundararajan et al. 2017; attributions sum to score(x) - score(baseline)) and occlusion (Zeiler &
Fergus 2014).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import torch

from aigc.core.errors import BadInputError

__all__ = ["METHODS", "Scorer", "attribute", "find_scorer"]

METHODS = ("saliency", "ig", "occlusion")


@dataclass
class Scorer:
    """``fn(x (B, C, H, W) in [0, 1]) -> (B, K)`` scores; ``kind`` says what a score means."""

    fn: Callable[[torch.Tensor], torch.Tensor]
    kind: str  # "classifier" or "discriminator"
    channels: int
    size: int
    class_names: tuple[str, ...] = ()


def _shape(objective: Any) -> tuple[int, int]:
    cfg = getattr(objective, "config", None)
    return int(getattr(cfg, "channels", 1)), int(getattr(cfg, "image_size", 28))


def find_scorer(objective: Any, nets: Mapping[str, torch.nn.Module]) -> Scorer:
    """The scoring function of a classifier (any ``Classifies`` objective) or a discriminator."""
    from aigc.train.objective import Classifies

    channels, size = _shape(objective)
    if isinstance(objective, Classifies):
        names = tuple(getattr(getattr(objective, "config", None), "class_names", ()) or ())
        return Scorer(lambda x: objective.logits(nets, x), "classifier", channels, size, names)
    if "discriminator" in nets:
        d = nets["discriminator"]
        classes = int(getattr(getattr(objective, "config", None), "num_classes", 0) or 0)

        def fake_score(x: torch.Tensor) -> torch.Tensor:
            # image-gen discriminators read images in [-1, 1]; a conditional one scores class 0
            labels = torch.zeros(x.shape[0], dtype=torch.long, device=x.device) if classes else None
            out = d(x * 2 - 1, labels) if labels is not None else d(x * 2 - 1)
            return -out.reshape(x.shape[0], -1).mean(1, keepdim=True)

        return Scorer(fake_score, "discriminator", channels, size, ("fake",))
    raise BadInputError("this model has neither a classifier (the Classifies capability) nor a network named "
                        "'discriminator'; pixel attributions need one of them")


def attribute(scorer: Scorer, x: torch.Tensor, method: str, target: int, *, steps: int = 64,
              window: int | None = None) -> tuple[torch.Tensor, dict[str, float]]:
    """(1, C, H, W) input -> (C, H, W) attributions of score ``target`` and numbers about them.

    Integrated Gradients uses a black baseline and also returns its completeness gap
    ``|sum(attr) - (score(x) - score(0))|`` (Sundararajan et al.'s axiom).
    """
    from captum.attr import IntegratedGradients, Occlusion, Saliency

    x = x.detach().clone().requires_grad_(True)
    info: dict[str, float] = {}
    if method == "saliency":
        attr = Saliency(scorer.fn).attribute(x, target=target, abs=True)
    elif method == "ig":
        base = torch.zeros_like(x)
        attr, delta = IntegratedGradients(scorer.fn).attribute(
            x, baselines=base, target=target, n_steps=steps, method="gausslegendre", return_convergence_delta=True)
        with torch.no_grad():
            gap = scorer.fn(x)[0, target] - scorer.fn(base)[0, target]
        info = {"score_gap": float(gap), "attribution_sum": float(attr.detach().sum()),
                "completeness_error": float(delta.detach().abs())}
    elif method == "occlusion":
        c, h = x.shape[1], x.shape[2]
        k = window or max(2, h // 7)
        attr = Occlusion(scorer.fn).attribute(x, sliding_window_shapes=(c, k, k), strides=(c, max(1, k // 2),
                                              max(1, k // 2)), target=target, baselines=0.0)
    else:
        raise BadInputError(f"unknown attribution method {method!r}; choose one of {', '.join(METHODS)}")
    return attr.detach()[0], info
