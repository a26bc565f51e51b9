"""ConvLSTM (Shi et al. 2015) for frame prediction, OpenSTL's "ConvLSTM-S" layout made smaller.

Frames are cut into ``patch x patch`` patches stacked on channels (64x64x1 -> 16x16x16, as OpenSTL
does with patch size 4) so the recurrent convolutions run at 16x16. A stack of ConvLSTM cells reads
the context frames; each step predicts the next frame from the top hidden state, and after the
context the prediction is fed back as the next input (no teacher forcing in the future part, so
training sees the same inputs as inference).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from aigc.core.errors import BadInputError

__all__ = ["ConvLSTMConfig", "ConvLSTMCell", "ConvLSTMNet"]


@dataclass(kw_only=True)
class ConvLSTMConfig:
    channels: int = 1
    image_size: int = 64
    context: int = 10
    future: int = 10
    patch: int = 4  # OpenSTL's patch size for Moving MNIST
    hidden: int = 32  # OpenSTL ConvLSTM-S: 128; 32 fits a CPU budget
    layers: int = 3  # OpenSTL: 4
    kernel: int = 3  # OpenSTL: 5

    def __post_init__(self) -> None:
        if self.image_size % self.patch:
            raise BadInputError(f"image_size {self.image_size} must be a multiple of patch {self.patch}")
        if min(self.context, self.future, self.hidden, self.layers) < 1 or self.kernel % 2 == 0:
            raise BadInputError("context, future, hidden and layers must be >= 1 and kernel odd")


class ConvLSTMCell(nn.Module):
    """One ConvLSTM cell: gates from a convolution of [input, hidden]. (B, Cin, H, W) -> (h, c)."""

    def __init__(self, cin: int, hidden: int, kernel: int) -> None:
        super().__init__()
        self.hidden = hidden
        self.conv = nn.Conv2d(cin + hidden, 4 * hidden, kernel, padding=kernel // 2)

    def forward(self, x: torch.Tensor,
                state: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        h, c = state
        i, f, o, g = self.conv(torch.cat([x, h], dim=1)).chunk(4, dim=1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        return h, c


class ConvLSTMNet(nn.Module):
    """``forward(frames (B, T, C, H, W), future)`` -> next-frame predictions (B, T - 1 + future, C, H, W).

    Output k predicts frame k + 1; inputs are the given frames, then the model's own predictions.
    """

    def __init__(self, config: ConvLSTMConfig) -> None:
        super().__init__()
        self.config = config
        cin = config.channels * config.patch**2
        self.cells = nn.ModuleList(
            ConvLSTMCell(cin if i == 0 else config.hidden, config.hidden, config.kernel)
            for i in range(config.layers))
        self.head = nn.Conv2d(config.hidden, cin, 1)

    def forward(self, frames: torch.Tensor, future: int | None = None) -> torch.Tensor:
        cfg = self.config
        future = cfg.future if future is None else future
        b, t = frames.shape[:2]
        x_all = F.pixel_unshuffle(frames.flatten(0, 1), cfg.patch).unflatten(0, (b, t))
        hw = x_all.shape[-2:]
        states = [(x_all.new_zeros(b, cfg.hidden, *hw), x_all.new_zeros(b, cfg.hidden, *hw))
                  for _ in self.cells]
        outputs = []
        x = x_all[:, 0]
        for step in range(t - 1 + future):
            inp = x
            for k, cell in enumerate(self.cells):
                states[k] = cell(inp, states[k])
                inp = states[k][0]
            pred = self.head(inp)
            outputs.append(pred)
            x = x_all[:, step + 1] if step + 1 < t else pred
        out = torch.stack(outputs, dim=1)
        return F.pixel_shuffle(out.flatten(0, 1), cfg.patch).unflatten(0, (b, out.shape[1]))
