"""DP-SGD as a training extension of the one Trainer, built on Opacus (Abadi et al. 2016).

For each private network: the model check (:mod:`.model_check`), Opacus' ``GradSampleModule`` for
per-example gradients and ``DPOptimizer`` for clipping to ``max_grad_norm`` and Gaussian noise;
batches are drawn by Poisson sampling (each example independently with rate q = batch/N), which
the privacy analysis assumes. The noise multiplier is solved so that the planned ``--steps`` spend
exactly the target epsilon (:mod:`.accountant`, checked against Opacus'); training stops cleanly
with a checkpoint when the next step would exceed it. The accountant, the noise generator and the
sampler position are part of every checkpoint, so ``--resume`` continues bit-identically.

Which networks are private: ``--dp-networks``, else an objective's ``data_networks`` (the networks
whose loss reads the training data: a VAE's encoder and decoder), else every network except its
``sampling_network`` when it has others (a GAN's generator never sees data: it learns only through
the discriminator, so it is private by post-processing), else all of them.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from aigc.core.errors import BadInputError
from aigc.core.seed import make_generator
from aigc.tools.privacy.accountant import RDPAccountant, solve_noise_multiplier
from aigc.train.extensions import TrainExtension

__all__ = ["DPExtension", "PoissonBatcher", "private_networks"]


class PoissonBatcher:
    """Batches where every example is in with probability ``rate``, independently (variable size).

    Step ``k`` draws from a generator seeded by ``(seed, k)``, so the state is the step count.
    """

    def __init__(self, tensors: Mapping[str, torch.Tensor], rate: float, *, seed: int) -> None:
        self.tensors = dict(tensors)
        self.n = len(next(iter(self.tensors.values())))
        self.rate, self.seed, self.position = rate, seed, 0

    def next(self) -> dict[str, torch.Tensor]:
        g = make_generator(self.seed * 1_000_003 + 7 + self.position)
        self.position += 1
        idx = (torch.rand(self.n, generator=g) < self.rate).nonzero().squeeze(1)
        return {k: v[idx] for k, v in self.tensors.items()}

    def state_dict(self) -> dict[str, Any]:
        return {"position": self.position}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.position = int(state["position"])


def private_networks(objective: Any, names: list[str], requested: list[str] | None) -> list[str]:
    """The networks DP-SGD trains privately (see the module docstring)."""
    declared = getattr(objective, "data_networks", None)
    if requested:
        unknown = sorted(set(requested) - set(names))
        if unknown:
            raise BadInputError(f"--dp-networks: no network(s) {unknown}; this model has {sorted(names)}")
        public = sorted(set(declared or ()) & set(names) - set(requested))
        if public:
            raise BadInputError(f"--dp-networks: {public} read the training data too and must be private; "
                                f"give {sorted(set(requested) | set(public))} or leave --dp-networks out")
        return list(requested)
    if declared:
        return [n for n in names if n in declared]
    sampler = getattr(objective, "sampling_network", None)
    if sampler in names and len(names) > 1:
        return [n for n in names if n != sampler]
    return list(names)


def _encode_state(g: torch.Generator) -> str:
    return base64.b64encode(bytes(g.get_state().tolist())).decode("ascii")


def _decode_state(text: str) -> torch.Tensor:
    return torch.tensor(list(base64.b64decode(text)), dtype=torch.uint8)


def _reset_per_example_state(net: nn.Module) -> None:
    """Forget Opacus' per-example bookkeeping (gradients, stored activations, forward counters)."""
    for p in net.parameters():
        p.grad_sample = None
        if hasattr(p, "_current_grad_sample"):
            del p._current_grad_sample
        if hasattr(p, "_forward_counter"):
            p._forward_counter = 0
    for m in net.modules():
        if getattr(m, "activations", None):
            m.activations = []
        if hasattr(m, "max_batch_len"):
            del m.max_batch_len


