"""Residual blocks of DSLNet's trunk.

LKRB (large-kernel residual block): `x + Conv3x3(ReLU(DW17x17(ReLU(x))))`, a depthwise 17 x 17
convolution for a wide receptive field at the cost of a 3 x 3 one. With `large_kernel=False` the
depthwise convolution becomes a plain 3 x 3 convolution, which is the residual block of the
ablation ladder's ResNet rungs (M0..M5 for the enhancement module).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .depthwise_conv import DepthwiseConv2d

LARGE_KERNEL = 17


class ResidualBlock(nn.Module):
    """x: (n, c, h, w) -> (n, c, h, w)."""

    def __init__(self, channels: int, large_kernel: bool = True) -> None:
        super().__init__()
        if large_kernel:
            spatial: nn.Module = DepthwiseConv2d(channels, LARGE_KERNEL)
        else:
            spatial = nn.Conv2d(channels, channels, 3, padding=1)
        conv = nn.Conv2d(channels, channels, 3, padding=1)
        self.body = nn.Sequential(nn.ReLU(), spatial, nn.ReLU(inplace=True), conv)

    def forward(self, x: Tensor) -> Tensor:
        return add_to_fresh(self.body(x), x)


def add_to_fresh(fresh: Tensor, other: Tensor) -> Tensor:
    """`fresh + other`, written into `fresh` (a tensor nothing else holds, such as a convolution's
    output) when that keeps the result's dtype, which spares allocating a full-size tensor."""
    same_shape = fresh.shape == torch.broadcast_shapes(fresh.shape, other.shape)
    if same_shape and torch.result_type(fresh, other) == fresh.dtype:
        return fresh.add_(other)
    return fresh + other


def residual_stack(channels: int, blocks: int, large_kernel: bool) -> nn.Sequential:
    """`blocks` residual blocks in series."""
    return nn.Sequential(*(ResidualBlock(channels, large_kernel) for _ in range(blocks)))
