"""Transfer functions: PQ (SMPTE ST 2084), BT.1886 and HLG (ITU-R BT.2100).

Every function works element-wise on tensors of any shape, except the HLG EOTF and its inverse,
which need the three colour components `(..., 3)` because the HLG OOTF depends on luminance.
Luminances are absolute, in cd/m2. Negative inputs are clamped to zero before any fractional
power, because these curves are undefined for negative light (and would give NaNs). Powers of
zero are taken so that their gradient is zero rather than infinite, so losses built on these
functions never produce NaN gradients at black.
"""

from __future__ import annotations

import math

import torch
from hdrtv.model.arrays import numpy_compatible

# SMPTE ST 2084 constants.
PQ_PEAK = 10000.0
_M1 = 2610.0 / 16384.0
_M2 = 2523.0 / 4096.0 * 128.0
_C1 = 3424.0 / 4096.0
_C2 = 2413.0 / 4096.0 * 32.0
_C3 = 2392.0 / 4096.0 * 32.0

# ITU-R BT.1886 exponent.
_BT1886_GAMMA = 2.4

# ITU-R BT.2100 HLG constants and the BT.2020 luminance weights used by its OOTF.
_HLG_A = 0.17883277
_HLG_B = 1.0 - 4.0 * _HLG_A
_HLG_C = 0.5 - _HLG_A * math.log(4.0 * _HLG_A)
_LUMA_2020 = (0.2627, 0.6780, 0.0593)


def _spow(x: torch.Tensor, p: float) -> torch.Tensor:
    """max(x, 0) ** p with a zero (not infinite) gradient at zero; p > 0."""
    positive = x > 0
    return torch.where(positive, torch.where(positive, x, torch.ones_like(x)) ** p, torch.zeros_like(x))


@numpy_compatible
def pq_eotf(code: torch.Tensor) -> torch.Tensor:
    """PQ code value in [0, 1] (any shape) -> absolute luminance in cd/m2 (0..10000).

    Code values are clamped to [0, 1]: above 1 the curve's denominator soon reaches zero.
    """
    n = _spow(code.clamp(max=1.0), 1.0 / _M2)
    y = (n - _C1).clamp(min=0.0) / (_C2 - _C3 * n)
    return PQ_PEAK * _spow(y, 1.0 / _M1)


@numpy_compatible
def pq_inverse_eotf(luminance: torch.Tensor) -> torch.Tensor:
    """Absolute luminance in cd/m2 (any shape) -> PQ code value; 10000 cd/m2 -> 1.

    Negative luminance is clamped to 0; luminance above 10000 is extrapolated (code > 1).
    """
    y = _spow(luminance / PQ_PEAK, _M1)
    return ((_C1 + _C2 * y) / (1.0 + _C3 * y)) ** _M2


def _bt1886_constants(lw: float, lb: float) -> tuple[float, float]:
    """BT.1886 gain `a` and black lift `b` for white `lw` and black `lb` (cd/m2)."""
    span = lw ** (1.0 / _BT1886_GAMMA) - lb ** (1.0 / _BT1886_GAMMA)
    return span**_BT1886_GAMMA, lb ** (1.0 / _BT1886_GAMMA) / span


@numpy_compatible
def bt1886_eotf(v: torch.Tensor, lw: float = 100.0, lb: float = 0.0) -> torch.Tensor:
    """SDR video signal V (any shape; 0 black, 1 white) -> screen luminance in cd/m2.

    `lw`/`lb` are the display's white and black luminance; `lw=1, lb=0` gives display-relative
    light. As in the Recommendation, V + b is clamped at 0; V above 1 is extrapolated.
    """
    a, b = _bt1886_constants(lw, lb)
    return a * _spow(v + b, _BT1886_GAMMA)


@numpy_compatible
def bt1886_inverse_eotf(luminance: torch.Tensor, lw: float = 100.0, lb: float = 0.0) -> torch.Tensor:
    """Screen luminance in cd/m2 (any shape) -> SDR video signal V; negatives clamped to 0."""
    a, b = _bt1886_constants(lw, lb)
    return _spow(luminance / a, 1.0 / _BT1886_GAMMA) - b


