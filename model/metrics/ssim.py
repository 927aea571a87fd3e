"""Structural similarity (Wang, Bovik, Sheikh & Simoncelli, IEEE TIP 2004).

The paper's settings: an 11 x 11 circular-symmetric Gaussian window with sigma 1.5, K1 = 0.01,
K2 = 0.03, data range 1 (PQ code values in [0, 1]), population (not sample) statistics. Each
channel is scored on its own and the three are averaged, as scikit-image does with
`channel_axis=-1`.

Borders: only window positions that lie wholly inside the image are scored ("valid" filtering).
This is exactly what `skimage.metrics.structural_similarity` reports: it filters with reflected
borders and then crops (win_size - 1) // 2 = 5 pixels from every side before averaging, which
leaves the same positions with the same values.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from hdrtv.model.arrays import numpy_compatible
from hdrtv.model.metrics.checks import require_same_shape
from torch import Tensor

WINDOW = 11
SIGMA = 1.5
K1 = 0.01
K2 = 0.03


def _gaussian_taps(dtype: torch.dtype, device: torch.device) -> Tensor:
    """The normalised 1-D Gaussian, (WINDOW,); its outer product is the 2-D window."""
    x = torch.arange(WINDOW, dtype=dtype, device=device) - (WINDOW - 1) / 2
    taps = torch.exp(-0.5 * (x / SIGMA) ** 2)
    return taps / taps.sum()


def _local_mean(planes: Tensor, taps: Tensor) -> Tensor:
    """Gaussian-weighted local means at valid positions: (n, 1, h, w) -> (n, 1, h - 10, w - 10)."""
    planes = F.conv2d(planes, taps.view(1, 1, WINDOW, 1))
    return F.conv2d(planes, taps.view(1, 1, 1, WINDOW))


@numpy_compatible
def ssim(pred: Tensor, target: Tensor, data_range: float = 1.0) -> Tensor:
    """Mean SSIM over valid window positions and channels, one value per image.

    pred, target: (..., h, w, c) with h, w >= 11; returns (...).
    """
    require_same_shape(pred, target)
    *lead, h, w, c = pred.shape
    if h < WINDOW or w < WINDOW:
        raise ValueError(f"SSIM needs images of at least {WINDOW} x {WINDOW}, got {h} x {w}")
    # One plane per image and channel: (n * c, 1, h, w).
    x = pred.reshape(-1, h, w, c).permute(0, 3, 1, 2).reshape(-1, 1, h, w)
    y = target.reshape(-1, h, w, c).permute(0, 3, 1, 2).reshape(-1, 1, h, w)
    taps = _gaussian_taps(pred.dtype, pred.device)
    mu_x, mu_y = _local_mean(x, taps), _local_mean(y, taps)
    var_x = _local_mean(x * x, taps) - mu_x * mu_x
    var_y = _local_mean(y * y, taps) - mu_y * mu_y
    cov_xy = _local_mean(x * y, taps) - mu_x * mu_y
    c1 = (K1 * data_range) ** 2
    c2 = (K2 * data_range) ** 2
    ssim_map = ((2 * mu_x * mu_y + c1) * (2 * cov_xy + c2)) / ((mu_x * mu_x + mu_y * mu_y + c1) * (var_x + var_y + c2))
    return ssim_map.reshape(*lead, c, -1).mean(dim=(-2, -1))
