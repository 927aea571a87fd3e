"""The optimisation ladder of `hdrtv bench`: DSLNet timed from the plain fp32 eager NCHW path up
through each optimisation the inference engine has, on the same frames in the same run.

Rungs are cumulative: the baseline (fp32, NCHW, batch 1, ConditionNet per window), then
channels-last (only where `prepare_model` applies it: CPUs, width >= 32), per-frame reuse, the
requested batch size, and each autocast precision the device takes (bf16; on CUDA also fp16),
each of those on top of the fp32 rungs, and last `torch.compile` (the engine's compile=True,
CUDA graphs off: see `engine.py`) on top of the rung in the product's precision, timed after
one untimed batch that compiles. Channels-last has no engine switch: a rung without it puts the
prepared model's weights back to NCHW.

Each rung reports its speed-up over the baseline and over the rung before (the compile rung:
over the same rung eager), achieved TFLOP/s
(the model's counted multiply-adds per pixel x 2 x pixels / seconds: the work of the naive path,
so reuse shows up as more useful TFLOP/s) against the device's peak for its precision, PSNR on
PQ values against the baseline's output (null: identical), and on CUDA its peak memory.
"""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass, replace

import torch
from hdrtv.model.engine import InferenceEngine
from hdrtv.model.metrics.psnr import psnr
from hdrtv.model.model_info import measure_macs_per_pixel
from hdrtv.model.network import DSLNet
from torch import Tensor

from .device_peak import device_peak
from .stages import clocked


@dataclass(frozen=True)
class Rung:
    name: str
    channels_last: bool
    reuse: bool
    batch_size: int
    precision: str
    compile: bool = False


def macs_per_pixel(model: DSLNet) -> float:
    """Multiply-adds per output pixel of `model`'s configuration, counted on shapes only."""
    with torch.device("meta"):
        return measure_macs_per_pixel(DSLNet(**model.config))


def _engine(model: DSLNet, rung: Rung, device: torch.device, tile_size: int | str | None) -> InferenceEngine:
    engine = InferenceEngine(
        copy.deepcopy(model),
        device=str(device),
        precision=rung.precision,
        batch_size=rung.batch_size,
        tile_size=tile_size,
        reuse=rung.reuse,
        compile=rung.compile,
    )
    if not rung.channels_last:
        engine.model.to(memory_format=torch.contiguous_format)
    return engine


def _is_channels_last(model: torch.nn.Module) -> bool:
    weights = [p for p in model.parameters() if p.dim() == 4 and p.shape[1] * p.shape[2] * p.shape[3] > 1]
    return any(not w.is_contiguous() and w.is_contiguous(memory_format=torch.channels_last) for w in weights)


def ladder_rungs(
    model: DSLNet, device: torch.device, batch_size: int, compile_precision: str | None = None
) -> list[Rung]:
    """The rungs this model and device have, baseline first; with `compile_precision`, a last
    rung compiling the top rung of that precision."""
    rungs = [Rung("fp32 eager NCHW, batch 1, no per-frame reuse", False, False, 1, "fp32")]
    if _is_channels_last(InferenceEngine(copy.deepcopy(model), device=str(device)).model):
        rungs.append(replace(rungs[-1], name="+ channels-last", channels_last=True))
    rungs.append(replace(rungs[-1], name="+ per-frame reuse", reuse=True))
    if batch_size != 1:
        rungs.append(replace(rungs[-1], name=f"+ batch {batch_size}", batch_size=batch_size))
    fp32 = rungs[-1]
    for precision in ("bf16", "fp16") if device.type == "cuda" else ("bf16",):
        rungs.append(replace(fp32, name=f"+ {precision} autocast", precision=precision))
    if compile_precision is not None:
        tops = [rung for rung in rungs if rung.precision == compile_precision]  # none: run_ladder refuses
        if tops:
            rungs.append(replace(tops[-1], name=f"+ torch.compile ({compile_precision})", compile=True))
    return rungs


def _run(engine: InferenceEngine, frames: list[Tensor], windows: list[tuple[int, ...]]) -> tuple[Tensor, float]:
    """The engine's outputs (t, h, w, 3) and their seconds; on CUDA and when compiling after one
    untimed batch (kernel selection, lazy initialisation, compilation), with the memory peak reset."""
    if engine.device.type == "cuda" or engine.compile:
        list(engine.run(frames, windows[:1]))
    if engine.device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(engine.device)
    return clocked(lambda: torch.stack(list(engine.run(frames, windows))))


def _accuracy(output: Tensor, reference: Tensor) -> dict:
    """PSNR (dB, all frames as one error; None when identical) and max abs error on PQ values."""
    value = float(psnr(output.flatten(0, 1), reference.flatten(0, 1)))
    error = float((output - reference).abs().max())
    return {"psnr_db": value if value != float("inf") else None, "max_abs_error": error}


def run_ladder(
    model: DSLNet,
    device: torch.device,
    frames: list[Tensor],
    windows: list[tuple[int, ...]],
    batch_size: int,
    tile_size: int | str | None,
    peak_tflops: float | None,
    precision: str,
    compile: bool = True,
) -> tuple[list[dict], Tensor]:
    """One JSON-ready row per rung, and the output of the last eager rung in `precision` (the
    model stage's); compile=False leaves out the torch.compile rung."""
    work = macs_per_pixel(model) * 2 * frames[0].shape[0] * frames[0].shape[1] * len(windows)
    rows: list[dict] = []
    chosen = None
    reference = None
    last_fp32: dict | None = None  # what the next rung builds on: the rung before, or the fp32 top
    eager: dict[str, dict] = {}  # the last eager row of each precision: what the compile rung builds on
    for rung in ladder_rungs(model, device, batch_size, precision if compile else None):
        previous = eager[rung.precision] if rung.compile else last_fp32
        output, seconds = _run(_engine(model, rung, device, tile_size), frames, windows)
        reference = output if reference is None else reference
        peak = device_peak(device, rung.precision, peak_tflops)
        achieved = work / seconds / 1e12
        rows.append(
            asdict(rung)
            | {
                "seconds": seconds,
                "frames_per_second": len(windows) / seconds,
                "speedup_over_baseline": rows[0]["seconds"] / seconds if rows else 1.0,
                "speedup_over_previous": previous["seconds"] / seconds if previous else 1.0,
                "achieved_tflops": achieved,
                "peak_tflops": peak.tflops,
                "peak_source": peak.source,
                "fraction_of_peak": achieved / peak.tflops if peak.tflops else None,
                "peak_memory_bytes": torch.cuda.max_memory_allocated(device) if device.type == "cuda" else None,
                "accuracy": _accuracy(output, reference),
            }
        )
        if not rung.compile:
            chosen = output if rung.precision == precision else chosen
            last_fp32 = rows[-1] if rung.precision == "fp32" else last_fp32
            eager[rung.precision] = rows[-1]
    if chosen is None:
        raise ValueError(f"{device} has no {precision} rung; choose from {sorted({r['precision'] for r in rows})}")
    return rows, chosen
