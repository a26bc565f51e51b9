"""DP-SGD: our accountant against Opacus', the model check, training through the one Trainer on
a classifier, a class-conditional GAN and DDPM, budget stop and exact resume."""

from __future__ import annotations

import json
import warnings

import pytest
import torch
from torch import nn

from aigc.core import progress
from aigc.core.errors import BadInputError
from aigc.core.registry import resolve, task
from aigc.tools.privacy.accountant import RDPAccountant, epsilon, solve_noise_multiplier
from aigc.tools.privacy.model_check import make_dp_compatible, reapply_conversions
from aigc.train import TrainConfig
from aigc.train.trainer import TrainingCancelled

warnings.filterwarnings("ignore", message="Optimal order")



def dp_config(steps, eps=3.0, batch=32, **kw):
    return TrainConfig(steps=steps, batch_size=batch, lr=2e-3, seed=0, progress=False,
                       extensions={"dp": {"epsilon": eps, "delta": 1e-5, "max_grad_norm": 1.0, "networks": None}}, **kw)


def train_classifier(out, config, **settings):
    from aigc.classify.train import ClassifySettings, train

    return train(ClassifySettings(data="digits", widths=(4, 8), hidden=16, **settings), config, out)


@pytest.mark.parametrize("sigma,q,steps", [(1.1, 256 / 60000, 3000), (0.7, 0.01, 500), (4.0, 0.5, 10),
                                           (1.0, 1 / 16, 100), (0.55, 0.004, 12000)])
def test_our_accountant_agrees_with_opacus(sigma, q, steps):
    from opacus.accountants import RDPAccountant as OpacusRDP

    ref = OpacusRDP()
    ref.history = [(sigma, q, steps)]
    assert epsilon([(sigma, q, steps)], 1e-5) == pytest.approx(ref.get_epsilon(1e-5), rel=1e-9)


def test_two_phase_schedule_and_noise_solver_agree_with_opacus():
    from opacus.accountants import RDPAccountant as OpacusRDP
    from opacus.accountants.utils import get_noise_multiplier

    ours = RDPAccountant()
    ours.step(1.0, 0.01, 200)
    ours.step(2.0, 0.02, 100)
    ref = OpacusRDP()
    ref.history = [(1.0, 0.01, 200), (2.0, 0.02, 100)]
    assert ours.epsilon(1e-5) == pytest.approx(ref.get_epsilon(1e-5), rel=1e-9)
    sigma = solve_noise_multiplier(3.0, 1e-5, 256 / 60000, 2000)
    assert epsilon([(sigma, 256 / 60000, 2000)], 1e-5) <= 3.0
    assert sigma == pytest.approx(get_noise_multiplier(target_epsilon=3.0, target_delta=1e-5,
                                                       sample_rate=256 / 60000, steps=2000, accountant="rdp"), rel=0.01)


def test_batch_norm_is_converted_and_reloads():
    from aigc.classify.model import ClassifierConfig, ConvClassifier

    cfg = ClassifierConfig(image_size=8, norm="batch", widths=(4, 8), hidden=8)
    fixed, conversions = make_dp_compatible(ConvClassifier(cfg), "classifier")
    assert [c["from"] for c in conversions] == ["BatchNorm2d", "BatchNorm2d"]
    assert not any(isinstance(m, nn.BatchNorm2d) for m in fixed.modules())
    fresh = {"classifier": ConvClassifier(cfg)}
    reapply_conversions(fresh, conversions)
    fresh["classifier"].load_state_dict(fixed.state_dict(), strict=True)
    x = torch.rand(3, 1, 8, 8)
    assert torch.equal(fresh["classifier"](x), fixed(x))


def test_unconvertible_layer_gives_one_clear_line():
    from torch.nn.utils.parametrizations import spectral_norm

    net = nn.Sequential(spectral_norm(nn.Conv2d(1, 4, 3)), nn.Flatten(), nn.Linear(4 * 36, 2))
    with pytest.raises(BadInputError) as info:
        make_dp_compatible(net, "discriminator")
    message = str(info.value)
    assert "\n" not in message and "'discriminator'" in message and "layer 0" in message and "spectral" in message


