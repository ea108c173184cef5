"""Network bodies: an MLP, and a strided-conv encoder with its transposed-conv decoder.

Encoders map an example to a flat vector of `out_dim` features; decoders map a code back to
the example's shape, before the output activation (which the model owns).
"""

from __future__ import annotations

import math

import torch
from torch import nn

OUTPUT_ACTIVATIONS = {"identity": nn.Identity, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh}


def output_activation(choice: str, model_range: tuple[float, float] | None) -> str:
    """The name of the last layer of a decoder or generator (a key of OUTPUT_ACTIVATIONS):
    `choice`, or with "auto" the one whose range is the model's value range ([0, 1]: sigmoid,
    [-1, 1]: tanh, otherwise identity)."""
    if choice != "auto":
        return choice
    return {(0.0, 1.0): "sigmoid", (-1.0, 1.0): "tanh"}.get(model_range, "identity")


def mlp(sizes: list[int], act=nn.ReLU) -> nn.Sequential:
    """Linear layers with `act` between them (none after the last)."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(act())
    return nn.Sequential(*layers)


class MLPEncoder(nn.Module):
    def __init__(self, shape: tuple[int, ...], hidden: tuple[int, ...], out_dim: int):
        super().__init__()
        self.net = mlp([math.prod(shape), *hidden, out_dim])

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (N, *shape) -> (N, out_dim)
        return self.net(x.flatten(1))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """(N, last hidden size): the activations the last Linear maps to the output."""
        return self.net[:-1](x.flatten(1))


class MLPDecoder(nn.Module):
    def __init__(self, code_dim: int, hidden: tuple[int, ...], shape: tuple[int, ...]):
        super().__init__()
        self.shape = tuple(shape)
        self.net = mlp([code_dim, *reversed(hidden), math.prod(shape)])

    def forward(self, z: torch.Tensor) -> torch.Tensor:  # (N, code) -> (N, *shape)
        return self.net(z).view(-1, *self.shape)


def conv_sizes(h: int, w: int, stages: int) -> list[tuple[int, int]]:
    """Spatial sizes after each stride-2, kernel-3, padding-1 conv: ceil(s / 2) per stage."""
    sizes = [(h, w)]
    for _ in range(stages):
        h, w = (h + 1) // 2, (w + 1) // 2
        sizes.append((h, w))
    return sizes


class ConvEncoder(nn.Module):
    """(N, C, H, W) -> (N, out_dim): one stride-2 conv + BN + LeakyReLU per stage, then Linear.
    With batch_norm=False (GAN critics: the gradient penalty and packing need per-example
    outputs) the convs carry biases instead."""

    def __init__(self, shape: tuple[int, int, int], channels: tuple[int, ...], out_dim: int,
                 batch_norm: bool = True):
        super().__init__()
        c, h, w = shape
        layers: list[nn.Module] = []
        for c_out in channels:
            layers.append(nn.Conv2d(c, c_out, 3, stride=2, padding=1, bias=not batch_norm))
            if batch_norm:
                layers.append(nn.BatchNorm2d(c_out))
            layers.append(nn.LeakyReLU(0.2, inplace=True))
            c = c_out
        self.convs = nn.Sequential(*layers)
        fh, fw = conv_sizes(h, w, len(channels))[-1]
        self.fc = nn.Linear(c * fh * fw, out_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.features(x))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C * h * w): the last feature map, flattened, before the Linear."""
        return self.convs(x).flatten(1)


class ConvDecoder(nn.Module):
    """(N, code) -> (N, C, H, W): Linear to the encoder's last feature map, then one
    transposed conv per stage, each sized to undo its encoder stage exactly (any H, W)."""

    def __init__(self, code_dim: int, channels: tuple[int, ...], shape: tuple[int, int, int]):
        super().__init__()
        c_img, h, w = shape
        sizes = conv_sizes(h, w, len(channels))
        self.start = (channels[-1], *sizes[-1])
        self.fc = nn.Sequential(nn.Linear(code_dim, math.prod(self.start)), nn.ReLU(inplace=True))
        outs = list(reversed(channels[:-1])) + [c_img]
        layers: list[nn.Module] = []
        c = channels[-1]
        for i, c_out in enumerate(outs):
            (ih, iw), (th, tw) = sizes[-1 - i], sizes[-2 - i]
            # ConvTranspose2d(k3, s2, p1) gives 2*s - 1 + output_padding
            pad = (th - (2 * ih - 1), tw - (2 * iw - 1))
            layers.append(nn.ConvTranspose2d(c, c_out, 3, stride=2, padding=1, output_padding=pad,
                                             bias=i == len(outs) - 1))
            if i < len(outs) - 1:
                layers += [nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]
            c = c_out
        self.deconvs = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.deconvs(self.fc(z).view(-1, *self.start))


def build_mlp(shape, out_dim, code_dim, cfg):
    return MLPEncoder(shape, cfg.hidden, out_dim), MLPDecoder(code_dim, cfg.hidden, shape)


def build_conv(shape, out_dim, code_dim, cfg):
    return ConvEncoder(shape, cfg.conv_channels, out_dim), ConvDecoder(code_dim, cfg.conv_channels, shape)


# arch name -> builder(shape, encoder_out_dim, code_dim, model_config) -> (encoder, decoder)
BODIES = {"mlp": build_mlp, "conv": build_conv}
