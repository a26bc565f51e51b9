import json
import math
import os
import signal

import pytest
import torch

from aigc.core.errors import BadInputError, NonFiniteLossError
from aigc.core.modeldir import load_weights
from aigc.data.images import load_image_source
from aigc.image_gen.dcgan import DCGANObjective, DCGANConfig
from aigc.train import TrainConfig, Trainer, TrainingInterrupted
from aigc.train.config import lr_factor
from aigc.train.ema import EMA
from aigc.train.trainer import read_metrics
from helpers import LinearRegression, regression_data


def quiet(**kw) -> TrainConfig:
    return TrainConfig(progress=False, **kw)


def tiny_gan_setup():
    data = load_image_source("digits", image_size=8)
    cfg = DCGANConfig(image_size=8, g_features=16, d_features=16, latent_dim=8, hflip=True)
    tc = quiet(steps=10, batch_size=16, checkpoint_every=4, ema_decay=0.9, grad_clip=1.0,
               schedule="cosine", warmup_steps=3, accumulate=2)
    return data, cfg, tc


class InterruptAt(DCGANObjective):
    """Sends itself Ctrl-C during step ``at`` (as a user would)."""

    at = 5

    def training_step(self, nets, batch, ctx):
        if ctx.step == self.at and ctx.last_micro:
            os.kill(os.getpid(), signal.SIGINT)
        return super().training_step(nets, batch, ctx)


def test_interrupted_and_resumed_run_is_bit_identical(tmp_path):
    data, cfg, tc = tiny_gan_setup()
    torch.manual_seed(0)
    Trainer(DCGANObjective(cfg), tc, tmp_path / "a").fit({"images": data.images})
    torch.manual_seed(0)
    with pytest.raises(TrainingInterrupted, match="step 6"):
        Trainer(InterruptAt(cfg), tc, tmp_path / "b").fit({"images": data.images})
    torch.manual_seed(123)  # a different init must not matter: weights come from the checkpoint
    summary = Trainer(DCGANObjective(cfg), tc, tmp_path / "b", resume=True).fit({"images": data.images})
    assert summary["steps_run"] == 4
    a = load_weights(tmp_path / "a" / "model.safetensors")
    b = load_weights(tmp_path / "b" / "model.safetensors")
    assert a.keys() == b.keys() and any(k.startswith("ema.") for k in a)
    for key in a:
        assert torch.equal(a[key], b[key]), key
    assert read_metrics(tmp_path / "a") == read_metrics(tmp_path / "b")


def test_resume_without_checkpoint_is_a_clear_error(tmp_path):
    with pytest.raises(BadInputError, match="no checkpoint"):
        Trainer(LinearRegression(), quiet(steps=2, batch_size=8), tmp_path, resume=True).fit(regression_data())


def test_refuses_to_overwrite_a_trained_model(tmp_path):
    Trainer(LinearRegression(), quiet(steps=2, batch_size=8), tmp_path).fit(regression_data())
    with pytest.raises(BadInputError, match="--resume"):
        Trainer(LinearRegression(), quiet(steps=2, batch_size=8), tmp_path).fit(regression_data())


def test_a_model_setting_added_since_training_counts_as_its_default_on_resume(tmp_path):
    data, cfg, tc = tiny_gan_setup()
    tc = quiet(steps=4, batch_size=16, checkpoint_every=2)
    Trainer(DCGANObjective(cfg), tc, tmp_path).fit({"images": data.images})
    config = json.loads((tmp_path / "config.json").read_text())
    del config["model"]["beta1"]  # as written by an aigc from before the setting existed
    (tmp_path / "config.json").write_text(json.dumps(config))
    resumed = quiet(steps=6, batch_size=16, checkpoint_every=2)
    assert Trainer(DCGANObjective(cfg), resumed, tmp_path, resume=True).fit({"images": data.images})["step"] == 6
    config = json.loads((tmp_path / "config.json").read_text())
    config["model"]["beta1"] = 0.9  # a stored value that differs from the given one is still refused
    (tmp_path / "config.json").write_text(json.dumps(config))
    with pytest.raises(BadInputError, match=r"model\.beta1: stored 0\.9, given 0\.5"):
        Trainer(DCGANObjective(cfg), quiet(steps=8, batch_size=16), tmp_path, resume=True).fit({"images": data.images})


