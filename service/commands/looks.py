"""`hdrtv looks create|list|show`: looks (DSLNet fitted to a catalogue's own SDR and HDR pairs, see
`hdrtv.model.looks`) in the folder of looks (`HDRTV_LOOKS_DIR`); `hdrtv convert --look NAME` uses one."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from hdrtv.worker.control.settings import get_settings

DEFAULT_ITERATIONS = 1000


def looks_folder() -> Path:
    """Where looks are kept: `HDRTV_LOOKS_DIR`, else ~/.local/share/hdrtv/looks."""
    configured = get_settings().looks_dir
    return Path(configured) if configured else Path.home() / ".local" / "share" / "hdrtv" / "looks"


def _create(args: argparse.Namespace) -> None:
    from dataclasses import replace

    from hdrtv.model.looks import check_name, create_look
    from hdrtv.model.training.config import TrainConfig

    check_name(args.name)  # before anything loads or trains
    config = replace(TrainConfig.load(args.config), data=str(args.pairs), iterations=args.iterations)
    config = replace(config, device=args.device) if args.device else config
    look = create_look(
        looks_folder(),
        args.name,
        config,
        base=args.base,
        frames=args.frames,
        progress=None if args.quiet else lambda line: print(f"evaluating {line}", file=sys.stderr),
    )
    print(_line(look))
    if look.state == "rejected":
        print(
            f"look {look.name!r} is rejected: it does not beat {look.best_formula} on its held-out pairs; "
            "`hdrtv convert --look` refuses it unless --allow-rejected",
            file=sys.stderr,
        )


def _list(args: argparse.Namespace) -> None:
    from hdrtv.model.looks import list_looks

    looks = list_looks(looks_folder())
    if not looks:
        print(f"no looks in {looks_folder()} (make one with `hdrtv looks create`)")
    for look in looks:
        print(_line(look))


def _show(args: argparse.Namespace) -> None:
    from hdrtv.model.looks import get_look, look_dir

    look = get_look(looks_folder(), args.name)
    print(_line(look))
    print(f"made from {look.data} ({look.steps} steps from {look.base})\n")
    print((look_dir(looks_folder(), args.name) / "report.md").read_text())


def _line(look) -> str:
    return (
        f"{look.name}: {look.state}, {look.psnr:.2f} dB PSNR and {look.delta_e_itp:.2f} dE ITP on its held-out pairs; "
        f"best formula {look.best_formula} {look.best_formula_psnr:.2f} dB and {look.best_formula_delta_e_itp:.2f} "
        f"({look.margin_db:+.2f} dB)"
    )


def add_parsers(commands: argparse._SubParsersAction) -> None:
    looks = commands.add_parser("looks", help="make and inspect looks: DSLNet fitted to your own SDR/HDR pairs")
    actions = looks.add_subparsers(dest="action", required=True, metavar="ACTION")
    create = actions.add_parser(
        "create", help="fine-tune a look on a pairs dataset's train split and judge it on its val split"
    )
    create.add_argument("name", help="lower-case letters, digits, '-' or '_'")
    create.add_argument(
        "--pairs", type=Path, required=True, help="a pairs dataset (`hdrtv dataset from-videos` makes one)"
    )
    create.add_argument("--base", default="generic", help="look to start from: generic (shipped), a look, a checkpoint")
    create.add_argument(
        "--iterations", type=int, default=DEFAULT_ITERATIONS, help=f"training steps (default {DEFAULT_ITERATIONS})"
    )
    create.add_argument("--config", default="cpu", help="training recipe: a TOML file or a shipped name (default cpu)")
    create.add_argument("--device", default=None, help="cpu or cuda[:N] (default: the recipe's)")
    create.add_argument(
        "--frames", type=int, default=None, help="score only the middle K frames of each held-out sequence"
    )
    create.add_argument("--quiet", action="store_true", help="no progress")
    create.set_defaults(run=_create)
    listing = actions.add_parser("list", help="the looks made, with their held-out scores")
    listing.set_defaults(run=_list)
    show = actions.add_parser("show", help="one look and its report card")
    show.add_argument("name")
    show.set_defaults(run=_show)
