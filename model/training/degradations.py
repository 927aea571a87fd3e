"""Degradation models: how an SDR version of an HDR sequence is made, for synthetic training pairs.

A colourist or a converter can make SDR from HDR in many ways; training on one of them would
teach the network to invert that one curve. Each model here takes HDR display light
`(t, h, w, 3)` (BT.2020 primaries, absolute cd/m2) and gives SDR `(t, h, w, 3)`: BT.709 R'G'B'
in [0, 1] encoded with the BT.1886 inverse EOTF (L_W = 1, L_B = 0: a 1/2.4 power), unquantised.
Every model ends the same way: SDR linear light relative to SDR white (1 = 100%), BT.2020 ->
BT.709 primaries with `rgb2020_to_rgb709`, clip in linear light to [0, 1], then the 1/2.4 power.
Models whose standard defines a BT.2020 SDR signal (Methods A and C) clip that to [0, 1] first.

- "bt2446a": Report ITU-R BT.2446-1, section 4.1 (Method A, HDR to SDR; the project's inverse
  baseline is its section 4.2). R'G'B' = (L / L_HDR)^(1/2.4), L_HDR = 1000 (above clips at 1);
  Y' the BT.2020 luma; rho(L) = 1 + 32 (L / 10000)^(1/2.4); Y'_p = log(1 + (rho_HDR - 1) Y') /
  log(rho_HDR); knee Y'_c = 1.0770 Y'_p up to 0.7399, -1.1510 Y'_p^2 + 2.7811 Y'_p - 0.6302 up to
  0.9909, 0.5 Y'_p + 0.5 above; Y'_SDR = (rho_SDR^Y'_c - 1) / (rho_SDR - 1) with rho_SDR =
  rho(100); colour differences scaled by Y'_SDR / (1.1 Y'), Y'_tmo = Y'_SDR - max(0.1 Cr, 0).
  The result is a BT.2020 gamma-2.4 SDR signal. Fixed: `l_hdr` is recorded, always 1000.
- "bt2446c": Report ITU-R BT.2446-1, section 6.1 (Method C). Crosstalk matrix (1 - 2a on the
  diagonal, a elsewhere) on linear RGB, luminance Y tone-mapped with chromaticity x, y kept,
  inverse crosstalk matrix ((1 - a) diagonal, -a elsewhere, over 1 - 3a). The curve, in cd/m2:
  Y_SDR = k1 Y below Y_ip = 58.5 / k1, k2 ln(Y / Y_ip - k3) + k4 above, with the report's
  k1 = 0.83802, k2 = 15.09968, k3 = 0.74204, k4 = 78.99439 (they meet to within 0.04 cd/m2 at
  Y_ip: the report rounds them); Y_SDR / 100 is SDR linear light. Keeping x, y while replacing Y
  scales X, Y, Z alike, so it is applied as that scale. `alpha` is drawn in [0, 0.33] (the
  report's range). The report's optional chroma correction above reference white (6.1.8) is
  not applied.
- "clip": the BT.2408 reference level: HDR reference white (203 cd/m2 nominally) becomes SDR
  100%, everything above clips. `reference_white` is drawn in [180, 230] cd/m2.
- "filmic": John Hable's "Uncharted 2" curve (GDC 2010, "Filmic Tonemapping Operators"),
  f(x) = (x (A x + C B) + D E) / (x (A x + B) + D F) - E / F with A = 0.15, B = 0.50, C = 0.10,
  D = 0.20, E = 0.02, F = 0.30, output f(x) / f(x_white). Applied to luminance, colour kept by
  the ratio out / in on all three channels (hue kept; bright saturated colours clip). Exposure:
  203 cd/m2 becomes curve input `exposure`, drawn in [2, 4]; the white point (SDR 100%) is
  `white_fraction` (drawn in [0.5, 1]) times the sequence's peak luminance, at least 203 cd/m2.
- "auto-exposure": Reinhard et al. 2002 ("Photographic Tone Reproduction for Digital Images"),
  a camera-like grade: the sequence's log-average luminance exp(mean(ln(1e-3 + Y))), over all
  frames and over the pixels at or below the 99th luminance percentile, is scaled to `key`
  (drawn in [0.12, 0.25]), then the extended Reinhard shoulder L (1 + L / W^2) / (1 + L) with
  `white` W (drawn in [2, 6], in key-scaled units) reaching SDR 100%; colour kept by ratio.

Content-dependent parameters (filmic's white in cd/m2, auto-exposure's log-average) are
measured over the whole sequence by `resolve_degradation`, so a sequence shares one grade and
never flickers; the resolved parameters are what a dataset index should record.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from hdrtv.model.colour import bt1886_eotf, bt1886_inverse_eotf, rgb2020_to_rgb709
from hdrtv.model.colour.gamut import BT2020_TO_XYZ, apply_matrix
from hdrtv.model.colour.ycbcr import rgb_to_ypbpr, ypbpr_to_rgb

DEGRADATIONS: tuple[str, ...] = ("bt2446a", "bt2446c", "clip", "filmic", "auto-exposure")

_REFERENCE_WHITE = 203.0  # BT.2408 HDR reference white, cd/m2
_SDR_WHITE = 100.0  # BT.2446 SDR peak, cd/m2
_GAMMA = 2.4

# Report ITU-R BT.2446-1, section 4.1 (Method A).
_A_KNEE_LOW, _A_KNEE_HIGH = 0.7399, 0.9909
_A_LINEAR = 1.0770
_A_QUAD = (-1.1510, 2.7811, -0.6302)

# Report ITU-R BT.2446-1, section 6.1.4 (Method C).
_C_K1, _C_K2, _C_K3, _C_K4 = 0.83802, 15.09968, 0.74204, 78.99439
_C_Y_IP = 58.5 / _C_K1

# John Hable's Uncharted 2 curve: shoulder strength, linear strength, linear angle, toe strength,
# toe numerator, toe denominator.
_HA, _HB, _HC, _HD, _HE, _HF = 0.15, 0.50, 0.10, 0.20, 0.02, 0.30

_LOG_DELTA = 1e-3  # cd/m2, keeps ln finite at black (Reinhard's delta)
_HIGHLIGHT_QUANTILE = 0.99


@dataclass(frozen=True)
class Degradation:
    """One model with its parameters, JSON-serialisable (they go into the dataset index)."""

    name: str
    params: dict[str, float]


def draw_degradation(name: str, rng: np.random.Generator) -> Degradation:
    """Random but plausible parameters of model `name` for one sequence."""
    if name == "bt2446a":
        return Degradation(name, {"l_hdr": 1000.0})
    if name == "bt2446c":
        return Degradation(name, {"alpha": float(rng.uniform(0.0, 0.33))})
    if name == "clip":
        return Degradation(name, {"reference_white": float(rng.uniform(180.0, 230.0))})
    if name == "filmic":
        return Degradation(
            name, {"exposure": float(rng.uniform(2.0, 4.0)), "white_fraction": float(rng.uniform(0.5, 1.0))}
        )
    if name == "auto-exposure":
        return Degradation(name, {"key": float(rng.uniform(0.12, 0.25)), "white": float(rng.uniform(2.0, 6.0))})
    raise ValueError(f"unknown degradation {name!r}; expected one of {DEGRADATIONS}")


def _luminance(rgb: torch.Tensor) -> torch.Tensor:
    """BT.2020 linear RGB (..., 3) -> luminance Y (...)."""
    return (rgb * BT2020_TO_XYZ[1].to(dtype=rgb.dtype, device=rgb.device)).sum(dim=-1)


def _upper_quantile(values: torch.Tensor, q: float) -> float:
    """The q-quantile of all `values` (a lower order statistic; torch.quantile caps its input size)."""
    flat = values.reshape(-1)
    return float(flat.kthvalue(max(1, math.ceil(q * flat.numel()))).values)


def resolve_degradation(hdr: torch.Tensor, degradation: Degradation) -> Degradation:
    """Add the parameters that depend on content, measured over all frames of `hdr` (t, h, w, 3).

    Parameters already present are kept, so resolving twice, or degrading with resolved
    parameters, gives the same grade.
    """
    params = dict(degradation.params)
    if degradation.name == "filmic" and "white" not in params:
        peak = float(_luminance(hdr).max())
        params["white"] = max(params["white_fraction"] * peak, _REFERENCE_WHITE)
    if degradation.name == "auto-exposure" and "log_average" not in params:
        luminance = _luminance(hdr).clamp(min=0.0).double()
        kept = luminance[luminance <= _upper_quantile(luminance, _HIGHLIGHT_QUANTILE)]
        params["log_average"] = math.exp(float(torch.log(_LOG_DELTA + kept).mean()))
    return Degradation(degradation.name, params)


def _scale_colour(rgb: torch.Tensor, luminance: torch.Tensor, mapped: torch.Tensor) -> torch.Tensor:
    """Multiply each colour (..., 3) by mapped / luminance (...), black where luminance is 0."""
    positive = luminance > 0
    ratio = torch.where(positive, mapped / torch.where(positive, luminance, torch.ones_like(luminance)), 0.0)
    return rgb * ratio.unsqueeze(-1)


def _bt2446a(hdr: torch.Tensor, l_hdr: float) -> torch.Tensor:
    """Method A: HDR cd/m2 (..., 3) -> BT.2020 SDR linear light (..., 3) relative to SDR white."""
    signal = bt1886_inverse_eotf((hdr / l_hdr).clamp(0.0, 1.0), lw=1.0)
    y, cb, cr = rgb_to_ypbpr(signal, "bt2020").unbind(-1)
    rho_hdr = 1.0 + 32.0 * (l_hdr / 10000.0) ** (1.0 / _GAMMA)
    rho_sdr = 1.0 + 32.0 * (_SDR_WHITE / 10000.0) ** (1.0 / _GAMMA)
    y_p = torch.log1p((rho_hdr - 1.0) * y) / math.log(rho_hdr)
    a, b, c = _A_QUAD
    y_c = torch.where(
        y_p <= _A_KNEE_LOW,
        _A_LINEAR * y_p,
        torch.where(y_p <= _A_KNEE_HIGH, (a * y_p + b) * y_p + c, 0.5 * y_p + 0.5),
    )
    y_sdr = (rho_sdr**y_c - 1.0) / (rho_sdr - 1.0)
    positive = y > 0
    f = torch.where(positive, y_sdr / (1.1 * torch.where(positive, y, torch.ones_like(y))), 0.0)
    cb, cr = f * cb, f * cr
    y_tmo = y_sdr - (0.1 * cr).clamp(min=0.0)
    sdr_signal = ypbpr_to_rgb(torch.stack([y_tmo, cb, cr], dim=-1), "bt2020").clamp(0.0, 1.0)
    return bt1886_eotf(sdr_signal, lw=1.0)


def _bt2446c_curve(y: torch.Tensor) -> torch.Tensor:
    """Method C tone curve: HDR luminance (cd/m2) -> SDR luminance (cd/m2, 100 = SDR white)."""
    log_part = _C_K2 * torch.log((y / _C_Y_IP - _C_K3).clamp(min=1e-6)) + _C_K4
    return torch.where(y < _C_Y_IP, _C_K1 * y, log_part)


def _crosstalk(alpha: float) -> tuple[torch.Tensor, torch.Tensor]:
    """The report's (3, 3) crosstalk matrix (1 - 2 alpha diagonal, alpha elsewhere) and its inverse
    ((1 - alpha) diagonal, -alpha elsewhere, divided by 1 - 3 alpha)."""
    eye, ones = torch.eye(3, dtype=torch.float64), torch.ones(3, 3, dtype=torch.float64)
    return (1.0 - 3.0 * alpha) * eye + alpha * ones, (eye - alpha * ones) / (1.0 - 3.0 * alpha)


def _bt2446c(hdr: torch.Tensor, alpha: float) -> torch.Tensor:
    """Method C: HDR cd/m2 (..., 3) -> BT.2020 SDR linear light (..., 3) relative to SDR white."""
    crosstalk, inverse = _crosstalk(alpha)
    mixed = apply_matrix(crosstalk, hdr)
    y = _luminance(mixed)
    tone_mapped = _scale_colour(mixed, y, _bt2446c_curve(y) / _SDR_WHITE)
    return apply_matrix(inverse, tone_mapped).clamp(0.0, 1.0)


def _hable(x: torch.Tensor) -> torch.Tensor:
    """Hable's curve on curve input x >= 0 (any shape); f(0) = 0, rising towards 1 - E / F."""
    return (x * (_HA * x + _HC * _HB) + _HD * _HE) / (x * (_HA * x + _HB) + _HD * _HF) - _HE / _HF