class NanAfter(LinearRegression):
    def training_step(self, nets, batch, ctx):
        out = super().training_step(nets, batch, ctx)
        if ctx.step >= 5:
            out["loss"] = out["loss"] * float("nan")
        return out


def test_nan_guard_stops_and_keeps_last_good_checkpoint(tmp_path):
    with pytest.raises(NonFiniteLossError, match=r"step 6.*step-00000004"):
        Trainer(NanAfter(), quiet(steps=20, batch_size=8, checkpoint_every=2), tmp_path).fit(regression_data())
    state = json.loads((tmp_path / "train_state" / "step-00000004" / "state.json").read_text())
    assert state["step"] == 4
    weights = load_weights(tmp_path / "model.safetensors")
    assert all(torch.isfinite(v).all() for v in weights.values())
    resumed = Trainer(LinearRegression(), quiet(steps=6, batch_size=8), tmp_path, resume=True)
    assert resumed.fit(regression_data())["steps_run"] == 2


def _final_weight(tmp_path, name, **kw):
    trainer = Trainer(LinearRegression(), quiet(**kw), tmp_path / name)
    trainer.fit(regression_data())
    return trainer.raw["net"].weight.detach().clone()


def test_gradient_accumulation_equals_the_larger_batch(tmp_path):
    big = _final_weight(tmp_path, "big", steps=5, batch_size=16, lr=0.05)
    acc = _final_weight(tmp_path, "acc", steps=5, batch_size=8, accumulate=2, lr=0.05)
    torch.testing.assert_close(acc, big, rtol=1e-6, atol=1e-6)


def test_gradient_clipping_bounds_the_sgd_update(tmp_path):
    obj = LinearRegression()
    before = torch.cat([p.detach().flatten().clone() for p in obj.net.parameters()])
    trainer = Trainer(obj, quiet(steps=1, batch_size=16, lr=1.0, grad_clip=0.01), tmp_path)
    trainer.fit(regression_data())
    after = torch.cat([p.detach().flatten() for p in obj.net.parameters()])
    assert math.isclose(float((after - before).norm()), 0.01, rel_tol=1e-4)


def test_warmup_cosine_schedule_matches_formula():
    cfg = TrainConfig(steps=110, warmup_steps=10, schedule="cosine", min_lr_ratio=0.1)
    assert lr_factor(cfg, 0) == pytest.approx(0.1)
    assert lr_factor(cfg, 9) == pytest.approx(1.0)
    for step in (10, 35, 60, 109):
        progress = (step - 10) / 100
        expected = 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress))
        assert lr_factor(cfg, step) == pytest.approx(expected)


def test_cosine_time_schedule_decays_over_the_time_limit():
    cfg = TrainConfig(steps=1000, warmup_steps=10, schedule="cosine-time", time_limit_s=60, min_lr_ratio=0.1)
    assert lr_factor(cfg, 5, time_progress=0.5) == pytest.approx(0.6)  # warm-up is counted in steps
    for share in (0.0, 0.25, 0.5, 1.0, 1.5):
        expected = 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(share, 1.0)))
        assert lr_factor(cfg, 20, time_progress=share) == pytest.approx(expected, abs=1e-3)
    # the steps still count when they run out first (the schedule never ends later than --steps)
    assert lr_factor(cfg, 1000, time_progress=0.1) == pytest.approx(0.1)
    assert lr_factor(cfg.replace(schedule="cosine"), 20, time_progress=0.5) == lr_factor(cfg.replace(schedule="cosine"), 20)
    with pytest.raises(BadInputError, match="time limit"):
        TrainConfig(schedule="cosine-time")


class StopDuringStep(LinearRegression):
    """Sends itself Ctrl-C during (0-based) step ``at``."""

    at = 3

    def training_step(self, nets, batch, ctx):
        if ctx.step == self.at:
            os.kill(os.getpid(), signal.SIGINT)
        return super().training_step(nets, batch, ctx)


