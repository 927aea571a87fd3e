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

On CUDA (`overlap=True`) the batches are pipelined: each frame goes host -> device from pinned
memory on an upload stream, and each batch's output device -> host into pinned memory on a
download stream, both non-blocking; a batch's output is handed out only once the next batch's
compute is queued, so the next frames' decoding and upload overlap the current compute. The
compute stream waits for the uploads and the download waits for the compute through stream
dependencies and events, never through timing, so the values are those of the synchronous path.

compile=True runs the local part (the per-window / per-tile forward) through `torch.compile`;
the global context and ConditionNet stay eager (once per window or frame, at whole-frame size).
dynamic=None ("automatic"): every tensor shape is fixed for a video (padded batches, one tile
size), so the first graph is static; only the tile origins, Python ints that change from tile to
tile, turn symbolic when the second tile recompiles, so a tiled frame costs two or three
compiles instead of one per tile (dynamic=False would specialise every origin and hit dynamo's
recompile limit, falling back to eager, on frames of more than 8 tiles). The tensors are marked
static on every call, so a second frame size in the process compiles static kernels again
rather than turning automatically dynamic. On CUDA the mode is
"max-autotune-no-cudagraphs": the kernels of a window at video resolution run for milliseconds,
so launch overhead, which CUDA graphs ("reduce-overhead") remove, is small, while CUDA graphs
would copy every input into static buffers, hold a private memory pool outside the budget that
`tile_size="auto"` measures, and re-record per symbolic tile origin. On the CPU inductor's C++
backend (default mode) needs a C++ compiler. Inductor may reorder float sums: results agree
with eager to float rounding (tests: 1e-4 max abs on PQ values), not bitwise.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from .device_memory import LiveTensorBytes, free_bytes
from .frame_stream import FrameStream, window_batches
from .network import DSLNet, FrameContext
from .options import LIBRARY_DEFAULTS, TILE_OVERLAP, TILE_RAMP, ModelOptions
from .precision import Precision, autocast, resolve_options
from .tiling import Tile, TileLayout, auto_tile_size, frame_tiles

# torch 2.13's CPU kernels hang on channels-last bf16 depthwise 17x17 convolutions of 8 or 16
# channels (24 and more are fine); such narrow networks only appear in tests and stay NCHW.
CHANNELS_LAST_MIN_WIDTH = 32
CUDA_COMPILE_MODE = "max-autotune-no-cudagraphs"  # why: see the module docstring
AUTO_TILE_MARGIN = 0.2  # tile_size="auto" plans with this share of the free device memory left over


def prepare_model(model: DSLNet, device: torch.device) -> DSLNet:
    """The model on `device` in eval mode; channels-last on CPUs, where depthwise 17x17
    convolutions run ~20x faster that way."""
    model = model.to(device).eval()
    if device.type == "cpu" and model.config["width"] >= CHANNELS_LAST_MIN_WIDTH:
        model = model.to(memory_format=torch.channels_last)
    return model


