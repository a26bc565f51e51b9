"""Transfer extension: merged LoRA equals the adapted model; init-from copies matching tensors;
freeze stops gradients; a LoRA model directory loads (merged) through load_objective."""

from __future__ import annotations

import argparse
import json
from types import SimpleNamespace

import pytest
import torch
from torch import nn

from aigc.core.errors import BadInputError
from aigc.tools.transfer.extension import TRANSFER
from aigc.tools.transfer.lora import (
    ADAPTER_NAME,
    LoRAConv2d,
    LoRALinear,
    adapter_tensors,
    inject_lora,
    merge_lora,
)


class Tiny(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1, stride=2)
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(8 * 4 * 4, 16), nn.ReLU(), nn.Linear(16, 5))

    def forward(self, x):
        return self.head(torch.relu(self.conv(x)))


def _randomise_adapters(net, seed=0):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, (LoRALinear, LoRAConv2d)):
                m.lora_b.copy_(torch.randn(m.lora_b.shape, generator=g))


def test_lora_starts_at_base_and_merges_exactly():
    torch.manual_seed(0)
    net, x = Tiny(), torch.randn(4, 3, 8, 8)
    before = net(x)
    names = inject_lora(net, 2, 4.0, prefix="model", generator=torch.Generator().manual_seed(1))
    assert names == ["conv", "head.1", "head.3"]
    assert torch.allclose(net(x), before, atol=1e-6)  # B = 0: training starts from the base model
    trainable = [n for n, p in net.named_parameters() if p.requires_grad]
    assert trainable and all(n.endswith(("lora_a", "lora_b")) for n in trainable)
    _randomise_adapters(net)
    adapted = net(x)
    assert not torch.allclose(adapted, before, atol=1e-3)
    assert merge_lora(net) == 3
    assert not any(isinstance(m, (LoRALinear, LoRAConv2d)) for m in net.modules())
    assert torch.allclose(net(x), adapted, atol=1e-5)


def _args(**kw):
    p = argparse.ArgumentParser()
    TRANSFER.add_args(p.add_argument_group("t"))
    argv = [a for k, v in kw.items() for a in (f"--{k.replace('_', '-')}", str(v))]
    return p.parse_args(argv)


def _trainer(tmp_path, nets, task="image-gen"):
    return SimpleNamespace(raw=nets, nets=dict(nets), meta={"task": task}, config=SimpleNamespace(
        seed=0, checkpoint_every=5, steps=10), device=torch.device("cpu"), out_dir=tmp_path, step=10,
        dist=SimpleNamespace(is_main=True))


def _model_dir(path, nets, task="image-gen", extra=None):
    from aigc.core.modeldir import save_weights

    path.mkdir(parents=True, exist_ok=True)
    save_weights(path / "model.safetensors", {f"{n}.{k}": v for n, net in nets.items() for k, v in net.state_dict().items()})
    (path / "config.json").write_text(json.dumps({"task": task, "architecture": "x", **(extra or {})}))
    return path


