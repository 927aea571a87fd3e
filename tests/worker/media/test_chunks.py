"""Chunk planning: exact tiling, snapping to shot starts, context ranges, tails, serialisation."""

import json

import numpy as np
import pytest
from hdrtv.worker.media.chunks import Chunk, plan_chunks


def _check_tiling(chunks: list[Chunk], frame_count: int, radius: int) -> None:
    assert [c.index for c in chunks] == list(range(len(chunks)))
    assert [c.start for c in chunks] == [0] + [c.stop for c in chunks[:-1]]
    assert chunks[-1].stop == frame_count
    for c in chunks:
        assert c.stop > c.start
        assert (c.decode_start, c.decode_stop) == (max(0, c.start - radius), min(frame_count, c.stop + radius))


def test_random_inputs_tile_exactly_with_bounded_lengths():
    rng = np.random.default_rng(0)
    for _ in range(400):
        frame_count = int(rng.integers(1, 3000))
        target = int(rng.integers(1, 400))
        radius = int(rng.integers(0, 4))
        shots = rng.integers(-5, frame_count + 5, size=int(rng.integers(0, frame_count // 4 + 2))).tolist()
        chunks = plan_chunks(frame_count, shots, target, radius)
        _check_tiling(chunks, frame_count, radius)
        tolerance, shortest = target // 4, max(1, target // 2)
        for c in chunks[:-1]:
            ideal = c.start + target
            near = [s for s in set(shots) if abs(s - ideal) <= tolerance]
            assert c.stop == min(near, key=lambda s: (abs(s - ideal), s), default=ideal)
        if len(chunks) > 1:
            assert shortest <= chunks[-1].stop - chunks[-1].start < target + tolerance + shortest


def test_boundaries_snap_to_the_nearest_shot_start_within_a_quarter():
    chunks = plan_chunks(1000, [90, 130, 185, 215, 330], target_frames=100, radius=0)
    # 90 is within 25 of 100 (130 is too far); from 90 the ideal 190 takes 185 (nearer than 215);
    # from 185 the ideal 285 has no cut in 260..310, so 285; from 285 the ideal 385 has none (330 is out).
    assert [c.start for c in chunks][:5] == [0, 90, 185, 285, 385]


def test_snapping_prefers_the_earlier_cut_on_a_tie():
    assert plan_chunks(300, [90, 110], 100, 0)[0].stop == 90


@pytest.mark.parametrize(("frame_count", "last"), [(1030, (900, 1030)), (1049, (900, 1049)), (1050, (1000, 1050))])
def test_a_tail_shorter_than_half_a_chunk_joins_the_previous_one(frame_count, last):
    chunks = plan_chunks(frame_count, [], 100, 2)
    assert (chunks[-1].start, chunks[-1].stop) == last


@pytest.mark.parametrize("radius", [0, 1, 2, 3])
@pytest.mark.parametrize("frame_count", [1, 2, 5, 99, 149])
def test_videos_shorter_than_a_chunk_and_a_half_are_one_chunk(frame_count, radius):
    assert plan_chunks(frame_count, [0, 1, 3], 100, radius) == [Chunk(0, 0, frame_count, 0, frame_count)]


@pytest.mark.parametrize("radius", [0, 1, 2, 3])
def test_decode_ranges_add_radius_context_clipped_to_the_video(radius):
    chunks = plan_chunks(30, [], 10, radius)
    assert [(c.decode_start, c.decode_stop) for c in chunks] == [
        (0, 10 + radius),
        (10 - radius, 20 + radius),
        (20 - radius, 30),
    ]
    _check_tiling(chunks, 30, radius)


def test_round_trip_through_a_json_task_message():
    for chunk in plan_chunks(500, [120, 260], 100, 3):
        message = json.loads(json.dumps(chunk.to_dict()))
        assert Chunk.from_dict(message) == chunk


def test_inconsistent_chunks_and_arguments_are_refused():
    with pytest.raises(ValueError):
        Chunk.from_dict({"index": 0, "start": 5, "stop": 5, "decode_start": 0, "decode_stop": 9})
    with pytest.raises(ValueError):
        Chunk(0, 2, 8, 3, 9)
    with pytest.raises(KeyError):
        Chunk.from_dict({"index": 0, "start": 0, "stop": 5})
    for args in [(-1, [], 10, 0), (10, [], 0, 0), (10, [], 10, -1)]:
        with pytest.raises(ValueError):
            plan_chunks(*args)
    assert plan_chunks(0, [], 10, 1) == []
