"""ONNX export: onnxruntime gives PyTorch's outputs (a GPT with its KV cache at every cache length
and with left padding, a class-conditional U-Net, SR and denoise nets), and the same Pipeline run
through onnxruntime (``use_onnx``) writes the same text and images."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

import aigc
from aigc.cli import main
from aigc.core.errors import BadInputError
from aigc.tools.export import export_onnx, use_onnx
from aigc.tools.export.onnx import CachedView
from aigc.tools.export.runtime import OrtCachedNetwork, OrtNetwork

pytest.importorskip("onnxruntime")

TEXT = ("To be, or not to be, that is the question: whether 'tis nobler in the mind to suffer "
        "the slings and arrows of outrageous fortune. ") * 6
QUIET = ["--no-progress", "--device", "cpu"]


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("export")
    (root / "text.txt").write_text(TEXT, encoding="utf-8")
    folder = root / "imgs"
    folder.mkdir()
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:32, 0:32]
    for i in range(3):
        img = 127 + 80 * np.sin(x / rng.uniform(2, 6) + y / rng.uniform(2, 6)) + rng.normal(0, 10, (32, 32))
        Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(folder / f"{i}.png")
    runs = {
        "gpt": ["text", "--arch", "gpt", "--data", str(root / "text.txt"), "--tokenizer", "char", "--context", "24",
                "--layers", "2", "--heads", "2", "--embed", "32", "--steps", "20", "--batch-size", "8"],
        "ddpm": ["image-gen", "--arch", "ddpm", "--cond", "--data", "digits", "--image-size", "8", "--features", "8",
                 "--steps", "3", "--batch-size", "8"],
        "sr": ["restore", "--kind", "sr", "--arch", "srresnet", "--blocks", "1", "--scale", "2", "--features", "8",
               "--data", f"folder:{folder}", "--patch", "8", "--steps", "3", "--batch-size", "4", "--patches", "16"],
        "denoise": ["restore", "--kind", "denoise", "--arch", "dae", "--features", "4", "--data", str(folder),
                    "--patch", "16", "--steps", "3", "--batch-size", "4", "--patches", "16"],
    }
    for name, argv in runs.items():
        assert main(["train", *argv, *QUIET, "--out", str(root / name)]) == 0
    return root


def _ort_vs_torch(session_net, view, args):
    with torch.no_grad():
        ref = view(*args)
    got = session_net.run(*args)
    return max(float((g - r).abs().max()) for g, r in zip(got, ref if isinstance(ref, tuple) else (ref,)))


def test_gpt_kv_cache_graph_matches_pytorch_at_every_length(models, tmp_path):
    record = export_onnx(models / "gpt", tmp_path / "gpt.onnx")
    info = record["networks"]["model"]
    assert info["cached"] and info["inputs"][3] == "past_k" and record["opset"] >= 17
    pipe = aigc.load(str(models / "gpt"), device="cpu")
    net, cfg = pipe.nets["model"], pipe.nets["model"].config
    ort_net = OrtCachedNetwork(tmp_path / "gpt.onnx", net)
    g = torch.Generator().manual_seed(1)
    for batch, new, past, pad in [(1, 5, 0, 0), (1, 1, 7, 0), (3, 1, 11, 2), (2, 4, 0, 3), (2, 2, 20, 1)]:
        key_valid = torch.ones(batch, past + new, dtype=torch.bool)
        key_valid[0, :pad] = False  # left padding of the first row
        positions = (key_valid.long().cumsum(1) - 1).clamp(min=0)[:, past:]
        kv = (cfg.layers, batch, cfg.heads, past, cfg.embed // cfg.heads)
        args = (torch.randint(0, cfg.vocab_size, (batch, new), generator=g), positions, key_valid,
                torch.randn(kv, generator=g), torch.randn(kv, generator=g))
        assert _ort_vs_torch(ort_net, CachedView(net), args) < 1e-4, (batch, new, past, pad)


@pytest.mark.parametrize("use_cache", [True, False])
def test_gpt_pipeline_through_onnxruntime_writes_the_same_text(models, tmp_path, use_cache):
    export_onnx(models / "gpt", tmp_path / "gpt.onnx")
    ref = aigc.load(str(models / "gpt"), device="cpu")
    pipe = use_onnx(aigc.load(str(models / "gpt"), device="cpu"), tmp_path / "gpt.onnx")
    assert isinstance(pipe.nets["model"], OrtCachedNetwork)
    # greedy past the context (the window slides), and batched prompts of different lengths (padding)
    for prompts, params in [("To be", {"temperature": 0, "max_tokens": 40}),
                            (["To", "whether 'tis"], {"seed": 3, "max_tokens": 12, "top_k": 5})]:
        want = ref.generate(prompts, use_cache=use_cache, **params)
        assert pipe.generate(prompts, use_cache=use_cache, **params) == want
    assert pipe.nets["model"].fallback_calls == 0


def test_ddpm_unet_sr_and_denoise_through_onnxruntime(models, tmp_path):
    ddpm = export_onnx(models / "ddpm", tmp_path / "unet.onnx")
    assert ddpm["networks"]["unet"]["inputs"] == ["input0", "input1", "input2"]  # x, t, labels
    ref = aigc.load(str(models / "ddpm"), device="cpu")
    pipe = use_onnx(aigc.load(str(models / "ddpm"), device="cpu"), tmp_path / "unet.onnx")
    for kw in ({"labels": [3, 1, 4, 1], "steps": 4, "guidance": 2.0}, {"steps": 3, "guidance": 1.0, "labels": 7}):
        a, b = pipe.generate(4, seed=5, **kw), ref.generate(4, seed=5, **kw)
        assert a.shape == b.shape and (a - b).abs().max() < 1e-4
    assert pipe.nets["unet"].fallback_calls == 0
    image = torch.rand(1, 1, 20, 28, generator=torch.Generator().manual_seed(0))
    for name, method in [("sr", "upscale"), ("denoise", "denoise")]:
        export_onnx(models / name, tmp_path / f"{name}.onnx")
        ref = aigc.load(str(models / name), device="cpu")
        pipe = use_onnx(aigc.load(str(models / name), device="cpu"), tmp_path / f"{name}.onnx")
        assert isinstance(pipe.nets["net"], OrtNetwork)
        a, b = getattr(pipe, method)(image, tile=16), getattr(ref, method)(image, tile=16)
        assert a.shape == b.shape and (a - b).abs().max() < 1e-5, name  # tiles of another size: dynamic axes


def test_export_cli_and_refusals(models, tmp_path, capsys):
    out = tmp_path / "gpt.onnx"
    assert main(["export", str(models / "gpt"), "--format", "onnx", "--out", str(out)]) == 0
    line = capsys.readouterr().out
    assert "with KV cache" in line and out.is_file()
    record = json.loads((tmp_path / "gpt.onnx.json").read_text())
    assert record["networks"]["model"]["file"] == "gpt.onnx" and record["task"] == "text"
    assert main(["export", str(models / "gpt"), "--out", str(tmp_path / "gpt.bin")]) == 2
    assert ".onnx" in capsys.readouterr().err
    with pytest.raises(BadInputError, match="exported from model"):
        use_onnx(aigc.load(str(models / "sr"), device="cpu"), out)
    with pytest.raises(BadInputError, match="sits next to it"):
        use_onnx(aigc.load(str(models / "gpt"), device="cpu"), tmp_path / "missing.onnx")
    assert main(["train", "image-gen", "--arch", "dcgan", "--data", "digits", "--image-size", "8", "--features", "16",
                 "--latent-dim", "4", "--steps", "1", "--batch-size", "4", *QUIET, "--out", str(tmp_path / "gan")]) == 0
    assert main(["export", str(tmp_path / "gan"), "--out", str(tmp_path / "gan.onnx")]) == 2
    assert "no ONNX export" in capsys.readouterr().err and not (tmp_path / "gan.onnx").exists()


def test_generate_runs_the_exported_networks_with_onnx_flag(models, tmp_path, monkeypatch):
    import numpy as np
    from PIL import Image

    from aigc.tools.export import runtime

    onnx = tmp_path / "unet.onnx"
    export_onnx(models / "ddpm", onnx)
    swapped = []
    real = runtime.use_onnx
    monkeypatch.setattr(runtime, "use_onnx", lambda pipe, f, **kw: swapped.append(f) or real(pipe, f, **kw))
    args = ["--n", "2", "--steps", "3", "--seed", "1", "--device", "cpu", "--no-watermark"]
    assert main(["generate", str(models / "ddpm"), "--onnx", str(onnx), *args, "--out", str(tmp_path / "o.png")]) == 0
    assert main(["generate", str(models / "ddpm"), *args, "--out", str(tmp_path / "t.png")]) == 0
    assert swapped == [str(onnx)]
    a, b = (np.asarray(Image.open(tmp_path / f), dtype=int) for f in ("o.png", "t.png"))
    assert a.shape == b.shape and np.abs(a - b).max() <= 1  # onnxruntime == PyTorch within rounding
    assert main(["generate", str(models / "ddpm"), "--onnx"]) == 2
