"""The command line written into every benchmark result names no folder of the machine it ran on."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture()
def machine_module():
    spec = importlib.util.spec_from_file_location("bench_machine", ROOT / "benchmarks" / "_machine.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_command_hides_outside_paths_and_keeps_repo_relative(machine_module, monkeypatch, tmp_path):
    argv = [str(ROOT / "benchmarks" / "video_mmnist.py"), "--out", str(tmp_path / "run" / "v.json"),
            f"--work={tmp_path}/models/", "--budget", "3600", "--keep", str(ROOT / "benchmarks" / "results")]
    monkeypatch.setattr(sys, "argv", argv)
    line = machine_module.command()
    assert line == ("python benchmarks/video_mmnist.py --out $WORK/v.json --work=$WORK/models --budget 3600 "
                    "--keep benchmarks/results")
    assert str(tmp_path) not in line


def test_command_keeps_relative_arguments(machine_module, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["benchmarks/x.py", "--models", "a,b", "--lr=1e-3"])
    assert machine_module.command() == "python benchmarks/x.py --models a,b --lr=1e-3"


def test_command_scrubs_each_path_of_a_comma_list(machine_module, monkeypatch, tmp_path):
    monkeypatch.setattr(sys, "argv", ["benchmarks/x.py", "--models-from", f"{tmp_path}/a,{tmp_path}/b/",
                                      f"--keep={ROOT}/benchmarks/results,rel", "--models", "a,b"])
    assert machine_module.command() == ("python benchmarks/x.py --models-from $WORK/a,$WORK/b "
                                        "--keep=benchmarks/results,rel --models a,b")
