"""The output-format seam, with real files: a second format (HLG code points, no static metadata)
goes through the same encoder and assembly as HDR10, and ffprobe sees what each format wrote and
nothing else. Also the registry of formats and HDR10's colour names."""

import dataclasses
import json
import subprocess
from fractions import Fraction

import av
import numpy as np
import pytest
from hdrtv.worker.control.errors import InputError
from hdrtv.worker.formats import FORMATS, output_format
from hdrtv.worker.formats.hdr10 import HDR10
from hdrtv.worker.formats.output_format import OutputFormat
from hdrtv.worker.formats.static_metadata import (
    CONTENT_LIGHT_LEVEL,
    MASTERING_DISPLAY,
    ContentLightLevel,
    MasteringDisplay,
)
from hdrtv.worker.media.assemble import assemble
from hdrtv.worker.media.colour_tags import MATRIX, PRIMARIES, RANGE, TRANSFER, tag_name
from hdrtv.worker.media.encode import HevcChunkEncoder
from hdrtv.worker.media.hevc_sei import (
    PREFIX_SEI,
    nal_type,
    parse_sei,
    sei_payloads,
    split_nal_units,
)
from hdrtv.worker.media.probe import probe
from video_factory import write_clip

# Test-only: HDR10's colour with the HLG transfer (ARIB STD-B67), and the base class's metadata: none.
HLG = OutputFormat(name="hlg-test", colour=dataclasses.replace(HDR10.colour, transfer=18, x265_transfer="arib-std-b67"))
DISPLAY = MasteringDisplay(max_luminance=2000.0)
LIGHT = ContentLightLevel(900, 300)
HDR_SIDE_DATA = {"Mastering display metadata", "Content light level metadata"}


def ffprobe(path, *args):
    command = ["ffprobe", "-v", "error", "-of", "json", *args, str(path)]
    return json.loads(subprocess.run(command, capture_output=True, text=True, check=True).stdout)


def side_data_types(entry):
    return {side["side_data_type"] for side in entry.get("side_data_list", [])}


@pytest.fixture(scope="module")
def outputs(tmp_path_factory):
    """{(format name, suffix): output path}: one chunk per format, assembled into .mp4 and .mkv."""
    directory = tmp_path_factory.mktemp("formats")
    source = write_clip(directory / "source.mp4", frames=4)
    written = {}
    for fmt in (HDR10, HLG):
        chunk = directory / f"{fmt.name}.chunk.mp4"
        options = {"preset": "ultrafast", "threads": 1, "mastering": DISPLAY, "output_format": fmt}
        with HevcChunkEncoder(chunk, 64, 48, Fraction(1, 25), Fraction(25), **options) as encoder:
            for pts in range(4):
                encoder.write(np.full((48, 64, 3), 0.3 + 0.1 * pts, np.float32), pts)
        for suffix in (".mp4", ".mkv"):
            written[fmt.name, suffix] = directory / f"{fmt.name}{suffix}"
            assemble([chunk], written[fmt.name, suffix], source, LIGHT, DISPLAY, output_format=fmt)
    return written


def test_formats_by_name_and_unknown_names_refused_in_one_line():
    assert FORMATS == {"hdr10": HDR10} and output_format("hdr10") is HDR10
    with pytest.raises(InputError, match=r"^unknown output format 'hlg'; choose from hdr10$"):
        output_format("hlg")


def test_hdr10_code_points_and_x265_names_say_the_same():
    colour = HDR10.colour
    tables = (
        (PRIMARIES, colour.primaries),
        (TRANSFER, colour.transfer),
        (MATRIX, colour.matrix),
        (RANGE, colour.range),
    )
    assert [tag_name(table, code) for table, code in tables] == ["bt2020", "smpte2084", "bt2020nc", "tv"]
    assert colour.x265_params() == ["colorprim=bt2020", "transfer=smpte2084", "colormatrix=bt2020nc", "range=limited"]


@pytest.mark.parametrize("suffix", [".mp4", ".mkv"])
@pytest.mark.parametrize(
    ("fmt", "transfer", "side_data"),
    [(HDR10, "smpte2084", HDR_SIDE_DATA), (HLG, "arib-std-b67", set())],
    ids=["hdr10", "hlg"],
)
def test_each_format_writes_its_colour_and_only_its_metadata(outputs, fmt, transfer, side_data, suffix):
    path = outputs[fmt.name, suffix]
    stream = ffprobe(path, "-show_streams", "-select_streams", "v")["streams"][0]
    colour = (stream["color_primaries"], stream["color_transfer"], stream["color_space"], stream["color_range"])
    assert colour == ("bt2020", transfer, "bt2020nc", "tv")
    assert side_data_types(stream) & HDR_SIDE_DATA == side_data  # from the container's boxes / elements
    frames = ffprobe(path, "-show_frames", "-select_streams", "v")["frames"]
    assert len(frames) == 4 and all(side_data_types(frame) & HDR_SIDE_DATA == side_data for frame in frames)
    with av.open(str(path)) as container:
        packets = [bytes(packet) for packet in container.demux(container.streams.video[0]) if packet.size]
    units = [nal for data in packets for nal in split_nal_units(data)]
    # One IRAP picture: HDR10's SEI once, values rewritten by the assembly. x265 adds its own SEI to
    # HLG (alternative transfer characteristics), and no format leaves an empty SEI NAL unit.
    assert all(parse_sei(nal)[0] for nal in units if nal_type(nal) == PREFIX_SEI)
    assert sei_payloads(units, CONTENT_LIGHT_LEVEL) == ([LIGHT.payload()] if side_data else [])
    assert sei_payloads(units, MASTERING_DISPLAY) == ([DISPLAY.payload()] if side_data else [])


def test_the_summary_reports_what_each_format_wrote(outputs):
    hlg = HLG.summary(probe(outputs[HLG.name, ".mkv"]))
    assert hlg == {"codec": "hevc", "transfer": "arib-std-b67", "primaries": "bt2020"}
    hdr10 = HDR10.summary(probe(outputs[HDR10.name, ".mkv"]))
    assert hdr10.items() >= {"codec": "hevc", "transfer": "smpte2084", "primaries": "bt2020"}.items()
    assert hdr10["mastering_display"]["max_luminance"] == 2000
    assert hdr10["content_light"] == {"max_cll": 900, "max_fall": 300}
