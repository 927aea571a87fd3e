"""An H.264 round trip of SDR frames, so training inputs carry real compression artefacts.

Real SDR sources reach the converter as 8-bit 4:2:0 H.264; training only on clean SDR would leave
the network unprepared for blocking, ringing and chroma loss. Frames go the way a broadcast or
web encode sends them: full-range BT.709 R'G'B' -> BT.709 limited-range 8-bit Y'CbCr with our
`rgb_to_ycbcr`; chroma to 4:2:0 with the encoder's own `chroma_420` (left-sited [1, 2, 1] / 4
horizontally, row pairs averaged); libx264 at the given CRF and preset into an in-memory MP4;
decode; chroma back to 4:4:4 by swscale's bilinear scaler (PyAV's default) through the decoder's
`ycbcr_444`; `ycbcr_to_rgb`, clipped to [0, 1] and rounded to 8 bits. Odd heights or widths are
refused (4:2:0 needs even sizes; padding would add edges the source never had).
"""

from __future__ import annotations

import io
from fractions import Fraction

import av
import numpy as np
import torch
from hdrtv.model.colour import quantise, rgb_to_ycbcr, ycbcr_to_rgb

from ..media.decode import ColourPlan, ycbcr_444
from ..media.encode import chroma_420

# H.273 code points: BT.709 primaries, transfer and matrix; limited range.
_BT709, _LIMITED_RANGE = 1, 1
_PLAN = ColourPlan(matrix="bt709", full_range=False, bit_depth=8, to_bt709=None)


def _to_yuv420p(rgb: np.ndarray) -> np.ndarray:
    """Full-range BT.709 R'G'B' (h, w, 3) uint8 -> I420 uint8 (3h/2, w): Y rows, then Cb, then Cr."""
    codes = rgb_to_ycbcr(torch.from_numpy(rgb).to(torch.float32) / 255.0, "bt709", 8)
    luma = quantise(codes[..., 0], 8)
    cb, cr = (quantise(chroma_420(codes[..., c]), 8) for c in (1, 2))
    h, w = luma.shape
    chroma = torch.cat([cb.reshape(-1), cr.reshape(-1)]).reshape(h // 2, w)
    return torch.cat([luma, chroma]).to(torch.uint8).numpy()


def _to_rgb(frame: av.VideoFrame) -> np.ndarray:
    """A decoded 8-bit limited-range BT.709 frame -> full-range R'G'B' (h, w, 3) uint8."""
    rgb = ycbcr_to_rgb(ycbcr_444(frame, _PLAN), "bt709", 8).clamp(0.0, 1.0)
    return torch.floor(rgb * 255.0 + 0.5).to(torch.uint8).numpy()


def h264_roundtrip(sdr: np.ndarray, crf: int, preset: str = "medium") -> np.ndarray:
    """SDR frames (t, h, w, 3) uint8, full-range BT.709 R'G'B' -> the same frames after an 8-bit
    4:2:0 libx264 encode at `crf` and a decode, (t, h, w, 3) uint8. All in memory."""
    if sdr.ndim != 4 or sdr.shape[-1] != 3 or sdr.dtype != np.uint8:
        raise ValueError(f"expected (t, h, w, 3) uint8 frames, got {sdr.shape} {sdr.dtype}")
    frames, height, width = sdr.shape[:3]
    if height % 2 or width % 2:
        raise ValueError(f"4:2:0 needs even frame sizes, got {height}x{width}")
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.time_base = Fraction(1, 25)
        stream.options = {"crf": str(crf), "preset": preset}
        context = stream.codec_context
        context.color_primaries = context.color_trc = context.colorspace = _BT709
        context.color_range = _LIMITED_RANGE
        for index in range(frames):
            frame = av.VideoFrame.from_ndarray(_to_yuv420p(sdr[index]), format="yuv420p")
            frame.pts = index
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    buffer.seek(0)
    with av.open(buffer, mode="r") as container:
        decoded = [_to_rgb(frame) for frame in container.decode(video=0)]
    if len(decoded) != frames:
        raise RuntimeError(f"H.264 round trip returned {len(decoded)} frames for {frames}")
    return np.stack(decoded)
