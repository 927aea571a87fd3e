"""Colour tags of a video stream by FFmpeg's names ("bt709", "smpte2084", "tv").

Codecs and containers carry colour description as ITU-T H.273 code points; FFmpeg (and so
PyAV) hands them to us as those integers. We report and accept them by the names FFmpeg's
tools print (`ffprobe -show_streams`, `-color_primaries` ...), so what `probe` says can be
checked against ffprobe and fed back to an encoder. "Unspecified" (2 for the first three, 0
for the range) and unknown code points become None.
"""

from __future__ import annotations

# H.273 Table 2, ColourPrimaries.
PRIMARIES = {
    1: "bt709",
    4: "bt470m",
    5: "bt470bg",
    6: "smpte170m",
    7: "smpte240m",
    8: "film",
    9: "bt2020",
    10: "smpte428",
    11: "smpte431",
    12: "smpte432",
    22: "ebu3213",
}

# H.273 Table 3, TransferCharacteristics.
TRANSFER = {
    1: "bt709",
    4: "gamma22",
    5: "gamma28",
    6: "smpte170m",
    7: "smpte240m",
    8: "linear",
    9: "log100",
    10: "log316",
    11: "iec61966-2-4",
    12: "bt1361e",
    13: "iec61966-2-1",
    14: "bt2020-10",
    15: "bt2020-12",
    16: "smpte2084",
    17: "smpte428",
    18: "arib-std-b67",
}

# H.273 Table 4, MatrixCoefficients ("colorspace" in FFmpeg).
MATRIX = {
    0: "gbr",
    1: "bt709",
    4: "fcc",
    5: "bt470bg",
    6: "smpte170m",
    7: "smpte240m",
    8: "ycgco",
    9: "bt2020nc",
    10: "bt2020c",
    11: "smpte2085",
    12: "chroma-derived-nc",
    13: "chroma-derived-c",
    14: "ictcp",
}

# FFmpeg's AVColorRange: MPEG (limited, "tv") and JPEG (full, "pc").
RANGE = {1: "tv", 2: "pc"}

HDR_TRANSFERS = {"smpte2084": "PQ", "arib-std-b67": "HLG"}


def tag_name(table: dict[int, str], code: int | None) -> str | None:
    """FFmpeg's name for the code point `code` of `table`, None when unspecified or unknown."""
    return table.get(int(code)) if code is not None else None


def tag_code(table: dict[int, str], name: str | None) -> int:
    """Code point of FFmpeg's `name` in `table`; None gives the table's "unspecified"."""
    if name is None:
        return 0 if table is RANGE else 2
    codes = {value: key for key, value in table.items()}
    if name not in codes:
        raise ValueError(f"unknown colour tag {name!r}; known: {', '.join(sorted(codes))}")
    return codes[name]
