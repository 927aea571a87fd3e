"""A video stream template whose codec parameters carry an output format's container metadata.

FFmpeg's MP4 and Matroska muxers write HDR metadata (for HDR10 the mastering display and content
light level: MP4 `mdcv`/`clli` boxes, Matroska Colour/MasteringMetadata, MaxCLL, MaxFALL) from the
stream's coded side data, but PyAV cannot set coded side data on an output stream. It does copy it
from a template stream (`add_stream_from_template`), and FFmpeg's MP4 demuxer fills it from those
boxes. So: mux the first packet of the video into a small in-memory MP4, insert the format's boxes
(`OutputFormat.container_boxes`) into its HEVC sample entry, open the result, and use its stream
as the template of the output.

The boxes are plain ISO boxes (ISO/IEC 14496-12 / 23001-8), placed after `hvcC` inside the
`hvc1`/`hev1` sample entry. The sample entry lies at moov/trak/mdia/minf/stbl/stsd; every
enclosing box grows by the inserted size. FFmpeg writes `moov` after `mdat`, so no chunk offset
moves.
"""

from __future__ import annotations

import io
import struct
from collections.abc import Iterator

import av

_SAMPLE_ENTRY_PATH = (b"moov", b"trak", b"mdia", b"minf", b"stbl", b"stsd")
_HEVC_ENTRIES = (b"hvc1", b"hev1")
# Bytes before the first child box: stsd is a full box with an entry count (4 + 4); a visual
# sample entry has 78 bytes of fields (14496-12 8.5.2 / 12.1.3).
_CHILDREN_AT = {b"stsd": 8, b"hvc1": 78, b"hev1": 78}


def _boxes(data: bytes | bytearray, start: int, end: int) -> Iterator[tuple[int, int, bytes]]:
    """(offset, size, type) of the boxes laid end to end in data[start:end]."""
    while start + 8 <= end:
        size, kind = struct.unpack_from(">I4s", data, start)
        if size < 8:
            raise ValueError(f"unsupported MP4 box size {size} for {kind!r} at byte {start}")
        yield start, size, kind
        start += size


def _child(data: bytearray, start: int, end: int, kinds: tuple[bytes, ...]) -> tuple[int, int, bytes]:
    for found in _boxes(data, start, end):
        if found[2] in kinds:
            return found
    raise ValueError(f"MP4 has no {b'/'.join(kinds).decode()} box where expected")


def box(kind: bytes, body: bytes) -> bytes:
    """One ISO box: 32-bit size, 4-character type, body."""
    return struct.pack(">I4s", 8 + len(body), kind) + body


def insert_sample_entry_boxes(mp4: bytes, boxes: bytes) -> bytes:
    """MP4 file bytes (moov last, one HEVC track) -> the same file with `boxes` after `hvcC`."""
    data = bytearray(mp4)
    chain, start, end = [], 0, len(data)
    for kinds in [(kind,) for kind in _SAMPLE_ENTRY_PATH] + [_HEVC_ENTRIES]:
        offset, size, kind = _child(data, start, end, kinds)
        chain.append(offset)
        start, end = offset + 8 + _CHILDREN_AT.get(kind, 0), offset + size
    moov_size = struct.unpack_from(">I", data, chain[0])[0]
    if chain[0] + moov_size != len(data):
        raise ValueError("moov must be the last box: growing it would move the samples")
    hvcc_offset, hvcc_size, _ = _child(data, start, end, (b"hvcC",))
    data[hvcc_offset + hvcc_size : hvcc_offset + hvcc_size] = boxes
    for offset in chain:
        struct.pack_into(">I", data, offset, struct.unpack_from(">I", data, offset)[0] + len(boxes))
    return bytes(data)


def metadata_template(
    stream: av.VideoStream, extradata: bytes, first_packet: av.Packet, boxes: bytes
) -> av.container.InputContainer:
    """An open in-memory MP4 whose video stream copies `stream`'s codec parameters, with
    `extradata` (an hvcC) and the side data of `boxes`. Close it once the output stream exists."""
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp4") as seed:
        video = seed.add_stream_from_template(stream)
        video.codec_context.extradata = extradata
        packet = av.Packet(bytes(first_packet))
        packet.pts, packet.dts, packet.time_base = 0, 0, stream.time_base
        packet.is_keyframe = True
        packet.stream = video
        seed.mux(packet)
    return av.open(io.BytesIO(insert_sample_entry_boxes(buffer.getvalue(), boxes)), "r", format="mp4")
