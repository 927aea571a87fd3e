"""HDR10: BT.2020 primaries, PQ (SMPTE ST 2084), BT.2020 non-constant luminance, limited range,
with the static metadata of `static_metadata` in the bitstream and the container.

Every IRAP picture carries a mastering display (ST 2086) and a content light level (CTA-861.3)
SEI message; chunks are encoded before the video's light level is known, so theirs says 0, 0
("unknown") until the assembly writes the measured values over it. The container gets the same
two as `mdcv` and `clli` boxes, whose bodies are the SEI payloads.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from .mp4_boxes import box
from .output_format import Colour, OutputFormat
from .static_metadata import CONTENT_LIGHT_LEVEL, MASTERING_DISPLAY, ContentLightLevel, MasteringDisplay

if TYPE_CHECKING:
    from ..media.probe import VideoInfo

_UNKNOWN_LIGHT_LEVEL = ContentLightLevel(0, 0)


class Hdr10(OutputFormat):
    """HDR10's ST 2086 and CTA-861.3 metadata on top of its colour description."""

    def chunk_sei(self, mastering: MasteringDisplay) -> dict[int, bytes]:
        return self.video_sei(mastering, _UNKNOWN_LIGHT_LEVEL)

    def video_sei(self, mastering: MasteringDisplay, light_level: ContentLightLevel) -> dict[int, bytes]:
        return {MASTERING_DISPLAY: mastering.payload(), CONTENT_LIGHT_LEVEL: light_level.payload()}

    def container_boxes(self, mastering: MasteringDisplay, light_level: ContentLightLevel) -> bytes:
        return box(b"mdcv", mastering.payload()) + box(b"clli", light_level.payload())

    def summary(self, info: VideoInfo) -> dict[str, Any]:
        mastering, light = info.mastering_display, info.content_light
        return super().summary(info) | {
            "mastering_display": dataclasses.asdict(mastering) if mastering else None,
            "content_light": dataclasses.asdict(light) if light else None,
        }


HDR10 = Hdr10(
    name="hdr10",
    colour=Colour(
        primaries=9,  # H.273: BT.2020
        transfer=16,  # PQ, SMPTE ST 2084
        matrix=9,  # BT.2020 non-constant luminance
        range=1,  # limited
        x265_primaries="bt2020",
        x265_transfer="smpte2084",
        x265_matrix="bt2020nc",
        x265_range="limited",
    ),
)
