"""The non-model stages of `hdrtv bench`, each timed alone over the same frames.

What each stage includes (the pieces decode.py and encode.py expose; no private code is copied):

- decode: demuxing and H.264 decoding by PyAV, then chroma upsampling to 4:4:4 float32 Y'CbCr
  (`ycbcr_444`: swscale and the copy to a tensor);
- colour: our conversions, both ends: Y'CbCr -> R'G'B' (`ycbcr_to_rgb` with the stream's
  `colour_plan`, clamped; the demo clip is BT.709, so `to_bt709_rgb`'s primaries step does not
  run, and its rounding to uint16 is skipped: the model takes the float frames) and PQ R'G'B' ->
  10-bit 4:2:0 Y'CbCr (`to_yuv420p10`);
- encode: `HevcChunkEncoder` writing the chunk (x265, light-level metering, muxing, flush), less
  the `to_yuv420p10` time it also contains, which the colour stage counts;
- upload: `ObjectStore.upload` of the encoded chunk; to a `file://` object in a scratch folder
  (a local copy, standing in for S3) unless an `s3://` (or `file://`) prefix is given.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import av
from hdrtv.model.colour import ycbcr_to_rgb
from torch import Tensor

from ..control.settings import get_settings
from ..control.storage import ObjectStore
from ..media.decode import colour_plan, ycbcr_444
from ..media.encode import HevcChunkEncoder, to_yuv420p10
from ..media.probe import VideoInfo

T = TypeVar("T")


@dataclass(frozen=True)
class StageSpeed:
    stage: str
    frames: int
    seconds: float
    frames_per_second: float
    megapixels_per_second: float


def stage_speed(stage: str, frames: int, pixels: int, seconds: float) -> StageSpeed:
    return StageSpeed(stage, frames, seconds, frames / seconds, frames * pixels / seconds / 1e6)


def clocked(work: Callable[[], T]) -> tuple[T, float]:
    """`work()` and the wall seconds it took."""
    started = time.perf_counter()
    result = work()
    return result, time.perf_counter() - started


def decode_444(info: VideoInfo) -> tuple[list[Tensor], float]:
    """Every frame of the stream as 4:4:4 Y'CbCr code values, and the seconds it took."""
    plan = colour_plan(info)

    def work() -> list[Tensor]:
        with av.open(info.path) as container:
            return [ycbcr_444(frame, plan) for frame in container.decode(container.streams[info.stream_index])]

    return clocked(work)


def ycbcr_to_model_input(info: VideoInfo, ycbcr: list[Tensor]) -> tuple[list[Tensor], float]:
    """4:4:4 Y'CbCr -> BT.709 R'G'B' float frames in [0, 1] (the model's input), and the seconds."""
    plan = colour_plan(info)
    return clocked(lambda: [ycbcr_to_rgb(f, plan.matrix, plan.bit_depth, plan.full_range).clamp(0, 1) for f in ycbcr])


def yuv420p10_seconds(hdr: list[Tensor]) -> float:
    """Seconds of `to_yuv420p10` over the HDR frames: the encode side's colour conversion."""
    return clocked(lambda: [to_yuv420p10(frame) for frame in hdr])[1]


def encode_seconds(info: VideoInfo, hdr: list[Tensor], path: Path, preset: str, encoder: str = "libx265") -> float:
    """Seconds to write `hdr` as an HDR10 chunk at `path`, with the source's timestamps."""

    def work() -> None:
        timing = (info.time_base, info.frame_rate)
        with HevcChunkEncoder(path, info.width, info.height, *timing, preset=preset, encoder=encoder) as out:
            for pts, frame in zip(info.frame_pts, hdr, strict=True):
                out.write(frame, pts=pts)

    return clocked(work)[1]


def upload_seconds(path: Path, prefix: str) -> tuple[str, float]:
    """Seconds to upload `path` under `prefix` (an s3:// or file:// URI); the object is deleted after."""
    store = ObjectStore.from_settings(get_settings().model_copy(update={"allow_file_uris": True}))
    uri = f"{prefix.rstrip('/')}/{path.name}"
    try:
        return uri, clocked(lambda: store.upload(path, uri))[1]
    finally:
        store.delete(uri)
