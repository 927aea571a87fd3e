"""LKQE: large-kernel quality enhancement, DSLNet's last module.

Conv3x3 + ReLU, 4 large-kernel residual blocks, Conv3x3 to three channels. The 17 x 17 depthwise
kernels give each output pixel a wide view, which the paper credits for fewer artefacts in
clipped highlights. `large_kernel=False` gives the plain residual blocks of rungs M0..M5.
"""

from __future__ import annotations

from torch import Tensor, nn

from ..layers.residual import residual_stack


class LKQE(nn.Module):
    """Features (n, c, h, w) -> HDR10 R'G'B' (n, 3, h, w), PQ / BT.2020 code values."""

    def __init__(self, width: int, large_kernel: bool = True, blocks: int = 4, zero_output: bool = False) -> None:
        """zero_output: start the last convolution at zero (an output that is a residual)."""
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(width, width, 3, padding=1),
            nn.ReLU(inplace=True),
            residual_stack(width, blocks, large_kernel),
            nn.Conv2d(width, 3, 3, padding=1),
        )
        if zero_output:
            nn.init.zeros_(self.body[-1].weight)
            nn.init.zeros_(self.body[-1].bias)

    def forward(self, x: Tensor) -> Tensor:
        return self.body(x)
