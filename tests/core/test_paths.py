"""Data is found independently of the working directory; a missing dataset is one clear line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from aigc.core.paths import data_dir, data_dirs, missing_dataset


def test_lookup_order_env_else_cache_then_checkout(tmp_path, monkeypatch):
    env, cache = tmp_path / "env", tmp_path / "cache"
    (env / "both").mkdir(parents=True)
    (cache / "data" / "only-cache").mkdir(parents=True)
    (cache / "data" / "both").mkdir(parents=True)
    monkeypatch.setenv("AIGC_CACHE_DIR", str(cache))
    monkeypatch.delenv("AIGC_DATA_DIR", raising=False)
    assert data_dirs()[0] == cache / "data" and data_dirs()[1].parts[-2:] == ("shared", "data")
    assert data_dir("only-cache") == cache / "data" and data_dir("both") == cache / "data"
    monkeypatch.setenv("AIGC_DATA_DIR", str(env))  # an explicit setting wins, alone
    assert data_dirs() == [env]
    assert data_dir("both") == env and data_dir("only-cache") == env
    line = missing_dataset("nowhere")
    assert str(env / "nowhere") in line and "AIGC_DATA_DIR" in line


def _run_from_root(env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "aigc.cli", "train", "image-gen", "--data", "mnist", "--image-size",
                           "8", "--features", "16", "--steps", "1", "--batch-size", "4", "--out",
                           str(Path(env["TMPOUT"]) / "m"), "--no-progress"],
                          cwd="/", env=env, capture_output=True, text=True, timeout=300)


def test_a_command_run_from_root_names_the_missing_dataset(tmp_path):
    env = {**os.environ, "AIGC_DATA_DIR": str(tmp_path / "empty"), "AIGC_CACHE_DIR": str(tmp_path / "cache"),
           "AIGC_OFFLINE": "1", "TMPOUT": str(tmp_path)}
    proc = _run_from_root(env)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "dataset 'mnist'" in lines[0] and str(tmp_path / "empty" / "mnist") in lines[0]
    assert "AIGC_DATA_DIR" in lines[0] and "Traceback" not in proc.stderr
    assert not (tmp_path / "m").exists()  # nothing written by a run that failed before its first step


@pytest.mark.skipif(not (data_dir("mnist") / "mnist").is_dir(), reason="MNIST is not staged here")
def test_a_command_run_from_root_finds_the_staged_data(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "AIGC_DATA_DIR"}
    env.update({"AIGC_DATA_DIR": str(data_dir("mnist")), "AIGC_OFFLINE": "1", "TMPOUT": str(tmp_path)})
    proc = _run_from_root(env)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "m" / "model.safetensors").is_file()
