"""Looks: DSLNet fitted to how one catalogue's SDR relates to its HDR, kept in a folder of looks.

A look is made from pairs of SDR and HDR masters (a pairs dataset, `training/pairs.py`): the
training code fine-tunes a base look's weights on the dataset's train split, then the look, its
base and every formula are scored on the held-out val split (`training/evaluation.py`). A look
that does not beat the best formula's PSNR there is *rejected*: kept with its numbers, and used
only when asked for explicitly.

On disk, `<looks>/<name>/`: `training/` (the run's checkpoints, so a stopped creation resumes),
`weights.pt` (the look), `report.json` and `report.md` (the held-out scores), and `look.json` (the
record below), written last: a look without it is not made yet.
"""

from __future__ import annotations

import json
import re
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Literal

from .converter import DEFAULT_WEIGHTS, load_converter
from .options import CONVERTER_NAMES
from .training.config import SHIPPED, TrainConfig
from .training.evaluation import EvalReport, evaluate
from .training.pairs import split_entries
from .training.trainer import train

GENERIC = "generic"  # the look that ships: the project's DSLNet weights
FORMULAS = tuple(name for name in CONVERTER_NAMES if name != "dslnet")
LOOK_FILE, WEIGHTS_FILE = "look.json", "weights.pt"
_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")

State = Literal["ready", "rejected"]


@dataclass(frozen=True)
class Look:
    """A made look: its state, what it was made from, and its held-out scores against the formulas."""

    name: str
    state: State
    base: str  # the look it was fine-tuned from: "generic", another look's name, or a checkpoint
    data: str
    steps: int
    created_at: float
    psnr: float  # the look's mean PSNR (dB) on the held-out pairs
    delta_e_itp: float
    best_formula: str
    best_formula_psnr: float
    best_formula_delta_e_itp: float

    @property
    def margin_db(self) -> float:
        """PSNR above the best formula on the look's own held-out pairs (negative: below it)."""
        return self.psnr - self.best_formula_psnr


def check_name(name: str) -> None:
    """ValueError unless `name` can name a look (and a folder): a-z, 0-9, '-', '_', at most 64."""
    if name == GENERIC or not _NAME.fullmatch(name):
        raise ValueError(f"look name must be lower-case letters, digits, '-' or '_' (not {GENERIC!r}), got {name!r}")


def look_dir(looks: Path, name: str) -> Path:
    return Path(looks) / name


def list_looks(looks: Path) -> list[Look]:
    """The made looks under `looks`, by name."""
    files = sorted(Path(looks).glob(f"*/{LOOK_FILE}")) if Path(looks).is_dir() else []
    return [_read(path) for path in files]


def get_look(looks: Path, name: str) -> Look:
    """The look `name`; ValueError naming it when there is none."""
    path = look_dir(looks, name) / LOOK_FILE
    if not path.is_file():
        raise ValueError(f"no look {name!r} in {looks} (`hdrtv looks list` shows the looks there)")
    return _read(path)


def look_weights(looks: Path, name: str, allow_rejected: bool = False) -> Path:
    """The weights a conversion with look `name` runs: the shipped ones for "generic"; ValueError
    for a rejected look unless `allow_rejected`."""
    if name == GENERIC:
        return DEFAULT_WEIGHTS
    look = get_look(looks, name)
    if look.state == "rejected" and not allow_rejected:
        raise ValueError(
            f"look {name!r} was rejected: {look.margin_db:+.2f} dB against {look.best_formula} on its held-out "
            "pairs; ask for it explicitly to use it anyway"
        )
    return look_dir(looks, name) / WEIGHTS_FILE


def create_look(
    looks: Path,
    name: str,
    config: TrainConfig,
    base: str = GENERIC,
    frames: int | None = None,
    progress: Callable[[str], None] | None = None,
) -> Look:
    """Fine-tune `base` (a look's name, "generic", or a checkpoint path) on `config.data`'s train
    split for `config.iterations` steps, score it on the val split against its base and the
    formulas, and keep it under `looks/name`. Rerun after a stop, it resumes the training where
    its last checkpoint left it. `frames`: score only the middle k frames of each sequence."""
    check_name(name)
    folder = look_dir(looks, name)
    if (folder / LOOK_FILE).exists():
        raise ValueError(f"look {name!r} exists in {looks}; choose another name")
    split_entries(Path(config.data), "val")  # pairs without held-out sequences fail before training
    base_weights = _base_weights(looks, base)
    config = replace(config, init=SHIPPED if base_weights == DEFAULT_WEIGHTS else str(base_weights))
    result = train(config, folder / "training", resume=True, progress=progress is not None)
    device = "cuda" if config.device.startswith("cuda") else "cpu"
    models = {formula: load_converter(formula, device=device, exact=True) for formula in FORMULAS}
    models[f"base ({base})"] = load_converter("dslnet", weights=base_weights, device=device)
    models[name] = load_converter("dslnet", weights=result.best, device=device)
    report = evaluate(Path(config.data), models, "val", frames=frames, progress=progress)
    look = _judge(name, base, config.data, result.steps, report)
    shutil.copyfile(result.best, folder / WEIGHTS_FILE)
    (folder / "report.json").write_text(report.to_json() + "\n")
    (folder / "report.md").write_text(report.to_markdown())
    _atomic_write(folder / LOOK_FILE, json.dumps(asdict(look), indent=1) + "\n")
    return look


def _judge(name: str, base: str, data: str, steps: int, report: EvalReport) -> Look:
    """The look's record: ready when it beats the best formula's PSNR on the held-out pairs."""
    scores = {model.name: model.overall for model in report.models}
    best = max(FORMULAS, key=lambda formula: scores[formula].psnr)
    mine = scores[name]
    return Look(
        name=name,
        state="ready" if mine.psnr > scores[best].psnr else "rejected",
        base=base,
        data=str(data),
        steps=steps,
        created_at=time.time(),
        psnr=mine.psnr,
        delta_e_itp=mine.delta_e_itp,
        best_formula=best,
        best_formula_psnr=scores[best].psnr,
        best_formula_delta_e_itp=scores[best].delta_e_itp,
    )


def _base_weights(looks: Path, base: str) -> Path:
    """The weights of the base: "generic", a made look (rejected ones too: asked for by name), or a
    checkpoint file."""
    if base == GENERIC or _NAME.fullmatch(base) and (look_dir(looks, base) / LOOK_FILE).is_file():
        return look_weights(looks, base, allow_rejected=True)
    if Path(base).is_file():
        return Path(base)
    raise ValueError(f"base {base!r}: not {GENERIC!r}, a look in {looks}, nor a checkpoint file")


def _read(path: Path) -> Look:
    return Look(**json.loads(path.read_text()))


def _atomic_write(path: Path, text: str) -> None:
    partial = path.with_suffix(".partial")
    partial.write_text(text)
    partial.replace(path)
