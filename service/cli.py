"""The `hdrtv` command line.

Each subcommand is a thin shell over the Python API: it parses arguments, calls one function and
prints its result. Bad input ends in one line on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ONNX_TOLERANCE = 1e-4


def _model_info(args: argparse.Namespace) -> None:
    from hdrtv.model.model_info import format_table, model_info

    print(format_table(model_info(radius=args.radius, width=args.width)))


def _export_onnx(args: argparse.Namespace) -> None:
    import logging
    import warnings

    import torch

    # The exporter reports on torchvision ops we never use and on its own deprecations.
    logging.getLogger("torch.onnx").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", category=FutureWarning)

    from hdrtv.model.network import build_dslnet, load_checkpoint
    from hdrtv.model.onnx_export import export_onnx, onnx_max_abs_error

    if args.height % 2 or args.width % 2:
        raise ValueError(f"--height and --width must be even, got {args.height}x{args.width}")
    if args.weights is not None:
        if not args.weights.is_file():
            raise ValueError(f"weights file not found: {args.weights}")
        model = load_checkpoint(args.weights)
    else:
        print(f"no --weights given: exporting an untrained DSLNet {args.variant}", file=sys.stderr)
        model = build_dslnet(args.variant)
    path = export_onnx(model, args.output, args.height, args.width)
    frames = torch.rand(1, model.num_frames, 3, args.height, args.width, generator=torch.Generator().manual_seed(0))
    error = onnx_max_abs_error(model, path, frames)
    print(f"wrote {path}; onnxruntime vs PyTorch max abs error {error:.2e}")
    if error > ONNX_TOLERANCE:
        raise ValueError(f"exported model disagrees with PyTorch: max abs error {error:.2e} > {ONNX_TOLERANCE}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hdrtv", description="SDR (BT.709) to HDR10 (PQ, BT.2020) conversion.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    info = commands.add_parser(
        "model-info", help="parameters and measured multiply-adds per pixel of every DSLNet rung and variant"
    )
    info.add_argument("--radius", type=int, default=2, help="temporal radius T (window of 2T+1 frames)")
    info.add_argument("--width", type=int, default=None, help="feature channels (default: the paper-sized 64)")
    info.set_defaults(run=_model_info)

    onnx = commands.add_parser("export-onnx", help="export DSLNet to ONNX and check it with onnxruntime")
    onnx.add_argument("output", type=Path, help="the .onnx file to write")
    onnx.add_argument("--weights", type=Path, default=None, help="checkpoint to export (default: untrained)")
    onnx.add_argument("--variant", default="M7", help="rung or variant when no --weights is given")
    onnx.add_argument("--height", type=int, default=256, help="frame height the graph is built for (even)")
    onnx.add_argument("--width", type=int, default=256, help="frame width the graph is built for (even)")
    onnx.set_defaults(run=_export_onnx)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        args.run(args)
    except (ValueError, OSError) as error:
        print(f"hdrtv {args.command}: error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
