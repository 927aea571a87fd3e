"""Delta E ITP colour difference (ITU-R BT.2124) between HDR10 images.

BT.2124 scales ICtCp so that a difference of 1 is about one just-noticeable difference over the
whole HDR range: ITP = (I, 0.5 Ct, Cp) and Delta E ITP = 720 * |ITP_1 - ITP_2|. The field feeds it
PQ-encoded BT.2020 R'G'B' decoded to absolute linear light (1.0 code = 10000 cd/m2) and reports
the mean over pixels.
"""

from __future__ import annotations

from hdrtv.model.arrays import numpy_compatible
from hdrtv.model.colour.ictcp import rgb2020_to_ictcp
from hdrtv.model.colour.transfer import pq_eotf
from hdrtv.model.metrics.checks import require_same_shape
from torch import Tensor

JND_SCALE = 720.0


def _itp(pq_rgb: Tensor) -> Tensor:
    """PQ BT.2020 R'G'B' (..., 3) -> ITP (..., 3), with Ct halved as BT.2124 prescribes."""
    ictcp = rgb2020_to_ictcp(pq_eotf(pq_rgb))
    return ictcp * ictcp.new_tensor([1.0, 0.5, 1.0])


@numpy_compatible
def delta_e_itp_map(pred: Tensor, target: Tensor) -> Tensor:
    """Per-pixel Delta E ITP: (..., h, w, 3) PQ BT.2020 R'G'B' in [0, 1] -> (..., h, w)."""
    require_same_shape(pred, target)
    return JND_SCALE * (_itp(pred) - _itp(target)).norm(dim=-1)


@numpy_compatible
def delta_e_itp(pred: Tensor, target: Tensor) -> Tensor:
    """Mean Delta E ITP over pixels, one value per image; 1 is about one JND.

    pred, target: (..., h, w, 3) PQ BT.2020 R'G'B' in [0, 1]; returns (...).
    """
    return delta_e_itp_map(pred, target).mean(dim=(-2, -1))
