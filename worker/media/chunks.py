"""Split a video's frames into chunks that workers convert independently.

Why: chunks spread one video over many workers; starting them at shot cuts means a chunk's
temporal windows rarely need frames across a chunk boundary, and the context frames each chunk
decodes on either side (`radius`, the model's temporal reach) are what keeps the seams invisible.

Rules, with `T = target_frames`:
- chunks tile `0..frame_count` exactly: emit ranges never gap or overlap;
- each boundary aims at `start + T`; when a shot start lies within `SNAP_FRACTION * T` of it
  (+-25%: chunks stay within 0.75 T .. 1.25 T), the boundary moves to the nearest one (the earlier
  on a tie);
- a tail shorter than `MIN_FRACTION * T` (half a chunk) joins the chunk before it, so the last
  chunk is under 1.25 T + 0.5 T long; only a video shorter than half a chunk has a shorter one.
"""

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, fields

SNAP_FRACTION = 0.25
"""How far (fraction of `target_frames`) a boundary may move to land on a shot start."""

MIN_FRACTION = 0.5
"""Shortest chunk (fraction of `target_frames`) worth a task; shorter tails are merged."""


@dataclass(frozen=True)
class Chunk:
    """One task's frames: emits `start..stop`, decodes `decode_start..decode_stop` (stop exclusive).

    The decode range is the emit range widened by the model's radius on each side, clipped to the
    video; the extra frames feed the model as context and are not written out.
    """

    index: int
    start: int
    stop: int
    decode_start: int
    decode_stop: int

    def __post_init__(self) -> None:
        if not (self.index >= 0 and 0 <= self.decode_start <= self.start < self.stop <= self.decode_stop):
            raise ValueError(f"inconsistent chunk {self}")

    def to_dict(self) -> dict[str, int]:
        """Plain ints, for JSON task messages."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, int]) -> "Chunk":
        """Inverse of `to_dict`; a missing key raises KeyError, bad ranges ValueError."""
        return cls(**{f.name: int(data[f.name]) for f in fields(cls)})


def _snap(ideal: int, cuts: list[int], tolerance: int) -> int:
    """The shot start nearest `ideal` within `tolerance` (earlier on a tie), else `ideal`."""
    near = cuts[bisect_left(cuts, ideal - tolerance) : bisect_right(cuts, ideal + tolerance)]
    return min(near, key=lambda c: (abs(c - ideal), c), default=ideal)


def plan_chunks(frame_count: int, shot_starts: Iterable[int], target_frames: int, radius: int) -> list[Chunk]:
    """Chunks tiling `frame_count` frames, about `target_frames` long, starting at shot starts.

    shot_starts: frame indices that start a shot (any order; 0 and indices outside the video are
    ignored). radius: context frames decoded on each side of a chunk. No frames, no chunks.
    """
    if frame_count < 0 or target_frames < 1 or radius < 0:
        raise ValueError(
            f"need frame_count >= 0, target_frames >= 1, radius >= 0; got {frame_count}, {target_frames}, {radius}"
        )
    cuts = sorted({c for c in shot_starts if 0 < c < frame_count})
    tolerance = int(target_frames * SNAP_FRACTION)
    shortest = max(1, int(target_frames * MIN_FRACTION))
    chunks: list[Chunk] = []
    start = 0
    while start < frame_count:
        stop = _snap(start + target_frames, cuts, tolerance)
        if frame_count - stop < shortest:
            stop = frame_count
        chunks.append(Chunk(len(chunks), start, stop, max(0, start - radius), min(frame_count, stop + radius)))
        start = stop
    return chunks
