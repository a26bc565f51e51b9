"""The stream protocol of the audio effects: ``process(block) -> block`` then ``flush() -> tail`` on
``(n, channels)`` float blocks (float64 in the reference functions, float32 in the editor), so the
editor can run any effect over a file in bounded memory."""

from __future__ import annotations

import abc

import numpy as np

from aigc.core.errors import BadInputError

__all__ = ["Stream", "as_2d", "run_stream"]


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
    dtype: type = np.float64  # what an empty flush is made of

    @abc.abstractmethod
    def process(self, block: np.ndarray) -> np.ndarray:
        """The processed ``(n, ch)`` block (possibly shorter or longer: latency, tails)."""

    def flush(self) -> np.ndarray:
        return np.zeros((0, self.channels), self.dtype)

    def fuse(self, other: Stream) -> Stream | None:
        """One stream doing this and then ``other`` (before any block), or None: the default."""
        return None


def run_stream(stream: Stream, wave: np.ndarray) -> np.ndarray:
    """Run ``stream`` over a whole wave as one block; the result has the wave's ndim."""
    x = as_2d(wave)
    y = np.concatenate([stream.process(x), stream.flush()], axis=0)
    return y[:, 0] if np.ndim(wave) == 1 else y


# --- gain and filters -----------------------------------------------------------------------
