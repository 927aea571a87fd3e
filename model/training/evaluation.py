"""Table-1-style comparison of converters on one split of a paired dataset (`pairs.py`).

Each sequence is converted whole by each model: a multi-frame model sees its real neighbours, and
replicate padding only at the sequence's ends, exactly as `Converter.convert` does. Every evaluated
output frame is scored against its HDR10 ground truth with PSNR, SSIM, SR-SIM and Delta E ITP (on PQ
BT.2020 code values, all in float64 as the reference implementations compute); a sequence's score
is the mean over its frames, a model's the mean over sequences (each sequence weighs the same),
overall and per degradation. Flicker (`metrics.temporal`) is scored only on sequences that move
(attribute `motion` other than "static"; all when it is absent): on a still shot it measures noise.

Cost: DSLNet on the CPU takes seconds per frame. `max_sequences` keeps the first N sequences of the
split (index order); `frames` scores only the middle k frames of each sequence, converted from
their neighbours in the whole sequence, so their outputs equal those of a full run.
Frames are read, converted and scored one window batch at a time: memory holds a few frames.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np
import torch
from hdrtv.model.converter import Converter
from hdrtv.model.metrics import delta_e_itp, flicker, psnr, sr_sim, ssim
from hdrtv.model.model_info import count_parameters
from hdrtv.model.training.pairs import SequenceEntry, Split, read_png, split_entries
from hdrtv.model.windows import window_plan
from torch import Tensor


@dataclass
class Scores:
    """Quality of one sequence, or a mean over sequences; flicker None where nothing moves."""

    psnr: float
    ssim: float
    sr_sim: float
    delta_e_itp: float
    flicker: float | None


@dataclass
class SequenceScores:
    name: str
    degradation: str
    frames: list[int]  # the frame indices scored
    scores: Scores


@dataclass
class ModelReport:
    name: str
    parameters: int | None  # None for a fixed formula
    overall: Scores
    degradations: dict[str, Scores]
    sequences: list[SequenceScores]

    def scores(self, degradation: str | None) -> Scores:
        """The mean over one degradation's sequences, or over all with None."""
        return self.overall if degradation is None else self.degradations[degradation]


