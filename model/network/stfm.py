"""STFM: spatial-temporal feature modulation, DSLNet's second module.

Three branches (paper Fig. 6-7, Eq. 2-8):
1. ConditionNet: 4 ColorBlocks `Conv1x1(AvgPool2(LeakyReLU(Norm(x))))` per frame give features
   F_t at 1/16 resolution. TME maps all F_t to one global (scale, shift) pair for TFM; CME maps
   the centre frame's F_i to three global pairs for the three CFMs; SME maps F_i to three per-pixel
   pairs for the three SFMs (a low-resolution map, bilinearly upsampled to full resolution).
2. Modulation: Conv1x1, TFM, then 3 x [ReLU, Conv1x1, CFM, SFM]; every modulation is
   `F * A + B` with its own (A, B).
3. Residual: 2 x (Conv3x3, LeakyReLU), 4 large-kernel residual blocks, Conv3x3 -> F_skip.
STFM returns F_mod + F_skip.

Choices the paper leaves open: Norm is BatchNorm (a fixed per-channel affine map at inference,
so a frame's features never depend on the other frames in a batch or on the tile); the ColorBlock
pool is a 2 x 2 average pool; TME and CME put a LeakyReLU between their two 1 x 1 convolutions
(without it they are one linear map); SME's average pool is 3 x 3 with stride 1 (it smooths
without lowering the resolution further). The global vectors and the low-resolution spatial map
are computed once from the whole frame (`ModulationInputs`), so a tile of the frame is modulated
exactly as the frame would be.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..layers.residual import add_to_fresh, residual_stack

MODULATIONS = ("temporal", "channel", "spatial")
STEPS = 3  # [ReLU, Conv1x1, CFM, SFM] repeats


class ColorBlock(nn.Module):
    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.BatchNorm2d(in_channels),
            nn.LeakyReLU(0.2),
            nn.AvgPool2d(2, ceil_mode=True),
            nn.Conv2d(in_channels, out_channels, 1),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.body(x)


class ConditionNet(nn.Module):
    """Frames (m, 3, h, w) -> per-frame condition features (m, c, ceil(h/16), ceil(w/16))."""

    def __init__(self, channels: int, blocks: int = 4) -> None:
        super().__init__()
        self.body = nn.Sequential(*(ColorBlock(3 if i == 0 else channels, channels) for i in range(blocks)))

    def forward(self, frames: Tensor) -> Tensor:
        return self.body(frames)


class VectorEstimator(nn.Module):
    """TME / CME: features (n, c_in, h', w') -> global modulation vector (n, c_out)."""

    def __init__(self, in_channels: int, hidden: int, out_channels: int) -> None:
        super().__init__()
        self.inner = nn.Sequential(nn.Conv2d(in_channels, hidden, 1), nn.LeakyReLU(0.2))
        self.outer = nn.Linear(hidden, out_channels)

    def forward(self, features: Tensor) -> Tensor:
        return self.outer(self.inner(features).mean(dim=(2, 3)))


class SpatialEstimator(nn.Module):
    """SME: centre-frame features (n, c, h', w') -> low-resolution modulation map (n, c_out, h', w')."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.LeakyReLU(0.2),
            nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False),
            nn.Conv2d(in_channels, out_channels, 1),
        )

    def forward(self, features: Tensor) -> Tensor:
        return self.body(features)


def upsample_crop(low: Tensor, frame_size: tuple[int, int], origin: tuple[int, int], size: tuple[int, int]) -> Tensor:
    """The (h, w) crop at `origin` of `low` (n, c, h', w') bilinearly upsampled to `frame_size`.

    Equals `F.interpolate(low, frame_size, mode="bilinear")[..., y0:y0+h, x0:x0+w]` without
    building the full-size map, so a tile costs only its own pixels. The whole frame takes
    `F.interpolate` itself, which keeps `low`'s memory format (channels-last in, channels-last
    out: the activations it modulates are channels-last on CPUs) and runs ~4x faster than
    `grid_sample`; the two agree to float rounding.
    """
    (frame_h, frame_w), (y0, x0), (h, w) = frame_size, origin, size
    if (y0, x0) == (0, 0) and (h, w) == (frame_h, frame_w):
        return F.interpolate(low, size=(h, w), mode="bilinear", align_corners=False)
    ys = (2 * torch.arange(y0, y0 + h, device=low.device, dtype=low.dtype) + 1) / frame_h - 1
    xs = (2 * torch.arange(x0, x0 + w, device=low.device, dtype=low.dtype) + 1) / frame_w - 1
    grid = torch.stack(torch.meshgrid(ys, xs, indexing="ij")[::-1], dim=-1)
    grid = grid.unsqueeze(0).expand(low.shape[0], h, w, 2)
    return F.grid_sample(low, grid, mode="bilinear", padding_mode="border", align_corners=False)


@dataclass
class ModulationInputs:
    """Global parts of STFM for one batch of windows, computed from whole frames.

    temporal: (n, 2c) TFM (scale, shift); channel: (n, 3*2c) CFM pairs; spatial: (n, 3*2c, h', w')
    low-resolution SFM pairs. A part is None when its modulation is switched off.
    """

    temporal: Tensor | None
    channel: Tensor | None
    spatial: Tensor | None

    @staticmethod
    def cat(parts: list[ModulationInputs]) -> ModulationInputs:
        """Join the inputs of several batches of windows into one batch."""

        def join(name: str) -> Tensor | None:
            tensors = [getattr(p, name) for p in parts if getattr(p, name) is not None]
            return torch.cat(tensors) if tensors else None

        return ModulationInputs(join("temporal"), join("channel"), join("spatial"))


