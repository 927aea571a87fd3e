"""The one vocabulary of conversion options: every choice a conversion takes, with its type,
default, limits and help text, defined once here (the model's own in `hdrtv.model.options`).

Everything else is derived from it: `Settings` takes its conversion defaults from these fields,
the command line builds its flags from them (service/commands/option_flags.py), the API's
`JobOptions` is the declared subset `JOB_FIELDS`, the README's option table is checked against
`markdown_table()`. Who chooses what:
- `JOB_FIELDS`: a job's own choices (API requests), defaults from the settings, filled in once at
  submission (`job_options`) so the job record says what ran (a worker fills in what an older
  record lacks the same way);
- `WORKER_FIELDS`: the worker's machine (device, precision, batching, tiles, compile, encoder);
- the command line chooses every field for one run.
Torch-free: the API imports it.
"""

from __future__ import annotations

import typing
from collections.abc import Mapping
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any, Literal

from hdrtv.model.options import ModelOptions
from pydantic import BaseModel, Field, create_model, model_validator
from pydantic.fields import FieldInfo

from .errors import InputError

if TYPE_CHECKING:
    from .settings import Settings

ENCODERS = ("libx265", "hevc_nvenc")  # the HEVC encoders `media/encode.py` drives
X265_PRESETS = (
    "ultrafast",
    "superfast",
    "veryfast",
    "faster",
    "fast",
    "medium",
    "slow",
    "slower",
    "veryslow",
    "placebo",
)
NVENC_PRESETS = ("p1", "p2", "p3", "p4", "p5", "p6", "p7")  # NVENC also takes x265's names, mapped by speed
OUTPUT_FORMATS = ("hdr10",)  # what `hdrtv.worker.formats.FORMATS` writes (a test ties the two)
OUTPUT_SUFFIXES = (".mkv", ".mp4")  # the containers `media/assemble.py` writes

JOB_FIELDS = ("chunk_frames", "crf", "preset", "max_nits")
REQUEST_FIELDS = ("model", *JOB_FIELDS, "overwrite")
"""What an API request chooses: `model` at its top level, the others under `options`."""
WORKER_FIELDS = ("device", "precision", "batch_size", "tile_size", "compile", "encoder")
SETTINGS_FIELDS = WORKER_FIELDS + JOB_FIELDS
"""The options `HDRTV_*` environment variables set defaults for."""


class ConversionOptions(ModelOptions):
    """One conversion's choices: the model's (`ModelOptions`) and the video's."""

    chunk_frames: int = Field(96, ge=8, description="frames per chunk (chunks snap to shot cuts)")
    crf: float = Field(18.0, ge=0, le=51, description="x265 constant rate factor (NVENC: cq); lower is better")
    preset: Literal[X265_PRESETS + NVENC_PRESETS] = Field(
        "medium", description="x265 preset (NVENC: mapped by speed, or p1..p7)"
    )
    encoder: Literal[ENCODERS] = Field(
        "libx265", description="HEVC encoder: libx265 (CPU) or hevc_nvenc (NVIDIA GPUs with NVENC)"
    )
    max_nits: float = Field(1000.0, gt=0, le=10000, description="mastering display peak luminance, cd/m2")
    format: Literal[OUTPUT_FORMATS] = Field("hdr10", description="output format")
    force: bool = Field(False, description="convert even if the input is already HDR")
    overwrite: bool = Field(False, description="replace an existing output")

    @model_validator(mode="after")
    def _preset_suits_encoder(self) -> ConversionOptions:
        if self.preset in NVENC_PRESETS and self.encoder != "hevc_nvenc":
            raise ValueError(f"preset {self.preset} is for hevc_nvenc; {self.encoder} takes {', '.join(X265_PRESETS)}")
        return self


def output_suffix(name: str) -> str:
    """The container suffix of an output's path, URI or key (lower case); InputError naming
    `name` unless it is one we write."""
    suffix = PurePosixPath(name.rstrip("/")).suffix.lower()
    if suffix not in OUTPUT_SUFFIXES:
        raise InputError(f"{name}: the output must be {' or '.join(OUTPUT_SUFFIXES)}")
    return suffix


def fields_model(
    name: str, names: tuple[str, ...], *, optional: tuple[str, ...] = (), base: type[BaseModel] = BaseModel
) -> type[BaseModel]:
    """A model of these `ConversionOptions` fields as declared (type, default, limits, help);
    those in `optional` default to None instead (filled in by the caller)."""
    fields: dict[str, Any] = {}
    for field_name in names:
        declared = ConversionOptions.model_fields[field_name]
        if field_name in optional:
            fields[field_name] = (declared.annotation | None, FieldInfo.merge_field_infos(declared, default=None))
        else:
            fields[field_name] = (declared.annotation, declared)
    return create_model(name, __base__=base, **fields)


def job_options(settings: Settings, chosen: Mapping[str, Any]) -> dict[str, Any]:
    """A job's options: what it chose of `JOB_FIELDS`, the rest from the settings."""
    unknown = set(chosen) - set(JOB_FIELDS)
    if unknown:
        raise InputError(f"unknown options: {', '.join(sorted(unknown))}")
    return {name: chosen.get(name, getattr(settings, name)) for name in JOB_FIELDS}


def options_for_job(settings: Settings, model: str, chosen: Mapping[str, Any]) -> ConversionOptions:
    """What a worker runs a job with: the job's model and options over the worker's settings."""
    worker = {name: getattr(settings, name) for name in WORKER_FIELDS}
    try:
        return ConversionOptions().updated(model=model, **worker, **job_options(settings, chosen))
    except InputError:
        raise
    except ValueError as error:
        raise InputError(str(error)) from None


def markdown_table() -> str:
    """The README's option table: flag (with its values, where few), job option, setting, default, meaning."""
    rows = ["| flag | job option | setting | default | meaning |", "|---|---|---|---|---|"]
    for name, field in ConversionOptions.model_fields.items():
        flag = "--" + name.replace("_", "-")
        values = typing.get_args(field.annotation) if typing.get_origin(field.annotation) is Literal else ()
        if 1 < len(values) <= 4:
            flag += " " + "\\|".join(values)
        job = f"`{name}`" if name in REQUEST_FIELDS else ""
        setting = f"`HDRTV_{name.upper()}`" if name in SETTINGS_FIELDS else ""
        default = "none" if field.default is None else str(field.default).lower()
        rows.append(f"| `{flag}` | {job} | {setting} | {default} | {field.description} |")
    return "\n".join(rows) + "\n"
