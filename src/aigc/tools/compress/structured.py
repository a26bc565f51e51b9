"""Structured pruning of any network: whole hidden units / channels removed, tensors shrunk.

A *pair* is a producer layer A (Linear, Conv1d, Conv2d) whose outputs reach exactly one consumer
layer B through element-wise modules (activations, dropout) and per-channel BatchNorm only — the
hidden units of an MLP (``c_fc -> GELU -> c_proj``), the channels between two convolutions. Output
unit ``j`` of A is ranked by the L_n norm of its weight slice ``A.weight[j]`` — the ranking of
``torch.nn.utils.prune.ln_structured(A, "weight", amount, n, dim=0)`` — and the ``round(amount *
units)`` weakest are removed from A's rows, the BatchNorm's channels and B's input columns.

Candidate pairs come from the order in which leaf modules run on the objective's example inputs
(:class:`aigc.train.objective.ExampleInputs`); each is then *verified*: the shrunk network must
give exactly the outputs of the original network whose removed units are zeroed at B's input. A
pair that fails (a residual or a concatenation also reads A's output, a reshape in between) is
left whole and reported — so no network structure is assumed, and nothing is special-cased.

The new sizes are recorded in config.json (``"compression": {"structured": {net: {module: sizes}}}``,
or the transfer extension's record after fine-tuning), and :data:`LOAD_HOOK` rebuilds those layers
at their shrunk sizes before the weights load strictly.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from aigc.core.errors import BadInputError

__all__ = ["LOAD_HOOK", "Pair", "apply_sizes", "find_pairs", "prune_structured", "structure_of"]

PRUNABLE = (nn.Linear, nn.Conv1d, nn.Conv2d)
PER_CHANNEL = (nn.BatchNorm1d, nn.BatchNorm2d)  # each channel normalised alone: pruned with the producer
ELEMENTWISE = (nn.ReLU, nn.ReLU6, nn.GELU, nn.SiLU, nn.LeakyReLU, nn.ELU, nn.Tanh, nn.Sigmoid, nn.Mish,
               nn.Hardswish, nn.Hardtanh, nn.Softplus, nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Identity)
SIZE_KEYS = {nn.Linear: ("in_features", "out_features"), nn.Conv1d: ("in_channels", "out_channels"),
             nn.Conv2d: ("in_channels", "out_channels")}

Pair = tuple[str, list[str], str]  # (producer, per-channel norms between, consumer)


def _units(m: nn.Module) -> int:
    return m.weight.shape[0]


def _inputs(m: nn.Module) -> int:
    return m.weight.shape[1]


def _run(net: nn.Module, inputs: Sequence[Any]) -> list[torch.Tensor]:
    """All tensor outputs of ``net`` on ``inputs`` (a KV-cached network runs through its tensor view)."""
    from aigc.tools.export.onnx import CachedView, takes_cache

    with torch.no_grad():
        out = (CachedView(net) if takes_cache(net) else net)(*inputs)
    outs = out if isinstance(out, (tuple, list)) else (out,)
    return [o for o in outs if torch.is_tensor(o)]


def _order(net: nn.Module, inputs: Sequence[Any]) -> list[tuple[str, int]]:
    """Leaf modules in the order they ran, with how often each ran."""
    seen: list[str] = []
    handles = [m.register_forward_hook(lambda mod, a, o, n=name: seen.append(n))
               for name, m in net.named_modules() if not list(m.children())]
    try:
        _run(net, inputs)
    finally:
        for h in handles:
            h.remove()
    return [(n, seen.count(n)) for i, n in enumerate(seen) if n not in seen[:i]]


def find_pairs(net: nn.Module, inputs: Sequence[Any]) -> list[Pair]:
    """Candidate (producer, norms, consumer) pairs, each layer run once, dimensions agreeing."""
    mods = dict(net.named_modules())
    shared = {id(p) for name, m in mods.items() for p in m.parameters(recurse=False)}
    tied = {id(p) for p in shared if sum(p is q for m in mods.values() for q in m.parameters(recurse=False)) > 1}
    order = _order(net, inputs)
    pairs = []
    for i, (name, runs) in enumerate(order):
        a = mods[name]
        if type(a) not in SIZE_KEYS or runs != 1 or getattr(a, "groups", 1) != 1 or id(a.weight) in tied:
            continue
        norms = []
        for nxt, nruns in order[i + 1:]:
            m = mods[nxt]
            if type(m) in SIZE_KEYS:
                if (nruns == 1 and getattr(m, "groups", 1) == 1 and _inputs(m) == _units(a)
                        and id(m.weight) not in tied and type(m) is type(a)):
                    pairs.append((name, norms, nxt))
                break
            if isinstance(m, PER_CHANNEL) and m.num_features == _units(a) and nruns == 1:
                norms.append(nxt)
            elif not isinstance(m, ELEMENTWISE):
                break
    return pairs


def _ranked_keep(a: nn.Module, amount: float, n: float) -> torch.Tensor:
    """Indices (ascending) of the units ``ln_structured(amount, n, dim=0)`` keeps."""
    units = _units(a)
    drop = round(amount * units)  # torch.nn.utils.prune._compute_nparams_toprune
    keep = max(1, units - drop)
    norms = torch.linalg.vector_norm(a.weight.detach().flatten(1).float(), ord=n, dim=1)
    return torch.topk(norms, k=keep, largest=True).indices.sort().values


def _rebuilt(m: nn.Module, sizes: Mapping[str, int]) -> nn.Module:
    """A fresh module like ``m`` with the sizes in ``sizes`` (weights to be loaded or copied)."""
    w = m.weight
    kw = {"device": w.device, "dtype": w.dtype}
    if isinstance(m, PER_CHANNEL):
        return type(m)(sizes["num_features"], eps=m.eps, momentum=m.momentum, affine=m.affine,
                       track_running_stats=m.track_running_stats, **kw)
    if isinstance(m, nn.Linear):
        return nn.Linear(sizes["in_features"], sizes["out_features"], bias=m.bias is not None, **kw)
    return type(m)(sizes["in_channels"], sizes["out_channels"], m.kernel_size, stride=m.stride, padding=m.padding,
                   dilation=m.dilation, groups=1, bias=m.bias is not None, padding_mode=m.padding_mode, **kw)


def _set(net: nn.Module, name: str, module: nn.Module) -> None:
    parent, _, leaf = name.rpartition(".")
    setattr(net.get_submodule(parent) if parent else net, leaf, module)


def _sizes(m: nn.Module) -> dict[str, int]:
    if isinstance(m, PER_CHANNEL):
        return {"num_features": m.num_features}
    keys = SIZE_KEYS[type(m)]
    return {keys[0]: _inputs(m), keys[1]: _units(m)}


def _shrink(net: nn.Module, pair: Pair, keep: torch.Tensor) -> None:
    """Keep units ``keep`` of the pair's producer, norms and consumer (in place, new modules)."""
    producer, norms, consumer = pair
    with torch.no_grad():
        for name, dim in [(producer, 0), *[(b, 0) for b in norms], (consumer, 1)]:
            old = net.get_submodule(name)
            sizes = _sizes(old)
            key = "num_features" if isinstance(old, PER_CHANNEL) else SIZE_KEYS[type(old)][1 - dim]
            sizes[key] = len(keep)
            new = _rebuilt(old, sizes)
            state = {}
            for k, v in old.state_dict().items():
                cut = dim if (k == "weight" or dim == 0) and v.dim() > 0 and k != "num_batches_tracked" else None
                state[k] = v.index_select(cut, keep.to(v.device)) if cut is not None else v
            new.load_state_dict(state)
            new.train(old.training)
            _set(net, name, new)


