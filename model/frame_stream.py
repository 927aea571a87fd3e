"""Reading SDR frames lazily, window batch by window batch, with bounded memory.

A converter streams a long chunk of video: it is given the decoded frames one at a time and, for
each output frame, the indices of the input frames its window needs (`windows.py`). Windows come
in order, so a frame is read only when the first window needing it is converted and dropped as
soon as no later window can need it: memory holds one batch of windows plus 2T frames, whatever
the length of the chunk.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence

import numpy as np
import torch
from torch import Tensor


def as_unit_float(frames: np.ndarray | Tensor) -> Tensor:
    """SDR frames (t, h, w, 3) uint8, uint16 or float in [0, 1] -> float32 tensor in [0, 1]."""
    tensor = torch.from_numpy(np.ascontiguousarray(frames)) if isinstance(frames, np.ndarray) else frames
    if tensor.dim() != 4 or tensor.shape[-1] != 3:
        raise ValueError(f"expected frames of shape (t, h, w, 3), got {tuple(tensor.shape)}")
    if tensor.shape[0] == 0:
        raise ValueError("expected at least one frame, got none")
    if tensor.dtype == torch.uint8:
        return tensor.float() / 255
    if tensor.dtype == torch.uint16:
        return tensor.float() / 65535
    if not tensor.is_floating_point():
        raise ValueError(f"frames must be uint8, uint16 or float in [0, 1], got {tensor.dtype}")
    if tensor.numel() and (tensor.min() < 0 or tensor.max() > 1 or tensor.isnan().any()):
        raise ValueError("float frames must lie in [0, 1]")
    return tensor.float()


class FrameStream:
    """Frames of `source` by index, each read once, on demand, and passed through `prepare`.

    source: frames (h, w, 3) in order; prepare: a unit-float frame (h, w, 3) -> what callers use.
    """

    def __init__(self, source: Iterable[np.ndarray | Tensor], prepare: Callable[[Tensor], Tensor]) -> None:
        self._source = iter(source)
        self._prepare = prepare
        self._read = 0
        self._frames: dict[int, Tensor] = {}
        self._size: tuple[int, int] | None = None

    @property
    def size(self) -> tuple[int, int]:
        """(h, w) of the source frames."""
        if self._size is None:
            raise ValueError("no frame has been read yet")
        return self._size

    def __contains__(self, index: int) -> bool:
        return index in self._frames

    def __getitem__(self, index: int) -> Tensor:
        if index not in self._frames:
            raise IndexError(f"frame {index} is not held: windows must not go back to released frames")
        return self._frames[index]

    def read_until(self, index: int) -> None:
        """Read the source up to frame `index` included."""
        while self._read <= index:
            frame = next(self._source, None)
            if frame is None:
                raise ValueError(f"a window needs frame {index}, but only {self._read} frames came")
            unit = as_unit_float(frame[None])[0]
            if self._size is None:
                self._size = (unit.shape[0], unit.shape[1])
            elif unit.shape[:2] != self._size:
                raise ValueError(f"frame {self._read} is {tuple(unit.shape[:2])}, earlier frames are {self._size}")
            self._frames[self._read] = self._prepare(unit)
            self._read += 1

    def release_before(self, index: int) -> None:
        """Forget every frame before `index`."""
        for old in [i for i in self._frames if i < index]:
            del self._frames[old]


def window_batches(
    source: Iterable[np.ndarray | Tensor],
    windows: Iterable[Sequence[int]],
    batch_size: int,
    prepare: Callable[[Tensor], Tensor],
) -> Iterator[tuple[list[tuple[int, ...]], FrameStream]]:
    """Batches of up to `batch_size` windows, each with a FrameStream holding the frames it uses.

    Windows must be non-decreasing in their smallest and in their largest index (as every window
    plan is): after each batch, the frames before the next window's smallest index are released.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    stream = FrameStream(source, prepare)
    batch: list[tuple[int, ...]] = []
    for window in _in_order(windows):
        if len(batch) == batch_size:
            stream.read_until(max(max(w) for w in batch))
            yield batch, stream
            stream.release_before(min(window))
            batch = []
        batch.append(window)
    if batch:
        stream.read_until(max(max(w) for w in batch))
        yield batch, stream


def _in_order(windows: Iterable[Sequence[int]]) -> Iterator[tuple[int, ...]]:
    low = high = 0
    for window in windows:
        window = tuple(int(i) for i in window)
        if not window or min(window) < low or max(window) < high:
            raise ValueError(f"window {window} goes back: windows must not decrease in first or last frame")
        low, high = min(window), max(window)
        yield window