@dataclass
class EvalReport:
    data: str
    split: str
    frames: int | None  # the middle-frames limit, None for whole sequences
    models: list[ModelReport] = field(default_factory=list)

    def to_json(self) -> str:
        """Everything measured; inf (a frame reproduced exactly) is written as Infinity."""
        return json.dumps(asdict(self), indent=1)

    @classmethod
    def from_json(cls, text: str) -> EvalReport:
        raw = json.loads(text)
        models = [
            ModelReport(
                name=m["name"],
                parameters=m["parameters"],
                overall=Scores(**m["overall"]),
                degradations={k: Scores(**v) for k, v in m["degradations"].items()},
                sequences=[SequenceScores(**{**s, "scores": Scores(**s["scores"])}) for s in m["sequences"]],
            )
            for m in raw["models"]
        ]
        return cls(raw["data"], raw["split"], raw["frames"], models)

    def to_markdown(self) -> str:
        """The overall table, a PSNR / Delta E table per degradation, the best baseline per degradation."""
        sequences = len(self.models[0].sequences) if self.models else 0
        limit = f"the middle {self.frames} frames of each" if self.frames else "all frames"
        lines = [
            f"# Evaluation on the {self.split} split of {self.data}",
            "",
            f"{sequences} sequences, {limit}; PQ BT.2020 code values. Flicker (x 10^-3 PQ code) on moving "
            "sequences only.",
            "",
            "| Method | Params | PSNR ↑ | SSIM ↑ | SR-SIM ↑ | ΔE ITP ↓ | Flicker ↓ |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        for model in self.models:
            s = model.overall
            lines.append(
                f"| {model.name} | {_params(model.parameters)} | {s.psnr:.2f} | {s.ssim:.4f} | {s.sr_sim:.4f} "
                f"| {s.delta_e_itp:.2f} | {_flicker(s.flicker)} |"
            )
        for degradation in self.degradations():
            count = sum(s.degradation == degradation for s in self.models[0].sequences)
            lines += [
                "",
                f"## {degradation} ({count} sequence{'s' * (count != 1)})",
                "",
                "| Method | PSNR ↑ | ΔE ITP ↓ |",
                "|---|---:|---:|",
            ]
            for model in self.models:
                s = model.degradations[degradation]
                lines.append(f"| {model.name} | {s.psnr:.2f} | {s.delta_e_itp:.2f} |")
        lines += self._margins()
        return "\n".join(lines) + "\n"

    def degradations(self) -> list[str]:
        """Degradations in order of first appearance."""
        return list(dict.fromkeys(s.degradation for s in self.models[0].sequences)) if self.models else []

    def _margins(self) -> list[str]:
        """Each learned model's PSNR gain and Delta E reduction over the best formula overall (by
        overall PSNR), overall and per degradation; then the best formula of each degradation, with
        the learned models' margins over it."""
        baselines = [m for m in self.models if m.parameters is None]
        learned = [m for m in self.models if m.parameters is not None]
        if not baselines:
            return []
        lines = []
        if learned:
            best = max(baselines, key=lambda m: m.overall.psnr)
            rows = [(subset, best) for subset in [None, *self.degradations()]]
            lines += _margin_table(f"Margins over the best baseline overall ({best.name})", rows, learned)
        winners = [(d, max(baselines, key=lambda m: m.degradations[d].psnr)) for d in self.degradations()]
        return lines + _margin_table("Best baseline of each degradation", winners, learned)


def _margin_table(title: str, rows: list[tuple[str | None, ModelReport]], learned: list[ModelReport]) -> list[str]:
    """Rows (degradation or None for all sequences, a baseline) -> markdown lines with the
    baseline's scores on that subset and each learned model's PSNR gain and Delta E ITP reduction."""
    header = "| Subset | Baseline | PSNR | ΔE ITP |" + "".join(
        f" {m.name} PSNR gain (dB) | {m.name} ΔE reduction |" for m in learned
    )
    lines = ["", f"## {title}", "", header, "|---|---|---:|---:|" + "---:|---:|" * len(learned)]
    for subset, baseline in rows:
        base = baseline.scores(subset)
        row = f"| {subset or 'overall'} | {baseline.name} | {base.psnr:.2f} | {base.delta_e_itp:.2f} |"
        for model in learned:
            ours = model.scores(subset)
            row += f" {ours.psnr - base.psnr:+.2f} | {base.delta_e_itp - ours.delta_e_itp:+.2f} |"
        lines.append(row)
    return lines


def evaluate(
    data: Path,
    models: dict[str, Converter],
    split: Split = "val",
    max_sequences: int | None = None,
    frames: int | None = None,
    progress: Callable[[str], None] | None = None,
) -> EvalReport:
    """Score every model (label -> converter; the label names its row) on the sequences of `split`.

    max_sequences: the first N sequences only; frames: the middle k frames of each (see the module).
    progress: told "<model> <sequence> (i/n)" before each conversion.
    """
    entries = first_entries(data, split, max_sequences)
    if not models:
        raise ValueError("no models to evaluate")
    if frames is not None and frames < 1:
        raise ValueError(f"frames must be >= 1, got {frames}")
    report = EvalReport(str(data), split, frames)
    for label, converter in models.items():
        sequences = []
        for number, entry in enumerate(entries, 1):
            if progress is not None:
                progress(f"{label} {entry.name} ({number}/{len(entries)})")
            sequences.append(score_sequence(Path(data), entry, converter, frames))
        parameters = count_parameters(converter.model) if isinstance(converter.model, torch.nn.Module) else None
        degradations = {
            d: _mean([s.scores for s in sequences if s.degradation == d])
            for d in dict.fromkeys(s.degradation for s in sequences)
        }
        report.models.append(
            ModelReport(label, parameters, _mean([s.scores for s in sequences]), degradations, sequences)
        )
    return report


def first_entries(data: Path, split: str, max_sequences: int | None = None) -> list[SequenceEntry]:
    """The sequences of `split` in index order, the first `max_sequences` of them if given."""
    if max_sequences is not None and max_sequences < 1:
        raise ValueError(f"max_sequences must be >= 1, got {max_sequences}")
    entries = split_entries(data, split)
    return entries[:max_sequences] if max_sequences is not None else entries


def convert_frames(data: Path, entry: SequenceEntry, converter: Converter, emit: range) -> Iterator[Tensor]:
    """HDR10 outputs (h, w, 3) float32 of the frames in `emit`, each converted from its neighbours
    in the whole sequence; only the SDR frames those windows need are read."""
    windows = window_plan(entry.frames, converter.radius, emit=emit)
    first, last = min(map(min, windows)), max(map(max, windows))
    sdr = (read_png(entry.frame_path(data, "sdr", i)) for i in range(first, last + 1))
    return converter.run(sdr, [tuple(i - first for i in window) for window in windows])


def middle_frames(total: int, frames: int | None) -> range:
    """The middle `frames` indices of a sequence of `total` (all of it when None or larger)."""
    count = total if frames is None else min(frames, total)
    start = (total - count) // 2
    return range(start, start + count)


def score_sequence(data: Path, entry: SequenceEntry, converter: Converter, frames: int | None = None) -> SequenceScores:
    """One model on one sequence: per-frame metrics averaged, flicker over consecutive pairs."""
    emit = middle_frames(entry.frames, frames)
    per_frame: list[list[float]] = []
    changes: list[float] = []
    previous: tuple[Tensor, Tensor] | None = None
    for index, output in zip(emit, convert_frames(data, entry, converter, emit)):
        pred = output.double()
        target = torch.from_numpy(read_png(entry.frame_path(data, "hdr", index))).double()
        per_frame.append([float(metric(pred, target)) for metric in (psnr, ssim, sr_sim, delta_e_itp)])
        if previous is not None:
            # flicker of each pair; the mean over pairs equals flicker of the whole (equal-sized) run
            changes.append(float(flicker(torch.stack([previous[0], pred]), torch.stack([previous[1], target]))))
        previous = (pred, target)
    moving = entry.attributes.get("motion") != "static"
    means = np.mean(per_frame, axis=0).tolist()
    scores = Scores(*means, flicker=float(np.mean(changes)) if moving and changes else None)
    return SequenceScores(entry.name, entry.degradation, list(emit), scores)


def _mean(scores: list[Scores]) -> Scores:
    """Field-wise mean; flicker over the scores that have one (None if none do)."""
    means = {}
    for f in fields(Scores):
        values = [getattr(s, f.name) for s in scores if getattr(s, f.name) is not None]
        means[f.name] = float(np.mean(values)) if values else None
    return Scores(**means)


def _params(count: int | None) -> str:
    return "–" if count is None else f"{count / 1e6:.3f}M"


def _flicker(value: float | None) -> str:
    return "–" if value is None else f"{value * 1e3:.3f}"
