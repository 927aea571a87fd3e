"""Shot-boundary (hard cut) detection on frames we have already decoded.

Why: a temporal window must never mix two shots, and chunks prefer to start at cuts.

Library: PySceneDetect (package `scenedetect-headless`, the `scenedetect` module built on
opencv-python-headless). Its detectors take one frame at a time through
`SceneDetector.process_frame(timecode, bgr_uint8)`: numpy in, no second decode, no file I/O, no
randomness, so we stream our decoder's frames into it. We use `ContentDetector` (its default:
mean change of hue, saturation and value between consecutive frames) because it answers for the
frame just given; `AdaptiveDetector` and the `MERGE` flash filter report cuts frames late, which
`push(frame) -> bool` cannot say. Its detector interface is marked unstable until 1.0, hence the
0.7.x pin in pyproject.toml.

Threshold: the score is that mean absolute change per pixel on the 8-bit scale (0..255).
Default 27, PySceneDetect's own. On synthetic shots with natural (1/f) texture, measured at the
detection width: hard cuts score 35..60, pans of 1..4 px a frame 5..13, a fast 8 px a frame up to
20, a fade to 20% over 30 frames 3..5. Lower it to catch cuts between similar shots, raise it
for noisy or very fast footage.

Flashes: no minimum shot length (PySceneDetect's 15-frame filter would hide a real cut that
follows another within 15 frames and so mix two shots in one window). A one-frame flash therefore
becomes a one-frame shot, with cuts at the flash and at the frame after it: windows near it lose
context across it but never contain it.
"""

from collections.abc import Iterable

import cv2
import numpy as np
from scenedetect import FrameTimecode
from scenedetect.detectors import ContentDetector

DEFAULT_THRESHOLD = 27.0
"""`ContentDetector` score (0..255) at or above which a frame starts a new shot."""

DETECT_WIDTH = 256
"""Frames are first area-averaged by a whole factor to at most this width (PySceneDetect's own
tools detect at about 256 px); a whole factor keeps OpenCV on its fast path: 1080p in ~2 ms."""

_FPS = 1.0
"""Timecodes need a rate; ours count frames and no option here is in seconds, so any rate works."""


def _small_bgr8(frame: np.ndarray, width: int) -> np.ndarray:
    """(h, w, 3) uint16 or uint8 R'G'B' -> (h', <= width, 3) uint8 B'G'R', what the detector reads."""
    if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype not in (np.uint8, np.uint16):
        raise ValueError(f"expected an (h, w, 3) uint8 or uint16 frame, got {frame.shape} {frame.dtype}")
    h, w = frame.shape[:2]
    factor = -(-w // width)
    if factor > 1:
        frame = cv2.resize(frame, (w // factor, max(1, h // factor)), interpolation=cv2.INTER_AREA)
    if frame.dtype == np.uint16:
        frame = (frame >> 8).astype(np.uint8)
    return cv2.cvtColor(frame, cv2.COLOR_RGB2BGR)


class ShotDetector:
    """Streaming cut detector: push frames in decode order, learn whether each starts a shot."""

    def __init__(self, threshold: float = DEFAULT_THRESHOLD, width: int = DETECT_WIDTH) -> None:
        if not threshold > 0 or width < 1:
            raise ValueError(f"threshold must be > 0 and width >= 1, got {threshold}, {width}")
        self._detector = ContentDetector(threshold=threshold, min_scene_len=0)
        self._width = width
        self._index = 0

    def push(self, frame: np.ndarray) -> bool:
        """frame: (h, w, 3) uint16 (0..65535) or uint8 full-range R'G'B'; same size every call.

        True when this frame starts a new shot, which the first frame always does.
        """
        timecode = FrameTimecode(self._index, fps=_FPS)
        cuts = self._detector.process_frame(timecode, _small_bgr8(frame, self._width))
        self._index += 1
        return self._index == 1 or bool(cuts)


def detect_shot_starts(frames: Iterable[np.ndarray], threshold: float = DEFAULT_THRESHOLD) -> list[int]:
    """Indices of the frames that start a shot: [0, ...] for any frames, [] for none."""
    detector = ShotDetector(threshold)
    return [i for i, frame in enumerate(frames) if detector.push(frame)]
