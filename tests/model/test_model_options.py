"""`ModelOptions`: the model's one definition of its options agrees with the model's code, holds
one tile-size rule, reports bad choices in one line, and imports without torch."""

from __future__ import annotations

import subprocess
import sys

import pytest
from hdrtv.model.converter import CONVERTERS, converter_radius, load_converter
from hdrtv.model.options import CONVERTER_NAMES, ModelOptions
from hdrtv.model.tiling import TileLayout


def test_the_options_name_every_converter_the_model_has():
    assert CONVERTER_NAMES == CONVERTERS


@pytest.mark.parametrize("size", range(60, 72))
def test_options_and_tiles_accept_the_same_tile_sizes(size):
    try:
        TileLayout(size)
        tiles_accept = True
    except ValueError:
        tiles_accept = False
    try:
        ModelOptions(tile_size=size)
        options_accept = True
    except ValueError:
        options_accept = False
    assert options_accept == tiles_accept
    assert tiles_accept == (size >= 66 and size % 2 == 0)


@pytest.mark.parametrize(
    "choices, message",
    [
        ({"model": "hdrnet"}, "unknown converter 'hdrnet'; choose from dslnet, bt2408, bt2446a"),
        ({"tile_size": 64}, "tile size 64: need an even tile size > 2 * overlap"),
        ({"batch_size": 0}, "batch size 0: input should be greater than 0"),
    ],
)
def test_a_bad_choice_is_one_line_naming_the_option_and_the_value(choices, message):
    with pytest.raises(ValueError) as error:
        ModelOptions().updated(**choices)
    assert str(error.value).startswith(message)
    assert "\n" not in str(error.value)


def test_the_radius_is_read_without_building_the_network():
    assert converter_radius(ModelOptions(model="bt2446a")) == 0
    assert converter_radius(ModelOptions(model="dslnet")) == load_converter("dslnet").radius == 2
    with pytest.raises(ValueError, match="weights file not found"):
        converter_radius(ModelOptions(model="dslnet", weights="/no/such/file.pt"))
    with pytest.raises(ValueError, match="not a DSLNet M0"):
        converter_radius(ModelOptions(model="dslnet", variant="M0"))


def test_the_options_import_without_torch():
    code = "import sys, hdrtv.model.options; print(sorted(m for m in sys.modules if m.split('.')[0] == 'torch'))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
