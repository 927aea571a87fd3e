"""Training DSLNet on a pairs dataset: `train(config, out_dir)`.

Each step takes the next `batch_size` samples of the run's fixed sample sequence (`crops.py`:
step s covers samples s*batch_size ..), runs the network under the config's precision, and
takes an Adam step on the L1 loss of the unclamped output; the learning rate follows a
MultiStepLR schedule stepped per iteration. Nothing random happens outside the sample function
and the seeded weight initialisation, so a run resumed from `last.pt` ends bitwise where an
uninterrupted one would (on one machine, with one thread count).

Files in out_dir:
    last.pt   model, optimizer, scheduler, grad scaler, step and config; also loads as weights
    best.pt   the weights with the best validation PSNR so far (`save_checkpoint`: step, val_psnr)
    log.csv   step, lr, train_loss (mean since the previous row), val_psnr, val_l1, seconds
"""

from __future__ import annotations

import contextlib
import csv
import math
import os
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader
from tqdm import tqdm

from ..converter import DEFAULT_WEIGHTS
from ..engine import CHANNELS_LAST_MIN_WIDTH
from ..metrics import psnr
from ..network import DSLNet, build_dslnet, load_checkpoint, save_checkpoint
from ..precision import autocast, resolve_device, resolve_precision
from .config import SHIPPED, TrainConfig
from .crops import TrainingCrops, validation_samples
from .pairs import split_entries

LAST, BEST, LOG = "last.pt", "best.pt", "log.csv"
LOG_COLUMNS = ("step", "lr", "train_loss", "val_psnr", "val_l1", "seconds")


@dataclass
class TrainResult:
    """steps: the run's step count now; train_loss: mean of the last logged window (nan when
    this call ran no step); best_val_psnr: -inf before any validation."""

    steps: int
    train_loss: float
    best_val_psnr: float
    last: Path
    best: Path
    log: Path


def train(config: TrainConfig, out_dir: str | Path, resume: bool = True, progress: bool = True) -> TrainResult:
    """Train (or, with `resume` and a `last.pt` in out_dir, go on training) up to
    `config.iterations` steps. Ctrl-C finishes the current step, writes last.pt and raises
    KeyboardInterrupt."""
    if not config.data:
        raise ValueError("no dataset: set data in the training config or pass --data")
    config = replace(config, data=str(Path(config.data).resolve()))
    if config.init and config.init != SHIPPED:
        config = replace(config, init=str(Path(config.init).resolve()))
    threads = torch.get_num_threads()
    if config.threads is not None:
        torch.set_num_threads(config.threads)
    try:
        return _Run(config, Path(out_dir), resume).loop(progress)
    finally:
        torch.set_num_threads(threads)


