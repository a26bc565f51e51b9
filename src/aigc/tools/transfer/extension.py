"""The ``transfer`` training extension: ``aigc train <any task> --init-from MODEL [--freeze PATTERN]
[--lora RANK]``.

``prepare(trainer)`` (networks on the device, optimizers not made yet) does, in order:

1. ``--init-from DIR``: copy every tensor of DIR's weights (EMA ones where kept) whose name and
   shape match the new network; the rest keep their fresh initialisation (a new head, say). A
   task that defines its own ``--init-from`` (text) keeps it: the generic flag is then not added.
2. ``--freeze PATTERN[,PATTERN]``: parameters whose ``network.path`` matches a glob stop training,
   e.g. ``--freeze 'model.blocks.0.*,model.tok_emb.*'``.
3. ``--lora RANK`` (``--lora-alpha``, ``--lora-targets GLOBS``): adapters beside the matching
   Linear/Conv2d layers, everything else frozen. ``adapter.safetensors`` is written with every
   checkpoint; ``aigc.load`` merges the adapters on load (config.json names the load hook).

Set by ``aigc compress`` (options in ``TrainConfig.extensions``, no flags): ``distill`` (``{"teacher":
DIR, "student": {model config changes}, "kind", "alpha", "temperature"}``, run first: the networks
become the student's and the objective a :class:`~aigc.tools.transfer.distill.DistillObjective`),
an ``init_from`` that was structurally pruned (its layers are rebuilt at their shrunk sizes first,
and config.json records them), and ``keep_zeros`` (weights that are exactly zero get no gradient,
so an unstructured-pruned model keeps its sparsity while it is fine-tuned).

Light at import (``aigc train --help`` imports it).
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import Any

from aigc.train.extensions import TrainExtension

__all__ = ["TRANSFER", "TransferExtension"]


class _TransferSpec:
    title = "transfer learning (any task)"

    def add_args(self, group: Any) -> None:
        try:  # a task's own --init-from (text) wins; then the generic one is not added
            group.add_argument("--init-from", dest="transfer_init_from", metavar="DIR", default=None,
                               help="start from this model directory's weights (tensors whose name and shape match)")
        except argparse.ArgumentError:
            pass
        group.add_argument("--freeze", metavar="GLOBS", default=None,
                           help="freeze parameters matching comma-separated globs over NETWORK.PATH, "
                                "e.g. --freeze 'model.blocks.0.*'")
        group.add_argument("--lora", type=int, metavar="RANK", default=None,
                           help="train LoRA adapters of this rank instead of the weights, e.g. --lora 4")
        group.add_argument("--lora-alpha", type=float, metavar="ALPHA", default=None,
                           help="LoRA scaling alpha (default: 2 x rank)")
        group.add_argument("--lora-targets", metavar="GLOBS", default="*",
                           help="Linear/Conv2d layers to adapt, globs over NETWORK.PATH")

    def options(self, args: argparse.Namespace) -> dict[str, Any] | None:
        from aigc.core.errors import BadInputError

        opts = {"init_from": getattr(args, "transfer_init_from", None), "freeze": getattr(args, "freeze", None),
                "lora": getattr(args, "lora", None)}
        if not any(v for v in opts.values()):
            return None
        if opts["lora"] is not None and not 1 <= opts["lora"] <= 1024:
            raise BadInputError(f"--lora must be a rank between 1 and 1024, got {opts['lora']}")
        if opts["init_from"]:
            from aigc.core.modeldir import read_config

            read_config(opts["init_from"])  # a missing or foreign directory stops here
        alpha = getattr(args, "lora_alpha", None)
        opts["lora_alpha"] = alpha if alpha is not None else 2.0 * (opts["lora"] or 1)
        opts["lora_targets"] = getattr(args, "lora_targets", "*") or "*"
        return opts

    def build(self, options: Mapping[str, Any]) -> TransferExtension:
        return TransferExtension(dict(options))


TRANSFER = _TransferSpec()


def _globs(text: str | None) -> list[str]:
    return [g.strip() for g in (text or "").split(",") if g.strip()]


class TransferExtension(TrainExtension):
    name = "transfer"

    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options
        self.info: dict[str, Any] = {}
        self.out_dir: Any = None

    def prepare(self, trainer: Any) -> None:
        self.out_dir, self._trainer, self._adapter_step = trainer.out_dir, trainer, -1
        if self.options.get("distill"):
            self.info["distill"] = self._distill(trainer)
        if self.options.get("init_from"):
            self.info["init_from"] = self._init_from(trainer)
        if self.options.get("freeze"):
            self.info["frozen_parameters"] = self._freeze(trainer.raw)
        if self.options.get("lora"):
            self.info["lora"] = self._lora(trainer)
        if self.options.get("keep_zeros"):
            self.info["kept_zero_weights"] = self._keep_zeros(trainer.raw)
        total = sum(p.numel() for net in trainer.raw.values() for p in net.parameters())
        train = sum(p.numel() for net in trainer.raw.values() for p in net.parameters() if p.requires_grad)
        self.info["trainable_parameters"], self.info["parameters"] = int(train), int(total)

    def _init_from(self, trainer: Any) -> dict[str, Any]:
        from aigc.core.errors import BadInputError
        from aigc.core.modeldir import (
            WEIGHTS_NAME,
            load_weights,
            model_id,
            read_config,
            split_prefix,
        )

        src = self.options["init_from"]
        cfg = read_config(src)
        task = trainer.meta.get("task")
        if task and cfg["task"] != task:
            raise BadInputError(f"--init-from {src}: a {cfg['task']!r} model, not a {task!r} one")
        weights = load_weights(f"{src}/{WEIGHTS_NAME}")
        structure = _structure(cfg, trainer.raw)
        if structure:
            self.info["structured"] = structure
        loaded, skipped = 0, []
        for name, net in trainer.raw.items():
            state = split_prefix(weights, f"ema.{name}") or split_prefix(weights, name)
            own = net.state_dict()
            fit = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
            skipped += [f"{name}.{k}" for k in own if k not in fit]
            net.load_state_dict(fit, strict=False)
            loaded += len(fit)
        if not loaded:
            raise BadInputError(f"--init-from {src}: no tensor fits this model (names or shapes differ); "
                                f"train with the same architecture settings as {src}")
        return {"model": str(src), "model_id": model_id(src), "loaded_tensors": loaded,
                "fresh_tensors": len(skipped)}

    def _distill(self, trainer: Any) -> dict[str, Any]:
        import torch

        from aigc.core.config import config_to_dict
        from aigc.core.errors import BadInputError
        from aigc.core.pipeline import load_objective
        from aigc.tools.transfer.distill import (
            DistillObjective,
            default_kind,
            student_objective,
        )

        opts = dict(self.options["distill"])
        _, teacher, tcfg = load_objective(opts["teacher"], torch.device("cpu"), prefer_ema=True)
        task, arch = trainer.meta.get("task"), trainer.meta.get("architecture")
        if tcfg["task"] != task:
            raise BadInputError(f"distillation teacher {opts['teacher']}: a {tcfg['task']!r} model, not {task!r}")
        student = trainer.objective
        if opts.get("student"):
            student = student_objective(task, arch, trainer.meta.get("model", {}), opts["student"], trainer.config.seed)
            for name, net in student.networks().items():
                trainer.raw[name] = net.to(trainer.device)
            trainer.meta["model"] = config_to_dict(student.config)
        kind = opts.get("kind") or default_kind(student)
        trainer.objective = DistillObjective(student, {n: net.to(trainer.device) for n, net in teacher.items()},
                                             kind=kind, alpha=float(opts.get("alpha", 0.5)),
                                             temperature=float(opts.get("temperature", 1.0)))
        count = sum(p.numel() for net in trainer.raw.values() for p in net.parameters())
        return {"teacher": str(opts["teacher"]), "kind": kind, "alpha": trainer.objective.alpha,
                "temperature": trainer.objective.temperature, "student_parameters": int(count),
                "teacher_parameters": int(sum(p.numel() for net in teacher.values() for p in net.parameters()))}

    @staticmethod
    def _keep_zeros(raw: Mapping[str, Any]) -> int:
        """Gradient hooks that keep every exactly-zero weight matrix entry at zero (Adam/AdamW then
        never move them: their moments stay zero)."""
        count = 0
        for net in raw.values():
            for pname, p in net.named_parameters():
                if p.requires_grad and p.dim() >= 2 and pname.endswith("weight") and (p == 0).any():
                    keep = (p.detach() != 0).to(p.dtype)
                    p.register_hook(lambda g, k=keep: g * k)
                    count += int((keep == 0).sum())
        return count

    def _freeze(self, raw: Mapping[str, Any]) -> int:
        import fnmatch

        from aigc.core.errors import BadInputError

        globs, count, hit = _globs(self.options["freeze"]), 0, set()
        for net_name, net in raw.items():
            for pname, p in net.named_parameters():
                full = f"{net_name}.{pname}"
                match = [g for g in globs if fnmatch.fnmatchcase(full, g)]
                if match:
                    p.requires_grad_(False)
                    count += p.numel()
                    hit.update(match)
        missed = [g for g in globs if g not in hit]
        if missed:
            names = [f"{n}.{p}" for n, net in raw.items() for p, _ in list(net.named_parameters())[:3]]
            raise BadInputError(f"--freeze {','.join(missed)} matches no parameter; names look like {names}")
        return int(count)

    def _lora(self, trainer: Any) -> dict[str, Any]:
        import torch

        from aigc.core.errors import BadInputError
        from aigc.tools.transfer.lora import inject_lora

        rank, alpha = int(self.options["lora"]), float(self.options["lora_alpha"])
        gen = torch.Generator().manual_seed(int(trainer.config.seed) * 7919 + 17)
        targets = {name: inject_lora(net, rank, alpha, prefix=name, patterns=_globs(self.options["lora_targets"]),
                                     generator=gen) for name, net in trainer.raw.items()}
        if not any(targets.values()):
            raise BadInputError(f"--lora-targets {self.options['lora_targets']!r} matches no Linear/Conv2d layer")
        for net in trainer.raw.values():
            net.to(trainer.device)
        return {"rank": rank, "alpha": alpha, "targets": {k: v for k, v in targets.items() if v}}

    def after_step(self, trainer: Any, logs: dict[str, float]) -> str | None:
        cfg = trainer.config
        due = trainer.step % cfg.checkpoint_every == 0 or trainer.step >= cfg.steps
        if self.options.get("lora") and due and self._adapter_step != trainer.step:
            self._write_adapter(trainer)
        return None

    def state_dict(self) -> dict[str, Any]:
        """Called with every checkpoint — also the one a time limit or Ctrl-C stops with: the
        adapter file goes with it."""
        trainer = getattr(self, "_trainer", None)
        if self.options.get("lora") and trainer is not None and self._adapter_step != trainer.step:
            self._write_adapter(trainer)
        return {}

    def _write_adapter(self, trainer: Any) -> None:
        from aigc.tools.transfer.lora import ADAPTER_NAME, save_adapter

        if not trainer.dist.is_main:
            return
        weights = {f"{n}.{k}": v for n, net in trainer.raw.items() for k, v in net.state_dict().items()}
        save_adapter(trainer.out_dir / ADAPTER_NAME, weights, {**self.info["lora"], "step": trainer.step})
        self._adapter_step = trainer.step

    def describe(self) -> dict[str, Any]:
        out = {"options": dict(self.options), **self.info}
        if "lora" in self.info:  # the LoRA hook rebuilds a pruned structure first
            out["load_hook"] = "aigc.tools.transfer.lora:LOAD_HOOK"
        elif "structured" in self.info:
            out["load_hook"] = "aigc.tools.compress.structured:LOAD_HOOK"
        return out


def _structure(config: Mapping[str, Any], raw: Mapping[str, Any]) -> dict[str, Any] | None:
    """Rebuild ``raw``'s layers at the shrunk sizes a structurally pruned source records."""
    from aigc.tools.compress.structured import apply_sizes, structure_of

    structure = structure_of(config)
    for net_name, sizes in (structure or {}).items():
        if net_name in raw:
            device = next(raw[net_name].parameters()).device
            apply_sizes(raw[net_name], sizes)
            raw[net_name].to(device)
    return structure
