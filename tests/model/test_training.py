"""Training: the loss goes down, a resumed run ends bitwise where an uninterrupted one does, the
config refuses what it does not know, and `hdrtv train` writes weights the converter loads."""

from __future__ import annotations

import csv
import os
import signal
import threading
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from hdrtv.model.converter import DEFAULT_WEIGHTS, load_converter
from hdrtv.model.training import pairs
from hdrtv.model.training.config import TrainConfig
from hdrtv.model.training.crops import TrainingCrops
from hdrtv.model.training.trainer import train
from hdrtv.service.cli import main

SIZE, FRAMES = 32, 6
TINY = dict(model={"width": 8, "condition_channels": 8}, crop=16, batch_size=2, lr=2e-3, device="cpu")


def hdr_of(sdr: np.ndarray) -> np.ndarray:
    """A fixed smooth monotone per-pixel map, so the SDR -> HDR mapping is learnable."""
    return 0.1 + 0.5 * sdr**2 + 0.1 * sdr[..., ::-1]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    """3 train and 1 val sequences of 6 frames, 32 x 32: smooth patterns drifting frame to frame."""
    root = tmp_path_factory.mktemp("pairs")
    y, x = np.mgrid[0:SIZE, 0:SIZE] / SIZE
    entries = []
    for n, split in enumerate(["train", "train", "train", "val"]):
        entry = pairs.SequenceEntry(f"seq{n}", split, FRAMES, SIZE, SIZE, "synthetic", "test")
        phase = np.random.default_rng(n).random(3) * 6
        for t in range(FRAMES):
            sdr = np.stack([0.5 + 0.5 * np.sin(4 * x + 3 * y * c + p + 0.3 * t) for c, p in enumerate(phase)], -1)
            pairs.write_sdr_png(entry.frame_path(root, "sdr", t), sdr)
            sdr = pairs.read_png(entry.frame_path(root, "sdr", t))  # the 8-bit SDR the model sees
            pairs.write_hdr_png(entry.frame_path(root, "hdr", t), hdr_of(sdr))
        entries.append(entry)
    pairs.write_index(root, entries)
    return root