class _Run:
    """The state of one training run: model, optimizer, schedule, step, best PSNR, log."""

    def __init__(self, config: TrainConfig, out_dir: Path, resume: bool) -> None:
        self.config = config
        self.device = resolve_device(config.device)
        self.precision = resolve_precision(config.precision, self.device)
        autocast(self.device, self.precision)  # validates the combination before any work
        root = Path(config.data)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(config.seed)
            try:
                self.model = build_dslnet(config.variant, **config.model).to(self.device).train()
            except TypeError as error:  # an unknown DSLNet argument in config.model
                raise ValueError(f"training config model: {error}") from None
        if config.init:
            self._initialise(DEFAULT_WEIGHTS if config.init == SHIPPED else Path(config.init))
        if self.device.type == "cpu" and self.model.config["width"] >= CHANNELS_LAST_MIN_WIDTH:
            self.model = self.model.to(memory_format=torch.channels_last)  # as at inference: ~20x faster 17x17
        self.crops = TrainingCrops(root, self.model.radius, config.crop, config.seed)
        split_entries(root, "val")  # fail now, not at the first validation
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=config.lr, betas=config.betas)
        self.scheduler = torch.optim.lr_scheduler.MultiStepLR(self.optimizer, list(config.milestones), config.gamma)
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=self.precision == "fp16")
        self.step, self.best, self.seconds = 0, -math.inf, 0.0
        self.paths = {name: out_dir / name for name in (LAST, BEST, LOG)}
        out_dir.mkdir(parents=True, exist_ok=True)
        if resume and self.paths[LAST].is_file():
            self._restore()
        else:  # a fresh start leaves nothing of an earlier run to resume from or to mistake for its best
            self.paths[LAST].unlink(missing_ok=True)
            self.paths[BEST].unlink(missing_ok=True)
            with self.paths[LOG].open("w", newline="") as log:
                csv.writer(log).writerow(LOG_COLUMNS)

    def loop(self, progress: bool) -> TrainResult:
        config, start = self.config, self.step
        samples = range(start * config.batch_size, config.iterations * config.batch_size)
        loader = DataLoader(
            self.crops,
            batch_size=config.batch_size,
            sampler=samples,
            num_workers=config.num_workers,
            pin_memory=self.device.type == "cuda",
        )
        loss_sum, losses, train_loss, val_psnr = torch.zeros((), device=self.device), 0, math.nan, math.nan
        began = time.perf_counter() - self.seconds
        bar = tqdm(total=config.iterations, initial=start, unit="step", disable=not progress, dynamic_ncols=True)
        with bar, _deferred_interrupt() as interrupted:
            for sdr, hdr in loader:
                lr = self.optimizer.param_groups[0]["lr"]
                loss_sum += self._step(sdr.to(self.device, non_blocking=True), hdr.to(self.device, non_blocking=True))
                losses += 1
                self.step += 1
                self.seconds = time.perf_counter() - began
                bar.update()
                if interrupted.is_set():
                    self._save_last()
                    raise KeyboardInterrupt
                last = self.step == config.iterations
                val = self._validate() if self.step % config.val_every == 0 or last else None
                if self.step % config.log_every == 0 or val is not None:
                    train_loss = (loss_sum / losses).item()
                    loss_sum.zero_()
                    losses = 0
                    self._log(lr, train_loss, val)
                    val_psnr = val[0] if val is not None else val_psnr
                    bar.set_postfix(loss=f"{train_loss:.4f}", lr=f"{lr:.2e}", val_psnr=f"{val_psnr:.2f}", refresh=False)
                if self.step % config.checkpoint_every == 0 or last:
                    self._save_last()
        return TrainResult(self.step, train_loss, self.best, self.paths[LAST], self.paths[BEST], self.paths[LOG])

    def _step(self, sdr: torch.Tensor, hdr: torch.Tensor) -> torch.Tensor:
        """One Adam step on sdr (n, 2T+1, 3, crop, crop) -> hdr (n, 3, crop, crop); the detached loss."""
        with autocast(self.device, self.precision):
            output = self.model(sdr)
        loss = F.l1_loss(output.float(), hdr)
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.scheduler.step()
        return loss.detach()

    @torch.no_grad()
    def _validate(self) -> tuple[float, float]:
        """(mean PSNR, mean L1) of the clamped outputs over the val sequences' centre windows;
        a new best PSNR writes best.pt."""
        self.model.eval()
        psnrs, l1s = [], []
        for _, sdr, hdr in validation_samples(Path(self.config.data), self.model.radius, self.config.val_crop):
            with autocast(self.device, self.precision):
                output = self.model(sdr[None].to(self.device))
            output, hdr = output[0].float().clamp(0, 1), hdr.to(self.device)
            psnrs.append(psnr(output.permute(1, 2, 0), hdr.permute(1, 2, 0)).item())
            l1s.append((output - hdr).abs().mean().item())
        self.model.train()
        val_psnr, val_l1 = sum(psnrs) / len(psnrs), sum(l1s) / len(l1s)
        if val_psnr > self.best:
            self.best = val_psnr
            _atomic_save(self.model, self.paths[BEST], step=self.step, val_psnr=val_psnr)
        return val_psnr, val_l1

    def _log(self, lr: float, train_loss: float, val: tuple[float, float] | None) -> None:
        val_psnr, val_l1 = (f"{val[0]:.4f}", f"{val[1]:.6f}") if val is not None else ("", "")
        with self.paths[LOG].open("a", newline="") as log:
            row = (self.step, f"{lr:.6g}", f"{train_loss:.6f}", val_psnr, val_l1, f"{self.seconds:.1f}")
            csv.writer(log).writerow(row)

    def _save_last(self) -> None:
        _atomic_save(
            self.model,
            self.paths[LAST],
            train_config=self.config.to_dict(),
            step=self.step,
            optimizer=self.optimizer.state_dict(),
            scheduler=self.scheduler.state_dict(),
            scaler=self.scaler.state_dict(),
            best_val_psnr=self.best,
            seconds=self.seconds,
        )

    def _initialise(self, path: Path) -> None:
        """Start from trained weights (fine-tuning); they must fit the network the config builds."""
        if not path.is_file():
            raise ValueError(f"init weights not found: {path}")
        trained = load_checkpoint(path)
        for key, value in self.model.config.items():
            if trained.config.get(key) != value:
                raise ValueError(
                    f"init weights {path} are a DSLNet with {key}={trained.config.get(key)!r}, but the "
                    f"config builds {key}={value!r}: set variant and [model] to match"
                )
        self.model.load_state_dict(trained.state_dict())

    def _restore(self) -> None:
        """Continue from last.pt: its config must match but for cadence; log rows past its step go."""
        path = self.paths[LAST]
        state = torch.load(path, map_location=self.device, weights_only=True)
        saved = TrainConfig.from_dict(state["train_config"])
        changed = self.config.differences(saved)
        if changed:
            key = changed[0]
            raise ValueError(
                f"{path} was trained with {key}={getattr(saved, key)!r}, not {getattr(self.config, key)!r}: "
                "resume with the same config, or start over (--no-resume) or in another --out"
            )
        self.model.load_state_dict(state["state_dict"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.scaler.load_state_dict(state["scaler"])
        self.step, self.best, self.seconds = state["step"], state["best_val_psnr"], state["seconds"]
        rows = []
        if self.paths[LOG].is_file():
            with self.paths[LOG].open(newline="") as log:
                rows = list(csv.reader(log))
        with self.paths[LOG].open("w", newline="") as log:
            csv.writer(log).writerows([LOG_COLUMNS, *(row for row in rows[1:] if int(row[0]) <= self.step)])


def _atomic_save(model: DSLNet, path: Path, **extra: object) -> None:
    """save_checkpoint through a temporary file, so a crash never leaves half a checkpoint."""
    temp = path.with_suffix(".tmp")
    save_checkpoint(model, temp, **extra)
    os.replace(temp, path)


@contextlib.contextmanager
def _deferred_interrupt() -> Iterator[threading.Event]:
    """Ctrl-C (SIGINT) or a shutdown (SIGTERM, as a machine or session going away sends) sets the
    event, which the loop checks between steps, so last.pt never holds half a step; a second
    signal interrupts at once. Off the main thread signals cannot be caught: no-op."""
    event = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield event
        return
    signals = (signal.SIGINT, signal.SIGTERM)
    # A handler installed outside Python reads as None: restore Python's own default then.
    defaults = {signal.SIGINT: signal.default_int_handler, signal.SIGTERM: signal.SIG_DFL}
    previous = {s: signal.getsignal(s) or defaults[s] for s in signals}

    def handler(signum: int, frame: object) -> None:
        event.set()
        for s in signals:
            signal.signal(s, previous[s])

    for s in signals:
        signal.signal(s, handler)
    try:
        yield event
    finally:
        for s in signals:
            signal.signal(s, previous[s])
