"""Generative adversarial networks: a generator, a discriminator (critic), an optional EMA
copy of the generator, conditional models and packing.

Shapes: z is (N, z_dim); examples are (N, *shape) in model units; D returns (N / pack,) raw
outputs (logits or critic values; the loss decides how to read them).
"""

from __future__ import annotations

import copy
import dataclasses
import math
from functools import partial

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from ..errors import check_all
from ..gan_losses import GANLoss, gan_loss
from ..nets import OUTPUT_ACTIVATIONS, ConvDecoder, ConvEncoder, mlp, output_activation

ACTIVATIONS = {"relu": nn.ReLU, "leaky_relu": partial(nn.LeakyReLU, 0.2)}


def halvings(h: int, w: int, stages: int) -> list[tuple[int, int]]:
    """Spatial sizes after each kernel-4, stride-2, padding-1 conv: floor(s / 2) per stage."""
    sizes = [(h, w)]
    for _ in range(stages):
        h, w = h // 2, w // 2
        sizes.append((h, w))
    return sizes


class ClassBatchNorm(nn.Module):
    """Batch norm whose scale and shift are looked up by class (conditional batch norm, de Vries et
    al. 2017; the class-conditional generators of Miyato & Koyama 2018)."""

    def __init__(self, channels: int, num_classes: int):
        super().__init__()
        self.norm = nn.BatchNorm2d(channels, affine=False)
        self.scale, self.shift = nn.Embedding(num_classes, channels), nn.Embedding(num_classes, channels)
        nn.init.ones_(self.scale.weight)
        nn.init.zeros_(self.shift.weight)

    def forward(self, x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return self.norm(x) * self.scale(labels)[:, :, None, None] + self.shift(labels)[:, :, None, None]


class UpConvGenerator(nn.Module):
    """The DCGAN generator of Radford et al. 2016 for any image size: z -> Linear (the paper's
    projection) to channels[-1] x h0 x w0, batch norm, ReLU, then one kernel-4 stride-2 transposed conv
    per stage (doubling the size; batch norm and ReLU between), cropped to H x W at the centre when
    h0 * 2^stages overshoots (h0 = ceil(H / 2^stages)). With `num_classes`, each batch norm is a
    ClassBatchNorm."""

    def __init__(self, z_in: int, channels: tuple[int, ...], shape: tuple[int, int, int],
                 num_classes: int | None = None):
        super().__init__()
        norm = (lambda c: ClassBatchNorm(c, num_classes)) if num_classes else nn.BatchNorm2d
        c_img, self.h, self.w = shape
        scale = 2 ** len(channels)
        start = (channels[-1], -(-self.h // scale), -(-self.w // scale))
        self.stem = nn.Sequential(nn.Linear(z_in, math.prod(start), bias=False), nn.Unflatten(1, start),
                                  norm(start[0]), nn.ReLU(inplace=True))
        outs = list(reversed(channels[:-1])) + [c_img]
        layers: list[nn.Module] = []
        c = channels[-1]
        for i, c_out in enumerate(outs):
            last = i == len(outs) - 1
            layers.append(nn.ConvTranspose2d(c, c_out, 4, stride=2, padding=1, bias=last))
            if not last:
                layers += [norm(c_out), nn.ReLU(inplace=True)]
            c = c_out
        self.deconvs = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        x = z
        for m in (*self.stem, *self.deconvs):
            x = m(x, labels) if isinstance(m, ClassBatchNorm) else m(x)
        top, left = (x.shape[2] - self.h) // 2, (x.shape[3] - self.w) // 2
        return x[:, :, top:top + self.h, left:left + self.w]


class DownConvCritic(nn.Module):
    """The DCGAN discriminator body: one kernel-4 stride-2 conv per stage with LeakyReLU 0.2, batch
    norm from the second on (when asked), flattened: (N, C, H, W) -> (N, channels[-1] * h * w)."""

    def __init__(self, shape: tuple[int, int, int], channels: tuple[int, ...], batch_norm: bool):
        super().__init__()
        c, h, w = shape
        layers: list[nn.Module] = []
        for i, c_out in enumerate(channels):
            norm = batch_norm and i > 0
            layers.append(nn.Conv2d(c, c_out, 4, stride=2, padding=1, bias=not norm))
            if norm:
                layers.append(nn.BatchNorm2d(c_out))
            layers.append(nn.LeakyReLU(0.2, inplace=True))
            c = c_out
        self.convs = nn.Sequential(*layers, nn.Flatten())
        fh, fw = halvings(h, w, len(channels))[-1]
        self.out_dim = c * fh * fw

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.convs(x)


class Generator(nn.Module):
    """z (+ a label embedding for conditional models) -> body -> output activation.
    mlp: Linear layers with ReLU; dcgan: Linear to a small feature map, then transposed convs
    with batch norm and ReLU (Radford et al. 2016)."""

    def __init__(self, cfg, shape: tuple[int, ...], num_classes: int | None, output: str):
        super().__init__()
        self.shape, self.z_dim = tuple(shape), cfg.z_dim
        self.embed = nn.Embedding(num_classes, cfg.z_dim) if num_classes else None
        z_in = 2 * cfg.z_dim if self.embed is not None else cfg.z_dim
        if cfg.arch == "dcgan" and cfg.kernel == 4:
            self.body = UpConvGenerator(z_in, cfg.conv_channels, self.shape, num_classes if cfg.class_norm else None)
        elif cfg.arch == "dcgan":  # aegan 0.1's layout (kernel 3)
            self.body = ConvDecoder(z_in, cfg.conv_channels, self.shape)
        else:
            self.body = nn.Sequential(mlp([z_in, *cfg.hidden, math.prod(shape)]), nn.Unflatten(1, self.shape))
        self.out_act = OUTPUT_ACTIVATIONS[output]()
        if cfg.init == "dcgan":
            dcgan_init(self)

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        if self.embed is not None:
            z = torch.cat([z, self.embed(labels)], 1)
        if isinstance(self.body, UpConvGenerator):
            return self.out_act(self.body(z, labels))
        return self.out_act(self.body(z))


class Discriminator(nn.Module):
    """x -> features phi(x) -> linear head, plus <embed(y), phi(x)> for conditional models
    (projection discriminator, Miyato & Koyama 2018). With pack m it sees m examples at once,
    stacked on the channel (images) or feature (tables) axis (Lin et al. 2018, PacGAN)."""

    def __init__(self, cfg, shape: tuple[int, ...], num_classes: int | None, spectral: bool,
                 batch_norm: bool = False):
        super().__init__()
        self.pack = cfg.pack
        packed = (shape[0] * cfg.pack, *shape[1:])
        if cfg.arch == "dcgan" and cfg.kernel == 4:
            self.features = DownConvCritic(packed, cfg.conv_channels, batch_norm and not spectral)
            feat, self.act = self.features.out_dim, nn.Identity()
        elif cfg.arch == "dcgan":
            feat = cfg.conv_channels[-1]
            self.features = ConvEncoder(packed, cfg.conv_channels, feat, batch_norm=batch_norm and not spectral)
            self.act = nn.LeakyReLU(0.2)
        else:
            feat = cfg.hidden[-1]
            act = ACTIVATIONS[cfg.d_activation]
            self.features = nn.Sequential(nn.Flatten(), mlp([math.prod(packed), *cfg.hidden], act=act))
            self.act = act()
        self.head = nn.Linear(feat, 1)
        self.embed = nn.Embedding(num_classes, feat) if num_classes else None
        # AC-GAN's class logits (Odena et al. 2017), from the same features
        self.classes = nn.Linear(feat, num_classes) if num_classes and cfg.aux_weight else None
        if cfg.init == "dcgan":
            dcgan_init(self)
        if spectral:
            for m in list(self.modules()):
                if isinstance(m, (nn.Linear, nn.Conv2d, nn.Embedding)):
                    spectral_norm(m)

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None, classes: bool = False):
        """Realness logits (n,); with classes=True also the class logits (n, K) of the AC-GAN head."""
        n = x.shape[0] // self.pack
        if self.pack > 1:  # (n*m, C, ...) -> (n, m*C, ...): a pack's members side by side
            x = x.reshape(n, self.pack, *x.shape[1:]).flatten(1, 2)
        h = self.act(self.features(x))  # (n, feat)
        out = self.head(h).squeeze(1)
        if self.embed is not None:
            out = out + (self.embed(labels) * h).sum(1)
        return (out, self.classes(h)) if classes else out


def dcgan_init(module: nn.Module) -> None:
    """Radford et al. 2016: weights N(0, 0.02), batch-norm scales N(1, 0.02), biases 0 (before spectral
    norm wraps D's layers: it reads the weights it is given)."""
    for m in module.modules():
        if isinstance(m, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d, nn.Embedding)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if getattr(m, "bias", None) is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.modules.batchnorm._BatchNorm) and m.affine:
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)
    for m in module.modules():  # a class's batch-norm scales as a batch norm's
        if isinstance(m, ClassBatchNorm):
            nn.init.normal_(m.scale.weight, 1.0, 0.02)
            nn.init.zeros_(m.shift.weight)


