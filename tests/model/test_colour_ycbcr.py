"""R'G'B' <-> Y'CbCr code values against colour-science and the standards' code points."""

import warnings

import numpy as np
import pytest
import torch
from hdrtv.model.colour.ycbcr import quantise, rgb_to_ycbcr, rgb_to_ypbpr, ycbcr_to_rgb, ypbpr_to_rgb

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import colour

WEIGHTS = {"bt709": colour.WEIGHTS_YCBCR["ITU-R BT.709"], "bt2020": colour.WEIGHTS_YCBCR["ITU-R BT.2020"]}
RGB = np.random.default_rng(3).uniform(0.0, 1.0, size=(50, 3))
CASES = [(m, n, full) for m in ("bt709", "bt2020") for n in (8, 10, 16) for full in (False, True)]


@pytest.mark.parametrize(("matrix", "bit_depth", "full_range"), CASES)
def test_integer_codes_match_colour(matrix, bit_depth, full_range):
    expected = colour.RGB_to_YCbCr(
        RGB, K=WEIGHTS[matrix], in_bits=bit_depth, out_bits=bit_depth, out_legal=not full_range, out_int=True
    )
    got = quantise(rgb_to_ycbcr(RGB, matrix, bit_depth, full_range), bit_depth)
    np.testing.assert_array_equal(got, expected)
    back = colour.YCbCr_to_RGB(
        expected, K=WEIGHTS[matrix], in_bits=bit_depth, in_legal=not full_range, in_int=True, out_legal=False
    )
    got_rgb = ycbcr_to_rgb(expected.astype(np.float64), matrix, bit_depth, full_range)
    np.testing.assert_allclose(got_rgb, back, atol=1e-12)


@pytest.mark.parametrize(("matrix", "bit_depth"), [("bt709", 10), ("bt2020", 8)])
def test_unrounded_limited_range_matches_colour(matrix, bit_depth):
    # Non-integer output of colour is normalised by 2^n - 1; undo that to compare code values.
    normalised = colour.RGB_to_YCbCr(RGB, K=WEIGHTS[matrix], out_bits=bit_depth, out_legal=True, out_int=False)
    expected = normalised * (2**bit_depth - 1)
    np.testing.assert_allclose(rgb_to_ycbcr(RGB, matrix, bit_depth), expected, rtol=1e-12)


@pytest.mark.parametrize(
    ("bit_depth", "full_range", "black", "white", "blue_cb"),
    [(8, False, 16, 235, 240), (10, False, 64, 940, 960), (16, False, 4096, 60160, 61440), (10, True, 0, 1023, 1023.5)],
)
def test_standard_code_points(bit_depth, full_range, black, white, blue_cb):
    mid = 2 ** (bit_depth - 1)
    codes = rgb_to_ycbcr(np.array([[0.0, 0, 0], [1, 1, 1], [0, 0, 1]]), "bt2020", bit_depth, full_range)
    np.testing.assert_allclose(codes[0], [black, mid, mid])
    np.testing.assert_allclose(codes[1], [white, mid, mid])
    np.testing.assert_allclose(codes[2, 1], blue_cb)  # pure blue: Pb = +0.5, the chroma maximum


@pytest.mark.parametrize(("matrix", "bit_depth", "full_range"), CASES)
def test_round_trip(matrix, bit_depth, full_range):
    back = ycbcr_to_rgb(rgb_to_ycbcr(RGB, matrix, bit_depth, full_range), matrix, bit_depth, full_range)
    np.testing.assert_allclose(back, RGB, atol=1e-12)


def test_ypbpr_luma_and_colour_difference_ranges():
    ypbpr = rgb_to_ypbpr(np.eye(3), "bt709")
    np.testing.assert_allclose(ypbpr[:, 0], [0.2126, 0.7152, 0.0722])
    assert ypbpr[2, 1] == pytest.approx(0.5) and ypbpr[0, 2] == pytest.approx(0.5)
    np.testing.assert_allclose(ypbpr_to_rgb(rgb_to_ypbpr(RGB, "bt2020"), "bt2020"), RGB, atol=1e-12)


def test_quantise_rounds_half_up_and_clips():
    got = quantise(np.array([511.5, 512.5, 1030.0, -3.0, 100.49]), 10)
    np.testing.assert_array_equal(got, [512.0, 513.0, 1023.0, 0.0, 100.0])


def test_dtype_numpy_and_validation():
    x32 = torch.rand(4, 3)
    codes = rgb_to_ycbcr(x32, "bt709")
    assert codes.dtype == torch.float32 and ycbcr_to_rgb(codes, "bt709").dtype == torch.float32
    torch.testing.assert_close(ycbcr_to_rgb(codes, "bt709"), x32, atol=1e-5, rtol=0)
    assert isinstance(rgb_to_ycbcr(RGB, "bt709"), np.ndarray)
    with pytest.raises(ValueError):
        rgb_to_ycbcr(RGB, "bt709", bit_depth=6)
