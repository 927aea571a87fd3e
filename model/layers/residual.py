"""Residual blocks of DSLNet's trunk.

LKRB (large-kernel residual block): `x + Conv3x3(ReLU(DW17x17(ReLU(x))))`, a depthwise 17 x 17
convolution for a wide receptive field at the cost of a 3 x 3 one. With `large_kernel=False` the
depthwise convolution becomes a plain 3 x 3 convolution, which is the residual block of the
ablation ladder's ResNet rungs (M0..M5 for the enhancement module).
"""

from __future__ import annotations

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
        self.body = nn.Sequential(nn.ReLU(), spatial, nn.ReLU(), nn.Conv2d(channels, channels, 3, padding=1))

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)


def residual_stack(channels: int, blocks: int, large_kernel: bool) -> nn.Sequential:
    """`blocks` residual blocks in series."""
    return nn.Sequential(*(ResidualBlock(channels, large_kernel) for _ in range(blocks)))
