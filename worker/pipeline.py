"""Convert one SDR video file into an HDR10 file: probe, find shots, plan chunks, convert and
encode each chunk, assemble.

The steps are the ones the distributed workers run (a chunk task runs `convert_chunk`, the
assemble task runs `assemble`); `convert_file` is the same sequence on one machine, so a local
conversion and a cluster conversion give the same frames.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from hdrtv.model import Converter, load_converter
from hdrtv.model.windows import window_plan
from torch import Tensor

from .control.errors import InputError
from .control.options import ConversionOptions, output_suffix
from .formats import output_format
from .formats.static_metadata import ContentLightLevel, MasteringDisplay
from .media.assemble import assemble
from .media.chunks import Chunk, plan_chunks
from .media.decode import decode_frames
from .media.encode import HevcChunkEncoder, check_encoder
from .media.light_level import LightLevelMeter
from .media.probe import VideoInfo, probe, refuse_hdr
from .media.scenes import detect_shot_starts
from .stage_pipeline import StagePipeline


@dataclass(frozen=True)
class ConvertSummary:
    output: Path
    frames: int
    duration: float  # seconds of video
    light_level: ContentLightLevel
    chunks: int
    wall_seconds: float


def check_output(output: Path, overwrite: bool, source: Path | None = None) -> None:
    """Refuse, before any work, an output we could not or must not write."""
    output_suffix(str(output))
    if source is not None and output.exists() and output.resolve() == source.resolve():
        raise InputError(f"{output}: the output would overwrite the input")
    if output.exists() and not overwrite:
        raise InputError(f"{output}: already exists (use --overwrite to replace it)")
    directory = output.parent
    if not directory.is_dir():
        raise InputError(f"{directory}: output directory does not exist")
    if not os.access(directory, os.W_OK | os.X_OK):
        raise InputError(f"{directory}: output directory is not writable")


def chunk_windows(info: VideoInfo, chunk: Chunk, shot_starts: list[int], converter: Converter) -> list[tuple[int, ...]]:
    """The converter's windows for the frames `chunk` emits, as indices into its decoded frames
    (`chunk.decode_start` on); windows never cross the video's shot boundaries (replicate padding
    instead)."""
    plan = window_plan(info.frame_count, converter.radius, shot_starts, emit=range(chunk.start, chunk.stop))
    return [tuple(index - chunk.decode_start for index in window) for window in plan]


def chunk_hdr_frames(info: VideoInfo, chunk: Chunk, shot_starts: list[int], converter: Converter) -> Iterator[Tensor]:
    """The HDR10 frames (h, w, 3) float32 PQ that `chunk` emits, decoding only its frames and
    context, in the caller's thread."""
    windows = chunk_windows(info, chunk, shot_starts, converter)
    return converter.run(decode_frames(info, chunk.decode_start, chunk.decode_stop), windows)


def convert_chunk(
    info: VideoInfo,
    chunk: Chunk,
    shot_starts: list[int],
    converter: Converter,
    path: Path,
    mastering: MasteringDisplay,
    options: ConversionOptions,
    progress: Callable[[int], None] | None = None,
) -> LightLevelMeter:
    """Convert and encode the frames `chunk` emits into `path`; returns their light levels.

    Decoding, the model and encoding run concurrently (`StagePipeline`): decoding and the model
    each in a thread, encoding (and `progress`, once per frame written) in the caller's. The
    output is the same as running them one after the other. x265 sizes its thread pool to every
    core of the process (`HevcChunkEncoder`): its workers take the cores that decoding and the
    model leave idle; on the CPU, torch's intra-op threads compete with them for the same cores,
    and the scheduler shares them out.
    """
    windows = chunk_windows(info, chunk, shot_starts, converter)
    decoded = decode_frames(info, chunk.decode_start, chunk.decode_stop)
    with (
        HevcChunkEncoder(
            path,
            info.width,
            info.height,
            info.time_base,
            info.frame_rate,
            crf=options.crf,
            preset=options.preset,
            mastering=mastering,
            encoder=options.encoder,
            output_format=output_format(options.format),
        ) as encoder,
        StagePipeline(decoded, lambda frames: converter.run(frames, windows)) as hdr_frames,
    ):
        for index, hdr in zip(range(chunk.start, chunk.stop), hdr_frames, strict=True):
            encoder.write(hdr, pts=info.frame_pts[index])
            if progress is not None:
                progress(1)
    return encoder.meter


def convert_file(
    source: str | Path,
    output: str | Path,
    options: ConversionOptions = ConversionOptions(),
    progress: Callable[[int, int], None] | None = None,
) -> ConvertSummary:
    """SDR video file -> HDR10 .mkv/.mp4 with the source's audio and subtitles; `progress` is
    called with (frames finished, frames in all) as frames finish."""
    started = time.monotonic()
    source, output = Path(source), Path(output)
    check_output(output, options.overwrite, source)
    check_encoder(options.encoder)
    fmt = output_format(options.format)
    info = probe(source)
    refuse_hdr(info, options.force)
    converter = load_converter(options=options)
    mastering = MasteringDisplay(max_luminance=options.max_nits)
    shot_starts = detect_shot_starts(decode_frames(info))
    chunks = plan_chunks(info.frame_count, shot_starts, options.chunk_frames, converter.radius)
    meter = LightLevelMeter()
    done = 0

    def advance(frames: int) -> None:
        nonlocal done
        done += frames
        if progress is not None:
            progress(done, info.frame_count)

    with tempfile.TemporaryDirectory(prefix=f".{output.name}.", dir=output.parent) as scratch:
        paths = [Path(scratch) / f"chunk{chunk.index:05d}.mp4" for chunk in chunks]
        for chunk, path in zip(chunks, paths):
            meter.merge(convert_chunk(info, chunk, shot_starts, converter, path, mastering, options, advance))
        light_level = meter.result()
        assemble(paths, output, source, light_level, mastering, overwrite=options.overwrite, output_format=fmt)
    return ConvertSummary(output, info.frame_count, info.duration, light_level, len(chunks), time.monotonic() - started)
