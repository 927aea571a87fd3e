"""The `hdrtv` command line.

Each subcommand is a thin shell over the Python API: it parses arguments, calls one function and
prints its result. Bad input ends in one line on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import argparse
import sys

from hdrtv.model.options import one_line
from pydantic import ValidationError

from .commands import dataset, evaluate, intake_bench, jobs, keys, looks, model, serve, training, video, worker


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hdrtv", description="SDR (BT.709) to HDR10 (PQ, BT.2020) conversion.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    video.add_parsers(commands)
    model.add_parsers(commands)
    serve.add_parsers(commands)
    intake_bench.add_parsers(commands)
    keys.add_parsers(commands)
    jobs.add_parsers(commands)
    worker.add_parsers(commands)
    evaluate.add_parsers(commands)
    dataset.add_parsers(commands)
    training.add_parsers(commands)
    looks.add_parsers(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    try:
        parser = build_parser()  # reads the HDRTV_* settings, the flags' defaults
    except ValidationError as error:
        print(f"hdrtv: error in the HDRTV_* settings: {one_line(error)}", file=sys.stderr)
        return 2
    args = parser.parse_args(argv)
    try:
        args.run(args)
    except ValidationError as error:
        print(f"hdrtv {args.command}: error: {one_line(error)}", file=sys.stderr)
        return 2
    except (ValueError, OSError) as error:
        print(f"hdrtv {args.command}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"hdrtv {args.command}: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
