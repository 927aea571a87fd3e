"""Write small, real video files for tests with PyAV: any codec, pixel format, range, colour tags,
frame size and rate, irregular (VFR) timestamps, keyframe interval, plus audio and subtitle tracks.

Content is given as non-linear R'G'B' in [0, 1], `rgb: (n, h, w, 3)`, and turned into Y'CbCr code
values here with the H.273 equations (written out independently of `hdrtv.model.colour`, so tests
check the library against a second implementation), at the pixel format's bit depth and range.
The 4:4:4 frame is subsampled to the pixel format by FFmpeg's swscale at the same bit depth, told
"full range" on both sides, the setting under which it changes no code value (see decode.py);
flat areas aligned to 16x16 blocks stay exact.

    write_clip(tmp_path / "a.mp4", codec="libx264", pix_fmt="yuv420p", frames=10)
    write_clip(tmp_path / "b.mkv", rgb=flat_patches(...), colorspace="bt470bg", color_range="pc")
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from hdrtv.worker.media.colour_tags import MATRIX, PRIMARIES, RANGE, TRANSFER, tag_code

# Luma weights (Kr, Kb) of ITU-R BT.601, BT.709 and BT.2020.
LUMA_WEIGHTS = {"bt601": (0.299, 0.114), "bt709": (0.2126, 0.0722), "bt2020": (0.2627, 0.0593)}

# Saturated and neutral R'G'B' test colours: red separates BT.601 from BT.709 by ~0.1.
PATCH_COLOURS = ((0.9, 0.1, 0.1), (0.1, 0.8, 0.2), (0.2, 0.3, 0.9), (0.5, 0.5, 0.5))


def ycbcr_codes(rgb: np.ndarray, matrix: str, bit_depth: int, full_range: bool) -> np.ndarray:
    """R'G'B' (..., 3) in [0, 1] -> rounded Y'CbCr code values (..., 3), H.273 section 8.3."""
    kr, kb = LUMA_WEIGHTS[matrix]
    r, g, b = np.moveaxis(np.asarray(rgb, dtype=np.float64), -1, 0)
    y = kr * r + (1 - kr - kb) * g + kb * b
    pb, pr = (b - y) / (2 * (1 - kb)), (r - y) / (2 * (1 - kr))
    top = 2**bit_depth - 1
    if full_range:
        codes = (top * y, top * pb + 2 ** (bit_depth - 1), top * pr + 2 ** (bit_depth - 1))
    else:
        step = 2 ** (bit_depth - 8)
        codes = (step * (219 * y + 16), step * (224 * pb + 128), step * (224 * pr + 128))
    return np.clip(np.floor(np.stack(codes, axis=-1) + 0.5), 0, top)


def moving_pattern(frames: int, height: int, width: int) -> np.ndarray:
    """(frames, h, w, 3) R'G'B': a colour gradient with a bright square moving 3 px a frame, so
    every frame differs from its neighbours and inter-frame coding has motion to find."""
    yy, xx = np.mgrid[0:height, 0:width] / np.array([max(height - 1, 1), max(width - 1, 1)])[:, None, None]
    base = np.stack([0.2 + 0.6 * xx, 0.2 + 0.6 * yy, 0.5 - 0.3 * xx], axis=-1)
    out = np.repeat(base[None], frames, axis=0)
    for i in range(frames):
        top, left = (2 * i) % max(height - 8, 1), (3 * i) % max(width - 8, 1)
        out[i, top : top + 8, left : left + 8] = (0.95, 0.9, 0.85)
    return out


def flat_patches(frames: int, height: int, width: int, colours: Sequence = PATCH_COLOURS) -> np.ndarray:
    """(frames, h, w, 3) R'G'B': vertical bands of flat `colours` (default `PATCH_COLOURS`), band
    edges on multiples of 16 px when `width` allows; `patch_centres` says where to sample them."""
    bounds = _band_bounds(width, len(colours))
    out = np.empty((frames, height, width, 3))
    for (left, right), colour in zip(bounds, colours):
        out[:, :, left:right] = colour
    return out


def patch_centres(height: int, width: int, count: int = len(PATCH_COLOURS)) -> list[tuple[int, int]]:
    """(row, column) at the centre of each band that `flat_patches` draws."""
    return [(height // 2, (left + right) // 2) for left, right in _band_bounds(width, count)]


def _band_bounds(width: int, count: int) -> list[tuple[int, int]]:
    step = width // count if width // count < 16 else (width // count) // 16 * 16
    return [(i * step, width if i == count - 1 else (i + 1) * step) for i in range(count)]


def _yuv444_frame(codes: np.ndarray, bit_depth: int) -> av.VideoFrame:
    """Code values (h, w, 3) -> a planar 4:4:4 frame of that bit depth, stride padding included."""
    height, width = codes.shape[:2]
    name = "yuv444p" if bit_depth == 8 else f"yuv444p{bit_depth}le"
    frame = av.VideoFrame(width, height, name)
    dtype = np.uint8 if bit_depth == 8 else np.dtype("<u2")
    for index, plane in enumerate(frame.planes):
        rows = np.zeros((height, plane.line_size // np.dtype(dtype).itemsize), dtype)
        rows[:, :width] = codes[..., index]
        plane.update(rows.tobytes())
    return frame


def _audio_track(container: av.container.OutputContainer, seconds: float, language: str) -> Callable[[], None]:
    """Add a silent AAC track (stereo, 48 kHz) now; the returned call writes its `seconds` of
    samples once the video is in (every stream must exist before the first packet is written)."""
    stream = container.add_stream("aac", rate=48000, layout="stereo")
    stream.metadata["language"] = language

    def write() -> None:
        samples = 1024
        for i in range(int(seconds * 48000 / samples) + 1):
            frame = av.AudioFrame.from_ndarray(np.zeros((1, 2 * samples), np.int16), format="s16", layout="stereo")
            frame.sample_rate, frame.pts = 48000, i * samples
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))

    return write


def _subtitle_track(container: av.container.OutputContainer, seconds: float, language: str) -> Callable[[], None]:
    """Add a SubRip track with one cue now; the returned call writes it. The cue comes from an
    in-memory .srt file, so its packets are copied and no subtitle encoder is needed."""
    minutes, milliseconds = divmod(max(int(seconds * 1000), 1), 60_000)
    end = f"{minutes // 60:02d}:{minutes % 60:02d}:{milliseconds // 1000:02d},{milliseconds % 1000:03d}"
    cue = f"1\n00:00:00,000 --> {end}\nhello\n"
    source = av.open(io.BytesIO(cue.encode()), format="srt")
    stream = container.add_stream_from_template(source.streams.subtitles[0])
    stream.metadata["language"] = language

    def write() -> None:
        with source:
            for packet in source.demux():
                if packet.size:
                    packet.stream = stream
                    container.mux(packet)

    return write


def write_audio_only(path: str | Path, seconds: float = 0.5, language: str = "eng", cover: bool = False) -> Path:
    """A file with one silent AAC track and no video (`.m4a`, `.mka`, `.mp4` ...); `cover` adds a
    64x64 JPEG cover picture, which FFmpeg lists as a video stream marked `attached_pic`."""
    with av.open(str(path), "w") as container:
        write_audio = _audio_track(container, seconds, language)
        if cover:
            picture = container.add_stream("mjpeg")
            picture.width, picture.height, picture.pix_fmt = 64, 64, "yuvj420p"
            picture.disposition = av.stream.Disposition.attached_pic
            frame = av.VideoFrame.from_ndarray(np.full((64, 64, 3), 128, np.uint8), format="rgb24")
            container.mux(picture.encode(frame.reformat(format="yuvj420p")) + picture.encode(None))
        write_audio()
    return Path(path)


def _video_stream(
    container: av.container.OutputContainer,
    codec: str,
    pix_fmt: str,
    size: tuple[int, int],
    fps: Fraction,
    time_base: Fraction,
    tags: dict[str, str | None],
    gop: int | None,
    options: dict[str, str] | None,
) -> av.VideoStream:
    stream = container.add_stream(codec, rate=fps, options=options or {})
    stream.width, stream.height = size
    stream.pix_fmt = pix_fmt
    stream.time_base = stream.codec_context.time_base = time_base
    context = stream.codec_context
    context.color_range = tag_code(RANGE, tags["color_range"])
    context.color_primaries = tag_code(PRIMARIES, tags["color_primaries"])
    context.color_trc = tag_code(TRANSFER, tags["color_trc"])
    context.colorspace = tag_code(MATRIX, tags["colorspace"])
    if gop is not None:
        context.gop_size = gop
    return stream


def write_clip(
    path: str | Path,
    *,
    codec: str = "libx264",
    pix_fmt: str = "yuv420p",
    width: int = 64,
    height: int = 48,
    frames: int = 10,
    fps: Fraction | int = 25,
    rgb: np.ndarray | None = None,
    matrix: str | None = None,
    color_range: str | None = None,
    color_primaries: str | None = None,
    color_trc: str | None = None,
    colorspace: str | None = None,
    pts: Sequence[int] | None = None,
    time_base: Fraction | None = None,
    gop: int | None = None,
    options: dict[str, str] | None = None,
    audio_language: str | None = None,
    subtitle_language: str | None = None,
) -> Path:
    """Encode a clip at `path` (container from the suffix) and return the path.

    rgb: (frames, height, width, 3) R'G'B' in [0, 1]; default `moving_pattern`.
    matrix: "bt601" / "bt709" / "bt2020" for R'G'B' -> Y'CbCr; default follows `colorspace`
    (BT.709 when untagged). Range is full for color_range="pc" or yuvj formats, else limited.
    Colour tags take FFmpeg's names; None leaves them unspecified.
    pts: presentation times in `time_base` units (default 1/fps), for VFR clips.
    gop: keyframe interval; options: encoder options (e.g. {"qp": "0"} for lossless x264).
    audio_language / subtitle_language: add a silent AAC / a one-cue SubRip track so tagged.
    """
    fps = Fraction(fps)
    time_base = time_base or 1 / fps
    pts = list(pts) if pts is not None else list(range(frames))
    rgb = moving_pattern(frames, height, width) if rgb is None else rgb
    bit_depth = av.VideoFormat(pix_fmt).components[0].bits
    full_range = color_range == "pc" or pix_fmt.startswith("yuvj")
    if matrix is None:
        matrix = {"bt470bg": "bt601", "smpte170m": "bt601", "bt2020nc": "bt2020"}.get(colorspace, "bt709")
    seconds = float((pts[-1] - pts[0]) * time_base + 1 / fps)
    tags = {
        "color_range": color_range,
        "color_primaries": color_primaries,
        "color_trc": color_trc,
        "colorspace": colorspace,
    }
    with av.open(str(path), "w") as container:
        stream = _video_stream(container, codec, pix_fmt, (width, height), fps, time_base, tags, gop, options)
        context = stream.codec_context
        writers = [_audio_track(container, seconds, audio_language)] if audio_language else []
        writers += [_subtitle_track(container, seconds, subtitle_language)] if subtitle_language else []
        for index in range(frames):
            frame = _yuv444_frame(ycbcr_codes(rgb[index], matrix, bit_depth, full_range), bit_depth)
            frame = frame.reformat(format=pix_fmt, src_color_range="JPEG", dst_color_range="JPEG")
            frame.pts, frame.time_base = pts[index], time_base
            frame.color_range, frame.colorspace = context.color_range, context.colorspace
            frame.color_primaries, frame.color_trc = context.color_primaries, context.color_trc
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
        for write in writers:
            write()
    return Path(path)
