"""Dynamic depthwise convolution (Han et al., "On the Connection between Local Attention and
Dynamic Depth-wise Convolution", ICLR 2022).

The k x k depthwise kernel is not a fixed parameter: a small head predicts one kernel per sample
and channel from the globally average-pooled input, so the filter adapts to the content of the
clip. DSLNet uses it (7 x 7) in its offset estimator. Prediction and application are separate
methods, so a caller that processes a frame in tiles can predict the kernel once from the whole
frame and apply it to every tile.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .depthwise_conv import depthwise_conv2d


class DynamicDepthwiseConv2d(nn.Module):
    """Per-sample depthwise k x k convolution whose kernel is predicted from the pooled input."""

    def __init__(self, channels: int, kernel_size: int = 7, reduction: int = 4) -> None:
        super().__init__()
        self.channels = channels
        self.kernel_size = kernel_size
        hidden = max(channels // reduction, 4)
        self.kernel_head = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            nn.Conv2d(channels, hidden, 1),
            nn.ReLU(inplace=True),
            nn.Conv2d(hidden, channels * kernel_size**2, 1),
        )
        self.bias = nn.Parameter(torch.zeros(channels))

    def predict_kernel(self, x: Tensor) -> Tensor:
        """x: (n, c, h, w) -> kernels (n, c, k, k)."""
        n = x.shape[0]
        return self.kernel_head(x).reshape(n, self.channels, self.kernel_size, self.kernel_size)

    def apply_kernel(self, x: Tensor, kernel: Tensor) -> Tensor:
        """Depthwise-convolve each sample with its own kernel: x (n, c, h, w), kernel (n, c, k, k)."""
        n, c, h, w = x.shape
        # Fold the batch into the channel axis so one grouped convolution applies n*c kernels.
        out = depthwise_conv2d(x.reshape(1, n * c, h, w), kernel.reshape(n * c, 1, self.kernel_size, self.kernel_size))
        return out.reshape(n, c, h, w) + self.bias.view(1, c, 1, 1)

    def forward(self, x: Tensor, kernel: Tensor | None = None) -> Tensor:
        """x: (n, c, h, w); `kernel` (n, c, k, k) if predicted elsewhere (e.g. from a whole frame)."""
        return self.apply_kernel(x, self.predict_kernel(x) if kernel is None else kernel)
