"""`hdrtv dataset from-hdr-images`: multi-frame SDR/HDR10 training pairs from real HDR images.

For each HDR image (a panorama: see `hdrtv.model.training.camera`), sequences of consecutive
frames are rendered along random camera paths and graded into HDR10 display light
(`hdr_scene`): that is the ground truth. Each sequence's SDR version comes from one degradation
model (`degradations`: BT.2446 Methods A and C, a clip at reference white, a filmic curve, a
per-scene auto-exposure grade; each ends with BT.2020 -> BT.709 gamut mapping), 8-bit
quantisation and, for a share of sequences, an H.264 encode and decode (real SDR masters are
compressed). Every random choice comes from a generator seeded by (seed, image name, sequence),
so a build is reproducible and one image's sequences do not change when others are added.

Validation images are held out of training entirely (`VALIDATION_IMAGES`, chosen to span the
library's content: a studio, a daylight square, a covered market, a forest, a church interior,
a night square and a sunset); each gets one sequence per degradation model and motion is drawn
as for training. A folder without any of those names holds out every seventh image instead.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from hdrtv.model.colour import pq_inverse_eotf
from hdrtv.model.training.camera import MOTIONS, draw_camera_path, render_path
from hdrtv.model.training.degradations import (
    DEGRADATIONS,
    degrade,
    draw_degradation,
    quantise_8bit,
    resolve_degradation,
)
from hdrtv.model.training.hdr_scene import HDR_IMAGE_SUFFIXES, apply_grade, draw_grade, read_hdr_image
from hdrtv.model.training.pairs import SequenceEntry, Split, write_hdr_png, write_index, write_sdr_png

from .sdr_compression import h264_roundtrip

VALIDATION_IMAGES = (
    "brown_photostudio_02",
    "esplanade",
    "leadenhall_market",
    "phalzer_forest_01",
    "st_fagans_interior",
    "st_peters_square_night",
    "venice_sunset",
)
# Moving paths dominate; static shots keep the single-frame case covered.
_MOTION_WEIGHTS = (0.25, 0.1, 0.2, 0.15, 0.2, 0.1)


@dataclass(frozen=True)
class SyntheticSpec:
    """What to render. Sizes are (height, width), even. degradations: the SDR models used, e.g.
    one alone for a dataset of a single house style (`hdrtv train --init` fine-tunes on it)."""

    frames: int = 10
    train_size: tuple[int, int] = (256, 256)
    val_size: tuple[int, int] = (224, 384)
    train_sequences_per_image: int = 8
    compression_share: float = 0.3
    crf_range: tuple[int, int] = (18, 30)
    fov_range: tuple[float, float] = (70.0, 100.0)
    seed: int = 0
    degradations: tuple[str, ...] = DEGRADATIONS

    def __post_init__(self) -> None:
        for name in self.degradations or ("",):
            if name not in DEGRADATIONS:
                raise ValueError(f"unknown degradation {name!r}; choose from {', '.join(DEGRADATIONS)}")


@dataclass(frozen=True)
class _Job:
    image: Path
    split: Split
    number: int
    degradation: str


def hdr_images(folder: Path) -> list[Path]:
    """The .hdr / .exr files of a folder, sorted by name."""
    if not folder.is_dir():
        raise ValueError(f"not a folder: {folder}")
    images = sorted(p for p in folder.iterdir() if p.suffix.lower() in HDR_IMAGE_SUFFIXES)
    if not images:
        raise ValueError(f"no .hdr or .exr images in {folder}")
    return images


def validation_split(images: list[Path]) -> set[str]:
    """Names (stems) of the held-out images of this folder."""
    listed = {p.stem for p in images} & set(VALIDATION_IMAGES)
    return listed or {p.stem for p in images[6::7]}


def _jobs(images: list[Path], spec: SyntheticSpec) -> list[_Job]:
    held_out = validation_split(images)
    jobs = []
    for offset, image in enumerate(images):
        if image.stem in held_out:
            jobs += [_Job(image, "val", n, name) for n, name in enumerate(spec.degradations)]
        else:
            count = spec.train_sequences_per_image
            # Degradations rotate per image so every model gets its share of every image.
            cycle = spec.degradations
            jobs += [_Job(image, "train", n, cycle[(offset + n) % len(cycle)]) for n in range(count)]
    return jobs


def _render(job: _Job, panorama: np.ndarray, spec: SyntheticSpec) -> tuple[np.ndarray, np.ndarray, dict]:
    """One sequence -> SDR uint8 (t, h, w, 3), HDR PQ float32 (t, h, w, 3), its attributes."""
    rng = np.random.default_rng([spec.seed, zlib.crc32(job.image.stem.encode()), job.number, job.split == "val"])
    height, width = spec.train_size if job.split == "train" else spec.val_size
    grade = draw_grade(panorama, rng)
    path = draw_camera_path(rng, spec.frames, str(rng.choice(MOTIONS, p=_MOTION_WEIGHTS)), spec.fov_range)
    hdr = apply_grade(render_path(torch.from_numpy(panorama).double(), path, height, width), grade)
    degradation = resolve_degradation(hdr, draw_degradation(job.degradation, rng))  # content-dependent params
    sdr = np.round(quantise_8bit(degrade(hdr, degradation)).numpy() * 255.0).astype(np.uint8)
    crf = None
    if rng.random() < spec.compression_share:
        crf = int(rng.integers(spec.crf_range[0], spec.crf_range[1] + 1))
        sdr = h264_roundtrip(sdr, crf)
    attributes = {
        **path.describe(),
        "diffuse_white": round(grade.diffuse_white, 2),
        "peak": grade.peak,
        "saturation": round(grade.saturation, 4),
        "degradation_params": degradation.params,
        "h264_crf": crf,
    }
    return sdr, pq_inverse_eotf(hdr).float().numpy(), attributes


def _entries(jobs: list[_Job], spec: SyntheticSpec, root: Path) -> Iterator[SequenceEntry]:
    panorama, loaded = None, None
    for job in jobs:
        if loaded != job.image:
            panorama, loaded = read_hdr_image(job.image), job.image
        sdr, hdr, attributes = _render(job, panorama, spec)
        entry = SequenceEntry(
            name=f"{job.image.stem}-{job.split}{job.number:02d}",
            split=job.split,
            frames=spec.frames,
            height=sdr.shape[1],
            width=sdr.shape[2],
            source=job.image.name,
            degradation=job.degradation,
            attributes=attributes,
        )
        for index in range(spec.frames):
            write_sdr_png(entry.frame_path(root, "sdr", index), sdr[index])
            write_hdr_png(entry.frame_path(root, "hdr", index), hdr[index])
        yield entry


def build_from_hdr_images(
    out: Path,
    images_dir: Path,
    spec: SyntheticSpec = SyntheticSpec(),
    progress: Callable[[int, int], None] | None = None,
) -> list[SequenceEntry]:
    """Render the dataset into `out` (which must not exist or be empty); returns its sequences.

    Built in a temporary sibling folder and renamed at the end: an interrupted build leaves no
    half-written dataset. `progress(done, total)` is called after each sequence.
    """
    for name, (height, width) in (("train", spec.train_size), ("val", spec.val_size)):
        if height % 2 or width % 2 or min(height, width) < 16:
            raise ValueError(f"{name} frame size must be even and at least 16, got {height}x{width}")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ValueError(f"output folder exists and is not empty: {out}")
    jobs = _jobs(hdr_images(images_dir), spec)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        entries = []
        for entry in _entries(jobs, spec, staging):
            entries.append(entry)
            if progress is not None:
                progress(len(entries), len(jobs))
        write_index(staging, entries)
        if out.exists():
            out.rmdir()
        os.replace(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return entries
