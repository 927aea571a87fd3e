"""The one entry point to SDR -> HDR10 conversion: `load_converter(name).convert(frames)`.

Everything that converts frames (the video pipeline, training's validation, evaluation, the CLI)
goes through a `Converter`, whether it is DSLNet or a non-learned baseline, so they are compared
and swapped by name.

Frames in: one shot of SDR video, `(t, h, w, 3)` BT.709 R'G'B' (BT.1886), full range, uint8
(0..255), uint16 (0..65535) or float in [0, 1], numpy or torch. Frames out: `(t, h, w, 3)` float32
HDR10 R'G'B' (BT.2020 primaries, PQ code values in [0, 1]), numpy or torch like the input.
A multi-frame model sees 2T+1 frames per output frame; at the ends of the sequence the missing
neighbours are the nearest frame of the sequence (replicate padding), so pass one shot at a time.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from .baselines import BASELINES
from .network import VARIANTS, DSLNet, load_checkpoint
from .precision import Precision, autocast, resolve_device

CONVERTERS = ("dslnet", *BASELINES)
# torch 2.13's CPU kernels hang on channels-last bf16 depthwise 17x17 convolutions of 8 or 16
# channels (24 and more are fine); such narrow networks only appear in tests and stay NCHW.
CHANNELS_LAST_MIN_WIDTH = 32


def window_indices(num_frames: int, radius: int) -> Tensor:
    """(t, 2*radius+1) indices of each frame's window, replicating the first and last frame."""
    offsets = torch.arange(-radius, radius + 1)
    return (torch.arange(num_frames)[:, None] + offsets).clamp(0, num_frames - 1)


def as_unit_float(frames: np.ndarray | Tensor) -> Tensor:
    """SDR frames (t, h, w, 3) of any supported dtype -> float32 tensor in [0, 1]."""
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


class Converter:
    """Converts SDR frames to HDR10 frames with one model on one device."""

    def __init__(
        self,
        name: str,
        model: DSLNet | Callable[[Tensor], Tensor],
        device: str | torch.device = "cpu",
        precision: Precision = "fp32",
        batch_size: int = 4,
    ) -> None:
        self.name = name
        self.device = resolve_device(device)
        autocast(self.device, precision)  # validates the combination now, not at the first frame
        self.precision = precision
        self.batch_size = batch_size
        self.model = model
        if isinstance(model, DSLNet):
            self.model = model.to(self.device).eval()
            if self.device.type == "cpu" and model.config["width"] >= CHANNELS_LAST_MIN_WIDTH:
                # Depthwise 17x17 convolutions run ~20x faster channels-last on CPUs.
                self.model = self.model.to(memory_format=torch.channels_last)

    @property
    def radius(self) -> int:
        """T: neighbours used on each side of a frame (0 for per-frame baselines)."""
        return self.model.radius if isinstance(self.model, DSLNet) else 0

    def convert(self, frames: np.ndarray | Tensor) -> np.ndarray | Tensor:
        """SDR (t, h, w, 3) -> HDR10 PQ BT.2020 (t, h, w, 3) float32 in [0, 1]."""
        sdr = as_unit_float(frames)
        with torch.inference_mode():
            if isinstance(self.model, DSLNet):
                hdr = self._convert_windows(sdr)
            else:
                hdr = torch.cat([self.model(chunk.to(self.device)).cpu() for chunk in sdr.split(self.batch_size)])
        hdr = hdr.float().clamp(0, 1)
        return hdr.numpy() if isinstance(frames, np.ndarray) else hdr

    def _convert_windows(self, sdr: Tensor) -> Tensor:
        t, h, w, _ = sdr.shape
        # DSLNet needs even sizes: replicate one row/column where needed and crop it off after.
        pad_h, pad_w = h % 2, w % 2
        chw = sdr.permute(0, 3, 1, 2)
        if pad_h or pad_w:
            chw = F.pad(chw, (0, pad_w, 0, pad_h), mode="replicate")
        windows = window_indices(t, self.radius)
        outputs = []
        for batch in windows.split(self.batch_size):
            x = chw[batch].to(self.device)  # (n, 2T+1, 3, h, w)
            with autocast(self.device, self.precision):
                y = self.model(x)
            outputs.append(y[..., :h, :w].float().permute(0, 2, 3, 1).cpu())
        return torch.cat(outputs)


def load_converter(
    name: str = "dslnet",
    weights: str | Path | None = None,
    variant: str | None = None,
    device: str | torch.device = "cpu",
    precision: Precision = "fp32",
    batch_size: int = 4,
) -> Converter:
    """A converter by name: "dslnet" (weights: a checkpoint from `save_checkpoint`; variant: a
    rung or variant name that the checkpoint must match), "bt2408" or "bt2446a"."""
    if name in BASELINES:
        if weights is not None or variant is not None:
            raise ValueError(f"{name} is a fixed formula: it takes no weights or variant")
        return Converter(name, BASELINES[name], device, precision, batch_size)
    if name != "dslnet":
        raise ValueError(f"unknown converter {name!r}; choose from {', '.join(CONVERTERS)}")
    if weights is None:
        raise ValueError("dslnet needs trained weights: pass weights=<checkpoint.pt>")
    path = Path(weights)
    if not path.is_file():
        raise ValueError(f"weights file not found: {path}")
    model = load_checkpoint(path)
    if variant is not None:
        if variant not in VARIANTS:
            raise ValueError(f"unknown DSLNet variant {variant!r}; choose from {', '.join(VARIANTS)}")
        if any(model.config[key] != value for key, value in VARIANTS[variant].items()):
            raise ValueError(f"weights {path} are not a DSLNet {variant}")
    return Converter("dslnet", model, device, precision, batch_size)
