"""GPT-2 import: a tiny random Hugging Face GPT2LMHeadModel saved locally, converted, same logits."""

from __future__ import annotations

import pytest
import torch

from aigc.core.errors import BadInputError
from aigc.text.hf_import import convert_gpt2
from aigc.text.tokenizer import train_bpe_tokenizer

transformers = pytest.importorskip("transformers", reason="transformers is needed to build the reference GPT-2")


@pytest.fixture(scope="module")
def hf_dir(tmp_path_factory):
    tok = train_bpe_tokenizer(["the quick brown fox jumps over the lazy dog\n" * 40], vocab_size=300)
    config = transformers.GPT2Config(vocab_size=tok.vocab_size, n_positions=64, n_embd=32, n_layer=2,
                                     n_head=4, resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0)
    torch.manual_seed(0)
    model = transformers.GPT2LMHeadModel(config).eval()
    with torch.no_grad():  # random LayerNorm affine and biases, so every mapped tensor matters
        for name, p in model.named_parameters():
            if p.dim() == 1:
                p.normal_(0.0 if name.endswith("bias") else 1.0, 0.1)
    path = tmp_path_factory.mktemp("hf") / "gpt2-tiny"
    model.save_pretrained(path, safe_serialization=True)
    tok.save(path)
    return path, model


def test_gpt2_logits_match(hf_dir, tmp_path):
    import aigc

    src, model = hf_dir
    out = convert_gpt2(src, tmp_path / "converted")
    pipe = aigc.load(str(out), device="cpu")
    ids = torch.randint(0, model.config.vocab_size, (3, 40), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        ref = model(ids).logits
        ours = pipe.nets["model"](ids)
    assert ours.shape == ref.shape
    torch.testing.assert_close(ours, ref, atol=1e-5, rtol=1e-5)
    text = pipe.generate("the quick", max_tokens=5, temperature=0)
    assert isinstance(text, str)


def test_gpt2_import_refuses_pickles_and_bad_dirs(tmp_path):
    (tmp_path / "config.json").write_text('{"model_type": "gpt2"}', encoding="utf-8")
    (tmp_path / "pytorch_model.bin").write_bytes(b"not read")
    with pytest.raises(BadInputError, match="safe_serialization"):
        convert_gpt2(tmp_path, tmp_path / "out")
    with pytest.raises(BadInputError, match="no config.json"):
        convert_gpt2(tmp_path / "nowhere", tmp_path / "out")


def test_import_command_converts_and_reports_bad_dirs(hf_dir, tmp_path, capsys):
    from aigc.cli import main

    src, _ = hf_dir
    assert main(["import", "gpt2", str(src), str(tmp_path / "cli")]) == 0
    assert (tmp_path / "cli" / "model.safetensors").is_file() and (tmp_path / "cli" / "tokenizer.json").is_file()
    assert main(["import", "gpt2", str(tmp_path / "nowhere"), str(tmp_path / "x")]) == 2
    assert "no config.json" in capsys.readouterr().err
