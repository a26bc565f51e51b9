"""``aigc augment``: a class-conditional generator's samples as a labelled image folder that
``folder:DIR`` reads back with the generator's own labels, pixels and recipes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import aigc
from aigc.cli import main
from aigc.core.artifacts import read_png_metadata
from aigc.data.images import load_image_source
from aigc.tools.augment_cli import class_folders, write_synthetic

QUIET = ["--no-progress", "--device", "cpu"]


@pytest.fixture(scope="module")
def generator(tmp_path_factory):
    out = tmp_path_factory.mktemp("gen") / "ddpm"
    assert main(["train", "image-gen", "--arch", "ddpm", "--cond", "--data", "digits", "--image-size", "8",
                 "--features", "8", "--steps", "2", "--batch-size", "8", *QUIET, "--out", str(out)]) == 0
    return out


def test_folder_names_keep_the_generators_label_order():
    assert class_folders(["0", "1", "2"]) == ["0", "1", "2"]
    assert class_folders(["zero", "one", "two"]) == ["0-zero", "1-one", "2-two"]  # sorted would reorder
    assert class_folders([f"c{i}" for i in range(12)])[:2] == ["00-c0", "01-c1"]  # c10 < c2 as text
    assert class_folders(["a b", "a/b"]) == ["0-a_b", "1-a_b"]  # unsafe and then clashing


def test_augment_writes_balanced_labelled_folder_that_reads_back(generator, tmp_path):
    pipe = aigc.load(str(generator), device="cpu")
    report = write_synthetic(pipe, tmp_path / "synth", 23, seed=4, batch_size=8, steps=3, watermark=False)
    counts = list(report["per_class"].values())
    assert sum(counts) == 23 and counts == [3, 3, 3, 2, 2, 2, 2, 2, 2, 2]
    data = load_image_source(f"folder:{tmp_path / 'synth'}", split="all")
    assert data.class_names == report["folders"] and len(data) == 23
    assert torch.bincount(data.labels, minlength=10).tolist() == counts
    # the first batch is generate(8, seed=4) with labels 0..7: same pixels under the folder's labels
    first = pipe.generate(8, seed=4, labels=list(range(8)), steps=3)
    expected = np.round(first.numpy() * 255)
    for label in range(8):
        path = tmp_path / "synth" / report["folders"][label] / f"{label:06d}.png"
        meta = read_png_metadata(path)
        assert meta["label"] == label and meta["model_id"] == pipe.model_id and meta["seed"] == 4
        row = int(np.flatnonzero([str(p).endswith(path.name) for p in sorted((tmp_path / "synth").rglob("*.png"))])[0])
        assert data.labels[row] == label
        assert np.abs(data.images[row].numpy() * 255 - expected[label]).max() <= 1


def test_augment_cli_and_refusals(generator, tmp_path, capsys):
    out = tmp_path / "cli"
    assert main(["augment", "--generator", str(generator), "--n", "12", "--steps", "2", "--batch-size", "6",
                 *QUIET, "--out", str(out)]) == 0
    assert "wrote 12 images in 10 class folders (1-2 each)" in capsys.readouterr().out
    assert len(list(out.rglob("*.png"))) == 12 and not list(tmp_path.glob(".cli*"))
    assert main(["augment", "--generator", str(generator), "--n", "3", *QUIET, "--out", str(out)]) == 2
    assert "already exists" in capsys.readouterr().err
    gan = tmp_path / "gan"
    assert main(["train", "image-gen", "--arch", "dcgan", "--data", "digits", "--image-size", "8", "--features", "16",
                 "--latent-dim", "4", "--steps", "1", "--batch-size", "4", *QUIET, "--out", str(gan)]) == 0
    assert main(["augment", "--generator", str(gan), "--n", "3", *QUIET, "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert "not class-conditional" in err and err.count("\n") == 1 and not (tmp_path / "x").exists()
