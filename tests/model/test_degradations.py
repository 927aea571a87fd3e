"""The SDR degradation models: range, shape, tone curves at known levels, determinism, and the
properties each model promises (Method A's inverse, Method C against colour-science's colour
maths, auto-exposure's invariance and shared grade, gamut clipping)."""

from __future__ import annotations

import json

import colour
import numpy as np
import pytest
import torch
from hdrtv.model.baselines.bt2446a import bt2446a
from hdrtv.model.colour import pq_eotf, pq_inverse_eotf, rgb2020_to_rgb709
from hdrtv.model.training.degradations import (
    DEGRADATIONS,
    Degradation,
    degrade,
    draw_degradation,
    quantise_8bit,
    resolve_degradation,
)

RAMP = torch.tensor([0.05, 0.5, 1.0, 5.0, 10.0, 20.0, 50.0, 100.0, 150.0, 203.0, 300.0, 500.0, 1000.0, 2000.0, 4000.0])


def grey(levels: torch.Tensor, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """Neutral HDR patches (1, n, 1, 3) at the given luminances (cd/m2), one per column."""
    return levels.to(dtype)[None, :, None, None].expand(1, -1, 1, 3).clone()


def code_values(name: str, params: dict[str, float], levels: torch.Tensor = RAMP) -> torch.Tensor:
    """SDR code value (0..1) of neutral grey at each of `levels` cd/m2."""
    return degrade(grey(levels), Degradation(name, params))[0, :, 0, 0]


def drawn(name: str, seed: int = 0) -> Degradation:
    return draw_degradation(name, np.random.default_rng(seed))


@pytest.mark.parametrize("name", DEGRADATIONS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_output_range_shape_dtype_and_determinism(name: str, dtype: torch.dtype) -> None:
    generator = torch.Generator().manual_seed(1)
    hdr = (torch.rand(3, 8, 12, 3, generator=generator, dtype=torch.float64) ** 4 * 4000.0).to(dtype)
    degradation = drawn(name)
    sdr = degrade(hdr, degradation)
    assert sdr.shape == hdr.shape and sdr.dtype == dtype
    assert torch.isfinite(sdr).all() and sdr.min() >= 0.0 and sdr.max() <= 1.0
    assert torch.equal(sdr, degrade(hdr, degradation))


@pytest.mark.parametrize("name", DEGRADATIONS)
def test_grey_ramp_is_monotonic_and_neutral(name: str) -> None:
    sdr = degrade(grey(RAMP), drawn(name))[0, :, 0]
    luma = sdr[:, 1]
    assert (luma[1:] >= luma[:-1]).all()
    assert (luma[:-1] < 1.0).any() and luma[RAMP < 20.0].lt(luma[RAMP == 203.0]).all()  # darker stays darker
    assert torch.allclose(sdr, sdr[:, 1:2].expand(-1, 3), atol=1e-6)  # grey stays grey


@pytest.mark.parametrize("name", DEGRADATIONS)
def test_draw_is_seeded_and_json_serialisable(name: str) -> None:
    first, again, other = drawn(name, 7), drawn(name, 7), drawn(name, 8)
    assert first == again and first.name == name
    assert json.loads(json.dumps(first.params)) == first.params
    resolved = resolve_degradation(grey(RAMP), first)
    assert json.loads(json.dumps(resolved.params)) == resolved.params
    assert name == "bt2446a" or other.params != first.params


def test_unknown_degradation_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown degradation"):
        draw_degradation("sepia", np.random.default_rng(0))


def test_bt2446a_levels() -> None:
    # Hand-computed from section 4.1: 203 cd/m2 -> Y' 0.5146 -> Y'_p 0.7695 -> Y'_c 0.8284 ->
    # Y'_SDR 0.6869; 1000 cd/m2 (Y' = 1) -> Y'_c 1 -> SDR white.
    levels = torch.tensor([203.0, 1000.0, 4000.0])
    assert code_values("bt2446a", {"l_hdr": 1000.0}, levels).tolist() == pytest.approx([0.6869, 1.0, 1.0], abs=1e-4)


def test_bt2446a_is_undone_by_the_projects_inverse_method_a() -> None:
    # Sections 4.1 and 4.2 are fitted to each other, not exact inverses: measured, a grey ramp
    # comes back within 0.0062 PQ (6 % of luminance) over 1..1000 cd/m2, 203 cd/m2 as 203.75.
    levels = torch.tensor([1.0, 5.0, 20.0, 50.0, 100.0, 203.0, 300.0, 500.0, 700.0, 1000.0], dtype=torch.float64)
    sdr = degrade(grey(levels), Degradation("bt2446a", {"l_hdr": 1000.0}))
    back = pq_eotf(bt2446a(sdr))[0, :, 0, 1]
    assert (pq_inverse_eotf(back) - pq_inverse_eotf(levels)).abs().max() < 0.007
    assert back[levels == 203.0].item() == pytest.approx(203.0, rel=0.01)


def _method_c_reference(rgb2020: np.ndarray, alpha: float) -> np.ndarray:
    """Section 6.1 step by step, with colour-science's RGB <-> XYZ <-> xyY and hand-typed curve."""
    bt2020 = colour.RGB_COLOURSPACES["ITU-R BT.2020"]
    crosstalk = np.full((3, 3), alpha) + np.eye(3) * (1.0 - 3.0 * alpha)
    xyy = colour.XYZ_to_xyY(colour.RGB_to_XYZ(rgb2020 @ crosstalk.T, bt2020))
    y_hdr = xyy[..., 2]
    k1, k2, k3, k4 = 0.83802, 15.09968, 0.74204, 78.99439
    y_ip = 58.5 / k1
    xyy[..., 2] = np.where(y_hdr < y_ip, k1 * y_hdr, k2 * np.log(np.maximum(y_hdr / y_ip - k3, 1e-6)) + k4) / 100.0
    sdr2020 = colour.XYZ_to_RGB(colour.xyY_to_XYZ(xyy), bt2020) @ np.linalg.inv(crosstalk).T
    sdr709 = rgb2020_to_rgb709(np.clip(sdr2020, 0.0, 1.0))
    return np.clip(sdr709, 0.0, 1.0) ** (1.0 / 2.4)


@pytest.mark.parametrize("alpha", [0.0, 0.15, 0.33])
def test_bt2446c_matches_the_report_step_by_step(alpha: float) -> None:
    colours = np.array(
        [[30.0, 20.0, 10.0], [5.0, 60.0, 40.0], [150.0, 90.0, 300.0], [400.0, 350.0, 200.0], [900.0, 50.0, 20.0]]
    )
    ours = degrade(torch.from_numpy(colours)[None, None], Degradation("bt2446c", {"alpha": alpha}))[0, 0]
    assert np.allclose(ours.numpy(), _method_c_reference(colours, alpha), atol=2e-6)


def test_bt2446c_levels() -> None:
    # Curve by hand: 50 cd/m2 -> 41.90 cd/m2 (linear part), 203 -> 90.66, 1000 -> 118.4 (clips).
    levels = torch.tensor([50.0, 203.0, 1000.0])
    expected = [0.4190 ** (1 / 2.4), 0.9066 ** (1 / 2.4), 1.0]
    assert code_values("bt2446c", {"alpha": 0.1}, levels).tolist() == pytest.approx(expected, abs=3e-4)


def test_clip_maps_reference_white_to_sdr_white() -> None:
    levels = torch.tensor([101.5, 203.0, 1000.0])
    assert code_values("clip", {"reference_white": 203.0}, levels).tolist() == pytest.approx([0.5 ** (1 / 2.4), 1, 1])


def test_filmic_levels() -> None:
    # Hable's curve: input 2 at 203 cd/m2 is f(2) = 0.3574, white 1000 cd/m2 is f(9.852) = 0.7036:
    # 203 -> 0.508 linear, code 0.754; white and above -> 1.
    params = {"exposure": 2.0, "white_fraction": 1.0}
    values = code_values("filmic", params, torch.tensor([203.0, 1000.0]))
    assert values.tolist() == pytest.approx([0.508 ** (1 / 2.4), 1.0], abs=1e-3)
    assert resolve_degradation(grey(torch.tensor([203.0, 1000.0])), Degradation("filmic", params)).params["white"] == (
        pytest.approx(1000.0)
    )


def test_auto_exposure_maps_the_log_average_to_the_key() -> None:
    scene = grey(torch.tensor([20.0] * 99 + [4000.0]))  # the one highlight (top 1 %) is left out
    params = {"key": 0.18, "white": 4.0}
    resolved = resolve_degradation(scene, Degradation("auto-exposure", params))
    assert resolved.params["log_average"] == pytest.approx(20.0, rel=1e-4)
    linear = 0.18 * (1 + 0.18 / 16.0) / 1.18  # extended Reinhard at the key: 0.1543
    assert degrade(scene, resolved)[0, 0, 0, 0].item() == pytest.approx(linear ** (1 / 2.4), abs=1e-5)


def test_auto_exposure_is_exposure_invariant() -> None:
    generator = torch.Generator().manual_seed(3)
    scene = torch.rand(2, 16, 16, 3, generator=generator, dtype=torch.float64) ** 3 * 800.0
    degradation = Degradation("auto-exposure", {"key": 0.18, "white": 4.0})
    assert torch.allclose(degrade(scene, degradation), degrade(4.0 * scene, degradation), atol=1e-4)


def test_auto_exposure_grades_the_whole_sequence_at_once() -> None:
    generator = torch.Generator().manual_seed(4)
    frame = torch.rand(1, 16, 16, 3, generator=generator, dtype=torch.float64) ** 3 * 400.0
    sequence = torch.cat([frame, 2.0 * frame])  # the light doubles in the second frame
    degradation = Degradation("auto-exposure", {"key": 0.18, "white": 4.0})
    together = degrade(sequence, degradation)
    assert together[1].mean() > together[0].mean() + 0.05  # the change survives
    alone = [degrade(sequence[i : i + 1], degradation)[0] for i in range(2)]
    assert torch.allclose(alone[0], alone[1], atol=1e-4)  # per-frame grading would hide it


@pytest.mark.parametrize("name", DEGRADATIONS)
def test_out_of_gamut_green_clips_without_nan(name: str) -> None:
    # Pure BT.2020 green is outside BT.709: its red and blue go negative there and clip to 0.
    green = torch.tensor([[0.0, 300.0, 0.0], [0.0, 3000.0, 0.0], [0.0, 30.0, 0.0]])[None, None]
    assert (rgb2020_to_rgb709(green)[..., 0] < 0).all()
    sdr = degrade(green, drawn(name))
    assert torch.isfinite(sdr).all() and sdr.min() >= 0.0 and sdr.max() <= 1.0
    assert (sdr[..., 1] > sdr[..., 0]).all() and (sdr[..., 0] == 0).all()


def test_quantise_8bit_rounds_to_code_values() -> None:
    sdr = torch.tensor([-0.1, 0.0, 0.5 / 255.0, 127.49 / 255.0, 254.5 / 255.0, 1.2])
    assert (quantise_8bit(sdr) * 255.0).tolist() == pytest.approx([0.0, 0.0, 1.0, 127.0, 255.0, 255.0])
