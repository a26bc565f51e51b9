"""The text CLI end to end: train, generate (stdout, --out + recipe, --stream), chat from a pipe,
fine-tuning with frozen layers, dialogue training, and perplexity on a held-out file."""

from __future__ import annotations

import io
import json
import math

import pytest

from aigc.cli import main
from aigc.core.modeldir import read_config
from aigc.text.evaluate import perplexity

TINY = ["--context", "16", "--layers", "2", "--heads", "2", "--embed", "16"]
FAST = ["--steps", "8", "--batch-size", "4", "--device", "cpu", "--no-progress", "--lr", "3e-3"]


@pytest.fixture(scope="module")
def text_file(tmp_path_factory):
    f = tmp_path_factory.mktemp("data") / "corpus.txt"
    f.write_text("to be or not to be, that is the question.\n" * 40, encoding="utf-8")
    return f


@pytest.fixture(scope="module")
def cli_model(tmp_path_factory, text_file):
    out = tmp_path_factory.mktemp("runs") / "char"
    assert main(["train", "text", "--data", str(text_file), *TINY, *FAST, "--out", str(out)]) == 0
    return out


def test_train_writes_model_dir(cli_model):
    cfg = read_config(cli_model)
    assert cfg["task"] == "text" and cfg["architecture"] == "gpt" and cfg["model"]["context"] == 16
    assert (cli_model / "tokenizer.json").is_file() and (cli_model / "model.safetensors").is_file()


def test_generate_prints_text_and_recipe(cli_model, capsys):
    assert main(["generate", str(cli_model), "--prompt", "to be", "--max-tokens", "20", "--seed", "3",
                 "--top-p", "0.9"]) == 0
    out = capsys.readouterr()
    assert out.out.startswith("to be")
    recipe = json.loads(out.err.strip().splitlines()[-1])
    assert recipe["seed"] == 3 and recipe["top_p"] == 0.9 and len(recipe["model_id"]) == 16
    assert main(["generate", str(cli_model), "--prompt", "to be", "--max-tokens", "20", "--seed", "3",
                 "--top-p", "0.9", "--stream"]) == 0
    assert capsys.readouterr().out == out.out


def test_generate_out_writes_sidecar(cli_model, tmp_path, capsys):
    target = tmp_path / "story.txt"
    assert main(["generate", str(cli_model), "--prompt", "to", "--max-tokens", "10", "--out", str(target)]) == 0
    recipe = json.loads((tmp_path / "story.txt.json").read_text(encoding="utf-8"))
    assert target.read_text(encoding="utf-8").startswith("to")
    assert recipe["prompts"] == ["to"] and recipe["max_tokens"] == 10 and recipe["task"] == "text"


def test_chat_reads_piped_stdin(cli_model, monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", io.StringIO("hello\n\n/reset\nwho are you\n"))
    assert main(["chat", str(cli_model), "--max-tokens", "8", "--seed", "1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) >= 2 and "you>" not in "".join(lines)


def test_fine_tune_with_frozen_layers(cli_model, tmp_path, text_file):
    from safetensors.torch import load_file

    out = tmp_path / "tuned"
    assert main(["train", "text", "--data", str(text_file), "--init-from", str(cli_model),
                 "--freeze-layers", "1", *FAST, "--out", str(out)]) == 0
    before, after = load_file(str(cli_model / "model.safetensors")), load_file(str(out / "model.safetensors"))
    assert (before["model.h.0.attn.c_attn.weight"] == after["model.h.0.attn.c_attn.weight"]).all()
    assert (before["model.wte.weight"] == after["model.wte.weight"]).all()
    assert not (before["model.h.1.attn.c_attn.weight"] == after["model.h.1.attn.c_attn.weight"]).all()
    assert read_config(out)["init_from"] == str(cli_model)
    assert main(["train", "text", "--data", str(text_file), "--init-from", str(cli_model),
                 "--layers", "3", *FAST, "--out", str(tmp_path / "x")]) == 2


def test_train_on_dialogues(tmp_path, capsys):
    f = tmp_path / "chat.jsonl"
    turns = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello there"}]
    f.write_text("\n".join(json.dumps({"turns": turns}) for _ in range(30)) + "\n", encoding="utf-8")
    out = tmp_path / "bot"
    assert main(["train", "text", "--data", str(f), *TINY, *FAST, "--out", str(out)]) == 0
    assert read_config(out)["data"]["kind"] == "dialogue"
    import aigc

    reply = aigc.load(str(out), device="cpu").chat(turns[:1], max_tokens=10, seed=0)
    assert isinstance(reply, str) and "<|user|>" not in reply


def test_bad_utf8_is_one_line_error(tmp_path, capsys):
    f = tmp_path / "latin1.txt"
    f.write_bytes("caf\xe9 au lait".encode("latin-1"))
    assert main(["train", "text", "--data", str(f), *TINY, *FAST, "--out", str(tmp_path / "m")]) == 2
    err = capsys.readouterr().err
    assert "latin1.txt" in err and "byte offset 3" in err


def test_perplexity_matches_mean_nll(cli_model, text_file):
    import aigc
    import torch

    pipe = aigc.load(str(cli_model), device="cpu")
    result = perplexity(pipe, text_file)
    ids = torch.tensor(pipe.tokenizer.encode(text_file.read_text(encoding="utf-8")))
    assert result["tokens"] == len(ids) - 1
    # independent check: score each token from up to 16 previous tokens, window by window
    net, total = pipe.nets["model"], 0.0
    for start in range(0, len(ids) - 1, 16):
        chunk = ids[max(0, min(start, len(ids) - 17)):][:17]
        logp = net(chunk[None, :-1]).log_softmax(-1)[0]
        nll = -logp.gather(-1, chunk[1:, None])[:, 0]
        fresh = min(16, len(ids) - 1 - start)
        total += float(nll[-fresh:].sum().detach())
    assert math.isclose(result["nll_per_token"], total / result["tokens"], rel_tol=1e-4)
    assert math.isclose(result["perplexity"], math.exp(result["nll_per_token"]), rel_tol=1e-9)
    assert perplexity(str(cli_model), text_file, device="cpu")["perplexity"] == pytest.approx(result["perplexity"])


def test_same_seed_same_weights_and_exact_resume(tmp_path, text_file):
    from safetensors.torch import load_file

    common = ["--data", str(text_file), *TINY, "--batch-size", "4", "--device", "cpu", "--no-progress",
              "--checkpoint-every", "4"]
    assert main(["train", "text", *common, "--steps", "8", "--out", str(tmp_path / "a")]) == 0
    assert main(["train", "text", *common, "--steps", "4", "--out", str(tmp_path / "b")]) == 0
    assert main(["train", "text", *common, "--steps", "8", "--out", str(tmp_path / "b"), "--resume"]) == 0
    a, b = load_file(str(tmp_path / "a" / "model.safetensors")), load_file(str(tmp_path / "b" / "model.safetensors"))
    assert a.keys() == b.keys() and all((a[k] == b[k]).all() for k in a)
