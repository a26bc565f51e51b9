"""`aigc eval` / `aigc metrics` handlers and the evaluation reports, on tiny data made here."""

from __future__ import annotations

import json

import numpy as np
import pytest
sacrebleu = pytest.importorskip("sacrebleu", reason="BLEU needs the aigc[metrics] extra")
import torch
from PIL import Image

from aigc.core.errors import BadInputError
from aigc.core.paths import data_dir
from aigc.metrics import frechet_distance, psnr, ssim
from aigc.cli import build_parser
from aigc.metrics.evaluate import evaluate_images
from aigc.metrics.feature_net import FeatureNet, FeatureNetConfig
from aigc.metrics.features import FeatureExtractor


def _run(argv: list[str]) -> int:
    args = build_parser(argv).parse_args(argv)
    return args.func(args)


def _random_extractor() -> FeatureExtractor:
    with torch.random.fork_rng():
        torch.manual_seed(0)
        net = FeatureNet(FeatureNetConfig(num_classes=4))
    return FeatureExtractor("toy", net, channels=1, image_size=28, sha256="0" * 64,
                            features_fn=net.features, logits_fn=net)


def test_evaluate_images_report_states_features() -> None:
    g = torch.Generator().manual_seed(0)
    real, fake = torch.rand(24, 1, 28, 28, generator=g), torch.rand(20, 1, 28, 28, generator=g) * 0.5
    fx = _random_extractor()
    report = evaluate_images(real, fake, fx, fake_labels=torch.arange(20) % 4, kid_subsets=3, kid_subset_size=10)
    assert report["features"]["sha256"] == "0" * 64 and report["features"]["name"] == "toy"
    assert report["fid"] == pytest.approx(frechet_distance(fx.features(real), fx.features(fake)))
    assert sum(report["class_coverage"]["histogram"]) == 20 and 0 <= report["conditional_accuracy"] <= 1
    assert {"kid", "precision", "recall", "inception_score"} <= set(report)
    with pytest.raises(BadInputError):
        evaluate_images(real * 2, fake, fx)


def test_real_images_take_the_fake_images_resampling_path() -> None:
    from aigc.data.transforms import resize

    g = torch.Generator().manual_seed(0)
    real = (torch.rand(40, 1, 28, 28, generator=g) > 0.8).float()  # sharp: resampling changes them
    fake = resize(real, 32)  # the real images themselves, as a 32-px model would have to draw them
    fx = _random_extractor()
    report = evaluate_images(real, fake, fx, kid_subsets=2, kid_subset_size=10)
    assert report["real_resized_to"] == [32, 32]
    assert report["fid"] == pytest.approx(0.0, abs=1e-3)  # identical after the same path
    assert frechet_distance(fx.features(real), fx.features(fake)) > 0.1  # what comparing across sizes gave


def test_eval_restore_cli(tmp_path, capsys) -> None:
    rng = np.random.default_rng(0)
    (tmp_path / "gt").mkdir()
    (tmp_path / "pred").mkdir()
    gts, preds = [], []
    for i in range(2):
        gt = rng.integers(0, 256, (26, 24, 3), dtype=np.uint8)
        pred = np.clip(gt.astype(int) + rng.integers(-12, 13, gt.shape), 0, 255).astype(np.uint8)
        Image.fromarray(gt).save(tmp_path / "gt" / f"im{i}.png")
        Image.fromarray(pred[:24]).save(tmp_path / "pred" / f"im{i}.png")  # GT 26 rows mod-cropped to 24
        gts.append(torch.from_numpy(gt[:24]).permute(2, 0, 1).double() / 255)
        preds.append(torch.from_numpy(pred[:24]).permute(2, 0, 1).double() / 255)
    out = tmp_path / "r.json"
    assert _run(["eval", "restore", "--gt", str(tmp_path / "gt"), "--pred", str(tmp_path / "pred"),
                 "--scale", "4", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    gt_t, pred_t = torch.stack(gts), torch.stack(preds)
    assert report["psnr_y"] == pytest.approx(psnr(pred_t, gt_t, y_channel=True, shave=4))
    assert report["ssim_rgb"] == pytest.approx(ssim(pred_t, gt_t, shave=4))
    assert "psnr_y" in capsys.readouterr().out
    (tmp_path / "gt" / "extra.png").write_bytes((tmp_path / "gt" / "im0.png").read_bytes())
    with pytest.raises(BadInputError, match="no prediction"):
        _run(["eval", "restore", "--gt", str(tmp_path / "gt"), "--pred", str(tmp_path / "pred")])


def test_eval_text_cli(tmp_path) -> None:
    hyps, refs = ["the cat sat on the mat", "a dog ran"], ["the cat is on the mat", "a dog runs"]
    (tmp_path / "h.txt").write_text("\n".join(hyps) + "\n", encoding="utf-8")
    (tmp_path / "r.txt").write_text("\n".join(refs) + "\n", encoding="utf-8")
    out = tmp_path / "t.json"
    assert _run(["eval", "text", "--hyps", str(tmp_path / "h.txt"), "--refs", str(tmp_path / "r.txt"),
                 "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["bleu"] == pytest.approx(sacrebleu.corpus_bleu(hyps, [refs]).score)
    assert report["distinct_1"] == pytest.approx(8 / 9)
    (tmp_path / "bad.txt").write_bytes(b"\xff\xfe bad")
    with pytest.raises(BadInputError, match="invalid UTF-8 at byte offset 0.*--errors replace"):
        _run(["eval", "text", "--hyps", str(tmp_path / "bad.txt")])
    # the flag the message suggests exists and works
    assert _run(["eval", "text", "--hyps", str(tmp_path / "bad.txt"), "--errors", "replace"]) == 0
    with pytest.raises(BadInputError, match="is a directory"):
        _run(["eval", "text", "--hyps", str(tmp_path)])


def test_help_explains_each_metric(capsys) -> None:
    for kind, words in (("images", ["fid", "kid", "precision", "recall"]), ("restore", ["psnr_y", "ssim_y"]),
                        ("text", ["bleu", "self_bleu", "distinct_n"])):
        with pytest.raises(SystemExit):
            _run(["eval", kind, "--help"])
        text = capsys.readouterr().out
        assert all(w in text for w in words)


def test_eval_images_needs_features_for_folders(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("AIGC_CACHE_DIR", str(tmp_path))
    with pytest.raises(BadInputError, match="--features"):
        _run(["eval", "images", "--real", f"folder:{tmp_path}", "--fake", str(tmp_path)])
    with pytest.raises(BadInputError, match="train-features"):
        _run(["eval", "images", "--real", "digits", "--fake", "digits", "--n", "50"])


@pytest.mark.skipif(not (data_dir("mnist") / "mnist" / "t10k-images-idx3-ubyte.gz").is_file(),
                    reason="MNIST idx files not in the data dir (set AIGC_DATA_DIR)")
def test_real_mnist_class_coverage_with_toy_features() -> None:
    from aigc.data.images import load_image_source

    real = load_image_source("mnist", split="test").images[:64]
    report = evaluate_images(real[:32], real[32:], _random_extractor(), kid_subsets=2, kid_subset_size=16)
    assert np.isfinite(report["fid"]) and report["n_real"] == 32
