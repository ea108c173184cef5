"""Reference implementations the benchmark compares aegan with, written here in plain PyTorch from
their descriptions (no code copied).

`examples_dcgan`: the DCGAN of pytorch/examples (`dcgan/main.py`), the recipe people copy, sized for
28x28 images. (aegan 0.1's bench compared with TensorFlow's DCGAN tutorial, which collapses on
Fashion-MNIST: a peer that says nothing.)
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

NOISE = 100


# pytorch/examples dcgan/main.py, sized for 28x28:
# G: z (100) -> ConvT 7x7 to 256x7x7, BN, ReLU -> ConvT 4x4 s2 to 128x14x14, BN, ReLU -> ConvT 4x4 s2 to
# 1x28x28, tanh. D: Conv 4x4 s2 to 128x14x14, LeakyReLU 0.2 (no BN) -> Conv 4x4 s2 to 256x7x7, BN, LeakyReLU
# 0.2 -> Conv 7x7 to one logit. Convs without biases, weights N(0, 0.02), BN weights N(1, 0.02) and biases 0.
# Adam 2e-4, betas (0.5, 0.999), batch 64, BCE with logits; D steps on a real batch and a fake batch, then G
# steps on the same fakes through the updated D.


def _examples_init(module: nn.Module) -> None:
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0.0, 0.02)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


def examples_generator(nz: int = NOISE) -> nn.Module:
    g = nn.Sequential(
        nn.Unflatten(1, (nz, 1, 1)),
        nn.ConvTranspose2d(nz, 256, 7, 1, 0, bias=False), nn.BatchNorm2d(256), nn.ReLU(True),
        nn.ConvTranspose2d(256, 128, 4, 2, 1, bias=False), nn.BatchNorm2d(128), nn.ReLU(True),
        nn.ConvTranspose2d(128, 1, 4, 2, 1, bias=False), nn.Tanh())
    _examples_init(g)
    return g


def examples_discriminator() -> nn.Module:
    d = nn.Sequential(
        nn.Conv2d(1, 128, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, True),
        nn.Conv2d(128, 256, 4, 2, 1, bias=False), nn.BatchNorm2d(256), nn.LeakyReLU(0.2, True),
        nn.Conv2d(256, 1, 7, 1, 0, bias=False), nn.Flatten(0))
    _examples_init(d)
    return d


def examples_samples(g: nn.Module, n: int, train_mode: bool = True) -> np.ndarray:
    """`n` samples of a generator as float32 pixels in [0, 1], shape (n, 28, 28), in batches of 64 with
    fixed noise. train_mode: batch norm on each batch's own statistics, as pytorch/examples draws its
    pictures (it never calls eval()); else the running statistics."""
    was = g.training
    g.train(train_mode)
    with torch.no_grad():
        out = torch.cat([g(torch.randn(min(64, n - i), NOISE, generator=torch.Generator().manual_seed(i)))
                         for i in range(0, n, 64)])
    g.train(was)
    return ((out[:, 0] + 1) / 2).clamp(0, 1).numpy()


def examples_dcgan(images: np.ndarray, epochs: int, seed: int = 0, batch_size: int = 64,
                   on_step=None, every: int = 0) -> nn.Module:
    """Train pytorch/examples' DCGAN on uint8 images (N, 28, 28); return its generator (draw samples with
    `examples_samples`). `on_step(steps, g)` every `every` generator steps, for curves."""
    torch.manual_seed(seed)
    x = torch.from_numpy(images.reshape(len(images), 1, 28, 28).astype(np.float32) / 127.5 - 1.0)
    g, d = examples_generator(), examples_discriminator()
    opt_g = torch.optim.Adam(g.parameters(), 2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(d.parameters(), 2e-4, betas=(0.5, 0.999))
    gen = torch.Generator().manual_seed(seed)
    bce = F.binary_cross_entropy_with_logits
    steps = 0
    for _ in range(epochs):
        for idx in torch.randperm(len(x), generator=gen).split(batch_size):
            real = x[idx]
            d.zero_grad()
            out_real = d(real)
            bce(out_real, torch.ones_like(out_real)).backward()
            fake = g(torch.randn(len(real), NOISE))
            out_fake = d(fake.detach())
            bce(out_fake, torch.zeros_like(out_fake)).backward()
            opt_d.step()
            g.zero_grad()
            out = d(fake)
            bce(out, torch.ones_like(out)).backward()
            opt_g.step()
            steps += 1
            if on_step is not None and every and steps % every == 0:
                on_step(steps, g)
    return g
