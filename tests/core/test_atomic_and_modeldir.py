import json
import subprocess
import sys
from dataclasses import dataclass

import numpy as np
import pytest
import torch

import aigc

from aigc.core import modeldir
from aigc.core.artifacts import read_png_metadata, save_png
from aigc.core.atomic import atomic_write_bytes
from aigc.core.config import config_from_dict, config_to_dict
from aigc.core.errors import BadInputError
from aigc.core.modeldir import load_weights, read_config, save_weights
from aigc.train.state import flatten_optimizer, unflatten_optimizer


def test_crash_mid_write_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "model.safetensors"
    save_weights(path, {"w": torch.ones(3)})

    def crash(tensors, filename, metadata=None):
        with open(filename, "wb") as fh:
            fh.write(b"half a file")
        raise KeyboardInterrupt

    monkeypatch.setattr(modeldir, "save_file", crash)
    with pytest.raises(KeyboardInterrupt):
        save_weights(path, {"w": torch.zeros(3)})
    assert torch.equal(load_weights(path)["w"], torch.ones(3))
    assert [p.name for p in tmp_path.iterdir()] == ["model.safetensors"]  # no temp left behind


KILLER = r"""
import sys, torch
from aigc.data.images import load_image_source
from aigc.image_gen.vae import VAEObjective, VAEConfig
from aigc.train import TrainConfig, Trainer
from aigc.train.batcher import Batcher
torch.manual_seed(0)
data = {"images": load_image_source("digits", image_size=8).images}
t = Trainer(VAEObjective(VAEConfig(image_size=8, features=64)), TrainConfig(steps=1, batch_size=8, progress=False), sys.argv[1])
t.fit(data)
b = Batcher(data, 8, seed=0)
for i in range(10**6):
    t.step += 1
    t.save_checkpoint(b)
    print("saved", t.step, flush=True)
"""


def test_killed_mid_save_leaves_a_loadable_checkpoint(tmp_path):
    """SIGKILL a process that does nothing but save checkpoints; what it leaves must load and resume."""
    out = tmp_path / "m"
    proc = subprocess.Popen([sys.executable, "-c", KILLER, str(out)], stdout=subprocess.PIPE, text=True)
    for line in proc.stdout:
        if line.startswith("saved 6"):
            break
    proc.kill()
    proc.wait(timeout=60)
    from aigc.data.images import load_image_source
    from aigc.image_gen.vae import VAEObjective, VAEConfig
    from aigc.train import TrainConfig, Trainer
    from aigc.train.state import latest_checkpoint

    latest = latest_checkpoint(out / "train_state")
    assert latest is not None and int(latest.name.split("-")[1]) >= 6
    assert load_weights(out / "model.safetensors")
    trainer = Trainer(VAEObjective(VAEConfig(image_size=8, features=64)),
                      TrainConfig(steps=int(latest.name.split("-")[1]) + 1, batch_size=8, progress=False),
                      out, resume=True)
    assert trainer.fit({"images": load_image_source("digits", image_size=8).images})["steps_run"] == 1


def test_atomic_write_replaces_whole_file(tmp_path):
    p = tmp_path / "x.json"
    atomic_write_bytes(p, b"old")
    atomic_write_bytes(p, b"new")
    assert p.read_bytes() == b"new"


@dataclass(kw_only=True)
class Toy:
    size: int = 3
    dims: tuple = (1, 2)


def test_config_roundtrip_is_strict():
    d = config_to_dict(Toy(size=5))
    assert json.loads(json.dumps(d)) == {"size": 5, "dims": [1, 2]}
    assert config_from_dict(Toy, d) == Toy(size=5, dims=(1, 2))
    with pytest.raises(BadInputError, match=r"unknown key\(s\) \['colour'\]"):
        config_from_dict(Toy, {"colour": 1})


def test_read_config_errors(tmp_path):
    with pytest.raises(BadInputError, match="does not exist"):
        read_config(tmp_path / "nope")
    with pytest.raises(BadInputError, match="no config.json"):
        read_config(tmp_path)
    (tmp_path / "config.json").write_text("{broken")
    with pytest.raises(BadInputError, match="not valid JSON"):
        read_config(tmp_path)
    (tmp_path / "grid.png").write_bytes(b"\x89PNG")
    with pytest.raises(BadInputError, match="is a file, not an aigc model directory"):
        read_config(tmp_path / "grid.png")
    (tmp_path / "w.safetensors").write_bytes(b"\x00" * 20)
    with pytest.raises(BadInputError, match="not a readable safetensors"):
        load_weights(tmp_path / "w.safetensors")


def test_png_metadata_roundtrip(tmp_path):
    arr = (np.arange(48, dtype=np.uint8).reshape(4, 4, 3) * 5)
    save_png(tmp_path / "a.png", arr, {"seed": 3, "model_id": "abc"})
    assert read_png_metadata(tmp_path / "a.png") == {"seed": 3, "model_id": "abc", "aigc_version": aigc.__version__}


def test_optimizer_state_roundtrip_without_pickle():
    net = torch.nn.Linear(3, 2)
    opt = torch.optim.Adam(net.parameters(), lr=0.1, betas=(0.5, 0.9))
    net(torch.randn(4, 3)).sum().backward()
    opt.step()
    tensors, meta = flatten_optimizer(opt.state_dict(), "g")
    meta = json.loads(json.dumps(meta))
    opt2 = torch.optim.Adam(torch.nn.Linear(3, 2).parameters(), lr=1.0)
    opt2.load_state_dict(unflatten_optimizer(tensors, meta, "g"))
    s1, s2 = opt.state_dict(), opt2.state_dict()
    assert s2["param_groups"][0]["lr"] == 0.1 and tuple(s2["param_groups"][0]["betas"]) == (0.5, 0.9)
    for pid in s1["state"]:
        for k, v in s1["state"][pid].items():
            assert torch.equal(v, s2["state"][pid][k])
