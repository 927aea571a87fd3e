"""Modulated deformable convolution (DCNv2, Zhu et al. 2019) in plain PyTorch.

Every kernel tap samples its input at a learned fractional offset (bilinear, zero outside the
image) and is weighted by a learned mask in [0, 1] before the usual convolution sum. Written with
`grid_sample` instead of a custom CUDA op so it runs on any device PyTorch runs on and exports to
ONNX (GridSample, opset >= 16); `torchvision.ops` is deliberately not used.

Offset layout follows DCNv2 / torchvision: `offset` is `(n, 2 * g * k*k, h, w)` ordered
`[group][tap][dy, dx]`, `mask` is `(n, g * k*k, h, w)` ordered `[group][tap]`, taps in row-major
kernel order. Only stride 1 with "same" padding is supported: that is all DSLNet needs.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def modulated_deform_conv2d(
    x: Tensor, offset: Tensor, mask: Tensor, weight: Tensor, bias: Tensor | None, deform_groups: int, dilation: int = 1
) -> Tensor:
    """Deformable convolution with stride 1 and "same" padding.

    x: (n, c_in, h, w); offset: (n, 2*g*k*k, h, w) in pixels; mask: (n, g*k*k, h, w);
    weight: (c_out, c_in, k, k); bias: (c_out,) or None. Returns (n, c_out, h, w).
    """
    n, c_in, h, w = x.shape
    k = weight.shape[-1]
    taps = k * k
    g = deform_groups
    # Kernel tap positions relative to the centre, row-major: (taps, 2) as (dy, dx).
    r = torch.arange(k, device=x.device, dtype=x.dtype) * dilation - (k - 1) // 2 * dilation
    tap_yx = torch.stack(torch.meshgrid(r, r, indexing="ij"), dim=-1).reshape(taps, 2)
    base_y = torch.arange(h, device=x.device, dtype=x.dtype).view(1, 1, 1, h, 1)
    base_x = torch.arange(w, device=x.device, dtype=x.dtype).view(1, 1, 1, 1, w)
    offset = offset.reshape(n, g, taps, 2, h, w)
    pos_y = base_y + tap_yx[:, 0].view(1, 1, taps, 1, 1) + offset[:, :, :, 0]
    pos_x = base_x + tap_yx[:, 1].view(1, 1, taps, 1, 1) + offset[:, :, :, 1]
    # Normalise to grid_sample's [-1, 1] (align_corners=True: -1 and 1 are the edge pixel centres).
    grid = torch.stack((2 * pos_x / max(w - 1, 1) - 1, 2 * pos_y / max(h - 1, 1) - 1), dim=-1)
    grid = grid.reshape(n * g, taps * h, w, 2)
    sampled = F.grid_sample(
        x.reshape(n * g, c_in // g, h, w), grid, mode="bilinear", padding_mode="zeros", align_corners=True
    )  # (n*g, c_in/g, taps*h, w)
    sampled = sampled.reshape(n, g, c_in // g, taps, h, w)
    mask = mask.reshape(n, g, 1, taps, h, w)
    if _channels_last(weight) and not torch.is_grad_enabled():
        # Write the masked samples straight into channels-last columns (one pass), so the 1 x 1
        # convolution runs oneDNN's channels-last kernel and hands channels-last features on.
        dtype = torch.result_type(sampled, mask)
        columns = torch.empty(n, c_in * taps, h, w, device=x.device, dtype=dtype, memory_format=torch.channels_last)
        as_6d = columns.permute(0, 2, 3, 1).view(n, h, w, g, c_in // g, taps).permute(0, 3, 4, 5, 1, 2)
        torch.mul(sampled, mask, out=as_6d)
    else:
        columns = (sampled * mask).reshape(n, c_in * taps, h, w)  # channel-major, tap-minor, as weight.flatten(1)
    return F.conv2d(columns, weight.reshape(weight.shape[0], c_in * taps, 1, 1), bias)


def _channels_last(t: Tensor) -> bool:
    return t.dim() == 4 and not t.is_contiguous() and t.is_contiguous(memory_format=torch.channels_last)


class ModulatedDeformConv2d(nn.Module):
    """A k x k modulated deformable convolution whose offsets and masks are given by the caller.

    The caller (DSLNet's offset estimator) predicts offsets and masks; this module only holds the
    convolution weights. `deform_groups` splits the input channels into groups that share one
    offset field each (DSLNet: one group per input frame).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3, deform_groups: int = 1) -> None:
        super().__init__()
        if in_channels % deform_groups:
            raise ValueError(f"in_channels {in_channels} not divisible by deform_groups {deform_groups}")
        self.deform_groups = deform_groups
        self.kernel_size = kernel_size
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_channels))
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))

    @property
    def offset_channels(self) -> int:
        """Channels of the offset map this layer expects: 2 per tap and group."""
        return 2 * self.deform_groups * self.kernel_size**2

    @property
    def mask_channels(self) -> int:
        return self.deform_groups * self.kernel_size**2

    def forward(self, x: Tensor, offset: Tensor, mask: Tensor) -> Tensor:
        """x: (n, c_in, h, w), offset: (n, 2*g*k*k, h, w), mask: (n, g*k*k, h, w) -> (n, c_out, h, w)."""
        return modulated_deform_conv2d(x, offset, mask, self.weight, self.bias, self.deform_groups)
