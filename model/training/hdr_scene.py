"""Scene-linear HDR images graded into HDR10 display light: the ground truth of synthetic pairs.

An HDR photograph's pixel values are relative; a grade fixes them in cd/m2 the way an HDR
colourist would for a BT.2100 PQ master:

1. exposure: the image's 95th luminance percentile (over the whole panorama, so every view of it
   shares one exposure) lands at diffuse white, drawn around the BT.2408 reference of 203 cd/m2
   (x 0.8 .. 1.25);
2. primaries: BT.709 -> BT.2020 in linear light, with an optional saturation boost (x 1.0 .. 1.3
   around the pixel's luminance) so that some colours leave BT.709's gamut as real HDR grades do;
3. mastering peak: 1000, 2000 or 4000 cd/m2 (drawn 2:1:1); the brightest channel rolls off
   smoothly above half the peak (tanh shoulder) instead of clipping, keeping the hue.

Images are Radiance .hdr (read by OpenCV) or OpenEXR .exr (read by the OpenEXR package; OpenCV's
wheels do not read EXR), linear with BT.709 primaries.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from ..colour import rgb709_to_rgb2020

HDR_IMAGE_SUFFIXES = (".hdr", ".exr")
REFERENCE_WHITE = 203.0
PEAKS = (1000.0, 2000.0, 4000.0)
_PEAK_WEIGHTS = (0.5, 0.25, 0.25)
_WHITE_PERCENTILE = 95.0
_LUMA_709 = (0.2126, 0.7152, 0.0722)
_LUMA_2020 = (0.2627, 0.6780, 0.0593)


def read_hdr_image(path: str | Path) -> np.ndarray:
    """A Radiance or OpenEXR image -> scene-linear BT.709 RGB (H, W, 3) float32, values >= 0."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in HDR_IMAGE_SUFFIXES:
        raise ValueError(f"not an HDR image (.hdr or .exr): {path}")
    image = _read_exr(path) if suffix == ".exr" else _read_radiance(path)
    if not np.isfinite(image).all():
        raise ValueError(f"HDR image has NaN or infinite pixels: {path}")
    return np.maximum(image, 0.0)


def _read_radiance(path: Path) -> np.ndarray:
    import cv2

    image = cv2.imread(str(path), cv2.IMREAD_ANYDEPTH | cv2.IMREAD_COLOR)
    if image is None or image.dtype != np.float32:
        raise ValueError(f"unreadable HDR image: {path}")
    return np.ascontiguousarray(image[:, :, ::-1])


def _read_exr(path: Path) -> np.ndarray:
    import OpenEXR

    try:
        with OpenEXR.File(str(path)) as exr:
            channels = exr.channels()
            layer = channels.get("RGB", channels.get("RGBA"))
            if layer is None:
                raise ValueError(f"EXR image has no RGB channels (has {', '.join(channels)}): {path}")
            return np.ascontiguousarray(layer.pixels[..., :3], dtype=np.float32)
    except (RuntimeError, OSError) as error:
        raise ValueError(f"unreadable HDR image: {path} ({error})") from None


@dataclass(frozen=True)
class HdrGrade:
    """One grade of one image: `scale` turns its values into cd/m2; `saturation`, `peak` as above."""

    scale: float
    diffuse_white: float
    saturation: float
    peak: float


def draw_grade(image: np.ndarray, rng: np.random.Generator) -> HdrGrade:
    """A random grade of `image` (H, W, 3) scene-linear BT.709."""
    luminance = image @ np.array(_LUMA_709, dtype=image.dtype)
    anchor = float(np.percentile(luminance, _WHITE_PERCENTILE))
    if anchor <= 0:
        raise ValueError("HDR image is black at its 95th percentile: nothing to grade")
    white = REFERENCE_WHITE * float(rng.uniform(0.8, 1.25))
    return HdrGrade(
        scale=white / anchor,
        diffuse_white=white,
        saturation=float(rng.uniform(1.0, 1.3)),
        peak=float(rng.choice(PEAKS, p=_PEAK_WEIGHTS)),
    )


def apply_grade(linear709: Tensor, grade: HdrGrade) -> Tensor:
    """Scene-linear BT.709 (..., 3) -> HDR display light, BT.2020 primaries, cd/m2 (..., 3)."""
    rgb = rgb709_to_rgb2020(linear709 * grade.scale)
    luminance = (rgb * rgb.new_tensor(_LUMA_2020)).sum(-1, keepdim=True)
    rgb = (luminance + grade.saturation * (rgb - luminance)).clamp_min(0.0)
    brightest = rgb.amax(-1, keepdim=True)
    knee = grade.peak / 2
    rolled = knee + (grade.peak - knee) * torch.tanh((brightest - knee) / (grade.peak - knee))
    gain = torch.where(brightest > knee, rolled / brightest.clamp_min(1e-12), torch.ones_like(brightest))
    return rgb * gain
