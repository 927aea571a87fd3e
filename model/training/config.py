"""What a training run does, as one dataclass whose defaults are the paper's recipe.

L1 loss on the unclamped PQ output; Adam (betas 0.9, 0.999), learning rate 5e-4 halved every
50,000 iterations and, after iteration 150,000, every 40,000; 350,000 iterations. Runs are
described by TOML files of the same keys (`configs/*.toml` ship with the package): an unknown or
mistyped key is an error rather than a silently ignored setting.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

CONFIGS = Path(__file__).parent / "configs"
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
SHIPPED = "shipped"  # `init` naming the weights that ship with the project
# Keys a resumed run may change: they set how long it runs and how often it reports, not what it learns.
CADENCE_KEYS = frozenset({"iterations", "val_every", "log_every", "checkpoint_every"})


@dataclass(frozen=True)
class TrainConfig:
    """data: the pairs dataset folder (`pairs.py`); model: overrides of the variant's DSLNet
    arguments (e.g. width); crop: side of the square training crops (even); val_crop: side of the
    fixed centre crop validation sees (even), None for whole frames; device: "auto" is CUDA when
    present; precision: "auto" is bf16 on CUDA and fp32 on CPUs (where bf16 trains slower);
    threads: torch CPU threads, None leaves torch's choice; init: weights to start from instead of
    the seeded initialisation (fine-tuning), a `save_checkpoint` file or "shipped" for the
    project's own (`model/weights/`), which must be the DSLNet that variant and model build."""

    data: str = ""
    variant: str = "M7"
    model: dict[str, Any] = field(default_factory=dict)
    crop: int = 256
    batch_size: int = 16
    lr: float = 5e-4
    betas: tuple[float, float] = (0.9, 0.999)
    iterations: int = 350_000
    milestones: tuple[int, ...] = (50_000, 100_000, 150_000, 190_000, 230_000, 270_000, 310_000)
    gamma: float = 0.5
    seed: int = 0
    device: str = "auto"
    precision: str = "auto"
    val_every: int = 5_000
    val_crop: int | None = None
    checkpoint_every: int = 1_000
    log_every: int = 100
    num_workers: int = 0
    threads: int | None = None
    init: str = ""

    def __post_init__(self) -> None:
        for name in ("betas", "milestones"):  # TOML arrays arrive as lists
            if isinstance(getattr(self, name), list):
                object.__setattr__(self, name, tuple(getattr(self, name)))
        for name, (ok, what) in _CHECKS.items():
            value = getattr(self, name)
            try:
                good = ok(value)
            except TypeError:
                good = False
            if not good:
                raise ValueError(f"training config {name} must be {what}, got {value!r}")

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainConfig:
        """A config from keys of this class; ValueError naming an unknown key."""
        known = {f.name for f in fields(cls)}
        for key in values:
            if key not in known:
                raise ValueError(f"unknown training config key {key!r}; known keys: {', '.join(sorted(known))}")
        return cls(**values)

    @classmethod
    def load(cls, name_or_path: str | Path) -> TrainConfig:
        """A TOML file, or the name of a shipped config ("paper", "cpu"). A relative `data` or
        `init` in a file is relative to the file's folder."""
        path = Path(name_or_path)
        if not path.is_file():
            shipped = CONFIGS / f"{name_or_path}.toml"
            if not shipped.is_file():
                names = ", ".join(sorted(p.stem for p in CONFIGS.glob("*.toml")))
                raise ValueError(f"no training config {str(name_or_path)!r}: not a file nor a shipped name ({names})")
            path = shipped
        try:
            values = tomllib.loads(path.read_text())
        except tomllib.TOMLDecodeError as error:
            raise ValueError(f"unreadable training config {path}: {error}") from None
        for key in ("data", "init"):
            if values.get(key) and values[key] != SHIPPED:
                values[key] = str(path.parent / values[key])
        return cls.from_dict(values)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def differences(self, other: TrainConfig) -> list[str]:
        """Keys whose values differ, cadence keys aside: what a resume from `other` may not change."""
        mine, theirs = self.to_dict(), other.to_dict()
        return [key for key in mine if key not in CADENCE_KEYS and mine[key] != theirs[key]]


def _positive(value: Any) -> bool:
    return isinstance(value, int) and value >= 1


def _even(value: Any) -> bool:
    return _positive(value) and value % 2 == 0


_CHECKS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "data": (lambda v: isinstance(v, str), "a path"),
    "variant": (lambda v: isinstance(v, str), "a DSLNet variant name"),
    "model": (lambda v: isinstance(v, dict), "a table of DSLNet arguments"),
    "crop": (_even, "a positive even integer"),
    "batch_size": (_positive, "a positive integer"),
    "lr": (lambda v: isinstance(v, int | float) and v > 0, "a positive number"),
    "betas": (lambda v: isinstance(v, tuple) and len(v) == 2 and all(0 <= b < 1 for b in v), "two numbers in [0, 1)"),
    "iterations": (_positive, "a positive integer"),
    "milestones": (
        lambda v: isinstance(v, tuple) and all(_positive(m) for m in v) and list(v) == sorted(set(v)),
        "increasing step numbers",
    ),
    "gamma": (lambda v: isinstance(v, int | float) and 0 < v <= 1, "a number in (0, 1]"),
    "seed": (lambda v: isinstance(v, int) and v >= 0, "an integer >= 0"),
    "device": (lambda v: isinstance(v, str), "auto, cpu or cuda[:N]"),
    "precision": (lambda v: v in PRECISIONS, f"one of {', '.join(PRECISIONS)}"),
    "val_every": (_positive, "a positive integer"),
    "val_crop": (lambda v: v is None or _even(v), "a positive even integer"),
    "checkpoint_every": (_positive, "a positive integer"),
    "log_every": (_positive, "a positive integer"),
    "num_workers": (lambda v: isinstance(v, int) and v >= 0, "an integer >= 0"),
    "init": (lambda v: isinstance(v, str), f"a checkpoint path or {SHIPPED!r}"),
    "threads": (lambda v: v is None or _positive(v), "a positive integer"),
}
