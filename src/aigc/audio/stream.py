"""The stream protocol of the audio effects: ``process(block) -> block`` then ``flush() -> tail`` on
``(n, channels)`` float64 blocks, so the editor can run any effect over a file in bounded memory."""

from __future__ import annotations

import abc

import numpy as np

from aigc.core.errors import BadInputError

__all__ = ["as_2d", "Stream", "run_stream"]


def as_2d(wave: np.ndarray) -> np.ndarray:
    """``(n,)`` or ``(n, channels)`` -> ``(n, channels)`` float64."""
    arr = np.asarray(wave, dtype=np.float64)
    if arr.ndim == 1:
        return arr[:, None]
    if arr.ndim != 2:
        raise BadInputError(f"a wave is (samples,) or (samples, channels), got shape {arr.shape}")
    return arr


class Stream(abc.ABC):
    """State carried across blocks: ``process`` each ``(n, ch)`` block in order, then ``flush``."""

    channels = 1

    @abc.abstractmethod
    def process(self, block: np.ndarray) -> np.ndarray:
        """The processed ``(n, ch)`` block (possibly shorter or longer: latency, tails)."""

    def flush(self) -> np.ndarray:
        return np.zeros((0, self.channels))


def run_stream(stream: Stream, wave: np.ndarray) -> np.ndarray:
    """Run ``stream`` over a whole wave as one block; the result has the wave's ndim."""
    x = as_2d(wave)
    y = np.concatenate([stream.process(x), stream.flush()], axis=0)
    return y[:, 0] if np.ndim(wave) == 1 else y


# --- gain and filters -----------------------------------------------------------------------
