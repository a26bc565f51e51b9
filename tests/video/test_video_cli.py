"""The video task end to end: train (CLI), predict, interpolate, generate, info, replay, eval video."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from aigc.cli import main
from aigc.core.artifacts import read_recipe
from aigc.data import moving_mnist as mm
from aigc.data.video import read_video
from aigc.video.artifacts import save_video

TRAIN = ["--data", "moving-digits", "--sequences", "64", "--width", "16", "--steps", "3",
         "--batch-size", "4", "--no-validate", "--no-progress"]


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    from aigc.core import registry

    added = "video" not in registry.TASKS
    registry.TASKS.setdefault("video", "aigc.video.task:TASK")
    root = tmp_path_factory.mktemp("video-models")
    dirs = {}
    for arch in ("simvp", "layered", "interp", "diffusion", "clip-classifier"):
        dirs[arch] = root / arch
        layers = ["--layers", "1"] if arch != "clip-classifier" else []
        assert main(["train", "video", "--arch", arch, *TRAIN, *layers, "--out", str(dirs[arch])]) == 0
    yield dirs
    if added:
        registry.TASKS.pop("video", None)


@pytest.fixture
def clip_gif(tmp_path, digit_bank):
    frames = mm.render_numpy(mm.sample_sequences(1, len(digit_bank), 3), digit_bank)[0, :10]
    path = save_video(tmp_path / "clip.gif", torch.from_numpy(frames).float().div(255).unsqueeze(1))
    return path, frames


@pytest.mark.parametrize("arch", ["simvp", "layered"])
def test_predict_writes_a_gif_with_its_recipe_and_replays(arch, models, clip_gif, tmp_path, capsys):
    clip, _ = clip_gif
    out = tmp_path / "future.gif"
    args = ["predict", str(models[arch]), "--context", str(clip), "--frames", "4", "--out", str(out)]
    assert main(args) == 0
    video = read_video(out)
    assert video.frames.shape == (4, 64, 64, 1)
    recipe = read_recipe(out)
    assert recipe["architecture"] == arch and recipe["frames"] == 4 and recipe["input"] == "clip.gif"
    first = out.read_bytes()
    assert main(args) == 0 and out.read_bytes() == first  # same input, same bytes
    assert main(["replay", str(out), "--model", str(models[arch])]) == 0
    assert main(["info", str(out)]) == 0
    assert "model_id" in capsys.readouterr().out


def test_predicted_frames_equal_the_pipeline_and_saved_weights(models, clip_gif, tmp_path):
    import aigc
    from aigc.core.modeldir import load_weights, read_config, split_prefix
    from aigc.video.objectives import SimVPObjective
    from aigc.video.simvp import SimVPConfig

    pipe = aigc.load(models["simvp"], device="cpu")
    _, frames = clip_gif
    context = torch.from_numpy(frames).float().div(255).unsqueeze(1)
    pred = pipe.predict(context, frames=4)
    fresh = SimVPObjective(SimVPConfig(**read_config(models["simvp"])["model"]))
    fresh.nets["model"].load_state_dict(split_prefix(load_weights(models["simvp"] / "model.safetensors"), "model"))
    fresh.nets["model"].eval()
    torch.testing.assert_close(pred, fresh.predict(fresh.nets, context[None], 4)[0])
    out = tmp_path / "f.gif"
    assert main(["generate", str(models["simvp"]), "--context", str(clip_gif[0]), "--frames", "4",
                 "--out", str(out), "--no-watermark"]) == 0
    got = read_video(out).frames[..., 0].astype(np.float32) / 255
    np.testing.assert_allclose(got, pred[:, 0].numpy(), atol=0.5 / 255 + 1e-6)


def test_interpolate_inserts_predicted_middle_frames(models, clip_gif, tmp_path):
    import aigc

    clip, frames = clip_gif
    out = tmp_path / "smooth.mp4"
    assert main(["interpolate", str(models["interp"]), str(clip), "--factor", "2", "--out", str(out)]) == 0
    video = read_video(out)
    assert video.frames.shape[0] == 19
    # read with ffmpeg's ffmetadata muxer: the stderr banner that core's MP4 reader parses cuts
    # long values (reported to the lead)
    assert json.loads(video.metadata["comment"])["factor"] == 2
    pipe = aigc.load(models["interp"], device="cpu")
    x = torch.from_numpy(frames).float().div(255).unsqueeze(1)
    smooth = pipe.interpolate(x, factor=4)
    assert smooth.shape == (37, 1, 64, 64)
    torch.testing.assert_close(smooth[0::4], x)  # the input frames are kept
    mids = pipe.objective.middle(pipe.nets, x[:-1], x[1:])
    torch.testing.assert_close(smooth[2::4], mids)  # the middles are the network's, not a blend
    assert not torch.allclose(mids, 0.5 * (x[:-1] + x[1:]), atol=1e-2)


def test_every_video_output_carries_the_watermark(models, clip_gif, tmp_path):
    from aigc.tools.provenance.verify import payload_hex_of, verify

    clip, _ = clip_gif
    predict = ["predict", str(models["simvp"]), "--context", str(clip), "--frames", "4"]
    for name in ("future.webm", "frames", "future.gif"):
        out = tmp_path / name
        assert main([*predict, "--out", str(out)]) == 0
        verdict = verify(out)
        assert verdict.found and verdict.detection.payload == payload_hex_of(verdict.model_id), name
        assert verdict.recipe["watermark"]["scheme"].startswith("aigc-dct-qim"), name
    assert sorted(f.name for f in (tmp_path / "frames").iterdir())[-1] == "frame_00003.png"
    assert verify(tmp_path / "frames" / "frame_00002.png").found  # one frame alone is an image mark
    assert main([*predict, "--out", str(tmp_path / "plain"), "--no-watermark"]) == 0
    assert not verify(tmp_path / "plain").found
    assert main([*predict, "--out", str(tmp_path / "plain.webm"), "--no-watermark"]) == 0
    assert not verify(tmp_path / "plain.webm").found
    smooth = tmp_path / "smooth.webm"
    assert main(["interpolate", str(models["interp"]), str(clip), "--out", str(smooth)]) == 0
    assert verify(smooth).found and read_recipe(smooth)["factor"] == 2


def test_conv_translator_trains_in_bf16_and_predicts(models, clip_gif, tmp_path, capsys):
    out = tmp_path / "conv"
    assert main(["train", "video", "--arch", "simvp", "--translator", "conv", "--precision", "bf16", *TRAIN,
                 "--layers", "1", "--out", str(out)]) == 0
    stored = json.loads((out / "config.json").read_text())
    assert stored["model"]["translator"] == "conv" and stored["model"]["hid_s"] == 64
    assert stored["train"]["precision"] == "bf16"
    assert main(["predict", str(out), "--context", str(clip_gif[0]), "--frames", "3",
                 "--out", str(tmp_path / "f.gif")]) == 0
    assert len(read_video(tmp_path / "f.gif")) == 3
    capsys.readouterr()
    assert main(["train", "video", "--arch", "interp", "--translator", "conv", *TRAIN,
                 "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err.strip()
    assert "--translator is a simvp setting" in err and len(err.splitlines()) == 1


def test_bad_inputs_end_with_one_line(models, clip_gif, tmp_path, capsys):
    bad = tmp_path / "bad.gif"
    bad.write_bytes(b"GIF89a broken")
    assert main(["predict", str(models["simvp"]), "--context", str(bad), "--out", str(tmp_path / "x.gif")]) == 2
    err = capsys.readouterr().err.strip()
    assert "bad.gif" in err and len(err.splitlines()) == 1
    assert main(["predict", str(models["interp"]), "--context", str(clip_gif[0]),
                 "--out", str(tmp_path / "x.gif")]) == 2
    assert "aigc interpolate" in capsys.readouterr().err
    assert main(["interpolate", str(models["simvp"]), str(clip_gif[0]), "--out", str(tmp_path / "y.gif")]) == 2


def test_eval_video_reports_copy_last_and_models(models, digit_bank, monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("AIGC_DATA_DIR", str(tmp_path / "nodata"))
    monkeypatch.setattr(mm, "load_digits", lambda split, source="mnist": (digit_bank, np.arange(10)))
    report = tmp_path / "r.json"
    assert main(["eval", "video", "--model", str(models["simvp"]), "--model", str(models["interp"]),
                 "--test-size", "3", "--json", str(report)]) == 0
    data = json.loads(report.read_text())
    frames = mm.test_set(3, images=digit_bank).astype(np.float64) / 255
    copy = np.repeat(frames[:, 9:10], 10, axis=1)
    expected = np.mean((copy - frames[:, 10:]) ** 2, axis=(0, 1)).sum()
    assert data["copy_last_frame"]["mse"] == pytest.approx(expected, rel=1e-6)  # frames go through float32
    assert len(data[str(models["simvp"])]["mse_per_step"]) == 10
    assert "blend_psnr" in data[str(models["interp"])]


def test_generate_class_conditional_clips(models, tmp_path, capsys):
    out = tmp_path / "clip.gif"
    args = ["generate", str(models["diffusion"]), "--frames", "6", "--prompt", "seven", "--n", "2",
            "--steps", "4", "--out", str(out)]
    assert main(args) == 0
    video = read_video(out)
    assert video.frames.shape[:3] == (6, 32, 2 * 32 + 1)  # two clips side by side, 1-px gap
    recipe = read_recipe(out)
    assert recipe["label"] == 7 and recipe["frames"] == 6 and recipe["architecture"] == "diffusion"
    first = out.read_bytes()
    assert main(args) == 0 and out.read_bytes() == first
    assert main([*args[:-2], "--seed", "1", "--out", str(tmp_path / "other.gif")]) == 0
    assert (tmp_path / "other.gif").read_bytes() != first
    capsys.readouterr()
    assert main(["generate", str(models["diffusion"]), "--prompt", "eleven", "--out", str(out)]) == 2
    assert "unknown class 'eleven'" in capsys.readouterr().err
    assert main([*args[:-2], "--eta", "2", "--out", str(tmp_path / "bad.gif")]) == 2
    assert "--eta must be between 0" in capsys.readouterr().err and not (tmp_path / "bad.gif").exists()


def test_generated_clip_replays_after_the_sampling_defaults_change(models, tmp_path, monkeypatch, capsys):
    """The recipe records the sampling flags the command left to defaults, so replay reruns them."""
    from aigc.video import cli as video_cli

    out = tmp_path / "clip.gif"
    assert main(["generate", str(models["diffusion"]), "--frames", "4", "--steps", "3", "--out", str(out)]) == 0
    recipe = read_recipe(out)
    argv = recipe["replay"]["argv"]
    assert argv[argv.index("--guidance") + 1] == str(video_cli.GUIDANCE)
    assert argv[argv.index("--eta") + 1] == str(video_cli.ETA) and argv.count("--steps") == 1
    assert recipe["eta"] == video_cli.ETA
    # a later version samples with other defaults: the file still replays byte for byte
    monkeypatch.setattr(video_cli, "generate_parser", lambda d, real=video_cli.generate_parser: _patched(real(d)))
    later = tmp_path / "later.gif"
    assert main(["generate", str(models["diffusion"]), "--frames", "4", "--steps", "3", "--out", str(later)]) == 0
    assert read_recipe(later)["guidance"] == 0.5 and later.read_bytes() != out.read_bytes()  # defaults moved
    capsys.readouterr()
    assert main(["replay", str(out), "--model", str(models["diffusion"])]) == 0
    assert "byte-identical" in capsys.readouterr().out


def _patched(parser):
    for action in parser._actions:
        if action.dest in ("guidance", "eta"):
            action.default = 0.5
    return parser


def test_eval_video_scores_generation_in_classifier_features(models, digit_bank, monkeypatch, tmp_path):
    monkeypatch.setattr(mm, "load_digits", lambda split, source="mnist": (digit_bank, np.arange(10)))
    report = tmp_path / "g.json"
    assert main(["eval", "video", "--model", str(models["diffusion"]), "--features",
                 str(models["clip-classifier"]), "--n", "12", "--steps", "2", "--json", str(report)]) == 0
    scores = json.loads(report.read_text())[str(models["diffusion"])]
    assert scores["fvd_classifier"] >= 0 and scores["fvd_floor_real_vs_real"] >= 0
    assert 0 <= scores["conditional_accuracy"] <= 1 and "copy_last_frame" not in json.loads(report.read_text())
    assert main(["eval", "video", "--model", str(models["diffusion"])]) == 2  # needs --features


def test_real_clips_are_pooled_one_digit_sequences(digit_bank, monkeypatch):
    from aigc.video.evaluate import real_clips

    monkeypatch.setattr(mm, "load_digits", lambda split, source="mnist": (digit_bank, np.arange(10)))
    clips, labels = real_clips(3, 5, frames=4, size=32, offset=2)
    spec = mm.sample_sequences(5, 10, 5, frames=4, n_digits=1, labels=np.arange(10))
    full = mm.render_numpy(spec, digit_bank)[2:].astype(np.float64) / 255
    pooled = full.reshape(3, 4, 32, 2, 32, 2).mean(axis=(3, 5))
    np.testing.assert_allclose(clips[:, :, 0].numpy(), pooled, atol=1e-6)
    np.testing.assert_array_equal(labels.numpy(), spec.labels[2:, 0])


@pytest.mark.parametrize("fast_bf16", [False, True])
def test_demo_writes_the_files_its_html_names(tmp_path, monkeypatch, fast_bf16):
    import re

    from aigc.video import demo

    monkeypatch.setattr(demo, "_data_source", lambda: "moving-digits")
    monkeypatch.setattr("aigc.core.device.cpu_has_fast_bf16", lambda: fast_bf16)
    recipe = demo._PREDICT_BF16 if fast_bf16 else demo._PREDICT
    monkeypatch.setitem(recipe, "steps", 2)
    monkeypatch.setitem(recipe, "width", 16)
    monkeypatch.setitem(demo._INTERP, "steps", 2)
    report = demo.run(tmp_path, seed=0)
    assert f"after {recipe['seconds']} CPU-seconds" in report["html"]
    import aigc

    config = aigc.load(tmp_path / "models" / "simvp", device="cpu").objective.config
    assert config.translator == recipe.get("translator", "tau") and config.hid_t == 16
    names = set(re.findall(r"src='([^']+)'", report["html"]))
    assert names == {"video_sheet.png", "video_prediction.gif", "video_interpolation.gif"}
    for name in names:
        assert (tmp_path / name).stat().st_size > 0
    assert read_video(tmp_path / "video_interpolation.gif").frames.shape[0] == 19
    assert report["figures"]["copy_last_clip_mse"] > 0


def test_load_clip_converts_colour_and_size(models, tmp_path):
    import aigc
    from PIL import Image

    folder = tmp_path / "frames"
    folder.mkdir()
    for t in range(3):
        rgb = np.zeros((32, 32, 3), np.uint8)
        rgb[8:16, 4 * t:4 * t + 8] = (255, 255, 255)
        Image.fromarray(rgb).save(folder / f"{t}.png")
    pipe = aigc.load(models["simvp"], device="cpu")
    clip, fps = pipe.load_clip(folder)
    assert clip.shape == (3, 1, 64, 64) and fps == 10.0
    assert clip[1, 0, 18:30, 10:22].min() > 0.9 and clip[1, 0, 40:].max() < 0.1  # white box, x2 bilinear
    with pytest.raises(Exception, match="10 context frames"):
        pipe.predict(clip, frames=2)
