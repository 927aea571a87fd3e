"""SR-SIM: properties of the index and the reference code's filtering conventions."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hdrtv.model.metrics import sr_sim
from hdrtv.model.metrics.srsim import _average_and_subsample, _downsample_factor, _resize
from scipy.signal import convolve2d


def _scene(h, w, seed=0, batch=()):
    """A smooth random PQ image with a hard-edged bright square: (*batch, h, w, 3) in [0.1, 0.8]."""
    g = torch.Generator().manual_seed(seed)
    noise = torch.rand(math.prod(batch), 3, h, w, generator=g, dtype=torch.float64)
    smooth = F.avg_pool2d(noise, 7, stride=1, padding=3, count_include_pad=False)
    smooth = (smooth - smooth.amin()) / (smooth.amax() - smooth.amin())
    image = 0.1 + 0.5 * smooth
    image[..., h // 4 : h // 2, w // 3 : w // 2] += 0.2
    return image.permute(0, 2, 3, 1).reshape(*batch, h, w, 3)


def _blur(x, sigma):
    radius = math.ceil(3 * sigma)
    t = torch.arange(-radius, radius + 1, dtype=x.dtype)
    taps = torch.exp(-0.5 * (t / sigma) ** 2)
    taps = taps / taps.sum()
    planes = x.movedim(-1, -3).reshape(-1, 1, *x.shape[-3:-1])
    planes = F.conv2d(F.pad(planes, (radius,) * 4, mode="replicate"), taps.view(1, 1, -1, 1))
    planes = F.conv2d(planes, taps.view(1, 1, 1, -1))
    return planes.reshape(*x.shape[:-3], 3, *x.shape[-3:-1]).movedim(-3, -1)


def _noise(x, sigma, seed=1):
    return (x + sigma * torch.randn(x.shape, generator=torch.Generator().manual_seed(seed), dtype=x.dtype)).clamp(0, 1)


def test_identical_images_score_exactly_one():
    for image in (_scene(67, 131), _scene(96, 96, seed=2), torch.zeros(32, 40, 3, dtype=torch.float64)):
        assert abs(sr_sim(image, image).item() - 1.0) < 1e-12


def test_rejects_images_too_small_for_a_saliency_map():
    with pytest.raises(ValueError, match="5 x 5"):
        sr_sim(_scene(4, 40), _scene(4, 40))
    assert sr_sim(_scene(5, 7), _scene(5, 7)).item() == 1.0


def test_degradations_score_lower():
    image = _scene(67, 131)
    for degraded in (_blur(image, 1.5), _noise(image, 0.02), image**1.5):
        assert sr_sim(degraded, image).item() < 0.999


@pytest.mark.parametrize("degrade, strengths", [(_noise, (0.005, 0.01, 0.02, 0.04)), (_blur, (0.6, 1.0, 2.0, 4.0))])
def test_monotone_in_degradation_strength(degrade, strengths):
    image = _scene(64, 80, seed=4)
    scores = [sr_sim(degrade(image, s), image).item() for s in strengths]
    assert all(b < a for a, b in zip(scores, scores[1:])), scores


def test_symmetric():
    image = _scene(67, 131)
    degraded = _noise(_blur(image, 1.0), 0.01)
    assert sr_sim(degraded, image).item() == sr_sim(image, degraded).item()


def test_batch_equals_loop_and_odd_sizes():
    images = _scene(67, 131, seed=5, batch=(2, 3))
    degraded = _noise(images, 0.02)
    batch = sr_sim(degraded, images)
    assert batch.shape == (2, 3)
    loop = torch.stack([sr_sim(d, i) for d, i in zip(degraded.reshape(6, 67, 131, 3), images.reshape(6, 67, 131, 3))])
    torch.testing.assert_close(batch.reshape(6), loop, rtol=1e-12, atol=0)


def test_downsample_factor_rounds_halves_up_like_matlab():
    assert _downsample_factor(255, 4000) == 1
    assert _downsample_factor(384, 512) == 2  # 1.5
    assert _downsample_factor(640, 480) == 2  # 480/256 = 1.875
    assert _downsample_factor(640, 900) == 3  # 2.5: MATLAB rounds up, Python's round() gives 2
    assert _downsample_factor(1080, 1920) == 4
    assert _downsample_factor(2160, 3840) == 8


@pytest.mark.parametrize("factor", [2, 3, 4])
def test_average_and_subsample_follows_conv2_same(factor):
    """MATLAB's conv2(Y, K, 'same') is the full convolution cropped from index floor(k/2)."""
    luma = np.random.default_rng(0).uniform(size=(13, 17))
    full = convolve2d(luma, np.full((factor, factor), 1 / factor**2), mode="full")
    start = factor // 2
    expected = full[start : start + 13, start : start + 17][::factor, ::factor]
    got = _average_and_subsample(torch.from_numpy(luma)[None, None], factor)[0, 0]
    np.testing.assert_allclose(got.numpy(), expected, rtol=0, atol=1e-14)


