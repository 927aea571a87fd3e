"""HDR10 static metadata as a decoded frame carries it: FFmpeg's mastering display and content
light level side data, turned into `formats.static_metadata`'s `MasteringDisplay` / `ContentLightLevel`.

FFmpeg's decoders attach both to frames whether the bitstream (HEVC SEI, AV1 metadata OBU) or
the container (Matroska, MP4 `mdcv`/`clli`) carried them. PyAV hands over the raw C structs:
`AVMasteringDisplayMetadata` is ten `AVRational`s (red, green, blue and white x/y, then min and
max luminance) and two `int` flags (has primaries, has luminance); `AVContentLightMetadata` is
two `unsigned`s. Both are native-endian without padding.
"""

from __future__ import annotations

import struct

import av
from av.sidedata.sidedata import Type

from ..formats.static_metadata import ContentLightLevel, MasteringDisplay

_MASTERING = struct.Struct("=22i")
_LIGHT = struct.Struct("=2I")


def _mastering_display(raw: bytes) -> MasteringDisplay | None:
    """Only complete, valid metadata (primaries and luminance) is kept: a half-filled or
    contradictory record tells an encoder nothing it can pass on."""
    values = _MASTERING.unpack(raw[: _MASTERING.size])
    if not all(values[20:]) or not all(values[1:20:2]):
        return None
    ratios = [values[i] / values[i + 1] for i in range(0, 20, 2)]
    red, green, blue, white = (tuple(ratios[i : i + 2]) for i in range(0, 8, 2))
    try:
        return MasteringDisplay(red, green, blue, white, min_luminance=ratios[8], max_luminance=ratios[9])
    except ValueError:
        return None


def _content_light(raw: bytes) -> ContentLightLevel | None:
    try:
        return ContentLightLevel(*_LIGHT.unpack(raw[: _LIGHT.size]))
    except ValueError:
        return None


def static_metadata(frame: av.VideoFrame) -> tuple[MasteringDisplay | None, ContentLightLevel | None]:
    """The (mastering display, content light level) of `frame`; None where absent or invalid."""
    mastering, light = None, None
    for side_data in frame.side_data:
        if side_data.type == Type.MASTERING_DISPLAY_METADATA and side_data.buffer_size >= _MASTERING.size:
            mastering = _mastering_display(bytes(side_data))
        elif side_data.type == Type.CONTENT_LIGHT_LEVEL and side_data.buffer_size >= _LIGHT.size:
            light = _content_light(bytes(side_data))
    return mastering, light
