"""Every video output is marked and verifiable: WebM/MKV (through the video task's writer), a folder of
PNG frames (each frame an image mark; the folder's votes summed), and ``aigc verify`` on them."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from aigc.cli import main
from aigc.core.artifacts import read_recipe
from aigc.tools.provenance.payload import payload_bits
from aigc.tools.provenance.verify import payload_hex_of, verify

MODEL_ID = "0badc0de12345678"


def _clip(frames: int = 8, size: int = 64) -> torch.Tensor:
    """(T, 1, S, S) in [0, 1]: two bright textured boxes drifting over black, like moving digits."""
    rng = np.random.default_rng(3)
    out = np.zeros((frames, 1, size, size), np.float32)
    boxes = [rng.uniform(0.4, 1.0, (20, 14)) for _ in range(2)]
    for t in range(frames):
        for k, box in enumerate(boxes):
            y, x = 5 + 20 * k + t, 6 + 3 * t + 10 * k
            out[t, 0, y:y + 20, x:x + 14] = box
    return torch.from_numpy(out)


@pytest.mark.parametrize("name", ["clip.webm", "clip.mkv", "frames"])
def test_webm_mkv_and_frame_folders_are_marked_and_verified(tmp_path, name, capsys):
    from aigc.video.artifacts import save_video

    out = save_video(tmp_path / name, _clip(), {"model_id": MODEL_ID, "watermark": True}, fps=8)
    assert read_recipe(out if out.is_file() else out / "frame_00000.png")["watermark"]["payload"] == MODEL_ID[:8]
    capsys.readouterr()
    assert main(["verify", str(out)]) == 0
    line = capsys.readouterr().out
    assert "watermark found (video" in line and f"model {MODEL_ID}: matches" in line
    verdict = verify(out)
    assert verdict.detection.payload == payload_hex_of(MODEL_ID) and verdict.detection.z > 4
    plain = save_video(tmp_path / f"plain-{name}", _clip(), {"model_id": MODEL_ID, "watermark": False}, fps=8)
    assert main(["verify", str(plain)]) == 1
    assert "no watermark found" in capsys.readouterr().out


def test_one_frame_of_a_folder_verifies_alone_and_folder_votes_add_up(tmp_path):
    from aigc.tools.provenance.image import STEP, detect_image
    from aigc.tools.provenance.video import detect_video
    from aigc.video.artifacts import save_video

    folder = save_video(tmp_path / "f", _clip(), {"model_id": MODEL_ID, "watermark": True})
    frames = sorted(folder.iterdir())
    assert [f.name for f in frames] == [f"frame_{i:05d}.png" for i in range(8)]
    assert read_recipe(frames[3])["frame"] == 3
    bits = payload_bits(MODEL_ID)
    from PIL import Image

    arrays = [np.asarray(Image.open(f)) for f in frames]
    single = detect_image(arrays[0], expected=bits)
    summed = detect_video(np.stack(arrays), expected=bits, step=STEP)
    assert single.found and np.array_equal(single.bits, bits)
    assert summed.found and np.array_equal(summed.bits, bits)
    assert verify(frames[5]).found  # aigc verify on one frame (an image)


def test_frame_folders_refuse_a_file_stale_frames_and_verify_an_empty_folder(tmp_path, capsys):
    from aigc.core.errors import BadInputError
    from aigc.video.artifacts import save_video

    save_video(tmp_path / "f", _clip(6), {"model_id": MODEL_ID, "watermark": True})
    save_video(tmp_path / "f", _clip(6), {"model_id": MODEL_ID, "watermark": True})  # same names: rewritten
    with pytest.raises(BadInputError, match="holds other frames"):
        save_video(tmp_path / "f", _clip(4), {"model_id": MODEL_ID})
    (tmp_path / "empty").mkdir()
    assert main(["verify", str(tmp_path / "empty")]) == 2
    assert "has none" in capsys.readouterr().err
