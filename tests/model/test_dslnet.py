"""DSLNet, every rung and variant: shapes, gradients, sizes, locality, checkpoints."""

import pytest
import torch
import torch.nn.functional as F
from hdrtv.model.network import VARIANTS, DSLNet, build_dslnet, load_checkpoint, save_checkpoint
from hdrtv.model.network.stfm import upsample_crop

TINY = dict(width=8, condition_channels=8)


def _tiny(variant: str, **kw) -> DSLNet:
    torch.manual_seed(0)
    return build_dslnet(variant, **{**TINY, **kw})


def _move_offsets(model: DSLNet, scale: float = 1e-2) -> None:
    """Give the zero-initialised offset head random weights, as training would, so offsets vary."""
    if model.dmfa.offsets is not None:
        torch.nn.init.normal_(model.dmfa.offsets.head.weight, std=scale)
        torch.nn.init.normal_(model.dmfa.offsets.head.bias, std=scale)


def test_default_model_has_the_papers_parameter_count():
    params = sum(p.numel() for p in build_dslnet().parameters())
    assert abs(params - 0.93e6) <= 0.093e6, params


def test_offset_head_starts_from_no_motion():
    model = _tiny("M7")
    stacked = torch.rand(1, 15, 16, 16)
    offset, mask = model.dmfa.offsets(stacked)
    assert offset.shape == (1, 2 * 5 * 9, 16, 16) and mask.shape == (1, 5 * 9, 16, 16)
    assert offset.abs().max() == 0 and torch.all(mask == 0.5)


def test_offsets_are_bounded():
    model = _tiny("M7", max_offset=3.0)
    _move_offsets(model, scale=10.0)
    offset, _ = model.dmfa.offsets(torch.rand(1, 15, 16, 16))
    assert offset.abs().max() <= 3.0 and offset.abs().max() > 1.0


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_every_variant_runs_forward_and_backward_and_trains_every_parameter(variant):
    model = _tiny(variant).train()
    _move_offsets(model)
    frames = torch.rand(2, 5, 3, 32, 48)
    out = model(frames)
    assert out.shape == (2, 3, 32, 48) and torch.isfinite(out).all()
    (out - torch.rand_like(out)).abs().mean().backward()
    untouched = [name for name, p in model.named_parameters() if p.grad is None or p.grad.abs().sum() == 0]
    assert not untouched, untouched


@pytest.mark.parametrize("radius", [1, 2, 3])
def test_temporal_radius_is_a_constructor_argument(radius):
    model = _tiny("M7", radius=radius).eval()
    assert model(torch.rand(1, 2 * radius + 1, 3, 16, 16)).shape == (1, 3, 16, 16)
    with pytest.raises(ValueError, match="expected frames"):
        model(torch.rand(1, 2 * radius + 3, 3, 16, 16))


@pytest.mark.parametrize("size", [(2, 2), (6, 10), (38, 22), (64, 130)])
def test_any_even_size_works(size):
    model = _tiny("M7").eval()
    with torch.no_grad():
        assert model(torch.rand(1, 5, 3, *size)).shape == (1, 3, *size)


def test_odd_sizes_are_refused_with_a_clear_error():
    with pytest.raises(ValueError, match="even"):
        _tiny("M7")(torch.rand(1, 5, 3, 17, 16))


def test_variants_differ_as_the_paper_describes():
    def count(variant):
        return sum(p.numel() for p in build_dslnet(variant).parameters())

    assert count("M0") < count("M1") < count("M2")  # modules are added, not swapped
    assert count("no-align") > count("M7") and count("no-modulation") > count("M7")  # Tables 4, 5
    assert build_dslnet("M0").dmfa.alignment == "single" and build_dslnet("mresnet").dmfa.alignment == "concat"
    assert build_dslnet("M5").dmfa.offsets.dynamic is None and build_dslnet("M7").dmfa.offsets.dynamic is not None


def test_dynamic_kernels_are_per_sample():
    model = _tiny("M7").eval()
    _move_offsets(model)
    frames = torch.rand(3, 5, 3, 24, 24)
    with torch.no_grad():
        batched = model(frames)
        one_by_one = torch.cat([model(frames[i : i + 1]) for i in range(3)])
    torch.testing.assert_close(batched, one_by_one, rtol=1e-5, atol=1e-5)


def test_upsample_crop_equals_cropping_the_full_upsampled_map():
    low = torch.rand(2, 4, 5, 7, dtype=torch.float64)
    full = F.interpolate(low, size=(70, 98), mode="bilinear", align_corners=False)
    crop = upsample_crop(low, (70, 98), (12, 30), (40, 50))
    torch.testing.assert_close(crop, full[..., 12:52, 30:80], rtol=1e-12, atol=1e-12)


def test_fully_convolutional_away_from_the_borders_given_the_whole_frames_context():
    """A tile's output equals the same crop of the whole frame's output, away from the tile's
    borders, when the global parts (dynamic kernels, modulation vectors and map) come from the
    whole frame."""
    model = _tiny("M7").double().eval()
    _move_offsets(model, scale=0.1)
    frames = torch.rand(1, 5, 3, 300, 300, dtype=torch.float64)
    y0, x0, size, margin = 20, 16, 272, 128
    with torch.no_grad():
        context = model.context(frames)
        whole = model(frames, context)
        tile = model(frames[..., y0 : y0 + size, x0 : x0 + size], context, origin=(y0, x0))
    inner = slice(margin, size - margin)
    expected = whole[..., y0 : y0 + size, x0 : x0 + size][..., inner, inner]
    torch.testing.assert_close(tile[..., inner, inner], expected, rtol=1e-9, atol=1e-9)
    # ...and the tile's own border does differ: the test would notice a missing context.
    assert (tile[..., :4, :4] - whole[..., y0 : y0 + 4, x0 : x0 + 4]).abs().max() > 1e-6


def test_checkpoint_round_trip_rebuilds_the_same_network(tmp_path):
    model = _tiny("M4", radius=1).eval()
    save_checkpoint(model, tmp_path / "m.pt")
    loaded = load_checkpoint(tmp_path / "m.pt").eval()
    assert loaded.config == model.config
    frames = torch.rand(1, 3, 3, 16, 16)
    with torch.no_grad():
        torch.testing.assert_close(loaded(frames), model(frames))


def test_a_network_with_a_prior_starts_as_that_baseline_and_learns_a_residual_over_it(tmp_path):
    from hdrtv.model.baselines import bt2446a

    model = _tiny("M7", prior="bt2446a")
    frames = torch.rand(2, 5, 3, 16, 24)
    expected = bt2446a(frames[:, 2].movedim(1, -1)).movedim(-1, 1)
    with torch.no_grad():
        torch.testing.assert_close(model.eval()(frames), expected, rtol=0, atol=0)
    # The zero-initialised last layer still trains, and so does everything behind it.
    model.train()
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-3)
    for _ in range(2):
        optimiser.zero_grad()
        (model(frames) - expected - 0.1).abs().mean().backward()
        optimiser.step()
    with torch.no_grad():
        moved = model.eval()(frames)
    assert (moved - expected).abs().mean() > 1e-4
    save_checkpoint(model, tmp_path / "m.pt")
    loaded = load_checkpoint(tmp_path / "m.pt").eval()
    assert loaded.config["prior"] == "bt2446a"
    with torch.no_grad():
        torch.testing.assert_close(loaded(frames), moved)


def test_an_unknown_prior_is_refused_by_name():
    with pytest.raises(ValueError, match="unknown prior 'bt9999'; choose from bt2408, bt2446a"):
        build_dslnet("M7", prior="bt9999")
