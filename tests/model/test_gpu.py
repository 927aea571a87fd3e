"""GPU checks: the converter on CUDA agrees with the CPU fp32 reference; the engine's pinned, overlapped
copies, torch.compile and automatic tiles; NVENC where the GPU has it. Skipped without CUDA."""

import json

import numpy as np
import pytest
import torch
from hdrtv.model import build_dslnet, load_converter, save_checkpoint, window_plan
from hdrtv.model.engine import InferenceEngine, measure_local_bytes_per_pixel
from hdrtv.model.metrics import psnr
from hdrtv.model.tiling import auto_tile_size

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")]


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    torch.manual_seed(0)
    model = build_dslnet("M7")
    torch.nn.init.normal_(model.dmfa.offsets.head.weight, std=0.01)
    path = tmp_path_factory.mktemp("w") / "m7.pt"
    save_checkpoint(model, path)
    return path


@pytest.fixture(scope="module")
def frames():
    return np.random.default_rng(0).integers(0, 256, (5, 128, 192, 3), dtype=np.uint8)


def test_cuda_fp32_matches_cpu(weights, frames):
    cpu = load_converter("dslnet", weights=weights).convert(frames)
    gpu = load_converter("dslnet", weights=weights, device="cuda").convert(frames)
    # cuDNN may run fp32 convolutions as TF32 (10-bit mantissa): close, not bit-equal.
    assert psnr(gpu, cpu).min() >= 50


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_cuda_half_precision_keeps_45_db_against_fp32(weights, frames, precision):
    reference = load_converter("dslnet", weights=weights, device="cuda").convert(frames)
    half = load_converter("dslnet", weights=weights, device="cuda", precision=precision).convert(frames)
    assert psnr(half, reference).min() >= 45


def _engine_model():
    torch.manual_seed(0)
    model = build_dslnet("M7")
    torch.nn.init.normal_(model.dmfa.offsets.head.weight, std=0.01)
    return model.eval()


def _engine_run(engine, frames, windows):
    return torch.stack(list(engine.run(torch.from_numpy(frames), windows)))


def test_pinned_overlapped_copies_equal_the_synchronous_path_bitwise(frames):
    """Uploads and downloads on side streams, ordered by stream waits and events: same bits as
    plain blocking copies, whatever the timing (odd sizes too: padding after the upload)."""
    windows = window_plan(len(frames), 2)
    model = _engine_model()
    for clip in (frames, frames[:, :127, :191]):
        sync = _engine_run(InferenceEngine(model, device="cuda", batch_size=2, overlap=False), clip, windows)
        overlapped = InferenceEngine(model, device="cuda", batch_size=2)
        assert overlapped.overlap
        assert torch.equal(_engine_run(overlapped, clip, windows), sync)
        assert torch.equal(_engine_run(overlapped, clip, windows), sync)  # the engine is reusable


@pytest.mark.parametrize("precision, min_db", [("fp32", 50), ("bf16", 45)])
def test_compiled_cuda_engine_keeps_the_accuracy_of_fp32_eager(frames, precision, min_db):
    windows = window_plan(len(frames), 2)
    model = _engine_model()
    reference = _engine_run(InferenceEngine(model, device="cuda", batch_size=2), frames, windows)
    compiled = _engine_run(
        InferenceEngine(model, device="cuda", precision=precision, batch_size=2, compile=True), frames, windows
    )
    assert psnr(compiled, reference).min() >= min_db


def test_auto_tiles_measure_memory_and_fit_it(frames):
    model = _engine_model()
    device = torch.device("cuda")
    per_pixel = measure_local_bytes_per_pixel(model.to(device), device, "bf16")
    assert 100 < per_pixel < 1_000_000  # M7 at width 64 holds tens of full-size activations at a time
    windows = window_plan(len(frames), 2)
    auto = InferenceEngine(model, device=str(device), precision="bf16", batch_size=2, tile_size="auto")
    out = _engine_run(auto, frames, windows)
    assert auto._auto_layouts == {(128, 192): None}  # small frames fit whole
    whole = _engine_run(InferenceEngine(model, device=str(device), precision="bf16", batch_size=2), frames, windows)
    assert torch.equal(out, whole)
    assert auto_tile_size(1.01 * per_pixel * 2 * 128 * 128, 2160, 3840, 2, per_pixel) == 128


def test_nvenc_chunks_carry_the_same_hdr10_description_as_x265(tmp_path):
    """Where the GPU has an NVENC unit (an H100 has none), its chunks decode with the same colour
    tags and HDR10 SEI as x265's."""
    import subprocess
    from fractions import Fraction

    from hdrtv.worker.control.errors import InputError
    from hdrtv.worker.media.encode import HevcChunkEncoder, check_encoder

    try:
        check_encoder("hevc_nvenc")
    except InputError:
        pytest.skip("this GPU has no NVENC")
    frame = np.full((144, 256, 3), 0.5, np.float32)
    for encoder in ("libx265", "hevc_nvenc"):
        with HevcChunkEncoder(
            tmp_path / f"{encoder}.mp4", 256, 144, Fraction(1, 25), Fraction(25), encoder=encoder
        ) as out:
            for i in range(4):
                out.write(frame, i)
    described = []
    for encoder in ("libx265", "hevc_nvenc"):
        command = ["ffprobe", "-v", "error", "-select_streams", "v", "-show_frames", "-show_streams", "-of", "json"]
        found = json.loads(
            subprocess.run([*command, str(tmp_path / f"{encoder}.mp4")], capture_output=True, check=True).stdout
        )
        stream = found["streams"][0]
        sides = {side["side_data_type"] for side in found["frames"][0].get("side_data_list", [])}
        described.append(
            (
                stream["profile"],
                stream["pix_fmt"],
                stream["color_primaries"],
                stream["color_transfer"],
                stream["color_space"],
                stream["color_range"],
                sides,
            )
        )
    assert described[0] == described[1]
    assert described[1][2:6] == ("bt2020", "smpte2084", "bt2020nc", "tv")
