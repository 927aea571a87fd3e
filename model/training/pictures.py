"""Side-by-side pictures of the evaluation: what each model makes of a frame, and where it errs.

For the first `count` sequences of a split (index order, as `evaluate` reads them), the centre
frame, converted from its neighbours, gives two PNGs under `out_dir`:

    <sequence>.png          [SDR input | each model's HDR output | HDR ground truth]
    <sequence>_delta_e.png  [each model's per-pixel Delta E ITP | colour bar]

HDR is shown on an SDR screen by a fixed display mapping, the same for every panel so they
compare: PQ R'G'B' -> the ITU-R BT.2390 EETF per channel (a source mastered to 1000 cd/m2, identity
below the knee, a Hermite roll-off to a 100 cd/m2 target above it, brighter content clipped) ->
cd/m2 (PQ EOTF) -> BT.709 primaries (out-of-gamut clipped) -> BT.1886 encoding for a 100 cd/m2
display -> 8 bits. Delta E ITP is false-coloured (cv2 inferno) on a fixed 0..20 scale, stated on
the bar, so pictures of different models and runs read alike. Panels wider than `panel_width`
are shrunk (area-averaged) to keep the pictures viewable.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import torch
from hdrtv.model.colour import bt1886_inverse_eotf, pq_eotf, pq_inverse_eotf, rgb2020_to_rgb709
from hdrtv.model.converter import Converter
from hdrtv.model.metrics.delta_e_itp import delta_e_itp_map
from hdrtv.model.training.evaluation import convert_frames, first_entries, middle_frames
from hdrtv.model.training.pairs import read_png
from torch import Tensor

SOURCE_PEAK = 1000.0  # cd/m2: the HDR10 mastering peak the display mapping assumes
TARGET_PEAK = 100.0  # cd/m2: the SDR screen
DELTA_E_SCALE = 20.0  # Delta E ITP at the top of the colour map
PANEL_WIDTH = 480
FONT = cv2.FONT_HERSHEY_SIMPLEX


def write_pictures(
    data: Path,
    models: dict[str, Converter],
    out_dir: Path,
    count: int = 4,
    split: str = "val",
    panel_width: int = PANEL_WIDTH,
) -> list[Path]:
    """Write the comparison and Delta E pictures of the first `count` sequences; returns their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for entry in first_entries(data, split, count):
        centre = middle_frames(entry.frames, 1)
        sdr = read_png(entry.frame_path(data, "sdr", centre.start))
        target = read_png(entry.frame_path(data, "hdr", centre.start))
        outputs = {label: next(convert_frames(data, entry, c, centre)).numpy() for label, c in models.items()}
        size = _panel_size(sdr.shape[:2], panel_width)
        panels = [_panel(_to_8bit(sdr), "SDR input", size)]
        panels += [_panel(display_mapping(hdr), label, size) for label, hdr in outputs.items()]
        panels.append(_panel(display_mapping(target), "HDR ground truth", size))
        maps = []
        for label, hdr in outputs.items():
            error = delta_e_itp_map(hdr.astype(np.float64), target.astype(np.float64))
            maps.append(_panel(false_colour(error), f"{label} dE ITP {error.mean():.2f}", size))
        maps.append(colour_bar(size))
        for name, row in ((f"{entry.name}.png", panels), (f"{entry.name}_delta_e.png", maps)):
            path = out_dir / name
            if not cv2.imwrite(str(path), np.concatenate(row, axis=1)[:, :, ::-1]):
                raise OSError(f"could not write {path}")
            written.append(path)
    return written


def display_mapping(pq: np.ndarray) -> np.ndarray:
    """HDR10 PQ BT.2020 R'G'B' (h, w, 3) in [0, 1] -> 8-bit BT.709 BT.1886 R'G'B' for a 100 cd/m2 screen."""
    light = pq_eotf(_bt2390_eetf(torch.from_numpy(pq).double()))
    sdr = bt1886_inverse_eotf(rgb2020_to_rgb709(light).clamp(0.0, TARGET_PEAK), lw=TARGET_PEAK)
    return _to_8bit(sdr.numpy())


