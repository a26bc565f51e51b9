"""Sampling: KV cache exactness, greedy equivalences, seeds, top-k/top-p/penalty formulas, beams,
stop strings, streaming and batched prompts."""

from __future__ import annotations

import pytest
import torch

from aigc.core.errors import BadInputError
from aigc.text.sampling import SamplingParams, TokenSampler, process_logits


def _greedy_ids(pipe, prompts, n, use_cache):
    params = SamplingParams(max_tokens=n, temperature=0, use_cache=use_cache)
    rows = [pipe.tokenizer.encode(p) for p in prompts]
    sampler = TokenSampler(pipe.objective.decoder(pipe.nets, use_cache=use_cache), rows, params, None,
                           set())
    return torch.stack([t for t, _ in sampler], dim=1)


@pytest.mark.parametrize("n", [10, 45])  # 45 runs past the 32-token context (sliding window)
def test_kv_cache_and_no_cache_give_identical_greedy_tokens(gpt_pipe, n):
    prompts = ["the quick", "pack my box with five"]  # different lengths: left padding
    cached = _greedy_ids(gpt_pipe, prompts, n, True)
    uncached = _greedy_ids(gpt_pipe, prompts, n, False)
    assert cached.shape == (2, n)
    assert torch.equal(cached, uncached)


def test_cached_logits_match_full_forward(gpt_pipe):
    net = gpt_pipe.nets["model"]
    ids = torch.tensor([gpt_pipe.tokenizer.encode("the lazy dog jumps")])
    dec = gpt_pipe.objective.decoder(gpt_pipe.nets, use_cache=True)
    dec.prefill([ids[0, :5].tolist()])
    for i in range(5, ids.shape[1]):
        step = dec.step(ids[:, i])
        torch.testing.assert_close(step, net(ids[:, :i + 1])[:, -1], atol=1e-5, rtol=1e-5)


def test_batched_prompts_equal_one_at_a_time(gpt_pipe):
    prompts = ["the quick", "pack my box with five", "x"]
    batch = gpt_pipe.generate(prompts, max_tokens=12, temperature=0)
    assert batch == [gpt_pipe.generate(p, max_tokens=12, temperature=0) for p in prompts]


def test_top_k_1_and_beam_width_1_equal_greedy(gpt_pipe):
    greedy = gpt_pipe.generate("the quick", max_tokens=20, temperature=0)
    assert gpt_pipe.generate("the quick", max_tokens=20, top_k=1, seed=5) == greedy
    assert gpt_pipe.generate("the quick", max_tokens=20, num_beams=1, temperature=0) == greedy
    beam1 = gpt_pipe.generate("the quick", max_tokens=20, num_beams=2, length_penalty=0.0)
    assert isinstance(beam1, str) and beam1


def test_beam_search_width_1_in_beam_code_equals_greedy(gpt_pipe):
    from aigc.text.sampling import beam_search

    row = gpt_pipe.tokenizer.encode("pack my")
    params = SamplingParams(max_tokens=15, num_beams=1)
    ids = beam_search(gpt_pipe.objective.decoder(gpt_pipe.nets), row, params, set())
    greedy = _greedy_ids(gpt_pipe, ["pack my"], 15, True)[0].tolist()
    assert ids == greedy


def test_beam_search_finds_at_least_greedy_likelihood(gpt_pipe):
    from aigc.text.sampling import beam_search

    row = gpt_pipe.tokenizer.encode("the")
    net = gpt_pipe.nets["model"]

    def logp(cont):
        ids = torch.tensor([row + cont])
        lp = net(ids[:, :-1]).log_softmax(-1)[0, len(row) - 1:]
        return float(lp.gather(-1, torch.tensor(cont)[:, None]).sum().detach())

    greedy = _greedy_ids(gpt_pipe, ["the"], 8, True)[0].tolist()
    beam = beam_search(gpt_pipe.objective.decoder(gpt_pipe.nets), row,
                       SamplingParams(max_tokens=8, num_beams=4, length_penalty=0.0), set())
    assert len(beam) == 8 and logp(beam) >= logp(greedy) - 1e-5


def test_same_seed_same_text_and_temperature_changes_it(gpt_pipe):
    a = gpt_pipe.generate("the", max_tokens=40, seed=11, top_p=0.95)
    assert a == gpt_pipe.generate("the", max_tokens=40, seed=11, top_p=0.95)
    assert a != gpt_pipe.generate("the", max_tokens=40, seed=12, top_p=0.95)


