"""`hdrtv model-info` counts and the ONNX export, through the Python API and the real CLI."""

import subprocess

import onnx
import pytest
import torch
from hdrtv.model.model_info import measure_macs_per_pixel, model_info
from hdrtv.model.network import VARIANTS, build_dslnet
from hdrtv.model.onnx_export import export_onnx, onnx_max_abs_error


def test_measured_macs_equal_a_hand_count_for_the_resnet_rung():
    c = 16
    model = build_dslnet("M0", width=c)
    # stem 3x3 (3->c), 1x1 trunk (4 x c->c), LKQE: 3x3 c->c, 4 blocks x 2 x 3x3, 3x3 c->3.
    expected = 27 * c + 4 * c * c + 9 * c * c + 8 * 9 * c * c + 27 * c
    assert measure_macs_per_pixel(model, (64, 64)) == pytest.approx(expected, rel=1e-3)


def test_model_info_lists_every_variant_with_the_default_size():
    rows = {row.variant: row for row in model_info()}
    assert list(rows) == list(VARIANTS)
    assert 0.837e6 <= rows["M7"].parameters <= 1.023e6  # 0.93M within 10%
    assert 0.4e6 < rows["M7"].macs_per_pixel < 1.5e6
    assert rows["M0"].macs_per_pixel < rows["M2"].macs_per_pixel  # the residual branch costs


@pytest.mark.parametrize("variant", ["M7", "no-align"])
def test_onnx_export_matches_pytorch(tmp_path, variant):
    torch.manual_seed(0)
    model = build_dslnet(variant, width=8, condition_channels=8)
    if model.dmfa.offsets is not None:  # real offsets, not the zero-initialised "no motion"
        torch.nn.init.normal_(model.dmfa.offsets.head.weight, std=0.05)
    path = export_onnx(model, tmp_path / "m.onnx", 32, 48)
    onnx.checker.check_model(str(path))
    assert onnx_max_abs_error(model, path, torch.rand(1, 5, 3, 32, 48)) < 1e-4


def _hdrtv(*args):
    return subprocess.run(["hdrtv", *args], capture_output=True, text=True, timeout=600)


def test_cli_help_lists_the_commands():
    result = _hdrtv("--help")
    assert result.returncode == 0
    for command in ("model-info", "export-onnx"):
        assert command in result.stdout


def test_cli_model_info_prints_the_table():
    result = _hdrtv("model-info", "--width", "16")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("| variant | parameters")
    assert [line.split("|")[1].strip() for line in lines[2:]] == list(VARIANTS)


def test_cli_export_onnx_writes_a_checked_model(tmp_path):
    out = tmp_path / "dslnet.onnx"
    result = _hdrtv("export-onnx", str(out), "--height", "32", "--width", "32")
    assert result.returncode == 0, result.stderr
    assert out.is_file() and "max abs error" in result.stdout
    assert "untrained" not in result.stderr  # the shipped weights by default
    assert onnx.load(str(out)).graph.input[0].name == "frames"
    result = _hdrtv("export-onnx", str(tmp_path / "m0.onnx"), "--variant", "M0", "--height", "32", "--width", "32")
    assert result.returncode == 0 and "exporting an untrained DSLNet M0" in result.stderr


@pytest.mark.parametrize(
    "args, message",
    [
        (["export-onnx", "x.onnx", "--height", "33"], "must be even"),
        (["export-onnx", "x.onnx", "--weights", "/no/such.pt"], "weights file not found"),
    ],
)
def test_cli_bad_input_is_one_line_on_stderr(args, message):
    result = _hdrtv(*args)
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr
