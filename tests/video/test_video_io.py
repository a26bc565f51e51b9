"""Video files: GIF / MP4 / WebM / folders round-trip frames and recipe; bad files fail clearly."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from aigc.core.errors import BadInputError
from aigc.data.video import read_video, write_ffmpeg
from aigc.core.artifacts import read_recipe
from aigc.video.artifacts import contact_sheet, label_rows, save_video


@pytest.fixture
def clip() -> np.ndarray:
    """(8, 32, 48) uint8: a bright square moving right over a gradient."""
    frames = np.tile(np.linspace(0, 120, 48, dtype=np.uint8), (8, 32, 1))
    for t in range(8):
        frames[t, 8:20, 4 + 4 * t:16 + 4 * t] = 250
    return frames


def _without_version(recipe: dict) -> dict:
    return {k: v for k, v in recipe.items() if k != "aigc_version"}


RECIPE = {"model_id": "abc", "seed": 3, "note": "a=b; #c\\d\nnext line", "frames": [1, 2]}


def test_gif_round_trip_is_exact_and_carries_the_recipe(clip, tmp_path):
    path = save_video(tmp_path / "a.gif", torch.from_numpy(clip).float().div(255).unsqueeze(1), RECIPE, fps=5)
    video = read_video(path)
    assert video.frames.shape == (8, 32, 48, 1) and video.fps == pytest.approx(5.0)
    np.testing.assert_array_equal(video.frames[..., 0], clip)
    assert _without_version(read_recipe(path)) == RECIPE


@pytest.mark.parametrize("suffix", [".mp4", ".webm"])
def test_ffmpeg_round_trip_close_with_recipe_and_same_bytes(clip, tmp_path, suffix):
    a = write_ffmpeg(tmp_path / f"a{suffix}", clip, 10, metadata={"comment": '{"seed": 1, "x": "y=z"}'})
    b = write_ffmpeg(tmp_path / f"b{suffix}", clip, 10, metadata={"comment": '{"seed": 1, "x": "y=z"}'})
    video = read_video(a)
    assert video.frames.shape[:3] == clip.shape and video.fps == pytest.approx(10.0)
    grey = video.frames.mean(axis=-1)
    assert np.abs(grey - clip).mean() < 3.0  # lossy codec, but close
    assert video.metadata["comment"] == '{"seed": 1, "x": "y=z"}'
    assert a.read_bytes() == b.read_bytes()


def test_mp4_recipe_via_save_video(clip, tmp_path):
    frames = torch.from_numpy(clip).float().div(255).unsqueeze(1)
    path = save_video(tmp_path / "c.mp4", frames, RECIPE, scale=2)
    assert read_video(path).frames.shape[1:3] == (64, 96)
    assert _without_version(read_recipe(path)) == RECIPE
    webm = save_video(tmp_path / "c.webm", frames, RECIPE)
    assert _without_version(json.loads(read_video(webm).metadata["comment"])) == RECIPE
    with pytest.raises(BadInputError, match="c.avi: write one of"):
        save_video(tmp_path / "c.avi", frames, RECIPE)


def test_folder_of_frames_in_name_order(clip, tmp_path):
    for t in reversed(range(8)):
        Image.fromarray(clip[t]).save(tmp_path / f"f{t:03d}.png")
    (tmp_path / "notes.txt").write_text("ignored")
    np.testing.assert_array_equal(read_video(tmp_path).frames[..., 0], clip)


def test_bad_inputs_name_the_file(clip, tmp_path):
    (tmp_path / "bad.gif").write_bytes(b"GIF89a not really")
    (tmp_path / "bad.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"junk" * 20)
    for name in ("bad.gif", "bad.mp4"):
        with pytest.raises(BadInputError, match=name):
            read_video(tmp_path / name)
    (tmp_path / "x.txt").write_text("x")
    with pytest.raises(BadInputError, match=r"x\.txt: unknown video type"):
        read_video(tmp_path / "x.txt")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(BadInputError, match="no frames"):
        read_video(empty)
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    Image.fromarray(clip[0]).save(mixed / "0.png")
    Image.fromarray(clip[1, :16]).save(mixed / "1.png")
    with pytest.raises(BadInputError, match=r"1\.png: frame size 48x16 differs"):
        read_video(mixed)
    (mixed / "1.png").write_bytes(b"\x89PNG broken")
    with pytest.raises(BadInputError, match=r"1\.png: not a readable image"):
        read_video(mixed)
    with pytest.raises(BadInputError, match="no such file"):
        read_video(tmp_path / "missing.gif")


def test_row_labels_sit_left_of_their_rows():
    sheet = np.full((3 * 40, 100, 1), 128, dtype=np.uint8)
    out = label_rows(sheet, ["truth", "a longer name", "x"], pitch=40)
    width = out.shape[1] - 100
    assert out.shape[0] == 120 and width > 0 and (out[:, width:] == sheet).all()  # the sheet is untouched
    for i in range(3):  # black text in each row's band of the label column, white elsewhere in it
        band = out[i * 40:(i + 1) * 40, :width, 0]
        assert band.min() < 64 and np.median(band) == 255
    rgb = label_rows(np.zeros((40, 10, 3), dtype=np.uint8), ["a"], pitch=40)
    assert rgb.shape[2] == 3 and rgb[:, :rgb.shape[1] - 10].min() < 64


def test_contact_sheet_layout():
    rows = [torch.zeros(3, 1, 4, 4), torch.ones(2, 1, 4, 4) * 0.5]
    sheet = contact_sheet(rows, gap=1)
    assert sheet.shape == (2 * 5 + 1, 3 * 5 + 1, 1)
    assert sheet[1:5, 1:5, 0].max() == 0 and sheet[6:10, 6:10, 0].min() == 128
    assert sheet[6:10, 11:15, 0].min() == 255  # the short row is blank on the right
