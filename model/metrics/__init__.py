"""Image and video quality metrics on PQ-encoded BT.2020 R'G'B' in [0, 1], one value per image."""

from hdrtv.model.metrics.delta_e_itp import delta_e_itp
from hdrtv.model.metrics.psnr import psnr
from hdrtv.model.metrics.srsim import sr_sim
from hdrtv.model.metrics.ssim import ssim
from hdrtv.model.metrics.temporal import flicker

__all__ = ["delta_e_itp", "flicker", "psnr", "sr_sim", "ssim"]
