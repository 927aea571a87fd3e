"""Pairs of SDR and HDR10 videos of the same content (a catalogue's SDR and HDR masters) -> a
paired sequence dataset (`hdrtv.model.training.pairs`), by the HDRTVMF1K recipe.

Per pair, shots are cut on the SDR video (`detect_shot_starts`); every shot of at least
`frames_per_scene` frames gives one group of that many consecutive frames from its middle (away
from the cut and any fade into it). Train pairs give `crops_per_group` random crop x crop windows
per group, at even offsets (4:2:0 chroma sites) and the same window for every frame of the group,
so a sequence stays one moving picture; val pairs give full frames.

The HDR side is stored as coded: PQ BT.2020 R'G'B' code values. `decode_frames` moves BT.2020
primaries to BT.709 (the model's input); told the primaries are untagged, its plan applies none,
and its Y'CbCr -> R'G'B' step is all that remains (`_pq_frames`).

Decoding: the SDR video is read twice, once whole for its cuts (the middle of a shot is known only
when the shot ends, and holding a shot until then is unbounded memory), then with the HDR video in
lockstep over the span of the chosen groups, one frame of each at a time, written as it arrives.
The dataset is built in a hidden sibling folder and renamed into place at the end: a failed
build leaves nothing, and an existing dataset is never overwritten.
"""

from __future__ import annotations

import dataclasses
import os
import secrets
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from hdrtv.model.training.pairs import INDEX, SequenceEntry, Split, write_hdr_png, write_index, write_sdr_png

from ..control.errors import InputError
from ..media.colour_tags import HDR_TRANSFERS
from ..media.decode import decode_frames
from ..media.probe import VideoInfo, probe
from ..media.scenes import DEFAULT_THRESHOLD, detect_shot_starts

_RATE_TOLERANCE = 5e-4
"""Relative frame-rate difference still taken as equal: containers round average rates (MKV
keeps milliseconds), while 24 and 24000/1001 frames/s differ by 1e-3."""


@dataclass(frozen=True)
class _Pair:
    sdr: VideoInfo
    hdr: VideoInfo
    split: Split
    prefix: str  # unique among the pairs: sequence names start with it


@dataclass(frozen=True)
class _Sequence:
    """Where one sequence's frames come from: `entry.frames` frames from `first`, cropped to
    `window` (top, left; None: full frames)."""

    entry: SequenceEntry
    first: int
    window: tuple[int, int] | None


def _check_out(out: Path) -> None:
    if (out / INDEX).exists():
        raise InputError(f"{out}: already holds a dataset ({INDEX}); datasets are never overwritten")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise InputError(f"{out}: already exists and is not an empty folder")
    if not out.parent.is_dir():
        raise InputError(f"{out.parent}: output directory does not exist")


def _probe_pair(sdr_path: Path, hdr_path: Path) -> tuple[VideoInfo, VideoInfo]:
    """Both videos, refused in one line unless they are SDR and HDR10 of the same frames."""
    sdr, hdr = probe(sdr_path), probe(hdr_path)
    if sdr.is_hdr:
        raise InputError(f"{sdr_path}: is HDR ({HDR_TRANSFERS[sdr.color_transfer]}); the first of a pair must be SDR")
    if hdr.color_transfer != "smpte2084" or hdr.color_primaries not in ("bt2020", None):
        raise InputError(
            f"{hdr_path}: not HDR10 (transfer {hdr.color_transfer}, primaries {hdr.color_primaries}; "
            "expected smpte2084 and bt2020)"
        )
    if (sdr.width, sdr.height) != (hdr.width, hdr.height):
        raise InputError(
            f"{hdr_path}: frame size {hdr.width}x{hdr.height} differs from {sdr.width}x{sdr.height} of {sdr_path}"
        )
    if sdr.frame_count != hdr.frame_count:
        raise InputError(f"{hdr_path}: {hdr.frame_count} frames, but {sdr_path} has {sdr.frame_count}")
    if abs(hdr.frame_rate - sdr.frame_rate) > _RATE_TOLERANCE * sdr.frame_rate:
        raise InputError(
            f"{hdr_path}: {float(hdr.frame_rate):.3f} frames/s, but {sdr_path} has {float(sdr.frame_rate):.3f}"
        )
    return sdr, hdr


def _prefixes(paths: list[Path]) -> list[str]:
    """Each video's stem, made unique with -2, -3 ... where stems repeat."""
    taken: set[str] = set()
    prefixes = []
    for path in paths:
        prefix, count = path.stem, 1
        while prefix in taken:
            count += 1
            prefix = f"{path.stem}-{count}"
        taken.add(prefix)
        prefixes.append(prefix)
    return prefixes