class GAN(nn.Module):
    """Generator, discriminator and (optionally) an exponential moving average of the
    generator's weights, which sampling uses (Karras et al. 2018; Yazici et al. 2019).
    `loss`: the loss pair and its paper's settings, which the model and the training loop use."""

    def __init__(self, cfg, shape: tuple[int, ...], num_classes: int | None, output: str, loss: GANLoss):
        super().__init__()
        self.cfg, self.shape, self.loss = cfg, tuple(shape), loss
        self.num_classes = num_classes if cfg.conditional else None
        self.generator = Generator(cfg, shape, self.num_classes, output)
        self.discriminator = Discriminator(cfg, shape, self.num_classes, cfg.spectral_norm, loss.d_batch_norm)
        self.ema = None
        if cfg.ema > 0:
            self.ema = copy.deepcopy(self.generator).requires_grad_(False)
        self.register_buffer("ema_updates", torch.zeros((), dtype=torch.long))

    @torch.no_grad()
    def update_ema(self) -> None:
        if self.ema is None:
            return
        # warm-up: early on average over the updates so far, not towards the random initial weights
        n = int(self.ema_updates)
        d = min(self.cfg.ema, (1 + n) / (10 + n))
        self.ema_updates += 1
        for e, p in zip(self.ema.parameters(), self.generator.parameters(), strict=True):
            e.lerp_(p, 1 - d)
        for e, b in zip(self.ema.buffers(), self.generator.buffers(), strict=True):
            e.copy_(b)

    @torch.no_grad()
    def recalibrate_ema(self, batches: int = 16, size: int = 256) -> None:
        """Measure the EMA generator's batch-norm statistics on its own outputs (fixed noise, a plain
        average over `batches` batches): the running statistics copied from the trained generator
        belong to other weights. A generator without batch norm is left as it is."""
        norms = [m for m in (self.ema.modules() if self.ema is not None else ())
                 if isinstance(m, nn.modules.batchnorm._BatchNorm)]
        if not norms:
            return
        saved = [(m, m.momentum) for m in norms]
        for m in norms:
            m.reset_running_stats()
            m.momentum = None  # cumulative average
        was = self.ema.training
        self.ema.train()
        gen = torch.Generator().manual_seed(0)
        dev = next(self.ema.parameters()).device
        for _ in range(batches):
            labels = torch.randint(0, self.num_classes, (size,), generator=gen).to(dev) if self.num_classes else None
            self.ema(self.noise(size, gen).to(dev), labels)
        for m, momentum in saved:
            m.momentum = momentum
        self.ema.train(was)

    def noise(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return torch.randn(n, self.cfg.z_dim, generator=generator)

    @torch.no_grad()
    def sample(self, n: int, labels: torch.Tensor | None = None, z: torch.Tensor | None = None,
               generator: torch.Generator | None = None) -> torch.Tensor:
        """(n, *shape) samples in model units from the EMA generator when there is one."""
        g = self.ema if self.ema is not None else self.generator
        was = g.training
        g.eval()
        z = self.noise(n, generator) if z is None else z
        if self.num_classes and labels is None:
            labels = torch.randint(0, self.num_classes, (n,), generator=generator)
        out = g(z, labels if self.num_classes else None)
        g.train(was)
        return out


def resolve(cfg, kind: str, shape: tuple[int, ...] = (), spec: GANLoss | None = None):
    """Fill the settings left to default (None) from the loss's paper (`spec`, looked up when not
    given) and the kind of data. A resolved config resolves to itself."""
    spec = spec or gan_loss(cfg.loss)
    pick = {
        "arch": cfg.arch or ("dcgan" if kind == "image" else "mlp"),
        # a 2-D mixture wants a 2-D z (64 collapsed every mode of `ring` in our runs)
        "z_dim": cfg.z_dim or (64 if kind == "image" else max(2, min(16, math.prod(shape)))),
        "ema": cfg.ema if cfg.ema is not None else 0.999,
        "lr_decay": cfg.lr_decay or ("constant" if kind == "image" else "linear"),
        "spectral_norm": cfg.spectral_norm if cfg.spectral_norm is not None else spec.spectral_norm,
        "n_critic": cfg.n_critic or spec.n_critic,
        # on images G learns at twice D's rate with ns: Fashion-MNIST's FCD at the demo's budget 344 -> 277
        # with the dcgan init (BENCHMARKS.md, the image GANs' ablation)
        "lr_g": cfg.lr_g or ((spec.image_lr_g or spec.lr) if kind == "image" else spec.lr),
        "lr_d": cfg.lr_d or spec.lr,
        "betas_g": tuple(cfg.betas_g or spec.betas),
        "betas_d": tuple(cfg.betas_d or spec.betas),
        "clip": cfg.clip if cfg.clip is not None else (spec.clip or None),
        "gp_weight": cfg.gp_weight if cfg.gp_weight is not None else (spec.gp_weight or None),
        "kernel": cfg.kernel or 4,
        "init": cfg.init or ("dcgan" if kind == "image" else "torch"),
        # the AC-GAN head: samples asked for a class look like it (Fashion-MNIST, demo budget, with class
        # norms: 87% -> 95% of the samples classified as asked, FCD 155 -> 134; weight 3: 97%, FCD 145)
        "aux_weight": cfg.aux_weight if cfg.aux_weight is not None else (1.0 if cfg.conditional else 0.0),
    }
    # class-conditional batch norms where G has batch norms to make so: the dcgan layout (kernel 4)
    dcgan4 = pick["arch"] == "dcgan" and pick["kernel"] == 4
    pick["class_norm"] = cfg.class_norm if cfg.class_norm is not None else bool(cfg.conditional and dcgan4)
    return dataclasses.replace(cfg, **pick)


def build_gan(cfg, kind: str, shape: tuple[int, ...], model_range, num_classes: int | None,
              batch_size: int | None = None) -> GAN:
    """A fresh GAN: `--loss` looked up here, once (the GAN keeps the spec for its training loop),
    the settings left to default filled in (`gan.cfg`); user errors raise UsageError naming the flag."""
    loss = gan_loss(cfg.loss)
    cfg = resolve(cfg, kind, shape, loss)
    image = kind == "image" and len(shape) == 3
    side = f"{shape[1]}x{shape[2]}" if image else ""
    too_deep = image and cfg.arch == "dcgan" and cfg.kernel == 4 and \
        min(halvings(shape[1], shape[2], len(cfg.conv_channels))[-1]) < 1
    check_all([
        (cfg.arch != "dcgan" or kind == "image",
         f"--arch dcgan needs image data, but this data is a table of {shape[0]} columns; use --arch mlp"),
        (cfg.z_dim >= 1, f"--z-dim {cfg.z_dim} must be at least 1"),
        (cfg.kernel in (3, 4), f"--kernel {cfg.kernel}: expected 3 or 4"),
        (not too_deep, f"--conv-channels {','.join(map(str, cfg.conv_channels))}: {len(cfg.conv_channels)} "
                       f"stride-2 stages shrink {side} images below one pixel; give fewer channels (stages)"),
        (cfg.r1 is None or cfg.r1 >= 0, f"--r1 {cfg.r1} must be at least 0"),
        (cfg.aux_weight >= 0, f"--aux-weight {cfg.aux_weight} must be at least 0"),
        (not cfg.class_norm or (cfg.conditional and cfg.arch == "dcgan" and cfg.kernel == 4),
         "--class-norm on needs --conditional and the dcgan layout (--arch dcgan, --kernel 4)"),
        (cfg.conditional or not cfg.aux_weight, f"--aux-weight {cfg.aux_weight} needs --conditional (the "
                                                "auxiliary head learns the class labels)"),
        (cfg.pack >= 1, f"--pack {cfg.pack} must be at least 1"),
        (batch_size is None or batch_size % cfg.pack == 0,
         f"--pack {cfg.pack} does not divide --batch-size {batch_size}; choose a batch size that is a multiple"),
        (not (cfg.conditional and num_classes is None),
         "--conditional needs labelled data (class subfolders, a label column, or a named labelled dataset)"),
        (not (cfg.conditional and cfg.pack > 1), "--conditional with --pack is not supported; use one of them"),
        (0 <= cfg.ema < 1, f"--ema {cfg.ema} must be in [0, 1), e.g. 0.999"),
        (cfg.n_critic >= 1, f"--n-critic {cfg.n_critic} must be at least 1"),
        (cfg.lr_g > 0 and cfg.lr_d > 0, f"learning rates must be positive (--lr-g {cfg.lr_g}, --lr-d {cfg.lr_d})"),
        (len(cfg.betas_g) == 2 and len(cfg.betas_d) == 2, "--betas-g/--betas-d take two numbers, e.g. 0.5,0.999"),
    ])
    return GAN(cfg, shape, num_classes, output_activation(cfg.output, model_range), loss)