class InferenceEngine:
    """Runs one DSLNet on one device over streams of windows.

    options (`ModelOptions`, default `LIBRARY_DEFAULTS`; `choices` set fields over them): device, precision, batch size,
    tile_size (side of the square tiles the local part runs on, None for whole frames, "auto" for
    the largest that fits the device's free memory: GPU memory, or the host's available memory on
    the CPU; chosen once per frame size, so chunks of one video tile alike) and compile
    (`torch.compile` the local part). tile_overlap: context pixels each tile has on each side of a
    seam; tile_ramp: width of the cross-fade across each seam (see `tiling.py`); reuse: share
    per-frame work among windows; overlap: on CUDA, pinned-memory copies overlapped with compute
    (False: synchronous copies).
    """

    def __init__(
        self,
        model: DSLNet,
        options: ModelOptions = LIBRARY_DEFAULTS,
        *,
        tile_overlap: int = TILE_OVERLAP,
        tile_ramp: int = TILE_RAMP,
        reuse: bool = True,
        overlap: bool = True,
        **choices: Any,
    ) -> None:
        context = {"tile_overlap": tile_overlap, "tile_ramp": tile_ramp}
        options = resolve_options(options.updated(context, **choices))
        self.device = torch.device(options.device)
        tile_size = options.tile_size
        self.auto_tiles = tile_size == "auto"
        self.layout = None if tile_size in (None, "auto") else TileLayout(tile_size, tile_overlap, tile_ramp)
        self.tile_overlap, self.tile_ramp = tile_overlap, tile_ramp
        self._auto_layouts: dict[tuple[int, int], TileLayout | None] = {}
        self.precision: Precision = options.precision  # type: ignore[assignment]
        autocast(self.device, self.precision)  # validates the combination now, not at the first frame
        self.model = prepare_model(model, self.device)
        self.batch_size: int = options.batch_size  # type: ignore[assignment]
        self.reuse = reuse
        self.compile = options.compile
        self._local_forward = self.model
        if self.compile:
            mode = CUDA_COMPILE_MODE if self.device.type == "cuda" else None
            # A wrapper, not `model.compile()`: the model may be shared (`load_converter` caches it).
            self._local_forward = torch.compile(self.model, dynamic=None, mode=mode)
        self.overlap = overlap and self.device.type == "cuda"
        if self.overlap:
            self._upload = torch.cuda.Stream(self.device)
            self._download = torch.cuda.Stream(self.device)

    @property
    def radius(self) -> int:
        return self.model.radius

    def run(self, frames: Iterable[np.ndarray | Tensor], windows: Iterable[Sequence[int]]) -> Iterator[Tensor]:
        """SDR frames (h, w, 3), uint8 / uint16 / float in [0, 1], read lazily; for each window
        of 2T+1 indices into them -> its centre frame as HDR10 PQ (h, w, 3) float32 in [0, 1]
        on the CPU, in window order."""
        features: dict[int, Tensor] = {}
        tiles: list[Tile] = []
        pending: tuple[Tensor, torch.cuda.Event] | None = None
        for batch, stream in window_batches(frames, windows, self.batch_size, self._prepare):
            if not tiles:  # the frames' size is known once the first is read; (H, W) is even
                tiles = frame_tiles(*stream[min(batch[0])].shape[-2:], self.layout_for(stream.size), self.device)
            hdr = self._convert(batch, stream, features, tiles)
            if not self.overlap:
                yield from hdr.cpu()
                continue
            if pending is not None:  # the batch before, handed out while this one computes
                yield from self._collect(*pending)
            pending = self._start_download(hdr)
        if pending is not None:
            yield from self._collect(*pending)

    def layout_for(self, size: tuple[int, int]) -> TileLayout | None:
        """The tile layout for frames of `size` (h, w): the fixed one, or with tile_size="auto"
        the tiles `auto_tile_size` picks for the device's free memory, chosen once per size."""
        if not self.auto_tiles:
            return self.layout
        if size not in self._auto_layouts:
            free = free_bytes(self.device)
            per_pixel = measure_local_bytes_per_pixel(self.model, self.device, self.precision)
            height, width = size[0] + size[0] % 2, size[1] + size[1] % 2
            edge = auto_tile_size(
                free * (1 - AUTO_TILE_MARGIN), height, width, self.batch_size, per_pixel, self.tile_overlap
            )
            self._auto_layouts[size] = None if edge is None else TileLayout(edge, self.tile_overlap, self.tile_ramp)
        return self._auto_layouts[size]

    def _prepare(self, frame: Tensor) -> Tensor:
        """(h, w, 3) unit float -> (3, h, w) on the device, odd sizes replicated to even."""
        if self.overlap:
            # Pinned staging (PyTorch's host allocator reuses a block only once its copy is done),
            # copied on the upload stream; the compute stream waits for it in `_convert`.
            pinned = torch.empty(frame.shape, dtype=frame.dtype, pin_memory=True).copy_(frame)
            with torch.cuda.stream(self._upload):
                chw = pinned.to(self.device, non_blocking=True).permute(2, 0, 1)
            chw.record_stream(torch.cuda.current_stream(self.device))  # used there, freed here later
        else:
            chw = frame.permute(2, 0, 1).to(self.device)
        pad_h, pad_w = chw.shape[1] % 2, chw.shape[2] % 2
        if pad_h or pad_w:
            if self.overlap:
                torch.cuda.current_stream(self.device).wait_stream(self._upload)
            chw = F.pad(chw[None], (0, pad_w, 0, pad_h), mode="replicate")[0]
        return chw

    def _start_download(self, hdr: Tensor) -> tuple[Tensor, torch.cuda.Event]:
        """Queue the copy of a batch's output (n, h, w, 3) on the device into pinned host memory
        after the compute that makes it; the event marks its end."""
        host = torch.empty(hdr.shape, dtype=hdr.dtype, pin_memory=True)
        self._download.wait_stream(torch.cuda.current_stream(self.device))
        with torch.cuda.stream(self._download):
            host.copy_(hdr, non_blocking=True)
            done = torch.cuda.Event()
            done.record(self._download)
        hdr.record_stream(self._download)  # its memory is not reused before the copy ends
        return host, done

    @staticmethod
    def _collect(host: Tensor, done: torch.cuda.Event) -> Iterator[Tensor]:
        done.synchronize()
        yield from host

    @torch.inference_mode()
    def _convert(
        self, batch: list[tuple[int, ...]], stream: FrameStream, features: dict[int, Tensor], tiles: list[Tile]
    ) -> Tensor:
        """One batch of windows -> (len(batch), h, w, 3) HDR on the device (queued, on CUDA)."""
        for window in batch:
            if len(window) != self.model.num_frames:
                raise ValueError(f"window {window} has {len(window)} frames, the model needs {self.model.num_frames}")
        if self.overlap:
            torch.cuda.current_stream(self.device).wait_stream(self._upload)  # the batch's frames are there
        pad = self.batch_size - len(batch)  # a fixed batch size keeps results batch invariant
        with autocast(self.device, self.precision):
            contexts = [self._context(window, stream, features) for window in batch]
            context = FrameContext.cat(contexts + contexts[-1:] * pad)
            hdr = self._local(batch + batch[-1:] * pad, stream, context, tiles)
        h, w = stream.size
        return hdr[: len(batch), :, :h, :w].clamp(0, 1).permute(0, 2, 3, 1)

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
            if self.compile:  # shapes stay static whatever other sizes this process compiled for
                for tensor in (x, context.offset_kernel, *vars(context.modulation).values()):
                    if tensor is not None:
                        torch._dynamo.mark_static(tensor)
            tile.crop(out).add_(self._local_forward(x, context, (tile.y0, tile.x0)).float() * tile.weight)
        return out


