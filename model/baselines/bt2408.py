"""SDR-in-HDR display-referred mapping of Report ITU-R BT.2408 (section 5.1, SDR into PQ).

The simplest credible baseline: show the SDR picture on an HDR10 display exactly as it looked
on a BT.1886 SDR display, with SDR reference white (signal 1.0) placed at HDR Reference White,
203 cd/m2 (BT.2408 section 2.1). No highlight expansion: HDR headroom above 203 cd/m2 stays
unused, so this is the floor any learned converter must beat.
"""

from __future__ import annotations

import torch
from hdrtv.model.arrays import numpy_compatible
from hdrtv.model.colour.gamut import rgb709_to_rgb2020
from hdrtv.model.colour.transfer import bt1886_eotf, pq_inverse_eotf


@numpy_compatible
def bt2408(sdr: torch.Tensor, reference_white: float = 203.0) -> torch.Tensor:
    """SDR BT.709 R'G'B' in [0, 1] (..., 3) -> HDR10 PQ BT.2020 R'G'B' (..., 3), in [0, 1].

    BT.1886 decode to display-relative light (white 1, black 0), BT.709 -> BT.2020 primaries on
    linear light, scale so SDR white lands on `reference_white` cd/m2, PQ encode. Negative
    signal is clamped by BT.1886; super-whites above 1 map above `reference_white`, as the
    Report allows.
    """
    display = rgb709_to_rgb2020(bt1886_eotf(sdr, lw=1.0, lb=0.0))
    return pq_inverse_eotf(reference_white * display).clamp(0.0, 1.0)