def _masked_outputs(net: nn.Module, inputs: Sequence[Any], masks: Mapping[str, torch.Tensor]) -> list[torch.Tensor]:
    """Outputs of ``net`` with the removed input channels of each consumer zeroed."""
    def hook(mod: nn.Module, args: tuple, keep: torch.Tensor) -> tuple:
        x = args[0]
        dim = x.dim() - 1 if isinstance(mod, nn.Linear) else 1
        shape = [1] * x.dim()
        shape[dim] = -1
        mask = torch.zeros(x.shape[dim], dtype=x.dtype, device=x.device)
        mask[keep.to(x.device)] = 1
        return (x * mask.view(shape), *args[1:])

    handles = [net.get_submodule(n).register_forward_pre_hook(lambda m, a, k=k: hook(m, a, k))
               for n, k in masks.items()]
    try:
        return _run(net, inputs)
    finally:
        for h in handles:
            h.remove()


def _agrees(reference: list[torch.Tensor], got: list[torch.Tensor]) -> bool:
    if len(reference) != len(got) or any(a.shape != b.shape for a, b in zip(reference, got)):
        return False
    return all(torch.allclose(a.float(), b.float(), rtol=1e-4, atol=1e-5 * (1 + float(a.abs().max())))
               for a, b in zip(reference, got))


