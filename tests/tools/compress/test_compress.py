"""Compression: int8/fp16/pruned models load with aigc.load, match the original within the format's
error, and the quality gate refuses with one line (writing nothing)."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

import aigc
from aigc.cli import main
from aigc.core.errors import BadInputError
from aigc.tools.compress.core import compress
from aigc.tools.compress.quantize import (
    Int8Linear,
    prune_magnitude,
    quantize_int8,
    to_dynamic,
)


def test_int8_linear_matches_reference_quantisation():
    torch.manual_seed(0)
    lin, x = nn.Linear(32, 16), torch.randn(5, 32)
    q = Int8Linear.from_linear(lin)
    scale = lin.weight.abs().amax(1, keepdim=True) / 127  # symmetric per-channel, closed form
    ref = torch.round(lin.weight / scale).clamp(-127, 127) * scale
    assert torch.allclose(q.dequantized(), ref, atol=1e-7)
    assert torch.allclose(q(x), x @ ref.T + lin.bias, atol=1e-5)
    net = nn.Sequential(q)
    dyn_out = (to_dynamic(net), net(x))[1]  # fbgemm also quantises activations: a small extra error
    assert (dyn_out - q(x)).abs().max() < 0.05 * q(x).abs().max()


def test_lean_dynamic_linear_equals_torch_ao_bit_for_bit():
    from torch.ao.nn.quantized.dynamic import Linear as DynLinear

    from aigc.tools.compress.quantize import DynamicInt8Linear

    torch.manual_seed(0)
    for bias in (True, False):
        net = nn.Sequential(nn.Linear(48, 24, bias=bias))
        ref = torch.ao.quantization.quantize_dynamic(nn.Sequential(net[0]), {nn.Linear}, dtype=torch.qint8)[0]
        assert type(ref) is DynLinear
        quantize_int8(net)
        to_dynamic(net)
        assert type(net[0]) is DynamicInt8Linear
        # the same packed weights in both: outputs must agree exactly, 2-D and 3-D inputs alike
        net[0].set_weight_bias(*ref._weight_bias())
        for x in (torch.randn(1, 48), torch.randn(2, 3, 48)):
            assert torch.equal(net[0](x), ref(x))


def test_prune_zeroes_the_smallest():
    torch.manual_seed(0)
    lin = nn.Linear(20, 10)
    w = lin.weight.detach().clone()
    sparsity = prune_magnitude(nn.Sequential(lin), 0.5)
    assert sparsity == {"0": 0.5}
    kept = lin.weight != 0
    assert w.abs()[kept].min() >= w.abs()[~kept].max()
    assert quantize_int8(nn.Sequential(nn.Linear(3, 3))) == ["0"]


@pytest.mark.parametrize("mode", ["int8", "fp16"])
def test_compressed_text_model_loads_and_passes_gate(text_model, tmp_path, mode):
    model, val = text_model
    report = compress(model, tmp_path / mode, quantize=mode, max_quality_loss=0.05, eval_data=str(val))
    assert report["size_ratio"] > (1.9 if mode == "fp16" else 2.5)
    assert abs(report["quality_loss"]) < 0.05
    pipe, orig = aigc.load(str(tmp_path / mode), device="cpu"), aigc.load(str(model), device="cpu")
    if mode == "int8":
        kinds = [type(m) for m in pipe.nets["model"].modules()]
        assert nn.Linear not in kinds and any(issubclass(k, torch.ao.nn.quantized.dynamic.Linear) for k in kinds)
    ids = torch.tensor([pipe.tokenizer.encode(val.read_text(encoding="utf-8")[:32])])
    with torch.no_grad():
        a, b = pipe.objective.logits(pipe.nets["model"], ids), orig.objective.logits(orig.nets["model"], ids)
    assert (a - b).abs().max() < 0.1 * b.abs().max()
    assert pipe.generate("It was", max_tokens=5, seed=0)  # serves like any model directory
    config = json.loads((tmp_path / mode / "config.json").read_text())
    assert config["compression"]["quantize"] == mode and (tmp_path / mode / "tokenizer.json").is_file()


def test_gate_refuses_with_one_line(text_model, tmp_path, capsys):
    model, val = text_model
    with pytest.raises(BadInputError, match="exceeds --max-quality-loss"):
        compress(model, tmp_path / "pruned", prune=0.9, max_quality_loss=0.001, eval_data=str(val))
    assert not (tmp_path / "pruned").exists() and not list(tmp_path.glob(".pruned*"))
    code = main(["compress", str(model), "--prune", "0.9", "--eval-data", str(val), "--max-quality-loss", "0.1%",
                 "--out", str(tmp_path / "p2")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "refused" in err
    assert main(["compress", str(model), "--out", str(tmp_path / "p3")]) == 2
    assert "nothing to do" in capsys.readouterr().err


def test_restore_quality_comes_from_the_task_contract(tmp_path):
    """Task.quality names restore's RMSE: fp16 passes a 1 % gate; the figure equals a direct numpy
    computation of the same degradation; a task without a quality figure is refused by name."""
    import numpy as np
    from PIL import Image

    from aigc.restore.quality import restore_rmse
    from aigc.tools.compress.core import quality_metric

    folder = tmp_path / "imgs"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(2):
        Image.fromarray(rng.integers(0, 256, (16, 16), dtype=np.uint8)).save(folder / f"{i}.png")
    model = tmp_path / "dn"
    assert main(["train", "restore", "--kind", "denoise", "--arch", "dncnn", "--depth", "3", "--features", "4",
                 "--data", str(folder), "--patch", "8", "--patches", "8", "--steps", "2", "--batch-size", "4",
                 "--no-progress", "--device", "cpu", "--out", str(model)]) == 0
    _fn, name = quality_metric("restore")
    assert name == "restore_rmse" and quality_metric("image-gen") is None
    pipe = aigc.load(str(model), device="cpu")
    sigma = pipe.config["model"]["sigma"] / 255
    squared = []
    for i in range(2):  # the same noise (seed = image index), restored untiled, compared on 0-255
        clean = np.asarray(Image.open(folder / f"{i}.png"), dtype=np.float32) / 255
        noisy = torch.from_numpy(clean) + sigma * torch.randn(clean.shape, generator=torch.Generator().manual_seed(i))
        with torch.no_grad():
            out = pipe.nets["net"](noisy[None, None]).clamp(0, 1)[0, 0].numpy()
        squared.append((np.round(out * 255) - clean * 255) ** 2)
    assert abs(restore_rmse(pipe, folder) - float(np.sqrt(np.mean(squared)))) < 1e-3
    report = compress(model, tmp_path / "fp16", quantize="fp16", max_quality_loss=0.01, eval_data=str(folder))
    assert report["before"]["metric"] == "restore_rmse" and abs(report["quality_loss"]) < 0.01
    gan = tmp_path / "gan"
    assert main(["train", "image-gen", "--arch", "dcgan", "--data", "digits", "--image-size", "8", "--features", "16",
                 "--latent-dim", "4", "--steps", "1", "--batch-size", "4", "--no-progress", "--device", "cpu",
                 "--out", str(gan)]) == 0
    with pytest.raises(BadInputError, match=r"\(now: [a-z, -]*restore[a-z, -]*\); 'image-gen' has none"):
        compress(gan, tmp_path / "gan8", quantize="fp16", max_quality_loss=0.01, eval_data=str(folder))
