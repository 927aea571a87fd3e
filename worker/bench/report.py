"""What `hdrtv bench` records beside its timings (machine, software, threads) and its markdown form."""

from __future__ import annotations

import ctypes
import datetime
import os
import platform
import resource
from pathlib import Path

import av
import torch

from ..media.encode import available_cores
from .device_peak import cpu_model, physical_cores


def x265_version() -> str | None:
    """The version string of the libx265 that PyAV's FFmpeg links (x265 exports it as a symbol);
    None when the library is not found beside PyAV (a PyAV built against a system FFmpeg)."""
    for library in sorted((Path(av.__file__).parent.parent / "av.libs").glob("libx265*")):
        return ctypes.c_char_p.in_dll(ctypes.CDLL(str(library)), "x265_version_str").value.decode()
    return None


def environment(device: torch.device) -> dict:
    """Machine, software versions and thread counts of this run."""
    return {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "cpu": {"model": cpu_model(), "cores_available": available_cores(), "physical_cores": physical_cores()},
        "software": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "cuda": torch.version.cuda,
            "av": av.__version__,
            "ffmpeg": av.ffmpeg_version_info,
            "ffmpeg_libraries": {name: ".".join(map(str, version)) for name, version in av.library_versions.items()},
            "x265": x265_version(),
        },
        "threads": {
            "torch_intra_op": torch.get_num_threads(),
            "torch_inter_op": torch.get_num_interop_threads(),
            "x265_pools": available_cores(),
            "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS"),
        },
    }


def process_peak_rss_bytes() -> int:
    """Peak resident memory of this whole process so far (all sizes and stages of the run)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB


def _tiles(size: int | None) -> str:
    return "whole frames" if size is None else f"{size} px tiles"


def _rate(value: float) -> str:
    """Two decimals, or three significant digits below 1 (0.0213 frames/s: 2160p on a CPU)."""
    return f"{value:.2f}" if value >= 1 else f"{value:#.3g}"


def _number(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _size_markdown(run: dict) -> list[str]:
    lines = [
        f"## {run['model']} at {run['size']}, {run['frames']} frames, {run['precision']}, batch {run['batch_size']}, "
        f"{_tiles(run['tile_size_used'])}, "
        f"{run['encoder']} {run['preset']}",
        "",
        "| stage | frames/s | megapixels/s | share of stage time |",
        "|---|---:|---:|---:|",
    ]
    lines += [
        f"| {s['stage']} | {_rate(s['frames_per_second'])} | {_rate(s['megapixels_per_second'])} | "
        f"{100 * s['share_of_stage_time']:.1f}% |"
        for s in run["stages"]
    ]
    e2e, model = run["end_to_end"], run["model_throughput"]
    lines += [
        "",
        f"End to end (`convert_chunk`, no upload): {_rate(e2e['frames_per_second'])} frames/s, "
        f"{e2e['ratio_to_slowest_stage']:.2f}x the slowest stage ({run['slowest_stage']['stage']}, "
        f"{_rate(run['slowest_stage']['frames_per_second'])} frames/s).",
        f"Model: {_rate(model['frames_per_second'])} frames/s"
        + (
            f", {model['achieved_tflops']:.3f} TFLOP/s of {_number(model['peak_tflops'], 1)} peak "
            f"({_number(model['fraction_of_peak'] and 100 * model['fraction_of_peak'])}%; {model['peak_source']})."
            if model["achieved_tflops"] is not None
            else "."
        ),
        f"Peak memory: process RSS {run['peak_memory']['process_max_rss_bytes'] / 2**30:.2f} GiB"
        + (
            f", CUDA (model) {run['peak_memory']['cuda_model_bytes'] / 2**30:.2f} GiB"
            if run["peak_memory"]["cuda_model_bytes"] is not None
            else ""
        )
        + ".",
    ]
    if run["ladder"]:
        lines += [
            "",
            "| rung | frames/s | speed-up over baseline | over previous | TFLOP/s | of peak | PSNR vs baseline (dB) |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        lines += [
            f"| {r['name']} | {_rate(r['frames_per_second'])} | {r['speedup_over_baseline']:.2f}x | "
            f"{r['speedup_over_previous']:.2f}x | {r['achieved_tflops']:.3f} | "
            f"{_number(r['fraction_of_peak'] and 100 * r['fraction_of_peak'])}% | "
            f"{_number(r['accuracy']['psnr_db'], 1) if r['accuracy']['psnr_db'] is not None else 'identical'} |"
            for r in run["ladder"]
        ]
    return lines


def format_markdown(result: dict) -> str:
    """Every size's tables of a `run_benchmarks` result, under the machine and software they ran on."""
    env = result["environment"]
    software = env["software"]
    lines = [
        f"# hdrtv bench, {env['date']}",
        "",
        f"Device {env['device']}; CPU {env['cpu']['model']} ({env['cpu']['cores_available']} cores available); "
        f"torch {software['torch']} (CUDA {software['cuda']}), PyAV {software['av']}, FFmpeg {software['ffmpeg']}, "
        f"x265 {software['x265']}; threads: torch {env['threads']['torch_intra_op']}, "
        f"x265 pools {env['threads']['x265_pools']}.",
    ]
    for run in result["runs"]:
        lines += ["", *_size_markdown(run)]
    return "\n".join(lines) + "\n"
