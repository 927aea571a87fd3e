"""SR-SIM: spectral residual based similarity (Zhang & Li, ICIP 2013).

A full-reference quality index: local similarity of visual saliency (the spectral residual of
Hou & Zhang, CVPR 2007) and of gradient magnitude, pooled with the larger of the two saliency
maps as weight. This follows the algorithm of the authors' reference MATLAB code step by step
(luma, F x F average-and-subsample, saliency at quarter size, Scharr-like gradient, constants
C1 = 0.40, C2 = 225, alpha = 0.50).

Units: the SDR-to-HDR field computes SR-SIM on the luma of PQ code values. The reference constants
were tuned for 8-bit images (0..255), so the PQ luma in [0, 1] is scaled by 255 first: C2 then
means what it means for 8-bit content. (Saliency is normalised to [0, 1], so only the gradient
term depends on this scale.)

Details that plain torch or the reference would get wrong for us:
- MATLAB's `round` (halves away from zero) for the downsampling factor F, not Python's.
- `imresize` is reimplemented as MATLAB defines it (Keys cubic, a = -0.5; kernel widened by
  1 / scale when shrinking; mirrored borders; a quarter-size output of ceil(size / 4) pixels
  still sampled at exactly scale 0.25). torch's antialiased bicubic renormalises at borders and
  takes the scale from the sizes instead; on synthetic frames that moved SR-SIM by 1e-6 to 8e-4,
  as much as separates the methods in the papers' tables.
- FFT amplitudes are floored at machine epsilon times the largest one before the log: MATLAB
  gives -inf and then NaN wherever a coefficient is exactly zero (flat or black frames); other
  coefficients are untouched.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from hdrtv.model.arrays import numpy_compatible
from hdrtv.model.metrics.checks import require_same_shape
from torch import Tensor

SCALE_8BIT = 255.0
LUMA_WEIGHTS = (0.299, 0.587, 0.114)
C1 = 0.40
C2 = 225.0
ALPHA = 0.50
SALIENCY_SCALE = 0.25
SALIENCY_BLUR_SIZE = 10
SALIENCY_BLUR_SIGMA = 3.8


def _downsample_factor(rows: int, cols: int) -> int:
    """F = max(1, round(min(rows, cols) / 256)) with MATLAB's rounding of halves upwards."""
    return max(1, math.floor(min(rows, cols) / 256 + 0.5))


def _filter(planes: Tensor, kernel: Tensor, before: int, after: int, mode: str = "constant") -> Tensor:
    """Correlate (n, 1, h, w) planes with a 2-D kernel (k, k), padding `before`/`after` per side."""
    padded = F.pad(planes, (before, after, before, after), mode=mode)
    return F.conv2d(padded, kernel[None, None])


