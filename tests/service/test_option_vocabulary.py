"""One vocabulary of conversion options: `hdrtv convert`'s flags, the API's job options, the
settings and the README's table all come from `ConversionOptions`, and agree with it."""

from __future__ import annotations

import argparse
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from hdrtv.model.options import DEFAULT_CONVERTER
from hdrtv.service.cli import build_parser
from hdrtv.service.schemas import JobCreate, JobOptions
from hdrtv.worker.control.job_record import Job
from hdrtv.worker.control.options import JOB_FIELDS, REQUEST_FIELDS, ConversionOptions, markdown_table
from hdrtv.worker.control.settings import Settings, get_settings
from pydantic import ValidationError
from servers import HDRTV

README = Path(__file__).resolve().parents[2] / "README.md"


def _subcommand(name: str) -> argparse.ArgumentParser:
    commands = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return commands.choices[name]


@pytest.fixture
def crf_21(monkeypatch) -> Iterator[None]:
    """HDRTV_CRF=21 in this process's settings (`get_settings` caches them)."""
    monkeypatch.setenv("HDRTV_CRF", "21")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_convert_has_a_flag_for_every_option_with_the_settings_default(crf_21):
    convert = _subcommand("convert")
    flags = {action.dest: action for action in convert._actions if action.option_strings}
    # --look and --allow-rejected choose the model and its weights (`hdrtv looks`), not an option of their own.
    assert set(ConversionOptions.model_fields) == set(flags) - {"help", "quiet", "look", "allow_rejected"}
    settings = Settings()
    for name, field in ConversionOptions.model_fields.items():
        assert flags[name].option_strings[0] == "--" + name.replace("_", "-")
        assert flags[name].default == getattr(settings, name, field.default), name
        assert field.description in flags[name].help
    assert flags["crf"].default == 21


def test_convert_refuses_what_the_options_refuse(capsys):
    for argv in (["--tile-size", "64"], ["--crf", "60"], ["--model", "hdrnet"], ["--chunk-frames", "4"]):
        with pytest.raises(SystemExit):
            build_parser().parse_args(["convert", "in.mp4", "out.mkv", *argv])
        assert argv[0] in capsys.readouterr().err


@pytest.mark.parametrize(
    "name, good, bad",
    [
        ("crf", 20.5, 60),
        ("chunk_frames", 8, 4),
        ("max_nits", 4000, 0),
        ("preset", "slow", "fastest"),
    ],
)
def test_the_api_takes_the_job_options_with_their_declared_limits(name, good, bad):
    assert getattr(JobOptions(**{name: good}), name) == getattr(ConversionOptions().updated(**{name: good}), name)
    for model in (JobOptions, ConversionOptions):
        with pytest.raises(ValidationError):
            model(**{name: bad})


def test_the_api_offers_exactly_the_job_options():
    assert set(JobOptions.model_fields) == {*JOB_FIELDS, "overwrite"}
    assert all(getattr(JobOptions(), name) is None for name in JOB_FIELDS)  # filled from the settings
    with pytest.raises(ValidationError):
        JobOptions(tile_size=128)  # the worker's choice, not the job's


def test_the_jobs_client_offers_what_the_api_takes():
    jobs = next(a for a in _subcommand("jobs")._actions if isinstance(a, argparse._SubParsersAction))
    submit = jobs.choices["submit"]
    flags = {action.dest: action.default for action in submit._actions if action.option_strings}
    assert set(REQUEST_FIELDS) <= set(flags)
    assert set(flags) - set(REQUEST_FIELDS) == {
        "help",
        "server",
        "key",
        "priority",
        "callback_url",
        "metadata",
        "idempotency_key",
    }
    assert all(flags[name] is None for name in JOB_FIELDS)  # left out: the server's defaults


def test_every_default_converter_is_the_same():
    body = JobCreate(input_uri="s3://b/in.mp4", output_uri="s3://b/out.mkv")
    job = Job(tenant="t", input_uri=body.input_uri, output_uri=body.output_uri)
    parsed = build_parser().parse_args(["convert", "in.mp4", "out.mkv"])
    assert body.model == job.model == parsed.model == ConversionOptions().model == DEFAULT_CONVERTER


def test_the_readmes_option_table_is_the_options():
    text = README.read_text()
    found = re.search(r"<!-- options table: .*? -->\n(.*?)<!-- end of options table -->", text, re.S)
    assert found is not None, "the README lost its options table markers"
    assert found.group(1) == markdown_table(), "regenerate the table: hdrtv.worker.control.options.markdown_table()"


@pytest.mark.parametrize(
    "variable, value, message",
    [("HDRTV_TILE_SIZE", "64", "tile size '64': need an even tile size"), ("HDRTV_PRESET", "p5", "preset p5 is for")],
)
def test_a_bad_setting_is_one_line_from_any_command(variable, value, message):
    environment = os.environ | {variable: value}
    result = subprocess.run([HDRTV, "probe", "in.mp4"], env=environment, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr.startswith("hdrtv: error in the HDRTV_* settings: " + message)
    assert result.stderr.count("\n") == 1
