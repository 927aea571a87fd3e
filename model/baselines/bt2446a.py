"""Inverse tone mapping of Report ITU-R BT.2446-1, Method A (section 4.2, SDR to HDR conversion).

A published, fixed SDR -> HDR expansion: luma is raised to a level-dependent exponent so that
SDR white reaches the 1000 cd/m2 HDR peak while shadows stay close to their SDR rendering, and
the colour differences are scaled with luma so saturation is kept. Steps (Report BT.2446-1,
section 4.2, Table 4; Method A's HDR to SDR direction is section 4.1):

1. Y'' = 255 Y'  (Y' the BT.2020 luma of the gamma-encoded SDR signal);
2. E = a1 Y''^2 + b1 Y'' + c1 for Y'' <= T, a2 Y''^2 + b2 Y'' + c2 above, T = 70;
   Y'_HDR = Y''^E, an HDR luma on a 0..1000 scale;
3. S_C = 1.075 Y'_HDR / Y' (1 where Y' = 0); Cb_HDR = S_C Cb, Cr_HDR = S_C Cr;
4. Y'CbCr -> R'G'B' (BT.2020), clipped to [0, 1000];
5. linear display light = (R'G'B' / 1000) ** 2.4, relative to the 1000 cd/m2 peak.

The constants are Table 4's: a1 = 1.8712e-5, b1 = -2.7334e-3, c1 = 1.3141, a2 = 2.8305e-6,
b2 = -7.4622e-4, c2 = 1.2528. The two branches meet at T (E = 1.2144) and 255^E(255) = 999.80,
so SDR white lands at 999.52 cd/m2 (PQ 0.7518), not exactly 1000. Some public implementations
carry c2 = 1.2328, a typo that breaks both properties (white would reach only 895).

The method is defined for SDR in BT.2020 primaries, and its luma weights and chroma scaling are
BT.2020's. Our input is BT.709, so it is first moved into a BT.2020 container the way a BT.1886
display-referred converter (ITU-R BT.2087) does: BT.1886 decode, primaries matrix on linear
light, BT.1886 re-encode. The result is then the same SDR picture, which Method A expands.
"""

from __future__ import annotations

import torch
from hdrtv.model.arrays import numpy_compatible
from hdrtv.model.colour.gamut import rgb709_to_rgb2020
from hdrtv.model.colour.transfer import bt1886_eotf, bt1886_inverse_eotf, pq_inverse_eotf
from hdrtv.model.colour.ycbcr import rgb_to_ypbpr, ypbpr_to_rgb

# Report ITU-R BT.2446-1, section 4.2, Table 4.
_KNEE = 70.0
_A1, _B1, _C1 = 1.8712e-5, -2.7334e-3, 1.3141
_A2, _B2, _C2 = 2.8305e-6, -7.4622e-4, 1.2528
_CHROMA_GAIN = 1.075
_HDR_PEAK = 1000.0
_GAMMA = 2.4


def _to_bt2020_signal(sdr: torch.Tensor) -> torch.Tensor:
    """BT.709 SDR R'G'B' in [0, 1] (..., 3) -> the same picture as BT.2020 SDR R'G'B' (..., 3)."""
    linear = rgb709_to_rgb2020(bt1886_eotf(sdr, lw=1.0, lb=0.0))
    return bt1886_inverse_eotf(linear, lw=1.0, lb=0.0)


def _expand_luma(y: torch.Tensor) -> torch.Tensor:
    """SDR luma Y' in [0, 1] (...) -> HDR luma Y'_HDR on the 0..1000 scale (...), Table 4."""
    y255 = 255.0 * y
    exponent = torch.where(y255 <= _KNEE, (_A1 * y255 + _B1) * y255 + _C1, (_A2 * y255 + _B2) * y255 + _C2)
    positive = y255 > 0
    base = torch.where(positive, y255, torch.ones_like(y255))
    return torch.where(positive, base**exponent, torch.zeros_like(y255))


@numpy_compatible
def bt2446a(sdr: torch.Tensor) -> torch.Tensor:
    """SDR BT.709 R'G'B' in [0, 1] (..., 3) -> HDR10 PQ BT.2020 R'G'B' (..., 3), in [0, 1].

    Input is clamped to [0, 1], the range the method is defined on; peak output is 1000 cd/m2.
    """
    signal = _to_bt2020_signal(sdr.clamp(0.0, 1.0)).clamp(0.0, 1.0)
    y, pb, pr = rgb_to_ypbpr(signal, "bt2020").unbind(-1)
    y_hdr = _expand_luma(y)
    positive = y > 0
    chroma_scale = torch.where(
        positive, _CHROMA_GAIN * y_hdr / torch.where(positive, y, torch.ones_like(y)), torch.ones_like(y)
    )
    hdr_signal = ypbpr_to_rgb(torch.stack([y_hdr, pb * chroma_scale, pr * chroma_scale], dim=-1), "bt2020")
    linear = (hdr_signal.clamp(0.0, _HDR_PEAK) / _HDR_PEAK) ** _GAMMA
    return pq_inverse_eotf(_HDR_PEAK * linear).clamp(0.0, 1.0)
