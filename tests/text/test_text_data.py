"""Tokenisers and corpora: round trips, special tokens, UTF-8 errors, dialogues, windows, split."""

from __future__ import annotations

import json

import pytest
import torch

from aigc.core.errors import BadInputError
from aigc.text.chat import chat_prompt, format_dialogue
from aigc.text.corpus import demo_corpus, lm_windows, load_corpus, read_text_file, split_tokens
from aigc.text.tokenizer import CHAT_TOKENS, EOS, TextTokenizer, train_bpe_tokenizer, train_char_tokenizer

TEXT = "Hello wörld — naïve café\n\nsecond line ✓\n"


def test_char_tokenizer_round_trip_and_one_token_per_char(tmp_path):
    tok = train_char_tokenizer([TEXT])
    ids = tok.encode(TEXT)
    assert len(ids) == len(TEXT)
    assert tok.decode(ids) == TEXT
    assert tok.vocab_size == len(set(TEXT)) + 6
    tok.save(tmp_path)
    again = TextTokenizer.from_file(tmp_path)
    assert again.encode(TEXT) == ids
    assert again.decode(again.encode("zq")) == "<|unk|><|unk|>"  # unseen characters


def test_bpe_round_trips_any_utf8_and_compresses():
    text = TEXT * 50
    tok = train_bpe_tokenizer([text], vocab_size=300)
    assert 256 + 6 < tok.vocab_size <= 300  # a tiny text may run out of merges
    ids = tok.encode(text)
    assert tok.decode(ids) == text
    assert len(ids) < len(text.encode("utf-8"))
    assert tok.decode(tok.encode("日本語 unseen 🙂")) == "日本語 unseen 🙂"  # byte fallback


def test_long_text_is_encoded_in_chunks_identically():
    text = ("line of text number one\n" * 4000)  # > 64 KiB
    tok = train_char_tokenizer([text])
    assert tok.encode(text) == [i for line in text.splitlines(keepends=True) for i in tok.encode(line)]


@pytest.mark.parametrize("kind", ["char", "bpe"])
def test_special_tokens_are_single_ids(kind):
    tok = train_char_tokenizer([TEXT]) if kind == "char" else train_bpe_tokenizer([TEXT], 300)
    for special in (EOS, *CHAT_TOKENS):
        assert tok.encode(special) == [tok.token_id(special)]
    prompt = chat_prompt([{"role": "user", "content": "hi"}])
    assert tok.encode(prompt)[0] == tok.token_id("<|user|>")
    assert tok.stop_ids(chat=True) == {tok.token_id(t) for t in (EOS, *CHAT_TOKENS)}
    assert tok.stop_ids() == {tok.token_id(EOS)}


def test_invalid_utf8_names_file_and_offset(tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_bytes("abc déf".encode() + b"\xff\xfe tail")
    with pytest.raises(BadInputError) as err:
        read_text_file(bad)
    offset = len("abc déf".encode())
    assert str(bad) in str(err.value) and f"byte offset {offset}" in str(err.value)
    assert "--errors replace" in str(err.value)
    assert read_text_file(bad, errors="replace") == "abc déf\ufffd\ufffd tail"


def test_folder_corpus_is_sorted_and_skips_hidden(tmp_path):
    (tmp_path / "b.txt").write_text("second", encoding="utf-8")
    (tmp_path / "a.txt").write_text("first", encoding="utf-8")
    (tmp_path / ".hidden.txt").write_text("no", encoding="utf-8")
    corpus = load_corpus(tmp_path)
    assert corpus.documents == ["first", "second"]
    with pytest.raises(BadInputError, match="does not exist"):
        load_corpus(tmp_path / "missing")


def test_dialogue_jsonl(tmp_path):
    turns = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]
    f = tmp_path / "d.jsonl"
    f.write_text(json.dumps({"turns": turns}) + "\n\n" + json.dumps({"turns": turns[:1]}) + "\n", encoding="utf-8")
    corpus = load_corpus(f)
    assert corpus.kind == "dialogue" and len(corpus.documents) == 2
    assert corpus.documents[0] == "<|user|>hi<|end|>\n<|assistant|>hello<|end|>\n<|endoftext|>\n"
    assert format_dialogue(turns) == corpus.documents[0]
    f.write_text('{"turns": [{"role": "robot", "content": "x"}]}\n', encoding="utf-8")
    with pytest.raises(BadInputError, match=r"d.jsonl:1: turn 0"):
        load_corpus(f)
    f.write_text("{not json\n", encoding="utf-8")
    with pytest.raises(BadInputError, match=r"d.jsonl:1: not valid JSON"):
        load_corpus(f)


