"""Parameters and measured multiply-adds per output pixel of every DSLNet rung and variant.

Multiply-adds are counted by `torch.utils.flop_counter.FlopCounterMode` on a real forward pass
(convolutions, transposed convolutions and matrix products; FLOPs / 2), divided by the output
pixels. The bilinear sampling of the deformable convolution and element-wise operations are not
counted: they are memory-bound and small beside the convolutions.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch.utils.flop_counter import FlopCounterMode

from .network import VARIANTS, DSLNet, build_dslnet

MEASURE_SIZE = (256, 256)  # large enough that the global parts' cost per pixel is negligible


@dataclass(frozen=True)
class ModelInfo:
    variant: str
    parameters: int
    macs_per_pixel: float


def count_parameters(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def measure_macs_per_pixel(model: DSLNet, size: tuple[int, int] = MEASURE_SIZE) -> float:
    """Multiply-adds per output pixel of one window of (h, w) = `size` frames."""
    device = next(model.parameters()).device
    frames = torch.rand(1, model.num_frames, 3, *size, device=device)
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model.eval()(frames)
    return counter.get_total_flops() / 2 / (size[0] * size[1])


def model_info(radius: int = 2, width: int | None = None) -> list[ModelInfo]:
    """One row per rung and variant, in the paper's order."""
    overrides = {"radius": radius} | ({"width": width} if width else {})
    rows = []
    for variant in VARIANTS:
        with torch.device("meta"):  # shapes only: counting needs no arithmetic
            model = build_dslnet(variant, **overrides)
        rows.append(ModelInfo(variant, count_parameters(model), measure_macs_per_pixel(model)))
    return rows


def format_table(rows: list[ModelInfo]) -> str:
    """A markdown table of `rows`."""
    lines = ["| variant | parameters | multiply-adds per pixel |", "|---|---:|---:|"]
    lines += [f"| {r.variant} | {r.parameters / 1e6:.3f}M | {r.macs_per_pixel / 1e6:.3f}M |" for r in rows]
    return "\n".join(lines)
