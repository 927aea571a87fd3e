"""When every frame of a video stream is shown, learned from its packets without decoding.

Packets arrive in decode order, so their presentation timestamps, sorted, list the frames in
presentation order; this holds for variable frame rates and B-frames alike. Packets the demuxer
marks for discarding (MP4 edit lists) show no frame and are left out. Containers that leave
some packets without a timestamp (MPEG program streams) are decoded instead: only the decoder
can fill those gaps, and `decode_frames` identifies frames by the same decoder's timestamps. No
keyframes are reported for such streams: after a seek the decoder's guesses differ, so chunks
of them decode from the start.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av

from ..control.errors import InputError


@dataclass(frozen=True)
class FrameTimes:
    """pts of every frame and of the keyframes a seek can start from (presentation order, stream
    time base), the duration in seconds from the first frame to the end of the last, and the
    average frame rate."""

    pts: tuple[int, ...]
    keyframe_pts: tuple[int, ...]
    duration: float
    frame_rate: Fraction


def _packet_times(
    path: Path, container: av.container.InputContainer, stream: av.VideoStream
) -> tuple[list[int], list[int], int | None, bool]:
    """(pts, keyframe pts, end of the last frame, whether some packet had no pts)."""
    pts, keys, end, gaps = [], [], None, False
    try:
        for packet in container.demux(stream):
            if packet.size == 0 or packet.is_discard:
                continue
            if packet.pts is None:
                gaps = True
                continue
            pts.append(packet.pts)
            if packet.is_keyframe:
                keys.append(packet.pts)
            frame_end = packet.pts + (packet.duration or 0)
            end = frame_end if end is None else max(end, frame_end)
    except av.FFmpegError as error:
        raise InputError(f"{path}: container is corrupt after {len(pts)} frames ({error.strerror})") from None
    return pts, keys, end, gaps


def _decoded_pts(path: Path, container: av.container.InputContainer, stream: av.VideoStream) -> list[int]:
    container.seek(0)
    pts = [frame.pts for frame in container.decode(stream)]
    if None in pts:
        raise InputError(f"{path}: frames without timestamps; remux the file (e.g. to .mkv) and try again")
    return pts


def _duration(pts: list[int], end: int | None, time_base: Fraction) -> float:
    """Where packets carry no durations, the last frame lasts as long as the average one."""
    if (end is None or end <= pts[-1]) and len(pts) > 1:
        end = pts[-1] + (pts[-1] - pts[0]) / (len(pts) - 1)
    return float(((end if end is not None else pts[-1]) - pts[0]) * time_base)


def _frame_rate(stream: av.VideoStream, pts: list[int]) -> Fraction:
    rate = stream.average_rate or stream.guessed_rate
    if rate:
        return Fraction(rate)
    span = (pts[-1] - pts[0]) * stream.time_base
    return (len(pts) - 1) / span if span else Fraction(0)


def frame_times(path: str | Path, stream_index: int) -> FrameTimes:
    """Timestamps of stream `stream_index` of `path`; InputError if it has no frames."""
    path = Path(path)
    with av.open(str(path)) as container:
        stream = container.streams[stream_index]
        pts, keys, end, gaps = _packet_times(path, container, stream)
        if gaps:
            pts, keys, end = _decoded_pts(path, container, stream), [], None
        if not pts:
            raise InputError(f"{path}: the video stream holds no frames")
        pts.sort()
        duration = _duration(pts, end, stream.time_base)
        return FrameTimes(tuple(pts), tuple(sorted(keys)), duration, _frame_rate(stream, pts))
