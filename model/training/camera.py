"""Camera paths over an equirectangular HDR panorama, rendered as perspective video frames.

A panorama holds a whole sphere of real light, so moving a virtual camera inside it gives
natural multi-frame clips with known, exact motion: pans (which wrap around horizontally), tilts,
zooms, hand-held shake, and every step a fraction of a pixel as real footage has. There is no
parallax or object motion; DSLNet's alignment still sees global motion of real content.

Conventions: yaw and pitch in degrees (yaw 0 looks at the panorama's horizontal centre, pitch up
is positive), `fov` the horizontal field of view in degrees. A panorama is (H, W, 3), W = 2H,
longitude -180..180 degrees left to right, latitude 90..-90 top to bottom.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

MOTIONS = ("pan", "tilt", "pan-tilt", "zoom", "shake", "static")
# Pitch stays away from the poles, where an equirectangular image is stretched most.
PITCH_RANGE = (-20.0, 25.0)


@dataclass(frozen=True)
class CameraPath:
    """Per-frame camera pose: yaw, pitch, fov, each a tuple of t floats (degrees)."""

    motion: str
    yaw: tuple[float, ...]
    pitch: tuple[float, ...]
    fov: tuple[float, ...]

    def describe(self) -> dict[str, object]:
        """JSON-ready summary for a dataset index: the motion kind and the mean step per frame."""
        steps = {key: float(np.abs(np.diff(values)).mean()) for key, values in asdict(self).items() if key != "motion"}
        return {"motion": self.motion, **{f"{key}_step": round(value, 4) for key, value in steps.items()}}


def draw_camera_path(rng: np.random.Generator, frames: int, motion: str, fov: tuple[float, float]) -> CameraPath:
    """A random path of `frames` poses of one motion kind, fov drawn in the `fov` range.

    Speeds are log-uniform: pans 0.05..2 degrees per frame (about 0.1..4.5 pixels at a 256-pixel,
    90-degree view), tilts a third of that, zooms 0.3..3% per frame; "shake" is a small random walk
    (0.03..0.25 degrees per frame) that is also added to half of the other moving paths.
    """
    if motion not in MOTIONS:
        raise ValueError(f"unknown camera motion {motion!r}; choose from {', '.join(MOTIONS)}")
    t = np.arange(frames, dtype=np.float64)
    start_fov = rng.uniform(*fov)
    yaw = np.full(frames, rng.uniform(-180.0, 180.0))
    pitch = np.full(frames, rng.uniform(-10.0, 15.0))
    fovs = np.full(frames, start_fov)

    def speed(low: float, high: float) -> float:
        return float(np.exp(rng.uniform(math.log(low), math.log(high))) * rng.choice((-1.0, 1.0)))

    if motion in ("pan", "pan-tilt"):
        yaw = yaw + speed(0.05, 2.0) * t
    if motion in ("tilt", "pan-tilt"):
        pitch = pitch + speed(0.02, 0.7) * t
    if motion == "zoom":
        fovs = start_fov * (1.0 + speed(0.003, 0.03)) ** t
    if motion == "shake" or (motion != "static" and rng.random() < 0.5):
        step = rng.uniform(0.03, 0.25)
        yaw = yaw + np.cumsum(rng.normal(0.0, step, frames))
        pitch = pitch + np.cumsum(rng.normal(0.0, step, frames))
    pitch = np.clip(pitch, *PITCH_RANGE)
    return CameraPath(motion, tuple(yaw.tolist()), tuple(pitch.tolist()), tuple(fovs.tolist()))


def _rays(path: CameraPath, height: int, width: int) -> Tensor:
    """Unit view directions (t, h, w, 3) in world axes (x right, y up, z forward at yaw 0)."""
    ys = (height / 2 - 0.5 - torch.arange(height, dtype=torch.float64)).view(1, height, 1)
    xs = (torch.arange(width, dtype=torch.float64) - width / 2 + 0.5).view(1, 1, width)
    fov = torch.tensor(path.fov, dtype=torch.float64).view(-1, 1, 1)
    focal = (width / 2) / torch.tan(torch.deg2rad(fov) / 2)
    cam = torch.stack(torch.broadcast_tensors(xs / focal, ys / focal, torch.ones_like(focal)), dim=-1)
    cam = cam / cam.norm(dim=-1, keepdim=True)
    pitch = torch.deg2rad(torch.tensor(path.pitch, dtype=torch.float64)).view(-1, 1, 1)
    yaw = torch.deg2rad(torch.tensor(path.yaw, dtype=torch.float64)).view(-1, 1, 1)
    x, y, z = cam.unbind(-1)
    # Tilt about the x axis, then turn about the y axis.
    y, z = y * torch.cos(pitch) + z * torch.sin(pitch), -y * torch.sin(pitch) + z * torch.cos(pitch)
    x, z = x * torch.cos(yaw) + z * torch.sin(yaw), -x * torch.sin(yaw) + z * torch.cos(yaw)
    return torch.stack((x, y, z), dim=-1)


def render_path(panorama: Tensor, path: CameraPath, height: int, width: int) -> Tensor:
    """Bilinear perspective views of a panorama (H, W, 3) along `path` -> (t, height, width, 3).

    The panorama is padded with its own opposite edge so views wrap around seamlessly.
    """
    pano_h, pano_w = panorama.shape[:2]
    rays = _rays(path, height, width)
    lon = torch.atan2(rays[..., 0], rays[..., 2])
    lat = torch.asin(rays[..., 1].clamp(-1.0, 1.0))
    u = (lon / (2 * math.pi) + 0.5) * pano_w  # continuous pixel coordinate, pixel i covers [i, i+1)
    v = (0.5 - lat / math.pi) * pano_h
    pad = 2
    wrapped = torch.cat((panorama[:, -pad:], panorama, panorama[:, :pad]), dim=1)
    grid = torch.stack(((u + pad) / (pano_w + 2 * pad) * 2 - 1, v / pano_h * 2 - 1), dim=-1)
    image = wrapped.permute(2, 0, 1).unsqueeze(0).expand(len(path.yaw), -1, -1, -1)
    views = F.grid_sample(image, grid.to(panorama.dtype), mode="bilinear", padding_mode="border", align_corners=False)
    return views.permute(0, 2, 3, 1)
