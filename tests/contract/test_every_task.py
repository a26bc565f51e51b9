"""Every registered task goes through the one contract: train (few steps) -> its command -> info ->
load, and the same --seed gives the same weights bytes. A new task that skips a part fails here."""

from __future__ import annotations

import json

import pytest

import aigc
from aigc.cli import main
from aigc.core.registry import TASKS, task



def fill(argv, **values) -> list[str]:
    return [str(a).format(**{k: str(v) for k, v in values.items()}) for a in argv]


@pytest.mark.parametrize("name", list(TASKS))
def test_task_walks_train_run_info_load(name, tmp_path, image_folder, ratings_csv, midi_folder, wav_folder, capsys):
    t = task(name)
    assert t.smoke_train and t.smoke_run, f"task {name!r} declares no smoke_train/smoke_run"
    assert set(t.media), f"task {name!r} declares no media"
    values = {"images": image_folder, "image": image_folder / "0.png", "out": tmp_path, "ratings": ratings_csv, "midis": midi_folder, "wavs": wav_folder}
    model = tmp_path / "model"
    argv = ["train", name, *fill(t.smoke_train, **values), "--out", str(model), "--no-progress"]
    assert main(argv) == 0, capsys.readouterr().err
    config = json.loads((model / "config.json").read_text())
    assert config["task"] == name and config["architecture"] in t.architectures and "settings" in config
    assert main(fill(t.smoke_run, model=model, **values)) == 0, capsys.readouterr().err
    capsys.readouterr()
    assert main(["info", str(model), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["task"] == name and len(info["model_id"]) == 16
    pipe = aigc.load(str(model), device="cpu")
    assert pipe.task == name and pipe.model_id == info["model_id"]
    written = [p for p in tmp_path.iterdir() if p.is_file() and p.suffix.lstrip(".") in t.media]
    assert written, f"{name}: {t.smoke_run} wrote no file of the task's media {t.media}"
    assert main(["info", str(written[0])]) == 0
    assert info["model_id"] in capsys.readouterr().out


@pytest.mark.parametrize("name", list(TASKS))
def test_same_seed_gives_identical_weights(name, tmp_path, image_folder, ratings_csv, midi_folder, wav_folder):
    t = task(name)
    values = {"images": image_folder, "image": image_folder / "0.png", "out": tmp_path, "ratings": ratings_csv, "midis": midi_folder, "wavs": wav_folder}
    blobs = []
    for run in ("a", "b"):
        out = tmp_path / run
        assert main(["train", name, *fill(t.smoke_train, **values), "--seed", "7", "--out", str(out),
                     "--no-progress"]) == 0
        blobs.append((out / "model.safetensors").read_bytes())
    assert blobs[0] == blobs[1]
    other = tmp_path / "c"
    assert main(["train", name, *fill(t.smoke_train, **values), "--seed", "8", "--out", str(other),
                 "--no-progress"]) == 0
    assert (other / "model.safetensors").read_bytes() != blobs[0], "the seed does not reach the weights"
