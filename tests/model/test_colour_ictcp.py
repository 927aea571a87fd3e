"""ICtCp (BT.2100 PQ) against colour-science's independent implementation."""

import warnings

import numpy as np
import pytest
import torch
from hdrtv.model.colour.ictcp import ictcp_to_rgb2020, rgb2020_to_ictcp
from hdrtv.model.colour.transfer import pq_inverse_eotf

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import colour

METHOD = "ITU-R BT.2100-2 PQ"  # colour 0.4.7 takes RGB in cd/m2 here, with L_p = 10000 as peak.


def _rgb_cd_m2(shape, seed=0):
    """Linear BT.2020 RGB spread log-uniformly over 0.01..10000 cd/m2."""
    rng = np.random.default_rng(seed)
    return 10 ** rng.uniform(-2, 4, size=(*shape, 3))


def test_forward_matches_colour():
    rgb = _rgb_cd_m2((5, 7))
    expected = colour.RGB_to_ICtCp(rgb, method=METHOD, L_p=10000)
    got = rgb2020_to_ictcp(torch.from_numpy(rgb))
    torch.testing.assert_close(got, torch.from_numpy(expected), rtol=0, atol=1e-12)


def test_inverse_matches_colour_and_round_trips():
    rgb = _rgb_cd_m2((4, 6), seed=1)
    ictcp = colour.RGB_to_ICtCp(rgb, method=METHOD, L_p=10000)
    expected = colour.ICtCp_to_RGB(ictcp, method=METHOD, L_p=10000)
    got = ictcp_to_rgb2020(torch.from_numpy(ictcp))
    torch.testing.assert_close(got, torch.from_numpy(expected), rtol=1e-9, atol=1e-9)
    torch.testing.assert_close(got, torch.from_numpy(rgb), rtol=1e-9, atol=1e-9)


def test_grey_has_pq_intensity_and_no_chroma():
    luminance = torch.tensor([0.0, 0.1, 100.0, 1000.0, 10000.0], dtype=torch.float64)
    ictcp = rgb2020_to_ictcp(luminance[:, None].expand(-1, 3))
    torch.testing.assert_close(ictcp[:, 0], pq_inverse_eotf(luminance), rtol=0, atol=1e-12)
    torch.testing.assert_close(ictcp[:, 1:], torch.zeros(5, 2, dtype=torch.float64), rtol=0, atol=1e-12)
    assert ictcp[-1, 0].item() == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_dtype_preserved(dtype):
    rgb = torch.from_numpy(_rgb_cd_m2((3,))).to(dtype)
    assert rgb2020_to_ictcp(rgb).dtype == dtype
    assert ictcp_to_rgb2020(rgb2020_to_ictcp(rgb)).dtype == dtype


def test_numpy_in_numpy_out():
    rgb = _rgb_cd_m2((2, 3))
    ictcp = rgb2020_to_ictcp(rgb)
    assert isinstance(ictcp, np.ndarray) and ictcp.shape == (2, 3, 3)
    assert isinstance(ictcp_to_rgb2020(ictcp), np.ndarray)
