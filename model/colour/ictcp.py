"""ICtCp colour encoding of ITU-R BT.2100 (PQ variant).

ICtCp separates intensity (I) from blue-yellow (Ct) and red-green (Cp) opponent chroma in a space
that is close to perceptually uniform over the whole HDR range, which is why ITU-R BT.2124 measures
colour differences (Delta E ITP) in it. BT.2100 defines it from linear BT.2020 RGB in absolute
light: RGB -> LMS (a crosstalk matrix with denominators of 4096), the PQ inverse EOTF on each of
L, M, S, then L'M'S' -> ICtCp (another 4096-denominator matrix). An achromatic input
R = G = B = Y gives I = PQ code of Y and Ct = Cp = 0.
"""

from __future__ import annotations

import torch
from hdrtv.model.arrays import numpy_compatible
from hdrtv.model.colour.transfer import pq_eotf, pq_inverse_eotf
from torch import Tensor

# ITU-R BT.2100, Table 6 (both matrices scaled by 4096).
_RGB_TO_LMS_4096 = ((1688, 2146, 262), (683, 2951, 462), (99, 309, 3688))
_LMS_P_TO_ICTCP_4096 = ((2048, 2048, 0), (6610, -13613, 7003), (17933, -17390, -543))


def _matrix(rows: tuple, like: Tensor, inverse: bool = False) -> Tensor:
    """The 3 x 3 matrix `rows` / 4096 (or its inverse, taken in float64) in `like`'s dtype/device."""
    matrix = torch.tensor(rows, dtype=torch.float64) / 4096
    if inverse:
        matrix = torch.linalg.inv(matrix)
    return matrix.to(dtype=like.dtype, device=like.device)


@numpy_compatible
def rgb2020_to_ictcp(rgb_linear: Tensor) -> Tensor:
    """Linear BT.2020 RGB in absolute cd/m2 (..., 3) -> ICtCp (..., 3); I is 1.0 at 10000 cd/m2.

    Negative LMS (out-of-gamut light) is clamped to 0 by the PQ inverse EOTF.
    """
    lms = rgb_linear @ _matrix(_RGB_TO_LMS_4096, rgb_linear).mT
    return pq_inverse_eotf(lms) @ _matrix(_LMS_P_TO_ICTCP_4096, rgb_linear).mT


@numpy_compatible
def ictcp_to_rgb2020(ictcp: Tensor) -> Tensor:
    """ICtCp (..., 3) -> linear BT.2020 RGB in absolute cd/m2 (..., 3); inverse of the above.

    L'M'S' code values are clamped to [0, 1] by the PQ EOTF (at most 10000 cd/m2 per cone).
    """
    lms_p = ictcp @ _matrix(_LMS_P_TO_ICTCP_4096, ictcp, inverse=True).mT
    return pq_eotf(lms_p) @ _matrix(_RGB_TO_LMS_4096, ictcp, inverse=True).mT
