"""Free memory on a device, and the peak bytes a computation's tensors hold there.

Used to size inference tiles (`tile_size="auto"`). On CUDA both come from PyTorch's caching
allocator. The CPU allocator keeps no statistics, so there the free memory is what the kernel
says is available (within the process's cgroup limit, as in a container) and the peak is
counted by `LiveTensorBytes`, which watches every tensor the computation creates.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from pathlib import Path

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

_CGROUP = Path("/sys/fs/cgroup")


def free_bytes(device: torch.device) -> float:
    """Bytes this process could still allocate on `device`: on CUDA, free device memory plus
    what PyTorch's cache holds unused; on the CPU, the kernel's MemAvailable, capped by the
    headroom under the cgroup's memory limit where there is one."""
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return free + torch.cuda.memory_reserved(device) - torch.cuda.memory_allocated(device)
    available = _meminfo_available()
    headroom = _cgroup_headroom()
    return available if headroom is None else min(available, headroom)


def _meminfo_available() -> float:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return float(line.split()[1]) * 1024
    raise RuntimeError("/proc/meminfo has no MemAvailable line")


def _cgroup_headroom() -> float | None:
    """Limit minus usage of this process's cgroup (v2), or None without a limit."""
    limit, usage = _CGROUP / "memory.max", _CGROUP / "memory.current"
    if not limit.exists() or not usage.exists():
        return None
    text = limit.read_text().strip()
    return None if text == "max" else float(text) - float(usage.read_text())


class LiveTensorBytes(TorchDispatchMode):
    """Counts the bytes of the storages that tensors created inside the mode hold at once.

    `peak` is the most held at any moment since entering. Storage freed by the allocator's
    reuse is not seen, so this is what the computation needs, not what a caching allocator
    would keep. Any device; meant for the CPU, whose allocator reports nothing.
    """

    def __init__(self) -> None:
        super().__init__()
        self.held = 0
        self.peak = 0
        self._references: dict[int, list[int]] = {}  # storage address -> [bytes, live tensors]

    def __torch_dispatch__(self, func: Callable, types: tuple, args: tuple = (), kwargs: dict | None = None) -> object:
        out = func(*args, **(kwargs or {}))
        for value in tree_flatten(out)[0]:
            if isinstance(value, torch.Tensor):
                self._track(value)
        return out

    def _track(self, tensor: torch.Tensor) -> None:
        storage = tensor.untyped_storage()
        address = storage.data_ptr()
        entry = self._references.get(address)
        if entry is None:
            entry = self._references[address] = [storage.nbytes(), 0]
            self.held += entry[0]
            self.peak = max(self.peak, self.held)
        entry[1] += 1
        weakref.finalize(tensor, self._release, address)

    def _release(self, address: int) -> None:
        entry = self._references[address]
        entry[1] -= 1
        if entry[1] == 0:
            self.held -= entry[0]
            del self._references[address]
