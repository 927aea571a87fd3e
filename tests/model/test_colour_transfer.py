"""PQ, BT.1886 and HLG transfer functions against colour-science and the standards' own points."""

import math
import warnings

import numpy as np
import pytest
import torch
from hdrtv.model.colour.transfer import (
    bt1886_eotf,
    bt1886_inverse_eotf,
    hlg_eotf,
    hlg_inverse_eotf,
    hlg_inverse_oetf,
    hlg_oetf,
    hlg_system_gamma,
    pq_eotf,
    pq_inverse_eotf,
)

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import colour

RNG = np.random.default_rng(1)
SIGNAL = RNG.uniform(0.01, 1.0, size=(64, 3))
LUMINANCE = 10 ** RNG.uniform(-3, 4, size=(64, 3))  # 0.001 .. 10000 cd/m2

# colour-science's HLG evaluates both branches with np.where and warns about the unused log.
pytestmark = pytest.mark.filterwarnings("ignore:invalid value encountered in log:RuntimeWarning")


def test_pq_matches_colour():
    np.testing.assert_allclose(pq_eotf(SIGNAL), colour.models.eotf_ST2084(SIGNAL), rtol=1e-9)
    np.testing.assert_allclose(pq_inverse_eotf(LUMINANCE), colour.models.eotf_inverse_ST2084(LUMINANCE), rtol=1e-9)


@pytest.mark.parametrize(("cd_m2", "code"), [(100.0, 0.5081), (203.0, 0.5807), (1000.0, 0.7518), (10000.0, 1.0)])
def test_pq_standard_points(cd_m2, code):
    assert float(pq_inverse_eotf(torch.tensor(cd_m2, dtype=torch.float64))) == pytest.approx(code, abs=5e-5)
    assert float(pq_eotf(torch.tensor(code, dtype=torch.float64))) == pytest.approx(cd_m2, rel=2e-3)


def test_pq_round_trip_and_clamping():
    np.testing.assert_allclose(pq_eotf(pq_inverse_eotf(LUMINANCE)), LUMINANCE, rtol=1e-9)
    out = pq_eotf(np.array([-0.2, 0.0, 1.0, 1.5]))
    np.testing.assert_allclose(out, [0.0, 0.0, 10000.0, 10000.0], rtol=1e-12)
    assert pq_inverse_eotf(np.array([-5.0]))[0] == pq_inverse_eotf(np.array([0.0]))[0]


@pytest.mark.parametrize(("lw", "lb"), [(100.0, 0.0), (100.0, 0.1), (1.0, 0.0)])
def test_bt1886_matches_colour(lw, lb):
    v = RNG.uniform(0.0, 1.0, size=(32, 3))
    expected = colour.models.eotf_BT1886(v, L_B=lb, L_W=lw)
    np.testing.assert_allclose(bt1886_eotf(v, lw, lb), expected, rtol=1e-9, atol=1e-15)
    light = v * lw
    expected = colour.models.eotf_inverse_BT1886(light, L_B=lb, L_W=lw)
    np.testing.assert_allclose(bt1886_inverse_eotf(light, lw, lb), expected, rtol=1e-9, atol=1e-15)
    np.testing.assert_allclose(bt1886_eotf(np.array([0.0, 1.0]), lw, lb), [lb, lw], rtol=1e-12, atol=1e-15)


def test_bt1886_round_trip_and_negatives():
    v = RNG.uniform(0.0, 1.0, size=(32, 3))
    np.testing.assert_allclose(bt1886_inverse_eotf(bt1886_eotf(v, 100.0, 0.1), 100.0, 0.1), v, rtol=1e-9, atol=1e-12)
    assert bt1886_eotf(np.array([-0.3]))[0] == 0.0
    assert bt1886_inverse_eotf(np.array([-1.0]))[0] == 0.0


