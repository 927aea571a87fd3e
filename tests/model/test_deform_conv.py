"""The plain-PyTorch modulated deformable convolution against ordinary convolutions."""

import pytest
import torch
import torch.nn.functional as F
from hdrtv.model.layers.deform_conv import ModulatedDeformConv2d


def _layer(c_in=6, c_out=5, groups=2):
    torch.manual_seed(0)
    layer = ModulatedDeformConv2d(c_in, c_out, 3, deform_groups=groups).double()
    torch.nn.init.normal_(layer.bias)
    return layer


def _zeros_and_ones(layer, x):
    n, _, h, w = x.shape
    offset = torch.zeros(n, layer.offset_channels, h, w, dtype=x.dtype)
    mask = torch.ones(n, layer.mask_channels, h, w, dtype=x.dtype)
    return offset, mask


def test_zero_offsets_and_unit_masks_equal_a_plain_convolution():
    layer = _layer()
    x = torch.rand(2, 6, 9, 13, dtype=torch.float64)
    offset, mask = _zeros_and_ones(layer, x)
    expected = F.conv2d(x, layer.weight, layer.bias, padding=1)
    torch.testing.assert_close(layer(x, offset, mask), expected, rtol=1e-12, atol=1e-12)


def _reference(x, weight, bias, dy, dx, mask_scale=1.0):
    """DCN with one constant offset (dy, dx) everywhere, built from shifts of a zero-padded canvas:
    every tap reads x at (y + tap_y + dy, x + tap_x + dx), bilinearly, zero outside the image."""
    pad = 2 + int(max(abs(dy), abs(dx)))
    big = F.pad(x, (pad,) * 4)
    fy, fx = int(torch.tensor(dy).floor()), int(torch.tensor(dx).floor())
    ry, rx = dy - fy, dx - fx

    def shifted(sy, sx):  # shifted[y, x] = big[y + sy, x + sx]; the zero border absorbs the wrap
        return torch.roll(big, shifts=(-sy, -sx), dims=(-2, -1))

    sampled = (
        (1 - ry) * (1 - rx) * shifted(fy, fx)
        + (1 - ry) * rx * shifted(fy, fx + 1)
        + ry * (1 - rx) * shifted(fy + 1, fx)
        + ry * rx * shifted(fy + 1, fx + 1)
    )
    h, w = x.shape[-2:]
    out = F.conv2d(mask_scale * sampled, weight, padding=1)[..., pad : pad + h, pad : pad + w]
    return out + bias.view(1, -1, 1, 1)


@pytest.mark.parametrize("dy,dx", [(0, 2), (-1, 0), (3, -2), (0, 0.5), (-1.5, 0.25)])
def test_constant_offset_equals_convolving_a_shifted_input(dy, dx):
    layer = _layer(groups=1)
    x = torch.rand(1, 6, 12, 15, dtype=torch.float64)
    offset, mask = _zeros_and_ones(layer, x)
    offset[:, 0::2] = dy
    offset[:, 1::2] = dx
    expected = _reference(x, layer.weight, layer.bias, dy, dx)
    torch.testing.assert_close(layer(x, offset, mask), expected, rtol=1e-12, atol=1e-12)


def test_masks_scale_every_tap():
    layer = _layer(groups=1)
    x = torch.rand(1, 6, 8, 10, dtype=torch.float64)
    offset, mask = _zeros_and_ones(layer, x)
    offset[:, 1::2] = 1.0
    expected = _reference(x, layer.weight, layer.bias, 0, 1, mask_scale=0.25)
    torch.testing.assert_close(layer(x, offset, 0.25 * mask), expected, rtol=1e-12, atol=1e-12)


def test_each_group_follows_its_own_offsets():
    layer = _layer(c_in=6, groups=2)
    x = torch.rand(1, 6, 10, 10, dtype=torch.float64)
    offset, mask = _zeros_and_ones(layer, x)
    offset[:, 18 + 1 :: 2] = 2.0  # second group (channels 3..5) reads two pixels to the right
    out = layer(x, offset, mask)
    first = _reference(x[:, :3], layer.weight[:, :3], torch.zeros_like(layer.bias), 0, 0)
    second = _reference(x[:, 3:], layer.weight[:, 3:], torch.zeros_like(layer.bias), 0, 2)
    torch.testing.assert_close(out, first + second + layer.bias.view(1, -1, 1, 1), rtol=1e-12, atol=1e-12)


def test_gradients_reach_input_offsets_masks_and_weights():
    layer = _layer()
    x = torch.rand(1, 6, 8, 8, dtype=torch.float64, requires_grad=True)
    offset, mask = _zeros_and_ones(layer, x)
    offset = (offset + 0.3).requires_grad_()
    mask = mask.requires_grad_()
    layer(x, offset, mask).square().sum().backward()
    for grad in (x.grad, offset.grad, mask.grad, layer.weight.grad, layer.bias.grad):
        assert grad is not None and grad.abs().sum() > 0
