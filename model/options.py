"""What a user chooses about the model that converts frames: the converter, its weights, the
device, the numeric precision, batching, tiling and compilation.

One definition of each choice (type, default, limits, help text), torch-free, so settings, the
command line and the API validate choices without loading the model. `load_converter` and
`InferenceEngine` take one `ModelOptions`; the worker's `ConversionOptions` extends it with the
video's options (hdrtv.worker.control.options). "auto" values are resolved where the device is
known (`precision.resolve_options`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PositiveInt,
    ValidationError,
    ValidationInfo,
)

CONVERTER_NAMES = ("dslnet", "bt2408", "bt2446a")
"""Every converter `load_converter` knows (tests/model/test_model_options.py ties it to `converter.CONVERTERS`)."""
# The shipped DSLNet (model/weights/README.md) is opt-in: it beats this formula by under 1 dB on our
# validation set yet converts the demo clip 60x slower on a CPU (176 s against 2.9 s).
DEFAULT_CONVERTER = "bt2446a"
PRECISIONS = ("auto", "fp32", "fp16", "bf16")
TILE_OVERLAP = 32  # context pixels each tile has on each side of a seam (`tiling.py`)
TILE_RAMP = 16  # width of the cross-fade across each seam


def tile_size_problem(size: int, overlap: int = TILE_OVERLAP, ramp: int = TILE_RAMP) -> str | None:
    """Why square tiles of `size` pixels cannot tile a frame with this overlap and ramp, or None:
    the one rule, for the options here and for `tiling.TileLayout`."""
    if size % 2 or size < 2 * overlap + 2 or not 0 <= ramp <= 2 * overlap:
        return (
            f"need an even tile size > 2 * overlap and 0 <= ramp <= 2 * overlap, got size {size}, "
            f"overlap {overlap}, ramp {ramp}"
        )
    return None


def _tile_size(size: int, info: ValidationInfo) -> int:
    """The rule as a validator; context `{"tile_overlap": n, "tile_ramp": m}` checks against
    another overlap and ramp than the product's (the engine's own, in tests)."""
    context = info.context or {}
    problem = tile_size_problem(size, context.get("tile_overlap", TILE_OVERLAP), context.get("tile_ramp", TILE_RAMP))
    if problem:
        raise ValueError(problem)
    return size


TileSize = Annotated[int, AfterValidator(_tile_size)] | Literal["auto"] | None


class ModelOptions(BaseModel):
    """The model's options."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    model: Literal[CONVERTER_NAMES] = Field(DEFAULT_CONVERTER, description="converter: DSLNet or a formula")
    weights: Path | None = Field(None, description="DSLNet checkpoint (default: the shipped weights)")
    variant: str | None = Field(None, description="DSLNet rung or variant the checkpoint must be, e.g. M7")
    device: Annotated[str, BeforeValidator(str)] = Field(  # a torch.device too
        "auto", description="cpu, cuda, cuda:N or auto (CUDA when present)"
    )
    precision: Literal[PRECISIONS] = Field("auto", description="auto: bf16 on CUDA, fp32 on the CPU")
    batch_size: PositiveInt | Literal["auto"] = Field(
        "auto", description="windows per forward pass; auto: 1 on the CPU, 2 on CUDA"
    )
    tile_size: TileSize = Field(
        "auto",
        description="tile edge in pixels (even, > 64); auto: the largest that fits free memory; none: whole frames",
    )
    compile: bool = Field(False, description="torch.compile the model's per-window forward (slow start, faster)")

    def updated(self, context: dict[str, Any] | None = None, **choices: Any) -> Self:
        """A copy with `choices` set, validated as a whole (the same object when there are none)."""
        if not choices and context is None:
            return self
        try:
            return type(self).model_validate(self.model_dump() | choices, context=context)
        except ValidationError as error:
            raise ValueError(one_line(error)) from None


LIBRARY_DEFAULTS = ModelOptions(model="dslnet", device="cpu", precision="fp32", batch_size=4, tile_size=None)
"""What the Python API (`load_converter`, `Converter`, `InferenceEngine`) runs with unless told
otherwise: DSLNet on the CPU in fp32 on whole frames, the same numbers on any machine (evaluation
and tests rely on it). The command line, the settings and jobs default to the fields' own values
("auto": the machine's best)."""

NOUNS = {"model": "converter"}
"""What an option's value is called in messages where it is not the option's name."""


def one_line(error: ValidationError) -> str:
    """A validation error as one line naming each bad option and value: `unknown converter
    'hdrnet'; choose from ...`, `crf 60: input should be less than or equal to 51`."""
    problems: dict[str | None, list[dict[str, Any]]] = {}
    for item in error.errors():
        problems.setdefault(str(item["loc"][0]) if item["loc"] else None, []).append(item)
    lines = []
    for name, items in problems.items():
        ours = [item for item in items if item["type"] == "value_error"]  # a rule's own words, over a union's
        reasons = " or ".join(_lower(item["msg"].removeprefix("Value error, ")) for item in ours or items)
        if name is None:  # a rule over several options: its words say which
            lines.append(reasons)
        elif len(items) == 1 and items[0]["type"] == "literal_error":
            noun = NOUNS.get(name, name.replace("_", " "))
            choices = items[0]["ctx"]["expected"].replace("'", "").replace(" or ", ", ")
            lines.append(f"unknown {noun} {items[0]['input']!r}; choose from {choices}")
        else:
            lines.append(f"{NOUNS.get(name, name.replace('_', ' '))} {items[0].get('input')!r}: {reasons}")
    return "; ".join(lines)


def _lower(text: str) -> str:
    return text[:1].lower() + text[1:]
