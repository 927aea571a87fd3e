"""`hdrtv eval`: score models on a paired dataset's split, as markdown, JSON and pictures."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from hdrtv.model.options import CONVERTER_NAMES

FORMULAS = tuple(name for name in CONVERTER_NAMES if name != "dslnet")


def _models(specs: list[str] | None, device: str) -> dict:
    """`--model` values -> {label: Converter}: a formula's name, or LABEL=WEIGHTS for a DSLNet
    checkpoint shown as LABEL. Without any: the formulas, and DSLNet if weights ship."""
    from hdrtv.model import converter

    if not specs:
        specs = list(FORMULAS)
        if converter.DEFAULT_WEIGHTS.is_file():
            specs.append(f"dslnet={converter.DEFAULT_WEIGHTS}")
        else:
            print("hdrtv eval: no shipped DSLNet weights: baselines only (add --model dslnet=PATH)", file=sys.stderr)
    models = {}
    for spec in specs:
        label, _, weights = spec.partition("=")
        if not label:
            raise ValueError(f"--model {spec!r}: expected NAME or LABEL=WEIGHTS")
        if label in models:
            raise ValueError(f"--model {label} given twice")
        if label in FORMULAS:
            # The reference formula, not its 3D LUT: the report compares methods, not approximations.
            models[label] = converter.load_converter(label, weights=weights or None, device=device, exact=True)
        elif not weights:
            raise ValueError(
                f"--model {label}: not a formula ({', '.join(FORMULAS)}); give DSLNet weights as {label}=PATH"
            )
        else:
            models[label] = converter.load_converter("dslnet", weights=weights, device=device)
    return models


def _eval(args: argparse.Namespace) -> None:
    from hdrtv.model.training.evaluation import evaluate, split_entries
    from hdrtv.model.training.pictures import write_pictures

    split_entries(args.data, args.split)  # a bad dataset fails before any model loads
    models = _models(args.model, args.device)
    report = evaluate(
        args.data,
        models,
        args.split,
        args.max_sequences,
        args.frames,
        progress=lambda line: print(f"evaluating {line}", file=sys.stderr),
    )
    args.out.mkdir(parents=True, exist_ok=True)
    markdown = report.to_markdown()
    (args.out / "report.md").write_text(markdown)
    (args.out / "report.json").write_text(report.to_json() + "\n")
    if args.pictures:
        write_pictures(args.data, models, args.out / "pictures", args.pictures, args.split)
    print(markdown)


def add_parsers(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("eval", help="compare models on a paired SDR/HDR10 dataset (Table-1 style)")
    parser.add_argument("--data", type=Path, required=True, help="dataset folder (index.json + PNG pairs)")
    parser.add_argument(
        "--model",
        action="append",
        metavar="NAME[=WEIGHTS]",
        help="bt2408, bt2446a, or LABEL=CHECKPOINT for a DSLNet (repeatable; default: the formulas "
        "and the shipped DSLNet weights if any)",
    )
    parser.add_argument("--out", type=Path, default=Path("eval"), help="writes report.md, report.json, pictures/")
    parser.add_argument("--split", default="val", choices=("train", "val"))
    parser.add_argument("--max-sequences", type=int, default=None, help="only the first N sequences of the split")
    parser.add_argument("--frames", type=int, default=None, help="score only the middle K frames of each sequence")
    parser.add_argument("--pictures", type=int, default=4, help="sequences to draw pictures of (0: none)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda[:N]")
    parser.set_defaults(run=_eval)
