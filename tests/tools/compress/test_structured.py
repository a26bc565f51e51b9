"""Structured pruning: the units torch's ln_structured keeps are kept, tensors shrink, the shrunk
network equals the original with those units zeroed, unsafe pairs are left whole; a pruned and
fine-tuned char GPT loads with aigc.load, fine-tuning lowers its loss, and the gate refuses."""

from __future__ import annotations

import copy
import json

import pytest
import torch
import torch.nn.utils.prune as tprune
from safetensors import safe_open
from torch import nn

import aigc
from aigc.cli import main
from aigc.core.errors import BadInputError
from aigc.tools.compress.core import compress
from aigc.tools.compress.structured import (
    LOAD_HOOK,
    apply_sizes,
    find_pairs,
    prune_structured,
)


def _net() -> nn.Sequential:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.Conv2d(8, 6, 3, padding=1),
                        nn.ReLU(), nn.Flatten(), nn.Linear(6 * 4 * 4, 12), nn.GELU(), nn.Linear(12, 5))
    with torch.no_grad():
        net[1].running_mean.normal_()
        net[1].running_var.uniform_(0.5, 2.0)
        net[1].weight.normal_()
    return net.eval()


@pytest.mark.parametrize("n", [1, 2])
def test_structured_keeps_what_ln_structured_keeps_and_shrinks(n):
    net, x = _net(), torch.randn(4, 3, 4, 4, generator=torch.Generator().manual_seed(1))
    ref = copy.deepcopy(net)
    masks = {}
    for i in (0, 6):  # torch's own structured ranking, as masks on a copy
        layer = copy.deepcopy(ref[i])
        tprune.ln_structured(layer, "weight", amount=0.5, n=n, dim=0)
        masks[i] = layer.weight_mask.flatten(1).any(1).nonzero().flatten()
    report = prune_structured(net, (x,), 0.5, n=n)
    assert [(p["producer"], p["consumer"], p["kept"], p["units"]) for p in report["pairs"]] == [
        ("0", "3", 4, 8), ("6", "8", 6, 12)]
    assert net[0].weight.shape == (4, 3, 3, 3) and net[1].running_var.shape == (4,)
    assert net[3].weight.shape == (6, 4, 3, 3) and net[6].weight.shape == (6, 96) and net[8].weight.shape == (5, 6)
    assert torch.equal(net[0].weight, ref[0].weight[masks[0]]) and torch.equal(net[8].weight, ref[8].weight[:, masks[6]])
    # the shrunk network = the original with the removed units zeroed, computed by hand
    with torch.no_grad():
        h = ref[2](ref[1](ref[0](x)))
        keep0 = torch.zeros(8)
        keep0[masks[0]] = 1
        h = ref[5](ref[4](ref[3](h * keep0[None, :, None, None])))
        keep6 = torch.zeros(12)
        keep6[masks[6]] = 1
        expected = ref[8](ref[7](ref[6](h)) * keep6)
        assert torch.allclose(net(x), expected, atol=1e-5)


class Residual(nn.Module):
    """fc1's output is also added to the input: removing its units would break the sum."""

    def __init__(self) -> None:
        super().__init__()
        self.fc1, self.act, self.fc2 = nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 8)

    def forward(self, x):
        h = self.fc1(x)
        return self.fc2(self.act(h)) + h


def test_unsafe_pair_is_verified_away_and_sizes_rebuild():
    net, x = Residual().eval(), torch.randn(3, 8)
    assert find_pairs(net, (x,)) == [("fc1", [], "fc2")]  # a candidate by shape ...
    before = net(x)
    report = prune_structured(net, (x,), 0.5)
    assert report["pairs"] == [] and report["skipped"] == ["fc1 -> fc2"]  # ... that the check rejects
    assert torch.equal(net(x), before)
    shrunk = _net()
    sizes = prune_structured(shrunk, (torch.randn(2, 3, 4, 4),), 0.25)["sizes"]
    fresh = _net()
    LOAD_HOOK.before_load({"net": fresh}, {"compression": {"structured": {"net": {"sizes": sizes}}}})
    fresh.load_state_dict(shrunk.state_dict(), strict=True)  # what aigc.load does
    apply_sizes(fresh, sizes)  # idempotent
    assert fresh[6].out_features == 9


def test_structured_finetuned_gpt_loads_and_gate_refuses(text_model, tmp_path, capsys):
    model, val = text_model
    report = compress(model, tmp_path / "s", prune=0.5, structured=True, finetune_steps=15, eval_data=str(val),
                      latency_runs=3)
    with safe_open(str(tmp_path / "s" / "model.safetensors"), framework="pt") as fh:
        names = list(fh.keys())
        shapes = {k: tuple(fh.get_slice(k).get_shape()) for k in names}
    assert shapes["model.h.0.mlp.c_fc.weight"] == (128, 64) and shapes["model.h.1.mlp.c_proj.weight"] == (64, 128)
    assert report["after"]["parameters"] == report["before"]["parameters"] - 2 * 2 * 128 * 64
    ft = report["finetune"]
    assert ft["steps"] == 15 and ft["loss_last"] < ft["loss_first"]
    assert report["after"]["quality"] < 0.9 * ft["before"]["quality"]  # fine-tuning lowered the perplexity
    for key in ("latency_ms_batch1", "latency_ms_batch16"):
        assert report["before"][key] > 0 and report["after"][key] > 0
    pipe = aigc.load(str(tmp_path / "s"), device="cpu")
    assert pipe.nets["model"].h[0].mlp.c_fc.out_features == 128
    assert pipe.generate("It was", max_tokens=5, seed=0)
    stored = json.loads((tmp_path / "s" / "config.json").read_text())
    assert stored["load_hooks"] == ["aigc.tools.compress.structured:LOAD_HOOK"]
    assert stored["compression"]["after"]["latency_ms_batch1"] == report["after"]["latency_ms_batch1"]
    capsys.readouterr()
    code = main(["compress", str(model), "--prune", "0.9", "--structured", "--eval-data", str(val),
                 "--max-quality-loss", "1%", "--latency-runs", "0", "--out", str(tmp_path / "bad")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "refused" in err and not (tmp_path / "bad").exists()
    with pytest.raises(BadInputError, match="--structured needs --prune"):
        compress(model, tmp_path / "x", quantize="fp16", structured=True)


def test_unstructured_prune_keeps_its_zeros_while_fine_tuned(text_model, tmp_path):
    from aigc.core.modeldir import load_weights

    model, val = text_model
    report = compress(model, tmp_path / "u", prune=0.5, finetune_steps=5, eval_data=str(val))
    weights = load_weights(tmp_path / "u" / "model.safetensors")
    for name in ("model.h.0.mlp.c_fc.weight", "model.h.1.attn.c_attn.weight"):
        assert abs(float((weights[name] == 0).float().mean()) - 0.5) < 0.01  # the pruned share, not regrown
    assert report["finetune"]["steps"] == 5 and report["finetune"]["loss_last"] < report["finetune"]["loss_first"]
    assert aigc.load(str(tmp_path / "u"), device="cpu").generate("It", max_tokens=3, seed=0)
