"""BT.2408 and BT.2446 Method A baselines: where the standards put grey and white, and basic sanity."""

import numpy as np
import pytest
import torch
from hdrtv.model.baselines import BASELINES, bt2408, bt2446a
from hdrtv.model.colour.gamut import rgb709_to_rgb2020
from hdrtv.model.colour.transfer import bt1886_eotf, bt1886_inverse_eotf, pq_eotf
from hdrtv.model.colour.ycbcr import rgb_to_ypbpr

GREY = np.linspace(0.0, 1.0, 256)[:, None].repeat(3, axis=1)


def _cd_m2(sdr, fn):
    return pq_eotf(fn(np.asarray(sdr, dtype=np.float64)))


def test_registry():
    assert BASELINES == {"bt2408": bt2408, "bt2446a": bt2446a}


@pytest.mark.parametrize("name", sorted(BASELINES))
def test_shape_dtype_range(name):
    fn = BASELINES[name]
    x = torch.rand(2, 4, 5, 3) * 1.4 - 0.2  # includes out-of-range input
    out = fn(x)
    assert out.shape == x.shape and out.dtype == torch.float32
    assert out.min() >= 0 and out.max() <= 1 and torch.isfinite(out).all()
    out64 = fn(x.double().numpy())
    assert isinstance(out64, np.ndarray) and out64.dtype == np.float64
    np.testing.assert_allclose(out.numpy(), out64, atol=1e-5)


@pytest.mark.parametrize("name", sorted(BASELINES))
def test_monotone_and_neutral(name):
    out = BASELINES[name](GREY)
    assert np.all(np.diff(out[:, 0]) > 0)
    np.testing.assert_allclose(out, out[:, :1].repeat(3, axis=1), rtol=0, atol=1e-12)


def test_bt2408_reference_white_and_grey():
    # BT.2408: SDR white goes to HDR Reference White, 203 cd/m2 (PQ 0.5807); the rest follows BT.1886.
    assert bt2408(np.ones(3)) == pytest.approx(np.full(3, 0.5807), abs=5e-5)
    np.testing.assert_allclose(_cd_m2([1.0, 1.0, 1.0], bt2408), 203.0, rtol=1e-9)
    np.testing.assert_allclose(_cd_m2([0.5, 0.5, 0.5], bt2408), 203.0 * 0.5**2.4, rtol=1e-9)
    assert bt2408(np.ones(3), reference_white=100.0) == pytest.approx(np.full(3, 0.5081), abs=5e-5)
    np.testing.assert_allclose(_cd_m2([0.0, 0.0, 0.0], bt2408), 0.0, atol=1e-12)


def test_bt2408_red_lands_inside_bt2020():
    # BT.709 red in BT.2020 is the first column of the BT.2087 matrix: nothing clipped.
    linear = _cd_m2([1.0, 0.0, 0.0], bt2408) / 203.0
    np.testing.assert_allclose(linear, [0.6274, 0.0691, 0.0164], atol=5e-5)


def test_bt2446a_white_and_grey():
    # Report BT.2446-1 Table 4: 255^E(255) = 999.80 on its 0..1000 scale, so white is 999.52 cd/m2.
    assert bt2446a(np.ones(3)) == pytest.approx(np.full(3, 0.7518), abs=5e-5)
    np.testing.assert_allclose(_cd_m2([1.0, 1.0, 1.0], bt2446a), 999.52, atol=0.01)
    # Y' = 0.5: Y'' = 127.5, E = 1.20367, Y''^E = 342.2 -> (0.3422)^2.4 * 1000 = 76.28 cd/m2.
    np.testing.assert_allclose(_cd_m2([0.5, 0.5, 0.5], bt2446a), 76.28, atol=0.01)
    # Below the knee T = 70: Y'' = 51, E = 1.22337, Y''^E = 122.74 -> 6.510 cd/m2, and just
    # under it Y'' = 65, E = 1.21549 (the upper branch would give 1.21626) -> 12.262 cd/m2.
    np.testing.assert_allclose(_cd_m2([0.2, 0.2, 0.2], bt2446a), 6.510, atol=0.001)
    np.testing.assert_allclose(_cd_m2([65 / 255] * 3, bt2446a), 12.262, atol=0.001)
    np.testing.assert_allclose(_cd_m2([0.0, 0.0, 0.0], bt2446a), 0.0, atol=1e-12)


def test_bt2446a_scales_colour_differences_by_1_075():
    # Step 3: the HDR colour differences relative to HDR luma are 1.075 times the SDR ones,
    # measured on the BT.2020 SDR signal and the HDR signal R' = (L / 1000) ** (1 / 2.4).
    sdr = np.array([[0.6, 0.5, 0.4], [0.3, 0.45, 0.5], [0.8, 0.7, 0.75]])
    sdr_2020 = bt1886_inverse_eotf(rgb709_to_rgb2020(bt1886_eotf(sdr, lw=1.0)), lw=1.0)
    hdr_signal = (_cd_m2(sdr, bt2446a) / 1000.0) ** (1 / 2.4)
    y_sdr, *diff_sdr = rgb_to_ypbpr(sdr_2020, "bt2020").T
    y_hdr, *diff_hdr = rgb_to_ypbpr(hdr_signal, "bt2020").T
    for d_sdr, d_hdr in zip(diff_sdr, diff_hdr, strict=True):
        np.testing.assert_allclose(d_hdr / y_hdr, 1.075 * d_sdr / y_sdr, rtol=1e-9)


def test_bt2446a_is_continuous_at_the_knee():
    # The two exponent branches agree at T = 70 to the 5 digits the Report gives (E = 1.21445 vs
    # 1.21443), which leaves a 0.02 % step in light; a wrong constant would leave several percent.
    knee = 70.0 / 255.0
    below, above = _cd_m2([[knee - 1e-9] * 3, [knee + 1e-9] * 3], bt2446a)[:, 0]
    assert abs(above - below) < 5e-4 * below


def test_bt2446a_clamps_input_and_keeps_red_in_gamut():
    np.testing.assert_array_equal(bt2446a(np.array([1.3, 1.0, 1.0])), bt2446a(np.ones(3)))
    np.testing.assert_array_equal(bt2446a(np.array([-0.2, 0.0, 0.0])), bt2446a(np.zeros(3)))
    red = _cd_m2([1.0, 0.0, 0.0], bt2446a)
    assert np.all(red > 0) and np.all(red < 1000.0) and red[0] > 5 * red[1] > 5 * red[2]


def test_bt2446a_expands_highlights_beyond_bt2408():
    assert np.all(_cd_m2(GREY[-20:], bt2446a) > _cd_m2(GREY[-20:], bt2408))