def _average_and_subsample(luma: Tensor, factor: int) -> Tensor:
    """conv2(Y, ones(F) / F^2, 'same') then Y(1:F:end, 1:F:end): (n, 1, h, w) -> (n, 1, h', w')."""
    if factor == 1:
        return luma
    box = luma.new_full((factor, factor), 1.0 / factor**2)
    # conv2 'same' puts an even kernel's centre after the middle: F//2 taps after, the rest before.
    averaged = _filter(luma, box, factor - 1 - factor // 2, factor // 2)
    return averaged[..., ::factor, ::factor]


def _cubic(x: Tensor) -> Tensor:
    """Keys' cubic convolution kernel with a = -0.5, MATLAB's 'bicubic'."""
    ax = x.abs()
    near = (1.5 * ax - 2.5) * ax**2 + 1
    far = ((-0.5 * ax + 2.5) * ax - 4) * ax + 2
    return torch.where(ax <= 1, near, torch.where(ax <= 2, far, torch.zeros_like(ax)))


def _resize_matrix(in_size: int, out_size: int, scale: float, like: Tensor) -> Tensor:
    """(out_size, in_size) weights of MATLAB's imresize 'bicubic' along one axis.

    Output pixel x (1-based) samples input position x / scale + (1 - 1 / scale) / 2. When
    shrinking, the kernel is stretched by 1 / scale (antialiasing). Weights are normalised to
    sum 1 and taps outside the image are mirrored back into it (symmetric padding).
    """
    shrink = min(scale, 1.0)
    width = 4.0 / shrink
    centre = torch.arange(1, out_size + 1, dtype=torch.float64) / scale + 0.5 * (1 - 1 / scale)
    taps = torch.floor(centre - width / 2)[:, None] + torch.arange(math.ceil(width) + 2, dtype=torch.float64)
    weights = shrink * _cubic(shrink * (centre[:, None] - taps))
    weights = weights / weights.sum(dim=1, keepdim=True)
    index = (taps.long() - 1) % (2 * in_size)
    index = torch.where(index < in_size, index, 2 * in_size - 1 - index)
    matrix = torch.zeros(out_size, in_size, dtype=torch.float64).scatter_add_(1, index, weights)
    return matrix.to(dtype=like.dtype, device=like.device)


def _resize(planes: Tensor, size: tuple[int, int], scale: tuple[float, float] | None = None) -> Tensor:
    """imresize of (n, 1, h, w) planes to `size`; `scale` defaults to size / input size."""
    (rows, cols), (out_rows, out_cols) = planes.shape[-2:], size
    row_scale, col_scale = scale or (out_rows / rows, out_cols / cols)
    along_rows = _resize_matrix(rows, out_rows, row_scale, planes)
    along_cols = _resize_matrix(cols, out_cols, col_scale, planes)
    return along_rows @ planes @ along_cols.T


def _saliency_blur(dtype: torch.dtype, device: torch.device) -> Tensor:
    """fspecial('gaussian', [10 10], 3.8): taps at -4.5..4.5, normalised to sum 1; (10, 10)."""
    x = torch.arange(SALIENCY_BLUR_SIZE, dtype=dtype, device=device) - (SALIENCY_BLUR_SIZE - 1) / 2
    taps = torch.exp(-(x**2) / (2 * SALIENCY_BLUR_SIGMA**2))
    taps = taps / taps.sum()
    return torch.outer(taps, taps)


def _spectral_residual_saliency(image: Tensor) -> Tensor:
    """Saliency in [0, 1] of (n, 1, h, w) images (Hou & Zhang 2007), same shape."""
    rows, cols = image.shape[-2:]
    small_size = (math.ceil(rows * SALIENCY_SCALE), math.ceil(cols * SALIENCY_SCALE))
    small = _resize(image, small_size, (SALIENCY_SCALE, SALIENCY_SCALE))
    spectrum = torch.fft.fft2(small)
    amplitude = spectrum.abs()
    floor = amplitude.amax(dim=(-2, -1), keepdim=True) * torch.finfo(amplitude.dtype).eps
    log_amplitude = amplitude.maximum(floor.clamp_min(torch.finfo(amplitude.dtype).tiny)).log()
    box = log_amplitude.new_full((3, 3), 1.0 / 9)
    residual = log_amplitude - _filter(log_amplitude, box, 1, 1, mode="replicate")
    saliency = torch.fft.ifft2(torch.polar(residual.exp(), spectrum.angle())).abs().square()
    # imfilter with an even (10 x 10) kernel: 4 taps before the centre pixel, 5 after; zero borders.
    saliency = _filter(saliency, _saliency_blur(saliency.dtype, saliency.device), 4, 5)
    low = saliency.amin(dim=(-2, -1), keepdim=True)
    high = saliency.amax(dim=(-2, -1), keepdim=True)
    return _resize((saliency - low) / (high - low), (rows, cols))


def _gradient_magnitude(image: Tensor) -> Tensor:
    """|grad| with the reference's Scharr-like 3 x 3 kernels, zero borders; (n, 1, h, w)."""
    dx = image.new_tensor([[3.0, 0.0, -3.0], [10.0, 0.0, -10.0], [3.0, 0.0, -3.0]]) / 16
    return torch.hypot(_filter(image, dx, 1, 1), _filter(image, dx.T, 1, 1))


def _prepare(image: Tensor) -> Tensor:
    """(..., h, w, 3) PQ R'G'B' -> (n, 1, h', w') 8-bit-scaled luma, averaged and subsampled."""
    rows, cols = image.shape[-3:-1]
    weights = image.new_tensor(LUMA_WEIGHTS) * SCALE_8BIT
    luma = (image.reshape(-1, rows, cols, 3) @ weights)[:, None]
    return _average_and_subsample(luma, _downsample_factor(rows, cols))


@numpy_compatible
def sr_sim(pred: Tensor, target: Tensor) -> Tensor:
    """SR-SIM of `pred` against `target` (symmetric), one value per image; 1 means identical.

    pred, target: (..., h, w, 3) PQ R'G'B' in [0, 1] with h, w >= 5; returns (...). Smaller
    images leave a 1 x 1 quarter-size saliency map, which min/max normalisation turns into NaN.
    """
    require_same_shape(pred, target)
    if min(pred.shape[-3:-1]) < 5:
        raise ValueError(f"SR-SIM needs images of at least 5 x 5, got {tuple(pred.shape[-3:-1])}")
    y1, y2 = _prepare(pred), _prepare(target)
    s1, s2 = _spectral_residual_saliency(y1), _spectral_residual_saliency(y2)
    g1, g2 = _gradient_magnitude(y1), _gradient_magnitude(y2)
    saliency_sim = (2 * s1 * s2 + C1) / (s1 * s1 + s2 * s2 + C1)
    gradient_sim = (2 * g1 * g2 + C2) / (g1 * g1 + g2 * g2 + C2)
    weight = torch.maximum(s1, s2)
    score = (saliency_sim * gradient_sim**ALPHA * weight).sum(dim=(-3, -2, -1)) / weight.sum(dim=(-3, -2, -1))
    return score.reshape(pred.shape[:-3])
