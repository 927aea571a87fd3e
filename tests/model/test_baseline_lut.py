"""The 3D LUT that stands in for a baseline formula: within one 10-bit PQ code of the formula."""

import numpy as np
import pytest
import torch
from hdrtv.model import load_converter
from hdrtv.model.baselines import BASELINES
from hdrtv.model.baselines.lut import Lut3d
from hdrtv.model.converter import LUT_BASELINES

CODE = 1 / 1023  # one 10-bit PQ code value: the output's resolution


@pytest.fixture(scope="module", params=LUT_BASELINES)
def formula_and_lut(request):
    formula = BASELINES[request.param]
    return formula, Lut3d(formula)


def _max_error(formula_and_lut, sdr):
    formula, lut = formula_and_lut
    return float((lut(sdr.float()).double() - formula(sdr)).abs().max())


def test_error_over_8_bit_colours(formula_and_lut):
    codes = torch.arange(0, 256, 3, dtype=torch.float64) / 255  # 86^3 colours
    sdr = torch.stack(torch.meshgrid(codes, codes, codes, indexing="ij"), dim=-1).reshape(-1, 3)
    assert _max_error(formula_and_lut, sdr) < CODE / 2


def test_error_over_random_floats_dark_ones_included(formula_and_lut):
    # Near black the 2.4 power and PQ bend the most: the sqrt-spaced nodes must hold there too.
    sdr = torch.rand(200_000, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    sdr[::2] *= 0.05
    assert _max_error(formula_and_lut, sdr) < CODE / 2


def test_error_at_the_bt2446a_knee():
    # Method A's only kink inside [0, 1]^3: the exponent switches branch at Y'' = T = 70 (its
    # clip to [0, 1000] is never reached from BT.709 colours; the input clamp is tested below).
    lut = Lut3d(BASELINES["bt2446a"])
    greys = torch.linspace(65, 75, 2001, dtype=torch.float64)[:, None].repeat(1, 3) / 255
    assert float((lut(greys.float()).double() - BASELINES["bt2446a"](greys)).abs().max()) < CODE / 2


def test_out_of_range_input_is_clamped_to_0_1(formula_and_lut):
    formula, lut = formula_and_lut
    sdr = torch.tensor([[1.3, 1.0, 1.0], [-0.2, 0.0, 0.5], [2.0, -1.0, 0.25]])
    np.testing.assert_array_equal(lut(sdr), lut(sdr.clamp(0, 1)))
    np.testing.assert_allclose(lut(sdr[1]), formula(sdr[1]), atol=CODE / 2)  # the formulas clamp black too
    np.testing.assert_allclose(lut(sdr), formula(sdr.clamp(0, 1)), atol=CODE / 2)


def test_shape_and_dtype_are_kept(formula_and_lut):
    _, lut = formula_and_lut
    sdr = torch.rand(2, 5, 7, 3)
    assert lut(sdr).shape == sdr.shape and lut(sdr).dtype == torch.float32
    out64 = lut(sdr.double().numpy())
    assert isinstance(out64, np.ndarray) and out64.dtype == np.float64 and out64.shape == sdr.shape
    np.testing.assert_allclose(out64, lut(sdr).numpy(), atol=1e-6)


@pytest.mark.parametrize("name", LUT_BASELINES)
def test_converter_uses_the_lut_by_default_and_the_formula_when_exact(name):
    frames = np.random.default_rng(0).integers(0, 256, (2, 9, 13, 3), dtype=np.uint8)
    sdr = torch.from_numpy(frames).float() / 255
    fast = load_converter(name).convert(frames)
    exact = load_converter(name, exact=True).convert(frames)
    np.testing.assert_array_equal(fast, Lut3d(BASELINES[name])(sdr).numpy())
    np.testing.assert_allclose(exact, BASELINES[name](sdr).numpy(), atol=1e-6)
    np.testing.assert_allclose(fast, exact, atol=CODE / 2)


@pytest.mark.parametrize("name", LUT_BASELINES)
def test_the_lut_is_built_once_per_process(name):
    assert load_converter(name).model is load_converter(name, batch_size=2).model
    assert load_converter(name, exact=True).model is BASELINES[name]
