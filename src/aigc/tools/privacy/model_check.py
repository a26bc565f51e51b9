"""The model check before DP-SGD: convert what per-example clipping cannot handle, refuse clearly
what cannot be converted.

Batch norm mixes the examples of a batch, so one example's gradient is not its own; Opacus'
``ModuleValidator.fix`` swaps it for group norm (the users of Opacus issues #319 and #646 hit
exactly this). A trainable layer that keeps other buffers (spectral norm's power-iteration vectors,
custom running statistics) has no per-example gradient Opacus can compute and is refused with one
line naming the layer.
"""

from __future__ import annotations

from typing import Any

from torch import nn

from aigc.core.errors import BadInputError

__all__ = ["make_dp_compatible", "reapply_conversions"]


def _set_submodule(root: nn.Module, name: str, new: nn.Module) -> None:
    parent_name, _, child = name.rpartition(".")
    parent = root.get_submodule(parent_name) if parent_name else root
    setattr(parent, child, new)


def _describe(module: nn.Module) -> dict[str, Any]:
    if isinstance(module, nn.GroupNorm):
        return {"to": "GroupNorm", "groups": module.num_groups, "channels": module.num_channels,
                "eps": module.eps, "affine": module.affine}
    return {"to": type(module).__name__}


def _buffer_layers(net: nn.Module) -> list[tuple[str, nn.Module]]:
    """Layers with trainable parameters of their own that also hold buffers (recursively)."""
    out = []
    for name, m in net.named_modules():
        own = [p for p in m.parameters(recurse=False) if p.requires_grad]
        if own and any(True for _ in m.buffers()):
            out.append((name or "(root)", m))
    return out


def make_dp_compatible(net: nn.Module, network: str) -> tuple[nn.Module, list[dict[str, Any]]]:
    """Return ``(network ready for per-example gradients, conversions made)``.

    Raises :class:`BadInputError` (one line) when a layer cannot be converted.
    """
    from opacus.validators import ModuleValidator

    was_training = net.training
    net.train()
    conversions: list[dict[str, Any]] = []
    if not ModuleValidator.is_valid(net):
        before = {name: type(m) for name, m in net.named_modules()}
        fixed = ModuleValidator.fix(net)
        for name, m in fixed.named_modules():
            if name in before and before[name] is not type(m):
                conversions.append({"network": network, "module": name, "from": before[name].__name__,
                                    **_describe(m)})
        net = fixed
        remaining = ModuleValidator.validate(net)
        if remaining:
            raise BadInputError(f"DP-SGD: network {network!r} has a layer Opacus cannot convert "
                                f"({str(remaining[0]).splitlines()[0]}); replace it with a per-example layer")
    # Opacus' backward hooks cannot see through in-place activations (LeakyReLU(inplace=True)
    # after a conv); switching them off changes no weights or outputs
    for m in net.modules():
        if getattr(m, "inplace", False) is True:
            m.inplace = False
    bad = _buffer_layers(net)
    if bad:
        name, m = bad[0]
        buffers = ", ".join(sorted({b.rsplit('.', 1)[-1] for b, _ in m.named_buffers()}))
        raise BadInputError(
            f"DP-SGD: network {network!r} layer {name} ({type(m).__name__}) keeps buffers ({buffers}) that "
            "per-example gradients cannot account for (e.g. spectral norm); train a variant without it "
            "(for GAN discriminators: d_norm 'none') or pass --dp-networks to privatise other networks")
    net.train(was_training)
    return net, conversions


def reapply_conversions(nets: dict[str, nn.Module], conversions: list[dict[str, Any]]) -> None:
    """Redo recorded conversions on freshly built networks (before loading their weights)."""
    for conv in conversions:
        net = nets.get(conv["network"])
        if net is None:
            raise BadInputError(f"DP conversion names network {conv['network']!r}, which the model does not have")
        old = net.get_submodule(conv["module"])
        if conv["to"] != "GroupNorm":
            raise BadInputError(f"cannot redo the DP conversion of {conv['module']} to {conv['to']}")
        new = nn.GroupNorm(conv["groups"], conv["channels"], eps=conv["eps"], affine=conv["affine"])
        param = next(old.parameters(), None)
        if param is not None:
            new = new.to(param.device)
        _set_submodule(net, conv["module"], new)
