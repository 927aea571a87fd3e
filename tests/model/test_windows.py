"""Window plans: 2T+1 frame indices per output frame, clamped to the frame's shot."""

import random

import pytest
from hdrtv.model.windows import window_plan


def test_one_shot_replicates_its_first_and_last_frame():
    assert window_plan(3, 2) == [(0, 0, 0, 1, 2), (0, 0, 1, 2, 2), (0, 1, 2, 2, 2)]
    assert window_plan(4, 1) == [(0, 0, 1), (0, 1, 2), (1, 2, 3), (2, 3, 3)]


def test_a_cut_closes_one_shot_and_opens_the_next():
    assert window_plan(6, 2, [3]) == [
        (0, 0, 0, 1, 2),
        (0, 0, 1, 2, 2),
        (0, 1, 2, 2, 2),
        (3, 3, 3, 4, 5),
        (3, 3, 4, 5, 5),
        (3, 4, 5, 5, 5),
    ]


def test_a_one_frame_shot_repeats_that_frame():
    assert window_plan(5, 1, [2, 3]) == [(0, 0, 1), (0, 1, 1), (2, 2, 2), (3, 3, 4), (3, 4, 4)]


@pytest.mark.parametrize("radius", [1, 2, 3])
def test_windows_never_mix_shots_and_take_the_nearest_frame_of_the_shot(radius):
    rng = random.Random(radius)
    for _ in range(20):
        n = rng.randint(1, 30)
        cuts = rng.sample(range(1, n), k=min(rng.randint(0, 4), n - 1)) if n > 1 else []
        starts = sorted({0, *cuts})
        shot_of = [max(s for s in starts if s <= i) for i in range(n)]
        plan = window_plan(n, radius, cuts)
        assert len(plan) == n
        for i, window in enumerate(plan):
            assert len(window) == 2 * radius + 1 and window[radius] == i
            for d, j in zip(range(-radius, radius + 1), window):
                assert shot_of[j] == shot_of[i]
                wanted = i + d
                if 0 <= wanted < n and shot_of[wanted] == shot_of[i]:
                    assert j == wanted
                else:  # the nearest frame of the shot towards the missing one
                    assert j == (shot_of[i] if d < 0 else max(k for k in range(n) if shot_of[k] == shot_of[i]))


@pytest.mark.parametrize("radius", [1, 2, 3])
def test_emit_picks_a_range_of_the_whole_plan(radius):
    whole = window_plan(20, radius, [7, 12])
    for emit in (range(0, 7), range(5, 13), range(12, 20), range(19, 20), range(3, 3)):
        assert window_plan(20, radius, [12, 7], emit) == whole[emit.start : emit.stop]


@pytest.mark.parametrize(
    "args, message",
    [
        ((0, 2), "num_frames"),
        ((5, -1), "radius"),
        ((5, 2, [5]), "shot starts"),
        ((5, 2, [-1]), "shot starts"),
        ((5, 2, [], range(3, 6)), "outside"),
    ],
)
def test_bad_plans_fail_with_a_message_naming_the_problem(args, message):
    with pytest.raises(ValueError, match=message):
        window_plan(*args)
