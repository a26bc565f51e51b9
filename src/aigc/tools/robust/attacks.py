"""White-box evasion attacks on any classifier ``f: x -> logits`` with inputs in ``bounds``
((0, 1) for images, the default; (-1, 1) for waves).

- FGSM (Goodfellow et al. 2015): one signed-gradient step of size eps.
- PGD (Madry et al. 2018): ``steps`` projected steps from a uniform random start in the eps-ball,
  L-inf (signed gradient) or L2 (normalised gradient), with ``restarts``; per example the restart
  that fools the model (else the highest loss) is kept.
- APGD-CE (Croce & Hein 2020, Algorithm 1): step size 2 eps, momentum 0.75, the step halved at
  the checkpoints p_j (p_0 = 0, p_1 = 0.22, p_{j+1} = p_j + max(p_j - p_{j-1} - 0.03, 0.06)) when
  fewer than 75 % of the steps since the last checkpoint raised the loss, or when neither step
  size nor best loss changed; each restart from the best point so far.

Every attack takes a ``torch.Generator`` for its random starts: same seed, same adversarial images.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F

from aigc.core.errors import BadInputError

__all__ = ["ATTACKS", "apgd_ce", "fgsm", "input_bounds", "loss_gradient", "parse_attack", "pgd", "project", "run_attack"]

Model = Callable[[torch.Tensor], torch.Tensor]
Bounds = tuple[float, float]
ATTACKS = ("fgsm", "pgd", "apgd")
UNIT: Bounds = (0.0, 1.0)


def input_bounds(objective: object) -> Bounds:
    """The input range of a classifier (:func:`aigc.train.objective.input_range`: [0, 1] unless the
    objective declares ``input_range``, e.g. waves in [-1, 1])."""
    from aigc.train.objective import input_range

    return input_range(objective)


def _per_example_loss(model: Model, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(model(x), y, reduction="none")


def loss_gradient(model: Model, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    x = x.detach().requires_grad_(True)
    with torch.enable_grad():
        loss = _per_example_loss(model, x, y)
        (grad,) = torch.autograd.grad(loss.sum(), x)
    return loss.detach(), grad.detach()


def _l2(t: torch.Tensor) -> torch.Tensor:
    return t.flatten(1).norm(dim=1).clamp_min(1e-12).view(-1, *[1] * (t.ndim - 1))


def project(x_adv: torch.Tensor, x: torch.Tensor, eps: float, norm: str, bounds: Bounds = UNIT) -> torch.Tensor:
    """Back into the eps-ball around ``x`` (L-inf or L2) and the input range ``bounds``."""
    delta = x_adv - x
    if norm == "linf":
        delta = delta.clamp(-eps, eps)
    else:
        delta = delta * (eps / _l2(delta)).clamp(max=1.0)
    return (x + delta).clamp(*bounds)


def _step(grad: torch.Tensor, size: float | torch.Tensor, norm: str) -> torch.Tensor:
    return size * (grad.sign() if norm == "linf" else grad / _l2(grad))


def _random_start(x: torch.Tensor, eps: float, norm: str, generator: torch.Generator | None,
                  bounds: Bounds = UNIT) -> torch.Tensor:
    if norm == "linf":
        noise = (torch.rand(x.shape, generator=generator, device=x.device) * 2 - 1) * eps
    else:
        d = torch.randn(x.shape, generator=generator, device=x.device)
        r = torch.rand((x.shape[0],) + (1,) * (x.ndim - 1), generator=generator, device=x.device)
        noise = d / _l2(d) * eps * r ** (1.0 / x[0].numel())
    return project(x + noise, x, eps, norm, bounds)


def fgsm(model: Model, x: torch.Tensor, y: torch.Tensor, eps: float, bounds: Bounds = UNIT) -> torch.Tensor:
    """(B, ...) -> adversarial (B, ...) with ||x_adv - x||_inf <= eps."""
    _, grad = loss_gradient(model, x, y)
    return (x + eps * grad.sign()).clamp(*bounds).detach()


def pgd(model: Model, x: torch.Tensor, y: torch.Tensor, eps: float, *, steps: int = 40,
        alpha: float | None = None, norm: str = "linf", restarts: int = 1, random_start: bool = True,
        generator: torch.Generator | None = None, bounds: Bounds = UNIT) -> torch.Tensor:
    """Projected gradient ascent on the cross-entropy; ``alpha`` defaults to 2.5 eps / steps
    (Madry et al. 2018)."""
    if norm not in ("linf", "l2"):
        raise BadInputError(f"norm must be linf or l2, got {norm!r}")
    alpha = alpha if alpha is not None else 2.5 * eps / steps
    best, best_loss = x.clone(), torch.full((x.shape[0],), -math.inf, device=x.device)
    fooled = torch.zeros(x.shape[0], dtype=torch.bool, device=x.device)
    for _ in range(max(1, restarts)):
        adv = _random_start(x, eps, norm, generator, bounds) if random_start else x.clone()
        for _ in range(steps):
            _, grad = loss_gradient(model, adv, y)
            adv = project(adv + _step(grad, alpha, norm), x, eps, norm, bounds)
        with torch.no_grad():
            logits = model(adv)
            loss = F.cross_entropy(logits, y, reduction="none")
            now_fooled = logits.argmax(1) != y
        # keep a fooling restart; among equals, the higher loss
        take = (now_fooled & ~fooled) | ((now_fooled == fooled) & (loss > best_loss))
        best[take], best_loss[take] = adv[take], loss[take]
        fooled |= now_fooled
    return best.detach()


def _checkpoints(steps: int) -> list[int]:
    p = [0.0, 0.22]
    while p[-1] < 1:
        p.append(p[-1] + max(p[-1] - p[-2] - 0.03, 0.06))
    return sorted({math.ceil(q * steps - 1e-9) for q in p[1:] if q < 1})


def apgd_ce(model: Model, x: torch.Tensor, y: torch.Tensor, eps: float, *, steps: int = 100,
            norm: str = "linf", restarts: int = 1, generator: torch.Generator | None = None,
            rho: float = 0.75, bounds: Bounds = UNIT) -> torch.Tensor:
    """APGD with the cross-entropy loss (Croce & Hein 2020, Alg. 1)."""
    best_adv = x.clone()
    best_loss = torch.full((x.shape[0],), -math.inf, device=x.device)
    checks = set(_checkpoints(steps))
    for _ in range(max(1, restarts)):
        start = _random_start(x, eps, norm, generator, bounds)
        loss0, grad = loss_gradient(model, start, y)
        eta = torch.full((x.shape[0],) + (1,) * (x.ndim - 1), 2.0 * eps, device=x.device)
        cur = project(start + _step(grad, eta, norm), x, eps, norm, bounds)
        prev = start
        loss1, grad1 = loss_gradient(model, cur, y)
        run_best, run_loss = torch.where((loss1 > loss0).view_as(eta), cur, start), torch.maximum(loss0, loss1)
        increases = (loss1 > loss0).float()
        last_check, eta_at_check, best_at_check = 0, eta.clone(), run_loss.clone()
        grad, loss = grad1, loss1
        for k in range(1, steps):
            z = project(cur + _step(grad, eta, norm), x, eps, norm, bounds)
            a = 0.75  # momentum (Alg. 1, alpha = 0.75)
            nxt = project(cur + a * (z - cur) + (1 - a) * (cur - prev), x, eps, norm, bounds)
            new_loss, new_grad = loss_gradient(model, nxt, y)
            increases += (new_loss > loss).float()
            better = new_loss > run_loss
            run_best[better], run_loss[better] = nxt[better], new_loss[better]
            prev, cur, loss, grad = cur, nxt, new_loss, new_grad
            if k in checks:
                span = k - last_check
                cond1 = increases < rho * span
                cond2 = (eta.flatten() == eta_at_check.flatten()) & (run_loss == best_at_check)
                halve = (cond1 | cond2).view_as(eta)
                eta_at_check, best_at_check = eta.clone(), run_loss.clone()
                eta = torch.where(halve, eta / 2, eta)
                # restart the halved ones from their best point
                cur = torch.where(halve, run_best, cur)
                increases.zero_()
                last_check = k
        take = run_loss > best_loss
        best_adv[take], best_loss[take] = run_best[take], run_loss[take]
    return best_adv.detach()


def parse_attack(text: str) -> tuple[str, int]:
    """``"pgd-100"`` -> ("pgd", 100); ``"fgsm"`` -> ("fgsm", 1); ``"apgd"`` -> ("apgd", 100)."""
    name, _, steps = text.lower().partition("-")
    if name not in ATTACKS or (steps and not steps.isdigit()):
        raise BadInputError(f"--attack {text!r}: use fgsm, pgd-STEPS (e.g. pgd-100) or apgd-STEPS")
    default = {"fgsm": 1, "pgd": 40, "apgd": 100}[name]
    return name, int(steps) if steps else default


def run_attack(model: Model, x: torch.Tensor, y: torch.Tensor, *, attack: str, eps: float,
               norm: str = "linf", restarts: int = 1, generator: torch.Generator | None = None,
               bounds: Bounds = UNIT) -> torch.Tensor:
    name, steps = parse_attack(attack)
    if eps == 0:
        return x.clone()
    if name == "fgsm":
        if norm != "linf":
            raise BadInputError("FGSM is an L-inf attack; use --norm linf or --attack pgd-STEPS")
        return fgsm(model, x, y, eps, bounds)
    if name == "pgd":
        return pgd(model, x, y, eps, steps=steps, norm=norm, restarts=restarts, generator=generator, bounds=bounds)
    return apgd_ce(model, x, y, eps, steps=steps, norm=norm, restarts=restarts, generator=generator, bounds=bounds)
