"""The ablation ladder of the paper's Table 2 and the variants of Tables 3-5, as constructor
arguments of the one DSLNet.

Rungs add one module each on top of the previous: M0 single-frame ResNet; M1 feature modulation
(CFM from the current frame); M2 parallel large-kernel residual branch; M3 temporal modulation
(TFM from all frames); M4 spatial modulation (SFM); M5 large-kernel deformable alignment (offsets
without the dynamic convolution); M6 large-kernel quality enhancement; M7 dynamic-convolution
alignment, i.e. the full DSLNet.
"""

from __future__ import annotations

from typing import Any

from .dslnet import DSLNet

_M0: dict[str, Any] = dict(
    alignment="single",
    dynamic_offsets=False,
    modulations=(),
    residual_branch=False,
    large_kernel_enhancement=False,
)
_M1 = {**_M0, "modulations": ("channel",)}
_M2 = {**_M1, "residual_branch": True}
_M3 = {**_M2, "modulations": ("temporal", "channel")}
_M4 = {**_M3, "modulations": ("temporal", "channel", "spatial")}
_M5 = {**_M4, "alignment": "deformable"}
_M6 = {**_M5, "large_kernel_enhancement": True}
_M7 = {**_M6, "dynamic_offsets": True}

VARIANTS: dict[str, dict[str, Any]] = {
    "M0": _M0,
    "M1": _M1,
    "M2": _M2,
    "M3": _M3,
    "M4": _M4,
    "M5": _M5,
    "M6": _M6,
    "M7": _M7,
    # Table 3: the stacked frames into the M0 ResNet.
    "mresnet": {**_M0, "alignment": "concat"},
    # Table 4: plain convolution blocks in place of the deformable alignment.
    "no-align": {**_M7, "alignment": "conv", "dynamic_offsets": False},
    # Table 5: stacked 3 x 3 convolutions in place of the modulation.
    "no-modulation": {**_M7, "modulations": (), "trunk_kernel": 3},
}
DEFAULT_VARIANT = "M7"


def build_dslnet(variant: str = DEFAULT_VARIANT, **overrides: Any) -> DSLNet:
    """DSLNet for a rung or variant name; `overrides` (radius, width, ...) win over its settings."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown DSLNet variant {variant!r}; choose from {', '.join(VARIANTS)}")
    return DSLNet(**{**VARIANTS[variant], **overrides})