def _filmic(hdr: torch.Tensor, exposure: float, white: float) -> torch.Tensor:
    """Hable's curve on luminance: 203 cd/m2 -> input `exposure`, `white` cd/m2 -> SDR 100%."""
    y = _luminance(hdr)
    scale = exposure / _REFERENCE_WHITE
    white_out = _hable(torch.tensor(scale * white, dtype=hdr.dtype))
    return _scale_colour(hdr, y, _hable(scale * y) / white_out)


def _auto_exposure(hdr: torch.Tensor, key: float, white: float, log_average: float) -> torch.Tensor:
    """Extended Reinhard on luminance scaled so the log-average lands on `key`."""
    y = _luminance(hdr)
    scaled = key / log_average * y
    return _scale_colour(hdr, y, scaled * (1.0 + scaled / white**2) / (1.0 + scaled))


def degrade(hdr: torch.Tensor, degradation: Degradation) -> torch.Tensor:
    """HDR display light (t, h, w, 3), BT.2020, cd/m2 -> SDR BT.709 R'G'B' (t, h, w, 3) in [0, 1]."""
    resolved = resolve_degradation(hdr, degradation)
    p = resolved.params
    hdr = hdr.clamp(min=0.0)
    if resolved.name == "bt2446a":
        linear = _bt2446a(hdr, p["l_hdr"])
    elif resolved.name == "bt2446c":
        linear = _bt2446c(hdr, p["alpha"])
    elif resolved.name == "clip":
        linear = hdr / p["reference_white"]
    elif resolved.name == "filmic":
        linear = _filmic(hdr, p["exposure"], p["white"])
    elif resolved.name == "auto-exposure":
        linear = _auto_exposure(hdr, p["key"], p["white"], p["log_average"])
    else:
        raise ValueError(f"unknown degradation {resolved.name!r}; expected one of {DEGRADATIONS}")
    return bt1886_inverse_eotf(rgb2020_to_rgb709(linear).clamp(0.0, 1.0), lw=1.0)


def quantise_8bit(sdr: torch.Tensor) -> torch.Tensor:
    """SDR R'G'B' (..., 3) -> the nearest 8-bit code value / 255 (half away from zero), in [0, 1]."""
    return torch.floor(sdr.clamp(0.0, 1.0) * 255.0 + 0.5) / 255.0
