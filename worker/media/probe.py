"""What a video file holds, learned before any conversion starts, and the checks that turn a bad
file into one clear `InputError` instead of a failure deep inside a job.

`probe` decodes the first video frame (proof that the stream decodes; it gives the pixel format
and the HDR side data) and gathers every frame's timestamp from the packets (`frame_times`).
Colour tags are the stream's, by FFmpeg's names, as `ffprobe -show_streams` reports them.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av

from ..control.errors import InputError
from ..formats.static_metadata import ContentLightLevel, MasteringDisplay
from .colour_tags import HDR_TRANSFERS, MATRIX, PRIMARIES, RANGE, TRANSFER, tag_name
from .frame_times import frame_times
from .hdr_side_data import static_metadata

MIN_SIZE = 16
# FFmpeg's decoders of text-mode art (ANSI, BIN, XBIN, iCEDraw): they draw a text file (.nfo,
# .asc, .ans ...) as a paletted picture, which would otherwise be refused as "pal8 is RGB".
_TEXT_CODECS = frozenset({"ansi", "bintext", "xbin", "idf"})
_UNDECODABLE = "first video frame cannot be decoded; truncated or corrupt file"

# Chroma plane subsampling (horizontal, vertical) -> J:a:b notation.
_SUBSAMPLING = {(1, 1): "4:4:4", (2, 1): "4:2:2", (2, 2): "4:2:0", (4, 1): "4:1:1", (1, 2): "4:4:0", (4, 4): "4:1:0"}


@dataclass(frozen=True)
class AudioTrack:
    """An audio stream the output should carry over: index in the file, codec, ISO 639 language."""

    index: int
    codec: str
    language: str | None
    channels: int
    sample_rate: int


@dataclass(frozen=True)
class SubtitleTrack:
    """A subtitle stream the output should carry over."""

    index: int
    codec: str
    language: str | None


@dataclass(frozen=True)
class VideoInfo:
    """One video stream of a file and what travels with it. Timestamps are in `time_base` units;
    `frame_pts` lists every frame in presentation order, so frame i of the stream is the frame
    whose pts is `frame_pts[i]`. Colour tags are None where the stream leaves them unspecified."""

    path: str
    container: str  # FFmpeg's demuxer name, e.g. "matroska,webm"
    stream_index: int  # of the video stream within the file
    codec: str  # as ffprobe's codec_name: "h264", "hevc", "av1", "prores" ...
    profile: str | None
    width: int
    height: int
    pix_fmt: str
    bit_depth: int
    chroma_subsampling: str  # "4:2:0", "4:2:2", "4:4:4"; "4:0:0" for monochrome
    frame_rate: Fraction  # average
    time_base: Fraction
    duration: float  # seconds, first frame to the end of the last
    frame_count: int
    frame_pts: tuple[int, ...]
    keyframe_pts: tuple[int, ...]  # where a seek may start; empty if the container cannot say
    color_primaries: str | None
    color_transfer: str | None
    color_space: str | None  # the Y'CbCr matrix
    color_range: str | None  # "tv" (limited) or "pc" (full)
    mastering_display: MasteringDisplay | None
    content_light: ContentLightLevel | None
    audio: tuple[AudioTrack, ...]
    subtitles: tuple[SubtitleTrack, ...]

    @property
    def is_hdr(self) -> bool:
        """True for PQ (smpte2084) or HLG (arib-std-b67) transfer."""
        return self.color_transfer in HDR_TRANSFERS

    def to_dict(self) -> dict[str, Any]:
        """A dict `json.dumps` takes as is: fractions as "num/den" strings, as ffprobe writes them."""
        out = dataclasses.asdict(self)
        for name in ("frame_rate", "time_base"):
            out[name] = f"{out[name].numerator}/{out[name].denominator}"
        out["is_hdr"] = self.is_hdr
        return out


def refuse_hdr(info: VideoInfo, force: bool = False) -> None:
    """Raise for HDR input (converting it again would apply SDR->HDR twice) unless `force`."""
    if info.is_hdr and not force:
        kind = HDR_TRANSFERS[info.color_transfer]
        raise InputError(f"{info.path}: already HDR ({kind}); use --force to convert anyway")


def _check_file(path: Path) -> None:
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if not path.is_file():
        raise InputError(f"{path}: not a regular file")
    if path.stat().st_size == 0:
        raise InputError(f"{path}: empty file (0 bytes)")


def _open(path: Path) -> av.container.InputContainer:
    try:
        return av.open(str(path))
    except (av.FFmpegError, UnicodeDecodeError) as error:
        raise InputError(f"{path}: not a media file FFmpeg can read, or a damaged one ({_reason(error)})") from None


def _reason(error: Exception) -> str:
    return getattr(error, "strerror", None) or str(error).splitlines()[0]


def _video_stream(path: Path, container: av.container.InputContainer) -> av.VideoStream:
    """The first video stream that is not a cover picture (music files list those as video)."""
    for stream in container.streams.video:
        if not stream.disposition & av.stream.Disposition.attached_pic:
            return stream
    what = "audio only" if container.streams.audio else "no audio either"
    raise InputError(f"{path}: no video stream ({what})")


def _first_frame(path: Path, container: av.container.InputContainer, stream: av.VideoStream) -> av.VideoFrame:
    """Decode the first frame; a file whose first frame will not decode is truncated or corrupt."""
    try:
        for frame in container.decode(stream):
            return frame
    except av.FFmpegError as error:
        raise InputError(f"{path}: {_UNDECODABLE} ({_reason(error)})") from None
    raise InputError(f"{path}: {_UNDECODABLE}")


def _subsampling(pix_fmt: av.VideoFormat) -> str:
    chroma = [c for c in pix_fmt.components if c.is_chroma]
    if not chroma:
        return "4:0:0"
    luma = pix_fmt.components[0]
    ratio = (-(-luma.width // chroma[0].width), -(-luma.height // chroma[0].height))
    return _SUBSAMPLING.get(ratio, f"{ratio[0]}x{ratio[1]}")


def _tracks(container: av.container.InputContainer) -> tuple[tuple[AudioTrack, ...], tuple[SubtitleTrack, ...]]:
    """Audio and subtitle streams; codec names as ffprobe's codec_name ("aac", "subrip")."""
    audio = tuple(
        AudioTrack(
            a.index,
            a.codec_context.codec.canonical_name,
            a.metadata.get("language"),
            a.codec_context.channels,
            a.codec_context.sample_rate,
        )
        for a in container.streams.audio
    )
    subtitles = tuple(
        SubtitleTrack(t.index, t.codec_context.codec.canonical_name, t.metadata.get("language"))
        for t in container.streams.subtitles
    )
    return audio, subtitles


