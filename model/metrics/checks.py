"""Argument checks shared by every full-reference metric."""

from __future__ import annotations

from torch import Tensor


def require_same_shape(pred: Tensor, target: Tensor) -> None:
    """A metric compares like with like: refuse mismatched shapes with a message naming both."""
    if pred.shape != target.shape:
        raise ValueError(f"pred {tuple(pred.shape)} and target {tuple(target.shape)} differ in shape")
