"""Cutting a frame into overlapping tiles and blending their outputs back into one frame.

A 2160p frame does not fit a GPU in one pass of DSLNet's full-resolution layers, so the local
part of the network runs on square tiles of `size` pixels. Neighbouring tiles overlap so that
each has at least `overlap` pixels of real context on either side of the seam between them (the
middle of their overlap); the outputs are cross-faded with a sin^2 ramp `ramp` pixels wide
centred on each seam, the two weights summing to 1. A tile's output is thus used no closer than
`overlap - ramp / 2` pixels to its edge: at or beyond the network's receptive radius (119 px for
DSLNet M7, measured in tests/model/test_engine.py) the tiled result equals the whole-frame one.
Tile origins are even: DSLNet's stride-2 offset estimator needs the frame's sampling grid.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from .options import TILE_OVERLAP, TILE_RAMP, tile_size_problem


@dataclass(frozen=True)
class Tile:
    """Rows [y0, y0 + height), columns [x0, x0 + width) of a frame, and the (height, width)
    weight of the tile's output in the blended frame."""

    y0: int
    x0: int
    height: int
    width: int
    weight: Tensor

    def crop(self, x: Tensor) -> Tensor:
        """The tile's pixels of x (..., H, W), a view."""
        return x[..., self.y0 : self.y0 + self.height, self.x0 : self.x0 + self.width]


@dataclass(frozen=True)
class TileLayout:
    """How to tile: square tiles of `size` (even) pixels, `overlap` and `ramp` as above."""

    size: int
    overlap: int = TILE_OVERLAP
    ramp: int = TILE_RAMP

    def __post_init__(self) -> None:
        problem = tile_size_problem(self.size, self.overlap, self.ramp)
        if problem:
            raise ValueError(problem)

    def starts(self, length: int) -> list[int]:
        """Even starts of the tiles covering [0, length), length even, spread evenly so that
        consecutive tiles overlap by at least 2 * overlap pixels."""
        if length <= self.size:
            return [0]
        step = self.size - 2 * self.overlap
        count = math.ceil((length - self.size) / step) + 1
        return [2 * (k * (length - self.size) // (2 * (count - 1))) for k in range(count)]

    def weights(self, length: int) -> list[Tensor]:
        """1-D weights (min(size, length),) of each tile along an axis: 1 on the tile's share,
        the ramp across each seam with a neighbour, 0 beyond; normalised to sum to 1 even where
        the tiles are so close that two ramps meet."""
        starts, size = self.starts(length), min(self.size, length)
        weights, total = [], torch.zeros(length, dtype=torch.float64)
        for k, start in enumerate(starts):
            centres = torch.arange(start, start + size, dtype=torch.float64) + 0.5
            weight = torch.ones(size, dtype=torch.float64)
            if k > 0:
                weight *= self._fade_in(centres, (starts[k - 1] + self.size + start) / 2)
            if k + 1 < len(starts):
                weight *= 1 - self._fade_in(centres, (start + self.size + starts[k + 1]) / 2)
            weights.append(weight)
            total[start : start + size] += weight
        return [(weight / total[start : start + size]).float() for start, weight in zip(starts, weights)]

    def _fade_in(self, centres: Tensor, seam: float) -> Tensor:
        """0 before the ramp, sin^2 across it, 1 after; a step at the seam when ramp is 0."""
        if self.ramp == 0:
            return (centres >= seam).double()
        return torch.sin(0.5 * math.pi * ((centres - seam) / self.ramp + 0.5).clamp(0, 1)) ** 2


def frame_tiles(height: int, width: int, layout: TileLayout | None, device: torch.device) -> list[Tile]:
    """Tiles covering an even (height, width) frame, weights on `device` summing to 1 at every
    pixel; one tile of weight 1 without a layout."""
    if layout is None:
        return [Tile(0, 0, height, width, torch.ones(height, width, device=device))]
    rows = zip(layout.starts(height), layout.weights(height))
    columns = list(zip(layout.starts(width), layout.weights(width)))
    return [
        Tile(y0, x0, len(wy), len(wx), (wy[:, None] * wx[None, :]).to(device)) for y0, wy in rows for x0, wx in columns
    ]


TILE_MULTIPLE = 32  # automatic tile edges are multiples of this (even, and friendly to GPU kernels)


def auto_tile_size(
    free_bytes: float, frame_h: int, frame_w: int, batch_size: int, bytes_per_pixel: float, overlap: int = TILE_OVERLAP
) -> int | None:
    """The tile edge for a device with `free_bytes` to spare: None when the local part fits on
    whole frames, else the multiple of `TILE_MULTIPLE` whose tiles fit and that computes the
    fewest pixels in all (overlaps counted; the larger edge on a tie). The largest fitting tile
    is not always it: 1664 px tiles cover 2160p in 3 x 2 = 16.6 MP, 1120 px tiles in 4 x 2 = 10.0.

    bytes_per_pixel: peak bytes the local part allocates per pixel of one window's tile (measured
    by `engine.measure_local_bytes_per_pixel`); a batch holds `batch_size` windows' tiles at once.
    The caller leaves its own safety margin out of `free_bytes`. Raises ValueError when not even
    the smallest tile `TileLayout` accepts for `overlap` fits.
    """
    if frame_h < 1 or frame_w < 1 or batch_size < 1 or bytes_per_pixel <= 0:
        raise ValueError(f"bad frame {frame_h}x{frame_w}, batch {batch_size} or bytes/pixel {bytes_per_pixel}")

    def fits(height: int, width: int) -> bool:
        return batch_size * bytes_per_pixel * height * width <= free_bytes

    def computed_pixels(size: int) -> int:
        layout = TileLayout(size, overlap, ramp=0)
        return len(layout.starts(frame_h)) * min(size, frame_h) * len(layout.starts(frame_w)) * min(size, frame_w)

    if fits(frame_h, frame_w):
        return None
    smallest = TILE_MULTIPLE * math.ceil((2 * overlap + 2) / TILE_MULTIPLE)
    # Edges that cut the frame (one >= both sides is the whole frame) and fit, largest first.
    largest = (max(frame_h, frame_w) - 1) // TILE_MULTIPLE * TILE_MULTIPLE
    sizes = [s for s in range(largest, smallest - 1, -TILE_MULTIPLE) if fits(min(s, frame_h), min(s, frame_w))]
    if not sizes:
        raise ValueError(
            f"{free_bytes / 2**20:.0f} MiB free holds no {smallest} px tile of {batch_size} window(s) at "
            f"{bytes_per_pixel:.0f} bytes/pixel: lower the batch size or free device memory"
        )
    return min(sizes, key=computed_pixels)  # min keeps the first (largest) of equals
