"""`hdrtv bench`: throughput of each stage of a conversion on this machine, measured in one run.

Stages, each timed alone over the same frames: decode (H.264 -> BT.709 R'G'B'), model (SDR ->
HDR10 frames), encode (HDR10 -> HEVC Main 10). For DSLNet the model stage runs twice, with the
engine's per-frame reuse and naively window by window, and reports the ratio. Input is the demo
clip drawn at the requested size, so content has motion, highlights and a cut.
"""

from __future__ import annotations

import platform
import tempfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import av
import torch
from hdrtv.model import build_dslnet, load_checkpoint
from hdrtv.model.baselines import BASELINES
from hdrtv.model.engine import InferenceEngine
from hdrtv.model.windows import window_plan

from .decode import decode_frames
from .demo_clip import FPS, write_demo_clip
from .encode import HevcChunkEncoder
from .probe import probe


@dataclass(frozen=True)
class StageSpeed:
    stage: str
    frames: int
    seconds: float
    frames_per_second: float
    megapixels_per_second: float


def _timed(stage: str, frames: int, pixels: int, work: Iterable) -> tuple[StageSpeed, list]:
    """Drain `work` (a lazy iterable doing the stage's work) against the clock; its items too."""
    started = time.perf_counter()
    items = list(work)
    seconds = time.perf_counter() - started
    return StageSpeed(stage, frames, seconds, frames / seconds, frames * pixels / seconds / 1e6), items


def _engine(
    weights: Path | None, variant: str, device: str, precision: str, batch_size: int, tile_size: int | None, reuse: bool
) -> InferenceEngine:
    model = load_checkpoint(weights) if weights is not None else build_dslnet(variant)
    return InferenceEngine(model, device, precision, batch_size, tile_size, reuse=reuse)


def run_benchmark(
    width: int = 1920,
    height: int = 1080,
    frames: int = 10,
    model: str = "dslnet",
    weights: Path | None = None,
    variant: str = "M7",
    device: str = "cpu",
    precision: str = "fp32",
    batch_size: int = 2,
    tile_size: int | None = None,
    preset: str = "medium",
) -> dict:
    """Stage speeds at (width, height) over `frames` frames; untrained DSLNet weights when none are
    given (speed does not depend on them). Returns a JSON-ready dict."""
    pixels = width * height
    with tempfile.TemporaryDirectory(prefix="hdrtv-bench-") as scratch:
        first = frames // 2
        clip = write_demo_clip(Path(scratch) / "bench.mp4", width, height, (first, frames - first))
        info = probe(clip)
        decode, sdr = _timed("decode", frames, pixels, decode_frames(info))
        stages = [decode]
        reuse_speedup = None
        if model == "dslnet":
            reused = _engine(weights, variant, device, precision, batch_size, tile_size, reuse=True)
            naive = _engine(weights, variant, device, precision, batch_size, tile_size, reuse=False)
            windows = window_plan(frames, reused.radius, [0, first])
            model_stage, hdr = _timed("model", frames, pixels, reused.run(sdr, windows))
            naive_stage, _ = _timed("model (no per-frame reuse)", frames, pixels, naive.run(sdr, windows))
            stages += [model_stage, naive_stage]
            reuse_speedup = naive_stage.seconds / model_stage.seconds
        else:
            formula = BASELINES[model]
            unit = (torch.from_numpy(frame.astype("float32") / 65535) for frame in sdr)
            model_stage, hdr = _timed("model", frames, pixels, (formula(frame) for frame in unit))
            stages.append(model_stage)
        encode_path = Path(scratch) / "encoded.mp4"

        def encode() -> Iterator[None]:
            with HevcChunkEncoder(encode_path, width, height, info.time_base, info.frame_rate, preset=preset) as out:
                for index, frame in enumerate(hdr):
                    yield out.write(frame, pts=info.frame_pts[index])

        stages.append(_timed("encode", frames, pixels, encode())[0])
    slowest = min(stage.frames_per_second for stage in stages if "no per-frame" not in stage.stage)
    return {
        "size": f"{width}x{height}",
        "frames": frames,
        "model": model if model != "dslnet" else f"dslnet {variant}",
        "device": _device_name(device),
        "precision": precision,
        "batch_size": batch_size,
        "tile_size": tile_size,
        "x265_preset": preset,
        "stages": [asdict(stage) for stage in stages],
        "slowest_stage_frames_per_second": slowest,
        "reuse_speedup": reuse_speedup,
        "software": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "av": av.__version__,
            "ffmpeg": ".".join(map(str, av.ffmpeg_version_info)) if hasattr(av, "ffmpeg_version_info") else None,
        },
        "source_fps": FPS,
    }


def _device_name(device: str) -> str:
    if device.startswith("cuda") and torch.cuda.is_available():
        return torch.cuda.get_device_name(torch.device(device))
    cpuinfo = Path("/proc/cpuinfo")
    names = (
        [line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines() if line.startswith("model name")]
        if cpuinfo.exists()
        else []
    )
    return f"{names[0] if names else platform.machine()} ({torch.get_num_threads()} threads)"


def format_markdown(result: dict) -> str:
    """The stage table of a `run_benchmark` result."""
    lines = [
        f"{result['model']} at {result['size']} on {result['device']}, {result['precision']}, "
        f"{result['frames']} frames, x265 {result['x265_preset']}",
        "",
        "| stage | frames/s | megapixels/s | seconds |",
        "|---|---:|---:|---:|",
    ]
    for stage in result["stages"]:
        lines.append(
            f"| {stage['stage']} | {stage['frames_per_second']:.2f} | "
            f"{stage['megapixels_per_second']:.2f} | {stage['seconds']:.2f} |"
        )
    if result["reuse_speedup"] is not None:
        lines.append(f"\nper-frame reuse speed-up over window-by-window: {result['reuse_speedup']:.2f}x")
    return "\n".join(lines)
