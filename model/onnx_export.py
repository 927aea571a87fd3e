"""Export DSLNet to ONNX, and check the export against PyTorch with onnxruntime.

The graph takes one window `frames (1, 2T+1, 3, h, w)` float32 SDR and returns `hdr (1, 3, h, w)`,
the whole network including its global parts. Height and width are fixed at export time: the
dynamic depthwise convolution folds the batch into a grouped convolution and the spatial
modulation map is resampled to the frame size, both of which ONNX exporters specialise.
The deformable convolution becomes GridSample, opset 18 (the exporter's own, so no version conversion).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from .network import DSLNet

OPSET = 18


def export_onnx(model: DSLNet, path: str | Path, height: int, width: int) -> Path:
    """Write `model` (fp32, eval) as an ONNX file for (height, width) windows; returns the path."""
    path = Path(path)
    model = model.float().eval()
    example = torch.rand(1, model.num_frames, 3, height, width)
    program = torch.onnx.export(
        model, (example,), dynamo=True, opset_version=OPSET, verbose=False, input_names=["frames"], output_names=["hdr"]
    )
    program.save(str(path), external_data=False)
    return path


def onnx_max_abs_error(model: DSLNet, path: str | Path, frames: torch.Tensor) -> float:
    """Largest |onnxruntime - PyTorch| over `frames` (1, 2T+1, 3, h, w)."""
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (onnx_out,) = session.run(None, {"frames": frames.numpy().astype(np.float32)})
    with torch.no_grad():
        torch_out = model.float().eval()(frames.float()).numpy()
    return float(np.abs(onnx_out - torch_out).max())
