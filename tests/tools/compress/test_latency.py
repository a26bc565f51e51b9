"""Latency: the median of the timed runs after the warm-up ones, per batch size, summed over the
networks the objective gives example inputs for."""

from __future__ import annotations

import statistics

import torch
from torch import nn

from aigc.tools.compress import latency


class Obj:
    def example_inputs(self, name, batch=1):
        if name != "net":
            raise KeyError(name)
        return (torch.zeros(batch, 4),)


def test_latency_is_median_after_warmup(monkeypatch):
    calls = []
    net = nn.Linear(4, 2)
    net.register_forward_hook(lambda m, a, o: calls.append(a[0].shape[0]))
    ticks = iter([0.0,  # warm-up run: not timed
                  10.0, 10.003, 20.0, 20.001, 30.0, 30.010,  # batch 1: 3, 1, 10 ms -> median 3
                  0.0,
                  40.0, 40.002, 50.0, 50.004, 60.0, 60.008])  # batch 8: 2, 4, 8 ms -> median 4
    monkeypatch.setattr(latency, "perf_counter", lambda: next(ticks))
    out = latency.latency_ms(Obj(), {"net": net, "other": nn.Linear(1, 1)}, batches=(1, 8), runs=3, warmup=1)
    assert abs(out["latency_ms_batch1"] - statistics.median([3, 1, 10])) < 1e-6
    assert abs(out["latency_ms_batch8"] - 4) < 1e-6
    assert out["latency_networks"] == ["net"] and out["latency_runs"] == 3
    assert calls == [1] * 4 + [8] * 4
    assert latency.latency_ms(object(), {"net": net}) == {}  # no example inputs: nothing timed
