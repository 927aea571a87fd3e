"""PSNR, SSIM, Delta E ITP and flicker: known values, reference implementations, shapes."""

import warnings

import numpy as np
import pytest
import torch
from hdrtv.model.metrics import delta_e_itp, flicker, psnr, sr_sim, ssim
from skimage.metrics import structural_similarity

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import colour


def _images(*shape, seed=0):
    return torch.rand(*shape, 3, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def _noisy(x, amplitude, seed=1):
    noise = torch.randn(x.shape, generator=torch.Generator().manual_seed(seed), dtype=x.dtype)
    return (x + amplitude * noise).clamp(0, 1)


def test_psnr_of_known_error():
    target = _images(8, 9) * 0.9
    assert psnr(target + 0.01, target).item() == pytest.approx(40.0, abs=1e-9)
    assert psnr(target + 0.1, target).item() == pytest.approx(20.0, abs=1e-9)
    assert psnr(target + 0.01, target, peak=10.0).item() == pytest.approx(60.0, abs=1e-9)


def test_psnr_pools_all_channels():
    target = _images(4, 4) * 0.5
    pred = target.clone()
    pred[..., 0] += 0.03  # MSE 0.0009 on one channel of three -> 0.0003 overall.
    assert psnr(pred, target).item() == pytest.approx(10 * np.log10(1 / 0.0003), abs=1e-9)


def test_ssim_matches_skimage():
    target = _images(3, 37, 52)
    pred = _noisy(target, 0.1)
    got = ssim(pred, target)
    expected = [
        structural_similarity(
            p.numpy(),
            t.numpy(),
            gaussian_weights=True,
            sigma=1.5,
            use_sample_covariance=False,
            data_range=1,
            channel_axis=-1,
        )
        for p, t in zip(pred, target)
    ]
    torch.testing.assert_close(got, torch.tensor(expected, dtype=torch.float64), rtol=0, atol=1e-10)
    assert ssim(target, target).tolist() == pytest.approx([1.0] * 3, abs=1e-12)


def test_ssim_rejects_images_smaller_than_the_window():
    with pytest.raises(ValueError, match="11 x 11"):
        ssim(_images(10, 20), _images(10, 20))


def _ictcp_via_colour(pq_rgb):
    """colour-science's own chain: ST 2084 EOTF (cd/m2) -> ICtCp."""
    return colour.RGB_to_ICtCp(colour.models.eotf_ST2084(pq_rgb), method="ITU-R BT.2100-2 PQ")


def test_delta_e_itp_matches_colour():
    target = _images(2, 6, 7)
    pred = _noisy(target, 0.05)
    expected = colour.difference.delta_E_ITP(_ictcp_via_colour(pred.numpy()), _ictcp_via_colour(target.numpy()))
    got = delta_e_itp(pred, target)
    np.testing.assert_allclose(got.numpy(), expected.mean(axis=(-2, -1)), rtol=0, atol=1e-6)
    assert delta_e_itp(target, target).tolist() == [0.0, 0.0]


def test_delta_e_itp_one_jnd_on_grey():
    """Grey R = G = B has I equal to its PQ code, so a code step of 1/720 is exactly 1 JND."""
    grey = torch.linspace(0.1, 0.9, 12, dtype=torch.float64).reshape(3, 4, 1).expand(3, 4, 3)
    assert delta_e_itp(grey + 1 / 720, grey).item() == pytest.approx(1.0, abs=1e-9)
    assert delta_e_itp(grey + 0.01, grey).item() == pytest.approx(7.2, abs=1e-9)


def test_flicker_zero_when_changes_match():
    target = _images(2, 5, 6, 7)
    assert flicker(target, target).tolist() == [0.0, 0.0]
    assert flicker(target * 0.5 + 0.2, target * 0.5 + 0.2 - 0.1).max().item() < 1e-15


def test_flicker_grows_with_jitter():
    target = _images(6, 8, 8) * 0.8
    steps = torch.randn(6, 1, 1, 1, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    values = [flicker(target + a * steps, target).item() for a in (0.0, 0.001, 0.01, 0.05)]
    assert values[0] == 0.0
    assert all(b > a for a, b in zip(values, values[1:]))
    # A uniform per-frame offset a*s_t flickers by a * mean |s_{t+1} - s_t|.
    assert values[2] == pytest.approx(0.01 * steps.diff(dim=0).abs().mean().item(), rel=1e-9)


def test_flicker_needs_two_frames():
    with pytest.raises(ValueError, match="t >= 2"):
        flicker(_images(1, 4, 4), _images(1, 4, 4))
    with pytest.raises(ValueError, match="t >= 2"):
        flicker(_images(4, 4), _images(4, 4))


METRICS = [psnr, ssim, sr_sim, delta_e_itp]


@pytest.mark.parametrize("metric", METRICS)
def test_one_value_per_image(metric):
    target = _images(2, 3, 24, 28)
    pred = _noisy(target, 0.02)
    assert metric(pred[0, 0], target[0, 0]).shape == ()
    assert metric(pred[0], target[0]).shape == (3,)
    batch = metric(pred, target)
    assert batch.shape == (2, 3)
    torch.testing.assert_close(batch[1, 2], metric(pred[1, 2], target[1, 2]), rtol=1e-12, atol=0)


@pytest.mark.parametrize("metric", [*METRICS, flicker])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_dtype_and_numpy(metric, dtype):
    target = _images(2, 24, 28).to(dtype)
    pred = _noisy(target, 0.02)
    assert metric(pred, target).dtype == dtype
    out = metric(pred.numpy(), target.numpy())
    assert isinstance(out, np.ndarray) and out.dtype == torch.empty(0, dtype=dtype).numpy().dtype
    np.testing.assert_allclose(out, metric(pred, target).numpy(), rtol=1e-6)


@pytest.mark.parametrize("metric", [*METRICS, flicker])
def test_shape_mismatch_is_an_error(metric):
    with pytest.raises(ValueError, match="differ in shape"):
        metric(_images(2, 24, 28), _images(2, 24, 27))
