"""Knowledge distillation (Hinton et al. 2015) of any objective, through the one Trainer.

:class:`DistillObjective` wraps the student's own objective. Its ``training_step`` runs the
student's ``training_step`` with each distilled network replaced by a :class:`_Paired` module that
forwards the same call to the frozen teacher network: whatever inputs the task feeds its network
(token windows, noisy images at a sampled timestep, degraded patches), the teacher sees the same.
The loss becomes ``(1 - alpha) * task loss + alpha * distillation loss``, the latter per network:

- ``"kl"`` — ``T^2 * KL(softmax(teacher / T) || softmax(student / T))`` over the last axis, for
  networks whose outputs are logits (objectives that are :class:`aigc.train.objective.ScoresLogits`:
  language models, classifiers);
- ``"mse"`` — mean squared difference of the outputs, for every other network (image-to-image
  nets, a diffusion model's noise prediction).

Objectives that optimise several networks themselves (``ctx.optimize``) get the term of the network
being optimised added to that loss.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from aigc.core.errors import BadInputError

__all__ = ["DistillObjective", "default_kind", "distill_loss", "student_objective"]

KINDS = ("kl", "mse")


def distill_loss(student: torch.Tensor, teacher: torch.Tensor, kind: str, temperature: float = 1.0) -> torch.Tensor:
    """The distillation loss of one output pair (see the module docstring)."""
    if student.shape != teacher.shape:
        raise BadInputError(f"student output {tuple(student.shape)} and teacher output {tuple(teacher.shape)} "
                            "differ; distil into a student with the same outputs (vocabulary, classes, channels)")
    s, t = student.float(), teacher.float()
    if kind == "mse":
        return F.mse_loss(s, t)
    log_s = F.log_softmax(s.flatten(0, -2) / temperature, dim=-1)
    log_t = F.log_softmax(t.flatten(0, -2) / temperature, dim=-1)
    return F.kl_div(log_s, log_t, reduction="batchmean", log_target=True) * temperature ** 2


def default_kind(objective: Any) -> str:
    """``"kl"`` for objectives whose networks output logits, ``"mse"`` otherwise."""
    from aigc.train.objective import ScoresLogits

    return "kl" if isinstance(objective, ScoresLogits) else "mse"


def student_objective(task: str, arch: str, model: Mapping[str, Any], overrides: Mapping[str, Any],
                      seed: int) -> Any:
    """The task's objective for ``arch`` with ``model`` config changed by ``overrides``."""
    from aigc.core.config import config_from_dict
    from aigc.core.registry import architecture
    from aigc.train.run import build_seeded

    cls = architecture(task, arch)
    try:
        cfg = config_from_dict(cls.config_class, {**dict(model), **dict(overrides)})
    except BadInputError as exc:
        raise BadInputError(f"--distill-to: {exc}") from None
    return build_seeded(seed, lambda: cls(cfg))


def _first_tensor(out: Any) -> torch.Tensor | None:
    if torch.is_tensor(out):
        return out
    if isinstance(out, (tuple, list)) and out and torch.is_tensor(out[0]):
        return out[0]  # e.g. an LSTM's (logits, state)
    return None


class _Paired(nn.Module):
    """Runs the student network and, on the same arguments, the frozen teacher; keeps both outputs
    of calls that build a graph (the ones a loss can train)."""

    def __init__(self, student: nn.Module, teacher: nn.Module) -> None:
        super().__init__()
        self.student = student
        self._teacher = (teacher,)  # not a sub-module: never trained, never saved
        self.outputs: list[tuple[torch.Tensor, torch.Tensor]] = []

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        out = self.student(*args, **kwargs)
        s = _first_tensor(out)
        if s is not None and s.requires_grad:
            with torch.no_grad():
                t = _first_tensor(self._teacher[0](*args, **kwargs))
            if t is not None:
                self.outputs.append((s, t))
        return out

    def __getattr__(self, name: str) -> Any:
        try:
            return super().__getattr__(name)
        except AttributeError:
            return getattr(self.student, name)


class _Ctx:
    """The Trainer's StepContext with ``optimize`` adding the distillation term of that network."""

    def __init__(self, ctx: Any, owner: DistillObjective, paired: dict[str, _Paired]) -> None:
        self._ctx, self._owner, self._paired = ctx, owner, paired

    def __getattr__(self, name: str) -> Any:
        return getattr(self._ctx, name)

    def optimize(self, name: str, loss: torch.Tensor) -> None:
        term = self._owner.term(self._paired.get(name))
        if term is not None:
            loss = (1 - self._owner.alpha) * loss + self._owner.alpha * term
        self._ctx.optimize(name, loss)


class DistillObjective:
    """The student's objective, trained towards ``teacher`` networks' outputs as well as its task."""

    def __init__(self, student: Any, teacher: Mapping[str, nn.Module], *, kind: str, alpha: float = 0.5,
                 temperature: float = 1.0) -> None:
        if kind not in KINDS:
            raise BadInputError(f"--distill-loss must be one of {KINDS}, got {kind!r}")
        if not 0 < alpha <= 1 or temperature <= 0:
            raise BadInputError(f"distillation alpha must be in (0, 1] and temperature > 0, got {alpha}, {temperature}")
        self.student, self.teacher = student, dict(teacher)
        self.kind, self.alpha, self.temperature = kind, alpha, temperature
        for net in self.teacher.values():
            net.eval().requires_grad_(False)

    def __getattr__(self, name: str) -> Any:  # sample, diagnostics, ema_networks, ... of the student
        return getattr(self.student, name)

    def networks(self) -> dict[str, nn.Module]:
        return self.student.networks()

    def configure_optimizers(self, nets: Mapping[str, nn.Module], lr: float) -> dict[str, torch.optim.Optimizer]:
        return self.student.configure_optimizers(nets, lr)

    def term(self, paired: _Paired | None) -> torch.Tensor | None:
        if paired is None or not paired.outputs:
            return None
        losses = [distill_loss(s, t, self.kind, self.temperature) for s, t in paired.outputs]
        paired.outputs = []
        return torch.stack(losses).mean()

    def training_step(self, nets: Mapping[str, nn.Module], batch: Mapping[str, torch.Tensor],
                      ctx: Any) -> dict[str, torch.Tensor | float]:
        paired = {n: _Paired(net, self.teacher[n]) for n, net in nets.items() if n in self.teacher}
        out = dict(self.student.training_step({**nets, **paired}, batch, _Ctx(ctx, self, paired)))
        if ctx.optimized or "loss" not in out:
            return out
        terms = [t for p in paired.values() if (t := self.term(p)) is not None]
        if not terms:
            return out
        term = torch.stack(terms).sum()
        task = out["loss"]
        return {**out, "loss": (1 - self.alpha) * task + self.alpha * term,
                "task_loss": task.detach(), "distill_loss": term.detach()}
