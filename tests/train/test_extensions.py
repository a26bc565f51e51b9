"""Training extensions and progress/cancel hooks of the one Trainer, on a closed-form objective."""

import argparse
import json

import pytest
import torch

from aigc.core import progress
from aigc.core.modeldir import load_weights
from aigc.train import TrainConfig, Trainer
from aigc.train import extensions as ext_mod
from aigc.train.cli_args import add_train_args, train_config_from_args
from aigc.train.extensions import TrainExtension
from aigc.train.trainer import TrainingCancelled
from helpers import LinearRegression, regression_data


class ShiftTargets(TrainExtension):
    """Adds ``shift`` to every target, counts the batches it saw, stops after ``stop_at`` steps."""

    def __init__(self, options):
        self.shift, self.stop_at = options["shift"], options.get("stop_at")
        self.seen, self.calls = 0, []

    def prepare(self, trainer):
        self.calls.append(("prepare", sorted(trainer.raw), hasattr(trainer, "optimizers")))

    def after_optimizers(self, trainer):
        self.calls.append(("after_optimizers", sorted(trainer.optimizers)))

    def transform_batch(self, trainer, batch, ctx):
        self.seen += 1
        return {**batch, "y": batch["y"] + self.shift}

    def after_step(self, trainer, logs):
        return "enough" if self.stop_at is not None and trainer.step >= self.stop_at else None

    def state_dict(self):
        return {"seen": self.seen}

    def load_state_dict(self, state):
        self.seen = state["seen"]

    def describe(self):
        return {"seen": self.seen, "shift": self.shift}


class Spec:
    title = "shift targets (test)"

    @staticmethod
    def add_args(group):
        group.add_argument("--shift-targets", type=float, default=None)

    @staticmethod
    def options(args):
        return None if args.shift_targets is None else {"shift": args.shift_targets}

    @staticmethod
    def build(options):
        return ShiftTargets(options)


SPEC = Spec()


@pytest.fixture
def registered(monkeypatch):
    monkeypatch.setitem(ext_mod.EXTENSIONS, "shift", f"{__name__}:SPEC")


def _config(**kw):
    base = dict(steps=6, batch_size=64, lr=0.05, progress=False, checkpoint_every=2)
    return TrainConfig(**{**base, **kw})


def _weights(out):
    return load_weights(out / "model.safetensors")["net.weight"]


def test_transform_batch_trains_on_the_transformed_data(tmp_path, registered):
    data = regression_data()
    trainer = Trainer(LinearRegression(), _config(extensions={"shift": {"shift": 3.0}}), tmp_path / "a")
    trainer.fit(data)
    shifted = {**data, "y": data["y"] + 3.0}
    Trainer(LinearRegression(), _config(), tmp_path / "b").fit(shifted)
    assert torch.equal(_weights(tmp_path / "a"), _weights(tmp_path / "b"))
    plain = {**data}
    Trainer(LinearRegression(), _config(), tmp_path / "c").fit(plain)
    assert not torch.equal(_weights(tmp_path / "a"), _weights(tmp_path / "c"))
    ext = trainer.extensions[0]
    assert ext.calls == [("prepare", ["net"], False), ("after_optimizers", ["opt"])]


def test_after_step_stops_cleanly_and_state_survives_resume(tmp_path, registered):
    out = tmp_path / "m"
    first = Trainer(LinearRegression(), _config(extensions={"shift": {"shift": 1.0, "stop_at": 3}}), out)
    summary = first.fit(regression_data())
    assert summary["stopped"] == "enough" and summary["step"] == 3
    stored = json.loads((out / "config.json").read_text())
    assert stored["extensions"]["shift"] == {"seen": 3, "shift": 1.0}
    assert stored["train"]["extensions"] == {"shift": {"shift": 1.0, "stop_at": 3}}
    again = Trainer(LinearRegression(), _config(extensions={"shift": {"shift": 1.0, "stop_at": 3}}), out,
                    resume=True)
    again.extensions[0].stop_at = None  # let it run to --steps
    assert again.fit(regression_data())["step"] == 6
    assert json.loads((out / "config.json").read_text())["extensions"]["shift"]["seen"] == 6


def test_unknown_extension_is_a_clear_error(tmp_path):
    with pytest.raises(Exception, match="unknown training extension"):
        Trainer(LinearRegression(), _config(extensions={"nope": {}}), tmp_path / "m")


def test_extension_flags_reach_the_train_config(registered):
    p = argparse.ArgumentParser()
    add_train_args(p)
    args = p.parse_args(["--out", "x", "--shift-targets", "2.5", "--lr", "0.1", "--batch-size", "8"])
    assert train_config_from_args(args).extensions == {"shift": {"shift": 2.5}}
    args = p.parse_args(["--out", "x", "--lr", "0.1", "--batch-size", "8"])
    assert train_config_from_args(args).extensions == {}


class Recorder:
    def __init__(self, cancel_at=None):
        self.events, self.cancel_at = [], cancel_at

    def update(self, event):
        self.events.append(event)

    def cancelled(self):
        trains = [e for e in self.events if e["kind"] == "train"]
        return self.cancel_at is not None and bool(trains) and trains[-1]["done"] >= self.cancel_at


def test_progress_events_arrive_in_order(tmp_path):
    rec = Recorder()
    with progress.reporting(rec):
        Trainer(LinearRegression(), _config(), tmp_path / "m").fit(regression_data())
    steps = [e["done"] for e in rec.events if e["kind"] == "train"]
    assert steps == [1, 2, 3, 4, 5, 6]
    assert all(e["total"] == 6 and "loss" in e["logs"] and e["eta_s"] >= 0 for e in rec.events if e["kind"] == "train")
    assert [e["done"] for e in rec.events if e["kind"] == "checkpoint"] == [2, 4]


def test_cancel_stops_at_the_step_with_a_checkpoint_and_resumes_exactly(tmp_path):
    out = tmp_path / "m"
    with progress.reporting(Recorder(cancel_at=3)), pytest.raises(TrainingCancelled, match="step 3"):
        Trainer(LinearRegression(), _config(), out).fit(regression_data())
    assert json.loads((out / "train_state" / "step-00000003" / "state.json").read_text())["step"] == 3
    Trainer(LinearRegression(), _config(), out, resume=True).fit(regression_data())
    Trainer(LinearRegression(), _config(), tmp_path / "straight").fit(regression_data())
    assert torch.equal(_weights(out), _weights(tmp_path / "straight"))


def test_progress_is_silent_without_a_reporter():
    progress.report("x", 1, 2)
    progress.check_cancelled()
    assert not progress.active()
