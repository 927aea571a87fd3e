"""The H.264 round trip: real libx264 encode and decode of a small clip, in memory."""

from __future__ import annotations

import numpy as np
import pytest
from hdrtv.worker.datasets.sdr_compression import h264_roundtrip
from video_factory import moving_pattern


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float(10.0 * np.log10(255.0**2 / mse))


@pytest.fixture(scope="module")
def clip() -> np.ndarray:
    """8 x 64 x 96 frames: the factory's moving gradient plus fixed grey grain, so the encoder has
    detail to lose (grain in luma only: colour grain would be lost to 4:2:0 whatever the CRF)."""
    grain = np.random.default_rng(0).normal(0.0, 0.02, (1, 64, 96, 1))
    return np.round(np.clip(moving_pattern(8, 64, 96) + grain, 0.0, 1.0) * 255.0).astype(np.uint8)


def test_roundtrip_keeps_shape_and_costs_plausible_quality(clip: np.ndarray) -> None:
    # Measured: 35.9 dB at CRF 23; 46.1 dB at CRF 0 (lossless H.264: what is left is 4:2:0 and
    # 8-bit Y'CbCr); 42.3 dB at CRF 12, 31.0 dB at CRF 35.
    out = h264_roundtrip(clip, crf=23, preset="veryfast")
    assert out.shape == clip.shape and out.dtype == np.uint8
    assert 30.0 < psnr(clip, out) < 55.0
    assert not np.array_equal(out, clip)


def test_lower_crf_gives_higher_quality(clip: np.ndarray) -> None:
    assert psnr(clip, h264_roundtrip(clip, crf=12, preset="veryfast")) > psnr(
        clip, h264_roundtrip(clip, crf=35, preset="veryfast")
    )


def test_flat_grey_survives_nearly_exactly() -> None:
    # Grey 128 is Y' 126.0, chroma 128 in limited range: only rounding separates it from the input.
    grey = np.full((2, 32, 32, 3), 128, np.uint8)
    assert np.abs(h264_roundtrip(grey, crf=23).astype(int) - 128).max() <= 1


@pytest.mark.parametrize("shape", [(2, 31, 32, 3), (2, 32, 33, 3), (2, 32, 32), (2, 32, 32, 4)])
def test_refuses_odd_sizes_and_bad_shapes(shape: tuple[int, ...]) -> None:
    with pytest.raises(ValueError):
        h264_roundtrip(np.zeros(shape, np.uint8), crf=23)
