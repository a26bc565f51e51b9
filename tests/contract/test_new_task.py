"""A task is one folder plus one registry line: a throw-away task written here (into a temporary
folder) appears in `aigc train --help`, trains, generates, shows in `aigc info` and `aigc eval`, and
loads with `aigc.load`, without editing any other file."""

from __future__ import annotations

import json
import sys
import textwrap

import pytest

import aigc
from aigc.cli import main
from aigc.core import registry

TOY_TASK = '''
from aigc.core.task import Task

TASK = Task(
    name="toy", summary="a toy task that learns a number", train_example="aigc train toy --out runs/toy",
    architectures={"mean": "toytask.impl:MeanObjective"}, pipeline="toytask.impl:ToyPipeline",
    settings="toytask.impl:ToySettings", train="toytask.impl:train", train_parser="toytask.impl:add_train_args",
    generate_parser="toytask.impl:generate_parser",
    evaluators={"toy": ("score toy samples", "toytask.impl:add_eval")}, media=("json",),
    smoke_train=("--target", "3", "--steps", "5"), smoke_run=("generate", "{model}", "--out", "{out}/s.json"))
'''

TOY_IMPL = '''
import argparse
from dataclasses import dataclass

import torch
from torch import nn

from aigc.core.artifacts import save_json
from aigc.core.pipeline import Pipeline
from aigc.train.run import run_training


@dataclass(kw_only=True)
class MeanConfig:
    width: int = 1


class MeanObjective:
    config_class = MeanConfig

    def __init__(self, config):
        self.config, self.net = config, nn.Linear(1, config.width)

    def networks(self):
        return {"net": self.net}

    def configure_optimizers(self, nets, lr):
        return {"net": torch.optim.Adam(nets["net"].parameters(), lr=lr)}

    def training_step(self, nets, batch, ctx):
        return {"loss": (nets["net"](torch.ones(len(batch["x"]), 1)) - batch["x"]).pow(2).mean()}


@dataclass(kw_only=True)
class ToySettings:
    arch: str = "mean"
    target: float = 1.0


def train(settings, config, out, *, resume=False):
    data = {"x": torch.full((32, 1), settings.target)}
    return run_training(task="toy", architecture=settings.arch, settings=settings,
                        objective=lambda: MeanObjective(MeanConfig()), data=data, config=config, out=out,
                        resume=resume)


def add_train_args(p):
    p.add_argument("--arch", choices=["mean"], default="mean")
    p.add_argument("--target", type=float, default=1.0)
    p.set_defaults(lr=0.1, batch_size=8)


class ToyPipeline(Pipeline):
    task = "toy"

    def generate(self, n, seed=0):
        g = torch.Generator().manual_seed(seed)
        base = self.nets["net"](torch.ones(1, 1)).item()
        return [base + 0.01 * float(v) for v in torch.randn(n, generator=g)]


def generate_parser(model_dir):
    p = argparse.ArgumentParser(prog="aigc generate")
    p.add_argument("--out", required=True)
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=lambda a: _generate(model_dir, a))
    return p


def _generate(model_dir, args):
    import aigc

    pipe = aigc.load(model_dir, device="cpu")
    save_json(args.out, {"samples": pipe.generate(4, args.seed)}, pipe.recipe(seed=args.seed))
    return 0


def add_eval(sub):
    p = sub.add_parser("toy", help="score toy samples")
    p.add_argument("--samples", required=True)
    p.set_defaults(func=lambda a: print("toy score", len(__import__("json").load(open(a.samples))["samples"])) or 0)
'''


@pytest.fixture()
def toy_task(tmp_path, monkeypatch):
    package = tmp_path / "pkgs" / "toytask"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "task.py").write_text(textwrap.dedent(TOY_TASK))
    (package / "impl.py").write_text(textwrap.dedent(TOY_IMPL))
    monkeypatch.syspath_prepend(str(tmp_path / "pkgs"))
    monkeypatch.setitem(registry.TASKS, "toy", "toytask.task:TASK")  # the one registry line
    yield
    for name in [m for m in sys.modules if m.startswith("toytask")]:
        del sys.modules[name]


def test_a_registered_task_appears_everywhere(toy_task, tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    assert "toy" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["train", "toy", "--help"])
    help_text = capsys.readouterr().out
    assert "--target" in help_text and "--resume" in help_text and "aigc train toy" in help_text
    model = tmp_path / "toy-model"
    assert main(["train", "toy", "--target", "3", "--steps", "60", "--out", str(model), "--no-progress"]) == 0
    assert main(["generate", str(model), "--out", str(tmp_path / "s.json"), "--seed", "2"]) == 0
    samples = json.loads((tmp_path / "s.json").read_text())["samples"]
    assert all(abs(s - 3.0) < 0.5 for s in samples), samples  # it learned the target
    capsys.readouterr()
    assert main(["info", str(model)]) == 0
    assert "toy" in capsys.readouterr().out
    assert main(["info", str(tmp_path / "s.json")]) == 0
    assert "seed" in capsys.readouterr().out
    assert main(["eval", "toy", "--samples", str(tmp_path / "s.json")]) == 0
    assert "toy score 4" in capsys.readouterr().out
    assert aigc.load(str(model), device="cpu").task == "toy"
    assert main(["replay", str(tmp_path / "s.json"), "--model", str(model)]) == 0
