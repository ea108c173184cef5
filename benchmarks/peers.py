"""Reference implementations the benchmark compares aegan with, written here in plain PyTorch.

`textbook_dcgan`: the DCGAN of TensorFlow's tutorial (tensorflow.org/tutorials/generative/dcgan),
layer for layer: G = Dense(7*7*256, no bias) - BN - LeakyReLU - ConvT(128, 5, s1) - BN - LeakyReLU -
ConvT(64, 5, s2) - BN - LeakyReLU - ConvT(1, 5, s2) - tanh; D = Conv(64, 5, s2) - LeakyReLU -
Dropout(0.3) - Conv(128, 5, s2) - LeakyReLU - Dropout(0.3) - Dense(1). Cross-entropy on logits,
Adam(1e-4) for both, batch 256, noise 100, pixels in [-1, 1]; Keras' defaults where the tutorial
relies on them (LeakyReLU slope 0.3, BatchNorm momentum 0.99 and eps 1e-3, Glorot-uniform weights).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

NOISE = 100


def _keras_init(module: nn.Module) -> None:
    for m in module.modules():
        if isinstance(m, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.xavier_uniform_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


def _bn(cls, n: int) -> nn.Module:
    return cls(n, momentum=0.01, eps=1e-3)  # Keras momentum 0.99 is PyTorch's 0.01


def tutorial_generator() -> nn.Module:
    g = nn.Sequential(
        nn.Linear(NOISE, 7 * 7 * 256, bias=False), _bn(nn.BatchNorm1d, 7 * 7 * 256), nn.LeakyReLU(0.3),
        nn.Unflatten(1, (256, 7, 7)),
        nn.ConvTranspose2d(256, 128, 5, 1, 2, bias=False), _bn(nn.BatchNorm2d, 128), nn.LeakyReLU(0.3),
        nn.ConvTranspose2d(128, 64, 5, 2, 2, output_padding=1, bias=False), _bn(nn.BatchNorm2d, 64),
        nn.LeakyReLU(0.3),
        nn.ConvTranspose2d(64, 1, 5, 2, 2, output_padding=1, bias=False), nn.Tanh())
    _keras_init(g)
    return g


def tutorial_discriminator() -> nn.Module:
    d = nn.Sequential(
        nn.Conv2d(1, 64, 5, 2, 2), nn.LeakyReLU(0.3), nn.Dropout(0.3),
        nn.Conv2d(64, 128, 5, 2, 2), nn.LeakyReLU(0.3), nn.Dropout(0.3),
        nn.Flatten(), nn.Linear(128 * 7 * 7, 1))
    _keras_init(d)
    return d


def textbook_dcgan(images: np.ndarray, epochs: int, n_samples: int, seed: int = 0,
                   batch_size: int = 256) -> np.ndarray:
    """Train the tutorial's DCGAN on uint8 images (N, 28, 28) and return `n_samples` samples as
    float32 pixels in [0, 1], shape (n, 28, 28). The tutorial's step: one generator pass, both
    losses, both optimisers step."""
    torch.manual_seed(seed)
    x = torch.from_numpy(images.reshape(len(images), 1, 28, 28).astype(np.float32) / 127.5 - 1.0)
    g, d = tutorial_generator(), tutorial_discriminator()
    opt_g, opt_d = torch.optim.Adam(g.parameters(), 1e-4), torch.optim.Adam(d.parameters(), 1e-4)
    gen = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        for idx in torch.randperm(len(x), generator=gen).split(batch_size):
            real = x[idx]
            fake = g(torch.randn(len(real), NOISE))
            real_out, fake_out = d(real), d(fake)
            loss_g = F.binary_cross_entropy_with_logits(fake_out, torch.ones_like(fake_out))
            loss_d = (F.binary_cross_entropy_with_logits(real_out, torch.ones_like(real_out))
                      + F.binary_cross_entropy_with_logits(fake_out, torch.zeros_like(fake_out)))
            grads_g = torch.autograd.grad(loss_g, list(g.parameters()), retain_graph=True)
            grads_d = torch.autograd.grad(loss_d, list(d.parameters()))
            for p, gr in zip(g.parameters(), grads_g):
                p.grad = gr
            for p, gr in zip(d.parameters(), grads_d):
                p.grad = gr
            opt_g.step()
            opt_d.step()
    g.eval()
    with torch.no_grad():
        out = torch.cat([g(torch.randn(min(500, n_samples - i), NOISE)) for i in range(0, n_samples, 500)])
    return ((out[:, 0] + 1) / 2).clamp(0, 1).numpy()
