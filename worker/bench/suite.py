"""`hdrtv bench`: where a conversion's time goes on this machine, measured in one run per frame size.

Input is the demo clip drawn at each size (motion, highlights and a cut). Per size, over the same
frames: the stages timed alone (decode, colour conversion, model, HDR10 encode, upload; see
`stages.py` for what each includes) with frames/s and share of their summed time; the real
`convert_chunk` end to end, and its ratio to the slowest stage it runs (upload is not part of
it); for DSLNet the optimisation ladder (`ladder.py`), whose rung in the requested
precision with every optimisation is the model stage; peak memory. Untrained DSLNet weights are
used when none are given: speed does not depend on them.
"""

from __future__ import annotations

import copy
import tempfile
from dataclasses import asdict
from pathlib import Path

import torch
from hdrtv.model import Converter, build_dslnet, load_checkpoint
from hdrtv.model.baselines import BASELINES
from hdrtv.model.network import DEFAULT_VARIANT
from hdrtv.model.precision import resolve_options
from hdrtv.model.windows import window_plan

from ..control.options import ConversionOptions
from ..formats.static_metadata import MasteringDisplay
from ..media.chunks import Chunk
from ..media.demo_clip import write_demo_clip
from ..media.probe import probe
from ..pipeline import convert_chunk
from .device_peak import device_peak
from .ladder import macs_per_pixel, run_ladder
from .report import environment, process_peak_rss_bytes
from .stages import (
    StageSpeed,
    clocked,
    decode_444,
    encode_seconds,
    stage_speed,
    upload_seconds,
    ycbcr_to_model_input,
    yuv420p10_seconds,
)

SIZES = ((1920, 1080), (3840, 2160))


def run_benchmarks(
    sizes: list[tuple[int, int]] | tuple[tuple[int, int], ...] = SIZES,
    frames: int = 10,
    options: ConversionOptions = ConversionOptions(model="dslnet"),
    variant: str = DEFAULT_VARIANT,
    upload_uri: str | None = None,
    peak_tflops: float | None = None,
    compile_rung: bool = True,
    ladder: bool = True,
) -> dict:
    """Every size's measurements under the machine and software they ran on; JSON-ready.

    options: the converter and encoder timed, as a conversion takes them ("auto" precision is the
    product's: bf16 on CUDA, fp32 on the CPU); DSLNet runs `options.weights`, or without them an
    untrained network of `variant`. compile_rung=False leaves the
    torch.compile rung out of the ladder; ladder=False times DSLNet only as the product runs it
    (for sizes where the plain fp32 NCHW rung would take too long, e.g. 2160p on a CPU)."""
    options = resolve_options(options)
    network, label = None, options.model
    if options.model == "dslnet":
        weights = options.weights
        network = load_checkpoint(weights) if weights is not None else build_dslnet(variant)
        label = f"DSLNet {weights.name}" if weights is not None else f"DSLNet {variant} (untrained)"
    runs = [
        _run_size(w, h, frames, options, label, network, upload_uri, peak_tflops, compile_rung, ladder)
        for w, h in sizes
    ]
    return {"environment": environment(torch.device(options.device)), "runs": runs}


