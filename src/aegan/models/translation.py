"""Networks of image-to-image translation: the U-Net generator of pix2pix (Isola et al. 2017),
the residual generator of CycleGAN (Zhu et al. 2017, after Johnson et al. 2016), the PatchGAN
discriminator both use, CycleGAN's history pool of generated images, and `Translator`, the one
module a translation run saves.

Images are in model units [-1, 1] (generators end in tanh). Any image size works: inputs whose
sides are not multiples of 4 are padded (reflection) and the outputs cropped back."""

from __future__ import annotations

import dataclasses

import torch
import torch.nn.functional as F
from torch import nn

MAX_MULT = 8  # channels stop doubling at 8x the first layer's, as in the papers


def norm_layer(kind: str, channels: int) -> nn.Module:
    return nn.BatchNorm2d(channels) if kind == "batch" else nn.InstanceNorm2d(channels)


def init_weights(module: nn.Module) -> None:
    """N(0, 0.02) for convolutions, N(1, 0.02) for norm scales, zero biases (both papers)."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm2d, nn.InstanceNorm2d)) and m.weight is not None:
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


def padding_for(h: int, w: int, multiple: int = 4) -> tuple[int, int]:
    return (-h) % multiple, (-w) % multiple


class _Padded(nn.Module):
    """Reflection-pad to a multiple of 4 on the way in, crop on the way out."""

    def __init__(self, body: nn.Module):
        super().__init__()
        self.body = body

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        ph, pw = padding_for(h, w)
        if ph or pw:
            x = F.pad(x, (0, pw, 0, ph), mode="reflect" if min(h, w) > max(ph, pw) else "replicate")
        return self.body(x)[..., :h, :w]


class ResBlock(nn.Module):
    def __init__(self, c: int, norm: str):
        super().__init__()
        self.body = nn.Sequential(nn.ReflectionPad2d(1), nn.Conv2d(c, c, 3), norm_layer(norm, c), nn.ReLU(True),
                                  nn.ReflectionPad2d(1), nn.Conv2d(c, c, 3), norm_layer(norm, c))

    def forward(self, x):
        return x + self.body(x)


class UNet(nn.Module):
    """pix2pix's generator: stride-2 4x4 convolutions down (LeakyReLU 0.2, no norm on the first),
    transposed convolutions up (ReLU), each level's encoder features concatenated to its decoder
    input; down while the side stays even (28 -> 14 -> 7; 256 -> ... -> 1), at most 8 levels. Two
    residual blocks at the innermost level widen what a pixel sees on small images."""

    def __init__(self, c_in: int, c_out: int, size: tuple[int, int], base: int, norm: str = "batch"):
        super().__init__()
        h, w = (s + p for s, p in zip(size, padding_for(*size)))
        depth = 0
        while h % 2 == 0 and w % 2 == 0 and depth < 8:
            h, w, depth = h // 2, w // 2, depth + 1
        chans = [base * min(2 ** i, MAX_MULT) for i in range(depth)]
        self.down = nn.ModuleList()
        prev = c_in
        for i, c in enumerate(chans):
            layers = [] if i == 0 else [nn.LeakyReLU(0.2, True)]
            layers.append(nn.Conv2d(prev, c, 4, 2, 1))
            if i > 0 and (i < depth - 1 or min(h, w) > 1):  # not the first layer, nor a 1x1 innermost one
                layers.append(norm_layer(norm, c))
            self.down.append(nn.Sequential(*layers))
            prev = c
        inner = chans[-1]
        self.middle = nn.Sequential(nn.LeakyReLU(0.2, True), *(ResBlock(inner, norm) for _ in range(2))) \
            if min(h, w) > 1 else nn.LeakyReLU(0.2, True)
        self.up = nn.ModuleList()
        for i in reversed(range(depth)):
            c_to = chans[i - 1] if i > 0 else c_out
            c_from = chans[i] if i == depth - 1 else chans[i] * 2
            layers = [nn.ConvTranspose2d(c_from, c_to, 4, 2, 1)]
            layers += [norm_layer(norm, c_to), nn.ReLU(True)] if i > 0 else [nn.Tanh()]
            self.up.append(nn.Sequential(*layers))

    def forward(self, x):
        skips = []
        for layer in self.down:
            x = layer(x)
            skips.append(x)
        x = self.middle(x)
        for i, layer in enumerate(self.up):
            if i > 0:
                x = torch.cat([x, skips[-1 - i]], 1)
            x = layer(x)
        return x


class ResnetGenerator(nn.Module):
    """CycleGAN's generator: 7x7 conv, `downs` stride-2 convs down (two in the paper), residual
    blocks, as many transposed convs up, 7x7 conv, tanh; instance norm. On small images one stage
    down keeps what the cycle must carry back: 28 -> 7 -> 28 twice loses detail that 28 -> 14 -> 28
    keeps (+2.6 dB cycle PSNR after one epoch on sneaker <-> boot)."""

    def __init__(self, c_in: int, c_out: int, base: int, blocks: int, norm: str = "instance", downs: int = 2):
        super().__init__()
        layers = [nn.ReflectionPad2d(3), nn.Conv2d(c_in, base, 7), norm_layer(norm, base), nn.ReLU(True)]
        for i in range(downs):
            c = base * 2 ** i
            layers += [nn.Conv2d(c, 2 * c, 3, 2, 1), norm_layer(norm, 2 * c), nn.ReLU(True)]
        layers += [ResBlock(base * 2 ** downs, norm) for _ in range(blocks)]
        for i in reversed(range(downs)):
            c = base * 2 ** (i + 1)
            layers += [nn.ConvTranspose2d(c, c // 2, 3, 2, 1, output_padding=1), norm_layer(norm, c // 2),
                       nn.ReLU(True)]
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(base, c_out, 7), nn.Tanh()]
        self.body = nn.Sequential(*layers)

    def forward(self, x):
        return self.body(x)


class PatchDiscriminator(nn.Module):
    """PatchGAN: stride-2 4x4 convolutions, then two stride-1 ones, one logit per patch (70x70
    pixels at three stride-2 layers on 256x256 images; two for sides under 64, one under 16)."""

    def __init__(self, c_in: int, size: tuple[int, int], base: int, norm: str = "batch"):
        super().__init__()
        side = min(size)
        n = 3 if side >= 64 else 2 if side >= 16 else 1
        layers, prev = [nn.Conv2d(c_in, base, 4, 2, 1), nn.LeakyReLU(0.2, True)], base
        for i in range(1, n + 1):
            c = base * min(2 ** i, MAX_MULT)
            stride = 2 if i < n else 1
            layers += [nn.Conv2d(prev, c, 4, stride, 1, bias=norm != "batch"), norm_layer(norm, c),
                       nn.LeakyReLU(0.2, True)]
            prev = c
        layers.append(nn.Conv2d(prev, 1, 4, 1, 1))
        self.body = nn.Sequential(*layers)

    def forward(self, x):
        return self.body(x)


def push_pool(pool: torch.Tensor | None, fakes: torch.Tensor, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """CycleGAN's history of generated images: (what the discriminator sees, the pool after).
    Each new image fills the pool while it has room; once full, with probability 1/2 it takes
    the place of a stored one, which the discriminator sees instead. The pool is a tensor so
    that checkpoints keep it; draws come from torch's generator, which they keep too."""
    if size == 0:
        return fakes, pool
    out, pool = [], (fakes[:0].detach().clone() if pool is None else pool)
    for img in fakes.detach():
        if len(pool) < size:
            pool = torch.cat([pool, img[None]])
            out.append(img)
        elif float(torch.rand(())) < 0.5:
            j = int(torch.randint(len(pool), ()))
            out.append(pool[j].clone())
            pool[j] = img
        else:
            out.append(img)
    return torch.stack(out), pool


