"""Image watermark: bit-exact round trip, robustness goals, PSNR cost, false positives on MNIST."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from aigc.core.artifacts import read_png_metadata, save_png
from aigc.tools.provenance.image import detect_image, embed_image
from aigc.tools.provenance.payload import (
    CODE_BITS,
    crc_ok,
    encode,
    payload_bits,
    payload_hex,
)

BITS = payload_bits("3fa2b19c0d1e2f3a")


def _jpeg(a: np.ndarray, q: int) -> np.ndarray:
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, format="JPEG", quality=q)
    return np.asarray(Image.open(buf))


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(255 ** 2 / np.mean((a.astype(float) - b.astype(float)) ** 2)))


def test_payload_and_crc():
    assert payload_hex(BITS) == "3fa2b19c" and BITS[-1] == 1  # 31 bits of the id, then the flag
    code = encode(BITS)
    assert code.shape == (CODE_BITS,) and crc_ok(code)
    for i in (0, 17, 40, 55):  # any single flipped bit breaks the check
        bad = code.copy()
        bad[i] ^= 1
        assert not crc_ok(bad)


def test_clean_round_trip_is_bit_exact_and_invisible(photo):
    marked = embed_image(photo, BITS)
    det = detect_image(marked)
    assert det.found and np.array_equal(det.bits, BITS) and det.payload == "3fa2b19c"
    assert _psnr(photo, marked) >= 40
    from skimage.metrics import peak_signal_noise_ratio

    assert _psnr(photo, marked) == pytest.approx(peak_signal_noise_ratio(photo, marked), abs=1e-9)
    assert not detect_image(photo).found  # the unmarked original


@pytest.mark.parametrize("attack", ["jpeg50", "resize0.5", "crop10", "noise"])
def test_survives_the_goal_attacks(photo, attack):
    marked = embed_image(photo, BITS)
    h, w = marked.shape[:2]
    if attack == "jpeg50":
        seen = _jpeg(marked, 50)
    elif attack == "resize0.5":
        seen = np.asarray(Image.fromarray(marked).resize((w // 2, h // 2), Image.BICUBIC))
    elif attack == "crop10":
        seen = marked[h // 20: h - h // 20, w // 20: w - w // 20]
    else:
        rng = np.random.default_rng(0)
        seen = np.clip(np.round(marked + rng.normal(0, 0.02 * 255, marked.shape)), 0, 255).astype(np.uint8)
    det = detect_image(seen, expected=BITS)
    assert det.bit_accuracy >= 0.95 and det.z > 4
    assert detect_image(seen).found  # blind decoding too


def test_false_positive_rate_on_real_mnist_digits():
    from aigc.core.paths import data_dir
    from aigc.data.idx import read_idx

    path = data_dir("mnist") / "mnist" / "t10k-images-idx3-ubyte.gz"
    if not path.is_file():
        pytest.skip(f"MNIST test images not found at {path}")
    images = read_idx(path)[:1000]
    hits = sum(detect_image(im, search=False).found for im in images)
    assert hits / len(images) < 0.01
    # the crop search tries 325 more layouts: its bound is 325 * 2**-24, checked on 30 of them
    assert not any(detect_image(im).found for im in images[:30])


def test_writer_marks_model_outputs_when_asked_and_records_it(tmp_path, photo):
    recipe = {"model_id": "3fa2b19c0d1e2f3a", "seed": 0, "watermark": True}  # as the CLI records it
    save_png(tmp_path / "a.png", photo, recipe)
    save_png(tmp_path / "b.png", photo, recipe)
    assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()  # same seed, same bytes
    meta = read_png_metadata(tmp_path / "a.png")
    assert meta["watermark"]["payload"] == "3fa2b19c"
    assert detect_image(np.asarray(Image.open(tmp_path / "a.png"))).found
    save_png(tmp_path / "off.png", photo, {**recipe, "watermark": False})  # --no-watermark
    assert read_png_metadata(tmp_path / "off.png")["watermark"] is False
    assert np.array_equal(np.asarray(Image.open(tmp_path / "off.png")), photo)
    save_png(tmp_path / "api.png", photo, {"model_id": "3fa2b19c0d1e2f3a"})  # a library call that says nothing
    assert np.array_equal(np.asarray(Image.open(tmp_path / "api.png")), photo)
    save_png(tmp_path / "kw.png", photo, {"model_id": "3fa2b19c0d1e2f3a"}, watermark=True)
    assert detect_image(np.asarray(Image.open(tmp_path / "kw.png"))).found
    save_png(tmp_path / "tiny.png", photo[:16, :16], recipe)  # too small: unchanged, and the recipe says so
    assert read_png_metadata(tmp_path / "tiny.png")["watermark"]["scheme"] == "none"
    save_png(tmp_path / "plain.png", photo, {"step": 3})  # a training preview: no model id, no mark
    assert np.array_equal(np.asarray(Image.open(tmp_path / "plain.png")), photo)
