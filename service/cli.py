"""The `hdrtv` command line.

Each subcommand is a thin shell over the Python API: it parses arguments, calls one function and
prints its result. Bad input ends in one line on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import argparse
import sys

from .commands import dataset, evaluate, jobs, keys, model, serve, training, video, worker


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hdrtv", description="SDR (BT.709) to HDR10 (PQ, BT.2020) conversion.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    video.add_parsers(commands)
    model.add_parsers(commands)
    serve.add_parsers(commands)
    keys.add_parsers(commands)
    jobs.add_parsers(commands)
    worker.add_parsers(commands)
    evaluate.add_parsers(commands)
    dataset.add_parsers(commands)
    training.add_parsers(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        args.run(args)
    except (ValueError, OSError) as error:
        print(f"hdrtv {args.command}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"hdrtv {args.command}: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
