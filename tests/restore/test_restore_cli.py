"""The restore CLI end to end (train, upscale, denoise, inpaint, stylize) and input validation."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from aigc.cli import main
from aigc.core.artifacts import read_png_metadata
from aigc.core.modeldir import model_id, read_config
from aigc.restore.tiling import tiled_apply
from aigc.tools.provenance.verify import payload_hex_of, verify


def _write(path, arr) -> str:
    Image.fromarray(arr).save(path)
    return str(path)


@pytest.fixture
def folder(tmp_path, photos):
    d = tmp_path / "imgs"
    d.mkdir()
    for i, im in enumerate(photos(3, 40, seed=7)):
        _write(d / f"{i}.png", im)
    return d


def test_train_upscale_and_denoise_from_the_command_line(tmp_path, folder, capsys) -> None:
    sr, dn = tmp_path / "sr", tmp_path / "dn"
    common = ["--steps", "3", "--batch-size", "4", "--patches", "16", "--no-progress", "--device", "cpu"]
    assert main(["train", "restore", "--kind", "sr", "--arch", "espcn", "--scale", "3", "--features", "8",
                 "--data", f"folder:{folder}", "--patch", "8", "--out", str(sr), *common]) == 0
    assert main(["train", "restore", "--kind", "denoise", "--arch", "dncnn", "--depth", "3", "--features", "4",
                 "--no-batch-norm", "--data", str(folder), "--patch", "16", "--out", str(dn), *common]) == 0
    assert read_config(dn)["model"]["batch_norm"] is False
    src = folder / "0.png"
    assert main(["upscale", str(sr), str(src), str(tmp_path / "up.png"), "--tile", "16"]) == 0
    with Image.open(tmp_path / "up.png") as img:
        assert img.size == (120, 120)
    meta = read_png_metadata(tmp_path / "up.png")
    assert meta["model_id"] == model_id(sr) and meta["scale"] == 3 and meta["kind"] == "sr"
    assert main(["denoise", str(dn), str(src), str(tmp_path / "dn.png")]) == 0
    with Image.open(tmp_path / "dn.png") as img:
        assert img.size == (40, 40)
    # outputs are watermarked by default (payload: the model id), exact with --no-watermark
    for model, name in ((sr, "up.png"), (dn, "dn.png")):
        verdict = verify(tmp_path / name)
        assert verdict.found and verdict.detection.payload == payload_hex_of(model_id(model))
    assert main(["denoise", str(dn), str(src), str(tmp_path / "plain.png"), "--no-watermark"]) == 0
    assert not verify(tmp_path / "plain.png").found and read_png_metadata(tmp_path / "plain.png")["watermark"] is False
    # a denoising model given to upscale: one clear line, exit code 2
    assert main(["upscale", str(dn), str(src), str(tmp_path / "x.png")]) == 2
    assert "not a 'sr' restore model" in capsys.readouterr().err
    assert main(["upscale", str(sr), str(src), str(tmp_path / "x.jpg")]) == 2
    assert "PNG" in capsys.readouterr().err


def test_inpaint_and_stylize_commands(tmp_path, folder, capsys) -> None:
    model = tmp_path / "ip"
    assert main(["train", "restore", "--kind", "inpaint", "--features", "4", "--data", str(folder),
                 "--patch", "16", "--patches", "8", "--steps", "2", "--batch-size", "4",
                 "--no-progress", "--out", str(model)]) == 0
    mask = np.zeros((40, 40), np.uint8)
    mask[10:20, 12:30] = 255
    out = tmp_path / "filled.png"
    inpaint = ["inpaint", str(model), "--image", str(folder / "1.png"), "--mask",
               _write(tmp_path / "m.png", mask), "--out", str(out), "--seed", "4"]
    assert main([*inpaint, "--no-watermark"]) == 0
    before, after = np.asarray(Image.open(folder / "1.png")), np.asarray(Image.open(out))
    assert np.array_equal(before[mask == 0], after[mask == 0])
    assert read_png_metadata(out)["seed"] == 4 and not verify(out).found
    assert main(inpaint) == 0 and verify(out).found  # marked by default
    styled = tmp_path / "styled.png"
    assert main(["stylize", str(folder / "0.png"), str(styled), "--style", str(folder / "2.png"),
                 "--steps", "2", "--size", "32"]) == 0
    meta = read_png_metadata(styled)
    assert meta["method"] == "gatys" and meta["encoder"].startswith("random-features")
    assert verify(styled).found and meta["watermark"]["payload"] == meta["model_id"][:8]
    assert main(["stylize", str(folder / "0.png"), str(styled)]) == 2
    assert "--style" in capsys.readouterr().err
    johnson = tmp_path / "jn"
    assert main(["train", "restore", "--kind", "style", "--features", "4", "--data", str(folder),
                 "--style", str(folder / "2.png"), "--patch", "16", "--patches", "4", "--steps", "1",
                 "--batch-size", "2", "--no-progress", "--out", str(johnson)]) == 0
    fast = tmp_path / "fast.png"
    assert main(["stylize", str(folder / "0.png"), str(fast), "--model", str(johnson)]) == 0
    meta = read_png_metadata(fast)
    assert meta["architecture"] == "johnson" and meta["style"]["file"] == "2.png" and verify(fast).found
    assert meta["style"]["encoder"].startswith("random-features")


def test_bad_inputs_get_clear_errors(tmp_path, folder, capsys) -> None:
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not an image")
    model = tmp_path / "sr"
    assert main(["train", "restore", "--features", "4", "--data", str(folder), "--patch", "8",
                 "--patches", "8", "--steps", "1", "--batch-size", "4", "--no-progress", "--out", str(model)]) == 0
    assert main(["upscale", str(model), str(bad), str(tmp_path / "o.png")]) == 2
    assert "bad.png" in capsys.readouterr().err
    assert main(["train", "restore", "--kind", "denoise", "--arch", "espcn", "--out", str(tmp_path / "x")]) == 2
    assert "not for --kind denoise" in capsys.readouterr().err
    assert main(["train", "restore", "--arch", "espcn", "--blocks", "3", "--out", str(tmp_path / "x")]) == 2
    assert "does not take blocks" in capsys.readouterr().err


def test_tiles_bound_the_work_per_call_and_uint8_output() -> None:
    seen = []

    def fn(t: torch.Tensor) -> torch.Tensor:
        seen.append(tuple(t.shape[-2:]))
        return torch.nn.functional.interpolate(t, scale_factor=4, mode="nearest")

    x = torch.rand(1, 3, 300, 200)
    out = tiled_apply(fn, x, scale=4, tile=64, overlap=8, out_dtype=torch.uint8)
    assert out.dtype == torch.uint8 and out.shape == (1, 3, 1200, 800)
    assert max(h for h, _ in seen) <= 64 + 16 and max(w for _, w in seen) <= 64 + 16
    ref = (torch.nn.functional.interpolate(x, scale_factor=4, mode="nearest") * 255).round().to(torch.uint8)
    assert torch.equal(out, ref)