def _groups(shot_starts: list[int], frame_count: int, frames: int) -> list[tuple[int, int, int]]:
    """(shot index, first frame of the group, shot length) for each shot of at least `frames` frames."""
    ends = [*shot_starts[1:], frame_count]
    return [
        (shot, start + (end - start - frames) // 2, end - start)
        for shot, (start, end) in enumerate(zip(shot_starts, ends))
        if end - start >= frames
    ]


def _sequences(
    pair: _Pair, frames: int, crop: int, crops: int, rng: np.random.Generator, threshold: float
) -> list[_Sequence]:
    """The sequences one pair gives: one per group (val) or `crops` per group (train)."""
    info = pair.sdr
    sdr_source, source = str(Path(info.path).resolve()), str(Path(pair.hdr.path).resolve())
    shot_starts = detect_shot_starts(decode_frames(info), threshold)
    out = []
    for shot, first, shot_frames in _groups(shot_starts, info.frame_count, frames):
        facts = {"sdr_source": sdr_source, "shot": shot, "first_frame": first, "shot_frames": shot_frames}
        if pair.split == "val":
            windows: list[tuple[int, int] | None] = [None]
        else:
            tops = 2 * rng.integers(0, (info.height - crop) // 2 + 1, size=crops)
            lefts = 2 * rng.integers(0, (info.width - crop) // 2 + 1, size=crops)
            windows = [(int(top), int(left)) for top, left in zip(tops, lefts)]
        for index, window in enumerate(windows):
            name = f"{pair.prefix}-s{shot:03d}" + ("" if window is None else f"-c{index}")
            height, width = (info.height, info.width) if window is None else (crop, crop)
            attributes = facts if window is None else {**facts, "crop_top": window[0], "crop_left": window[1]}
            entry = SequenceEntry(name, pair.split, frames, height, width, source, "graded", attributes)
            out.append(_Sequence(entry, first, window))
    return out


def _pq_frames(info: VideoInfo, start: int, stop: int) -> Iterator[np.ndarray]:
    """Frames `start..stop-1` of an HDR10 stream as coded: (h, w, 3) uint16 PQ BT.2020 R'G'B'
    (code value * 65535), with no move to BT.709 primaries."""
    return decode_frames(dataclasses.replace(info, color_primaries=None), start, stop)


def _write_frames(root: Path, pair: _Pair, sequences: list[_Sequence]) -> None:
    """Decode the span of `sequences` from both videos in lockstep and write each frame where it belongs."""
    start = min(s.first for s in sequences)
    stop = max(s.first + s.entry.frames for s in sequences)
    frames = zip(decode_frames(pair.sdr, start, stop), _pq_frames(pair.hdr, start, stop))
    for index, (sdr, hdr) in enumerate(frames, start):
        for sequence in sequences:
            local = index - sequence.first
            if not 0 <= local < sequence.entry.frames:
                continue
            rows, columns = slice(None), slice(None)
            if sequence.window is not None:
                top, left = sequence.window
                rows, columns = slice(top, top + sequence.entry.height), slice(left, left + sequence.entry.width)
            entry = sequence.entry
            write_sdr_png(entry.frame_path(root, "sdr", local), sdr[rows, columns].astype(np.float32) / 65535.0)
            write_hdr_png(entry.frame_path(root, "hdr", local), hdr[rows, columns])


def build_from_videos(
    out: str | Path,
    train_pairs: list[tuple[Path, Path]],
    val_pairs: list[tuple[Path, Path]],
    frames_per_scene: int = 10,
    crop: int = 256,
    crops_per_group: int = 4,
    seed: int = 0,
    threshold: float = DEFAULT_THRESHOLD,
) -> list[SequenceEntry]:
    """Build a dataset at `out` (a new or empty folder) from (SDR, HDR10) video pairs; returns its
    index. Every pair is checked before any frame is decoded; crops are drawn from `seed`."""
    out = Path(out)
    if frames_per_scene < 1 or crops_per_group < 1 or crop < 2 or crop % 2:
        raise ValueError(
            f"need frames >= 1, crops per group >= 1 and an even crop >= 2; "
            f"got {frames_per_scene}, {crops_per_group}, {crop}"
        )
    if not train_pairs and not val_pairs:
        raise ValueError("no video pairs given")
    _check_out(out)
    given = [(Path(s), Path(h), "train") for s, h in train_pairs] + [(Path(s), Path(h), "val") for s, h in val_pairs]
    pairs = []
    for (sdr_path, hdr_path, split), prefix in zip(given, _prefixes([s for s, _, _ in given])):
        sdr, hdr = _probe_pair(sdr_path, hdr_path)
        if split == "train" and crop > min(sdr.width, sdr.height):
            raise InputError(f"{sdr_path}: frame size {sdr.width}x{sdr.height} is smaller than the {crop}x{crop} crop")
        pairs.append(_Pair(sdr, hdr, split, prefix))
    rng = np.random.default_rng(seed)
    temp = out.parent / f".{out.name}.{secrets.token_hex(4)}.partial"
    temp.mkdir()
    try:
        entries = []
        for pair in pairs:
            sequences = _sequences(pair, frames_per_scene, crop, crops_per_group, rng, threshold)
            if sequences:
                _write_frames(temp, pair, sequences)
            entries += [s.entry for s in sequences]
        if not entries:
            raise InputError(f"no shot of at least {frames_per_scene} frames in any pair; nothing to write")
        write_index(temp, entries)
        os.rename(temp, out)
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise
    return entries
