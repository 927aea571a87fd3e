"""The Python API: load a converter by name and convert SDR frame sequences."""

import numpy as np
import pytest
import torch
from hdrtv.model import converter as converter_module
from hdrtv.model import load_converter, window_plan
from hdrtv.model.baselines import BASELINES
from hdrtv.model.colour.transfer import pq_inverse_eotf
from hdrtv.model.metrics import psnr
from hdrtv.model.model_info import count_parameters
from hdrtv.model.network import VARIANTS, build_dslnet, save_checkpoint


def _weights(tmp_path, width):
    torch.manual_seed(0)
    model = build_dslnet("M7", width=width, condition_channels=8)
    torch.nn.init.normal_(model.dmfa.offsets.head.weight, std=0.05)
    path = tmp_path / f"w{width}.pt"
    save_checkpoint(model, path)
    return path, model.eval()


@pytest.fixture
def tiny_weights(tmp_path):
    return _weights(tmp_path, width=8)


def _frames(t=4, h=12, w=18, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (t, h, w, 3), dtype=np.uint8)


def test_window_plan_replicates_the_ends():
    assert window_plan(3, 2) == [(0, 0, 0, 1, 2), (0, 0, 1, 2, 2), (0, 1, 2, 2, 2)]


@pytest.mark.parametrize("name", list(BASELINES))
def test_baselines_convert_uint8_numpy_to_float32_pq(name):
    frames = _frames()
    hdr = load_converter(name).convert(frames)
    assert isinstance(hdr, np.ndarray) and hdr.dtype == np.float32 and hdr.shape == frames.shape
    assert 0 <= hdr.min() and hdr.max() <= 1
    exact = BASELINES[name](torch.from_numpy(frames).float() / 255).numpy()
    np.testing.assert_allclose(hdr, exact, atol=1 / 1023)  # a 3D LUT of the formula: within a 10-bit code


def test_bt2408_maps_sdr_white_to_203_nits():
    white = np.full((1, 2, 2, 3), 255, dtype=np.uint8)
    hdr = load_converter("bt2408").convert(white)
    np.testing.assert_allclose(hdr, float(pq_inverse_eotf(torch.tensor(203.0))), atol=1e-5)


def test_dslnet_converter_equals_the_network_on_replicated_windows(tiny_weights):
    path, model = tiny_weights
    frames = _frames(t=3)
    hdr = load_converter("dslnet", weights=path, batch_size=2).convert(frames)
    x = torch.from_numpy(frames).float().permute(0, 3, 1, 2) / 255
    with torch.no_grad():
        first = model(x[[0, 0, 0, 1, 2]][None]).clamp(0, 1)[0].permute(1, 2, 0)
        last = model(x[[0, 1, 2, 2, 2]][None]).clamp(0, 1)[0].permute(1, 2, 0)
    np.testing.assert_allclose(hdr[0], first.numpy(), atol=1e-5)
    np.testing.assert_allclose(hdr[2], last.numpy(), atol=1e-5)


def test_odd_sizes_are_padded_for_the_network_and_cropped_back(tiny_weights):
    frames = torch.rand(2, 11, 15, 3)
    hdr = load_converter("dslnet", weights=tiny_weights[0]).convert(frames)
    assert isinstance(hdr, torch.Tensor) and hdr.shape == (2, 11, 15, 3) and hdr.dtype == torch.float32


def test_bf16_channels_last_stays_close_to_fp32(tmp_path):
    path, _ = _weights(tmp_path, width=32)  # wide enough for the channels-last CPU path
    frames = _frames(t=3, h=32, w=32)
    fp32 = load_converter("dslnet", weights=path).convert(frames)
    bf16 = load_converter("dslnet", weights=path, precision="bf16").convert(frames)
    assert psnr(bf16, fp32).min() > 35


def test_variant_must_match_the_checkpoint(tiny_weights):
    assert load_converter("dslnet", weights=tiny_weights[0], variant="M7").radius == 2
    with pytest.raises(ValueError, match="not a DSLNet M0"):
        load_converter("dslnet", weights=tiny_weights[0], variant="M0")


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(name="hdrnet"), "unknown converter 'hdrnet'"),
        (dict(name="dslnet", weights="/no/such/file.pt"), "weights file not found"),
        (dict(name="bt2408", weights="x.pt"), "fixed formula"),
        (dict(name="bt2408", precision="fp64"), "unknown precision"),
        (dict(name="bt2408", precision="fp16"), "fp16 is for GPUs"),
    ],
)
def test_bad_arguments_fail_with_a_message_naming_the_problem(kwargs, message):
    with pytest.raises(ValueError, match=message):
        load_converter(**kwargs)


def test_dslnet_without_weights_runs_the_shipped_checkpoint():
    """The weights of model/weights/ (its README is the model card): a trained M7 over the BT.2446
    Method A prior, so on real-looking frames it must differ from that formula."""
    converter = load_converter("dslnet")
    assert all(converter.model.config[key] == value for key, value in VARIANTS["M7"].items())
    assert converter.model.config["prior"] == "bt2446a"
    card = (converter_module.DEFAULT_WEIGHTS.parent / "README.md").read_text()
    assert f"{count_parameters(converter.model):,} parameters" in card
    frames = _frames(t=5, h=32, w=48)
    hdr = converter.convert(frames)
    prior = load_converter("bt2446a", exact=True).convert(frames)
    assert hdr.shape == frames.shape and 0 <= hdr.min() and hdr.max() <= 1
    assert np.abs(hdr - prior).mean() > 1e-3


def test_a_missing_shipped_checkpoint_is_named(monkeypatch, tmp_path):
    monkeypatch.setattr(converter_module, "DEFAULT_WEIGHTS", tmp_path / "dslnet.pt")
    with pytest.raises(ValueError, match="needs trained weights"):
        load_converter("dslnet")


@pytest.mark.parametrize(
    "frames, message",
    [
        (np.zeros((4, 4, 3), np.uint8), "shape"),
        (np.zeros((1, 4, 4, 4), np.uint8), "shape"),
        (np.zeros((0, 4, 4, 3), np.uint8), "at least one frame"),
        (np.full((1, 4, 4, 3), 1.5, np.float32), r"\[0, 1\]"),
        (np.zeros((1, 4, 4, 3), np.int32), "uint8, uint16 or float"),
    ],
)
def test_bad_frames_fail_with_a_message_naming_the_problem(frames, message):
    with pytest.raises(ValueError, match=message):
        load_converter("bt2408").convert(frames)
