"""`hdrtv dataset ...`: build paired SDR/HDR10 sequence datasets (model/training/pairs.py) for
training and evaluation. One small function and one parser block per builder."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hdrtv.model.training.pairs import SequenceEntry


def _summary(out: Path, entries: list[SequenceEntry]) -> str:
    """'wrote OUT: 8 train sequences (80 frames), 2 val sequences (20 frames)'."""
    parts = []
    for split in ("train", "val"):
        chosen = [e for e in entries if e.split == split]
        parts.append(f"{len(chosen)} {split} sequences ({sum(e.frames for e in chosen)} frames)")
    return f"wrote {out}: {', '.join(parts)}"


def _from_videos(args: argparse.Namespace) -> None:
    from hdrtv.worker.datasets.paired_videos import build_from_videos

    entries = build_from_videos(
        args.output,
        args.pair,
        args.val_pair,
        frames_per_scene=args.frames,
        crop=args.crop,
        crops_per_group=args.crops_per_group,
        seed=args.seed,
    )
    print(_summary(args.output, entries))


def _from_hdr_images(args: argparse.Namespace) -> None:
    from hdrtv.worker.datasets.synthetic_pairs import SyntheticSpec, build_from_hdr_images
    from tqdm import tqdm

    spec = SyntheticSpec(
        frames=args.frames,
        train_size=_size(args.train_size),
        val_size=_size(args.val_size),
        train_sequences_per_image=args.sequences_per_image,
        compression_share=args.compressed,
        seed=args.seed,
        **({"degradations": tuple(args.degradations.split(","))} if args.degradations else {}),
    )
    with tqdm(desc="sequences", unit="seq", disable=None) as bar:

        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.update(done - bar.n)

        entries = build_from_hdr_images(args.output, args.images, spec, progress)
    print(_summary(args.output, entries))


def _size(text: str) -> tuple[int, int]:
    """'256x256' (width x height) -> (height, width)."""
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise ValueError(f"sizes look like 384x224 (width x height), got {text!r}") from None
    return height, width


def add_parsers(commands: argparse._SubParsersAction) -> None:
    dataset = commands.add_parser("dataset", help="build a paired SDR/HDR10 training or test dataset")
    builders = dataset.add_subparsers(dest="builder", required=True, metavar="BUILDER")

    videos = builders.add_parser(
        "from-videos",
        help="sequences from the middle of each shot of SDR/HDR10 video pairs (the HDRTVMF1K recipe)",
    )
    videos.add_argument("output", type=Path, help="new dataset folder (must not exist, or be empty)")
    pair = {"nargs": 2, "type": Path, "metavar": ("SDR", "HDR"), "action": "append", "default": []}
    videos.add_argument("--pair", **pair, help="an SDR video and its HDR10 master, for training (repeatable)")
    videos.add_argument("--val-pair", **pair, help="a pair for validation: full frames, no crops (repeatable)")
    videos.add_argument("--frames", type=int, default=10, help="consecutive frames per shot (default 10)")
    videos.add_argument("--crop", type=int, default=256, help="edge of the square training crops (default 256)")
    videos.add_argument("--crops-per-group", type=int, default=4, help="training crops per shot (default 4)")
    videos.add_argument("--seed", type=int, default=0, help="seed of the crop positions (default 0)")
    videos.set_defaults(run=_from_videos)

    images = builders.add_parser(
        "from-hdr-images",
        help="multi-frame pairs rendered along camera paths over HDR panoramas, SDR by several degradation models",
    )
    images.add_argument("output", type=Path, help="new dataset folder (must not exist, or be empty)")
    images.add_argument(
        "--images",
        type=Path,
        default=Path("../shared/data/hdri"),
        help="folder of .hdr/.exr images (default %(default)s)",
    )
    images.add_argument("--frames", type=int, default=10, help="frames per sequence (default 10)")
    images.add_argument("--train-size", default="256x256", help="training frame size WxH (default 256x256)")
    images.add_argument("--val-size", default="384x224", help="validation frame size WxH (default 384x224)")
    images.add_argument("--sequences-per-image", type=int, default=8, help="training sequences per image (default 8)")
    images.add_argument(
        "--compressed", type=float, default=0.3, help="share of sequences whose SDR goes through H.264 (default 0.3)"
    )
    images.add_argument("--seed", type=int, default=0, help="seed of every random choice (default 0)")
    images.add_argument(
        "--degradations",
        default=None,
        help="comma-separated SDR models, e.g. bt2446c alone for one house style (default: all five: "
        "bt2446a, bt2446c, clip, filmic, auto-exposure)",
    )
    images.set_defaults(run=_from_hdr_images)
