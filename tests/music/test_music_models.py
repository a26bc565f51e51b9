"""The three music models: shapes, gradients, autoregressive structure, caches, learning."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from aigc.data.music import EventVocab, pitches_to_roll, roll_to_events, transpose
from aigc.metrics.music import framewise_nll
from aigc.music.augment import (
    random_transpose_rolls,
    random_transpose_tokens,
    random_transpose_voices,
)
from aigc.music.frame import FrameConfig, FrameObjective
from aigc.music.infill import InfillConfig, InfillObjective, random_erase
from aigc.music.sampling import gibbs_infill, sample_events, sample_frames, top_p_filter
from aigc.music.transformer import EventConfig, EventObjective


class Ctx:
    def __init__(self, seed: int = 0) -> None:
        self.generator = torch.Generator().manual_seed(seed)


def _rolls(n: int = 4, t: int = 12, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    roll = torch.zeros(n, t, 88)
    keys = torch.randint(30, 60, (n, t, 3), generator=g)
    roll.scatter_(2, keys, 1.0)
    return roll


def _train(objective, batch, steps: int = 30, lr: float = 3e-3) -> tuple[float, float]:
    torch.manual_seed(0)
    opt = objective.configure_optimizers(objective.networks(), lr)["model"]
    losses = []
    for _ in range(steps):
        loss = objective.training_step(objective.networks(), batch, Ctx())["loss"]
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    return losses[0], losses[-1]


def _grads_reach_every_parameter(objective, batch) -> None:
    loss = objective.training_step(objective.networks(), batch, Ctx())["loss"]
    assert torch.isfinite(loss)
    loss.backward()
    for name, p in objective.networks()["model"].named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def _frame():
    torch.manual_seed(0)
    return FrameObjective(FrameConfig(hidden=24, layers=1, nade_hidden=16, dropout=0.0, input_dropout=0.0,
                                      transpose=0))


def test_frame_nade_is_autoregressive_over_keys_and_time():
    obj = _frame()
    net = obj.networks()["model"].eval()
    roll = _rolls(1, 6)
    base = net(roll)
    changed = roll.clone()
    changed[0, 3, 50] = 1 - changed[0, 3, 50]
    out = net(changed)
    # earlier steps, key 50 of step 3 and the keys above it are unaffected (keys go top-down);
    # lower keys and later steps move
    assert torch.equal(out[0, :3], base[0, :3]) and torch.equal(out[0, 3, 50:], base[0, 3, 50:])
    assert not torch.allclose(out[0, 3, :50], base[0, 3, :50])
    assert not torch.allclose(out[0, 4:], base[0, 4:])


def test_frame_nade_normalises_over_chords():
    # with only 3 keys left free (others forced 0 by zero probability), the 8 chords' probabilities
    # from the NADE's conditional logits sum to 1: the output is one joint distribution per step
    obj = _frame()
    net = obj.networks()["model"].eval()
    with torch.no_grad():
        net.to_b.bias[:] = -1e4
        net.to_b.bias[[40, 44, 47]] = 0.0
    total = 0.0
    for bits in range(8):
        roll = torch.zeros(1, 1, 88)
        for j, k in enumerate((40, 44, 47)):
            roll[0, 0, k] = (bits >> j) & 1
        total += math.exp(-framewise_nll(net(roll), roll))
    assert total == pytest.approx(1.0, abs=1e-5)


def test_frame_sampling_matches_teacher_forced_logits_and_constraints():
    obj = _frame()
    net = obj.networks()["model"].eval()
    g = torch.Generator().manual_seed(3)
    cons = np.full((5, 88), -1)
    cons[:, 60] = 1
    cons[:, 61:] = 0
    roll = sample_frames(net, 5, temperature=1.0, generator=g, constraints=cons)
    assert roll.shape == (5, 88) and roll[:, 60].all() and not roll[:, 61:].any()
    again = sample_frames(net, 5, temperature=1.0, generator=torch.Generator().manual_seed(3), constraints=cons)
    np.testing.assert_array_equal(roll, again)
    cont = sample_frames(net, 3, prompt=roll, generator=g)
    np.testing.assert_array_equal(cont[:5], roll)


def test_frame_gradients_and_learning():
    obj = _frame()
    batch = {"roll": _rolls(), "mask": torch.ones(4, 12)}
    _grads_reach_every_parameter(obj, batch)
    first, last = _train(_frame(), batch)
    assert last < 0.7 * first


def _events_obj(transpose_by: int = 0):
    torch.manual_seed(0)
    return EventObjective(EventConfig(context=48, layers=2, heads=2, embed=32, dropout=0.0, max_shift=8,
                                      transpose=transpose_by))


def _event_batch():
    vocab = EventVocab(max_shift=8)
    seqs = [roll_to_events(r.numpy() > 0, 4, vocab) for r in _rolls(3, 6)]
    rows = [(s + [0] * 49)[:49] for s in seqs]
    return {"tokens": torch.tensor(rows)}


def test_event_transformer_cache_matches_full_forward_and_nll():
    obj = _events_obj()
    net = obj.networks()["model"].eval()
    tokens = _event_batch()["tokens"][:1, :20]
    full = net(tokens)
    cache = net.new_cache(1, torch.device("cpu"))
    part = [net(tokens[:, :7], cache)] + [net(tokens[:, i:i + 1], cache) for i in range(7, 20)]
    torch.testing.assert_close(torch.cat(part, 1), full, atol=1e-5, rtol=1e-5)
    direct = F.cross_entropy(full[0, :-1].detach(), tokens[0, 1:], reduction="sum")
    assert obj.sequence_nll(obj.networks(), tokens[0]) == pytest.approx(float(direct), rel=1e-5)
    # longer than the context: sliding windows still score every token once
    long = torch.cat([tokens[0]] * 4)
    assert np.isfinite(obj.sequence_nll(obj.networks(), long))


def test_event_transformer_learns_and_samples():
    batch = _event_batch()
    _grads_reach_every_parameter(_events_obj(), batch)
    obj = _events_obj()
    first, last = _train(obj, batch, steps=40)
    assert last < 0.6 * first
    net = obj.networks()["model"].eval()
    vocab = obj.config.vocab
    a = sample_events(net, 30, vocab=vocab, steps_per_bar=4, top_p=0.9, generator=torch.Generator().manual_seed(1))
    b = sample_events(net, 30, vocab=vocab, steps_per_bar=4, top_p=0.9, generator=torch.Generator().manual_seed(1))
    np.testing.assert_array_equal(a, b)
    assert a.shape[1] == 88 and len(a) <= 30


def test_top_p_keeps_the_nucleus():
    probs = torch.tensor([[0.5, 0.3, 0.15, 0.05]])
    torch.testing.assert_close(top_p_filter(probs, 0.7), torch.tensor([[0.625, 0.375, 0.0, 0.0]]))
    torch.testing.assert_close(top_p_filter(probs, 1.0), probs)


def _infill():
    torch.manual_seed(0)
    return InfillObjective(InfillConfig(channels=16, blocks=1, context=8, transpose=0))


def _voice_batch(make_voices):
    v = np.stack([make_voices(i, 8) for i in range(4)])
    return {"voices": torch.from_numpy(v - 21), "mask": torch.ones(4, 8)}


def test_infill_hides_erased_cells(make_voices):
    obj = _infill()
    net = obj.networks()["model"].eval()
    batch = _voice_batch(make_voices)
    erased = torch.zeros(4, 8, 4, dtype=torch.bool)
    erased[:, :, 1:] = True
    other = batch["voices"].clone()
    other[:, :, 1:] = torch.randint(0, 88, other[:, :, 1:].shape)
    torch.testing.assert_close(net(batch["voices"], erased), net(other, erased))
    masks = random_erase((64, 8, 4), 0.5, torch.Generator().manual_seed(0), torch.device("cpu"))
    assert masks.flatten(1).any(1).all()


def test_infill_learns_and_gibbs_keeps_fixed_cells(make_voices):
    batch = _voice_batch(make_voices)
    _grads_reach_every_parameter(_infill(), batch)
    obj = _infill()
    first, last = _train(obj, batch, steps=40, lr=1e-2)
    assert last < 0.7 * first
    voices = batch["voices"][0].numpy()
    fixed = np.zeros_like(voices, dtype=bool)
    fixed[:, 0] = True
    start = voices.copy()
    start[:, 1:] = 88
    allowed = np.ones(voices.shape + (89,), bool)
    allowed[:, 1:, 70:88] = False
    out = gibbs_infill(obj, obj.networks(), start, fixed, iterations=5, generator=torch.Generator().manual_seed(0),
                       allowed=allowed)
    np.testing.assert_array_equal(out[:, 0], voices[:, 0])
    assert not ((out[:, 1:] >= 70) & (out[:, 1:] < 88)).any()


def test_transposition_augmentation_stays_on_the_piano():
    roll = torch.from_numpy(np.stack([pitches_to_roll([[21, 40], [60]]), pitches_to_roll([[100, 108], []])])).float()
    g = torch.Generator().manual_seed(0)
    for _ in range(20):
        out = random_transpose_rolls(roll, 6, g)
        assert torch.equal(out.sum((1, 2)), roll.sum((1, 2)))
        shift = int(out[0].nonzero()[0, 1]) - 0  # lowest key of piece 0 moved from column 0
        np.testing.assert_array_equal(out[0].numpy() > 0, transpose(roll[0].numpy() > 0, shift))
    vocab = EventVocab()
    toks = torch.tensor([roll_to_events(roll[0].numpy() > 0, 4, vocab)])
    moved = random_transpose_tokens(toks, vocab.ON, vocab.OFF, 6, g)
    assert (moved >= 0).all() and (moved < vocab.size).all()
    classes = torch.tensor([[[87, 88, 0]]])
    assert torch.equal(random_transpose_voices(classes, 6, g), classes)  # both ends used: no room


def test_frame_key_by_key_sampling_uses_the_teacher_forced_probabilities():
    obj = _frame()
    net = obj.networks()["model"].eval()
    with torch.no_grad():
        net.to_b.bias += 2.0  # plenty of keys on, so the test is not about silence
    hidden = torch.randn(1, 24, generator=torch.Generator().manual_seed(5))
    x = net.sample_step(hidden, torch.Generator().manual_seed(9))
    g = torch.Generator().manual_seed(9)
    u = torch.cat([torch.rand(1, generator=g) for _ in range(88)]).flip(0)  # drawn top key first
    with torch.no_grad():
        p = torch.sigmoid(net.nade_logits(hidden[:, None], x[:, None]))[0, 0]
    assert 5 < x.sum() < 83
    torch.testing.assert_close(x[0], (u < p).float())


def test_relative_attention_bias_depends_on_distance_only():
    from aigc.music.transformer import _relative_bias

    rel = torch.nn.Embedding(16, 2)
    bias = _relative_bias(rel, 3, 4, torch.zeros(1))
    assert bias.shape == (1, 2, 3, 7)
    for i in range(3):
        for j in range(7):
            q = 4 + i
            expected = rel.weight[q - j] if j <= q else torch.full((2,), float("-inf"))
            torch.testing.assert_close(bias[0, :, i, j], expected)
    # the bias changes the model: with it zeroed the outputs differ from a trained bias
    obj = _events_obj()
    net = obj.networks()["model"].eval()
    tokens = _event_batch()["tokens"][:1, :12]
    before = net(tokens)
    with torch.no_grad():
        net.rel.weight.normal_()
    assert not torch.allclose(net(tokens), before)


def test_frame_sparse_nade_equals_the_dense_formula():
    # the segment trick (sigmoid only on the k + 1 distinct partial sums of a step) is exact:
    # same logits and same gradients as the (B, T, 88, Hn) computation, chords of 0..88 keys
    obj = _frame()
    net = obj.networks()["model"].eval()
    g = torch.Generator().manual_seed(4)
    roll = (torch.rand(3, 7, 88, generator=g) < 0.06).float()
    roll[0, 1] = 0.0
    roll[1, 2] = 1.0
    roll[2, 3, [0, 87]] = 1.0
    hidden = torch.randn(3, 7, 24, generator=g)
    sparse = net.nade_logits(hidden, roll)
    dense = net.nade_logits_dense(hidden, roll)
    torch.testing.assert_close(sparse, dense, atol=1e-5, rtol=1e-5)
    # a direct loop over keys from the top for one step
    b, c = net.biases(hidden[2, 3])
    act, direct = c.clone(), torch.empty(88)
    for i in reversed(range(88)):
        direct[i] = b[i] + (torch.sigmoid(act) * net.v[i]).sum()
        act = act + roll[2, 3, i] * net.w[i]
    torch.testing.assert_close(sparse[2, 3], direct, atol=1e-5, rtol=1e-5)
    grads = [torch.autograd.grad(f(hidden, roll).square().sum(), [net.w, net.v])
             for f in (net.nade_logits, net.nade_logits_dense)]
    for a, d in zip(*grads):
        torch.testing.assert_close(a, d, atol=1e-4, rtol=1e-4)


def test_frame_marginal_init_sets_the_key_log_odds():
    roll, mask = _rolls(4, 12), torch.ones(4, 12)
    mask[1, 8:] = 0.0
    roll[1, 8:] = 0.0
    obj = _frame()
    obj.init_from_data({"roll": roll, "mask": mask})
    r, m = roll.numpy(), mask.numpy().astype(bool)
    p = (r[m].sum(0) + 0.5) / (m.sum() + 1.0)
    bias = obj.networks()["model"].to_b.bias.detach().numpy()
    np.testing.assert_allclose(bias, np.log(p / (1 - p)), rtol=1e-5, atol=1e-5)
    # with transposition the marginal is averaged over the shifts the augmentation draws
    torch.manual_seed(0)
    shifted = FrameObjective(FrameConfig(hidden=24, layers=1, nade_hidden=16, transpose=2))
    shifted.init_from_data({"roll": roll, "mask": mask})
    on = np.pad(r[m].sum(0), 2)
    q = (np.mean([on[2 + s:90 + s] for s in range(-2, 3)], axis=0) + 0.5) / (m.sum() + 1.0)
    np.testing.assert_allclose(shifted.networks()["model"].to_b.bias.detach().numpy(), np.log(q / (1 - q)),
                               rtol=1e-5, atol=1e-5)
    # off: the biases keep their random initialisation
    torch.manual_seed(0)
    plain = FrameObjective(FrameConfig(hidden=24, layers=1, nade_hidden=16, marginal_init=False))
    before = plain.networks()["model"].to_b.bias.detach().clone()
    plain.init_from_data({"roll": roll, "mask": mask})
    assert torch.equal(plain.networks()["model"].to_b.bias, before)


def test_random_crops_cover_only_real_steps():
    from aigc.music.frame import random_crops

    t = 20
    roll = torch.zeros(3, t, 88)
    roll[:, :, 0] = torch.arange(t, dtype=torch.float32)  # key 0 holds the step index
    mask = torch.zeros(3, t)
    real = [20, 9, 5]
    for i, n in enumerate(real):
        mask[i, :n] = 1.0
    g = torch.Generator().manual_seed(0)
    starts = {0: set(), 1: set()}
    for _ in range(200):
        crop, cmask = random_crops(roll, mask, 6, g)
        assert crop.shape == (3, 6, 88) and cmask.shape == (3, 6)
        steps = crop[..., 0]
        assert torch.equal(steps[:, 1:] - steps[:, :-1], torch.ones(3, 5))  # consecutive steps
        for i in (0, 1):
            assert cmask[i].all() and int(steps[i, -1]) < real[i]  # inside the real steps
            starts[i].add(int(steps[i, 0]))
        assert torch.equal(cmask[2], torch.tensor([1.0] * 5 + [0.0]))  # a short row keeps all it has
        assert int(steps[2, 0]) == 0
    assert starts[0] == set(range(15)) and starts[1] == set(range(4))  # every valid start is drawn
    assert random_crops(roll, mask, 0, g)[0] is roll