def _tag(table: dict[int, str], stream_code: int, frame_code: int) -> str | None:
    """The stream's tag (what ffprobe reports), else the first frame's (some decoders set only that)."""
    return tag_name(table, stream_code) or tag_name(table, frame_code)


def probe(path: str | Path) -> VideoInfo:
    """Describe the first video stream of `path`; InputError (one line) for anything we cannot convert."""
    path = Path(path)
    _check_file(path)
    with _open(path) as container:
        stream = _video_stream(path, container)
        if stream.codec_context.codec.name in _TEXT_CODECS:
            art = stream.codec_context.codec.long_name
            raise InputError(f"{path}: not a video but a text file (FFmpeg would draw it as {art})")
        frame = _first_frame(path, container, stream)
        context = stream.codec_context
        size = f"{frame.width}x{frame.height}"
        if frame.width < MIN_SIZE or frame.height < MIN_SIZE:
            raise InputError(f"{path}: frame size {size} is below the minimum {MIN_SIZE}x{MIN_SIZE}")
        if frame.format.is_rgb or frame.format.has_palette:
            raise InputError(f"{path}: pixel format {frame.format.name} is RGB; only Y'CbCr video is supported")
        times = frame_times(path, stream.index)
        mastering, light = static_metadata(frame)
        audio, subtitles = _tracks(container)
        return VideoInfo(
            path=str(path),
            container=container.format.name,
            stream_index=stream.index,
            codec=context.codec.canonical_name,
            profile=stream.profile,
            width=frame.width,
            height=frame.height,
            pix_fmt=frame.format.name,
            bit_depth=frame.format.components[0].bits,
            chroma_subsampling=_subsampling(frame.format),
            frame_rate=times.frame_rate,
            time_base=Fraction(stream.time_base),
            duration=times.duration,
            frame_count=len(times.pts),
            frame_pts=times.pts,
            keyframe_pts=times.keyframe_pts,
            color_primaries=_tag(PRIMARIES, context.color_primaries, frame.color_primaries),
            color_transfer=_tag(TRANSFER, context.color_trc, frame.color_trc),
            color_space=_tag(MATRIX, context.colorspace, frame.colorspace),
            color_range=_tag(RANGE, context.color_range, frame.color_range),
            mastering_display=mastering,
            content_light=light,
            audio=audio,
            subtitles=subtitles,
        )
