"""Let torch-native functions take numpy arrays too.

Colour science and metrics are written once, on torch tensors (so they run on the GPU and inside
models). Scripts, notebooks and tests often hold numpy arrays; `numpy_compatible` converts array
arguments to tensors (same dtype, no copy) and the tensor results back to arrays.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np
import torch

F = TypeVar("F", bound=Callable[..., Any])


def _to_numpy(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy()
    if isinstance(value, tuple):
        return tuple(_to_numpy(v) for v in value)
    return value


def numpy_compatible(fn: F) -> F:
    """Wrap `fn` so numpy arrays in, numpy arrays out; tensors pass through untouched."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        given_numpy = any(isinstance(a, np.ndarray) for a in (*args, *kwargs.values()))
        if not given_numpy:
            return fn(*args, **kwargs)
        args = tuple(torch.from_numpy(np.ascontiguousarray(a)) if isinstance(a, np.ndarray) else a for a in args)
        kwargs = {
            k: torch.from_numpy(np.ascontiguousarray(v)) if isinstance(v, np.ndarray) else v for k, v in kwargs.items()
        }
        return _to_numpy(fn(*args, **kwargs))

    return wrapper  # type: ignore[return-value]
