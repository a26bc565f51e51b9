"""aigc.train.muon: Muon on hidden weights, Adam on the rest, checked against torch's optimizers."""

import pytest
import torch
from torch import nn

from aigc.cli import main
from aigc.core.errors import BadInputError
from aigc.core.modeldir import load_weights
from aigc.train import TrainConfig, Trainer
from aigc.train.muon import Muon, hidden_weights, muon_optimizer
from aigc.train.objective import SingleNetworkObjective
from aigc.train.trainer import read_metrics


def _steps(opt, params, grads):
    for g in grads:
        opt.zero_grad()
        for p, gp in zip(params, g):
            p.grad = gp.clone()
        opt.step()


def _grads(shape, n=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [[torch.randn(shape, generator=g)] for _ in range(n)]


def test_muon_half_matches_torch_muon_on_a_matrix():
    w = torch.randn(24, 40, generator=torch.Generator().manual_seed(1))
    ours, ref = nn.Parameter(w.clone()), nn.Parameter(w.clone())
    grads = _grads(w.shape)
    _steps(Muon([{"params": [ours], "muon": True}], lr=0.01, weight_decay=0.1), [ours], grads)
    _steps(torch.optim.Muon([ref], lr=0.01, weight_decay=0.1, adjust_lr_fn="match_rms_adamw"), [ref], grads)
    assert not torch.equal(ours, w)  # it moved
    torch.testing.assert_close(ours, ref, rtol=0, atol=1e-6)


def test_a_conv_kernel_moves_as_its_out_by_fan_in_matrix():
    k = torch.randn(8, 4, 3, 3, generator=torch.Generator().manual_seed(2))
    ours, ref = nn.Parameter(k.clone()), nn.Parameter(k.reshape(8, 36).clone())
    grads = _grads(k.shape, seed=3)
    _steps(Muon([{"params": [ours], "muon": True}], lr=0.02), [ours], grads)
    _steps(torch.optim.Muon([ref], lr=0.02, weight_decay=0.0, adjust_lr_fn="match_rms_adamw"), [ref],
           [[g.reshape(8, 36) for g in step] for step in grads])
    torch.testing.assert_close(ours.reshape(8, 36), ref, rtol=0, atol=1e-6)


def test_adam_half_matches_torch_adamw():
    b = torch.randn(16, generator=torch.Generator().manual_seed(4))
    ours, ref = nn.Parameter(b.clone()), nn.Parameter(b.clone())
    grads = _grads(b.shape, n=5, seed=5)
    _steps(Muon([ours], lr=0.01, betas=(0.8, 0.99), weight_decay=0.05), [ours], grads)
    _steps(torch.optim.AdamW([ref], lr=0.01, betas=(0.8, 0.99), weight_decay=0.05), [ref], grads)
    torch.testing.assert_close(ours, ref, rtol=1e-6, atol=1e-7)


class _Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(5, 4)
        self.inp = nn.Conv2d(1, 8, 3, padding=1)
        self.mid = nn.Conv2d(8, 8, 3, padding=1)
        self.norm = nn.GroupNorm(2, 8)
        self.lin = nn.Linear(8, 8)
        self.out = nn.Conv2d(8, 1, 1)

    def forward(self, x):
        h = self.norm(self.mid(torch.relu(self.inp(x))))
        return self.out(self.lin(h.permute(0, 2, 3, 1)).permute(0, 3, 1, 2))


def test_hidden_weights_leave_input_output_embeddings_biases_and_norms_to_adam():
    net = _Net()
    assert hidden_weights(net) == ["mid.weight", "lin.weight"]
    opt = muon_optimizer(net, 1e-3)
    muon = {id(p) for g in opt.param_groups if g["muon"] for p in g["params"]}
    assert muon == {id(net.mid.weight), id(net.lin.weight)}
    assert sum(len(g["params"]) for g in opt.param_groups) == len(list(net.parameters()))


class _Denoise(SingleNetworkObjective):
    """A tiny conv objective on the base optimizer set-up (what --optimizer muon may replace)."""

    def __init__(self):
        torch.manual_seed(0)
        self.nets = {"model": nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.SiLU(),
                                            nn.Conv2d(8, 8, 3, padding=1), nn.SiLU(), nn.Conv2d(8, 1, 3, padding=1))}
        self.config = None

    def training_step(self, nets, batch, ctx):
        x = batch["x"]
        noisy = x + 0.3 * torch.randn(x.shape, generator=ctx.generator)
        return {"loss": ((nets["model"](noisy) - x) ** 2).mean()}


def _data():
    g = torch.Generator().manual_seed(0)
    return {"x": (torch.rand(64, 1, 8, 8, generator=g) > 0.7).float()}


def _config(**kw):
    return TrainConfig(**{"optimizer": "muon", "steps": 40, "batch_size": 16, "lr": 3e-3, "progress": False,
                          "checkpoint_every": 20, **kw})


def test_muon_training_lowers_the_loss_and_resumes_bit_identically(tmp_path):
    Trainer(_Denoise(), _config(), tmp_path / "full").fit(_data())
    losses = [row["loss"] for row in read_metrics(tmp_path / "full") if "loss" in row]
    assert len(losses) >= 4 and losses[-1] < 0.7 * losses[0]
    Trainer(_Denoise(), _config(steps=20), tmp_path / "half").fit(_data())
    Trainer(_Denoise(), _config(), tmp_path / "half", resume=True).fit(_data())
    a, b = load_weights(tmp_path / "full" / "model.safetensors"), load_weights(tmp_path / "half" / "model.safetensors")
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


def test_muon_is_refused_where_the_objective_sets_its_own_optimizers(tmp_path, capsys):
    with pytest.raises(BadInputError, match="optimizer"):
        TrainConfig(optimizer="sgd")
    assert main(["train", "image-gen", "--arch", "dcgan", "--data", "digits", "--image-size", "8", "--features", "16",
                 "--steps", "1", "--optimizer", "muon", "--out", str(tmp_path / "gan"), "--no-progress"]) == 2
    assert "sets up its own optimizers" in capsys.readouterr().err and not (tmp_path / "gan").exists()


def test_an_architecture_may_default_to_muon_and_the_user_overrides_it(tmp_path):
    import json

    tiny = ["--width", "8", "--layers", "1", "--steps", "1", "--batch-size", "2", "--sequences", "16", "--no-validate",
            "--no-progress"]
    tiny = [flag for flag in tiny if flag not in ("--batch-size", "2")]  # the architectures' batch sizes
    runs = {"simvp": [], "convlstm": [], "layered": [], "simvp-adam": ["--optimizer", "adam"],
            "layered-lr": ["--lr", "5e-4", "--batch-size", "2"]}
    for name, extra in runs.items():
        arch = name.split("-")[0]
        assert main(["train", "video", "--arch", arch, *tiny, *extra, "--out", str(tmp_path / name)]) == 0
    train = {n: json.loads((tmp_path / n / "config.json").read_text())["train"] for n in runs}
    chosen = {n: (t["optimizer"], t["lr"], t["batch_size"]) for n, t in train.items()}
    assert chosen == {"simvp": ("muon", 1e-3, 16), "convlstm": ("adam", 1e-3, 16), "layered": ("muon", 2e-3, 16),
                      "simvp-adam": ("adam", 1e-3, 16), "layered-lr": ("muon", 5e-4, 2)}
