"""Output formats: what an HDR output's bitstream and container say about its colour (transfer,
primaries, matrix) and its metadata (SEI messages, container boxes), one module per format, each
an `OutputFormat` (output_format.py) that the encoder, the assembly and the job record ask."""

from __future__ import annotations

from ..control.errors import InputError
from .hdr10 import HDR10
from .output_format import OutputFormat

FORMATS: dict[str, OutputFormat] = {fmt.name: fmt for fmt in (HDR10,)}


def output_format(name: str) -> OutputFormat:
    """The format called `name`; an `InputError` naming the choices for any other."""
    if name not in FORMATS:
        raise InputError(f"unknown output format {name!r}; choose from {', '.join(FORMATS)}")
    return FORMATS[name]
