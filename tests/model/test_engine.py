"""InferenceEngine: DSLNet over streams of windows, with per-frame reuse, tiles, lazy reading and
chunk-invariant results; and `Converter.run`, the one streaming call for every converter."""

import copy
import os

import pytest
import torch
import torch.nn.functional as F
from hdrtv.model import engine as engine_module
from hdrtv.model import load_converter
from hdrtv.model.baselines import BASELINES
from hdrtv.model.device_memory import LiveTensorBytes, free_bytes
from hdrtv.model.engine import AUTO_TILE_MARGIN, InferenceEngine, measure_local_bytes_per_pixel, prepare_model
from hdrtv.model.frame_stream import window_batches
from hdrtv.model.metrics import psnr
from hdrtv.model.network import build_dslnet, save_checkpoint
from hdrtv.model.tiling import TileLayout, auto_tile_size, frame_tiles
from hdrtv.model.windows import window_plan


def _tiny(variant="M7"):
    torch.manual_seed(0)
    model = build_dslnet(variant, width=8, condition_channels=8)
    if model.dmfa.offsets is not None:  # non-zero offsets, as after training
        torch.nn.init.normal_(model.dmfa.offsets.head.weight, std=1e-2)
        torch.nn.init.normal_(model.dmfa.offsets.head.bias, std=1e-2)
    with torch.no_grad():
        model.lkqe.body[-1].bias.fill_(0.5)  # outputs mid-range: clamping to [0, 1] hides no difference
    return model.eval()


def _long_range(model):
    """17 x 17 kernels that carry signal over their whole reach, so that tile borders show."""
    for module in model.modules():
        if isinstance(module, torch.nn.Conv2d) and module.kernel_size == (17, 17):
            torch.nn.init.normal_(module.weight, std=2 / 17)
    return model


