"""`ConversionOptions`: the settings take their conversion defaults from it with the same types
and limits, a worker runs a job with the job's choices over its own settings, and the lists it
names agree with the code that uses them."""

from __future__ import annotations

import pytest
from hdrtv.worker.control.errors import InputError
from hdrtv.worker.control.options import (
    JOB_FIELDS,
    NVENC_PRESETS,
    OUTPUT_FORMATS,
    OUTPUT_SUFFIXES,
    SETTINGS_FIELDS,
    WORKER_FIELDS,
    X265_PRESETS,
    ConversionOptions,
    job_options,
    options_for_job,
)
from hdrtv.worker.control.settings import Settings
from hdrtv.worker.formats import FORMATS
from hdrtv.worker.media.assemble import MUXERS
from hdrtv.worker.media.encode import nvenc_preset
from pydantic import ValidationError


def test_settings_declare_the_conversion_defaults_as_the_options_do():
    for name in SETTINGS_FIELDS:
        declared, setting = ConversionOptions.model_fields[name], Settings.model_fields[name]
        assert (setting.annotation, setting.default, setting.metadata) == (
            declared.annotation,
            declared.default,
            declared.metadata,
        ), name
    assert set(ConversionOptions.model_fields) - set(SETTINGS_FIELDS) <= {
        "model",
        "weights",
        "variant",
        "format",
        "force",
        "overwrite",
    }


@pytest.mark.parametrize(
    "variable, value", [("HDRTV_TILE_SIZE", "64"), ("HDRTV_CRF", "52"), ("HDRTV_PRESET", "fastest")]
)
def test_settings_refuse_what_a_conversion_would(monkeypatch, variable, value):
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValidationError):
        Settings()


def test_the_crf_is_a_number_with_a_fraction_everywhere(monkeypatch):
    monkeypatch.setenv("HDRTV_CRF", "18.5")
    assert Settings().crf == ConversionOptions(crf=18.5).crf == 18.5


def test_a_job_runs_with_its_choices_over_the_workers_settings():
    settings = Settings(device="cpu", tile_size=128, crf=30, preset="fast")
    options = options_for_job(settings, "bt2408", job_options(settings, {"crf": 20}))
    assert (options.model, options.crf, options.preset, options.device, options.tile_size) == (
        "bt2408",
        20,
        "fast",
        "cpu",
        128,
    )
    assert set(job_options(settings, {})) == set(JOB_FIELDS)
    assert set(WORKER_FIELDS).isdisjoint(JOB_FIELDS)


@pytest.mark.parametrize(
    "chosen, message",
    [({"tile_size": 128}, "unknown options: tile_size"), ({"crf": 99}, "crf 99: input should be less than")],
)
def test_a_job_option_a_worker_cannot_run_is_the_users_error(chosen, message):
    with pytest.raises(InputError, match=message):
        options_for_job(Settings(), "bt2408", chosen)


def test_nvenc_presets_need_the_nvenc_encoder():
    assert ConversionOptions(encoder="hevc_nvenc", preset="p5").preset == "p5"
    with pytest.raises(ValueError, match="preset p5 is for hevc_nvenc"):
        ConversionOptions().updated(preset="p5")


def test_nvenc_takes_every_preset_the_options_offer():
    assert {nvenc_preset(name) for name in X265_PRESETS} <= set(NVENC_PRESETS)
    assert [nvenc_preset(name) for name in NVENC_PRESETS] == list(NVENC_PRESETS)


def test_the_formats_and_containers_named_are_the_ones_written():
    assert OUTPUT_FORMATS == tuple(FORMATS)
    assert set(OUTPUT_SUFFIXES) == set(MUXERS)
