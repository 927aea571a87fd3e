"""`hdrtv convert`, `hdrtv probe` and `hdrtv demo-clip`: the single-machine video commands."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from hdrtv.worker.control.settings import ENCODERS, get_settings

MODELS = ("dslnet", "bt2408", "bt2446a")
# The shipped DSLNet (model/weights/README.md) is opt-in: it beats this formula by under 1 dB on our
# validation set yet converts the demo clip 60x slower on a CPU (176 s against 2.9 s), so the
# default stays the better formula.
DEFAULT_MODEL = "bt2446a"


def _convert(args: argparse.Namespace) -> None:
    from hdrtv.worker.pipeline import ConvertOptions, convert_file
    from tqdm import tqdm

    options = ConvertOptions(
        model=args.model,
        weights=args.weights,
        variant=args.variant,
        device=args.device,
        precision=args.precision,
        batch_size=args.batch_size,
        tile_size=args.tile_size,
        compile=args.compile,
        chunk_frames=args.chunk_frames,
        crf=args.crf,
        preset=args.preset,
        encoder=args.encoder,
        max_nits=args.max_nits,
        force=args.force,
        overwrite=args.overwrite,
    )
    with tqdm(unit="frame", disable=args.quiet, dynamic_ncols=True) as bar:

        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.update(done - bar.n)

        summary = convert_file(args.input, args.output, options, progress)
    light = summary.light_level
    print(
        f"wrote {summary.output}: {summary.frames} frames, {summary.duration:.2f} s of video in "
        f"{summary.chunks} chunk(s); MaxCLL {light.max_cll} cd/m2, MaxFALL {light.max_fall} cd/m2; "
        f"{summary.wall_seconds:.1f} s wall ({summary.frames / summary.wall_seconds:.2f} frames/s)"
    )


def batch_size_argument(value: str) -> int | str:
    """--batch-size: a positive number or auto."""
    if value == "auto":
        return value
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"expected a positive number of windows or auto, got {value!r}")
    return int(value)


def tile_size_argument(value: str) -> int | str | None:
    """--tile-size: pixels, auto or none."""
    if value == "auto":
        return value
    if value == "none":
        return None
    try:
        return int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of pixels, auto or none, got {value!r}") from None


def _probe(args: argparse.Namespace) -> None:
    from hdrtv.worker.media.probe import probe

    info = probe(args.file)
    if args.json:
        data = info.to_dict()
        for long_list in ("frame_pts", "keyframe_pts"):
            data.pop(long_list)
        print(json.dumps(data, indent=2))
        return
    hdr = "HDR" if info.is_hdr else "SDR"
    lines = [
        f"{info.path}: {info.container}",
        f"video: {info.codec} {info.profile or ''} {info.width}x{info.height} {info.pix_fmt} "
        f"({info.bit_depth}-bit {info.chroma_subsampling})",
        f"rate: {float(info.frame_rate):.3f} frames/s, {info.frame_count} frames, {info.duration:.3f} s",
        f"colour: primaries={info.color_primaries} transfer={info.color_transfer} "
        f"matrix={info.color_space} range={info.color_range} ({hdr})",
    ]
    if info.mastering_display is not None:
        md = info.mastering_display
        lines.append(f"mastering display: {md.min_luminance}..{md.max_luminance} cd/m2")
    if info.content_light is not None:
        lines.append(f"content light: MaxCLL {info.content_light.max_cll}, MaxFALL {info.content_light.max_fall}")
    lines += [f"audio: {track}" for track in info.audio] + [f"subtitles: {track}" for track in info.subtitles]
    print("\n".join(lines))


def _demo_clip(args: argparse.Namespace) -> None:
    from hdrtv.worker.media.demo_clip import write_demo_clip
    from hdrtv.worker.pipeline import check_output

    check_output(args.output, args.overwrite)
    print(f"wrote {write_demo_clip(args.output)}")


def add_parsers(commands: argparse._SubParsersAction) -> None:
    settings = get_settings()
    convert = commands.add_parser("convert", help="convert an SDR video file into an HDR10 .mkv or .mp4")
    convert.add_argument("input", type=Path, help="SDR video file")
    convert.add_argument("output", type=Path, help="HDR10 output, .mkv or .mp4")
    convert.add_argument("--model", choices=MODELS, default=DEFAULT_MODEL, help=f"converter (default {DEFAULT_MODEL})")
    convert.add_argument("--weights", type=Path, default=None, help="DSLNet checkpoint")
    convert.add_argument("--variant", default=None, help="DSLNet rung/variant the checkpoint must be")
    convert.add_argument("--device", default=settings.device, help="cpu, cuda, cuda:N or auto")
    convert.add_argument("--precision", default=settings.precision, choices=("auto", "fp32", "fp16", "bf16"))
    convert.add_argument(
        "--batch-size",
        type=batch_size_argument,
        default=settings.batch_size,
        help="windows per forward pass, or auto (1 on the CPU, 2 on CUDA)",
    )
    convert.add_argument(
        "--tile-size",
        type=tile_size_argument,
        default=settings.tile_size,
        help="tile edge in pixels, auto (the largest that fits free GPU or host memory) or none (whole frames)",
    )
    convert.add_argument(
        "--compile",
        action=argparse.BooleanOptionalAction,
        default=settings.compile,
        help="torch.compile the model's per-window forward (DSLNet; compiles for tens of seconds first)",
    )
    convert.add_argument("--chunk-frames", type=int, default=settings.chunk_frames, help="frames per chunk")
    convert.add_argument("--crf", type=float, default=settings.crf, help="x265 CRF (lower: better, larger)")
    convert.add_argument(
        "--preset", default=settings.preset, help="x265 preset (ultrafast .. placebo; NVENC: mapped, or p1..p7)"
    )
    convert.add_argument(
        "--encoder",
        default=settings.encoder,
        choices=ENCODERS,
        help="libx265 (CPU) or hevc_nvenc (NVIDIA GPUs with an NVENC unit; same HDR10 metadata)",
    )
    convert.add_argument("--max-nits", type=float, default=settings.max_nits, help="mastering display peak, cd/m2")
    convert.add_argument("--force", action="store_true", help="convert even if the input is already HDR")
    convert.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    convert.add_argument("--quiet", action="store_true", help="no progress bar")
    convert.set_defaults(run=_convert)

    probe = commands.add_parser("probe", help="codec, size, rate, duration, colour tags and HDR metadata of a file")
    probe.add_argument("file", type=Path)
    probe.add_argument("--json", action="store_true", help="machine-readable output")
    probe.set_defaults(run=_probe)

    demo = commands.add_parser("demo-clip", help="write the built-in SDR demo clip (two shots, audio)")
    demo.add_argument("output", type=Path, help="where to write it (.mp4 or .mkv)")
    demo.add_argument("--overwrite", action="store_true", help="replace an existing file")
    demo.set_defaults(run=_demo_clip)
