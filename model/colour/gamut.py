"""BT.709 and BT.2020 primaries: RGB <-> CIE XYZ matrices and conversion between the two gamuts.

The matrices are derived from the chromaticities in ITU-R BT.709-6 and BT.2020-2 (both with the
D65 white point x = 0.3127, y = 0.3290), as SMPTE RP 177 does, rather than pasted from tables,
so they are exact to float64 and consistent with each other. All conversions act on linear
light; colour arrays are channel-last `(..., 3)`.
"""

from __future__ import annotations

import torch
from hdrtv.model.arrays import numpy_compatible

# (x, y) chromaticities of the red, green and blue primaries, and of the white point.
PRIMARIES_BT709 = ((0.640, 0.330), (0.300, 0.600), (0.150, 0.060))
PRIMARIES_BT2020 = ((0.708, 0.292), (0.170, 0.797), (0.131, 0.046))
WHITE_D65 = (0.3127, 0.3290)


def _xy_to_xyz(xy: torch.Tensor) -> torch.Tensor:
    """Chromaticities (..., 2) -> XYZ (..., 3) with Y = 1."""
    x, y = xy.unbind(-1)
    return torch.stack([x / y, torch.ones_like(x), (1.0 - x - y) / y], dim=-1)


@numpy_compatible
def normalised_primary_matrix(primaries: torch.Tensor, white: torch.Tensor) -> torch.Tensor:
    """RGB -> XYZ matrix (3, 3) from primaries (3, 2) and white (2,) chromaticities.

    Columns are the primaries' XYZ, scaled so that R = G = B = 1 gives the white with Y = 1.
    """
    columns = _xy_to_xyz(primaries).T
    scale = torch.linalg.solve(columns, _xy_to_xyz(white))
    return columns * scale


def _matrix(primaries: tuple[tuple[float, float], ...]) -> torch.Tensor:
    return normalised_primary_matrix(
        torch.tensor(primaries, dtype=torch.float64), torch.tensor(WHITE_D65, dtype=torch.float64)
    )


BT709_TO_XYZ = _matrix(PRIMARIES_BT709)
XYZ_TO_BT709 = torch.linalg.inv(BT709_TO_XYZ)
BT2020_TO_XYZ = _matrix(PRIMARIES_BT2020)
XYZ_TO_BT2020 = torch.linalg.inv(BT2020_TO_XYZ)
BT709_TO_BT2020 = XYZ_TO_BT2020 @ BT709_TO_XYZ
BT2020_TO_BT709 = XYZ_TO_BT709 @ BT2020_TO_XYZ


def apply_matrix(matrix: torch.Tensor, colours: torch.Tensor) -> torch.Tensor:
    """colours (..., 3) -> matrix @ colour for each colour, in the dtype and device of `colours`."""
    return colours @ matrix.to(dtype=colours.dtype, device=colours.device).T


@numpy_compatible
def rgb709_to_rgb2020(rgb: torch.Tensor) -> torch.Tensor:
    """Linear BT.709 RGB (..., 3) -> linear BT.2020 RGB (..., 3); no clipping needed (wider gamut)."""
    return apply_matrix(BT709_TO_BT2020, rgb)


@numpy_compatible
def rgb2020_to_rgb709(rgb: torch.Tensor) -> torch.Tensor:
    """Linear BT.2020 RGB (..., 3) -> linear BT.709 RGB (..., 3); out-of-gamut colours go outside
    [0, 1] and are left unclipped for the caller to handle."""
    return apply_matrix(BT2020_TO_BT709, rgb)
