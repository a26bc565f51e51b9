"""DDP with 2 CPU processes (gloo) under torchrun, against a single process."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from aigc.core.modeldir import load_weights

WORKER = Path(__file__).with_name("ddp_worker.py")


def run(tmp: Path, kind: str, procs: int, batch: int) -> Path:
    out = tmp / f"{kind}-{procs}"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    if procs == 1:
        cmd = [sys.executable, str(WORKER), kind, str(out), str(batch)]
    else:
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={procs}",
               str(WORKER), kind, str(out), str(batch)]
    result = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return out


@pytest.mark.slow
def test_two_process_ddp_equals_one_process_with_the_global_batch(tmp_path):
    single = load_weights(run(tmp_path, "linear", 1, 16) / "rank0.safetensors")["flat"]
    ddp = run(tmp_path, "linear", 2, 8)
    r0 = load_weights(ddp / "rank0.safetensors")["flat"]
    r1 = load_weights(ddp / "rank1.safetensors")["flat"]
    assert torch.equal(r0, r1)  # ranks stay in lock-step
    torch.testing.assert_close(r0, single, rtol=1e-5, atol=1e-6)
    start = load_weights(ddp / "model.safetensors")
    assert set(start) == {"net.weight", "net.bias"}


@pytest.mark.slow
def test_gan_trains_under_ddp_with_identical_ranks(tmp_path):
    out = run(tmp_path, "dcgan", 2, 8)
    assert (out / "rank0.sha").read_text() == (out / "rank1.sha").read_text()
    assert (out / "model.safetensors").is_file()
    assert (out / "train_state" / "step-00000004" / "rng-rank1.safetensors").is_file()
