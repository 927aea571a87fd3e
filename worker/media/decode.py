"""Decode a video stream into the model's input: full-range BT.709 R'G'B' (a BT.1886 signal).

Each frame goes through three steps, chosen once per stream from its own colour tags (`colour_plan`):

1. Chroma upsampling by FFmpeg's swscale, to planar 4:4:4 *at the stream's own bit depth*, told
   that both sides are full range. Nothing else happens there: luma passes bit-exact, no code
   value is rescaled (swscale widens bit depths inconsistently: a left shift for chroma and for
   4:2:x luma, bit replication for 4:4:4 luma) and no matrix is applied. "Limited" on both sides
   would not do: swscale takes yuvj and gray formats as full range whatever it is told, and then
   converts them; "full" on both sides leaves every format alone (a test checks this).
2. Y'CbCr -> R'G'B' with our `ycbcr_to_rgb`: matrix from `color_space` (untagged: BT.709 for
   HD sizes, BT.601 below, as players guess), range from `color_range` (untagged: limited, except
   JPEG-style yuvj formats).
3. BT.601 (SMPTE C, EBU) and BT.2020 primaries are moved to BT.709 primaries in linear light
   (BT.1886 with L_W = 1, L_B = 0, i.e. a 2.4 power); out-of-gamut colours are clipped there.
   HDR input that the user forced through (`refuse_hdr`) is read as if its signal were SDR.

Frames are identified by their presentation timestamp, never by counting: `decode_frames` seeks
to the keyframe at or before the first wanted frame, drops what precedes it, and checks that
every wanted pts arrives, so a chunk of a long file decodes exactly its own frames.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from itertools import chain

import av
import numpy as np
import torch
from hdrtv.model.colour import bt1886_eotf, bt1886_inverse_eotf, ycbcr_to_rgb
from hdrtv.model.colour.gamut import (
    PRIMARIES_BT2020,
    WHITE_D65,
    XYZ_TO_BT709,
    apply_matrix,
    normalised_primary_matrix,
)

from ..control.errors import InputError
from .probe import VideoInfo

_MATRICES = {"bt709": "bt709", "bt470bg": "bt601", "smpte170m": "bt601", "bt2020nc": "bt2020"}

# (x, y) of red, green, blue for the primaries we convert from; BT.709 (and untagged) stay as is.
_SMPTE_C = ((0.630, 0.340), (0.310, 0.595), (0.155, 0.070))
_PRIMARIES = {
    "smpte170m": _SMPTE_C,
    "smpte240m": _SMPTE_C,
    "bt470bg": ((0.64, 0.33), (0.29, 0.60), (0.15, 0.06)),
    "bt2020": PRIMARIES_BT2020,
}


@dataclass(frozen=True)
class ColourPlan:
    """How a stream's code values become BT.709 R'G'B': Y'CbCr matrix ("bt601", "bt709" or
    "bt2020"), range, bit depth, and the linear-light (3, 3) matrix to BT.709 primaries (None:
    already BT.709)."""

    matrix: str
    full_range: bool
    bit_depth: int
    to_bt709: torch.Tensor | None


def colour_plan(info: VideoInfo) -> ColourPlan:
    """The conversion `decode_frames` applies to `info`'s stream; InputError for tags we cannot honour."""
    if info.color_space is None:
        matrix = "bt709" if info.height >= 720 or info.width >= 1280 else "bt601"
    elif info.color_space in _MATRICES:
        matrix = _MATRICES[info.color_space]
    else:
        raise InputError(
            f"{info.path}: colour matrix {info.color_space} is not supported (BT.601, BT.709, BT.2020 NCL)"
        )
    if info.color_primaries not in (None, "bt709", *_PRIMARIES):
        raise InputError(
            f"{info.path}: colour primaries {info.color_primaries} are not supported (BT.601, BT.709, BT.2020)"
        )
    to_bt709 = None
    if info.color_primaries in _PRIMARIES:
        source = torch.tensor(_PRIMARIES[info.color_primaries], dtype=torch.float64)
        white = torch.tensor(WHITE_D65, dtype=torch.float64)
        to_bt709 = XYZ_TO_BT709 @ normalised_primary_matrix(source, white)
    full_range = info.color_range == "pc" or (info.color_range is None and info.pix_fmt.startswith("yuvj"))
    return ColourPlan(matrix, full_range, info.bit_depth, to_bt709)


