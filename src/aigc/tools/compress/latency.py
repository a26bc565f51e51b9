"""Inference latency of any model directory's networks: the median of timed forward passes on the
objective's example inputs (:class:`aigc.train.objective.ExampleInputs`), after warm-up runs, at
batch 1 and batched. Networks without example inputs are not timed; onnxruntime networks
(:func:`aigc.tools.export.use_onnx`) are timed on the same inputs."""

from __future__ import annotations

import statistics
from collections.abc import Mapping
from time import perf_counter
from typing import Any

import torch
from torch import nn

__all__ = ["example_inputs", "latency_ms"]


def example_inputs(objective: Any, nets: Mapping[str, nn.Module], batch: int = 1) -> dict[str, tuple]:
    """``{network: example inputs}`` for the networks the objective gives inputs for."""
    from aigc.train.objective import ExampleInputs

    if not isinstance(objective, ExampleInputs):
        return {}
    out = {}
    for name in nets:
        try:
            out[name] = objective.example_inputs(name, batch=batch)
        except KeyError:
            continue
    return out


def _median_ms(net: nn.Module, inputs: tuple, runs: int, warmup: int) -> float:
    from aigc.tools.export.onnx import CachedView, takes_cache
    from aigc.tools.export.runtime import OrtNetwork

    # an onnxruntime network takes the exported graph's inputs as they are (cache included)
    call = net.run if isinstance(net, OrtNetwork) else CachedView(net) if takes_cache(net) else net
    times = []
    with torch.inference_mode():
        for i in range(warmup + runs):
            start = perf_counter()
            call(*inputs)
            if i >= warmup:
                times.append(perf_counter() - start)
    return 1000 * statistics.median(times)


def latency_ms(objective: Any, nets: Mapping[str, nn.Module], *, batches: tuple[int, ...] = (1, 16),
               runs: int = 20, warmup: int = 3) -> dict[str, Any]:
    """``{"latency_ms_batch1": ms, "latency_ms_batch16": ms, "latency_networks": [...], "latency_runs"}``
    (each figure sums the median forward time of every timed network); empty when none can be timed."""
    out: dict[str, Any] = {}
    for b in batches:
        inputs = example_inputs(objective, nets, b)
        if not inputs:
            return {}
        out[f"latency_ms_batch{b}"] = sum(_median_ms(nets[n], x, runs, warmup) for n, x in inputs.items())
        out["latency_networks"] = sorted(inputs)
    return {**out, "latency_runs": runs}
