"""Sampling defaults the CLI, the Pipeline and the benchmark share (no torch here: ``aigc --help``
imports this)."""

__all__ = ["GUIDANCE", "ETA"]

# default classifier-free guidance scale. An earlier benchmark run's model (900 CPU-s; 500 clips, 30 DDIM steps,
# Fréchet distance in the clip classifier's features, real-vs-real floor 4.9): 141.4 at 1.5, 109.7
# at 2, 84.5 at 3, 89.3 at 4; conditional accuracy 0.85 / 0.93 / 0.96 / 0.96. Adding DDPM noise
# at each step (eta 1 instead of 0) moved it by less than that (107.0 at 2).
GUIDANCE = 3.0
# default DDIM eta (noise added back per step: 0 = deterministic DDIM, 1 = DDPM's variance). Mixed
# evidence at guidance 3 (500 clips, 30 steps, each run's own classifier): one benchmark model went
# from 63.8 to 48.7 with eta 1 (floor 3.6; 50 deterministic steps: 55.9), the other from 84.5 to 86.0
# (floor 4.9; at guidance 2: 109.7 -> 107.0). Not a safe default: sampling stays deterministic, and
# `--eta 1` is there to try.
ETA = 0.0