def modulate(x: Tensor, params: Tensor) -> Tensor:
    """`x * A + B` with params (n, 2c) or (n, 2c, h, w) split into (A, B); x: (n, c, h, w).

    One fused pass (`addcmul`). Without autograd it overwrites `x` (callers pass a fresh
    activation they no longer need) when the dtypes agree, so no full-size tensor is allocated.
    """
    if params.dim() == 2:
        params = params[:, :, None, None]  # broadcasts as (n, c, 1, 1) over any memory format
    scale, shift = params.chunk(2, dim=1)
    if not torch.is_grad_enabled() and x.dtype == scale.dtype:
        return torch.addcmul(shift, x, scale, out=x)
    return torch.addcmul(shift, x, scale)


class STFM(nn.Module):
    """Aligned features (n, c, h, w) + ModulationInputs -> modulated features (n, c, h, w)."""

    def __init__(
        self,
        num_frames: int,
        width: int,
        condition_channels: int,
        modulations: tuple[str, ...],
        residual_branch: bool,
        trunk_kernel: int = 1,
    ) -> None:
        super().__init__()
        unknown = set(modulations) - set(MODULATIONS)
        if unknown:
            raise ValueError(f"unknown modulations {sorted(unknown)}; choose from {MODULATIONS}")
        self.modulations = tuple(m for m in MODULATIONS if m in modulations)
        self.num_frames = num_frames
        pair = 2 * width
        if self.modulations:
            self.condition = ConditionNet(condition_channels)
        hidden = condition_channels
        if "temporal" in self.modulations:
            self.temporal = VectorEstimator(num_frames * condition_channels, hidden, pair)
        if "channel" in self.modulations:
            self.channel = VectorEstimator(condition_channels, hidden, STEPS * pair)
        if "spatial" in self.modulations:
            self.spatial = SpatialEstimator(condition_channels, STEPS * pair)
        pad = trunk_kernel // 2
        self.trunk_in = nn.Conv2d(width, width, trunk_kernel, padding=pad)
        self.trunk = nn.ModuleList(nn.Conv2d(width, width, trunk_kernel, padding=pad) for _ in range(STEPS))
        self.residual = None
        if residual_branch:
            self.residual = nn.Sequential(
                nn.Conv2d(width, width, 3, padding=1),
                nn.LeakyReLU(0.2, inplace=True),
                nn.Conv2d(width, width, 3, padding=1),
                nn.LeakyReLU(0.2, inplace=True),
                residual_stack(width, 4, large_kernel=True),
                nn.Conv2d(width, width, 3, padding=1),
            )

    def condition_slots(self) -> range:
        """The frames of a window whose ConditionNet features the modulations use: all of them
        for TFM, else only the centre frame; none without modulation."""
        if not self.modulations:
            return range(0)
        if "temporal" in self.modulations:
            return range(self.num_frames)
        return range(self.num_frames // 2, self.num_frames // 2 + 1)

    def condition_inputs(self, frames: Tensor) -> ModulationInputs:
        """frames (n, t, 3, h, w) -> the global modulation parameters of their centre frames."""
        slots = self.condition_slots()
        if not slots:
            return ModulationInputs(None, None, None)
        features = self.condition(frames[:, slots.start : slots.stop].flatten(0, 1))
        return self.combine(features.reshape(frames.shape[0], len(slots), *features.shape[1:]))

    def combine(self, features: Tensor) -> ModulationInputs:
        """ConditionNet features (n, s, c, h', w') of each window's `condition_slots()` frames ->
        the modulation parameters. Split from `condition_inputs` so a caller converting a video
        runs ConditionNet once per frame and shares the features among the windows using it."""
        own = features[:, features.shape[1] // 2]
        return ModulationInputs(
            temporal=self.temporal(features.flatten(1, 2)) if "temporal" in self.modulations else None,
            channel=self.channel(own) if "channel" in self.modulations else None,
            spatial=self.spatial(own) if "spatial" in self.modulations else None,
        )

    def forward(
        self, x: Tensor, inputs: ModulationInputs, frame_size: tuple[int, int], origin: tuple[int, int] = (0, 0)
    ) -> Tensor:
        out = self.trunk_in(x)
        if inputs.temporal is not None:
            out = modulate(out, inputs.temporal)
        channel = inputs.channel.chunk(STEPS, dim=1) if inputs.channel is not None else None
        spatial = None
        if inputs.spatial is not None:
            # The map in the activations' memory format, so `modulate` meets matching strides.
            low = inputs.spatial.contiguous(memory_format=_memory_format(out))
            spatial = upsample_crop(low, frame_size, origin, x.shape[-2:]).chunk(STEPS, dim=1)
        for step, conv in enumerate(self.trunk):
            out = conv(F.relu_(out))  # `out` is a fresh activation used only here
            if channel is not None:
                out = modulate(out, channel[step])
            if spatial is not None:
                out = modulate(out, spatial[step])
        if self.residual is not None:
            out = add_to_fresh(self.residual(x), out)
        return out


def _memory_format(x: Tensor) -> torch.memory_format:
    channels_last = x.dim() == 4 and not x.is_contiguous() and x.is_contiguous(memory_format=torch.channels_last)
    return torch.channels_last if channels_last else torch.contiguous_format