@numpy_compatible
def hlg_oetf(e: torch.Tensor) -> torch.Tensor:
    """Scene-linear light E in [0, 1] (any shape) -> HLG signal E' in [0, 1].

    Negative E is clamped to 0; E above 1 follows the logarithmic segment (E' > 1).
    """
    e = e.clamp(min=0.0)
    low = _spow(3.0 * e, 0.5)
    high = _HLG_A * torch.log(12.0 * e.clamp(min=1.0 / 12.0) - _HLG_B) + _HLG_C
    return torch.where(e <= 1.0 / 12.0, low, high)


@numpy_compatible
def hlg_inverse_oetf(e_prime: torch.Tensor) -> torch.Tensor:
    """HLG signal E' (any shape) -> scene-linear light E in [0, 1]; negative E' clamped to 0."""
    e_prime = e_prime.clamp(min=0.0)
    low = e_prime**2 / 3.0
    high = (torch.exp((e_prime.clamp(min=0.5) - _HLG_C) / _HLG_A) + _HLG_B) / 12.0
    return torch.where(e_prime <= 0.5, low, high)


def hlg_system_gamma(lw: float = 1000.0) -> float:
    """HLG OOTF system gamma for a display of nominal peak `lw` cd/m2 (ITU-R BT.2100-2, Table 5).

    1.2 + 0.42 log10(lw / 1000) within 400..2000 cd/m2, as the Recommendation states; outside that
    range its extended formula 1.2 * 1.111 ** log2(lw / 1000). Both give 1.2 at 1000 cd/m2.
    """
    if 400.0 <= lw <= 2000.0:
        return 1.2 + 0.42 * math.log10(lw / 1000.0)
    return 1.2 * 1.111 ** math.log2(lw / 1000.0)


def _luminance_2020(rgb: torch.Tensor) -> torch.Tensor:
    """BT.2020 linear RGB (..., 3) -> luminance (..., 1)."""
    weights = torch.tensor(_LUMA_2020, dtype=rgb.dtype, device=rgb.device)
    return (rgb * weights).sum(dim=-1, keepdim=True)


def _hlg_black_lift(lw: float, lb: float, gamma: float) -> float:
    """BT.2100-2 black level lift beta = sqrt(3 (lb / lw) ** (1 / gamma))."""
    return math.sqrt(3.0 * (lb / lw) ** (1.0 / gamma))


@numpy_compatible
def hlg_eotf(rgb_signal: torch.Tensor, lw: float = 1000.0, lb: float = 0.0) -> torch.Tensor:
    """HLG R'G'B' signal (..., 3) -> displayed BT.2020 linear light in cd/m2 (..., 3).

    BT.2100-2: the black lift beta is applied to the signal, the lifted signal is clamped at 0
    and linearised, then the OOTF F_D = lw * Y_s ** (gamma - 1) * E scales by scene luminance.
    """
    gamma = hlg_system_gamma(lw)
    beta = _hlg_black_lift(lw, lb, gamma)
    scene = hlg_inverse_oetf(((1.0 - beta) * rgb_signal + beta).clamp(min=0.0))
    return lw * _spow(_luminance_2020(scene), gamma - 1.0) * scene


@numpy_compatible
def hlg_inverse_eotf(display: torch.Tensor, lw: float = 1000.0, lb: float = 0.0) -> torch.Tensor:
    """Displayed BT.2020 linear light in cd/m2 (..., 3) -> HLG R'G'B' signal (..., 3).

    Negative light is clamped to 0; black (zero luminance) maps to signal 0 when lb = 0 and to
    the value the lifted EOTF takes back to black otherwise.
    """
    gamma = hlg_system_gamma(lw)
    beta = _hlg_black_lift(lw, lb, gamma)
    display = display.clamp(min=0.0)
    luminance = _luminance_2020(display) / lw
    positive = luminance > 0
    safe = torch.where(positive, luminance, torch.ones_like(luminance))
    scene = torch.where(positive, display / lw * safe ** ((1.0 - gamma) / gamma), torch.zeros_like(display))
    return (hlg_oetf(scene) - beta) / (1.0 - beta)
