"""GPU checks: the converter on CUDA agrees with the CPU fp32 reference. Skipped without CUDA."""

import numpy as np
import pytest
import torch
from hdrtv.model import build_dslnet, load_converter, save_checkpoint
from hdrtv.model.metrics import psnr

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
