"""BT.709 / BT.2020 matrices against colour-science and the values published in ITU-R BT.2087."""

import warnings

import numpy as np
import pytest
import torch
from hdrtv.model.colour.gamut import (
    BT709_TO_BT2020,
    BT709_TO_XYZ,
    BT2020_TO_BT709,
    BT2020_TO_XYZ,
    XYZ_TO_BT709,
    XYZ_TO_BT2020,
    normalised_primary_matrix,
    rgb709_to_rgb2020,
    rgb2020_to_rgb709,
)

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import colour

BT709 = colour.RGB_COLOURSPACES["ITU-R BT.709"]
BT2020 = colour.RGB_COLOURSPACES["ITU-R BT.2020"]
RGB = np.random.default_rng(2).uniform(0.0, 1.0, size=(6, 7, 3))


def test_constants_are_float64_tensors():
    for matrix in (BT709_TO_XYZ, XYZ_TO_BT709, BT2020_TO_XYZ, XYZ_TO_BT2020, BT709_TO_BT2020, BT2020_TO_BT709):
        assert isinstance(matrix, torch.Tensor) and matrix.dtype == torch.float64 and matrix.shape == (3, 3)


def test_primary_matrices_match_colour():
    np.testing.assert_allclose(BT709_TO_XYZ.numpy(), BT709.matrix_RGB_to_XYZ, atol=1e-12)
    np.testing.assert_allclose(BT2020_TO_XYZ.numpy(), BT2020.matrix_RGB_to_XYZ, atol=1e-12)
    np.testing.assert_allclose(XYZ_TO_BT2020.numpy(), BT2020.matrix_XYZ_to_RGB, atol=1e-9)


def test_luminance_rows_are_the_luma_weights():
    # The Y row of each matrix is the standard's luminance equation.
    np.testing.assert_allclose(BT709_TO_XYZ[1].numpy(), [0.2126, 0.7152, 0.0722], atol=5e-5)
    np.testing.assert_allclose(BT2020_TO_XYZ[1].numpy(), [0.2627, 0.6780, 0.0593], atol=5e-5)


def test_bt709_to_bt2020_is_bt2087_matrix():
    published = [[0.6274, 0.3293, 0.0433], [0.0691, 0.9195, 0.0114], [0.0164, 0.0880, 0.8956]]
    np.testing.assert_allclose(BT709_TO_BT2020.numpy(), published, atol=5e-5)
    np.testing.assert_allclose(BT709_TO_BT2020.sum(dim=1).numpy(), 1.0, atol=1e-12)  # D65 stays D65


def test_conversions_match_colour_and_round_trip():
    expected = colour.RGB_to_RGB(RGB, BT709, BT2020)
    np.testing.assert_allclose(rgb709_to_rgb2020(RGB), expected, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(rgb2020_to_rgb709(RGB), colour.RGB_to_RGB(RGB, BT2020, BT709), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(rgb2020_to_rgb709(rgb709_to_rgb2020(RGB)), RGB, atol=1e-12)


def test_bt2020_green_is_outside_bt709():
    green = rgb2020_to_rgb709(np.array([0.0, 1.0, 0.0]))
    assert green[0] < 0 and green[2] < 0 and green[1] > 1


def test_normalised_primary_matrix_maps_white_to_y_one():
    primaries = torch.tensor([[0.68, 0.32], [0.265, 0.69], [0.15, 0.06]], dtype=torch.float64)  # Display P3
    white = torch.tensor([0.3127, 0.3290], dtype=torch.float64)
    npm = normalised_primary_matrix(primaries, white)
    xyz = npm @ torch.ones(3, dtype=torch.float64)
    np.testing.assert_allclose(xyz.numpy(), [0.3127 / 0.3290, 1.0, (1 - 0.3127 - 0.3290) / 0.3290], atol=1e-12)
    np.testing.assert_allclose(npm.numpy(), colour.RGB_COLOURSPACES["Display P3"].matrix_RGB_to_XYZ, atol=1e-9)


@pytest.mark.parametrize("fn", [rgb709_to_rgb2020, rgb2020_to_rgb709])
def test_dtype_and_numpy(fn):
    x32 = torch.rand(2, 3, 3)
    out = fn(x32)
    assert out.dtype == torch.float32 and out.shape == x32.shape
    out64 = fn(x32.double().numpy())
    assert isinstance(out64, np.ndarray) and out64.dtype == np.float64
    np.testing.assert_allclose(out.numpy(), out64, atol=1e-6)
