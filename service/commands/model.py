"""`hdrtv model-info` and `hdrtv export-onnx`: inspect and export DSLNet."""

from __future__ import annotations

import argparse
import logging
import sys
import warnings
from pathlib import Path

from hdrtv.model.network import DEFAULT_VARIANT
from hdrtv.worker.control.options import ConversionOptions
from hdrtv.worker.control.settings import get_settings

from .option_flags import add_option_flags, chosen

ONNX_TOLERANCE = 1e-4
BENCH_FLAGS = ("model", "device", "precision", "batch_size", "tile_size", "preset", "encoder")
"""What a bench times, chosen as for a conversion (DSLNet by default); its weights are its own flags."""


def _model_info(args: argparse.Namespace) -> None:
    from hdrtv.model.model_info import format_table, model_info

    print(format_table(model_info(radius=args.radius, width=args.width)))


def _export_onnx(args: argparse.Namespace) -> None:
    import torch
    from hdrtv.model.converter import DEFAULT_WEIGHTS
    from hdrtv.model.network import build_dslnet, load_checkpoint
    from hdrtv.model.onnx_export import export_onnx, onnx_max_abs_error

    # The exporter reports on torchvision ops we never use and on its own deprecations.
    logging.getLogger("torch.onnx").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", category=FutureWarning)
    if args.height % 2 or args.width % 2:
        raise ValueError(f"--height and --width must be even, got {args.height}x{args.width}")
    weights = DEFAULT_WEIGHTS if args.weights is None and args.variant is None else args.weights
    if weights is not None:
        if not weights.is_file():
            raise ValueError(f"weights file not found: {weights}")
        model = load_checkpoint(weights)
    else:
        print(f"no --weights given: exporting an untrained DSLNet {args.variant}", file=sys.stderr)
        model = build_dslnet(args.variant)
    path = export_onnx(model, args.output, args.height, args.width)
    frames = torch.rand(1, model.num_frames, 3, args.height, args.width, generator=torch.Generator().manual_seed(0))
    error = onnx_max_abs_error(model, path, frames)
    print(f"wrote {path}; onnxruntime vs PyTorch max abs error {error:.2e}")
    if error > ONNX_TOLERANCE:
        raise ValueError(f"exported model disagrees with PyTorch: max abs error {error:.2e} > {ONNX_TOLERANCE}")


def _frame_size(text: str) -> tuple[int, int]:
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"frame size must look like 1920x1080, got {text!r}") from None
    if width < 2 or height < 2 or width % 2 or height % 2:
        raise argparse.ArgumentTypeError(f"frame size must be even and at least 2x2, got {text!r}")
    return width, height


def _bench(args: argparse.Namespace) -> None:
    import json

    from hdrtv.worker.bench.report import format_markdown
    from hdrtv.worker.bench.suite import SIZES, run_benchmarks

    if args.frames < 3:  # two shots; and x265 chunks of 2 frames can fail to mux (FFmpeg "not yet implemented")
        raise ValueError(f"--frames must be at least 3, got {args.frames}")
    options = ConversionOptions(model="dslnet").updated(**chosen(args, BENCH_FLAGS), weights=args.weights)
    result = run_benchmarks(
        args.size or SIZES,
        args.frames,
        options,
        args.variant,
        args.upload_uri,
        args.peak_tflops,
        args.compile_rung,
        args.ladder,
    )
    markdown = format_markdown(result)
    print(markdown, end="")
    for path, text in ((args.json, json.dumps(result, indent=2) + "\n"), (args.markdown, markdown)):
        if path is not None:
            path.write_text(text)
            print(f"wrote {path}")


def add_parsers(commands: argparse._SubParsersAction) -> None:
    bench = commands.add_parser(
        "bench", help="per-stage, end-to-end and model throughput and the optimisation ladder on this machine"
    )
    bench.add_argument(
        "--size",
        type=_frame_size,
        action="append",
        help="frame size WIDTHxHEIGHT (even); repeat for several (default: 1920x1080 and 3840x2160)",
    )
    bench.add_argument("--frames", type=int, default=10, help="frames to time per stage (at least 3)")
    add_option_flags(bench, BENCH_FLAGS, get_settings(), model="dslnet")
    bench.add_argument("--weights", type=Path, default=None, help="DSLNet checkpoint (default: untrained)")
    bench.add_argument("--variant", default=DEFAULT_VARIANT, help="DSLNet rung/variant when no --weights")
    bench.add_argument(
        "--upload-uri",
        default=None,
        help="s3:// (or file://) prefix the upload stage writes to (default: a local scratch folder)",
    )
    bench.add_argument(
        "--no-compile",
        dest="compile_rung",
        action="store_false",
        help="leave the torch.compile rung out of the ladder (it compiles for tens of seconds per size)",
    )
    bench.add_argument(
        "--no-ladder",
        dest="ladder",
        action="store_false",
        help="time DSLNet only as the product runs it, without the optimisation ladder (large frames on a CPU)",
    )
    bench.add_argument("--peak-tflops", type=float, default=None, help="the device's peak, overriding the lookup")
    bench.add_argument("--json", type=Path, default=None, help="also write the result as JSON here")
    bench.add_argument("--markdown", type=Path, default=None, help="also write the tables as markdown here")
    bench.set_defaults(run=_bench)

    info = commands.add_parser(
        "model-info", help="parameters and measured multiply-adds per pixel of every DSLNet rung and variant"
    )
    info.add_argument("--radius", type=int, default=2, help="temporal radius T (window of 2T+1 frames)")
    info.add_argument("--width", type=int, default=None, help="feature channels (default: the paper-sized 64)")
    info.set_defaults(run=_model_info)

    onnx = commands.add_parser("export-onnx", help="export DSLNet to ONNX and check it with onnxruntime")
    onnx.add_argument("output", type=Path, help="the .onnx file to write")
    onnx.add_argument("--weights", type=Path, default=None, help="checkpoint to export (default: the shipped one)")
    onnx.add_argument("--variant", default=None, help="export this rung or variant untrained instead, e.g. M0")
    onnx.add_argument("--height", type=int, default=256, help="frame height the graph is built for (even)")
    onnx.add_argument("--width", type=int, default=256, help="frame width the graph is built for (even)")
    onnx.set_defaults(run=_export_onnx)
