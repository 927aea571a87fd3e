"""The one entry point to SDR -> HDR10 conversion: `load_converter(name)`, then `.convert(frames)`
for one shot in memory or `.run(frames, windows)` for a stream.

Everything that converts frames (the video pipeline, training's validation, evaluation, the CLI)
goes through a `Converter`, whether it is DSLNet or a non-learned baseline, so they are compared
and swapped by name.

Frames in: SDR video, `(h, w, 3)` per frame, BT.709 R'G'B' (BT.1886), full range, uint8 (0..255),
uint16 (0..65535) or float in [0, 1], numpy or torch. Frames out: `(h, w, 3)` float32 HDR10
R'G'B' (BT.2020 primaries, PQ code values in [0, 1]). `convert` takes one shot `(t, h, w, 3)` and
returns the same layout, numpy or torch like the input; at its ends a multi-frame model's missing
neighbours are the nearest frame of the shot (replicate padding). `run` takes frames lazily and
the windows of `windows.window_plan` (which knows shot cuts and chunk ranges) and yields tensors;
a per-frame baseline reads only each window's centre frame. DSLNet runs in `engine.py`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from .baselines import BASELINES
from .baselines.lut import Lut3d
from .engine import InferenceEngine
from .frame_stream import as_unit_float, window_batches
from .network import VARIANTS, DSLNet, load_checkpoint, read_checkpoint_config
from .options import LIBRARY_DEFAULTS, ModelOptions
from .precision import Precision, autocast, resolve_device, resolve_options
from .windows import window_plan

CONVERTERS = ("dslnet", *BASELINES)
LUT_BASELINES = ("bt2408", "bt2446a")  # where a 3D LUT beats the formula on speed (`baselines/lut.py`)
DEFAULT_WEIGHTS = Path(__file__).parent / "weights" / "dslnet.pt"  # the shipped DSLNet (`weights/README.md`)


class Converter:
    """Converts SDR frames to HDR10 frames with one model on one device.

    DSLNet runs through an `InferenceEngine` (tiles and compile: see there); a baseline is a
    per-pixel formula applied to each window's centre frame. `options` (`ModelOptions`) are made
    concrete for this machine once, here.
    """

    def __init__(
        self, name: str, model: DSLNet | Callable[[Tensor], Tensor], options: ModelOptions = LIBRARY_DEFAULTS
    ) -> None:
        self.name = name
        self.options = resolve_options(options)
        self.device = torch.device(self.options.device)
        self.precision: Precision = self.options.precision  # type: ignore[assignment]
        autocast(self.device, self.precision)  # validates the combination now, not at the first frame
        self.batch_size: int = self.options.batch_size  # type: ignore[assignment]
        self.model = model
        self.engine = None
        if isinstance(model, DSLNet):
            self.engine = InferenceEngine(model, self.options)
            self.model = self.engine.model

    @property
    def radius(self) -> int:
        """T: neighbours used on each side of a frame (0 for per-frame baselines)."""
        return self.engine.radius if self.engine is not None else 0

    def convert(self, frames: np.ndarray | Tensor) -> np.ndarray | Tensor:
        """One shot of SDR (t, h, w, 3) -> HDR10 PQ BT.2020 (t, h, w, 3) float32 in [0, 1]."""
        sdr = as_unit_float(frames)
        hdr = torch.stack(list(self.run(sdr, window_plan(len(sdr), self.radius))))
        return hdr.numpy() if isinstance(frames, np.ndarray) else hdr

    def run(self, frames: Iterable[np.ndarray | Tensor], windows: Iterable[Sequence[int]]) -> Iterator[Tensor]:
        """Streaming conversion: SDR frames (h, w, 3) read lazily, and for each window of 2T+1
        indices into them (`window_plan`), its centre frame as HDR10 PQ (h, w, 3) float32 in
        [0, 1] on the CPU, in order."""
        if self.engine is not None:
            yield from self.engine.run(frames, windows)
            return
        for batch, stream in window_batches(frames, windows, self.batch_size, lambda frame: frame.to(self.device)):
            yield from self._formula(torch.stack([stream[window[len(window) // 2]] for window in batch]))

    @torch.inference_mode()
    def _formula(self, sdr: Tensor) -> Tensor:
        """The baseline on (n, h, w, 3) centre frames -> (n, h, w, 3) on the CPU."""
        return self.model(sdr).float().clamp(0, 1).cpu()  # type: ignore[operator]


@functools.lru_cache(maxsize=4)
def _cached_lut(name: str, device: torch.device) -> Lut3d:
    """A baseline's 3D LUT on `device`, built once per process (tens of ms)."""
    return Lut3d(BASELINES[name], device=device)


