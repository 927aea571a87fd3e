"""`evaluate`, `write_pictures` and `hdrtv eval` on a tiny paired dataset whose HDR is made from
its SDR by a known formula: bt2408 is exactly right on the "clip" sequence and wrong on "filmic"."""

from __future__ import annotations

import json
import math

import cv2
import numpy as np
import pytest
import torch
from hdrtv.model.baselines import bt2408
from hdrtv.model.converter import load_converter
from hdrtv.model.metrics import delta_e_itp, flicker, psnr, sr_sim, ssim
from hdrtv.model.metrics.delta_e_itp import delta_e_itp_map
from hdrtv.model.model_info import count_parameters
from hdrtv.model.network import build_dslnet, save_checkpoint
from hdrtv.model.training import pairs
from hdrtv.model.training.evaluation import EvalReport, evaluate
from hdrtv.model.training.pictures import display_mapping, write_pictures
from hdrtv.service.cli import main

FRAMES, HEIGHT, WIDTH = 5, 48, 64


def _sdr_sequence(seed: int) -> np.ndarray:
    """(t, h, w, 3) uint8: a smooth colour gradient panning right, with some texture."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH] / WIDTH
    texture = rng.random((HEIGHT, WIDTH + 2 * FRAMES, 3)) * 0.2
    frames = []
    for t in range(FRAMES):
        base = np.stack([x + 0.05 * t, y, 1 - x], axis=-1) * 0.8
        frames.append(np.clip(base + texture[:, 2 * t : 2 * t + WIDTH], 0, 1))
    return np.round(np.stack(frames) * 255).astype(np.uint8)


def _write_sequence(root, name, split, degradation, motion, hdr_of) -> None:
    sdr = _sdr_sequence(len(name))
    for i, frame in enumerate(sdr):
        pairs.write_sdr_png(root / name / "sdr" / f"{i:04d}.png", frame)
        pairs.write_hdr_png(root / name / "hdr" / f"{i:04d}.png", hdr_of(frame.astype(np.float32) / 255))


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("pairs")
    specs = [
        ("clip0", "val", "clip", "pan", bt2408),
        ("filmic0", "val", "filmic", "static", lambda sdr: bt2408(sdr, reference_white=600.0)),
        ("train0", "train", "clip", "pan", bt2408),
    ]
    for spec in specs:
        _write_sequence(root, *spec)
    entries = [
        pairs.SequenceEntry(name, split, FRAMES, HEIGHT, WIDTH, "synthetic", degradation, {"motion": motion})
        for name, split, degradation, motion, _ in specs
    ]
    pairs.write_index(root, entries)
    return root


@pytest.fixture(scope="module")
def baselines():
    return {"bt2408": load_converter("bt2408"), "bt2446a": load_converter("bt2446a")}


@pytest.fixture(scope="module")
def report(dataset, baselines):
    return evaluate(dataset, baselines)


def _scores(report, model, sequence):
    found = next(m for m in report.models if m.name == model)
    return next(s for s in found.sequences if s.name == sequence)


def test_a_formula_is_near_perfect_where_it_made_the_ground_truth(report):
    exact, wrong = _scores(report, "bt2408", "clip0").scores, _scores(report, "bt2408", "filmic0").scores
    assert exact.psnr > 45 and exact.delta_e_itp < 0.1 and exact.ssim > 0.999
    assert wrong.psnr < exact.psnr - 10 and wrong.delta_e_itp > 1


def test_scores_match_the_metric_functions(dataset, report):
    entry = next(e for e in pairs.read_index(dataset) if e.name == "clip0")
    sdr = np.stack([pairs.read_png(entry.frame_path(dataset, "sdr", i)) for i in range(FRAMES)])
    target = np.stack([pairs.read_png(entry.frame_path(dataset, "hdr", i)) for i in range(FRAMES)]).astype(np.float64)
    pred = load_converter("bt2446a").convert(sdr).astype(np.float64)
    scores = _scores(report, "bt2446a", "clip0").scores
    for metric in (psnr, ssim, sr_sim, delta_e_itp):
        assert getattr(scores, metric.__name__) == pytest.approx(float(np.mean(metric(pred, target))), rel=1e-9)
    assert scores.flicker == pytest.approx(float(flicker(pred, target)), rel=1e-9)


def test_means_per_degradation_and_flicker_only_where_it_moves(report):
    model = report.models[0]
    assert [s.name for s in model.sequences] == ["clip0", "filmic0"]  # the train sequence is not scored
    assert _scores(report, "bt2408", "filmic0").scores.flicker is None  # static
    assert model.degradations["clip"] == model.sequences[0].scores
    assert model.overall.psnr == pytest.approx((model.sequences[0].scores.psnr + model.sequences[1].scores.psnr) / 2)
    assert model.overall.flicker == model.sequences[0].scores.flicker
    assert model.parameters is None


def test_middle_frames_limit(dataset, baselines):
    limited = evaluate(dataset, {"bt2408": baselines["bt2408"]}, max_sequences=1, frames=3)
    (sequence,) = limited.models[0].sequences
    assert sequence.frames == [1, 2, 3] and limited.frames == 3


def test_markdown_has_every_model_and_degradation(report):
    text = report.to_markdown()
    assert "| Method | Params | PSNR ↑ | SSIM ↑ | SR-SIM ↑ | ΔE ITP ↓ | Flicker ↓ |" in text
    assert "## clip (1 sequence)" in text and "## filmic (1 sequence)" in text
    rows = [line.split(" |")[0] for line in text.splitlines()]
    assert rows.count("| bt2408") == 3 and rows.count("| bt2446a") == 3  # overall and per degradation
    assert "| clip | bt2408 |" in text  # the best baseline where it is exact
    assert "PSNR gain" not in text  # no DSLNet here


def test_json_round_trips(report):
    assert EvalReport.from_json(report.to_json()) == report


def test_delta_e_map_and_display_mapping():
    rng = np.random.default_rng(0)
    pred, target = rng.random((2, 16, 16, 3))
    assert delta_e_itp_map(pred, target).mean() == pytest.approx(float(delta_e_itp(pred, target)), rel=1e-12)
    levels = display_mapping(np.array([[[0.0] * 3, [0.5081] * 3, [0.7518] * 3, [1.0] * 3]]))  # 0, 100, 1000, 10000
    assert levels.dtype == np.uint8 and levels[0, 0, 0] == 0 and levels[0, 2, 0] == levels[0, 3, 0] == 255
    assert 128 < levels[0, 1, 0] < 255  # 100 cd/m2 lies above the knee: rolled off, not clipped


def test_pictures_are_side_by_side_rgb_pngs(dataset, baselines, tmp_path):
    paths = write_pictures(dataset, baselines, tmp_path, count=4)
    assert [p.name for p in paths] == ["clip0.png", "clip0_delta_e.png", "filmic0.png", "filmic0_delta_e.png"]
    for path, panels in zip(paths, (4, 3, 4, 3)):  # SDR | 2 models | GT;  2 maps | colour bar
        image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        assert image.dtype == np.uint8 and image.shape == (HEIGHT, panels * WIDTH, 3)
    (small, _) = write_pictures(dataset, baselines, tmp_path / "small", count=1, panel_width=WIDTH // 2)
    assert cv2.imread(str(small)).shape == (HEIGHT // 2, 4 * WIDTH // 2, 3)  # wide frames are shrunk


def test_cli_with_a_tiny_dslnet(dataset, tmp_path, capsys):
    model = build_dslnet("M7", width=8, condition_channels=8)
    save_checkpoint(model, tmp_path / "ckpt.pt")
    out = tmp_path / "eval"
    argv = ["eval", "--data", str(dataset), "--model", "bt2408", "--model", f"tiny={tmp_path / 'ckpt.pt'}"]
    assert main([*argv, "--out", str(out), "--pictures", "1", "--frames", "3"]) == 0
    saved = json.loads((out / "report.json").read_text())
    assert [m["name"] for m in saved["models"]] == ["bt2408", "tiny"]
    assert saved["models"][1]["parameters"] == count_parameters(model)
    assert math.isfinite(saved["models"][1]["overall"]["psnr"])
    assert (out / "report.md").read_text() in capsys.readouterr().out
    assert f"| tiny | {count_parameters(model) / 1e6:.3f}M |" in (out / "report.md").read_text()
    assert sorted(p.name for p in (out / "pictures").iterdir()) == ["clip0.png", "clip0_delta_e.png"]


def test_a_learned_model_gets_margins_over_the_best_baselines(dataset, tmp_path, baselines):
    torch.manual_seed(0)
    save_checkpoint(build_dslnet("M0", width=8, condition_channels=8), tmp_path / "m0.pt")
    models = {**baselines, "tiny": load_converter("dslnet", weights=tmp_path / "m0.pt")}
    report = evaluate(dataset, models, frames=1)
    text = report.to_markdown()
    best = max(report.models[:2], key=lambda m: m.overall.psnr)
    tiny = report.models[2]
    assert f"## Margins over the best baseline overall ({best.name})" in text
    assert "## Best baseline of each degradation" in text
    gain = tiny.overall.psnr - best.overall.psnr
    assert f"| overall | {best.name} | {best.overall.psnr:.2f} | {best.overall.delta_e_itp:.2f} | {gain:+.2f} |" in text
    assert text.count("| filmic | ") == 2  # a row in each margin table


def test_bad_data_is_one_line_and_exit_2(tmp_path, capsys):
    assert main(["eval", "--data", str(tmp_path / "missing"), "--model", "bt2408"]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("hdrtv eval: error: not an hdrtv dataset") and "\n" not in error


def test_a_label_without_weights_is_refused(dataset, capsys):
    assert main(["eval", "--data", str(dataset), "--model", "dslnet"]) == 2
    assert "give DSLNet weights as dslnet=PATH" in capsys.readouterr().err
