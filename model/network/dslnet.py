"""DSLNet (multi-frame SDRTV-to-HDRTV conversion): DMFA -> STFM -> LKQE.

Input: 2T+1 consecutive SDR frames `(n, 2T+1, 3, h, w)`, BT.709 R'G'B' (BT.1886-encoded, full
range) in [0, 1], h and w even. Output: the centre frame as HDR10 R'G'B' `(n, 3, h, w)`: BT.2020
primaries, PQ code values (1.0 = 10,000 cd/m2). Not clamped: callers clamp to [0, 1] when they
emit frames, training sees the raw values.

The network splits into a global part, computed from whole frames (`context`: the dynamic offset
kernels and the modulation vectors and maps), and a local, fully convolutional part (`forward`)
that can run on any even-aligned tile of the frame given that context. Without a context,
`forward` computes it from the frames it is given.

Ablation rungs and variants are constructor arguments (see `variants.py`): which front end
(`alignment`), whether the offset estimator has its dynamic convolution, which modulations,
whether STFM has its large-kernel residual branch, and whether LKQE uses large kernels.

Choices neither the paper nor our note settles (more in the module docstrings):
- the deformable convolution samples the stacked SDR frames themselves (the paper: "Xoffset is
  input to the deformable convolution with X"), one offset group per frame, 3 x 3 taps;
- offsets are bounded to +-10 pixels (`max_offset`, BasicVSR++'s value), masks are sigmoids, and
  the head predicting both is zero-initialised (offsets 0, masks 0.5 at the start);
- LDOE's transposed convolution is 4 x 4 with stride 2 (exact 2x upsampling, no checkerboard of
  a 2 x 2 kernel); the dynamic kernel head is global pool, 1x1 (width/4), ReLU, 1x1;
- width 64 and 32 ConditionNet channels give 0.90M parameters (the paper: 0.93M);
- LeakyReLU slopes are 0.2; the output has no activation (PQ values are clamped by the caller);
- `prior` (ours, not the paper's): with a name from `baselines.BASELINES`, the network predicts a
  residual over that fixed expansion of the centre frame, and LKQE's last convolution starts at
  zero so an untrained network *is* the baseline. Without it (`None`, the paper's network), the
  network must first learn the whole SDR -> PQ curve, which on a CPU budget costs most of a run.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor, nn

from ..baselines import BASELINES
from .dmfa import DMFA, Alignment
from .lkqe import LKQE
from .stfm import MODULATIONS, STFM, ModulationInputs


@dataclass
class FrameContext:
    """Global parts of DSLNet for one batch of windows, from whole frames of `frame_size` (h, w).

    offset_kernel: (n, width, 7, 7) dynamic kernels of the offset estimator, or None.
    """

    offset_kernel: Tensor | None
    modulation: ModulationInputs
    frame_size: tuple[int, int]

    @staticmethod
    def cat(parts: list[FrameContext]) -> FrameContext:
        """Join the contexts of several batches of windows of one frame size into one batch."""
        kernels = [p.offset_kernel for p in parts if p.offset_kernel is not None]
        return FrameContext(
            offset_kernel=torch.cat(kernels) if kernels else None,
            modulation=ModulationInputs.cat([p.modulation for p in parts]),
            frame_size=parts[0].frame_size,
        )


class DSLNet(nn.Module):
    def __init__(
        self,
        radius: int = 2,
        width: int = 64,
        condition_channels: int = 32,
        alignment: Alignment = "deformable",
        dynamic_offsets: bool = True,
        modulations: tuple[str, ...] = MODULATIONS,
        residual_branch: bool = True,
        large_kernel_enhancement: bool = True,
        trunk_kernel: int = 1,
        max_offset: float = 10.0,
        prior: str | None = None,
    ) -> None:
        """radius: T, the frames on each side of the centre frame (the window is 2T+1 frames).
        width: feature channels. trunk_kernel: kernel of the modulation branch's convolutions
        (3 gives the "stacked convolutions" of the variant without modulation). prior: a baseline
        name whose output the network corrects, or None."""
        super().__init__()
        self.radius = radius
        self.num_frames = 2 * radius + 1
        self.config = dict(
            radius=radius,
            width=width,
            condition_channels=condition_channels,
            alignment=alignment,
            dynamic_offsets=dynamic_offsets,
            modulations=tuple(modulations),
            residual_branch=residual_branch,
            large_kernel_enhancement=large_kernel_enhancement,
            trunk_kernel=trunk_kernel,
            max_offset=max_offset,
            prior=prior,
        )
        if prior is not None and prior not in BASELINES:
            raise ValueError(f"unknown prior {prior!r}; choose from {', '.join(BASELINES)}")
        self.prior = prior
        self.dmfa = DMFA(self.num_frames, width, alignment, dynamic_offsets, max_offset)
        self.stfm = STFM(self.num_frames, width, condition_channels, tuple(modulations), residual_branch, trunk_kernel)
        self.lkqe = LKQE(width, large_kernel_enhancement, zero_output=prior is not None)

    def context(self, frames: Tensor, features: Tensor | None = None) -> FrameContext:
        """frames (n, 2T+1, 3, h, w) whole frames -> their FrameContext.

        features: (n, s, c, h/16, w/16) ConditionNet features of the frames at
        `self.stfm.condition_slots()`, when the caller has them (computed once per frame of a
        video rather than once per window); None computes them here.
        """
        self._check(frames)
        if features is None:
            modulation = self.stfm.condition_inputs(frames)
        else:
            modulation = self.stfm.combine(features)
        return FrameContext(
            offset_kernel=self.dmfa.predict_kernel(frames),
            modulation=modulation,
            frame_size=(frames.shape[-2], frames.shape[-1]),
        )

    def forward(self, frames: Tensor, context: FrameContext | None = None, origin: tuple[int, int] = (0, 0)) -> Tensor:
        """frames (n, 2T+1, 3, h, w) -> centre frame HDR (n, 3, h, w).

        With a `context` from whole frames, `frames` may be a tile whose top-left corner sits at
        `origin` (y, x) of those frames; the tile's output then equals the same crop of the
        whole frame's output away from the tile's borders.
        """
        self._check(frames)
        if context is None:
            context = self.context(frames)
        features = self.dmfa(frames, context.offset_kernel)
        features = self.stfm(features, context.modulation, context.frame_size, origin)
        out = self.lkqe(features)
        if self.prior is None:
            return out
        return out + self._prior(frames[:, self.radius])

    def _prior(self, centre: Tensor) -> Tensor:
        """Centre SDR frame (n, 3, h, w) -> the prior's HDR10 PQ (n, 3, h, w), computed in fp32:
        its exponents and powers lose whole code values in half precision."""
        with torch.autocast(centre.device.type, enabled=False):
            hdr = BASELINES[self.prior](centre.float().movedim(1, -1)).movedim(-1, 1)
        return hdr.to(centre.dtype)

    def _check(self, frames: Tensor) -> None:
        if frames.dim() != 5 or frames.shape[1] != self.num_frames or frames.shape[2] != 3:
            raise ValueError(f"expected frames (n, {self.num_frames}, 3, h, w), got {tuple(frames.shape)}")
        if frames.shape[-1] % 2 or frames.shape[-2] % 2:
            raise ValueError(f"frame height and width must be even, got {tuple(frames.shape[-2:])}")


def save_checkpoint(model: DSLNet, path: str | Path, **extra: object) -> None:
    """Write the weights with the constructor arguments that rebuild the network."""
    torch.save({"config": model.config, "state_dict": model.state_dict(), **extra}, path)


def read_checkpoint_config(path: str | Path) -> dict:
    """The constructor arguments a checkpoint was saved with, its tensors left on disk (mmap)."""
    return torch.load(path, map_location="cpu", weights_only=True, mmap=True)["config"]


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> DSLNet:
    """Rebuild a DSLNet from a checkpoint written by `save_checkpoint`."""
    checkpoint = torch.load(path, map_location=map_location, weights_only=True)
    model = DSLNet(**checkpoint["config"])
    model.load_state_dict(checkpoint["state_dict"])
    return model
