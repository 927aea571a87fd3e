"""Assemble encoded chunks into the final HDR `.mp4` or `.mkv`, without re-encoding.

The chunks' HEVC packets are concatenated in order with the source timestamps they were encoded
with (so variable frame rate survives). Decoding timestamps are recomputed for the whole video:
with `delay` the largest reordering (decode position minus display rank) of any packet, packet
i decodes at the display time of the i-th frame `delay` frames earlier (the first `delay`
packets step back from the first frame), which is increasing and never after the packet's own
pts, also across chunk joins. Each frame lasts until the next one; the last frame's duration
comes from where the last chunk ends (see `encode.HevcChunkEncoder`).

The output format's SEI messages (`OutputFormat.video_sei`; for HDR10 every mastering display and
content light level, in the packets and the `hvcC`) are rewritten to the whole video's values, and
the container gets the format's boxes (`OutputFormat.container_boxes`, via `metadata_template`).
Audio and subtitle packets of the source are copied unchanged with their timing; a subtitle
codec the container cannot hold is skipped with a warning (MP4 takes mov_text, Matroska most
text and bitmap formats), an audio codec it cannot hold is an `InputError`. The file is written
next to the output under a temporary name and renamed into place only when complete.
"""

from __future__ import annotations

import heapq
import logging
import os
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av

from ..control.errors import InputError
from ..formats.hdr10 import HDR10
from ..formats.mp4_boxes import metadata_template
from ..formats.output_format import OutputFormat
from ..formats.static_metadata import ContentLightLevel, MasteringDisplay
from .hevc_sei import hvcc_length_size, rewrite_hvcc, rewrite_packet

log = logging.getLogger(__name__)

MUXERS = {".mp4": "mp4", ".mkv": "matroska"}
_COPIED_TAGS = ("language", "title")


@dataclass(frozen=True)
class _Chunk:
    """One chunk's video timing: pts in decode order and where its last frame ends."""

    path: Path
    time_base: Fraction
    pts: list[int]
    end: int


def decode_timestamps(pts: Sequence[int]) -> list[int]:
    """pts of packets in decode order -> dts: increasing, each <= its pts (see module docstring)."""
    order = sorted(pts)
    if len(set(order)) != len(order):
        raise ValueError("two video packets share a pts")
    rank = {value: r for r, value in enumerate(order)}
    delay = max(i - rank[value] for i, value in enumerate(pts))
    step = order[1] - order[0] if len(order) > 1 else 1
    return [order[i - delay] if i >= delay else order[0] - (delay - i) * step for i in range(len(pts))]


def display_durations(pts: Sequence[int], end: int) -> dict[int, int]:
    """pts -> how long the frame shows: until the next frame; the last one until `end` (if known,
    else as long as the frame before it)."""
    order = sorted(pts)
    gaps = [b - a for a, b in zip(order, order[1:])]
    last = end - order[-1] if end > order[-1] else (gaps[-1] if gaps else 0)
    return dict(zip(order, [*gaps, last]))


def _read_chunk(path: Path) -> _Chunk:
    with av.open(str(path)) as container:
        if not container.streams.video:
            raise ValueError(f"{path}: chunk has no video stream")
        stream = container.streams.video[0]
        packets = [(p.pts, p.duration) for p in container.demux(stream) if p.dts is not None]
    if not packets:
        raise ValueError(f"{path}: chunk has no video packets")
    last_pts, last_duration = packets[-1]
    return _Chunk(path, stream.time_base, [pts for pts, _ in packets], last_pts + last_duration)


def _read_chunks(paths: Sequence[Path]) -> list[_Chunk]:
    chunks = [_read_chunk(path) for path in paths]
    for before, after in zip(chunks, chunks[1:]):
        if after.time_base != before.time_base:
            raise ValueError(f"{after.path}: time base {after.time_base} differs from {before.time_base}")
        if min(after.pts) <= max(before.pts):
            raise ValueError(f"{after.path}: starts before {before.path} ends; chunks out of order or overlapping")
    return chunks


def _temporary_file(output: Path, overwrite: bool) -> Path:
    """Check the output path and create the temporary file next to it (before any work)."""
    if output.suffix.lower() not in MUXERS:
        raise InputError(f"{output}: output must end in {' or '.join(MUXERS)}")
    if output.exists() and not overwrite:
        raise InputError(f"{output}: already exists (pass overwrite=True to replace it)")
    try:
        handle, name = tempfile.mkstemp(prefix=f".{output.name}.", suffix=output.suffix, dir=output.parent)
    except OSError as error:
        raise InputError(f"{output.parent}: cannot write the output there ({error.strerror})") from None
    os.fchmod(handle, 0o644)  # mkstemp's 0600 would hide the result from its other readers
    os.close(handle)
    return Path(name)


