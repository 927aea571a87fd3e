"""Training and validation samples from a pairs dataset (`pairs.py`).

A sample is a window of 2T+1 SDR frames around a centre frame and that frame's HDR, as float32
tensors in [0, 1]: sdr (2T+1, 3, h, w), hdr (3, h, w). At a sequence's ends the missing
neighbours are its nearest frame (replicate padding), as at inference (`windows.window_plan`).

Training sample i of a run is a pure function of (seed, i): a random sequence of the split, a
random centre frame, an even-aligned random crop and a random horizontal flip, all drawn from
`numpy.random.default_rng([seed, i])`. A resumed run, or one loading with worker processes,
therefore draws exactly the samples an uninterrupted one would.

Decoding a 16-bit 1080p PNG takes ~130 ms (a 256 x 256 one ~3 ms), so decoded frames are kept
per process, least recently used first out past a byte budget.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from ..windows import window_plan
from .pairs import SequenceEntry, read_png, split_entries

CACHE_BYTES = 1 << 30


class FrameCache:
    """Decoded frames (h, w, 3) float32 by path, the least recently used dropped past `max_bytes`."""

    def __init__(self, max_bytes: int = CACHE_BYTES) -> None:
        self.max_bytes = max_bytes
        self._frames: OrderedDict[Path, np.ndarray] = OrderedDict()
        self._bytes = 0

    def __call__(self, path: Path) -> np.ndarray:
        frame = self._frames.get(path)
        if frame is not None:
            self._frames.move_to_end(path)
            return frame
        frame = read_png(path)
        self._frames[path] = frame
        self._bytes += frame.nbytes
        while self._bytes > self.max_bytes and len(self._frames) > 1:
            self._bytes -= self._frames.popitem(last=False)[1].nbytes
        return frame


class TrainingCrops(Dataset):
    """Sample i (any i >= 0) -> (sdr (2T+1, 3, crop, crop), hdr (3, crop, crop)), a pure function of (seed, i)."""

    def __init__(self, root: Path, radius: int, crop: int, seed: int, cache_bytes: int = CACHE_BYTES) -> None:
        self.root = root
        self.radius = radius
        self.crop = crop
        self.seed = seed
        self.entries = split_entries(root, "train")
        for entry in self.entries:
            if min(entry.height, entry.width) < crop:
                raise ValueError(f"sequence {entry.name} is {entry.height}x{entry.width}, smaller than the crop {crop}")
        self.read = FrameCache(cache_bytes)

    def __getitem__(self, index: int) -> tuple[Tensor, Tensor]:
        rng = np.random.default_rng([self.seed, index])
        entry = self.entries[rng.integers(len(self.entries))]
        centre = int(rng.integers(entry.frames))
        y = 2 * int(rng.integers((entry.height - self.crop) // 2 + 1))
        x = 2 * int(rng.integers((entry.width - self.crop) // 2 + 1))
        flip = bool(rng.random() < 0.5)
        sdr, hdr = window(self.root, entry, centre, self.radius, self.read, (y, x, self.crop, self.crop))
        return (sdr.flip(-1), hdr.flip(-1)) if flip else (sdr, hdr)


def validation_samples(root: Path, radius: int, crop: int | None) -> Iterator[tuple[str, Tensor, Tensor]]:
    """For each val sequence: (name, sdr (2T+1, 3, h, w), hdr (3, h, w)) of its centre frame's
    window, on the centre `crop` x `crop` (even-aligned; a frame smaller than that on a side keeps
    the side) or on the whole frame cut to even sides."""
    for entry in split_entries(root, "val"):
        h, w = (min(side, crop or side) // 2 * 2 for side in (entry.height, entry.width))
        box = ((entry.height - h) // 4 * 2, (entry.width - w) // 4 * 2, h, w)
        yield (entry.name, *window(root, entry, entry.frames // 2, radius, read_png, box))


def window(
    root: Path,
    entry: SequenceEntry,
    centre: int,
    radius: int,
    read: Callable[[Path], np.ndarray],
    box: tuple[int, int, int, int],
) -> tuple[Tensor, Tensor]:
    """The window around `centre` cut to `box` (y, x, h, w) -> sdr (2T+1, 3, h, w), hdr (3, h, w)."""
    y, x, h, w = box
    indices = window_plan(entry.frames, radius, emit=range(centre, centre + 1))[0]

    def cut(kind: str, index: int) -> Tensor:
        frame = read(entry.frame_path(root, kind, index))
        if frame.shape[:2] != (entry.height, entry.width):
            raise ValueError(f"{entry.frame_path(root, kind, index)} is not {entry.height}x{entry.width}")
        return torch.from_numpy(np.ascontiguousarray(frame[y : y + h, x : x + w].transpose(2, 0, 1)))

    return torch.stack([cut("sdr", i) for i in indices]), cut("hdr", centre)
