"""LoRA (Hu et al. 2021) for any network: low-rank adapters beside frozen Linear and Conv2d layers.

``y = base(x) + (alpha / r) * B(A(x))`` with ``A`` (r x in) Kaiming-initialised and ``B`` (out x r)
zero, so training starts from the base model exactly. For a convolution ``A`` is a conv with the
base kernel to ``r`` channels and ``B`` a 1x1 conv (as in LoRA's reference implementation).
Merging adds ``(alpha / r) * B @ A`` to the base weight: the merged plain layer gives the adapted
layer's outputs. Adapters live in the model weights under ``*.lora_a`` / ``*.lora_b`` and are also
written alone to ``adapter.safetensors``.
"""

from __future__ import annotations

import fnmatch
import math
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from aigc.core.errors import BadInputError

__all__ = [
    "ADAPTER_NAME",
    "LOAD_HOOK",
    "LoRAConv2d",
    "LoRALinear",
    "adapter_tensors",
    "inject_lora",
    "merge_adapter",
    "merge_lora",
    "save_adapter",
]

ADAPTER_NAME = "adapter.safetensors"


class _LoRA(nn.Module):
    def __init__(self, base: nn.Module, rank: int, alpha: float) -> None:
        super().__init__()
        self.base = base
        self.rank, self.alpha, self.scaling = rank, alpha, alpha / rank
        base.requires_grad_(False)

    def merged(self) -> nn.Module:
        """A plain copy of the base layer with the adapter folded into its weight."""
        import copy

        plain = copy.deepcopy(self.base)
        with torch.no_grad():
            plain.weight.add_(self.delta().to(plain.weight.dtype))
        plain.requires_grad_(True)
        return plain


class LoRALinear(_LoRA):
    def __init__(self, base: nn.Linear, rank: int, alpha: float, generator: torch.Generator | None = None) -> None:
        super().__init__(base, rank, alpha)
        w = base.weight
        self.lora_a = nn.Parameter(torch.empty(rank, base.in_features, device=w.device, dtype=w.dtype))
        self.lora_b = nn.Parameter(torch.zeros(base.out_features, rank, device=w.device, dtype=w.dtype))
        bound = 1 / math.sqrt(base.in_features)  # kaiming_uniform_(a=sqrt(5)), as nn.Linear and LoRA do
        with torch.no_grad():
            self.lora_a.copy_(torch.rand(self.lora_a.shape, generator=generator) * 2 * bound - bound)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.base(x) + F.linear(F.linear(x, self.lora_a), self.lora_b) * self.scaling

    def delta(self) -> torch.Tensor:
        return self.scaling * self.lora_b @ self.lora_a


class LoRAConv2d(_LoRA):
    def __init__(self, base: nn.Conv2d, rank: int, alpha: float, generator: torch.Generator | None = None) -> None:
        super().__init__(base, rank, alpha)
        w = base.weight
        self.lora_a = nn.Parameter(torch.empty(rank, *w.shape[1:], device=w.device, dtype=w.dtype))
        self.lora_b = nn.Parameter(torch.zeros(w.shape[0], rank, 1, 1, device=w.device, dtype=w.dtype))
        bound = 1 / math.sqrt(w[0].numel())
        with torch.no_grad():
            self.lora_a.copy_(torch.rand(self.lora_a.shape, generator=generator) * 2 * bound - bound)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b = self.base
        low = F.conv2d(x, self.lora_a, None, b.stride, b.padding, b.dilation)
        return b(x) + F.conv2d(low, self.lora_b) * self.scaling

    def delta(self) -> torch.Tensor:
        return self.scaling * torch.einsum("or,rihw->oihw", self.lora_b[:, :, 0, 0], self.lora_a)


def _targets(net: nn.Module, prefix: str, patterns: Iterable[str]) -> list[str]:
    pats = list(patterns)
    out = []
    for name, mod in net.named_modules():
        full = f"{prefix}.{name}" if name else prefix
        ok = isinstance(mod, nn.Linear) or (isinstance(mod, nn.Conv2d) and mod.groups == 1
                                             and isinstance(mod.padding, tuple))
        if ok and any(fnmatch.fnmatchcase(full, p) for p in pats) and ".base" not in f".{name}":
            out.append(name)
    return out


