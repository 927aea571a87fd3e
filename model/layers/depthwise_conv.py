"""Depthwise convolution with a fast weight gradient on CPU.

oneDNN computes the forward pass and the input gradient of a depthwise 17 x 17 convolution in
milliseconds, but its weight gradient ~35x slower than the forward pass (measured: 64 channels,
4 x 96 x 96, 776 ms against 7 ms), which made DSLNet's training step mostly that one kernel. The
weight gradient of a depthwise convolution is itself a depthwise convolution, of the padded input
by the output gradient (with the batch folded into the channels, then summed over it); this module
computes it that way (22 ms on the same input), and the input gradient as the forward convolution
with the flipped kernel. Results equal PyTorch's to float rounding.

Under autocast it runs in the autocast dtype, forward and backward. Only what DSLNet uses: stride 1,
odd kernels, "same" zero padding, one filter per channel.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, autograd, nn


class _DepthwiseConv(autograd.Function):
    """x (n, c, h, w), weight (c, 1, k, k), bias (c,) or None -> (n, c, h, w)."""

    @staticmethod
    def forward(ctx, x: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:  # type: ignore[override]
        ctx.save_for_backward(x, weight)
        ctx.has_bias = bias is not None
        return F.conv2d(x, weight, bias, padding=weight.shape[-1] // 2, groups=weight.shape[0])

    @staticmethod
    def backward(ctx, grad_out: Tensor) -> tuple[Tensor | None, Tensor | None, Tensor | None]:  # type: ignore[override]
        x, weight = ctx.saved_tensors
        n, c, h, w = x.shape
        if x.is_contiguous(memory_format=torch.channels_last):  # autograd may hand back NCHW: 30x slower
            grad_out = grad_out.contiguous(memory_format=torch.channels_last)
        k = weight.shape[-1]
        grad_x = grad_weight = grad_bias = None
        if ctx.needs_input_grad[0]:
            grad_x = F.conv2d(grad_out, weight.flip(-2, -1), padding=k // 2, groups=c)
        if ctx.needs_input_grad[1]:
            padded = F.pad(x, (k // 2,) * 4).contiguous().reshape(1, n * c, h + k - 1, w + k - 1)
            kernels = grad_out.contiguous().reshape(n * c, 1, h, w)
            grad_weight = F.conv2d(padded, kernels, groups=n * c).reshape(n, c, k, k).sum(0).unsqueeze(1)
        if ctx.has_bias and ctx.needs_input_grad[2]:
            grad_bias = grad_out.sum((0, 2, 3))
        return grad_x, grad_weight, grad_bias


def depthwise_conv2d(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """Depthwise "same" convolution: x (n, c, h, w), weight (c, 1, k, k) with k odd -> (n, c, h, w)."""
    if weight.shape[1] != 1 or weight.shape[0] != x.shape[1] or weight.shape[-1] % 2 == 0:
        raise ValueError(f"expected a (c, 1, k, k) odd kernel for {x.shape[1]} channels, got {tuple(weight.shape)}")
    if not torch.is_grad_enabled():  # inference and export: the plain convolution, nothing to differentiate
        return F.conv2d(x, weight, bias, padding=weight.shape[-1] // 2, groups=weight.shape[0])
    device = x.device.type
    if not torch.is_autocast_enabled(device):
        return _DepthwiseConv.apply(x, weight, bias)
    # Cast here, where autograd sees it, so the backward pass runs in the same precision.
    dtype = torch.get_autocast_dtype(device)
    with torch.autocast(device, enabled=False):
        return _DepthwiseConv.apply(x.to(dtype), weight.to(dtype), None if bias is None else bias.to(dtype))


class DepthwiseConv2d(nn.Conv2d):
    """nn.Conv2d(channels, channels, k, padding=k // 2, groups=channels) with the fast gradient
    (same parameters and state-dict keys): (n, c, h, w) -> (n, c, h, w)."""

    def __init__(self, channels: int, kernel_size: int) -> None:
        super().__init__(channels, channels, kernel_size, padding=kernel_size // 2, groups=channels)

    def forward(self, x: Tensor) -> Tensor:
        return depthwise_conv2d(x, self.weight, self.bias)
