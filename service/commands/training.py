"""`hdrtv train`: train DSLNet on a pairs dataset from a TOML config, resuming where it stopped."""

from __future__ import annotations

import argparse
from pathlib import Path


def _train(args: argparse.Namespace) -> None:
    from dataclasses import replace

    from hdrtv.model.training.config import TrainConfig
    from hdrtv.model.training.trainer import train

    config = TrainConfig.load(args.config)
    overrides = {
        "data": args.data,
        "variant": args.variant,
        "iterations": args.iterations,
        "device": args.device,
        "init": args.init,
    }
    config = replace(config, **{key: value for key, value in overrides.items() if value is not None})
    result = train(config, args.out, resume=not args.no_resume, progress=not args.quiet)
    print(
        f"trained {result.steps} steps: train loss {result.train_loss:.4f}, best val PSNR "
        f"{result.best_val_psnr:.2f} dB; wrote {result.last}, {result.best}, {result.log}"
    )


def add_parsers(commands: argparse._SubParsersAction) -> None:
    train = commands.add_parser("train", help="train DSLNet on a pairs dataset (resumes from OUT/last.pt)")
    train.add_argument("--config", required=True, help="a training TOML file, or a shipped config: paper, cpu")
    train.add_argument("--data", default=None, help="the pairs dataset folder (overrides the config's data)")
    train.add_argument("--out", type=Path, default=Path("runs/dslnet"), help="folder for checkpoints and log.csv")
    train.add_argument("--variant", default=None, help="the rung or variant to train, e.g. M0 (overrides the config)")
    train.add_argument(
        "--init",
        default=None,
        help="start from these weights (fine-tuning): a checkpoint, or 'shipped' for the project's",
    )
    train.add_argument("--iterations", type=int, default=None, help="total steps (overrides the config)")
    train.add_argument("--device", default=None, help="auto, cpu or cuda[:N] (overrides the config)")
    train.add_argument("--no-resume", action="store_true", help="start over even if OUT/last.pt exists")
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    train.set_defaults(run=_train)