def test_process_logits_against_formulas():
    logits = torch.tensor([[2.0, 1.0, 0.5, -1.0, -3.0]])
    p = SamplingParams(top_k=2)
    out = process_logits(logits, None, p)
    assert torch.isinf(out[0, 2:]).all() and torch.equal(out[0, :2], logits[0, :2])
    # top-p: the smallest set whose probability reaches p, in descending order
    probs = logits.softmax(-1)[0]
    for top_p in (0.3, 0.7, 0.9, 0.99):
        kept = torch.isfinite(process_logits(logits, None, SamplingParams(top_p=top_p)))[0]
        k = int((probs.cumsum(0) < top_p).sum()) + 1
        assert kept.tolist() == [i < k for i in range(5)], top_p
    # repetition penalty (Keskar et al. 2019): divide positive, multiply negative logits of seen tokens
    seen = torch.tensor([[True, False, False, True, False]])
    out = process_logits(logits, seen, SamplingParams(repetition_penalty=2.0))
    assert out.tolist() == [[1.0, 1.0, 0.5, -2.0, -3.0]]
    out = process_logits(logits, None, SamplingParams(temperature=0.5))
    torch.testing.assert_close(out, logits / 0.5)


def test_repetition_penalty_reduces_repeats(gpt_pipe):
    def distinct(text):
        return len(set(text)) / max(1, len(text))

    plain = gpt_pipe.generate("the", max_tokens=60, temperature=0)
    penalised = gpt_pipe.generate("the", max_tokens=60, temperature=0, repetition_penalty=5.0)
    assert distinct(penalised) > distinct(plain)


def test_stop_strings_and_max_tokens(gpt_pipe):
    full = gpt_pipe.generate("the", max_tokens=60, seed=1)
    assert len(gpt_pipe.tokenizer.encode(full)) <= 60
    stop = full[10:12]
    cut = gpt_pipe.generate("the", max_tokens=60, seed=1, stop=[stop])
    assert cut == full[:full.index(stop)]
    assert "".join(gpt_pipe.stream("the", max_tokens=60, seed=1, stop=[stop])) == cut


def test_stream_pieces_join_to_generate(gpt_pipe):
    pieces = list(gpt_pipe.stream("the quick", max_tokens=30, seed=2))
    assert len(pieces) > 1
    assert "".join(pieces) == gpt_pipe.generate("the quick", max_tokens=30, seed=2)


@pytest.mark.parametrize("bad", [{"temperature": -1}, {"top_p": 0}, {"top_k": 0}, {"max_tokens": 0},
                                 {"num_beams": 0}, {"stop": [""]}, {"nucleus": 0.9}])
def test_bad_parameters_are_clear_errors(gpt_pipe, bad):
    with pytest.raises(BadInputError):
        gpt_pipe.generate("the", **bad)


def test_fast_step_is_bit_identical_to_the_module_forward(gpt_pipe):
    """The written-out one-token step (no per-module overhead) computes exactly the network's
    cached forward: padded and unpadded rows, every step, bit for bit."""
    from aigc.nn.transformer import causal_mask
    from aigc.text.gpt import FastStep, fast_step_ok, new_cache

    net = gpt_pipe.nets["model"]
    assert fast_step_ok(net)
    step = FastStep(net)
    torch.manual_seed(0)
    tokens = torch.randint(0, net.config.vocab_size, (3, 20))
    valid = torch.ones(3, 20, dtype=torch.bool)
    valid[1, :4] = valid[2, :9] = False  # left padding
    for key_valid in (None, valid):
        caches = [new_cache(net.config, 3, torch.device("cpu"), torch.float32) for _ in range(2)]
        with torch.no_grad():
            for c in caches:
                net(tokens[:, :8], cache=c, key_valid=None if key_valid is None else key_valid[:, :8])
            for t in range(8, 20):
                kv = None if key_valid is None else key_valid[:, :t + 1]
                pos = torch.full((3, 1), t)
                full = net(tokens[:, t:t + 1], cache=caches[0], positions=pos, key_valid=kv)
                mask = None if kv is None else causal_mask(1, caches[1].length, kv, tokens.device)
                fast = step(tokens[:, t:t + 1], caches[1], pos, mask)
                assert torch.equal(full, fast) and caches[0].length == caches[1].length == t + 1


def test_fast_step_only_where_it_is_exact(gpt_pipe):
    from aigc.text.gpt import fast_step_ok

    net = gpt_pipe.nets["model"]
    handle = net.h[0].attn.register_forward_hook(lambda *a: None)  # e.g. attention maps: use the modules
    try:
        assert not fast_step_ok(net)
    finally:
        handle.remove()
    net.train()
    try:
        assert not fast_step_ok(net)  # dropout
    finally:
        net.eval()
    assert fast_step_ok(net) and not fast_step_ok(torch.nn.Linear(2, 2))
