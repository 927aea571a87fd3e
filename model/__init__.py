"""hdrtv's scientific core: DSLNet, colour science, metrics, baselines and the converter API.

    from hdrtv.model import load_converter
    hdr = load_converter("bt2446a").convert(sdr_frames)   # (t, h, w, 3) -> (t, h, w, 3) PQ

Knows nothing of video files, queues or HTTP. The names below load on first use, so that the
torch-free `hdrtv.model.options` imports without torch (the API validates options with it).
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "CONVERTERS": ".converter",
    "Converter": ".converter",
    "load_converter": ".converter",
    "DSLNet": ".network",
    "build_dslnet": ".network",
    "load_checkpoint": ".network",
    "save_checkpoint": ".network",
    "window_plan": ".windows",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name], __name__), name)
