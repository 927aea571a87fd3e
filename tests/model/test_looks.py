"""Looks: fine-tuned from a base on a pairs dataset's train split, judged on its held-out val split
against the formulas and the base, kept in a folder of looks; a rejected look is used only when
asked for by name; a stopped creation resumes."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
from hdrtv.model.converter import load_converter
from hdrtv.model.looks import (
    FORMULAS,
    LOOK_FILE,
    check_name,
    create_look,
    get_look,
    list_looks,
    look_dir,
    look_weights,
)
from hdrtv.model.training.trainer import train
from test_training import SIZE, config, dataset, one_thread  # noqa: F401 (fixtures)


@pytest.fixture(scope="module")
def base(dataset, tmp_path_factory):  # noqa: F811
    """A tiny DSLNet trained for 2 steps: the base the looks here are fine-tuned from."""
    return train(
        config(dataset, iterations=2, val_every=2, checkpoint_every=2), tmp_path_factory.mktemp("base"), progress=False
    ).best


def tiny(dataset, iterations=4):  # noqa: F811
    return config(dataset, iterations=iterations, val_every=2, checkpoint_every=2, log_every=1)


def test_a_look_is_made_judged_against_the_formulas_and_kept(dataset, base, tmp_path):  # noqa: F811
    looks = tmp_path / "looks"
    look = create_look(looks, "studio-a", tiny(dataset), base=str(base), frames=2)
    assert (look.name, look.steps, look.base) == ("studio-a", 4, str(base))
    report = {
        model["name"]: model["overall"]
        for model in json.loads((look_dir(looks, "studio-a") / "report.json").read_text())["models"]
    }
    assert set(report) == {*FORMULAS, f"base ({base})", "studio-a"}
    best = max(FORMULAS, key=lambda formula: report[formula]["psnr"])
    assert (look.best_formula, look.best_formula_psnr, look.psnr) == (
        best,
        report[best]["psnr"],
        report["studio-a"]["psnr"],
    )
    assert look.state == ("ready" if look.psnr > look.best_formula_psnr else "rejected")
    assert list_looks(looks) == [look] and get_look(looks, "studio-a") == look
    with pytest.raises(ValueError, match="look 'studio-a' exists"):
        create_look(looks, "studio-a", tiny(dataset), base=str(base))
    weights = look_weights(looks, "studio-a", allow_rejected=True)
    hdr = load_converter("dslnet", weights=weights).convert(
        np.random.default_rng(0).random((3, SIZE, SIZE, 3), dtype=np.float32)
    )
    assert hdr.shape == (3, SIZE, SIZE, 3)
    # Another look made from this one names it as its base.
    again = create_look(looks, "studio-b", tiny(dataset, iterations=2), base="studio-a", frames=2)
    assert again.base == "studio-a" and [made.name for made in list_looks(looks)] == ["studio-a", "studio-b"]


def test_a_rejected_look_is_used_only_when_asked_for(dataset, base, tmp_path):  # noqa: F811
    looks = tmp_path / "looks"
    look = create_look(looks, "scan", tiny(dataset, iterations=2), base=str(base), frames=2)
    rejected = replace(look, state="rejected", psnr=look.best_formula_psnr - 1.5)
    (look_dir(looks, "scan") / LOOK_FILE).write_text(json.dumps(rejected.__dict__))
    with pytest.raises(ValueError, match=r"look 'scan' was rejected: -1\.50 dB against"):
        look_weights(looks, "scan")
    assert look_weights(looks, "scan", allow_rejected=True).is_file()


def test_a_stopped_creation_resumes_from_its_last_checkpoint(dataset, base, tmp_path):  # noqa: F811
    looks = tmp_path / "looks"
    stopped = replace(tiny(dataset, iterations=2), init=str(base))
    train(stopped, look_dir(looks, "resumed") / "training", progress=False)  # as if killed after step 2
    assert not (look_dir(looks, "resumed") / LOOK_FILE).exists(), "not made yet"
    look = create_look(looks, "resumed", tiny(dataset), base=str(base), frames=2)
    log = (look_dir(looks, "resumed") / "training" / "log.csv").read_text().splitlines()
    assert look.steps == 4 and [row.split(",")[0] for row in log[1:]] == ["1", "2", "3", "4"]


@pytest.mark.parametrize("name", ["generic", "Studio", "a b", "../x", "", "x" * 65])
def test_bad_names_and_unknown_looks_and_bases_are_refused_in_one_line(tmp_path, dataset, name):  # noqa: F811
    with pytest.raises(ValueError, match="look name must be"):
        check_name(name)
    with pytest.raises(ValueError, match=r"no look 'nope' in .*hdrtv looks list"):
        get_look(tmp_path, "nope")
    with pytest.raises(ValueError, match="base 'nope': not 'generic', a look in"):
        create_look(tmp_path, "fine", tiny(dataset), base="nope")


def test_the_command_line_makes_lists_shows_and_converts_with_a_look(dataset, base, tmp_path, monkeypatch, capsys):  # noqa: F811
    """`hdrtv looks create|list|show` and `hdrtv convert --look`, a rejected look refused in one line
    before any model loads, used with --allow-rejected."""
    from hdrtv.service.cli import main
    from hdrtv.worker.control.settings import get_settings
    from video_factory import write_clip

    monkeypatch.setenv("HDRTV_LOOKS_DIR", str(tmp_path / "looks"))
    get_settings.cache_clear()
    recipe = tmp_path / "tiny.toml"
    recipe.write_text(
        'variant = "M7"\nmodel = { width = 8, condition_channels = 8 }\ncrop = 16\nbatch_size = 2\n'
        'device = "cpu"\nval_every = 2\ncheckpoint_every = 2\nlog_every = 1\n'
    )
    try:
        create = ["looks", "create", "cli-look", "--pairs", str(dataset), "--base", str(base), "--config", str(recipe)]
        assert main([*create, "--iterations", "2", "--frames", "2", "--quiet"]) == 0
        made = get_look(tmp_path / "looks", "cli-look")
        assert capsys.readouterr().out.startswith(f"cli-look: {made.state}, ")
        assert main(["looks", "list"]) == 0 and capsys.readouterr().out.startswith("cli-look: ")
        assert main(["looks", "show", "cli-look"]) == 0 and "| cli-look |" in capsys.readouterr().out
        clip = write_clip(tmp_path / "sdr.mp4", width=64, height=48, frames=4)
        rejected = replace(made, state="rejected")
        (look_dir(tmp_path / "looks", "cli-look") / LOOK_FILE).write_text(json.dumps(rejected.__dict__))
        assert main(["convert", str(clip), str(tmp_path / "no.mkv"), "--look", "cli-look", "--quiet"]) == 2
        assert "look 'cli-look' was rejected" in capsys.readouterr().err and not (tmp_path / "no.mkv").exists()
        argv = ["convert", str(clip), str(tmp_path / "hdr.mkv"), "--look", "cli-look", "--allow-rejected", "--quiet"]
        assert main([*argv, "--preset", "ultrafast", "--device", "cpu"]) == 0
        assert "wrote " in capsys.readouterr().out and (tmp_path / "hdr.mkv").stat().st_size > 0
        assert main(["looks", "show", "nope"]) == 2 and "no look 'nope'" in capsys.readouterr().err
    finally:
        get_settings.cache_clear()
