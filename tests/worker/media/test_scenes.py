"""Shot detection on synthetic shots: panning 1/f textures, fades, flashes and hard cuts."""

import numpy as np
import pytest
from hdrtv.worker.media.scenes import ShotDetector, detect_shot_starts

H, W = 144, 512  # wider than the detection width, so the downscale runs too


def _noise(rng: np.random.Generator, channels: int, power: float) -> np.ndarray:
    """(H, W, channels) in [0, 1], periodic, amplitude ~ 1/f^power like natural images."""
    fy = np.fft.fftfreq(H)[:, None, None]
    fx = np.fft.rfftfreq(W)[None, :, None]
    amplitude = np.maximum(np.hypot(fy, fx), 1.0 / W) ** -power
    phase = np.exp(2j * np.pi * rng.random((H, W // 2 + 1, channels)))
    img = np.fft.irfft2(amplitude * phase, s=(H, W), axes=(0, 1))
    img -= img.min(axis=(0, 1))
    return img / img.max(axis=(0, 1))


def _texture(seed: int) -> np.ndarray:
    """(H, W, 3) in [0, 1]: detailed luminance tinted by smooth colour."""
    rng = np.random.default_rng(seed)
    return _noise(rng, 1, 1.0) * (0.3 + 0.7 * _noise(rng, 3, 2.0))


def _pan(texture: np.ndarray, frames: int, speed: int, gains=None) -> list[np.ndarray]:
    """Frames of a camera panning `speed` px a frame over `texture`, as uint16 R'G'B'."""
    gains = np.ones(frames) if gains is None else gains
    return [(np.roll(texture, -speed * i, axis=1) * g * 65535).astype(np.uint16) for i, g in enumerate(gains)]


@pytest.mark.parametrize("speed", [0, 2, 8])
@pytest.mark.parametrize("seeds", [(1, 2), (3, 4)])
def test_fires_on_the_hard_cut_only_while_panning(speed, seeds):
    frames = _pan(_texture(seeds[0]), 12, speed) + _pan(_texture(seeds[1]), 12, speed)
    assert detect_shot_starts(frames) == [0, 12]


@pytest.mark.parametrize(("first", "last"), [(1.0, 0.2), (0.2, 1.0)])
def test_gradual_brightness_change_is_one_shot(first, last):
    frames = _pan(_texture(5), 30, 2, gains=np.linspace(first, last, 30))
    assert detect_shot_starts(frames) == [0]


def test_one_frame_flash_becomes_a_one_frame_shot():
    frames = _pan(_texture(6), 20, 2)
    frames[10] = np.full_like(frames[10], 62000)
    assert detect_shot_starts(frames) == [0, 10, 11]


def test_streaming_push_matches_and_uint8_agrees_with_uint16():
    frames = _pan(_texture(7), 6, 4) + _pan(_texture(8), 6, 4)
    detector = ShotDetector()
    assert [detector.push(f) for f in frames] == [True] + [False] * 5 + [True] + [False] * 5
    assert detect_shot_starts([(f >> 8).astype(np.uint8) for f in frames]) == [0, 6]


def test_threshold_is_configurable():
    frames = _pan(_texture(1), 4, 2) + _pan(_texture(2), 4, 2)
    assert detect_shot_starts(frames, threshold=100.0) == [0]
    assert detect_shot_starts(frames, threshold=1.0) == list(range(8))


def test_no_frames_no_shots_and_bad_frames_are_refused():
    assert detect_shot_starts([]) == []
    with pytest.raises(ValueError):
        ShotDetector().push(np.zeros((8, 8, 3), np.float32))
    with pytest.raises(ValueError):
        ShotDetector().push(np.zeros((8, 8), np.uint16))
    with pytest.raises(ValueError):
        ShotDetector(threshold=0.0)
