"""Synthetic multi-frame pairs from HDR images: camera paths, the HDR grade and the dataset builder."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import cv2
import numpy as np
import OpenEXR
import pytest
import torch
from hdrtv.model.training.camera import MOTIONS, PITCH_RANGE, CameraPath, draw_camera_path, render_path
from hdrtv.model.training.degradations import DEGRADATIONS
from hdrtv.model.training.hdr_scene import apply_grade, draw_grade, read_hdr_image
from hdrtv.model.training.pairs import read_index, read_png
from hdrtv.worker.datasets.synthetic_pairs import SyntheticSpec, build_from_hdr_images


def direction_panorama(height: int = 256) -> torch.Tensor:
    """Channels: cos(longitude), sin(longitude), latitude in degrees / 90, at each pixel centre."""
    width = 2 * height
    lon = ((torch.arange(width, dtype=torch.float64) + 0.5) / width - 0.5) * 2 * math.pi
    lat = (0.5 - (torch.arange(height, dtype=torch.float64) + 0.5) / height) * math.pi
    lon, lat = torch.meshgrid(lon, lat, indexing="xy")
    return torch.stack((torch.cos(lon), torch.sin(lon), torch.rad2deg(lat) / 90), dim=-1)


def centre_direction(view: torch.Tensor) -> tuple[float, float]:
    """(yaw, pitch) in degrees seen by the four centre pixels of a (h, w, 3) view of `direction_panorama`."""
    h, w = view.shape[:2]
    c = view[h // 2 - 1 : h // 2 + 1, w // 2 - 1 : w // 2 + 1].mean((0, 1))
    return math.degrees(math.atan2(c[1], c[0])), float(c[2]) * 90


@pytest.mark.parametrize("yaw, pitch", [(0.0, 0.0), (90.0, 10.0), (-135.0, -15.0), (179.5, 5.0)])
def test_a_view_looks_where_its_camera_points(yaw, pitch):
    path = CameraPath("static", (yaw,), (pitch,), (90.0,))
    seen_yaw, seen_pitch = centre_direction(render_path(direction_panorama(), path, 64, 64)[0])
    assert abs((seen_yaw - yaw + 180) % 360 - 180) < 0.5
    assert seen_pitch == pytest.approx(pitch, abs=0.5)


def test_a_view_across_the_seam_has_no_jump():
    pano = direction_panorama()
    view = render_path(pano, CameraPath("static", (180.0,), (0.0,), (60.0,)), 32, 64)[0]
    steps = (view[16, 1:, 1] - view[16, :-1, 1]).abs()  # sin(lon) changes smoothly through 180 degrees
    assert steps.max() < 3 * steps.median() + 1e-3


def test_camera_paths_are_reproducible_and_move_as_named():
    for motion in MOTIONS:
        a = draw_camera_path(np.random.default_rng(5), 10, motion, (70.0, 100.0))
        assert a == draw_camera_path(np.random.default_rng(5), 10, motion, (70.0, 100.0))
        assert all(PITCH_RANGE[0] <= p <= PITCH_RANGE[1] for p in a.pitch)
        moved = a.describe()
        if motion == "static":
            assert moved["yaw_step"] == moved["pitch_step"] == moved["fov_step"] == 0
        if motion == "pan":
            assert moved["yaw_step"] > 0 and moved["fov_step"] == 0
        if motion == "zoom":
            assert moved["fov_step"] > 0
    with pytest.raises(ValueError, match="unknown camera motion"):
        draw_camera_path(np.random.default_rng(0), 3, "dolly", (70.0, 100.0))


def test_the_grade_puts_diffuse_white_near_203_and_respects_the_peak():
    rng = np.random.default_rng(3)
    image = (rng.lognormal(0.0, 1.5, (64, 128, 3)) * 0.01).astype(np.float32)
    image[:4, :4] = 1e4  # a sun
    grade = draw_grade(image, rng)
    assert 0.8 * 203 <= grade.diffuse_white <= 1.25 * 203 and grade.peak in (1000, 2000, 4000)
    hdr = apply_grade(torch.from_numpy(image).double(), grade)
    assert hdr.max() <= grade.peak and hdr.min() >= 0
    luminance = hdr @ torch.tensor([0.2627, 0.6780, 0.0593], dtype=torch.float64)
    assert float(np.percentile(luminance.numpy(), 95)) == pytest.approx(grade.diffuse_white, rel=0.1)
    assert hdr[:4, :4].amax() > 0.75 * grade.peak


def test_hdr_and_exr_files_read_alike(tmp_path):
    image = np.random.default_rng(1).uniform(0.0, 50.0, (16, 32, 3)).astype(np.float32)
    cv2.imwrite(str(tmp_path / "a.hdr"), image[:, :, ::-1])
    with OpenEXR.File({"type": OpenEXR.scanlineimage}, {"RGB": image}) as exr:
        exr.write(str(tmp_path / "a.exr"))
    # RGBE shares one exponent per pixel: each channel is exact to 1/128 of the pixel's brightest one.
    assert (np.abs(read_hdr_image(tmp_path / "a.hdr") - image) <= image.max(-1, keepdims=True) / 128).all()
    np.testing.assert_array_equal(read_hdr_image(tmp_path / "a.exr"), image)
    (tmp_path / "broken.hdr").write_bytes(b"#?RADIANCE\nnonsense")
    with pytest.raises(ValueError, match="unreadable HDR image"):
        read_hdr_image(tmp_path / "broken.hdr")


def write_panoramas(folder, names):
    """Small synthetic panoramas: a sky gradient, textured ground and lamps along the horizon, as Radiance files."""
    folder.mkdir()
    for number, name in enumerate(names):
        rng = np.random.default_rng(number)
        pano = np.empty((64, 128, 3), np.float32)
        pano[:32] = np.linspace(2.0, 0.5, 32)[:, None, None] * np.array([0.6, 0.8, 1.0])
        pano[32:] = rng.uniform(0.02, 0.3, (32, 128, 1)) * np.array([0.8, 0.7, 0.5])
        pano[29:31, number::8] = 500.0
        cv2.imwrite(str(folder / f"{name}.hdr"), pano[:, :, ::-1])


SMALL = SyntheticSpec(frames=4, train_size=(32, 32), val_size=(32, 48), train_sequences_per_image=3)


def test_builder_writes_held_out_validation_and_rendered_training_pairs(tmp_path):
    write_panoramas(tmp_path / "hdri", ["esplanade", "field", "hall"])
    entries = build_from_hdr_images(tmp_path / "data", tmp_path / "hdri", SMALL)
    assert entries == read_index(tmp_path / "data")
    val = [e for e in entries if e.split == "val"]
    train = [e for e in entries if e.split == "train"]
    assert {e.source for e in val} == {"esplanade.hdr"}  # the documented held-out name
    assert sorted(e.degradation for e in val) == sorted(DEGRADATIONS)
    assert len(train) == 6 and "esplanade.hdr" not in {e.source for e in train}
    for entry in entries:
        size = (32, 48) if entry.split == "val" else (32, 32)
        assert (entry.height, entry.width) == size and entry.frames == 4
        sdr = cv2.imread(str(entry.frame_path(tmp_path / "data", "sdr", 3)), cv2.IMREAD_UNCHANGED)
        hdr = cv2.imread(str(entry.frame_path(tmp_path / "data", "hdr", 3)), cv2.IMREAD_UNCHANGED)
        assert sdr.dtype == np.uint8 and hdr.dtype == np.uint16 and sdr.shape == hdr.shape == (*size, 3)
        assert json.dumps(entry.attributes)  # the index records how each pair was made
    # The ground truth is HDR: its brightest pixels sit far above SDR reference white in PQ (0.58 = 203 cd/m2).
    assert max(read_png(e.frame_path(tmp_path / "data", "hdr", 0)).max() for e in entries) > 0.65


def test_builder_is_reproducible_and_never_overwrites(tmp_path):
    write_panoramas(tmp_path / "hdri", ["a", "b"])
    spec = SyntheticSpec(**{**SMALL.__dict__, "compression_share": 1.0})
    first = build_from_hdr_images(tmp_path / "one", tmp_path / "hdri", spec)
    second = build_from_hdr_images(tmp_path / "two", tmp_path / "hdri", spec)
    assert first == second
    assert all(e.attributes["h264_crf"] is not None for e in first)
    name = first[0].name
    for kind in ("sdr", "hdr"):
        path = f"{name}/{kind}/0002.png"
        assert (tmp_path / "one" / path).read_bytes() == (tmp_path / "two" / path).read_bytes()
    with pytest.raises(ValueError, match="not empty"):
        build_from_hdr_images(tmp_path / "one", tmp_path / "hdri", spec)
    with pytest.raises(ValueError, match="no .hdr or .exr images"):
        build_from_hdr_images(tmp_path / "three", tmp_path / "one", spec)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hdri", "one", "two"]  # nothing half-written


def test_one_house_style_renders_only_that_degradation(tmp_path):
    write_panoramas(tmp_path / "hdri", ["esplanade", "field"])
    entries = build_from_hdr_images(tmp_path / "data", tmp_path / "hdri", replace(SMALL, degradations=("bt2446c",)))
    assert [(e.split, e.degradation) for e in entries] == [("val", "bt2446c")] + [("train", "bt2446c")] * 3


def test_cli_builds_a_dataset_and_refuses_bad_input_in_one_line(tmp_path, capsys):
    from hdrtv.service.cli import main

    write_panoramas(tmp_path / "hdri", ["esplanade", "field"])
    small = ["--frames", "3", "--train-size", "32x32", "--val-size", "48x32", "--sequences-per-image", "2"]
    assert main(["dataset", "from-hdr-images", str(tmp_path / "data"), "--images", str(tmp_path / "hdri"), *small]) == 0
    assert "2 train sequences (6 frames), 5 val sequences (15 frames)" in capsys.readouterr().out
    assert {(e.width, e.height) for e in read_index(tmp_path / "data") if e.split == "val"} == {(48, 32)}
    for bad, message in (
        (["--images", str(tmp_path / "nowhere")], "not a folder"),
        (["--images", str(tmp_path / "hdri"), "--train-size", "33x32"], "must be even"),
        (["--images", str(tmp_path / "hdri"), "--val-size", "wide"], "width x height"),
        (["--images", str(tmp_path / "hdri"), "--degradations", "clip,sepia"], "unknown degradation 'sepia'"),
    ):
        assert main(["dataset", "from-hdr-images", str(tmp_path / "other"), *bad]) == 2
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1
    assert not (tmp_path / "other").exists()
