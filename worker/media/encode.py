"""Encode one chunk of HDR frames: HEVC Main 10, 4:2:0, in an output format (HDR10 by default).

Encoders: libx265 (the default, on the CPU's cores) or hevc_nvenc (NVIDIA's hardware encoder, on
GPUs that have one: an H100 has none). Both get the format's colour description (VUI) from the
codec context, and the format's SEI (`OutputFormat.chunk_sei`), added here to every IRAP access
unit by `hevc_sei.add_prefix_sei` (FFmpeg gives NVENC no option for it; x265 gets the same bytes
by the same route, so one tested path serves both).

The model gives `(h, w, 3)` float32 PQ-coded BT.2020 R'G'B' in [0, 1]. They become Y'CbCr code
values with `rgb_to_ycbcr` (BT.2020 non-constant luminance, 10-bit, limited range), then 4:2:0:
chroma is sited as chroma_sample_loc_type 0 ("left": co-sited with even luma columns, half-way
between luma rows), what HEVC decoders assume when nothing is signalled; we signal it anyway.
Horizontally a [1, 2, 1] / 4 filter centred on each even column (edges repeated), vertically the
average of the two rows; rounding to integer codes happens once, after filtering.

Each chunk is its own encoder session, so it starts with an IDR picture and references nothing
before it: chunks concatenate. The chunk is an MP4 file whatever its name, because MP4 keeps the
source time base exactly (Matroska would round timestamps to milliseconds). An HDR10 bitstream
carries the mastering display and a placeholder content light level (0, 0: "unknown") as SEI; the
assembly writes the whole video's values there once all chunks are measured (`hevc_sei`).
The encoder's `crf` is x265's CRF, or NVENC's constant-quality target (`cq`, VBR, same 0..51
QP scale); its `preset` an x265 preset, mapped to NVENC's p1..p7 by speed (or given as p1..p7).
"""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path
from types import TracebackType

import av
import numpy as np
import torch
from hdrtv.model.colour import quantise, rgb_to_ycbcr

from ..control.errors import InputError
from ..control.options import ENCODERS
from ..formats.hdr10 import HDR10
from ..formats.output_format import OutputFormat
from ..formats.static_metadata import MasteringDisplay
from .hevc_sei import add_prefix_sei, join_annex_b, split_annex_b
from .light_level import LightLevelMeter

_NVENC_PRESETS = {  # x265's presets (`options.X265_PRESETS`, a test ties them) -> NVENC's of the same speed
    "ultrafast": "p1",
    "superfast": "p1",
    "veryfast": "p2",
    "faster": "p3",
    "fast": "p4",
    "medium": "p5",
    "slow": "p6",
    "slower": "p7",
    "veryslow": "p7",
    "placebo": "p7",
}
_NVENC_PIXEL_FORMAT = "p010le"  # NVENC takes 10-bit 4:2:0 as P010 only, not planar yuv420p10le


def nvenc_preset(preset: str) -> str:
    """An x265 preset name or p1..p7 -> NVENC's preset (p1 fastest, p7 best)."""
    if preset in _NVENC_PRESETS.values():
        return preset
    if preset not in _NVENC_PRESETS:
        raise InputError(f"unknown preset {preset!r} for hevc_nvenc: use an x265 preset name or p1..p7")
    return _NVENC_PRESETS[preset]


def check_encoder(encoder: str) -> None:
    """Refuse, in one line, an encoder this build or this machine cannot run (before any work)."""
    if encoder not in ENCODERS:
        raise InputError(f"unknown encoder {encoder!r}; choose from {', '.join(ENCODERS)}")
    if encoder == "libx265":
        return
    context = av.CodecContext.create(encoder, "w")
    context.width, context.height, context.pix_fmt = 256, 256, _NVENC_PIXEL_FORMAT
    context.time_base = Fraction(1, 25)
    try:
        context.open()
    except av.FFmpegError as error:
        raise InputError(
            f"encoder {encoder} cannot start on this machine ({error.strerror}): it needs an NVIDIA GPU "
            "with NVENC and the NVIDIA driver; use libx265"
        ) from None