def _run_size(
    width: int,
    height: int,
    frames: int,
    options: ConversionOptions,
    label: str,
    network: torch.nn.Module | None,
    upload_uri: str | None,
    peak_tflops: float | None,
    compile_rung: bool,
    ladder: bool,
) -> dict:
    device, precision, batch_size = torch.device(options.device), options.precision, options.batch_size
    tile_size, preset, encoder = options.tile_size, options.preset, options.encoder
    pixels = width * height
    with tempfile.TemporaryDirectory(prefix="hdrtv-bench-") as scratch:
        first = frames // 2
        info = probe(write_demo_clip(Path(scratch) / "bench.mp4", width, height, (first, frames - first)))
        ycbcr, decode_s = decode_444(info)
        sdr, to_rgb_s = ycbcr_to_model_input(info, ycbcr)
        del ycbcr
        windows = window_plan(frames, network.radius if network is not None else 0, [0, first])
        rows, cuda_peak = [], None
        if network is not None:
            converter = Converter("dslnet", copy.deepcopy(network), options)
        else:
            converter = Converter(options.model, BASELINES[options.model], options)
        if network is not None and ladder:
            rows, hdr = run_ladder(
                network, device, sdr, windows, batch_size, tile_size, peak_tflops, precision, compile_rung
            )
            # The stage times what the converter runs: the eager top rung (compile is opt-in).
            top = [row for row in rows if row["precision"] == precision and not row["compile"]][-1]
            model_s, cuda_peak = top["seconds"], top["peak_memory_bytes"]
        else:
            hdr, model_s = clocked(lambda: torch.stack(list(converter.run(sdr, windows))))
        layout = converter.engine.layout_for((height, width)) if converter.engine is not None else None
        from_rgb_s = yuv420p10_seconds(list(hdr))
        chunk_path = Path(scratch) / f"hdrtv-bench-{width}x{height}.mp4"
        encode_s = encode_seconds(info, list(hdr), chunk_path, preset, encoder) - from_rgb_s
        upload_target, upload_s = upload_seconds(chunk_path, upload_uri or f"file://{scratch}/uploaded")
        e2e_s = clocked(
            lambda: convert_chunk(
                info,
                Chunk(0, 0, frames, 0, frames),
                [0, first],
                converter,
                Path(scratch) / "end_to_end.mp4",
                MasteringDisplay(),
                options,
            )
        )[1]
    stages = [
        stage_speed("decode", frames, pixels, decode_s),
        stage_speed("colour conversion", frames, pixels, to_rgb_s + from_rgb_s),
        stage_speed("model", frames, pixels, model_s),
        stage_speed("HDR10 encode", frames, pixels, encode_s),
        stage_speed("upload", frames, pixels, upload_s),
    ]
    slowest = min(stages[:4], key=lambda stage: stage.frames_per_second)  # what convert_chunk runs
    e2e_fps = frames / e2e_s
    return {
        "size": f"{width}x{height}",
        "frames": frames,
        "model": label,
        "precision": precision,
        "batch_size": batch_size,
        "tile_size": tile_size,
        "tile_size_used": None if layout is None else layout.size,  # None: whole frames
        "encoder": encoder,
        "preset": preset,
        "upload_target": upload_target,
        "stages": _with_shares(stages),
        "colour_conversion_seconds": {"ycbcr_to_rgb": to_rgb_s, "to_yuv420p10": from_rgb_s},
        "slowest_stage": {"stage": slowest.stage, "frames_per_second": slowest.frames_per_second},
        "end_to_end": {
            "seconds": e2e_s,
            "frames_per_second": e2e_fps,
            "ratio_to_slowest_stage": e2e_fps / slowest.frames_per_second,
        },
        "model_throughput": _model_throughput(stages[2], network, device, precision, peak_tflops, pixels),
        "ladder": rows,
        "peak_memory": {"process_max_rss_bytes": process_peak_rss_bytes(), "cuda_model_bytes": cuda_peak},
    }


def _with_shares(stages: list[StageSpeed]) -> list[dict]:
    total = sum(stage.seconds for stage in stages)
    return [asdict(stage) | {"share_of_stage_time": stage.seconds / total} for stage in stages]


def _model_throughput(
    stage: StageSpeed,
    network: torch.nn.Module | None,
    device: torch.device,
    precision: str,
    peak_tflops: float | None,
    pixels: int,
) -> dict:
    """The model stage's speed and, for DSLNet, its achieved TFLOP/s against the device's peak."""
    result = {"frames_per_second": stage.frames_per_second, "megapixels_per_second": stage.megapixels_per_second}
    if network is None:
        absent = ("macs_per_pixel", "achieved_tflops", "peak_tflops", "fraction_of_peak", "peak_source")
        return result | dict.fromkeys(absent)
    macs = macs_per_pixel(network)
    achieved = macs * 2 * pixels * stage.frames_per_second / 1e12
    peak = device_peak(device, precision, peak_tflops)
    return result | {
        "macs_per_pixel": macs,
        "achieved_tflops": achieved,
        "peak_tflops": peak.tflops,
        "fraction_of_peak": achieved / peak.tflops if peak.tflops else None,
        "peak_source": peak.source,
    }
