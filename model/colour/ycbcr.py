"""R'G'B' <-> Y'CbCr (non-constant luminance) for BT.709 and BT.2020, in video code values.

Video files carry Y'CbCr code values; the model works on R'G'B' in [0, 1]. The luma weights
Kr, Kb are those of ITU-R BT.709-6 (0.2126, 0.0722) and BT.2020-2 (0.2627, 0.0593). Code values
follow ITU-T H.273, section 8.3 (identical to BT.709/BT.2020 for the limited range):

- limited ("narrow", video) range: Y = 2^(n-8) (219 E'Y + 16), Cb = 2^(n-8) (224 E'Pb + 128);
- full range: Y = (2^n - 1) E'Y, Cb = (2^n - 1) E'Pb + 2^(n-1).

This is also what colour-science's `RGB_to_YCbCr(..., out_bits=n, out_legal=..., out_int=True)`
computes before rounding. Note that in full range the chroma offset 2^(n-1) is not the centre of
the scale 2^n - 1, so Cb = -0.5 maps to 0.5 rather than 0 and +0.5 to 2^n - 0.5 (clipped to
2^n - 1 on quantisation); achromatic colours still land on an integer code.
Code values are returned as unrounded floats; `quantise` rounds them as BT.2100 does.
`rgb_to_ypbpr` gives the normalised signals (E'Y, E'Pb, E'Pr) before any code-value scaling,
which the tone-mapping baselines work in.
"""

from __future__ import annotations

from typing import Literal

import torch
from hdrtv.model.arrays import numpy_compatible

Matrix = Literal["bt601", "bt709", "bt2020"]

# (Kr, Kb) of ITU-R BT.601, BT.709 and BT.2020 (non-constant luminance).
LUMA_WEIGHTS: dict[str, tuple[float, float]] = {
    "bt601": (0.299, 0.114),
    "bt709": (0.2126, 0.0722),
    "bt2020": (0.2627, 0.0593),
}


def _code_range(bit_depth: int, full_range: bool) -> tuple[float, float, float, float]:
    """(luma offset, luma scale, chroma offset, chroma scale) in code values for `bit_depth`."""
    if bit_depth < 8:
        raise ValueError(f"bit_depth must be at least 8, got {bit_depth}")
    if full_range:
        top = float(2**bit_depth - 1)
        return 0.0, top, float(2 ** (bit_depth - 1)), top
    step = float(2 ** (bit_depth - 8))
    return 16.0 * step, 219.0 * step, 128.0 * step, 224.0 * step


@numpy_compatible
def rgb_to_ypbpr(rgb: torch.Tensor, matrix: Matrix) -> torch.Tensor:
    """Non-linear R'G'B' (..., 3) -> (E'Y, E'Pb, E'Pr) (..., 3): luma in [0, 1], colour
    differences in [-0.5, 0.5] for R'G'B' in [0, 1] (the standards' normalised signals)."""
    kr, kb = LUMA_WEIGHTS[matrix]
    r, g, b = rgb.unbind(-1)
    y = kr * r + (1.0 - kr - kb) * g + kb * b
    return torch.stack([y, (b - y) / (2.0 * (1.0 - kb)), (r - y) / (2.0 * (1.0 - kr))], dim=-1)


@numpy_compatible
def ypbpr_to_rgb(ypbpr: torch.Tensor, matrix: Matrix) -> torch.Tensor:
    """(E'Y, E'Pb, E'Pr) (..., 3) -> non-linear R'G'B' (..., 3); inverse of `rgb_to_ypbpr`."""
    kr, kb = LUMA_WEIGHTS[matrix]
    y, pb, pr = ypbpr.unbind(-1)
    r = y + 2.0 * (1.0 - kr) * pr
    b = y + 2.0 * (1.0 - kb) * pb
    g = (y - kr * r - kb * b) / (1.0 - kr - kb)
    return torch.stack([r, g, b], dim=-1)


@numpy_compatible
def rgb_to_ycbcr(rgb: torch.Tensor, matrix: Matrix, bit_depth: int = 10, full_range: bool = False) -> torch.Tensor:
    """Non-linear R'G'B' in [0, 1] (..., 3) -> Y'CbCr code values (..., 3), unrounded floats."""
    y_offset, y_scale, c_offset, c_scale = _code_range(bit_depth, full_range)
    offset = torch.tensor([y_offset, c_offset, c_offset], dtype=rgb.dtype, device=rgb.device)
    scale = torch.tensor([y_scale, c_scale, c_scale], dtype=rgb.dtype, device=rgb.device)
    return offset + scale * rgb_to_ypbpr(rgb, matrix)


@numpy_compatible
def ycbcr_to_rgb(ycbcr: torch.Tensor, matrix: Matrix, bit_depth: int = 10, full_range: bool = False) -> torch.Tensor:
    """Y'CbCr code values (..., 3) -> non-linear R'G'B' (..., 3), nominally [0, 1], not clipped."""
    y_offset, y_scale, c_offset, c_scale = _code_range(bit_depth, full_range)
    offset = torch.tensor([y_offset, c_offset, c_offset], dtype=ycbcr.dtype, device=ycbcr.device)
    scale = torch.tensor([y_scale, c_scale, c_scale], dtype=ycbcr.dtype, device=ycbcr.device)
    return ypbpr_to_rgb((ycbcr - offset) / scale, matrix)


@numpy_compatible
def quantise(codes: torch.Tensor, bit_depth: int = 10) -> torch.Tensor:
    """Code values (any shape) -> integer code values (same float dtype) in [0, 2^n - 1].

    Rounds half away from zero, BT.2100's Round(); torch.round would round half to even.
    """
    return torch.floor(codes + 0.5).clamp(0.0, float(2**bit_depth - 1))
