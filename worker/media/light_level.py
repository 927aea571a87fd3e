"""Measure CTA-861.3 MaxCLL / MaxFALL over a video converted in chunks on several machines.

Each chunk worker measures its frames with a `LightLevelMeter`, reports `to_dict()`, and the
assembly merges the meters and writes one `ContentLightLevel` into every SEI and the container.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from hdrtv.model.colour import pq_eotf

from ..formats.static_metadata import ContentLightLevel

_U16_MAX = 0xFFFF


def _whole_cd_m2(value: float) -> int:
    """Round up to whole cd/m2: H.265 D.3.35 defines both values as upper bounds. Clipped to 16 bits."""
    return min(math.ceil(value), _U16_MAX)


class LightLevelMeter:
    """Running MaxCLL / MaxFALL over frames of PQ-coded BT.2020 R'G'B', mergeable across chunks.

    As CTA-861.3 Annex A defines them: each pixel's light level is max(R, G, B) of the linear
    light in cd/m2 (the PQ EOTF of each component); MaxCLL is the largest over all pixels of all
    frames, MaxFALL the largest frame average of those levels. The meter keeps unrounded values
    so merged chunks round once, in `result()`.
    """

    def __init__(self) -> None:
        self.max_cll = 0.0
        self.max_fall = 0.0
        self.frames = 0

    def add(self, frames: np.ndarray | torch.Tensor) -> None:
        """Measure `frames`: PQ code values in [0, 1], `(h, w, 3)` or a batch `(n, h, w, 3)`."""
        code = torch.as_tensor(frames).detach()
        if code.ndim not in (3, 4) or code.shape[-1] != 3:
            raise ValueError(f"expected (h, w, 3) or (n, h, w, 3) R'G'B', got shape {tuple(code.shape)}")
        # The EOTF is increasing, so the largest linear component is the EOTF of the largest code.
        peak = code.reshape(-1, code.shape[-3] * code.shape[-2], 3).amax(dim=-1).float()  # (n, h*w)
        self.max_cll = max(self.max_cll, float(pq_eotf(peak.max().double())))
        level = pq_eotf(peak)  # float32 per pixel (relative error < 1e-4), averaged in float64
        self.max_fall = max(self.max_fall, float(level.mean(dim=-1, dtype=torch.float64).max()))
        self.frames += peak.shape[0]

    def merge(self, other: LightLevelMeter) -> None:
        """Fold in another chunk's measurements."""
        self.max_cll = max(self.max_cll, other.max_cll)
        self.max_fall = max(self.max_fall, other.max_fall)
        self.frames += other.frames

    def result(self) -> ContentLightLevel:
        """The whole-cd/m2 values to write, rounded up (upper bounds, H.265 D.3.35)."""
        return ContentLightLevel(_whole_cd_m2(self.max_cll), _whole_cd_m2(self.max_fall))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready state for a chunk worker's report."""
        return {"max_cll": self.max_cll, "max_fall": self.max_fall, "frames": self.frames}

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> LightLevelMeter:
        """Inverse of `to_dict`."""
        meter = cls()
        meter.max_cll = float(state["max_cll"])
        meter.max_fall = float(state["max_fall"])
        meter.frames = int(state["frames"])
        return meter
