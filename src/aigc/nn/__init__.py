"""Building blocks that several tasks share (tasks never import each other, so sharing lives here).

- :mod:`aigc.nn.transformer` — causal self-attention, MLP, pre-norm Transformer block, KV cache
- :mod:`aigc.nn.conv` — 3x3 convs, GroupNorm, residual blocks (plain and embedding-conditioned),
  self-attention over feature-map pixels
- :mod:`aigc.nn.embeddings` — sinusoidal timestep / position embeddings

Every block is a pure ``nn.Module`` or function: no optimiser, file I/O or device moves.
"""