def prune_structured(net: nn.Module, inputs: Sequence[Any], amount: float, *, n: float = 2) -> dict[str, Any]:
    """Remove the ``amount`` fraction of units of every verified pair of ``net`` (in place).

    Returns ``{"pairs": [{"producer", "consumer", "kept", "units"}], "skipped": [...], "sizes":
    {module: sizes}}``; ``sizes`` is what :data:`LOAD_HOOK` needs to rebuild the network.
    """
    if not 0 < amount < 1:
        raise BadInputError(f"--prune must be a fraction between 0 and 1, got {amount}")
    was_training = net.training
    net.eval()
    candidates = find_pairs(net, inputs)
    keeps = {pair[0]: _ranked_keep(net.get_submodule(pair[0]), amount, n) for pair in candidates}
    accepted: list[Pair] = []
    skipped = []
    for pair in candidates:
        trial = [*accepted, pair]
        masks = {c: keeps[p] for p, _, c in trial}
        shrunk = copy.deepcopy(net)
        try:
            for p in trial:
                _shrink(shrunk, p, keeps[p[0]])
            ok = _agrees(_masked_outputs(net, inputs, masks), _run(shrunk, inputs))
        except (RuntimeError, ValueError, IndexError):
            ok = False
        (accepted if ok else skipped).append(pair if ok else f"{pair[0]} -> {pair[2]}")
    report = [{"producer": p, "consumer": c, "norms": norms, "kept": len(keeps[p]),
               "units": _units(net.get_submodule(p))} for p, norms, c in accepted]
    for pair in accepted:
        _shrink(net, pair, keeps[pair[0]])
    net.train(was_training)
    names = {x for p, norms, c in accepted for x in (p, *norms, c)}
    return {"pairs": report, "skipped": skipped,
            "sizes": {name: _sizes(net.get_submodule(name)) for name in sorted(names)}}


def apply_sizes(net: nn.Module, sizes: Mapping[str, Mapping[str, int]]) -> None:
    """Rebuild the named layers of ``net`` at the recorded sizes (weights loaded afterwards)."""
    for name, s in sizes.items():
        try:
            old = net.get_submodule(name)
        except AttributeError:
            raise BadInputError(f"structured pruning record names layer {name!r}, which this network "
                                "does not have; the model directory does not belong to this aigc") from None
        _set(net, name, _rebuilt(old, s))


def structure_of(config: Mapping[str, Any]) -> dict[str, dict[str, dict[str, int]]] | None:
    """The recorded shrunk sizes ``{net: {module: sizes}}`` of a model directory's config.json."""
    rec = (config.get("compression") or {}).get("structured")
    if rec:
        return {net: r["sizes"] for net, r in rec.items()}
    ext = ((config.get("extensions") or {}).get("transfer") or {}).get("structured")
    return dict(ext) if ext else None


class _LoadHook:
    """Rebuilds structurally pruned layers at their recorded sizes before strict loading."""

    def before_load(self, networks: Mapping[str, nn.Module], config: Mapping[str, Any]) -> None:
        for net_name, sizes in (structure_of(config) or {}).items():
            if net_name in networks:
                apply_sizes(networks[net_name], sizes)

    def after_load(self, nets: dict[str, nn.Module], config: Mapping[str, Any]) -> dict[str, nn.Module]:
        return nets


LOAD_HOOK = _LoadHook()