def test_windows_are_views_of_every_offset_and_split_is_deterministic():
    ids = torch.arange(100)
    train, val = split_tokens(ids, 0.1)
    assert torch.equal(train, torch.arange(90)) and torch.equal(val, torch.arange(90, 100))
    w = lm_windows(train, 8)
    assert w.shape == (90 - 8, 9)
    assert torch.equal(w[5], torch.arange(5, 14))
    assert w.untyped_storage().data_ptr() == train.untyped_storage().data_ptr()  # no copy
    with pytest.raises(BadInputError, match="fewer than one window"):
        lm_windows(torch.arange(5), 8)


def test_demo_corpus_is_deterministic_english():
    text = demo_corpus()
    assert text == demo_corpus()
    assert len(text) > 100_000 and "the" in text


def test_dialogue_training_scores_only_the_assistant():
    from aigc.text.chat import assistant_mask
    from aigc.text.tokenizer import train_char_tokenizer
    from aigc.text.train import dialogue_weights

    turns = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"},
             {"role": "assistant", "content": "hello"}, {"role": "user", "content": "bye"},
             {"role": "assistant", "content": "ok"}]
    text = format_dialogue(turns)
    tok = train_char_tokenizer([text])
    ids = torch.tensor(tok.encode(text))
    weights = dialogue_weights(ids, tok)
    kept = tok.decode(ids[weights.bool()].tolist())
    assert kept == "hello<|end|>ok<|end|>"
    # an independent reference: walk the stream turn by turn
    roles = {r: tok.token_id(f"<|{r}|>") for r in ("system", "user", "assistant")}
    end, role, expected = tok.token_id("<|end|>"), None, []
    for t in ids.tolist():
        if t in roles.values():
            role, inside = t, True
            expected.append(0.0)
            continue
        expected.append(1.0 if role == roles["assistant"] and inside else 0.0)
        if t == end:
            inside = False
    assert weights.tolist() == expected
    assert assistant_mask(ids, roles, end).sum() == len("hello") + len("ok") + 2


def test_weighted_lm_loss_is_the_mean_over_kept_targets():
    import torch.nn.functional as F

    from aigc.text.gpt import GPTConfig
    from aigc.text.objective import GPTObjective

    torch.manual_seed(0)
    obj = GPTObjective(GPTConfig(vocab_size=11, context=8, layers=1, heads=2, embed=16))
    tokens = torch.randint(0, 11, (3, 9), generator=torch.Generator().manual_seed(1))
    weights = (torch.rand(3, 9, generator=torch.Generator().manual_seed(2)) > 0.5).float()
    full = obj.training_step(obj.nets, {"tokens": tokens}, None)["loss"]
    ones = obj.training_step(obj.nets, {"tokens": tokens, "weights": torch.ones(3, 9)}, None)["loss"]
    torch.testing.assert_close(ones, full)
    masked = obj.training_step(obj.nets, {"tokens": tokens, "weights": weights}, None)["loss"]
    logits = obj.logits(obj.nets["model"], tokens[:, :-1])
    nll = F.cross_entropy(logits.flatten(0, 1), tokens[:, 1:].flatten(), reduction="none")
    keep = weights[:, 1:].flatten().bool()
    torch.testing.assert_close(masked, nll[keep].mean())
