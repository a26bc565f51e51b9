"""Adversarial training of any classifier through the one Trainer.

- ``pgd`` (Madry et al. 2018): each batch is replaced by its PGD adversarial examples.
- ``fgsm-rs`` (Wong et al. 2020, "Fast is better than free"): one FGSM step of 1.25 eps from a
  uniform random start, projected to the eps-ball.
- ``trades`` (Zhang et al. 2019): cross-entropy on clean inputs + beta * KL(f(x) || f(x')), x'
  found by maximising that KL with PGD from x + 0.001 N(0, 1); the objective's loss is wrapped.

Attacks run on the networks in eval mode (batch-norm statistics are not updated by attack
passes) with the Trainer's seeded generator, so resume stays exact.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import Any

import torch
import torch.nn.functional as F

from aigc.core.errors import BadInputError
from aigc.tools.robust.attacks import input_bounds, loss_gradient, pgd, project
from aigc.train.extensions import TrainExtension

__all__ = ["AdversarialTraining", "TradesObjective"]


@contextlib.contextmanager
def _eval_mode(nets: Mapping[str, torch.nn.Module]) -> Iterator[None]:
    modes = {k: n.training for k, n in nets.items()}
    for n in nets.values():
        n.eval()
    try:
        yield
    finally:
        for k, n in nets.items():
            n.train(modes[k])


class TradesObjective:
    """Wraps a classifying objective: the TRADES loss replaces its training step."""

    def __init__(self, inner: Any, options: Mapping[str, Any]) -> None:
        self.inner, self.options = inner, options

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def training_step(self, nets, batch, ctx) -> dict[str, torch.Tensor]:
        inner, o = self.inner, self.options
        x, y = batch[inner.input_key], batch[inner.label_key]
        eps, steps = o["eps"], o["steps"]
        alpha = o.get("alpha") or 2.5 * eps / steps
        with _eval_mode(ctx.raw), torch.no_grad():
            p_clean = F.softmax(inner.logits(ctx.raw, x), 1)
        adv = x + 0.001 * torch.randn(x.shape, generator=ctx.generator, device=x.device)
        with _eval_mode(ctx.raw):
            for _ in range(steps):
                adv = adv.detach().requires_grad_(True)
                with torch.enable_grad():
                    kl = F.kl_div(F.log_softmax(inner.logits(ctx.raw, adv), 1), p_clean, reduction="sum")
                    (grad,) = torch.autograd.grad(kl, adv)
                adv = project(adv.detach() + alpha * grad.sign(), x, eps, "linf", input_bounds(inner))
        logits = inner.logits(nets, x)
        robust = F.kl_div(F.log_softmax(inner.logits(nets, adv.detach()), 1), F.softmax(logits, 1),
                          reduction="batchmean")
        loss = F.cross_entropy(logits, y) + o["beta"] * robust
        return {"loss": loss, "acc": (logits.argmax(1) == y).float().mean().detach(), "trades_kl": robust.detach()}


class AdversarialTraining(TrainExtension):
    name = "adversarial"

    def __init__(self, options: Mapping[str, Any]) -> None:
        self.options = dict(options)

    def prepare(self, trainer: Any) -> None:
        from aigc.train.objective import Classifies

        if not isinstance(trainer.objective, Classifies):
            raise BadInputError("--adversarial needs a classifier (an objective with input_key, label_key and "
                                "logits); this model's objective has none")
        if self.options["method"] == "trades":
            trainer.objective = TradesObjective(trainer.objective, self.options)

    def transform_batch(self, trainer: Any, batch: dict[str, Any], ctx: Any) -> dict[str, Any]:
        o, obj = self.options, trainer.objective
        if o["method"] == "trades":
            return batch
        x, y = batch[obj.input_key], batch[obj.label_key]
        f, bounds = (lambda v: obj.logits(trainer.raw, v)), input_bounds(obj)
        with _eval_mode(trainer.raw):
            if o["method"] == "pgd":
                adv = pgd(f, x, y, o["eps"], steps=o["steps"], alpha=o.get("alpha"), generator=ctx.generator,
                          bounds=bounds)
            else:
                start = project(x + (torch.rand(x.shape, generator=ctx.generator, device=x.device) * 2 - 1) * o["eps"],
                                x, o["eps"], "linf", bounds)
                _, grad = loss_gradient(f, start, y)
                adv = project(start + (o.get("alpha") or 1.25 * o["eps"]) * grad.sign(), x, o["eps"], "linf", bounds)
        return {**batch, obj.input_key: adv.detach()}

    def describe(self) -> dict[str, Any]:
        return dict(self.options)