def test_quarter_resize_samples_at_exactly_a_quarter():
    """imresize(Y, 0.25) on 67 rows gives 17, output row x (1-based) sampling input row 4x - 1.5.

    A linear ramp is reproduced exactly away from the borders; a mapping by the size ratio
    67 / 17 (torch's interpolate given a size) would land elsewhere.
    """
    ramp = torch.arange(1, 68, dtype=torch.float64).view(1, 1, 67, 1).expand(1, 1, 67, 8)
    rows = _resize(ramp, (17, 2), (0.25, 0.25))[0, 0, :, 0]
    x = torch.arange(1, 18, dtype=torch.float64)
    torch.testing.assert_close(rows[3:-3], (4 * x - 1.5)[3:-3], rtol=0, atol=1e-12)


def test_resize_matches_matlab_port():
    """Values from piq's port of MATLAB's imresize (bicubic, antialiased, mirrored borders)."""
    squares = (torch.arange(13, dtype=torch.float64) ** 2).view(1, 1, 13, 1).expand(1, 1, 13, 16)
    down = _resize(squares, (4, 4), (0.25, 0.25))[0, 0, :, 0]
    torch.testing.assert_close(
        down,
        torch.tensor([2.39013671875, 30.308837890625, 95.175537109375, 127.348876953125], dtype=torch.float64),
        rtol=0,
        atol=1e-12,
    )
    small = (torch.arange(5, dtype=torch.float64) ** 2).view(1, 1, 5, 1).expand(1, 1, 5, 16)
    up = _resize(small, (7, 16))[0, 0, :, 0]
    expected = [-0.0612242073, 0.3790081441, 1.6530587673, 4.0, 7.3673496246, 12.2274045944, 16.4285697937]
    torch.testing.assert_close(up, torch.tensor(expected, dtype=torch.float64), rtol=0, atol=1e-5)


@pytest.mark.parametrize(
    "size, degrade, expected",
    [
        ((67, 131), lambda image: _noise(image, 0.02), 0.9879030928551794),
        ((96, 72), lambda image: _blur(image, 1.0), 0.9776022433576154),
        ((384, 400), lambda image: image**1.5, 0.9966193755840977),  # F = 2
    ],
)
def test_matches_piq_port_of_the_reference(size, degrade, expected):
    """Scores from piq 0.8.0's `srsim` (a port of the reference MATLAB code, float32 inside)."""
    image = _scene(*size, seed=4)
    assert sr_sim(degrade(image), image).item() == pytest.approx(expected, abs=1e-7)


def test_downsampled_path_on_large_frames():
    """At F = 2 (min side 384) the index still gives 1 for identical frames and less for noise."""
    image = _scene(384, 400, seed=6)
    assert abs(sr_sim(image, image).item() - 1.0) < 1e-12
    assert sr_sim(_noise(image, 0.03), image).item() < 0.999