def test_dp_classifier_with_batch_norm_trains_and_records_the_budget(tmp_path):
    summary = train_classifier(tmp_path / "m", dp_config(40, eps=8.0), norm="batch")
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    dp = config["extensions"]["dp"]
    assert dp["steps"] == 40 and dp["networks"] == ["classifier"] and len(dp["converted"]) == 2
    assert dp["epsilon"] <= 8.0 and dp["epsilon"] > 7.9
    assert dp["epsilon"] == pytest.approx(epsilon([(dp["noise_multiplier"], dp["sample_rate"], 40)], 1e-5), rel=1e-6)
    logs = [json.loads(x) for x in (tmp_path / "m" / "logs" / "metrics.jsonl").read_text().splitlines()]
    assert logs[-1]["loss"] < logs[0]["loss"], "the DP classifier did not learn"
    assert summary["stopped"] is None
    # aigc.load redoes the conversion, so the DP model loads strictly and classifies
    import aigc

    pipe = aigc.load(str(tmp_path / "m"), device="cpu")
    assert not any(isinstance(m, nn.BatchNorm2d) for m in pipe.nets["classifier"].modules())
    assert pipe.predict(torch.rand(2, 1, 8, 8)).shape == (2, 10)


def test_training_stops_cleanly_when_the_budget_is_spent(tmp_path):
    # the noise is solved for 20 steps; asking --resume for more stops at once with one line
    train_classifier(tmp_path / "m", dp_config(20, eps=1.0))
    from aigc.classify.train import ClassifySettings, train

    stored = json.loads((tmp_path / "m" / "config.json").read_text())
    with pytest.raises(BadInputError, match="privacy budget is spent"):
        train(ClassifySettings(**{**stored["settings"], "widths": (4, 8)}),
              TrainConfig(**{**stored["train"], "steps": 40}), tmp_path / "m", resume=True)


class CancelAt:
    def __init__(self, step):
        self.step, self.done = step, 0

    def update(self, event):
        if event["kind"] == "train":
            self.done = event["done"]

    def cancelled(self):
        return self.done >= self.step


def test_resume_is_exact(tmp_path):
    train_classifier(tmp_path / "straight", dp_config(30))
    with progress.reporting(CancelAt(12)), pytest.raises(TrainingCancelled):
        train_classifier(tmp_path / "resumed", dp_config(30))
    from aigc.classify.train import ClassifySettings, train

    train(ClassifySettings(data="digits", widths=(4, 8), hidden=16), dp_config(30), tmp_path / "resumed", resume=True)
    a = (tmp_path / "straight" / "model.safetensors").read_bytes()
    b = (tmp_path / "resumed" / "model.safetensors").read_bytes()
    assert a == b
    da = json.loads((tmp_path / "straight" / "config.json").read_text())["extensions"]["dp"]
    db = json.loads((tmp_path / "resumed" / "config.json").read_text())["extensions"]["dp"]
    assert da == db


@pytest.mark.parametrize("arch,model", [("cgan", {"d_norm": "none", "g_features": 16, "d_features": 16, "latent_dim": 8}),
                                        ("ddpm", {"features": 8, "mults": (1, 2), "attention_levels": ()})])
def test_dp_works_for_generators_through_the_registry(tmp_path, arch, model):
    t = task("image-gen")
    settings_cls, train = resolve(t.settings), resolve(t.train)
    extra = {"timesteps": 50} if arch == "ddpm" else {}
    settings = settings_cls(arch=arch, data="digits", image_size=8, cond=True, model=model, **extra)
    summary = train(settings, dp_config(3, eps=5.0), tmp_path / arch)
    dp = json.loads((tmp_path / arch / "config.json").read_text())["extensions"]["dp"]
    # only what sees the data is private: a GAN's discriminator, a diffusion model's denoiser
    assert dp["networks"] == (["discriminator"] if arch == "cgan" else ["unet"])
    assert dp["steps"] == 3 and summary["step"] == 3
