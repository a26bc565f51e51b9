"""benchmarks/video_mmnist.py: rows of split runs join with --merge (a GPU row keeps its machine),
the recipe overrides and the device flag, and a tiny real run names its rows with --tag."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture()
def bench(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    spec = importlib.util.spec_from_file_location("bench_video_mmnist", ROOT / "benchmarks" / "video_mmnist.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _part(path: Path, machine: dict, rows: dict, budgets: dict, key: str = "budget_cpu_s") -> str:
    path.write_text(json.dumps({"machine": machine, "command": f"python run {path.stem}", key: budgets, **rows}))
    return str(path)


def test_merge_joins_rows_and_a_gpu_row_keeps_its_machine(bench, tmp_path):
    cpu, gpu = {"cpu": "box", "cuda": None}, {"cpu": "host", "cuda": "Some GPU"}
    a = _part(tmp_path / "a.json", cpu, {"simvp_conv": {"mse": 66.3, "cpu_s": 3604.0}}, {"simvp_conv": 3600})
    b = _part(tmp_path / "b.json", cpu, {"convlstm": {"mse": 132.9, "cpu_s": 905.0}}, {"convlstm": 900})
    g = _part(tmp_path / "g.json", gpu, {"simvp_conv_gpu": {"mse": 48.2, "gpu_wall_s": 205.7}},
              {"simvp_conv_gpu": 200}, key="budget_gpu_wall_s")
    out = tmp_path / "merged.json"
    result = bench.merge([a, b, g], [], str(out), test_size=10, note="joined")
    assert json.loads(out.read_text()) == result
    assert result["machine"] == cpu and result["note"] == "joined"
    assert result["simvp_conv"] == {"mse": 66.3, "cpu_s": 3604.0}  # same machine: no copy of it
    assert result["convlstm"]["mse"] == 132.9 and "machine" not in result["convlstm"]
    assert result["simvp_conv_gpu"]["machine"] == gpu and result["simvp_conv_gpu"]["mse"] == 48.2
    assert result["budget_cpu_s"] == {"simvp_conv": 3600, "convlstm": 900}
    assert result["budget_gpu_wall_s"] == {"simvp_conv_gpu": 200}
    assert result["command"][:3] == ["python run a", "python run b", "python run g"]
    assert not (tmp_path / "merged_sheet.png").exists()  # no model folders given: no sheet, no test set


def test_recipe_overrides_and_device(bench):
    args = type("Args", (), {"batch_size": 64, "lr": None, "optimizer": None, "fp32": False,
                             "device": torch.device("cpu")})()
    recipe = bench._recipe("simvp_conv", args)
    assert recipe == {**bench.RECIPES["simvp_conv"], "batch_size": 64, "device": "cpu"}
    assert recipe["optimizer"] == "muon"  # the preset: one CPU hour, 59.8 against Adam's 70.2
    args.fp32, args.lr, args.optimizer = True, 5e-4, "adam"
    assert bench._recipe("convlstm", args) == {"batch_size": 64, "lr": 5e-4, "optimizer": "adam", "precision": "fp32",
                                               "device": "cpu"}
    assert bench._recipe("simvp_conv", args)["optimizer"] == "adam"  # --optimizer adam reruns the old recipe


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message given when CUDA is missing")
def test_cuda_without_a_gpu_is_one_clear_line(bench, monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(sys, "argv", ["video_mmnist.py", "--device", "cuda", "--out", str(tmp_path / "v.json")])
    with pytest.raises(SystemExit) as exc:
        bench.main()
    assert exc.value.code == 2
    assert "CUDA is not available" in capsys.readouterr().err
    assert not (tmp_path / "v.json").exists()


def test_merge_of_a_missing_file_is_one_clear_line(bench, monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(sys, "argv", ["video_mmnist.py", "--merge", str(tmp_path / "gone.json"),
                                      "--out", str(tmp_path / "v.json")])
    with pytest.raises(SystemExit) as exc:
        bench.main()
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "no such file or folder" in err and "gone.json" in err and "Traceback" not in err
    assert not (tmp_path / "v.json").exists()


def test_tiny_run_names_rows_with_the_tag(bench, monkeypatch, tmp_path):
    from aigc.core.errors import BadInputError
    from aigc.data.moving_mnist import load_digits

    try:
        load_digits("test")
    except BadInputError as exc:
        pytest.skip(f"MNIST absent: {exc}")
    out = tmp_path / "v.json"
    monkeypatch.setattr(sys, "argv", ["video_mmnist.py", "--models", "copy_last_frame,simvp", "--budget", "2",
                                      "--segments", "1", "--test-size", "16", "--curve-size", "8", "--quiet",
                                      "--tag", "t", "--batch-size", "4", "--sequences", "512", "--out", str(out)])
    monkeypatch.setattr(torch, "set_num_threads", lambda n: None)  # leave the test process's threads alone
    assert bench.main() == 0
    result = json.loads(out.read_text())
    assert set(result["budget_cpu_s"]) == {"copy_last_frame_t", "simvp_t"}
    row = result["simvp_t"]
    assert {"mse", "ssim", "psnr", "cpu_s"} <= set(row) and row["sequences"] == 16
    assert row["train"]["batch_size"] == 4 and 1 <= row["steps"] <= row["planned_steps"]
    assert len(row["curve"]) == 1 and row["curve"][0]["step"] == row["steps"]
    assert result["copy_last_frame_t"]["mse"] > 0 and "simvp" not in result
    assert (tmp_path / "v_sheet.png").is_file()
