"""`hdrtv dataset from-videos` on a real pair made by the project itself: the two-shot demo clip
and its HDR10 version by the bt2446a converter. Groups per shot, PNG depths and sizes, PQ code
values kept as coded (not moved to BT.709), crops cut from the same frames, and refusals that
leave nothing behind."""

import subprocess

import cv2
import numpy as np
import pytest
from hdrtv.model.baselines import bt2446a
from hdrtv.model.training.pairs import read_index, read_png
from hdrtv.worker.control.options import ConversionOptions
from hdrtv.worker.datasets import paired_videos
from hdrtv.worker.datasets.paired_videos import build_from_videos
from hdrtv.worker.media.decode import decode_frames
from hdrtv.worker.media.demo_clip import write_demo_clip
from hdrtv.worker.media.probe import probe
from hdrtv.worker.media.scenes import detect_shot_starts
from hdrtv.worker.pipeline import convert_file

WIDTH, HEIGHT = 160, 96
FRAMES, CROP, CROPS = 8, 64, 3


def _hdrtv(*args):
    return subprocess.run(["hdrtv", *map(str, args)], capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    """{"sdr": 30 frames in two shots (16 + 14), "hdr": its HDR10 version, "short": 26 frames}."""
    folder = tmp_path_factory.mktemp("videos")
    sdr = write_demo_clip(folder / "clip.mp4", WIDTH, HEIGHT, (16, 14))
    hdr = folder / "clip.mkv"
    convert_file(sdr, hdr, ConversionOptions(model="bt2446a", preset="ultrafast"))
    short = write_demo_clip(folder / "short.mp4", WIDTH, HEIGHT, (16, 10))
    return {"sdr": sdr, "hdr": hdr, "short": short}


@pytest.fixture(scope="module")
def dataset(videos, tmp_path_factory):
    """(root, CLI result): the pair once for training, once (same stem) for validation."""
    root = tmp_path_factory.mktemp("built") / "pairs"
    pair = (videos["sdr"], videos["hdr"])
    result = _hdrtv(
        "dataset", "from-videos", root, "--pair", *pair, "--val-pair", *pair,
        "--frames", FRAMES, "--crop", CROP, "--crops-per-group", CROPS, "--seed", 3,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return root, result


def _image(path):
    return cv2.imread(str(path), cv2.IMREAD_UNCHANGED)


def test_one_group_from_the_middle_of_each_shot(videos, dataset):
    root, result = dataset
    info = probe(videos["sdr"])
    starts = detect_shot_starts(decode_frames(info))
    shots = list(zip(starts, [*starts[1:], info.frame_count]))
    assert len(shots) == 2
    middles = {f"s{k:03d}": a + (b - a - FRAMES) // 2 for k, (a, b) in enumerate(shots)}
    expected = {f"clip-{s}-c{c}": ("train", first) for s, first in middles.items() for c in range(CROPS)}
    expected |= {f"clip-2-{s}": ("val", first) for s, first in middles.items()}
    entries = read_index(root)
    assert {e.name: (e.split, e.attributes["first_frame"]) for e in entries} == expected
    assert {(e.frames, e.degradation, e.source) for e in entries} == {(FRAMES, "graded", str(videos["hdr"].resolve()))}
    train, val = f"{2 * CROPS} train sequences ({2 * CROPS * FRAMES} frames)", f"2 val sequences ({2 * FRAMES} frames)"
    assert result.stdout.strip() == f"wrote {root}: {train}, {val}"


def test_pngs_are_8_bit_sdr_and_16_bit_pq_of_the_right_size(dataset):
    root, _ = dataset
    for entry in read_index(root):
        size = (CROP, CROP) if entry.split == "train" else (HEIGHT, WIDTH)
        assert (entry.height, entry.width) == size
        for index in range(entry.frames):
            sdr, hdr = _image(entry.frame_path(root, "sdr", index)), _image(entry.frame_path(root, "hdr", index))
            assert (sdr.dtype, sdr.shape) == (np.uint8, (*size, 3))
            assert (hdr.dtype, hdr.shape) == (np.uint16, (*size, 3))


def test_train_crops_are_one_window_of_the_same_frames(dataset):
    root, _ = dataset
    entries = read_index(root)
    full = {e.attributes["shot"]: e for e in entries if e.split == "val"}
    for crop in (e for e in entries if e.split == "train"):
        top, left = crop.attributes["crop_top"], crop.attributes["crop_left"]
        assert top % 2 == 0 and left % 2 == 0
        for kind in ("sdr", "hdr"):
            for index in range(crop.frames):
                whole = _image(full[crop.attributes["shot"]].frame_path(root, kind, index))
                window = whole[top : top + CROP, left : left + CROP]
                np.testing.assert_array_equal(_image(crop.frame_path(root, kind, index)), window)


def test_hdr_frames_are_the_coded_pq_values(videos, dataset):
    """The HDR PNG is what bt2446a made of the SDR frame, within x265's error; the same frame
    moved to BT.709 primaries (what `decode_frames` gives the model) is measurably further off."""
    root, _ = dataset
    hdr_info = probe(videos["hdr"])
    for entry in (e for e in read_index(root) if e.split == "val"):
        for index in (0, FRAMES - 1):
            expected = bt2446a(read_png(entry.frame_path(root, "sdr", index)).astype(np.float64))
            stored = read_png(entry.frame_path(root, "hdr", index))
            assert np.abs(stored - expected).mean() < 0.01
            assert abs(stored.mean() - expected.mean()) < 0.002
            frame = entry.attributes["first_frame"] + index
            moved = next(decode_frames(hdr_info, frame, frame + 1)) / 65535.0
            assert np.abs(moved - expected).mean() > 0.012


def test_rerun_into_a_dataset_refuses(videos, dataset):
    root, _ = dataset
    before = (root / "index.json").read_bytes()
    result = _hdrtv("dataset", "from-videos", root, "--val-pair", videos["sdr"], videos["hdr"])
    assert result.returncode == 2
    refusal = f"hdrtv dataset: error: {root}: already holds a dataset (index.json); datasets are never overwritten"
    assert result.stderr.splitlines() == [refusal]
    assert (root / "index.json").read_bytes() == before


@pytest.mark.parametrize(
    ("pair", "message"),
    [
        (("short", "hdr"), "{hdr}: 30 frames, but {short} has 26"),
        (("sdr", "sdr"), "{sdr}: not HDR10 (transfer bt709, primaries bt709; expected smpte2084 and bt2020)"),
        (("hdr", "hdr"), "{hdr}: is HDR (PQ); the first of a pair must be SDR"),
    ],
)
def test_mismatched_pairs_refuse_in_one_line(videos, tmp_path, pair, message):
    out = tmp_path / "pairs"
    result = _hdrtv("dataset", "from-videos", out, "--pair", videos[pair[0]], videos[pair[1]], "--crop", CROP)
    assert result.returncode == 2
    assert result.stderr.splitlines() == ["hdrtv dataset: error: " + message.format(**videos)]
    assert list(tmp_path.iterdir()) == []


def test_a_failed_build_leaves_nothing(videos, tmp_path, monkeypatch):
    written = []

    def fail_at_the_fifth(path, pq):
        written.append(path)
        if len(written) == 5:
            raise OSError("disk full")

    monkeypatch.setattr(paired_videos, "write_hdr_png", fail_at_the_fifth)
    with pytest.raises(OSError, match="disk full"):
        build_from_videos(tmp_path / "pairs", [], [(videos["sdr"], videos["hdr"])], frames_per_scene=FRAMES)
    assert list(tmp_path.iterdir()) == []


def test_a_build_needs_a_crop_that_fits(videos, tmp_path):
    with pytest.raises(ValueError, match=f"frame size {WIDTH}x{HEIGHT} is smaller than the 128x128 crop"):
        build_from_videos(tmp_path / "pairs", [(videos["sdr"], videos["hdr"])], [], crop=128)
    assert list(tmp_path.iterdir()) == []