def test_cosine_time_run_ends_annealed_and_resumes_where_it_stopped(tmp_path, monkeypatch):
    """A fake CPU clock advances one second per reading (the trainer reads it once per step): with a
    10-s limit the run stops after 10 steps and step k used the decay at (k - 1) / 10 of the time.
    A run stopped at step 4 and resumed with the 6 s left repeats those learning rates exactly."""
    import itertools
    import time

    ticks = itertools.count()
    monkeypatch.setattr(time, "process_time", lambda: float(next(ticks)))
    cfg = quiet(steps=1000, batch_size=8, lr=0.1, schedule="cosine-time", time_limit_s=10,
                time_limit_clock="cpu", log_every=1, min_lr_ratio=0.1)
    summary = Trainer(LinearRegression(), cfg, tmp_path / "a").fit(regression_data())
    assert summary["stopped"] == "time limit" and summary["step"] == 10
    lrs = [row["lr"] for row in read_metrics(tmp_path / "a")]
    expected = [0.1 * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * k / 10))) for k in range(10)]
    assert lrs == pytest.approx(expected)
    with pytest.raises(TrainingInterrupted, match="step 4"):
        Trainer(StopDuringStep(), cfg, tmp_path / "b").fit(regression_data())
    Trainer(LinearRegression(), cfg.replace(time_limit_s=6), tmp_path / "b", resume=True).fit(regression_data())
    assert [row["lr"] for row in read_metrics(tmp_path / "b")] == pytest.approx(expected)
    # a plain cosine over the same 1000 steps had barely started decaying when the time ran out
    assert lr_factor(cfg.replace(schedule="cosine"), 9) > 0.99


def test_cosine_time_progress_bar_counts_the_time_limit(tmp_path, monkeypatch, capsys):
    """Under "cosine-time" --steps is only a cap, so the bar shows the limit's seconds and the step."""
    import itertools
    import time

    ticks = itertools.count()
    monkeypatch.setattr(time, "process_time", lambda: float(next(ticks)))
    cfg = TrainConfig(steps=10**6, batch_size=8, schedule="cosine-time", time_limit_s=5, time_limit_clock="cpu",
                      log_every=1)
    Trainer(LinearRegression(), cfg, tmp_path).fit(regression_data())
    last = capsys.readouterr().err.replace("\r", "\n").strip().splitlines()[-1]
    assert "5/5 s" in last and "step=5" in last and "1000000" not in last


def test_ema_follows_the_polyak_recursion():
    net = torch.nn.Linear(2, 1)
    ema = EMA(net, decay=0.75)
    start = net.weight.detach().clone()
    with torch.no_grad():
        net.weight.add_(4.0)
    ema.update(net, 10**6)
    torch.testing.assert_close(ema.module.weight, 0.75 * start + 0.25 * (start + 4.0))


def test_training_lowers_the_loss_and_writes_logs_and_curves(tmp_path):
    from aigc.train.report import plot_metrics

    Trainer(LinearRegression(optimizer="adam"), quiet(steps=60, batch_size=16, lr=0.1, log_every=5),
            tmp_path).fit(regression_data())
    rows = read_metrics(tmp_path)
    assert [r["step"] for r in rows] == list(range(5, 61, 5))
    assert rows[-1]["loss"] < 0.1 * rows[0]["loss"]
    assert plot_metrics(tmp_path).is_file()


@pytest.mark.parametrize("bad", [dict(steps=0), dict(lr=-1.0), dict(precision="fp8"), dict(accumulate=0)])
def test_bad_train_config_is_rejected(bad):
    with pytest.raises(BadInputError):
        TrainConfig(**bad)


def test_time_limit_stops_cleanly_with_a_checkpoint(tmp_path):
    summary = Trainer(LinearRegression(), quiet(steps=10**6, batch_size=8, time_limit_s=0.2),
                      tmp_path).fit(regression_data())
    assert summary["stopped"] == "time limit" and 0 < summary["step"] < 10**6
    assert (tmp_path / "train_state" / f"step-{summary['step']:08d}").is_dir()


def test_cpu_time_limit_counts_process_cpu_seconds(tmp_path, monkeypatch):
    """With time_limit_clock="cpu" the budget is read from time.process_time (a fake clock here that
    advances one CPU second per reading), so other load on the machine does not shrink it."""
    import itertools
    import time

    ticks = itertools.count()
    monkeypatch.setattr(time, "process_time", lambda: float(next(ticks)))
    summary = Trainer(LinearRegression(), quiet(steps=100, batch_size=8, time_limit_s=5, time_limit_clock="cpu"),
                      tmp_path).fit(regression_data())
    assert summary["stopped"] == "time limit" and summary["step"] == 5
    with pytest.raises(BadInputError, match="time_limit_clock"):
        TrainConfig(time_limit_clock="gpu")