def _copy_streams(
    source: av.container.InputContainer, output: av.container.OutputContainer, name: Path
) -> dict[int, av.stream.Stream]:
    """Add an output stream for each audio and subtitle stream of the source it can hold."""
    copies = {}
    for stream in source.streams:
        if stream.type not in ("audio", "subtitle"):
            continue
        codec = stream.codec_context.name if stream.codec_context else "unknown codec"
        try:
            copy = output.add_stream_from_template(stream)
        except ValueError:
            if stream.type == "audio":
                raise InputError(f"{name}: cannot hold audio stream #{stream.index} ({codec}); choose .mkv") from None
            log.warning("%s: skipping subtitle stream #%d (%s), not storable there", name, stream.index, codec)
            continue
        copy.metadata.update({tag: stream.metadata[tag] for tag in _COPIED_TAGS if tag in stream.metadata})
        copy.disposition = stream.disposition
        copies[stream.index] = copy
    return copies


def _source_packets(
    source: av.container.InputContainer, copies: dict[int, av.stream.Stream]
) -> Iterator[tuple[float, av.Packet]]:
    """The copied streams' packets, untouched, keyed by decode time in seconds."""
    if not copies:
        return
    for packet in source.demux([source.streams[index] for index in copies]):
        stamp = packet.dts if packet.dts is not None else packet.pts
        if stamp is None:
            continue
        packet.stream = copies[packet.stream.index]
        yield float(stamp * packet.time_base), packet


def _video_packets(
    chunks: list[_Chunk], stream: av.stream.Stream, payloads: dict[int, bytes]
) -> Iterator[tuple[float, av.Packet]]:
    """The chunks' packets with SEI rewritten, new dts and durations, keyed by dts in seconds."""
    dts = iter(decode_timestamps([pts for chunk in chunks for pts in chunk.pts]))
    durations = display_durations([pts for chunk in chunks for pts in chunk.pts], chunks[-1].end)
    for chunk in chunks:
        with av.open(str(chunk.path)) as container:
            source = container.streams.video[0]
            length_size = hvcc_length_size(source.codec_context.extradata)
            for packet in container.demux(source):
                if packet.dts is None:
                    continue
                data, _ = rewrite_packet(bytes(packet), payloads, length_size)
                copy = av.Packet(data)
                copy.pts, copy.dts, copy.duration = packet.pts, next(dts), durations[packet.pts]
                copy.time_base, copy.is_keyframe, copy.stream = chunk.time_base, packet.is_keyframe, stream
                yield float(copy.dts * chunk.time_base), copy


def _add_video_stream(
    output: av.container.OutputContainer, chunk: _Chunk, payloads: dict[int, bytes], boxes: bytes
) -> av.stream.Stream:
    """The output's video stream, from a template carrying the side data of `boxes` (`metadata_template`)."""
    with av.open(str(chunk.path)) as container:
        stream = container.streams.video[0]
        extradata, _ = rewrite_hvcc(stream.codec_context.extradata, payloads)
        first = next(p for p in container.demux(stream) if p.dts is not None)
        first_data, _ = rewrite_packet(bytes(first), payloads, hvcc_length_size(extradata))
        template = metadata_template(stream, extradata, av.Packet(first_data), boxes)
        with template:
            return output.add_stream_from_template(template.streams.video[0])


def assemble(
    chunk_paths: Sequence[str | os.PathLike[str]],
    output_path: str | os.PathLike[str],
    source_path: str | os.PathLike[str],
    light_level: ContentLightLevel,
    mastering: MasteringDisplay,
    *,
    overwrite: bool = False,
    output_format: OutputFormat = HDR10,
) -> None:
    """Write `output_path` (.mp4 or .mkv) from the chunks (in order) and the source's audio and
    subtitles, with the SEI and container metadata `output_format` makes of `light_level` and
    `mastering` (the format the chunks were encoded in)."""
    output = Path(output_path)
    if not chunk_paths:
        raise ValueError("no chunks to assemble")
    temporary = _temporary_file(output, overwrite)
    try:
        chunks = _read_chunks([Path(path) for path in chunk_paths])
        payloads = output_format.video_sei(mastering, light_level)
        boxes = output_format.container_boxes(mastering, light_level)
        # Timestamps are kept as they are: by default FFmpeg's Matroska muxer would shift the whole
        # file when the source's audio starts before zero (AAC priming from an MP4 edit list).
        muxer = MUXERS[output.suffix.lower()]
        options = {"avoid_negative_ts": "disabled"}
        out = av.open(str(temporary), "w", format=muxer, container_options=options)
        with out, av.open(str(source_path)) as source:
            video = _add_video_stream(out, chunks[0], payloads, boxes)
            copies = _copy_streams(source, out, output)
            streams = (_video_packets(chunks, video, payloads), _source_packets(source, copies))
            for _, packet in heapq.merge(*streams, key=lambda item: item[0]):
                out.mux(packet)
        if output.exists() and not overwrite:
            raise InputError(f"{output}: appeared while assembling (pass overwrite=True to replace it)")
        os.replace(temporary, output)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
