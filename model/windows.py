"""Which input frames each output frame sees: the 2T+1 frame indices of its window.

A multi-frame model converts frame i from frames i-T..i+T. At the ends of a video and at scene
cuts, a neighbour outside frame i's shot is replaced by the nearest frame of the same shot
(replicate padding), so a window never mixes two shots. Pure index logic: the video pipeline
plans windows over a whole video (shot starts from its cut detector) and the converters read them.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence


def window_plan(
    num_frames: int, radius: int, shot_starts: Sequence[int] = (), emit: range | None = None
) -> list[tuple[int, ...]]:
    """For each frame i of `emit` (default: all), the indices i-T..i+T clamped to i's shot.

    Shots start at frame 0 and at each of `shot_starts` (any order, 0 < start < num_frames).
    Returns one tuple of 2*radius+1 indices per emitted frame, in emit order.
    """
    if num_frames < 1 or radius < 0:
        raise ValueError(f"need num_frames >= 1 and radius >= 0, got {num_frames} and {radius}")
    starts = sorted({0, *shot_starts})
    if starts[0] < 0 or starts[-1] >= num_frames:
        raise ValueError(f"shot starts must lie in [0, {num_frames}), got {sorted(shot_starts)}")
    emit = range(num_frames) if emit is None else emit
    if emit and (min(emit) < 0 or max(emit) >= num_frames):
        raise ValueError(f"emit {emit} reaches outside the {num_frames} frames")
    ends = [*starts[1:], num_frames]
    plan = []
    for i in emit:
        shot = bisect_right(starts, i) - 1
        first, last = starts[shot], ends[shot] - 1
        plan.append(tuple(min(max(i + d, first), last) for d in range(-radius, radius + 1)))
    return plan