@pytest.fixture(autouse=True)
def one_thread():
    """One fixed thread count: bitwise comparisons need it, and tiny networks run fastest on one
    thread (on a busy 2-core machine two threads are ~8x slower). Process-wide: restored after."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def config(dataset: Path, **values) -> TrainConfig:
    return TrainConfig(data=str(dataset), **{**TINY, **values})


def log_rows(out: Path) -> list[dict[str, str]]:
    with (out / "log.csv").open(newline="") as log:
        return list(csv.DictReader(log))


def test_samples_are_a_pure_function_of_seed_and_index(dataset):
    crops = TrainingCrops(dataset, radius=2, crop=16, seed=3)
    sdr, hdr = crops[7]
    assert sdr.shape == (5, 3, 16, 16) and hdr.shape == (3, 16, 16) and sdr.dtype == torch.float32
    again = TrainingCrops(dataset, radius=2, crop=16, seed=3)[7]
    assert torch.equal(again[0], sdr) and torch.equal(again[1], hdr)
    assert not torch.equal(TrainingCrops(dataset, radius=2, crop=16, seed=4)[7][0], sdr)


def test_loss_decreases(dataset, tmp_path):
    cfg = config(dataset, iterations=60, log_every=1, val_every=60, checkpoint_every=60)
    result = train(cfg, tmp_path, progress=False)
    losses = [float(row["train_loss"]) for row in log_rows(tmp_path)]
    assert result.steps == 60 and len(losses) == 60
    assert np.mean(losses[-10:]) < 0.6 * np.mean(losses[:10])
    assert np.isfinite(result.best_val_psnr)


def test_resumed_run_ends_bitwise_where_an_uninterrupted_one_does(dataset, tmp_path):
    k = 6
    cfg = config(dataset, iterations=2 * k, log_every=1, val_every=4, checkpoint_every=100)
    train(cfg, tmp_path / "a", progress=False)
    train(replace(cfg, iterations=k), tmp_path / "b", progress=False)
    result = train(cfg, tmp_path / "b", progress=False)
    assert result.steps == 2 * k
    a, b = (torch.load(tmp_path / run / "last.pt", weights_only=True) for run in ("a", "b"))
    for name, tensor in a["state_dict"].items():
        assert torch.equal(tensor, b["state_dict"][name]), name
    rows_a, rows_b = log_rows(tmp_path / "a"), log_rows(tmp_path / "b")
    assert [int(row["step"]) for row in rows_b] == list(range(1, 2 * k + 1))
    assert [row["train_loss"] for row in rows_a] == [row["train_loss"] for row in rows_b]


def test_fine_tuning_starts_from_the_init_weights(dataset, tmp_path):
    cfg = config(dataset, iterations=40, log_every=1, val_every=40, checkpoint_every=40)
    train(cfg, tmp_path / "a", progress=False)
    fresh = float(log_rows(tmp_path / "a")[0]["train_loss"])
    trained = np.mean([float(row["train_loss"]) for row in log_rows(tmp_path / "a")[-5:]])
    train(replace(cfg, iterations=1, seed=1, init=str(tmp_path / "a" / "best.pt")), tmp_path / "b", progress=False)
    tuned = float(log_rows(tmp_path / "b")[0]["train_loss"])
    assert tuned < 0.6 * fresh and tuned < 1.5 * trained
    with pytest.raises(ValueError, match="width=8, but the config builds width=16"):
        train(replace(cfg, model={**TINY["model"], "width": 16}, init=str(tmp_path / "a" / "best.pt")), tmp_path / "c")
    with pytest.raises(ValueError, match="init weights not found"):
        train(replace(cfg, init=str(tmp_path / "none.pt")), tmp_path / "d")


def test_init_shipped_is_the_project_weights(dataset, tmp_path):
    shipped = torch.load(DEFAULT_WEIGHTS, weights_only=True)
    cfg = config(dataset, model={"prior": "bt2446a"}, batch_size=1, lr=1e-12, iterations=1, init="shipped")
    train(cfg, tmp_path, progress=False)
    tuned = torch.load(tmp_path / "last.pt", weights_only=True)["state_dict"]
    learned = [name for name in shipped["state_dict"] if "running_" not in name and "num_batches" not in name]
    assert len(learned) > 90
    for name in learned:
        tensor = shipped["state_dict"][name]
        assert torch.allclose(tensor.float(), tuned[name].float(), atol=1e-6), name


def test_worker_processes_load_the_same_batches(dataset, tmp_path):
    cfg = config(dataset, iterations=4, val_every=4, checkpoint_every=4)
    train(cfg, tmp_path / "main", progress=False)
    train(replace(cfg, num_workers=2), tmp_path / "workers", progress=False)
    a, b = (torch.load(tmp_path / run / "last.pt", weights_only=True) for run in ("main", "workers"))
    assert all(torch.equal(tensor, b["state_dict"][name]) for name, tensor in a["state_dict"].items())


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_interrupt_writes_last_and_the_run_resumes(dataset, tmp_path, signum):
    cfg = config(dataset, iterations=100_000, log_every=1, val_every=100_000, checkpoint_every=100_000)
    stop = threading.Event()

    def interrupt_once_logging() -> None:
        while not stop.is_set() and not ((tmp_path / "log.csv").is_file() and len(log_rows(tmp_path)) >= 3):
            time.sleep(0.01)
        os.kill(os.getpid(), signum)

    thread = threading.Thread(target=interrupt_once_logging)
    thread.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            train(cfg, tmp_path, progress=False)
    finally:
        stop.set()
        thread.join()
    step = torch.load(tmp_path / "last.pt", weights_only=True)["step"]
    assert 3 <= step < 100_000
    assert train(replace(cfg, iterations=step + 2), tmp_path, progress=False).steps == step + 2
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL  # handlers restored


def test_config_refuses_unknown_keys_and_a_changed_resume(dataset, tmp_path):
    with pytest.raises(ValueError, match="'learning_rate'"):
        TrainConfig.from_dict({"learning_rate": 1e-3})
    with pytest.raises(ValueError, match="crop must be a positive even integer"):
        TrainConfig(crop=15)
    toml = tmp_path / "run.toml"
    toml.write_text('crop = 16\nbatch_size = 2\ndata = "pairs"\nmilestones = [10, 20]\n')
    loaded = TrainConfig.load(toml)
    assert loaded.milestones == (10, 20) and loaded.data == str(tmp_path / "pairs")
    cpu = TrainConfig.load("cpu")
    assert cpu.crop == 96 and cpu.batch_size == 4 and cpu.iterations == 20_000
    assert TrainConfig.load("paper") == TrainConfig()

    cfg = config(dataset, iterations=2, val_every=2, checkpoint_every=2)
    train(cfg, tmp_path / "run", progress=False)
    train(replace(cfg, iterations=3, log_every=7), tmp_path / "run", progress=False)  # cadence may change
    with pytest.raises(ValueError, match="lr=0.002"):
        train(replace(cfg, iterations=4, lr=1e-3), tmp_path / "run", progress=False)


def test_cli_trains_and_the_best_weights_convert(dataset, tmp_path, capsys):
    toml = tmp_path / "tiny.toml"
    toml.write_text(
        'variant = "M7"\nmodel = { width = 8, condition_channels = 8 }\ncrop = 16\nbatch_size = 2\n'
        "iterations = 4\nval_every = 2\ncheckpoint_every = 2\nlog_every = 1\n"
    )
    out = tmp_path / "out"
    argv = ["train", "--config", str(toml), "--data", str(dataset), "--out", str(out), "--device", "cpu", "--quiet"]
    assert main(argv) == 0
    assert "trained 4 steps" in capsys.readouterr().out
    assert {"last.pt", "best.pt", "log.csv"} <= {p.name for p in out.iterdir()}
    assert [int(row["step"]) for row in log_rows(out)] == [1, 2, 3, 4]
    converter = load_converter("dslnet", weights=out / "best.pt")
    sdr = np.random.default_rng(0).random((3, SIZE, SIZE, 3), dtype=np.float32)
    hdr = converter.convert(sdr)
    assert hdr.shape == sdr.shape and np.all((hdr >= 0) & (hdr <= 1))
    assert main([*argv, "--iterations", "6"]) == 0  # resumes
    assert int(log_rows(out)[-1]["step"]) == 6


def test_cli_variant_overrides_the_config(dataset, tmp_path, capsys):
    toml = tmp_path / "tiny.toml"
    toml.write_text('variant = "M7"\nmodel = { width = 8, condition_channels = 8 }\ncrop = 16\nbatch_size = 2\n')
    out = tmp_path / "m0"
    argv = ["train", "--config", str(toml), "--data", str(dataset), "--out", str(out), "--quiet", "--iterations", "1"]
    assert main([*argv, "--variant", "M0"]) == 0
    load_converter("dslnet", weights=out / "last.pt", variant="M0")  # refuses weights of another rung
    assert main([*argv, "--variant", "M9"]) == 2
    assert "M9" in capsys.readouterr().err


def test_cli_bad_data_path_is_one_line(tmp_path, capsys):
    assert main(["train", "--config", "cpu", "--data", str(tmp_path / "missing"), "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "hdrtv train: error:" in err and "missing" in err
