"""The depthwise convolution with the fast weight gradient equals PyTorch's own, values and gradients."""

import pytest
import torch
import torch.nn.functional as F
from hdrtv.model.layers.depthwise_conv import DepthwiseConv2d, depthwise_conv2d


def test_gradients_pass_gradcheck_in_float64():
    torch.manual_seed(0)
    x = torch.rand(2, 3, 11, 9, dtype=torch.float64, requires_grad=True)
    weight = torch.rand(3, 1, 5, 5, dtype=torch.float64, requires_grad=True)
    bias = torch.rand(3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(depthwise_conv2d, (x, weight, bias))


@pytest.mark.parametrize("memory_format", [torch.contiguous_format, torch.channels_last])
def test_matches_grouped_conv2d_forward_and_backward(memory_format):
    torch.manual_seed(1)
    x = torch.randn(2, 8, 20, 24).contiguous(memory_format=memory_format)
    layer = DepthwiseConv2d(8, 17)
    reference = torch.nn.Conv2d(8, 8, 17, padding=8, groups=8)
    reference.load_state_dict(layer.state_dict())
    grad_out = torch.randn(2, 8, 20, 24)
    outputs, grads = [], []
    for module in (layer, reference):
        inp = x.clone().requires_grad_()
        out = module(inp)
        out.backward(grad_out)
        outputs.append(out)
        grads.append((inp.grad, module.weight.grad, module.bias.grad))
    torch.testing.assert_close(outputs[0], outputs[1])
    for ours, theirs in zip(*grads):
        torch.testing.assert_close(ours, theirs, rtol=1e-4, atol=1e-4)


def test_autocast_runs_forward_and_backward_in_bfloat16():
    x = torch.randn(1, 4, 16, 16, requires_grad=True)
    weight = torch.randn(4, 1, 3, 3, requires_grad=True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = depthwise_conv2d(x, weight)
    assert out.dtype == torch.bfloat16
    out.float().sum().backward()
    assert x.grad.dtype == torch.float32 and weight.grad.dtype == torch.float32
    expected = torch.autograd.grad(F.conv2d(x, weight, padding=1, groups=4).sum(), weight)[0]
    torch.testing.assert_close(weight.grad, expected, rtol=0.05, atol=0.5)


def test_refuses_a_kernel_that_is_not_depthwise():
    with pytest.raises(ValueError, match="odd kernel"):
        depthwise_conv2d(torch.zeros(1, 4, 8, 8), torch.zeros(4, 1, 4, 4))
