"""Temporal consistency: how much a video prediction flickers that its target does not.

Per-frame metrics (PSNR, SR-SIM, Delta E ITP) cannot see flicker: a frame-wise brightness jitter
of 1% barely moves PSNR yet is plainly visible in playback. Comparing frame-to-frame changes of
the prediction with those of the target isolates it: a prediction that is wrong by the same
amount on every frame (a constant offset) does not flicker and scores 0.
"""

from __future__ import annotations

from hdrtv.model.arrays import numpy_compatible
from hdrtv.model.metrics.checks import require_same_shape
from torch import Tensor


@numpy_compatible
def flicker(pred: Tensor, target: Tensor) -> Tensor:
    """Mean absolute difference of temporal changes, in PQ code units, one value per sequence.

    pred, target: (..., t, h, w, 3) PQ R'G'B' in [0, 1] with t >= 2; returns (...): the mean over
    the t - 1 consecutive frame pairs and all pixels and channels of
    |(pred[t+1] - pred[t]) - (target[t+1] - target[t])|.
    """
    require_same_shape(pred, target)
    if pred.dim() < 4 or pred.shape[-4] < 2:
        raise ValueError(f"flicker needs sequences (..., t, h, w, 3) with t >= 2, got {tuple(pred.shape)}")
    change_error = (pred - target).diff(dim=-4)
    return change_error.abs().mean(dim=(-4, -3, -2, -1))
