"""Peak arithmetic throughput of the device a benchmark ran on, to put achieved TFLOP/s in proportion.

CUDA: NVIDIA's datasheet figures, dense (without 2:4 sparsity), looked up by device name. Source:
the H100 / H200 / A100 / L4 / L40S product datasheets on nvidia.com (H100 and H200 "Tensor Core
GPU" datasheets, A100 datasheet, L4 and L40S datasheets); their tensor-core figures quote sparsity
and are halved here. fp32 runs DSLNet's convolutions on TF32 tensor cores when cuDNN's
`allow_tf32` is on (PyTorch's default), so that is the fp32 peak then; otherwise the CUDA-core
FP32 figure.

CPU: an estimate, cores x clock x FLOPs per cycle per core, from /proc/cpuinfo: physical cores
this process may use, the nominal clock (cpufreq's maximum where the kernel exposes it, else
"cpu MHz", which may be a turbo or idle value), and two FMA units per core (most server cores;
not readable from cpuinfo), each doing 2 FLOPs per lane: AVX-512 16 fp32 lanes, AVX2+FMA 8, else
SSE 4 (no FMA: 1 FLOP per lane). bf16 doubles the fp32 rate with AVX512_BF16 (a dot product of
pairs per lane) and is 1024 FLOPs per cycle per core with AMX-BF16. Pass `peak_tflops` to override.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from ..media.encode import available_cores

# (name substring, fp32 CUDA cores, tf32 tensor, bf16/fp16 tensor), dense TFLOP/s. Most specific first:
# "H100" alone (e.g. "NVIDIA H100 80GB HBM3") is the SXM part; "L4" is a substring of "L40S".
_CUDA_PEAKS = (
    ("H100 PCIe", 51.0, 378.0, 756.5),
    ("H100 NVL", 60.0, 417.5, 835.5),
    ("H200 NVL", 60.0, 417.5, 835.5),
    ("H200", 67.0, 494.5, 989.5),
    ("H100", 67.0, 494.5, 989.5),
    ("A100", 19.5, 156.0, 312.0),
    ("L40S", 91.6, 183.0, 366.5),
    ("L4", 30.3, 60.0, 121.0),
)


@dataclass(frozen=True)
class DevicePeak:
    tflops: float | None  # None: unknown device
    source: str


def device_peak(device: torch.device, precision: str, peak_tflops: float | None = None) -> DevicePeak:
    """The peak for `precision` ("fp32", "bf16", "fp16") on `device`, with where it comes from."""
    if peak_tflops is not None:
        return DevicePeak(peak_tflops, "given with --peak-tflops")
    if device.type == "cuda":
        return _cuda_peak(torch.cuda.get_device_name(device), precision)
    return _cpu_peak(precision)


def _cuda_peak(name: str, precision: str) -> DevicePeak:
    for key, fp32, tf32, half in _CUDA_PEAKS:
        if key in name:
            if precision != "fp32":
                return DevicePeak(half, f"NVIDIA datasheet, {key} dense {precision} tensor core")
            if torch.backends.cudnn.allow_tf32:
                return DevicePeak(tf32, f"NVIDIA datasheet, {key} dense TF32 tensor core (cuDNN allow_tf32)")
            return DevicePeak(fp32, f"NVIDIA datasheet, {key} FP32")
    return DevicePeak(None, f"no datasheet figure for {name}; pass --peak-tflops")


def _cpuinfo() -> dict[str, str]:
    """The first processor's fields of /proc/cpuinfo (empty where there is none)."""
    path = Path("/proc/cpuinfo")
    fields: dict[str, str] = {}
    for line in path.read_text().splitlines() if path.exists() else []:
        if not line.strip():
            break
        key, _, value = line.partition(":")
        fields[key.strip()] = value.strip()
    return fields


def cpu_model() -> str:
    return _cpuinfo().get("model name", "unknown CPU")


def physical_cores() -> int:
    """Cores this process may use, hyper-threads counted once."""
    info = _cpuinfo()
    per_core = int(info.get("siblings", 1)) // max(1, int(info.get("cpu cores", 1)))
    return max(1, available_cores() // max(1, per_core))


def _clock_ghz(info: dict[str, str]) -> float | None:
    cpufreq = Path("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq")
    if cpufreq.exists():
        return int(cpufreq.read_text()) / 1e6  # kHz
    return float(info["cpu MHz"]) / 1e3 if "cpu MHz" in info else None


def _cpu_peak(precision: str) -> DevicePeak:
    info = _cpuinfo()
    flags = set(info.get("flags", "").split())
    clock = _clock_ghz(info)
    if clock is None:
        return DevicePeak(None, "CPU clock unknown; pass --peak-tflops")
    lanes, isa = (16, "AVX-512") if "avx512f" in flags else (8, "AVX2+FMA") if {"avx2", "fma"} <= flags else (4, "SSE")
    per_cycle = 2 * lanes * (2 if isa != "SSE" else 1)
    if precision == "bf16" and "amx_bf16" in flags:
        per_cycle, isa = 1024, "AMX-BF16"
    elif precision == "bf16" and "avx512_bf16" in flags:
        per_cycle, isa = 2 * per_cycle, "AVX512_BF16"
    cores = physical_cores()
    return DevicePeak(
        cores * clock * per_cycle / 1e3,
        f"estimate: {cores} cores x {clock:.2f} GHz x {per_cycle} FLOPs/cycle ({isa}, 2 FMA units assumed)",
    )
