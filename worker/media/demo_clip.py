"""The embedded default input: a small SDR clip the project makes itself.

Two shots with a hard cut between them, both moving (a pan over a sunset-like sky with a bright
sun and clouds; coloured bars and a disc sliding across a dark studio), plus a stereo AAC tone,
encoded as H.264 4:2:0, BT.709 tagged, limited range, in MP4: what an SDR catalogue file looks
like. It exercises what conversion must get right: highlights to expand, saturated colours to
map into BT.2020, a scene cut that windows must not cross, motion, and audio to carry over.
"""

from __future__ import annotations

from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import torch
from hdrtv.model.colour import quantise, rgb_to_ycbcr

WIDTH, HEIGHT = 640, 360  # the design size; other sizes scale the drawing
FPS = 24
SHOT_FRAMES = (30, 30)
AUDIO_RATE = 48000


def _sky(t: int, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """Shot 1, frame t: a warm sky gradient panning right with a clipped sun and soft clouds.
    xs, ys: (h, w) pixel coordinates scaled to the 640 x 360 design."""
    x = xs + 3.0 * t
    horizon = np.clip(ys / HEIGHT, 0, 1)[..., None]
    sky = (1 - horizon) * np.array([0.25, 0.45, 0.85]) + horizon * np.array([0.95, 0.6, 0.3])
    sun = np.exp(-(((x - 420) ** 2 + (ys - 150) ** 2) / (2 * 30.0**2)))[..., None]
    clouds = 0.15 * (np.sin(x / 37.0) * np.sin(ys / 23.0 + x / 91.0))[..., None]
    ground = (ys > 0.78 * HEIGHT)[..., None] * np.array([-0.6, -0.45, -0.3])
    return np.clip(sky + 1.5 * sun + clouds + ground, 0, 1)


def _studio(t: int, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """Shot 2, frame t: saturated bars sliding left and a white disc moving over a dark set."""
    bars = np.array([[0.9, 0.1, 0.1], [0.1, 0.8, 0.2], [0.1, 0.2, 0.9], [0.9, 0.8, 0.1], [0.8, 0.2, 0.8]])
    index = (((xs + 5.0 * t) // 80).astype(int)) % len(bars)
    frame = np.where((ys < 0.45 * HEIGHT)[..., None], bars[index], 0.06)
    disc = ((xs - 100 - 8.0 * t) ** 2 + (ys - 260) ** 2) < 40.0**2
    return np.where(disc[..., None], 0.97, frame)


def demo_frames(
    width: int = WIDTH, height: int = HEIGHT, shot_frames: tuple[int, int] = SHOT_FRAMES
) -> Iterator[np.ndarray]:
    """The clip's frames, (height, width, 3) float64 BT.709 R'G'B' in [0, 1], drawn at any size."""
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float64)
    xs, ys = xs * (WIDTH / width), ys * (HEIGHT / height)
    yield from (_sky(t, xs, ys) for t in range(shot_frames[0]))
    yield from (_studio(t, xs, ys) for t in range(shot_frames[1]))


def _yuv420_frame(rgb: np.ndarray) -> av.VideoFrame:
    """(h, w, 3) R'G'B' in [0, 1], h and w even -> an 8-bit limited-range BT.709 yuv420p frame
    (2 x 2 chroma mean)."""
    height, width = rgb.shape[:2]
    ycbcr = quantise(rgb_to_ycbcr(torch.from_numpy(rgb), "bt709", bit_depth=8), bit_depth=8).numpy()
    chroma = ycbcr[..., 1:].reshape(height // 2, 2, width // 2, 2, 2).mean(axis=(1, 3)).round()
    planes = np.concatenate([ycbcr[..., 0].ravel(), chroma[..., 0].ravel(), chroma[..., 1].ravel()])
    return av.VideoFrame.from_ndarray(planes.astype(np.uint8).reshape(height * 3 // 2, width), format="yuv420p")


def write_demo_clip(
    path: str | Path, width: int = WIDTH, height: int = HEIGHT, shot_frames: tuple[int, int] = SHOT_FRAMES
) -> Path:
    """Write the demo clip (default: 60 frames, 2.5 s, 640x360, H.264 + AAC) to `path`; the
    benchmark draws it at other sizes and lengths. Returns the path."""
    if width % 2 or height % 2:
        raise ValueError(f"the demo clip needs an even size, got {width}x{height}")
    path = Path(path)
    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=FPS)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        context = video.codec_context
        context.color_primaries, context.color_trc, context.colorspace, context.color_range = 1, 1, 1, 1
        video.options = {"crf": "18", "preset": "medium", "x264-params": "keyint=48"}
        audio = container.add_stream("aac", rate=AUDIO_RATE, layout="stereo")
        for index, rgb in enumerate(demo_frames(width, height, shot_frames)):
            frame = _yuv420_frame(rgb)
            frame.pts, frame.time_base = index, Fraction(1, FPS)
            container.mux(video.encode(frame))
        container.mux(video.encode())
        _write_tone(container, audio, seconds=sum(shot_frames) / FPS)
    return path


def _write_tone(container: av.container.OutputContainer, stream: av.AudioStream, seconds: float) -> None:
    """A 440 Hz / 660 Hz stereo tone (-12 dBFS) of `seconds`, in 1024-sample frames."""
    total = round(seconds * AUDIO_RATE)
    t = np.arange(total) / AUDIO_RATE
    tone = 0.25 * np.stack([np.sin(2 * np.pi * 440 * t), np.sin(2 * np.pi * 660 * t)]).astype(np.float32)
    for start in range(0, total, 1024):
        frame = av.AudioFrame.from_ndarray(
            np.ascontiguousarray(tone[:, start : start + 1024]), format="fltp", layout="stereo"
        )
        frame.sample_rate, frame.pts = AUDIO_RATE, start
        container.mux(stream.encode(frame))
    container.mux(stream.encode())