def available_cores() -> int:
    """CPU cores this process may run on (respects affinity and container CPU sets)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def chroma_420(plane: torch.Tensor) -> torch.Tensor:
    """Chroma (h, w) -> (h/2, w/2), left-sited: [1, 2, 1]/4 at even columns, then row pairs averaged."""
    padded = torch.cat([plane[:, :1], plane, plane[:, -1:]], dim=1)
    even = padded[:, 0:-2:2] * 0.25 + padded[:, 1:-1:2] * 0.5 + padded[:, 2::2] * 0.25
    return (even[0::2] + even[1::2]) * 0.5


def to_yuv420p10(rgb: np.ndarray | torch.Tensor) -> np.ndarray:
    """PQ BT.2020 R'G'B' (h, w, 3) in [0, 1] -> I420 uint16 (3h/2, w): Y rows, then Cb, then Cr."""
    codes = rgb_to_ycbcr(torch.as_tensor(rgb, dtype=torch.float32).clamp(0.0, 1.0), "bt2020", 10)
    luma = quantise(codes[..., 0])
    cb, cr = (quantise(chroma_420(codes[..., c])) for c in (1, 2))
    h, w = luma.shape
    chroma = torch.cat([cb.reshape(-1), cr.reshape(-1)]).reshape(h // 2, w)
    return torch.cat([luma, chroma]).to(torch.int32).cpu().numpy().astype(np.uint16)


def _even(size: int) -> int:
    return size + size % 2


def _pad_to_even(frame: np.ndarray | torch.Tensor) -> np.ndarray | torch.Tensor:
    """(h, w, 3) -> (even h, even w, 3), repeating the last row / column where one is missing."""
    height, width = frame.shape[:2]
    if height % 2 == 0 and width % 2 == 0:
        return frame
    rows = torch.as_tensor(frame)
    rows = torch.cat([rows, rows[-1:]]) if height % 2 else rows
    return torch.cat([rows, rows[:, -1:]], dim=1) if width % 2 else rows


# No encoder delay comes near this many ticks (6.6 hours at 90 kHz): a dts this far before its pts
# was never set.
_MAX_DTS_DELAY = 2**31


def _dts_repair(first: av.Packet) -> int:
    """The shift that makes a chunk's decode timestamps valid, from its first packet.

    libx265 (through FFmpeg) leaves the dts of a one- or two-frame stream unset: the first packet
    arrives with a dts of about -4.9e18 and the next ones at the same offset (seen with x265 4.2),
    which the MP4 muxer refuses. Their differences are still right, so the whole chunk moves to
    start one tick before its first pts, as a real one-frame reorder delay would.
    """
    if first.dts is None or 0 <= first.pts - first.dts <= _MAX_DTS_DELAY:
        return 0
    return first.pts - 1 - first.dts


class HevcChunkEncoder:
    """Context manager writing HDR frames with their source timestamps to an MP4 chunk.

    `time_base` is the source video stream's; `frame_rate` its average rate (x265 plans rate
    control and the VUI timing with it; timestamps stay those given). `threads` sizes x265's
    thread pool (default: all cores available to the process; x265 derives frame threads from
    it). `encoder`: one of `ENCODERS`, refused in one line where it cannot run. `output_format`
    gives the colour description and the SEI, from `mastering`. `meter` measures every frame
    written, for the chunk's light-level report.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        width: int,
        height: int,
        time_base: Fraction,
        frame_rate: Fraction,
        *,
        crf: float = 18.0,
        preset: str = "medium",
        mastering: MasteringDisplay = MasteringDisplay(),
        threads: int | None = None,
        encoder: str = "libx265",
        output_format: OutputFormat = HDR10,
    ) -> None:
        check_encoder(encoder)
        self.path = Path(path)
        self.encoder = encoder
        self.output_format = output_format
        self._sei = list(output_format.chunk_sei(mastering).items())  # of every IRAP picture
        self.meter = LightLevelMeter()
        self._size = (height, width)
        self._durations: dict[int, int] = {}
        self._last_pts: int | None = None
        self._last_duration = 0
        self._held: av.Packet | None = None
        self._dts_shift: int | None = None
        self._container = av.open(str(self.path), "w", format="mp4")
        try:
            self._stream = self._add_stream(time_base, frame_rate, crf, preset, threads)
        except BaseException:
            self._container.close()
            raise

    def _add_stream(
        self,
        time_base: Fraction,
        frame_rate: Fraction,
        crf: float,
        preset: str,
        threads: int | None,
    ) -> av.VideoStream:
        stream = self._container.add_stream(self.encoder)
        # 4:2:0 HEVC codes even sizes only (its cropping window moves in steps of 2 samples), so an
        # odd frame gains a replicated last row or column.
        stream.width, stream.height = _even(self._size[1]), _even(self._size[0])
        stream.pix_fmt = "yuv420p10le" if self.encoder == "libx265" else _NVENC_PIXEL_FORMAT
        stream.time_base = time_base
        context = stream.codec_context
        context.time_base, context.framerate = time_base, frame_rate
        colour = self.output_format.colour
        context.color_primaries, context.color_trc = colour.primaries, colour.transfer
        context.colorspace, context.color_range = colour.matrix, colour.range
        if self.encoder == "hevc_nvenc":
            stream.options = {
                "profile": "main10",
                "preset": nvenc_preset(preset),
                "tune": "hq",
                "rc": "vbr",
                "cq": f"{crf:g}",
                "b": "0",  # no bitrate cap: quality-driven, as x265's CRF
            }
            return stream
        params = [
            "log-level=error",
            "info=0",  # its settings text would show the placeholder light level
            f"pools={threads or available_cores()}",
            "repeat-headers=1",
            *colour.x265_params(),
            "chromaloc=0",
        ]
        stream.options = {"crf": f"{crf:g}", "preset": preset, "x265-params": ":".join(params)}
        return stream

    def write(self, frame: np.ndarray | torch.Tensor, pts: int, duration: int = 0) -> None:
        """Encode one frame `(h, w, 3)` PQ R'G'B' with its source `pts` (and `duration`, if known),
        both in `time_base` units. Timestamps must increase."""
        if tuple(frame.shape) != (*self._size, 3):
            raise ValueError(f"expected a frame of shape {(*self._size, 3)}, got {tuple(frame.shape)}")
        if self._last_pts is not None and pts <= self._last_pts:
            raise ValueError(f"pts must increase: {pts} after {self._last_pts}")
        self._last_pts, self._last_duration = pts, duration
        self.meter.add(frame)
        video = av.VideoFrame.from_ndarray(to_yuv420p10(_pad_to_even(frame)), format="yuv420p10le")
        if self._stream.pix_fmt != "yuv420p10le":
            video = video.reformat(format=self._stream.pix_fmt)  # a lossless repacking
        video.pts, video.time_base = pts, self._stream.time_base
        self._durations[pts] = duration
        self._mux(self._stream.encode(video))

    def _mux(self, packets: list[av.Packet]) -> None:
        # libx265 drops frame durations: put them back. The packet decoded last is held back so
        # that `close` can make it end where the chunk's last frame ends, the one place an MP4
        # keeps a sample duration exactly; the assembly reads the last frame's duration there.
        for packet in packets:
            if packet.is_keyframe and self._sei:
                packet = self._with_sei(packet)
            packet.duration = self._durations.pop(packet.pts, 0)
            if self._dts_shift is None:
                self._dts_shift = _dts_repair(packet)
            if self._dts_shift and packet.dts is not None:
                packet.dts += self._dts_shift
            if self._held is not None:
                self._container.mux(self._held)
            self._held = packet

    def _with_sei(self, packet: av.Packet) -> av.Packet:
        """The encoder's packet (Annex B) with the format's SEI before its picture."""
        data = join_annex_b(add_prefix_sei(split_annex_b(bytes(packet)), self._sei))
        copy = av.Packet(data)
        copy.pts, copy.dts, copy.time_base = packet.pts, packet.dts, packet.time_base
        copy.is_keyframe, copy.stream = True, self._stream
        return copy

    def close(self) -> None:
        """Flush the encoder and finish the file."""
        if self._container is None:
            return
        try:
            self._mux(self._stream.encode(None))
            if self._held is not None:
                if self._last_duration > 0:
                    self._held.duration = self._last_pts + self._last_duration - self._held.pts
                self._container.mux(self._held)
        finally:
            self._container.close()
            self._container = None

    def __enter__(self) -> HevcChunkEncoder:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        """Finish the chunk, or delete it if the block or the flush failed: no half chunks."""
        if kind is not None:
            self._abandon()
            return
        try:
            self.close()
        except BaseException:
            self._abandon()
            raise

    def _abandon(self) -> None:
        if self._container is not None:
            self._container.close()
            self._container = None
        self.path.unlink(missing_ok=True)