class DPExtension(TrainExtension):
    name = "dp"

    def __init__(self, options: Mapping[str, Any]) -> None:
        self.target_epsilon = float(options["epsilon"])
        self.delta = float(options["delta"])
        self.max_grad_norm = float(options["max_grad_norm"])
        self.requested = options.get("networks")
        self.accountant = RDPAccountant()
        self.noise_multiplier: float | None = None
        self.sample_rate: float | None = None
        self.networks: list[str] = []
        self.converted: list[dict[str, Any]] = []
        self.optimizer_names: list[str] = []
        self.noise_generator: torch.Generator | None = None
        self._dp_optimizers: list[Any] = []

    # ------------------------------------------------------------------ setup
    def _check_trainer(self, trainer: Any) -> None:
        cfg = trainer.config
        if trainer.dist.enabled:
            raise BadInputError("DP-SGD runs in one process here; launch without torchrun")
        if cfg.accumulate != 1:
            raise BadInputError("DP-SGD: --accumulate must be 1 (Poisson batches are not split)")
        if cfg.precision == "fp16":
            raise BadInputError("DP-SGD: use --precision fp32 or bf16 (fp16 gradient scaling breaks clipping)")

    def prepare(self, trainer: Any) -> None:
        self._check_trainer(trainer)
        self.networks = private_networks(trainer.objective, list(trainer.raw), self.requested)
        from aigc.tools.privacy.model_check import make_dp_compatible

        objective_nets = trainer.objective.networks()
        for name in self.networks:
            net, conversions = make_dp_compatible(trainer.raw[name], name)
            if conversions:
                kinds = sorted({f"{c['from']} -> {c['to']}" for c in conversions})
                print(f"DP-SGD model check: network {name!r}: replaced {len(conversions)} layer(s) "
                      f"({', '.join(kinds)}); batch statistics mix examples, which per-example clipping cannot bound")
                net = net.to(trainer.device)
                trainer.raw[name] = trainer.nets[name] = net
                if isinstance(objective_nets, dict) and name in objective_nets:
                    objective_nets[name] = net  # objectives that call their own modules see the new one
            self.converted += conversions

    def after_optimizers(self, trainer: Any) -> None:
        from opacus import GradSampleModule
        from opacus.optimizers import DPOptimizer

        private_params = {id(p) for n in self.networks for p in trainer.raw[n].parameters()}
        self.noise_generator = make_generator(trainer.config.seed * 104_729 + 3, trainer.device)
        for opt_name, opt in trainer.optimizers.items():
            params = [p for g in opt.param_groups for p in g["params"]]
            inside = [id(p) in private_params for p in params]
            if not any(inside):
                continue
            if not all(inside):
                raise BadInputError(f"DP-SGD: optimizer {opt_name!r} mixes private and public networks; "
                                    "choose --dp-networks to match the optimizers")
            dp_opt = DPOptimizer(opt, noise_multiplier=0.0, max_grad_norm=self.max_grad_norm,
                                 expected_batch_size=trainer.config.batch_size, loss_reduction="mean",
                                 generator=self.noise_generator)
            trainer.optimizers[opt_name] = dp_opt
            self._dp_optimizers.append(dp_opt)
            self.optimizer_names.append(opt_name)
        if not self.optimizer_names:
            raise BadInputError(f"DP-SGD: no optimizer trains the private network(s) {self.networks}")
        for name in self.networks:
            trainer.nets[name] = GradSampleModule(trainer.raw[name], loss_reduction="mean")

    def make_batcher(self, trainer: Any, data: Mapping[str, Any]) -> PoissonBatcher:
        n = len(next(iter(data.values())))
        batch = trainer.config.batch_size
        if batch >= n:
            raise BadInputError(f"DP-SGD: --batch-size {batch} must be smaller than the {n} training examples")
        self.sample_rate = batch / n
        if self.noise_multiplier is None:
            self.noise_multiplier = solve_noise_multiplier(self.target_epsilon, self.delta, self.sample_rate,
                                                           trainer.config.steps)
        self._set_noise()
        return PoissonBatcher(data, self.sample_rate, seed=trainer.config.seed)

    def _set_noise(self) -> None:
        for opt in self._dp_optimizers:
            opt.noise_multiplier = self.noise_multiplier

    # ------------------------------------------------------------------ steps
    def transform_batch(self, trainer: Any, batch: dict[str, Any], ctx: Any) -> dict[str, Any]:
        # per-example gradients left on private parameters by another network's update (a GAN's
        # generator step backpropagates through the discriminator) must not join the next step
        # (and activations its forward left behind where no gradient flowed back, e.g. an embedding)
        for name in self.networks:
            _reset_per_example_state(trainer.raw[name])
        return batch

    def after_step(self, trainer: Any, logs: dict[str, float]) -> str | None:
        self.accountant.step(self.noise_multiplier, self.sample_rate)
        logs["dp_epsilon"] = self.accountant.epsilon(self.delta)
        if trainer.step < trainer.config.steps and self.accountant.epsilon(self.delta, 1) > self.target_epsilon:
            return f"privacy budget spent (epsilon {logs['dp_epsilon']:.3f} of {self.target_epsilon:g})"
        return None

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict[str, Any]:
        return {"accountant": self.accountant.state_dict(), "noise_multiplier": self.noise_multiplier,
                "sample_rate": self.sample_rate,
                "noise_rng": _encode_state(self.noise_generator) if self.noise_generator is not None else None}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        if not state:
            return
        self.accountant.load_state_dict(state["accountant"])
        self.noise_multiplier = state["noise_multiplier"]
        self.sample_rate = state["sample_rate"]
        if state.get("noise_rng") and self.noise_generator is not None:
            self.noise_generator.set_state(_decode_state(state["noise_rng"]))
        self._set_noise()
        spent = self.accountant.epsilon(self.delta)
        if self.accountant.epsilon(self.delta, 1) > self.target_epsilon:
            raise BadInputError(f"--resume: the privacy budget is spent (epsilon {spent:.3f} of "
                                f"{self.target_epsilon:g} after {self.accountant.steps} steps); another step "
                                "would exceed it. Train a new model for a larger budget")

    def describe(self) -> dict[str, Any]:
        return {"epsilon": round(self.accountant.epsilon(self.delta), 6), "delta": self.delta,
                "target_epsilon": self.target_epsilon, "noise_multiplier": self.noise_multiplier,
                "sample_rate": self.sample_rate, "steps": self.accountant.steps,
                "max_grad_norm": self.max_grad_norm, "accountant": "rdp (Mironov et al. 2019; Opacus orders)",
                "networks": self.networks, "converted": self.converted,
                **({"load_hook": "aigc.tools.privacy.dp_spec:LOAD_HOOK"} if self.converted else {})}
