"""Colour science on torch tensors (numpy arrays work too): transfer functions, primaries,
R'G'B' <-> Y'CbCr and ICtCp. Colours are channel-last `(..., 3)`."""

from .gamut import BT709_TO_BT2020, BT2020_TO_BT709, rgb709_to_rgb2020, rgb2020_to_rgb709
from .ictcp import ictcp_to_rgb2020, rgb2020_to_ictcp
from .transfer import (
    PQ_PEAK,
    bt1886_eotf,
    bt1886_inverse_eotf,
    hlg_eotf,
    hlg_inverse_eotf,
    hlg_inverse_oetf,
    hlg_oetf,
    pq_eotf,
    pq_inverse_eotf,
)
from .ycbcr import quantise, rgb_to_ycbcr, ycbcr_to_rgb

__all__ = [
    "BT709_TO_BT2020",
    "BT2020_TO_BT709",
    "PQ_PEAK",
    "bt1886_eotf",
    "bt1886_inverse_eotf",
    "hlg_eotf",
    "hlg_inverse_eotf",
    "hlg_inverse_oetf",
    "hlg_oetf",
    "ictcp_to_rgb2020",
    "pq_eotf",
    "pq_inverse_eotf",
    "quantise",
    "rgb2020_to_ictcp",
    "rgb2020_to_rgb709",
    "rgb709_to_rgb2020",
    "rgb_to_ycbcr",
    "ycbcr_to_rgb",
]
