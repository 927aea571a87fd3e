"""DMFA: dynamic multi-frame alignment, DSLNet's first module.

LDOE (large-kernel dynamic offset estimation) looks at the 2T+1 stacked frames at half resolution
through two depthwise 17 x 17 convolutions and a 7 x 7 dynamic depthwise convolution, so it sees
motion of tens of pixels, then predicts per-frame offsets and DCNv2 masks at full resolution. A
3 x 3 modulated deformable convolution samples every frame at its offsets and fuses them into one
feature map. As in BasicVSR++, the offset head is zero-initialised (training starts from "no
motion") and offsets are bounded by `max_offset * tanh(.)`.

The other front ends of the ablations live here too, so every rung is the same code:
"single" (a 3 x 3 convolution of the centre frame: M0..M4), "concat" (a 3 x 3 convolution of the
stacked frames: the multi-frame ResNet of Table 3) and "conv" (stacked plain residual blocks in
place of alignment: "w/o align" of Table 4).
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor, nn

from ..layers.deform_conv import ModulatedDeformConv2d
from ..layers.depthwise_conv import DepthwiseConv2d
from ..layers.dynamic_dwconv import DynamicDepthwiseConv2d
from ..layers.residual import LARGE_KERNEL, residual_stack

Alignment = Literal["deformable", "conv", "concat", "single"]


class OffsetEstimator(nn.Module):
    """LDOE: stacked frames (n, 3t, h, w), h and w even -> offsets (n, 2*t*9, h, w), masks (n, t*9, h, w)."""

    def __init__(self, num_frames: int, width: int, dynamic: bool, max_offset: float, dynamic_kernel: int = 7) -> None:
        super().__init__()
        self.num_frames = num_frames
        self.max_offset = max_offset
        self.down = nn.Sequential(
            nn.Conv2d(3 * num_frames, width, 3, stride=2, padding=1),
            nn.ReLU(inplace=True),
            DepthwiseConv2d(width, LARGE_KERNEL),
        )
        self.dynamic = DynamicDepthwiseConv2d(width, dynamic_kernel) if dynamic else None
        self.up = nn.Sequential(
            DepthwiseConv2d(width, LARGE_KERNEL),
            nn.ReLU(inplace=True),
            nn.ConvTranspose2d(width, width, 4, stride=2, padding=1),
            nn.ReLU(inplace=True),
        )
        self.offset_channels = 2 * num_frames * 9
        self.head = nn.Conv2d(width, self.offset_channels + num_frames * 9, 3, padding=1)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    def predict_kernel(self, stacked: Tensor) -> Tensor | None:
        """The dynamic 7 x 7 kernels (n, width, 7, 7) from a whole frame; None without dynamic conv."""
        return None if self.dynamic is None else self.dynamic.predict_kernel(self.down(stacked))

    def forward(self, stacked: Tensor, kernel: Tensor | None = None) -> tuple[Tensor, Tensor]:
        f = self.down(stacked)
        if self.dynamic is not None:
            f = self.dynamic(f, kernel)
        out = self.head(self.up(f))
        offset = self.max_offset * torch.tanh(out[:, : self.offset_channels])
        mask = torch.sigmoid(out[:, self.offset_channels :])
        return offset, mask


class DMFA(nn.Module):
    """Front end: frames (n, t, 3, h, w) SDR R'G'B' -> fused features (n, width, h, w)."""

    def __init__(
        self, num_frames: int, width: int, alignment: Alignment, dynamic: bool = True, max_offset: float = 10.0
    ) -> None:
        super().__init__()
        self.alignment = alignment
        self.num_frames = num_frames
        stacked_channels = 3 * num_frames
        self.offsets: OffsetEstimator | None = None
        if alignment == "deformable":
            self.offsets = OffsetEstimator(num_frames, width, dynamic, max_offset)
            self.fuse: nn.Module = ModulatedDeformConv2d(stacked_channels, width, 3, deform_groups=num_frames)
        elif alignment == "conv":
            self.fuse = nn.Sequential(
                nn.Conv2d(stacked_channels, width, 3, padding=1), residual_stack(width, 4, large_kernel=False)
            )
        elif alignment == "concat":
            self.fuse = nn.Conv2d(stacked_channels, width, 3, padding=1)
        elif alignment == "single":
            self.fuse = nn.Conv2d(3, width, 3, padding=1)
        else:
            raise ValueError(f"unknown alignment {alignment!r}")

    def stack(self, frames: Tensor) -> Tensor:
        """(n, t, 3, h, w) -> the input of the fusion: (n, 3t, h, w), or the centre frame (n, 3, h, w)."""
        if self.alignment == "single":
            return frames[:, self.num_frames // 2]
        return frames.flatten(1, 2)

    def predict_kernel(self, frames: Tensor) -> Tensor | None:
        """Global part of the alignment (dynamic kernels), computed once from the whole frame."""
        return None if self.offsets is None else self.offsets.predict_kernel(self.stack(frames))

    def forward(self, frames: Tensor, kernel: Tensor | None = None) -> Tensor:
        x = self.stack(frames)
        if self.offsets is None:
            return self.fuse(x)
        offset, mask = self.offsets(x, kernel)
        return self.fuse(x, offset, mask)
