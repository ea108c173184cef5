"""The GAN losses by name (`--loss`): each a pair of loss functions of losses.py and the training
settings its paper uses, which become the defaults of `aegan train gan`. Free of torch, so that
the command line can list the names without loading it."""

from __future__ import annotations

from dataclasses import dataclass

from .errors import UsageError


@dataclass(frozen=True)
class GANLoss:
    """A loss pair and the training settings its paper uses (defaults for `aegan train gan`)."""

    d: str  # the name of D's loss function in losses.py: (real, fake) -> scalar
    g: str  # the name of G's: (fake) -> scalar
    optimizer: str = "adam"
    lr: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.999)
    n_critic: int = 1
    clip: float = 0.0  # WGAN weight clipping
    gp_weight: float = 0.0  # WGAN-GP lambda
    spectral_norm: bool = False
    d_batch_norm: bool = False  # DCGAN's batch norm in D; not with a gradient penalty or a critic
    paper: str = ""
    # G's learning rate on images when it differs from `lr` (measured: BENCHMARKS.md, image GANs' ablation)
    image_lr_g: float | None = None
    # an epoch's mean D loss below this means D wins outright (G gets no useful gradient);
    # None for the Wasserstein critics, whose loss has no floor
    d_wins_below: float | None = 0.02


GAN_LOSSES: dict[str, GANLoss] = {
    "minimax": GANLoss("d_cross_entropy", "g_minimax", d_batch_norm=True, paper="Goodfellow et al. 2014 (saturating)"),
    "ns": GANLoss("d_cross_entropy", "g_non_saturating", d_batch_norm=True,
                  paper="Goodfellow et al. 2014 (non-saturating)", image_lr_g=4e-4),
    "wgan": GANLoss("d_wasserstein", "g_wasserstein", "rmsprop", 5e-5, (0.0, 0.0), n_critic=5, clip=0.01,
                    paper="Arjovsky et al. 2017", d_wins_below=None),
    "wgan-gp": GANLoss("d_wasserstein", "g_wasserstein", "adam", 1e-4, (0.0, 0.9), n_critic=5, gp_weight=10.0,
                       paper="Gulrajani et al. 2017", d_wins_below=None),
    "hinge": GANLoss("d_hinge", "g_wasserstein", "adam", 2e-4, (0.0, 0.9), spectral_norm=True,
                     paper="Lim & Ye 2017; Miyato et al. 2018"),
    "lsgan": GANLoss("d_least_squares", "g_least_squares", d_batch_norm=True, paper="Mao et al. 2017"),
}


def gan_loss(name: str) -> GANLoss:
    """The loss pair and paper settings of `--loss name`."""
    if name not in GAN_LOSSES:
        raise UsageError(f"--loss {name!r} is unknown; expected one of {', '.join(GAN_LOSSES)}")
    return GAN_LOSSES[name]
