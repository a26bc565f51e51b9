"""A Hugging Face VITS checkpoint through ``aigc speak``: a tiny randomly initialised config (no
download), saved with safetensors; same seed, same WAV bytes; pickled-only folders refused."""

from __future__ import annotations

import json

import numpy as np
import pytest

transformers = pytest.importorskip("transformers")

from aigc.audio.hf_tts import VitsSpeaker, is_hf_vits
from aigc.cli import main
from aigc.core.artifacts import read_recipe
from aigc.core.errors import BadInputError


@pytest.fixture(scope="module")
def vits_dir(tmp_path_factory):
    import torch
    from transformers import VitsConfig, VitsModel, VitsTokenizer

    root = tmp_path_factory.mktemp("vits")
    chars = ["<pad>", "<unk>", " ", *"abcdefghijklmnopqrstuvwxyz0123456789"]
    (root / "vocab.json").write_text(json.dumps({c: i for i, c in enumerate(chars)}))
    config = VitsConfig(vocab_size=len(chars), hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                        ffn_dim=32, flow_size=16, spectrogram_bins=33, upsample_initial_channel=16,
                        upsample_rates=[4, 4], upsample_kernel_sizes=[8, 8], resblock_kernel_sizes=[3],
                        resblock_dilation_sizes=[[1, 3]], prior_encoder_num_flows=1,
                        posterior_encoder_num_wavenet_layers=1, prior_encoder_num_wavenet_layers=1,
                        duration_predictor_num_flows=1, duration_predictor_filter_channels=16,
                        depth_separable_num_layers=1, sampling_rate=8000)
    torch.manual_seed(0)
    VitsModel(config).save_pretrained(root, safe_serialization=True)
    VitsTokenizer(str(root / "vocab.json"), phonemize=False, normalize=True).save_pretrained(root)
    return root


def test_vits_speaks_text_reproducibly(vits_dir, tmp_path):
    assert is_hf_vits(vits_dir) and not is_hf_vits(tmp_path)
    speaker = VitsSpeaker(vits_dir)
    a, b = speaker.speak("call 555", seed=1), speaker.speak("call 555", seed=1)
    assert a.ndim == 1 and a.size > 0 and np.isfinite(a).all() and np.array_equal(a, b)
    args = ["speak", str(vits_dir), "hello there", "--seed", "2", "--out", str(tmp_path / "x.wav")]
    assert main(args) == 0
    first = (tmp_path / "x.wav").read_bytes()
    assert main(args) == 0  # the recipe records the command line, so the same command gives the same bytes
    assert (tmp_path / "x.wav").read_bytes() == first
    recipe = read_recipe(tmp_path / "x.wav")
    assert recipe["architecture"] == "hf-vits" and recipe["text"] == "hello there" and recipe["seed"] == 2


def test_pickled_only_checkpoint_is_refused(vits_dir, tmp_path):
    (tmp_path / "config.json").write_text((vits_dir / "config.json").read_text())
    (tmp_path / "pytorch_model.bin").write_bytes(b"not unpickled")
    with pytest.raises(BadInputError, match="pickled .bin weights are refused"):
        VitsSpeaker(tmp_path)
