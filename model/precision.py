"""Device and numeric precision choices shared by inference code: "auto" made concrete."""

from __future__ import annotations

import contextlib
from typing import Literal

import torch

from .options import ModelOptions

Precision = Literal["fp32", "fp16", "bf16"]
AUTOCAST_DTYPES: dict[str, torch.dtype] = {"fp16": torch.float16, "bf16": torch.bfloat16}


def resolve_device(device: str | torch.device) -> torch.device:
    """'auto' picks CUDA when present, else the CPU; anything else must exist here."""
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    resolved = torch.device(device)
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} requested but CUDA is not available on this machine")
    return resolved


def resolve_precision(precision: str, device: torch.device) -> Precision:
    """'auto' is bf16 autocast on CUDA and fp32 elsewhere (bf16 runs slower than fp32 on our
    CPUs, in inference and in training); anything else is kept."""
    if precision == "auto":
        return "bf16" if device.type == "cuda" else "fp32"
    return precision  # type: ignore[return-value]


def resolve_batch_size(batch_size: int | str, device: torch.device) -> int:
    """'auto' is 1 window per forward pass on the CPU, where a batch of 2 ran 0.78x as fast
    (benchmarks/cpu-640x360-ladder.md: every core is busy with one window already), and 2 on
    CUDA; a number is kept."""
    if batch_size == "auto":
        return 1 if device.type == "cpu" else 2
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch size must be a positive integer or 'auto', got {batch_size!r}")
    return batch_size


def autocast(device: torch.device, precision: Precision) -> contextlib.AbstractContextManager:
    """Mixed-precision context for `precision` (fp32: none)."""
    if precision == "fp32":
        return contextlib.nullcontext()
    if precision not in AUTOCAST_DTYPES:
        raise ValueError(f"unknown precision {precision!r}; choose fp32, fp16 or bf16")
    if precision == "fp16" and device.type == "cpu":
        raise ValueError("fp16 is for GPUs; on the CPU use bf16 or fp32")
    return torch.autocast(device_type=device.type, dtype=AUTOCAST_DTYPES[precision])


def resolve_options(options: ModelOptions) -> ModelOptions:
    """The options with device, precision and batch size made concrete for this machine."""
    device = resolve_device(options.device)
    return options.model_copy(
        update={
            "device": str(device),
            "precision": resolve_precision(options.precision, device),
            "batch_size": resolve_batch_size(options.batch_size, device),
        }
    )