def _frames(t, h=64, w=96):
    """Scene-scale structure (so ConditionNet's features and the spatial map vary) plus noise."""
    generator = torch.Generator().manual_seed(t * h + w)
    coarse = torch.rand(t, 3, h // 16 + 2, w // 16 + 2, generator=generator)
    smooth = F.interpolate(coarse, size=(h, w), mode="bilinear", align_corners=False)
    return (0.8 * smooth + 0.2 * torch.rand(t, 3, h, w, generator=generator)).permute(0, 2, 3, 1).contiguous()


def _run(converter, frames, windows):
    return torch.stack(list(converter.run(frames, windows)))


def _direct(model, frames, windows):
    """The network on each window's stacked frames, one window at a time."""
    x = frames.permute(0, 3, 1, 2)
    with torch.no_grad():
        return torch.stack([model(x[list(w)][None])[0] for w in windows]).clamp(0, 1).permute(0, 2, 3, 1)


@pytest.mark.parametrize("variant, naive_calls", [("M7", 5 * 7), ("M1", 7), ("mresnet", 0)])
def test_engine_equals_the_network_and_runs_condition_net_once_per_frame(variant, naive_calls):
    model = _tiny(variant)
    frames, windows = _frames(7), window_plan(7, 2, [4])
    seen = []
    if naive_calls:
        model.stfm.condition.register_forward_hook(lambda module, args, out: seen.append(len(args[0])))
    reused = _run(InferenceEngine(model, batch_size=3), frames, windows)
    assert sum(seen) == (7 if naive_calls else 0)  # each of the 7 frames once
    seen.clear()
    naive = _run(InferenceEngine(model, batch_size=3, reuse=False), frames, windows)
    assert sum(seen) == naive_calls  # TFM: all 5 frames of each window; CFM alone: the centre
    direct = _direct(model, frames, windows)
    torch.testing.assert_close(reused, direct, rtol=0, atol=1e-5)
    torch.testing.assert_close(naive, direct, rtol=0, atol=1e-5)
    assert reused.dtype == torch.float32 and reused.shape == (7, 64, 96, 3)


def test_receptive_radius_is_119_pixels():
    """Measured along rows: one output pixel's gradient reaches 119 px of input (LKQE 38, STFM 39,
    the offset estimator 42); tiles exact beyond it are what `tiling.py` promises."""
    model = _long_range(_tiny()).double()
    x = torch.rand(1, 5, 3, 16, 256, dtype=torch.float64)
    with torch.no_grad():
        context = model.context(x)
    x.requires_grad_(True)
    model(x, context)[0, :, 8, 128].sum().backward()
    cols = torch.nonzero(x.grad.abs().sum(dim=(0, 1, 2, 3)))
    assert max(128 - cols.min(), cols.max() - 128) == 119


def test_tiles_with_overlap_beyond_the_receptive_radius_equal_the_whole_frame():
    model = _long_range(_tiny())
    frames, windows = _frames(5, 32, 320), [(0, 1, 2, 3, 4)]
    whole = _run(InferenceEngine(model, batch_size=1), frames, windows)
    # Output used >= 128 - 16 / 2 = 120 px from each tile's edge: beyond the receptive radius.
    exact = _run(InferenceEngine(model, batch_size=1, tile_size=288, tile_overlap=128), frames, windows)
    torch.testing.assert_close(exact, whole, rtol=0, atol=1e-5)  # measured: 3e-7
    # Hard seams with 32 px of context do differ beyond 1e-4: the check can fail.
    seams = _run(InferenceEngine(model, batch_size=1, tile_size=128, tile_ramp=0), frames, windows)
    assert (seams - whole).abs().max() > 1e-4


def test_tiles_blended_across_the_default_overlap_stay_above_50_db():
    model = _long_range(_tiny())
    frames, windows = _frames(5, 192, 256), [(0, 1, 2, 3, 4)]
    whole = _run(InferenceEngine(model, batch_size=1), frames, windows)
    tiled = _run(InferenceEngine(model, batch_size=1, tile_size=128), frames, windows)  # 2 x 3 tiles
    assert psnr(tiled, whole) >= 50 and (tiled - whole).abs().max() > 0


@pytest.mark.parametrize(
    "size, overlap, ramp, height, width",
    [(128, 32, 16, 64, 96), (128, 32, 16, 1080, 1920), (512, 130, 0, 1080, 1920), (68, 32, 48, 130, 258)],
)  # the last: tiles so close that ramps meet
def test_tiles_start_even_cover_the_frame_and_their_weights_sum_to_one(size, overlap, ramp, height, width):
    layout = TileLayout(size, overlap, ramp)
    total = torch.zeros(height, width)
    for tile in frame_tiles(height, width, layout, torch.device("cpu")):
        assert tile.y0 % 2 == 0 and tile.x0 % 2 == 0 and tile.weight.min() >= 0
        tile.crop(total).add_(tile.weight)
        # Weights vanish within overlap - ramp / 2 of an edge that is not the frame's.
        margin = overlap - ramp // 2
        if tile.x0 > 0:
            assert tile.weight[:, :margin].max() == 0
        if tile.y0 + tile.height < height:
            assert tile.weight[-margin:].max() == 0
    torch.testing.assert_close(total, torch.ones(height, width), rtol=0, atol=1e-6)


def test_odd_sizes_are_replicated_to_even_and_cropped_back():
    model = _tiny()
    frames, windows = _frames(3, 63, 95), window_plan(3, 2)
    out = _run(InferenceEngine(model, batch_size=2), frames, windows)
    padded = F.pad(frames.permute(0, 3, 1, 2), (0, 1, 0, 1), mode="replicate").permute(0, 2, 3, 1)
    torch.testing.assert_close(out, _direct(model, padded, windows)[:, :63, :95], rtol=0, atol=1e-5)
    tiled = _run(InferenceEngine(model, batch_size=2, tile_size=48, tile_overlap=8, tile_ramp=8), frames, windows)
    assert tiled.shape == (3, 63, 95, 3) and psnr(tiled, out).min() >= 50


def test_frames_are_read_only_when_needed_and_released_when_no_later_window_needs_them():
    frames, windows, read = _frames(10, 16, 16), window_plan(10, 2), []

    def source():
        for i, frame in enumerate(frames):
            read.append(i)
            yield frame

    for k, _ in enumerate(InferenceEngine(_tiny(), batch_size=3).run(source(), windows)):
        last_centre = min(9, 3 * (k // 3) + 2)
        assert len(read) == min(10, last_centre + 2 + 1)  # the batch's last window reaches centre + T
    for batch, stream in window_batches(frames, windows, 3, lambda frame: frame):
        held = [i for i in range(10) if i in stream]
        assert held == list(range(min(batch[0]), max(batch[-1]) + 1))


@pytest.mark.parametrize(
    "windows, message", [([(2, 2, 2, 3, 4), (0, 0, 0, 1, 2)], "goes back"), ([(0, 1, 2)], "the model needs 5")]
)
def test_bad_windows_fail_with_a_message_naming_the_problem(windows, message):
    with pytest.raises(ValueError, match=message):
        list(InferenceEngine(_tiny(), batch_size=1).run(_frames(5, 8, 8), windows))


@pytest.mark.parametrize("k, cuts", [(6, [3, 6]), (5, [2, 6])])
def test_chunks_give_bitwise_the_frames_of_one_pass(k, cuts):
    """Frames [0, n) in one pass, or as chunks emitting [0, k) and [k, n), the second decoded from
    frame k - T: a cut inside the first chunk, and one at or next to the chunk edge."""
    n, radius, frames = 11, 2, _frames(11, 32, 48)
    engine = InferenceEngine(_tiny(), batch_size=4)
    whole = _run(engine, frames, window_plan(n, radius, cuts))
    first = _run(engine, frames[: k + radius], window_plan(n, radius, cuts, range(0, k)))
    start = k - radius
    second = [tuple(i - start for i in w) for w in window_plan(n, radius, cuts, range(k, n))]
    assert torch.equal(torch.cat([first, _run(engine, frames[start:], second)]), whole)


def test_baseline_converters_stream_each_windows_centre_frame():
    frames, windows = _frames(4, 8, 12), window_plan(4, 2, [2])  # window 1 is (0, 0, 1, 1, 1)
    out = _run(load_converter("bt2446a", batch_size=3, exact=True), frames, windows)
    torch.testing.assert_close(out, BASELINES["bt2446a"](frames).clamp(0, 1), rtol=0, atol=1e-6)


def test_dslnet_converter_streams_like_convert_and_loads_its_weights_once(tmp_path):
    save_checkpoint(_tiny(), tmp_path / "m.pt")
    one, two = load_converter("dslnet", weights=tmp_path / "m.pt"), load_converter("dslnet", weights=tmp_path / "m.pt")
    assert one.model is two.model
    frames = _frames(4, 16, 24)
    torch.testing.assert_close(_run(one, frames, window_plan(4, 2)), one.convert(frames), rtol=0, atol=0)


@pytest.mark.parametrize("tile_size", [None, 64])
def test_channels_last_engine_equals_the_eager_nchw_network_to_float_rounding(tile_size):
    """Width 64 takes the CPU fast path (channels-last, fused in-place modulation, channels-last
    deformable columns and spatial map); it only reassociates float sums, so it matches the plain
    fp32 NCHW network: on whole frames the network itself, on tiles the same engine kept NCHW."""
    torch.manual_seed(0)
    model = build_dslnet("M7")
    torch.nn.init.normal_(model.dmfa.offsets.head.weight, std=1e-2)
    torch.nn.init.normal_(model.dmfa.offsets.head.bias, std=1e-2)
    with torch.no_grad():
        model.lkqe.body[-1].bias.fill_(0.5)
    model.eval()
    frames, windows = _frames(6), window_plan(6, 2, emit=range(2, 4))
    if tile_size is None:
        reference = _direct(model, frames, windows)
    else:
        nchw = InferenceEngine(copy.deepcopy(model), batch_size=2, tile_size=tile_size, tile_overlap=16, tile_ramp=8)
        nchw.model.to(memory_format=torch.contiguous_format)
        reference = _run(nchw, frames, windows)
    engine = InferenceEngine(copy.deepcopy(model), batch_size=2, tile_size=tile_size, tile_overlap=16, tile_ramp=8)
    assert engine.model.lkqe.body[0].weight.is_contiguous(memory_format=torch.channels_last)
    out = _run(engine, frames, windows)
    assert (out - reference).abs().max() < 1e-5


def _compile_model(width):
    torch.manual_seed(0)
    model = build_dslnet("M7", width=width, condition_channels=8)
    torch.nn.init.normal_(model.dmfa.offsets.head.weight, std=1e-2)
    with torch.no_grad():
        model.lkqe.body[-1].bias.fill_(0.5)
    return model.eval()


@pytest.mark.parametrize(
    "width, tile_size",
    [(8, 32), (32, None)],  # NCHW with 2 tiles (origins vary: context and tiles under compile); channels-last whole
)
def test_compiled_engine_equals_the_eager_engine(width, tile_size):
    """torch.compile (inductor's C++ backend here) of the local part; it may reorder float sums.
    Slow by nature: each case compiles a tiny DSLNet (tens of seconds, twice for two tile origins)."""
    model = _compile_model(width)
    frames, windows = _frames(6, 32, 48), window_plan(6, 2, emit=range(2, 4))  # 2 windows of 5 frames
    options = dict(batch_size=2, tile_size=tile_size, tile_overlap=8, tile_ramp=8)
    eager = _run(InferenceEngine(copy.deepcopy(model), **options), frames, windows)
    engine = InferenceEngine(copy.deepcopy(model), compile=True, **options)
    assert engine.model.lkqe.body[0].weight.is_contiguous(memory_format=torch.channels_last) == (width >= 32)
    compiled = _run(engine, frames, windows)
    assert compiled.shape == eager.shape == (2, 32, 48, 3)
    assert (compiled - eager).abs().max() <= 1e-4


def _computed_pixels(size, height, width, overlap=32):
    return sum(t.height * t.width for t in frame_tiles(height, width, TileLayout(size, overlap), torch.device("cpu")))


def test_auto_tile_size_is_whole_frames_when_they_fit_else_the_fitting_multiple_of_32_computing_least():
    mib = 2**20
    # 1080p, batch 2, 1000 bytes/pixel: whole frames need 2 * 1000 * 1920 * 1080 = 3955 MiB.
    assert auto_tile_size(4000 * mib, 1080, 1920, 2, 1000) is None
    # 1000 MiB: s * s * 2000 <= 1048576000 -> s <= 724. 704 px tiles cover 1080p in 3 x 2 (2.97 MP);
    # 576 px tiles in 4 x 2 (2.65 MP): less work, and less memory.
    assert auto_tile_size(1000 * mib, 1080, 1920, 2, 1000) == 576
    assert _computed_pixels(576, 1080, 1920) < _computed_pixels(704, 1080, 1920)
    # A short frame: tiles are min(s, 200) high; up to 1280 fits, 992 is the narrowest pair of
    # tiles covering 1920 columns with 2 x 32 px of overlap.
    assert auto_tile_size(500 * mib, 200, 1920, 2, 1000) == 992
    assert auto_tile_size(2000 * 96 * 96, 1080, 1920, 2, 1000) == 96  # the smallest for overlap 32
    with pytest.raises(ValueError, match="lower the batch size"):
        auto_tile_size(2000 * 96 * 95, 1080, 1920, 2, 1000)
    # 2160p on the CPU (3.1 kB/pixel, 17.7 GB to spare): 1120 px tiles, 4 x 2 = 10.0 MP of work
    # where the largest that fits (1664, 3 x 2) would compute 16.6 MP, twice the frame.
    size = auto_tile_size(17.7e9, 2160, 3840, 2, 3132)
    fitting = [s for s in range(96, 1700, 32) if 2 * 3132 * s * s <= 17.7e9]
    assert size == 1120 == min(fitting, key=lambda s: (_computed_pixels(s, 2160, 3840), -s))
    size = auto_tile_size(300 * mib, 2160, 3840, 1, 3000, overlap=64)
    assert size % 32 == 0 and 3000 * size * size <= 300 * mib
    TileLayout(size, 64)  # a size the layout takes


def test_auto_tiles_on_the_cpu_are_whole_frames_when_the_host_has_room():
    frames, windows = _frames(5, 32, 48), window_plan(5, 2, emit=range(2, 3))
    engine = InferenceEngine(_tiny(), batch_size=1, tile_size="auto")
    torch.testing.assert_close(
        _run(engine, frames, windows), _run(InferenceEngine(_tiny(), batch_size=1), frames, windows), rtol=0, atol=0
    )
    assert engine._auto_layouts == {(32, 48): None}
    with pytest.raises(ValueError, match="'auto'"):
        InferenceEngine(_tiny(), tile_size="big")


def test_auto_tiles_on_the_cpu_cut_frames_that_the_host_memory_cannot_hold(monkeypatch):
    """A machine with little memory (stood in for by what `free_bytes` reports: this one has
    plenty) gets tiles sized from the measured bytes per pixel, and the same picture."""
    model = _tiny()
    frames, windows = _frames(5, 192, 256), window_plan(5, 2, emit=range(2, 3))
    cpu = torch.device("cpu")
    per_pixel = measure_local_bytes_per_pixel(prepare_model(copy.deepcopy(model), cpu), cpu)
    monkeypatch.setattr(engine_module, "free_bytes", lambda device: per_pixel * 130 * 130 / (1 - AUTO_TILE_MARGIN))
    engine = InferenceEngine(copy.deepcopy(model), batch_size=1, tile_size="auto")
    tiled = _run(engine, frames, windows)
    assert engine._auto_layouts[(192, 256)].size == 128
    whole = _run(InferenceEngine(copy.deepcopy(model), batch_size=1), frames, windows)
    assert psnr(tiled, whole) >= 50


def test_cpu_memory_measurement_matches_what_the_network_allocates():
    """Bytes per pixel counted on the CPU: the network's 64-channel fp32 feature maps alone are
    256 bytes per pixel each, several alive at once; and the host's free memory is real."""
    device = torch.device("cpu")
    per_pixel = measure_local_bytes_per_pixel(prepare_model(build_dslnet("M7"), device), device)
    assert 4 * 256 < per_pixel < 40 * 256
    assert 0 < free_bytes(device) <= os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def test_live_tensor_bytes_counts_what_is_held_at_once_not_what_was_ever_made():
    with torch.inference_mode(), LiveTensorBytes() as counter:
        a = torch.zeros(1000)  # 4,000 bytes
        b = a.view(10, 100).add_(1)  # a view and an in-place op: no new storage
        for _ in range(3):
            c = torch.ones(500) * 2  # 2,000 bytes for `ones`, 2,000 for the product; both freed
            del c
        held_inside = counter.held
    del a, b
    assert counter.peak == 4000 + 2000 + 2000
    assert held_inside == 4000 and counter.held == 0
