"""Image cleaning: planted defects are found with exact counts; SRC is never changed; kept files
are hard links; pHash equals imagehash's."""

from __future__ import annotations

import hashlib
import os
import shutil

import numpy as np
import pytest
from PIL import Image

from aigc.cli import main
from aigc.data.clean import clean
from aigc.data.clean.images import hamming, phash


def _smooth(rng: np.random.Generator, w: int = 32, h: int = 32) -> Image.Image:
    """A smooth random picture (4x4 random levels, bicubic up) - distinct pHash per draw."""
    small = Image.fromarray(rng.integers(0, 256, (4, 4), dtype=np.uint8))
    return small.resize((w, h), Image.Resampling.BICUBIC).convert("RGB")


def _snapshot(root):
    return {p: (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture
def image_folder(tmp_path):
    rng = np.random.default_rng(0)
    src = tmp_path / "src"
    (src / "cats").mkdir(parents=True)
    good = [_smooth(rng) for _ in range(6)]
    for i, img in enumerate(good):
        img.save(src / "cats" / f"good{i}.png")
    shutil.copyfile(src / "cats" / "good0.png", src / "cats" / "z_exact.png")
    noisy = np.asarray(good[1]).astype(int) + rng.integers(-2, 3, (32, 32, 3))
    Image.fromarray(noisy.clip(0, 255).astype(np.uint8)).save(src / "z_near.png")
    Image.new("RGB", (32, 32), (120, 120, 120)).save(src / "blank.png")
    (src / "garbage.png").write_bytes(b"this is not an image at all")
    data = (src / "cats" / "good2.png").read_bytes()
    (src / "truncated.png").write_bytes(data[: len(data) // 2])
    _smooth(rng, 256, 256).save(src / "huge.png")
    _smooth(rng, 64, 16).save(src / "wide.png")
    return src


def test_planted_image_defects_exact_counts(image_folder, tmp_path):
    before = _snapshot(image_folder)
    out = tmp_path / "out"
    result = clean(image_folder, out, report=tmp_path / "report.html")
    s = result["kinds"]["images"]
    assert s["scanned"] == 13 and s["kept"] == 6
    assert s["dropped"] == {"unreadable": 2, "blank": 1, "exact_duplicate": 1, "near_duplicate": 1,
                            "size_outlier": 1, "aspect_outlier": 1}
    assert _snapshot(image_folder) == before  # SRC untouched: same bytes and mtimes
    kept = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert kept == [f"cats/good{i}.png" for i in range(6)]
    for rel in kept:  # hard links: the very same inode as in SRC
        assert os.stat(out / rel).st_ino == os.stat(image_folder / rel).st_ino
    assert result["method"] == "hard links"
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    # one thumbnail per dropped readable image (the two unreadable ones have none)
    assert html.count("data:image/png;base64,") == 5
    for reason in ("near_duplicate", "z_near.png", "truncated.png", "aspect_outlier"):
        assert reason in html


def test_phash_matches_imagehash():
    imagehash = pytest.importorskip("imagehash")
    rng = np.random.default_rng(3)
    for _ in range(5):
        img = Image.fromarray(rng.integers(0, 256, (40, 50, 3), dtype=np.uint8))
        assert phash(img) == int(str(imagehash.phash(img)), 16)


def test_phash_distance_separates_near_from_distinct():
    rng = np.random.default_rng(1)
    a, b = _smooth(rng, 48, 48), _smooth(rng, 48, 48)
    resized = a.resize((40, 40), Image.Resampling.BILINEAR)
    assert hamming(phash(a), phash(resized)) <= 5
    assert hamming(phash(a), phash(b)) > 10


def test_cli_clean_and_refusals(image_folder, tmp_path, capsys):
    out = tmp_path / "cli-out"
    assert main(["data", "clean", str(image_folder), "--out", str(out)]) == 0
    assert "kept 6 of 13" in capsys.readouterr().out
    # OUT inside SRC, or an OUT with files: one line, exit 2, nothing written
    assert main(["data", "clean", str(image_folder), "--out", str(image_folder / "x")]) == 2
    assert "overlaps SRC" in capsys.readouterr().err
    assert not (image_folder / "x").exists()
    assert main(["data", "clean", str(image_folder), "--out", str(out)]) == 2
    assert "not an empty folder" in capsys.readouterr().err
    assert main(["data", "clean", str(tmp_path / "missing"), "--out", str(tmp_path / "o2")]) == 2
