"""Peak signal-to-noise ratio, as the SDR-to-HDR literature reports it.

The field computes PSNR on PQ-encoded BT.2020 R'G'B' code values in [0, 1] (16-bit PNG / 65535)
with a peak of 1.0 and one mean squared error over all three channels, so the figures here are
comparable with the papers' tables.
"""

from __future__ import annotations

import torch
from hdrtv.model.arrays import numpy_compatible
from hdrtv.model.metrics.checks import require_same_shape
from torch import Tensor


@numpy_compatible
def psnr(pred: Tensor, target: Tensor, peak: float = 1.0) -> Tensor:
    """PSNR in dB of `pred` against `target`, one value per image.

    pred, target: (..., h, w, 3) code values (PQ R'G'B' in [0, 1]); returns (...).
    Identical images give +inf (zero error), as the definition does.
    """
    require_same_shape(pred, target)
    mse = (pred - target).square().mean(dim=(-3, -2, -1))
    return 10.0 * torch.log10(peak**2 / mse)
