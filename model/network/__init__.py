"""DSLNet and its building blocks."""

from .dslnet import DSLNet, FrameContext, load_checkpoint, read_checkpoint_config, save_checkpoint
from .variants import DEFAULT_VARIANT, VARIANTS, build_dslnet

__all__ = [
    "DSLNet",
    "FrameContext",
    "load_checkpoint",
    "read_checkpoint_config",
    "save_checkpoint",
    "DEFAULT_VARIANT",
    "VARIANTS",
    "build_dslnet",
]
