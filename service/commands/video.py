"""`hdrtv convert`, `hdrtv probe` and `hdrtv demo-clip`: the single-machine video commands."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from hdrtv.worker.control.options import ConversionOptions
from hdrtv.worker.control.settings import get_settings

from .option_flags import add_option_flags, chosen

CONVERT_FLAGS = tuple(ConversionOptions.model_fields)  # every option, for one run


def _convert(args: argparse.Namespace) -> None:
    from hdrtv.worker.pipeline import convert_file
    from tqdm import tqdm

    choices = chosen(args, CONVERT_FLAGS)
    if args.look is not None:
        from hdrtv.model.looks import look_weights

        from .looks import looks_folder

        if args.weights is not None:
            raise ValueError("give --look or --weights, not both")
        choices |= {"model": "dslnet", "weights": look_weights(looks_folder(), args.look, args.allow_rejected)}
    options = ConversionOptions().updated(**choices)
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
    add_option_flags(convert, CONVERT_FLAGS, settings)
    convert.add_argument(
        "--look", default=None, help="convert with this look (`hdrtv looks list`; generic: the shipped DSLNet)"
    )
    convert.add_argument("--allow-rejected", action="store_true", help="use a look even if it was rejected")
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