@functools.lru_cache(maxsize=4)
def _cached_model(path: Path, modified_ns: int, device: torch.device) -> DSLNet:
    """A checkpoint's model ready on `device`, loaded once per process (keyed by file version)."""
    return InferenceEngine(load_checkpoint(path), device=str(device)).model


def load_converter(
    name: str | None = None, options: ModelOptions = LIBRARY_DEFAULTS, *, exact: bool = False, **choices: Any
) -> Converter:
    """The converter `name` (default: the one `options` name), with `choices` setting options over
    `options` (default `LIBRARY_DEFAULTS`: DSLNet on the CPU in fp32, whole frames), e.g.
    `load_converter("dslnet", weights="m.pt", batch_size=2)` or `load_converter(options=chosen)`.

    "dslnet": weights from `save_checkpoint`, None for the shipped `DEFAULT_WEIGHTS`; variant: a
    rung or variant name that the checkpoint must match. "bt2408" and "bt2446a" are formulas (those
    in `LUT_BASELINES` run through a 3D LUT within 1/1023 PQ of the formula; exact=True applies the
    formula itself, the reference; weights, tiles and compile do not apply)."""
    options = options.updated(**choices if name is None else choices | {"model": name})
    name = options.model
    if name in BASELINES:
        if options.weights is not None or options.variant is not None:
            raise ValueError(f"{name} is a fixed formula: it takes no weights or variant")
        formula = BASELINES[name]
        if name in LUT_BASELINES and not exact:
            formula = _cached_lut(name, resolve_device(options.device))
        return Converter(name, formula, options)
    path, version = _checkpoint_version(options)
    model = _cached_model(path, version, resolve_device(options.device))
    _check_variant(model.config, options.variant, path)
    return Converter("dslnet", model, options)


def converter_radius(options: ModelOptions) -> int:
    """T of the converter `options` name, without building it: 0 for the per-frame formulas, the
    checkpoint's radius for DSLNet (read from its config; the same errors as `load_converter`)."""
    if options.model in BASELINES:
        return 0
    path, _ = _checkpoint_version(options)
    config = read_checkpoint_config(path)
    _check_variant(config, options.variant, path)
    return config["radius"]


def _checkpoint_version(options: ModelOptions) -> tuple[Path, int]:
    """DSLNet's checkpoint (the shipped one without weights) and its modification time, checked."""
    if options.weights is None and not DEFAULT_WEIGHTS.is_file():
        raise ValueError(f"dslnet needs trained weights: none ship at {DEFAULT_WEIGHTS}; pass weights=<file.pt>")
    path = Path(options.weights or DEFAULT_WEIGHTS).resolve()
    if not path.is_file():
        raise ValueError(f"weights file not found: {path}")
    return path, path.stat().st_mtime_ns


def _check_variant(config: dict[str, Any], variant: str | None, path: Path) -> None:
    """ValueError unless the checkpoint's `config` is `variant` (a rung or variant name), if given."""
    if variant is None:
        return
    if variant not in VARIANTS:
        raise ValueError(f"unknown DSLNet variant {variant!r}; choose from {', '.join(VARIANTS)}")
    if any(config[key] != value for key, value in VARIANTS[variant].items()):
        raise ValueError(f"weights {path} are not a DSLNet {variant}")
