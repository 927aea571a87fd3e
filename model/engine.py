"""DSLNet inference over a stream of frames: batched windows, per-frame reuse, spatial tiles.

`InferenceEngine.run(frames, windows)` converts one output frame per window of 2T+1 input frame
indices (`windows.py`), reading the frames lazily (`frame_stream.py`). Per batch of windows:

1. ConditionNet features are computed once per frame and shared by the up to 2T+1 windows that
   use the frame (`reuse=False` runs ConditionNet per window instead: the naive baseline the
   benchmark compares against). ConditionNet is the only per-frame work in DSLNet: every other
   layer sees a window's stacked frames, and a convolution over stacked frames is the sum of
   per-(frame, slot) convolutions whose (frame, slot) pairs each belong to one window only.
2. The global parts (`DSLNet.context`: dynamic offset kernels, modulation vectors and the
   low-resolution spatial map) come from the whole frames, one window at a time.
3. The local part runs on overlapping tiles (`tiling.py`) sharing that context, so the
   full-resolution layers hold one tile per window at a time (at 2160p: about 0.1 GB of input
   per frame held, 0.5 GB for one window's stacked frames while its context is computed).

Batch invariance: a window's output is the same whatever batch it lands in and whatever came
before, so a video converted in chunks equals one converted in one pass. Contexts and features
are computed per window and per frame, and the local part always runs on `batch_size` windows
(a short last batch is padded with repeats of its last window), since convolution kernels may
pick another algorithm, and so other rounding, for another batch size.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from .frame_stream import FrameStream, window_batches
from .network import DSLNet, FrameContext
from .precision import Precision, autocast, resolve_device
from .tiling import Tile, TileLayout, frame_tiles

# torch 2.13's CPU kernels hang on channels-last bf16 depthwise 17x17 convolutions of 8 or 16
# channels (24 and more are fine); such narrow networks only appear in tests and stay NCHW.
CHANNELS_LAST_MIN_WIDTH = 32


def prepare_model(model: DSLNet, device: torch.device) -> DSLNet:
    """The model on `device` in eval mode; channels-last on CPUs, where depthwise 17x17
    convolutions run ~20x faster that way."""
    model = model.to(device).eval()
    if device.type == "cpu" and model.config["width"] >= CHANNELS_LAST_MIN_WIDTH:
        model = model.to(memory_format=torch.channels_last)
    return model


class InferenceEngine:
    """Runs one DSLNet on one device over streams of windows.

    tile_size: side of the square tiles the local part runs on (even), None for whole frames;
    tile_overlap: context pixels each tile has on each side of a seam; tile_ramp: width of the
    cross-fade across each seam (see `tiling.py`); reuse: share per-frame work among windows.
    """

    def __init__(
        self,
        model: DSLNet,
        device: str | torch.device = "cpu",
        precision: Precision = "fp32",
        batch_size: int = 4,
        tile_size: int | None = None,
        tile_overlap: int = 32,
        tile_ramp: int = 16,
        reuse: bool = True,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.layout = None if tile_size is None else TileLayout(tile_size, tile_overlap, tile_ramp)
        self.device = resolve_device(device)
        autocast(self.device, precision)  # validates the combination now, not at the first frame
        self.precision = precision
        self.model = prepare_model(model, self.device)
        self.batch_size = batch_size
        self.reuse = reuse

    @property
    def radius(self) -> int:
        return self.model.radius

    def run(self, frames: Iterable[np.ndarray | Tensor], windows: Iterable[Sequence[int]]) -> Iterator[Tensor]:
        """SDR frames (h, w, 3), uint8 / uint16 / float in [0, 1], read lazily; for each window
        of 2T+1 indices into them -> its centre frame as HDR10 PQ (h, w, 3) float32 in [0, 1]
        on the CPU, in window order."""
        features: dict[int, Tensor] = {}
        tiles: list[Tile] = []
        for batch, stream in window_batches(frames, windows, self.batch_size, self._prepare):
            if not tiles:  # the frames' size is known once the first is read; (H, W) is even
                tiles = frame_tiles(*stream[min(batch[0])].shape[-2:], self.layout, self.device)
            yield from self._convert(batch, stream, features, tiles)

    def _prepare(self, frame: Tensor) -> Tensor:
        """(h, w, 3) unit float -> (3, h, w) on the device, odd sizes replicated to even."""
        chw = frame.permute(2, 0, 1).to(self.device)
        pad_h, pad_w = chw.shape[1] % 2, chw.shape[2] % 2
        return F.pad(chw[None], (0, pad_w, 0, pad_h), mode="replicate")[0] if pad_h or pad_w else chw

    @torch.inference_mode()
    def _convert(
        self, batch: list[tuple[int, ...]], stream: FrameStream, features: dict[int, Tensor], tiles: list[Tile]
    ) -> Tensor:
        """One batch of windows -> (len(batch), h, w, 3) HDR on the CPU."""
        for window in batch:
            if len(window) != self.model.num_frames:
                raise ValueError(f"window {window} has {len(window)} frames, the model needs {self.model.num_frames}")
        pad = self.batch_size - len(batch)  # a fixed batch size keeps results batch invariant
        with autocast(self.device, self.precision):
            contexts = [self._context(window, stream, features) for window in batch]
            context = FrameContext.cat(contexts + contexts[-1:] * pad)
            hdr = self._local(batch + batch[-1:] * pad, stream, context, tiles)
        h, w = stream.size
        return hdr[: len(batch), :, :h, :w].clamp(0, 1).permute(0, 2, 3, 1).cpu()

    def _context(self, window: tuple[int, ...], stream: FrameStream, features: dict[int, Tensor]) -> FrameContext:
        """The global parts for one window, from its whole frames; ConditionNet once per frame."""
        whole = torch.stack([stream[i] for i in window])[None]  # (1, 2T+1, 3, H, W)
        slots = self.model.stfm.condition_slots()
        if not self.reuse or not slots:
            return self.model.context(whole)
        for old in [i for i in features if i < min(window)]:  # windows never go back
            del features[old]
        for i in (window[s] for s in slots):
            if i not in features:
                features[i] = self.model.stfm.condition(stream[i][None])[0]
        return self.model.context(whole, torch.stack([features[window[s]] for s in slots])[None])

    def _local(
        self, batch: list[tuple[int, ...]], stream: FrameStream, context: FrameContext, tiles: list[Tile]
    ) -> Tensor:
        """The local part tile by tile, blended -> (n, 3, H, W) float32."""
        out = torch.zeros(len(batch), 3, *context.frame_size, device=self.device)
        for tile in tiles:
            x = torch.stack([torch.stack([tile.crop(stream[i]) for i in window]) for window in batch])
            tile.crop(out).add_(self.model(x, context, (tile.y0, tile.x0)).float() * tile.weight)
        return out