def _set(net: nn.Module, name: str, module: nn.Module) -> None:
    parent, _, leaf = name.rpartition(".")
    setattr(net.get_submodule(parent) if parent else net, leaf, module)


def inject_lora(net: nn.Module, rank: int, alpha: float, *, prefix: str, patterns: Iterable[str] = ("*",),
                names: Iterable[str] | None = None, generator: torch.Generator | None = None) -> list[str]:
    """Wrap the Linear/Conv2d layers of ``net`` whose ``prefix.path`` matches ``patterns`` (or
    exactly ``names``) in LoRA adapters, freeze everything else in ``net``; returns the paths."""
    chosen = list(names) if names is not None else _targets(net, prefix, patterns)
    net.requires_grad_(False)
    for name in chosen:
        base = net.get_submodule(name)
        cls = LoRALinear if isinstance(base, nn.Linear) else LoRAConv2d
        _set(net, name, cls(base, rank, alpha, generator))
    return chosen


def merge_lora(net: nn.Module) -> int:
    """Replace every LoRA layer of ``net`` by its merged plain layer; returns how many."""
    names = [n for n, m in net.named_modules() if isinstance(m, _LoRA)]
    for name in names:
        _set(net, name, net.get_submodule(name).merged())
    return len(names)


def adapter_tensors(weights: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The adapter tensors (``*.lora_a``/``*.lora_b``) of a weights dict."""
    return {k: v for k, v in weights.items() if k.endswith((".lora_a", ".lora_b"))}


def save_adapter(path: str | os.PathLike, weights: Mapping[str, torch.Tensor], info: Mapping[str, Any]) -> Path:
    """Write only the adapters (and their settings as metadata) to ``path``."""
    from aigc.core.modeldir import save_weights

    tensors = adapter_tensors(weights)
    if not tensors:
        raise BadInputError("no LoRA adapter tensors to save (train with --lora RANK)")
    save_weights(path, tensors, metadata={"lora": info})
    return Path(path)


class _LoadHook:
    """Rebuilds LoRA layers before strict loading and merges them after (``aigc.load`` serves the
    merged plain network; the adapter stays in the files)."""

    def before_load(self, networks: Mapping[str, nn.Module], config: Mapping[str, Any]) -> None:
        from aigc.tools.compress.structured import LOAD_HOOK as STRUCTURED

        STRUCTURED.before_load(networks, config)  # a pruned source's shrunk layers come first
        lora = config["extensions"]["transfer"]["lora"]
        for net_name, names in lora["targets"].items():
            if net_name in networks:
                inject_lora(networks[net_name], int(lora["rank"]), float(lora["alpha"]), prefix=net_name, names=names)

    def after_load(self, nets: dict[str, nn.Module], config: Mapping[str, Any]) -> dict[str, nn.Module]:
        for net in nets.values():
            merge_lora(net)
            net.eval()
        return nets


LOAD_HOOK = _LoadHook()


def merge_adapter(model_dir: str | os.PathLike, out_dir: str | os.PathLike) -> Path:
    """Write ``out_dir``: the LoRA-trained ``model_dir`` as a plain model directory (adapters merged,
    no load hook), which any aigc version without LoRA support loads."""
    from aigc.core.modeldir import CONFIG_NAME, WEIGHTS_NAME, read_config, save_weights
    from aigc.core.pipeline import load_objective

    out = Path(out_dir)
    _, nets, config = load_objective(model_dir, torch.device("cpu"), prefer_ema=True)
    plain = {k: v for k, v in config.items() if k != "extensions"}
    plain["merged_from"] = {"model": str(model_dir), "lora": config["extensions"]["transfer"]["lora"]}
    tensors = {f"{n}.{k}": v for n, net in nets.items() for k, v in net.state_dict().items()}
    out.mkdir(parents=True, exist_ok=True)
    save_weights(out / WEIGHTS_NAME, tensors, metadata={"merged": "lora"})
    from aigc.core.atomic import atomic_write_json

    atomic_write_json(out / CONFIG_NAME, plain)
    read_config(out)
    return out
