import gzip
import hashlib
import struct

import numpy as np
import pytest
import torch
from PIL import Image

from aigc.core.errors import BadInputError
from aigc.core.paths import data_dir
from aigc.data import images as images_mod
from aigc.data.download import download
from aigc.data.idx import read_idx
from aigc.data.images import load_image_source


def write_idx(path, array: np.ndarray, compress: bool = True) -> bytes:
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    raw = header + array.astype(np.uint8).tobytes()
    data = gzip.compress(raw) if compress else raw
    path.write_bytes(data)
    return data


def test_idx_roundtrip_and_truncation(tmp_path):
    arr = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    write_idx(tmp_path / "a.gz", arr)
    np.testing.assert_array_equal(read_idx(tmp_path / "a.gz"), arr)
    raw = (tmp_path / "b")
    write_idx(raw, arr, compress=False)
    raw.write_bytes(raw.read_bytes()[:-5])
    with pytest.raises(BadInputError, match=r"b: header declares shape \(2, 3, 4\)"):
        read_idx(raw)
    (tmp_path / "c").write_bytes(b"not idx")
    with pytest.raises(BadInputError, match="bad magic"):
        read_idx(tmp_path / "c")


def test_download_checks_sha256_and_never_keeps_a_bad_file(http_dir, tmp_path):
    root, url = http_dir
    payload = b"hello aigc" * 1000
    (root / "f.bin").write_bytes(payload)
    good = hashlib.sha256(payload).hexdigest()
    dest = tmp_path / "dl" / "f.bin"
    assert download(url + "f.bin", dest, good, progress=False).read_bytes() == payload
    bad_dest = tmp_path / "dl" / "g.bin"
    with pytest.raises(BadInputError, match="sha256"):
        download(url + "f.bin", bad_dest, "0" * 64, progress=False)
    assert not bad_dest.exists() and not list(bad_dest.parent.glob(".g.bin*"))
    with pytest.raises(BadInputError, match="could not download"):
        download(url + "missing.bin", tmp_path / "m.bin", good, progress=False)


def test_mnist_loader_downloads_when_the_data_dir_lacks_it(http_dir, tmp_path, monkeypatch):
    root, url = http_dir
    imgs = np.random.default_rng(0).integers(0, 256, (5, 28, 28))
    labels = np.arange(5)
    shas = [hashlib.sha256(write_idx(root / n, a)).hexdigest()
            for n, a in (("ti.gz", imgs), ("tl.gz", labels))]
    monkeypatch.setenv("AIGC_DATA_DIR", str(tmp_path / "empty"))
    monkeypatch.setitem(images_mod.IDX_DATASETS, "mnist",
                        ("mnist", url, {"train": ("ti.gz", shas[0], "tl.gz", shas[1])}))
    data = load_image_source("mnist", split="train")
    assert data.images.shape == (5, 1, 28, 28) and data.labels.tolist() == [0, 1, 2, 3, 4]
    torch.testing.assert_close(data.images[:, 0] * 255, torch.from_numpy(imgs).float())


def test_builtin_sources():
    digits = load_image_source("digits", image_size=16)
    assert digits.images.shape[1:] == (1, 16, 16) and len(digits) == 1617
    assert 0 <= digits.images.min() and digits.images.max() <= 1
    assert digits.class_names[7] == "seven" and set(digits.labels.tolist()) == set(range(10))
    test = load_image_source("digits", split="test")
    assert len(test) + len(digits) == 1797
    faces = load_image_source("faces", image_size=32, channels=3)
    assert faces.images.shape == (90, 3, 32, 32)


@pytest.mark.skipif(not (data_dir("mnist") / "mnist").is_dir(), reason="MNIST not in AIGC_DATA_DIR")
def test_real_mnist_counts():
    test = load_image_source("mnist", split="test")
    assert test.images.shape == (10000, 1, 28, 28)
    assert torch.bincount(test.labels).tolist()[:2] == [980, 1135]  # the published test counts


def make_folder(root, n=3, size=(10, 12), mode="RGB"):
    for cls in ("cats", "dogs"):
        (root / cls).mkdir(parents=True)
        for i in range(n):
            arr = np.full((*size, 3), 40 * i, dtype=np.uint8)
            Image.fromarray(arr, mode="RGB").convert(mode).save(root / cls / f"{i}.png")


def test_folder_source_labels_resize_and_bad_files(tmp_path):
    make_folder(tmp_path)
    data = load_image_source(f"folder:{tmp_path}", split="all", image_size=8)
    assert data.images.shape == (6, 3, 8, 8) and data.class_names == ["cats", "dogs"]
    assert data.labels.tolist() == [0, 0, 0, 1, 1, 1]
    (tmp_path / "dogs" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    (tmp_path / "cats" / "notes.txt").write_text("not an image")
    with pytest.raises(BadInputError, match=r"broken\.png|notes\.txt") as err:
        load_image_source(f"folder:{tmp_path}", split="all")
    assert "--skip-bad" in str(err.value)
    skipped = load_image_source(f"folder:{tmp_path}", split="all", skip_bad=True)
    assert len(skipped) == 6 and len(skipped.skipped) == 2


def test_folder_splits_hold_out_within_each_class(tmp_path):
    """With class sub-folders, train and test each hold every class (90 / 10 within each), disjoint
    and together the whole folder; without, the sorted files split 90 / 10."""
    for cls, n in (("a", 10), ("b", 20), ("c", 10)):
        (tmp_path / "set" / cls).mkdir(parents=True)
        for i in range(n):
            Image.fromarray(np.full((4, 4), i, dtype=np.uint8)).save(tmp_path / "set" / cls / f"{i:02d}.png")
    spec = f"folder:{tmp_path / 'set'}"
    train, test, every = (load_image_source(spec, split=s) for s in ("train", "test", "all"))
    assert torch.bincount(train.labels).tolist() == [9, 18, 9]
    assert torch.bincount(test.labels).tolist() == [1, 2, 1]
    # the held-out images are each class's last files (pixel value = file index)
    assert sorted(round(float(v) * 255) for v in test.images[:, 0, 0, 0]) == [9, 9, 18, 19]
    pairs = lambda d: sorted(zip(d.labels.tolist(), (d.images[:, 0, 0, 0] * 255).round().int().tolist()))
    assert sorted(pairs(train) + pairs(test)) == pairs(every)
    (tmp_path / "flat").mkdir()
    for i in range(40):
        Image.fromarray(np.full((4, 4), i, dtype=np.uint8)).save(tmp_path / "flat" / f"{i:02d}.png")
    flat_train, flat_test = (load_image_source(f"folder:{tmp_path / 'flat'}", split=s) for s in ("train", "test"))
    assert flat_train.labels is None and len(flat_train) == 36
    assert sorted(round(float(v) * 255) for v in flat_test.images[:, 0, 0, 0]) == [36, 37, 38, 39]


def test_unknown_source_and_bad_sizes():
    with pytest.raises(BadInputError, match="unknown image source"):
        load_image_source("imagenet")
    with pytest.raises(BadInputError, match="image size"):
        load_image_source("digits", image_size=2)
