"""The paired SDR/HDR10 sequence dataset on disk, shared by the dataset builders, training and
evaluation.

Layout under a root folder:

    index.json                 {"format": "hdrtv-pairs", "version": 1, "sequences": [entry, ...]}
    <name>/sdr/0000.png ...    8-bit RGB: BT.709 R'G'B' (BT.1886), full range
    <name>/hdr/0000.png ...    16-bit RGB: HDR10 R'G'B' (BT.2020 primaries, PQ code value * 65535)

One entry per sequence of consecutive frames of one shot (the HDRTVMF1K recipe: 10 frames per
scene): `name` (its folder, unique), `split` ("train" or "val"), `frames`, `height`, `width`,
`source` (the image or video it came from), `degradation` (how its SDR was made from its HDR:
a degradation model's name for synthetic pairs, "graded" for real SDR/HDR masters) and
`attributes` (free-form facts: motion, exposure, peak, ...).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import cv2
import numpy as np

FORMAT = "hdrtv-pairs"
VERSION = 1
INDEX = "index.json"
Split = Literal["train", "val"]
SPLITS: tuple[Split, ...] = ("train", "val")


@dataclass
class SequenceEntry:
    name: str
    split: Split
    frames: int
    height: int
    width: int
    source: str
    degradation: str
    attributes: dict[str, Any] = field(default_factory=dict)

    def frame_path(self, root: Path, kind: Literal["sdr", "hdr"], index: int) -> Path:
        return root / self.name / kind / f"{index:04d}.png"


def read_index(root: str | Path) -> list[SequenceEntry]:
    """The sequences of a dataset folder; a clear ValueError if it is not one."""
    path = Path(root) / INDEX
    if not path.is_file():
        raise ValueError(f"not an hdrtv dataset (no {INDEX}): {Path(root)}")
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise ValueError(f"unreadable dataset index {path}: {error}") from None
    if data.get("format") != FORMAT or data.get("version") != VERSION:
        raise ValueError(f"{path} is not a {FORMAT} v{VERSION} index")
    return [SequenceEntry(**entry) for entry in data["sequences"]]


def write_index(root: str | Path, sequences: list[SequenceEntry]) -> None:
    """Write index.json atomically (a reader never sees half an index)."""
    names = [s.name for s in sequences]
    if len(set(names)) != len(names):
        raise ValueError("sequence names must be unique")
    path = Path(root) / INDEX
    temp = path.with_suffix(".json.tmp")
    payload = {"format": FORMAT, "version": VERSION, "sequences": [asdict(s) for s in sequences]}
    temp.write_text(json.dumps(payload, indent=1))
    os.replace(temp, path)


def write_sdr_png(path: Path, sdr: np.ndarray) -> None:
    """SDR R'G'B' (h, w, 3), uint8 or float in [0, 1] (rounded to 8 bits) -> 8-bit PNG."""
    if sdr.dtype != np.uint8:
        sdr = np.round(np.clip(sdr, 0.0, 1.0) * 255.0).astype(np.uint8)
    _write(path, sdr)


def write_hdr_png(path: Path, pq: np.ndarray) -> None:
    """PQ R'G'B' (h, w, 3), uint16 or float in [0, 1] (rounded to 16 bits) -> 16-bit PNG."""
    if pq.dtype != np.uint16:
        pq = np.round(np.clip(pq, 0.0, 1.0) * 65535.0).astype(np.uint16)
    _write(path, pq)


def read_png(path: Path) -> np.ndarray:
    """An 8- or 16-bit RGB PNG -> float32 (h, w, 3) in [0, 1]."""
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if image is None or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"not an RGB PNG: {path}")
    scale = 65535.0 if image.dtype == np.uint16 else 255.0
    return image[:, :, ::-1].astype(np.float32) / scale


def _write(path: Path, rgb: np.ndarray) -> None:
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected an (h, w, 3) image, got {rgb.shape}")
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), np.ascontiguousarray(rgb[:, :, ::-1])):
        raise OSError(f"could not write {path}")


def split_entries(root: str | Path, split: str) -> list[SequenceEntry]:
    """The sequences of one split in index order; ValueError if the split is unknown or empty."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; choose from {', '.join(SPLITS)}")
    entries = [entry for entry in read_index(root) if entry.split == split]
    if not entries:
        raise ValueError(f"no {split} sequences in dataset {Path(root)}")
    return entries