def _bt2390_eetf(pq: Tensor) -> Tensor:
    """BT.2390 EETF on PQ code values (any shape): [0, SOURCE_PEAK] -> [0, TARGET_PEAK], black at 0."""
    source, target = (float(pq_inverse_eotf(torch.tensor(v, dtype=torch.float64))) for v in (SOURCE_PEAK, TARGET_PEAK))
    e1 = (pq / source).clamp(0.0, 1.0)
    max_lum = target / source
    knee = 1.5 * max_lum - 0.5
    t = ((e1 - knee) / (1.0 - knee)).clamp(min=0.0)
    spline = (2 * t**3 - 3 * t**2 + 1) * knee + (t**3 - 2 * t**2 + t) * (1 - knee) + (-2 * t**3 + 3 * t**2) * max_lum
    return torch.where(e1 < knee, e1, spline) * source


def false_colour(delta_e: np.ndarray) -> np.ndarray:
    """Delta E ITP (h, w) -> RGB uint8 (h, w, 3) on the fixed 0..DELTA_E_SCALE inferno scale."""
    level = np.round(np.clip(delta_e / DELTA_E_SCALE, 0.0, 1.0) * 255).astype(np.uint8)
    return cv2.applyColorMap(level, cv2.COLORMAP_INFERNO)[:, :, ::-1]


def colour_bar(size: tuple[int, int]) -> np.ndarray:
    """A (h, w, 3) legend panel: "dE ITP" over the colour map from DELTA_E_SCALE (top) to 0, ticks every 5."""
    height, width = size
    scale = _font_scale(height)
    (_, text_height), _ = cv2.getTextSize("0", FONT, scale, 1)
    top = min(text_height + 8, height // 2)  # the title's row
    bar_width = max(1, width // 4)
    panel = np.full((height, width, 3), 255, np.uint8)
    panel[top:, :bar_width] = false_colour(np.linspace(DELTA_E_SCALE, 0.0, height - top)[:, None].repeat(bar_width, 1))
    cv2.putText(panel, "dE ITP", (2, text_height + 3), FONT, scale, (0, 0, 0), 1, cv2.LINE_AA)
    for value in np.arange(0.0, DELTA_E_SCALE + 1, 5.0):
        y = top + round((1 - value / DELTA_E_SCALE) * (height - top - 1))
        y = min(max(y + text_height // 2, top + text_height), height - 2)  # centred on its level, inside the panel
        cv2.putText(panel, f"{value:g}", (bar_width + 3, y), FONT, scale, (0, 0, 0), 1, cv2.LINE_AA)
    return panel


def _panel(rgb: np.ndarray, label: str, size: tuple[int, int]) -> np.ndarray:
    """An 8-bit RGB image shrunk to `size` (h, w), `label` in white on black in its top-left corner."""
    if rgb.shape[:2] != size:
        rgb = cv2.resize(rgb, size[::-1], interpolation=cv2.INTER_AREA)
    rgb = np.ascontiguousarray(rgb)
    scale = _font_scale(size[0])
    (text_width, text_height), baseline = cv2.getTextSize(label, FONT, scale, 1)
    rgb[: text_height + baseline + 6, : text_width + 6] = 0
    cv2.putText(rgb, label, (3, text_height + 3), FONT, scale, (255, 255, 255), 1, cv2.LINE_AA)
    return rgb


def _panel_size(size: tuple[int, int], panel_width: int) -> tuple[int, int]:
    """(h, w) of a frame of `size`, shrunk to at most `panel_width` wide."""
    height, width = size
    if width <= panel_width:
        return height, width
    return max(1, round(height * panel_width / width)), panel_width


def _font_scale(height: int) -> float:
    return max(0.35, height / 500)


def _to_8bit(unit: np.ndarray) -> np.ndarray:
    return np.round(np.clip(unit, 0.0, 1.0) * 255).astype(np.uint8)
