import pytest
import torch

from aigc.core.device import autocast, cpu_has_fast_bf16, select_device
from aigc.core.errors import BadInputError
from aigc.core.seed import make_generator
from aigc.train import TrainConfig, Trainer
from aigc.train.trainer import read_metrics
from helpers import LinearRegression, regression_data


def test_device_selection():
    assert select_device("cpu") == torch.device("cpu")
    assert select_device("auto").type in ("cpu", "cuda", "mps")
    if not torch.cuda.is_available():
        with pytest.raises(BadInputError, match="CUDA is not available"):
            select_device("cuda")
    with pytest.raises(BadInputError, match="unknown device"):
        select_device("tpu9")


def test_precision_contexts_on_cpu():
    cpu = torch.device("cpu")
    with autocast(cpu, "bf16"):
        assert (torch.ones(2, 2) @ torch.ones(2, 2)).dtype == torch.bfloat16
    with autocast(cpu, "fp32"):
        assert (torch.ones(2, 2) @ torch.ones(2, 2)).dtype == torch.float32
    with pytest.raises(BadInputError, match="fp16"):
        autocast(cpu, "fp16")


def test_bf16_training_runs_and_learns(tmp_path):
    cfg = TrainConfig(steps=40, batch_size=16, lr=0.05, precision="bf16", device="cpu", progress=False, log_every=5)
    Trainer(LinearRegression(optimizer="adam"), cfg, tmp_path).fit(regression_data())
    rows = read_metrics(tmp_path)
    assert rows[-1]["loss"] < rows[0]["loss"]


def test_generators_are_reproducible():
    a = torch.randn(5, generator=make_generator(7))
    assert torch.equal(a, torch.randn(5, generator=make_generator(7)))
    assert not torch.equal(a, torch.randn(5, generator=make_generator(8)))


def test_fast_bf16_probe_agrees_with_the_cpu_flags(monkeypatch):
    from pathlib import Path

    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file() and torch.cpu._is_avx2_supported():  # an x86 Linux box lists its flags there
        flags = set(next(line for line in cpuinfo.read_text().splitlines() if line.startswith("flags")).split())
        assert cpu_has_fast_bf16() == bool({"amx_tile", "avx512_bf16"} & flags)
    monkeypatch.delattr(torch.cpu, "_is_amx_tile_supported")
    assert cpu_has_fast_bf16() is False  # probes gone from torch: say no, never crash