def test_hlg_oetf_matches_colour():
    e = RNG.uniform(0.0, 1.0, size=(64, 3))
    np.testing.assert_allclose(hlg_oetf(e), colour.models.oetf_BT2100_HLG(e), rtol=1e-9, atol=1e-15)
    np.testing.assert_allclose(hlg_inverse_oetf(SIGNAL), colour.models.oetf_inverse_BT2100_HLG(SIGNAL), rtol=1e-9)
    np.testing.assert_allclose(hlg_inverse_oetf(hlg_oetf(e)), e, rtol=1e-9, atol=1e-15)
    # Both segments meet at E = 1/12, E' = 0.5; E = 1 gives E' = 1 (BT.2100 Table 5).
    np.testing.assert_allclose(hlg_oetf(np.array([1.0 / 12.0, 1.0])), [0.5, 1.0], atol=1e-8)
    assert hlg_oetf(np.array([-0.1]))[0] == 0.0


def test_hlg_system_gamma():
    assert hlg_system_gamma(1000.0) == pytest.approx(1.2)
    assert hlg_system_gamma(2000.0) == pytest.approx(1.2 + 0.42 * math.log10(2.0))
    assert hlg_system_gamma(4000.0) == pytest.approx(1.2 * 1.111**2)  # extended formula


@pytest.mark.parametrize(("lw", "lb"), [(1000.0, 0.0), (1000.0, 0.01), (2000.0, 0.005), (600.0, 0.1)])
def test_hlg_eotf_matches_colour(lw, lb):
    expected = colour.models.eotf_BT2100_HLG(SIGNAL, L_B=lb, L_W=lw, method="ITU-R BT.2100-2")
    np.testing.assert_allclose(hlg_eotf(SIGNAL, lw, lb), expected, rtol=1e-9)
    display = LUMINANCE / 10.0
    expected_inverse = colour.models.eotf_inverse_BT2100_HLG(display, L_B=lb, L_W=lw, method="ITU-R BT.2100-2")
    np.testing.assert_allclose(hlg_inverse_eotf(display, lw, lb), expected_inverse, rtol=1e-9, atol=1e-12)


def test_hlg_extended_gamma_outside_400_2000():
    gamma = hlg_system_gamma(4000.0)
    expected = colour.models.eotf_BT2100_HLG(SIGNAL, L_B=0.0, L_W=4000.0, gamma=gamma)
    np.testing.assert_allclose(hlg_eotf(SIGNAL, 4000.0), expected, rtol=1e-9)


def test_hlg_eotf_reference_white_and_round_trip():
    # BT.2408: HLG reference white, 75 % signal, is 203 cd/m2 on a 1000 cd/m2 display.
    white = hlg_eotf(np.full(3, 0.75))
    np.testing.assert_allclose(white, 203.0, rtol=5e-3)
    np.testing.assert_allclose(hlg_eotf(np.ones(3)), 1000.0, rtol=1e-7)
    np.testing.assert_allclose(hlg_inverse_eotf(hlg_eotf(SIGNAL, 1000.0, 0.01), 1000.0, 0.01), SIGNAL, rtol=1e-9)
    np.testing.assert_allclose(hlg_inverse_eotf(np.zeros(3)), 0.0)


@pytest.mark.parametrize(
    "fn",
    [
        pq_eotf,
        pq_inverse_eotf,
        bt1886_eotf,
        bt1886_inverse_eotf,
        hlg_oetf,
        hlg_inverse_oetf,
        hlg_eotf,
        hlg_inverse_eotf,
    ],
)
def test_dtype_numpy_and_gradients(fn):
    x32 = torch.rand(4, 5, 3, dtype=torch.float32)
    out32 = fn(x32)
    assert out32.dtype == torch.float32 and out32.shape == x32.shape
    out64 = fn(x32.double().numpy())
    assert isinstance(out64, np.ndarray) and out64.dtype == np.float64
    np.testing.assert_allclose(out32.numpy(), out64, rtol=1e-4, atol=1e-5)
    # Black and negative inputs must not produce NaN or infinite gradients.
    x = torch.tensor([[0.0, 0.0, 0.0], [-0.1, 0.0, 0.2]], dtype=torch.float64, requires_grad=True)
    fn(x).sum().backward()
    assert torch.isfinite(x.grad).all()
