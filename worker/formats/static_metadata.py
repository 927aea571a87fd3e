"""Static HDR metadata: the mastering display (SMPTE ST 2086) and the content light level
(CTA-861.3 MaxCLL / MaxFALL). HDR10 (`hdr10.py`) writes both today, other formats later (an HDR10+
file carries them beside its dynamic metadata, an HLG file may carry them).

Both travel twice in a file: as HEVC SEI messages in the bitstream (payloadType 137 and 144,
H.265 D.2.28 / D.2.35) and in the container (MP4 `mdcv`/`clli` boxes, Matroska
MasteringMetadata/MaxCLL/MaxFALL). The SEI payloads and the MP4 box bodies have the same layout,
so `payload()` serves both.

The light level is only known once every frame exists: `light_level.LightLevelMeter` measures it
chunk by chunk. This module imports no torch, so the API can read and validate metadata cheaply.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

Chromaticity = tuple[float, float]

MASTERING_DISPLAY = 137  # the SEI payloadType of `MasteringDisplay.payload()`
CONTENT_LIGHT_LEVEL = 144  # the SEI payloadType of `ContentLightLevel.payload()`

# H.265 D.3.28: chromaticities in steps of 0.00002, luminance in steps of 0.0001 cd/m2.
_XY_UNITS = 50000
_LUMINANCE_UNITS = 10000
_U16_MAX = 0xFFFF


@dataclass(frozen=True)
class MasteringDisplay:
    """The display the content was graded on: CIE 1931 xy primaries and white point, and its
    luminance range in cd/m2. The default is the usual HDR10 grade: a P3-D65 display (inside
    the BT.2020 container) from 0.0001 to 1000 cd/m2."""

    red: Chromaticity = (0.680, 0.320)
    green: Chromaticity = (0.265, 0.690)
    blue: Chromaticity = (0.150, 0.060)
    white_point: Chromaticity = (0.3127, 0.3290)
    max_luminance: float = 1000.0
    min_luminance: float = 0.0001

    def __post_init__(self) -> None:
        for name in ("red", "green", "blue", "white_point"):
            if not all(0.0 <= c <= 1.0 for c in getattr(self, name)):
                raise ValueError(f"{name} chromaticity must lie in [0, 1], got {getattr(self, name)}")
        if not 0.0 <= self.min_luminance < self.max_luminance:
            raise ValueError(f"need 0 <= min < max luminance, got {self.min_luminance}, {self.max_luminance}")

    def _codes(self) -> tuple[list[int], int, int]:
        """xy codes in SEI order (G, B, R, white point; x before y) and the two luminance codes."""
        xy = [round(c * _XY_UNITS) for point in (self.green, self.blue, self.red, self.white_point) for c in point]
        return xy, round(self.max_luminance * _LUMINANCE_UNITS), round(self.min_luminance * _LUMINANCE_UNITS)

    def payload(self) -> bytes:
        """24 bytes: the mastering_display_colour_volume SEI payload, also the MP4 `mdcv` box body."""
        xy, high, low = self._codes()
        return struct.pack(">8H2I", *xy, high, low)


@dataclass(frozen=True)
class ContentLightLevel:
    """CTA-861.3 MaxCLL and MaxFALL in whole cd/m2 (0 means unknown)."""

    max_cll: int
    max_fall: int

    def __post_init__(self) -> None:
        for name in ("max_cll", "max_fall"):
            value = getattr(self, name)
            if not (isinstance(value, int) and 0 <= value <= _U16_MAX):
                raise ValueError(f"{name} must be an integer in [0, 65535], got {value!r}")

    def payload(self) -> bytes:
        """4 bytes: the content_light_level_info SEI payload, also the MP4 `clli` box body."""
        return struct.pack(">2H", self.max_cll, self.max_fall)
