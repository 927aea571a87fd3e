"""hdrtv's scientific core: DSLNet, colour science, metrics, baselines and the converter API.

    from hdrtv.model import load_converter
    hdr = load_converter("bt2446a").convert(sdr_frames)   # (t, h, w, 3) -> (t, h, w, 3) PQ

Knows nothing of video files, queues or HTTP.
"""

from .converter import CONVERTERS, Converter, load_converter
from .network import DSLNet, build_dslnet, load_checkpoint, save_checkpoint
from .windows import window_plan

__all__ = [
    "CONVERTERS",
    "Converter",
    "DSLNet",
    "build_dslnet",
    "load_checkpoint",
    "load_converter",
    "save_checkpoint",
    "window_plan",
]