def resolve(cfg, size: tuple[int, int]):
    """The translation settings with the defaults for this image size filled in: the generator
    of the mode's paper, 64 base channels (32 under 64 pixels), 6 residual blocks up to 128
    pixels and 9 above (CycleGAN's choice), two stride-2 stages from 64 pixels and one below."""
    gen = cfg.generator or ("unet" if cfg.mode == "pix2pix" else "resnet")
    return dataclasses.replace(cfg, generator=gen, base_channels=cfg.base_channels or (64 if min(size) >= 64 else 32),
                               res_blocks=(cfg.res_blocks or (6 if max(size) <= 128 else 9)) if gen == "resnet"
                               else None,
                               downsamplings=(cfg.downsamplings or (2 if min(size) >= 64 else 1)) if gen == "resnet"
                               else None)


class Translator(nn.Module):
    """g_ab (A -> B) and, for CycleGAN, g_ba; their discriminators d_b (pix2pix: on the pair
    (a, b), channels stacked) and d_a. No discriminators with --adv-weight 0."""

    def __init__(self, cfg, a_shape: tuple[int, int, int], b_shape: tuple[int, int, int]):
        super().__init__()
        size = tuple(a_shape[1:])
        cfg = resolve(cfg, size)
        norm = "batch" if cfg.mode == "pix2pix" else "instance"
        base = cfg.base_channels

        def generator(c_in, c_out):
            if cfg.generator == "unet":
                return _Padded(UNet(c_in, c_out, size, base, norm))
            return _Padded(ResnetGenerator(c_in, c_out, base, cfg.res_blocks, norm, cfg.downsamplings))

        self.g_ab = generator(a_shape[0], b_shape[0])
        self.g_ba = generator(b_shape[0], a_shape[0]) if cfg.mode == "cyclegan" else None
        self.d_b = self.d_a = None
        if cfg.adv_weight > 0:
            d_in = a_shape[0] + b_shape[0] if cfg.mode == "pix2pix" else b_shape[0]
            self.d_b = PatchDiscriminator(d_in, size, base, norm)
            if cfg.mode == "cyclegan":
                self.d_a = PatchDiscriminator(a_shape[0], size, base, norm)
        init_weights(self)

    def generators(self) -> list[nn.Module]:
        return [g for g in (self.g_ab, self.g_ba) if g is not None]

    def discriminators(self) -> list[nn.Module]:
        return [d for d in (self.d_b, self.d_a) if d is not None]

    def forward(self, x: torch.Tensor, direction: str = "a2b") -> torch.Tensor:
        return (self.g_ab if direction == "a2b" else self.g_ba)(x)
