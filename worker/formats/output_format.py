"""What the encoder, the assembly and the job record ask of an output format, so that a new format
(HLG, HDR10+) is a new module here rather than new branches in the pipeline.

An `OutputFormat` has a name and a colour description (the stream's VUI), and decides which SEI
messages the bitstream carries and which boxes the container gets, from the video's mastering
display and, once every chunk is measured, its content light level. This base class writes a
colour description and nothing else; a format with metadata (`hdr10.HDR10`) subclasses it.

The frames themselves are the same for every format today: the model's PQ-coded BT.2020 R'G'B',
turned into BT.2020 non-constant-luminance, limited-range Y'CbCr by `media.encode`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .static_metadata import ContentLightLevel, MasteringDisplay

if TYPE_CHECKING:
    from ..media.probe import VideoInfo

_X265_KEYS = ("colorprim", "transfer", "colormatrix", "range")


@dataclass(frozen=True)
class Colour:
    """A stream's colour description twice: ITU-T H.273 code points, as FFmpeg's codec context
    takes them (`range`: FFmpeg's AVColorRange, 1 limited, 2 full), and x265's names of the same."""

    primaries: int
    transfer: int
    matrix: int
    range: int
    x265_primaries: str
    x265_transfer: str
    x265_matrix: str
    x265_range: str

    def x265_params(self) -> list[str]:
        """The `x265-params` entries that signal this description."""
        names = (self.x265_primaries, self.x265_transfer, self.x265_matrix, self.x265_range)
        return [f"{key}={name}" for key, name in zip(_X265_KEYS, names)]


@dataclass(frozen=True)
class OutputFormat:
    """An output format that signals its colour only: no SEI, no container boxes."""

    name: str
    colour: Colour

    def chunk_sei(self, mastering: MasteringDisplay) -> dict[int, bytes]:
        """payloadType -> payload of the prefix SEI messages every IRAP picture of a chunk gets
        while encoding, before the video's light level is known."""
        return {}

    def video_sei(self, mastering: MasteringDisplay, light_level: ContentLightLevel) -> dict[int, bytes]:
        """payloadType -> payload the assembly writes over the chunks' messages of those types,
        with the whole video's values."""
        return {}

    def container_boxes(self, mastering: MasteringDisplay, light_level: ContentLightLevel) -> bytes:
        """ISO BMFF boxes for the HEVC sample entry, after `hvcC` (`mp4_boxes.metadata_template`):
        FFmpeg reads them into the stream's side data, which the MP4 and Matroska muxers write."""
        return b""

    def summary(self, info: VideoInfo) -> dict[str, Any]:
        """What the written file signals, from its probe, as the job record reports it (JSON)."""
        return {"codec": info.codec, "transfer": info.color_transfer, "primaries": info.color_primaries}