def ycbcr_444(frame: av.VideoFrame, plan: ColourPlan) -> torch.Tensor:
    """Frame -> Y'CbCr code values (h, w, 3) float32 at the stream's bit depth, chroma upsampled."""
    name = "yuv444p" if plan.bit_depth == 8 else f"yuv444p{plan.bit_depth}le"
    full = frame.reformat(format=name, src_color_range="JPEG", dst_color_range="JPEG")
    dtype = np.uint8 if plan.bit_depth == 8 else np.dtype("<u2")
    planes = [np.frombuffer(p, dtype).reshape(p.height, -1)[:, : p.width] for p in full.planes]
    return torch.from_numpy(np.stack(planes, axis=-1).astype(np.float32))


def to_bt709_rgb(frame: av.VideoFrame, plan: ColourPlan) -> np.ndarray:
    """One decoded frame -> (h, w, 3) uint16 full-range BT.709 R'G'B' (0..65535)."""
    rgb = ycbcr_to_rgb(ycbcr_444(frame, plan), plan.matrix, plan.bit_depth, plan.full_range).clamp(0.0, 1.0)
    if plan.to_bt709 is not None:
        linear = apply_matrix(plan.to_bt709, bt1886_eotf(rgb, lw=1.0)).clamp(0.0, 1.0)
        rgb = bt1886_inverse_eotf(linear, lw=1.0).clamp(0.0, 1.0)
    return torch.floor(rgb * 65535.0 + 0.5).to(torch.int32).numpy().astype(np.uint16)


def _seek_targets(info: VideoInfo, start: int) -> list[int | None]:
    """Keyframe pts to seek to, nearest first, then None (decode from the top). Indexes that
    seek by dts (MP4) or by byte estimate (MPEG-TS) can land late; the next target is earlier."""
    if start == 0:
        return [None]
    keys = [k for k in info.keyframe_pts if k <= info.frame_pts[start]]
    return [*reversed(keys[-2:]), None]


def _decoded(info: VideoInfo, container: av.container.InputContainer, target: int | None) -> Iterator[av.VideoFrame]:
    """Frames from `target` (a seek) or from the top (None); decoder errors become InputError."""
    stream = container.streams[info.stream_index]
    try:
        if target is not None:
            container.seek(target, stream=stream, backward=True)
        yield from container.decode(stream)
    except av.FFmpegError as error:
        raise InputError(f"{info.path}: cannot decode the video ({getattr(error, 'strerror', error)})") from None


def _in_order(
    info: VideoInfo, plan: ColourPlan, frames: Iterator[av.VideoFrame], start: int, stop: int
) -> Iterator[np.ndarray]:
    """Convert the frames whose pts are `frame_pts[start:stop]`; a wanted pts that never comes
    (a frame the decoder dropped, or a file cut short) is an InputError."""
    wanted = info.frame_pts[start:stop]
    index = 0
    for frame in frames:
        if frame.pts is None or frame.pts > wanted[index]:
            break
        if frame.pts == wanted[index]:
            yield to_bt709_rgb(frame, plan)
            index += 1
            if index == len(wanted):
                return
    raise InputError(f"{info.path}: frame {start + index} (pts {wanted[index]}) cannot be decoded")


def _frames(info: VideoInfo, plan: ColourPlan, start: int, stop: int) -> Iterator[np.ndarray]:
    """Try each seek target until the first frame at or after the wanted one is the wanted one."""
    first_pts = info.frame_pts[start]
    for target in _seek_targets(info, start):
        with av.open(info.path) as container:
            frames = (f for f in _decoded(info, container, target) if f.pts is None or f.pts >= first_pts)
            first = next(frames, None)
            if first is not None and first.pts == first_pts:
                yield from _in_order(info, plan, chain([first], frames), start, stop)
                return
    raise InputError(f"{info.path}: frame {start} (pts {first_pts}) cannot be decoded")


def decode_frames(info: VideoInfo, start: int = 0, stop: int | None = None) -> Iterator[np.ndarray]:
    """Frames `start..stop-1` of the stream `info` describes (indices into `info.frame_pts`), each
    (h, w, 3) uint16 full-range BT.709 R'G'B'. Colour tags are checked now, frames decoded lazily."""
    stop = info.frame_count if stop is None else stop
    if not 0 <= start <= stop <= info.frame_count:
        raise ValueError(f"frames {start}..{stop} are outside 0..{info.frame_count}")
    plan = colour_plan(info)
    return iter(()) if start == stop else _frames(info, plan, start, stop)