def test_init_from_freeze_and_adapter_file(tmp_path):
    torch.manual_seed(0)
    src = Tiny()
    src_dir = _model_dir(tmp_path / "src", {"model": src})
    torch.manual_seed(1)
    new = Tiny()
    new.head[3] = nn.Linear(16, 7)  # a new head: its tensors keep their fresh values
    fresh_head = new.head[3].weight.detach().clone()
    opts = TRANSFER.options(_args(init_from=src_dir, freeze="model.conv.*", lora=2, lora_targets="model.head.*"))
    ext = TRANSFER.build(opts)
    trainer = _trainer(tmp_path / "run", {"model": new})
    ext.prepare(trainer)
    info = ext.describe()
    assert info["init_from"]["loaded_tensors"] == 4 and info["init_from"]["fresh_tensors"] == 2
    assert torch.equal(new.conv.weight, src.conv.weight)
    assert torch.equal(new.head[1].base.weight, src.head[1].weight)
    assert torch.equal(new.head[3].base.weight, fresh_head)
    assert info["lora"]["targets"] == {"model": ["head.1", "head.3"]}
    assert info["trainable_parameters"] == 2 * (128 + 16) + 2 * (16 + 7)
    (tmp_path / "run").mkdir()
    ext.after_step(trainer, {})
    from safetensors.torch import load_file

    adapter = load_file(str(tmp_path / "run" / ADAPTER_NAME))
    assert set(adapter) == {"model.head.1.lora_a", "model.head.1.lora_b", "model.head.3.lora_a", "model.head.3.lora_b"}
    (tmp_path / "run" / ADAPTER_NAME).unlink()
    trainer.step = 13  # a checkpoint off the schedule (time limit, Ctrl-C) takes the adapter with it
    assert ext.state_dict() == {}
    from aigc.core.modeldir import weights_metadata

    assert weights_metadata(tmp_path / "run" / ADAPTER_NAME)["lora"]["step"] == 13
    assert info["load_hook"] == "aigc.tools.transfer.lora:LOAD_HOOK"


def test_option_errors(tmp_path):
    with pytest.raises(BadInputError, match="does not exist"):
        TRANSFER.options(_args(init_from=tmp_path / "nope"))
    assert TRANSFER.options(_args()) is None
    ext = TRANSFER.build(TRANSFER.options(_args(freeze="model.nothing.*")))
    with pytest.raises(BadInputError, match="matches no parameter"):
        ext.prepare(_trainer(tmp_path, {"model": Tiny()}))
    other = _model_dir(tmp_path / "text", {"model": Tiny()}, task="text")
    ext = TRANSFER.build(TRANSFER.options(_args(init_from=other)))
    with pytest.raises(BadInputError, match="not a 'image-gen' one"):
        ext.prepare(_trainer(tmp_path, {"model": Tiny()}))


def test_task_flag_wins():
    p = argparse.ArgumentParser()
    p.add_argument("--init-from", dest="init_from")
    TRANSFER.add_args(p.add_argument_group("t"))
    args = p.parse_args(["--init-from", "x", "--lora", "2"])
    assert args.init_from == "x" and not hasattr(args, "transfer_init_from")
    assert TRANSFER.options(args)["init_from"] is None


def test_lora_model_dir_loads_merged(tmp_path):
    """A trained image-gen model + LoRA: load_objective rebuilds the adapters, loads strictly, merges."""
    from aigc.cli import main
    from aigc.core.pipeline import load_objective

    base = tmp_path / "base"
    assert main(["train", "image-gen", "--arch", "dcgan", "--data", "digits", "--image-size", "8", "--features", "16",
                 "--latent-dim", "4", "--steps", "1", "--batch-size", "8", "--no-progress", "--out", str(base)]) == 0
    objective, _, config = load_objective(base, torch.device("cpu"))
    ext = TRANSFER.build(TRANSFER.options(_args(lora=2, lora_targets="generator.*")))
    raw = objective.networks()
    for net in raw.values():
        net.train()
    ext.prepare(_trainer(tmp_path / "lora", raw))
    _randomise_adapters(raw["generator"])
    z = torch.randn(3, 4, generator=torch.Generator().manual_seed(0))
    raw["generator"].eval()
    with torch.no_grad():
        adapted = raw["generator"](z)
    lora_dir = _model_dir(tmp_path / "lora", raw, extra={**{k: v for k, v in config.items() if k not in ("task",)},
                                                         "extensions": {"transfer": ext.describe()}})
    _, loaded, _ = load_objective(lora_dir, torch.device("cpu"))
    assert not any(isinstance(m, (LoRALinear, LoRAConv2d)) for m in loaded["generator"].modules())
    with torch.no_grad():
        assert torch.allclose(loaded["generator"](z), adapted, atol=1e-5)
    assert adapter_tensors({f"g.{k}": v for k, v in raw["generator"].state_dict().items()})