def measure_local_bytes_per_pixel(
    model: DSLNet, device: torch.device, precision: Precision = "fp32", sizes: tuple[int, int] = (128, 256)
) -> float:
    """Peak bytes the local part allocates per pixel of one window's tile: the model run eagerly
    on square random tiles of two `sizes`, each peak taken above what was allocated before it
    (the tile's stacked input included, as in `_local`); the slope between them, so fixed costs
    (weights, the context) do not count. On CUDA the peaks are the caching allocator's
    `max_memory_allocated`; elsewhere `LiveTensorBytes` counts them."""
    peaks = []
    with torch.inference_mode(), autocast(device, precision):
        for size in sizes:
            whole = torch.rand(1, model.num_frames, 3, size, size, device=device)
            context = model.context(whole)
            if device.type == "cuda":
                torch.cuda.synchronize(device)
                before = torch.cuda.memory_allocated(device)
                torch.cuda.reset_peak_memory_stats(device)
                model(whole.clone(), context)
                peaks.append(torch.cuda.max_memory_allocated(device) - before)
            else:
                with LiveTensorBytes() as counter:
                    model(whole.clone(), context)
                peaks.append(counter.peak)
            del whole, context
    slope = (peaks[1] - peaks[0]) / (sizes[1] ** 2 - sizes[0] ** 2)
    return slope if slope > 0 else peaks[1] / sizes[1] ** 2
