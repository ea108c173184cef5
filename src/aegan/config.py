"""Configuration dataclasses and their JSON round trip (cli/flags.py makes the CLI flags from them).

Each field's `metadata["help"]` is its command-line help; the flag is the field name with
dashes (`code_dim` -> `--code-dim`). A run's config.json holds everything needed to rebuild
its model: these dataclasses plus the data's shape and normalisation.
"""

from __future__ import annotations

import dataclasses
import json
import typing
from dataclasses import asdict, dataclass, field, fields

from .errors import RunError, UsageError
from .gan_losses import GAN_LOSSES
from .space import Choice, Range

FORMAT_VERSION = 1
SPLITS = ("train", "test", "all")  # of a dataset (data/base.py)

# Autoencoder families: name -> (what it is, the ModelConfig fields of this family alone). The
# models (models/) and `aegan train FAMILY` (its flags) both read this.
FAMILIES: dict[str, tuple[str, tuple[str, ...]]] = {
    "ae": ("plain autoencoder, mean squared error", ()),
    "dae": ("denoising autoencoder", ("noise", "noise_level")),
    "sparse": ("sparse autoencoder, L1 activity penalty on the code", ("sparsity",)),
    "vae": ("variational autoencoder", ("beta", "likelihood")),
    "vqvae": ("vector-quantised autoencoder (VQ-VAE): a discrete code, compressible with aegan compress",
              ("codebook_size", "vq_dim", "commitment")),
}


_NOT_GIVEN = object()


def _f(default, help: str, choices=None, flag: str | None = None, tune: Range | Choice | None = None,
       absent=_NOT_GIVEN, **kw):
    """A config field; `flag`: its command-line name when not the field's own (--lambda: lmbda);
    `tune`: the range `aegan tune` searches when the command line leaves the field free; `absent`:
    the value of a run saved before the field existed (when not its default: what that run was)."""
    meta = {"help": help}
    if absent is not _NOT_GIVEN:
        meta["absent"] = absent
    if tune is not None:
        meta["tune"] = tune
    if flag is not None:
        meta["flag"] = flag
    if choices is not None:
        meta["choices"] = choices
    if isinstance(default, (list, tuple)):
        return field(default_factory=lambda: tuple(default), metadata=meta, **kw)
    return field(default=default, metadata=meta, **kw)


# Anomaly scores (anomaly.py computes them): name -> (what it measures, whether it needs a vae)
KNN_K, IWAE_K = 5, 100  # neighbours of the kNN scores; importance samples of the IWAE bound
ANOMALY_SCORES: dict[str, tuple[str, bool]] = {
    "recon": ("reconstruction error (mean squared, model units)", False),
    "code-knn": (f"mean distance to the {KNN_K} nearest training codes", False),
    "feature-knn": (f"mean distance to the {KNN_K} nearest training examples in the encoder's last hidden layer",
                    False),
    "elbo": ("negative ELBO in nats (vae)", True),
    "iwae": (f"negative importance-weighted bound, k={IWAE_K} (vae)", True),
}
DEFAULT_SCORE, DEFAULT_CONTAMINATION = "feature-knn", 0.05


@dataclass
class DataConfig:
    data: str = _f("", "dataset name (fashion-mnist, mnist, digits) or path (.npy, .npz, .csv, "
                       "image folder, IDX folder)")
    data_dir: typing.Optional[str] = _f(None, "folder holding IDX files of a named dataset "
                                              "(searched before $AEGAN_DATA and /usr/share/datasets)")
    image_size: typing.Optional[int] = _f(None, "resize images to N x N pixels")
    channels: typing.Optional[int] = _f(None, "image channels: 1 (grey) or 3 (RGB); default: as the images are",
                                        choices=(1, 3))
    label_column: typing.Optional[str] = _f(None, "CSV column (name or index) holding class labels; none: no label "
                                                  "column (default: a column named target, label, class or y, "
                                                  "with a note, else none)")
    columns: typing.Optional[str] = _f(None, "CSV: use only these feature columns (names or indices, comma-separated)")
    drop_columns: typing.Optional[str] = _f(None, "CSV: leave out these columns (names or indices, comma-separated), "
                                                  "e.g. an id column")
    stream: str = _f("auto", "read a .npy or an image folder from disk batch by batch while training instead of "
                             "loading it (for data larger than memory): on, off, or auto (from 1 GiB of pixels)",
                     choices=("auto", "on", "off"))
    normalize: str = _f("auto", "value map into the model: unit [0,1] or symmetric [-1,1] for images; "
                                "standard or none for tables", choices=("auto", "unit", "symmetric", "standard", "none"))
    # translation data (data/pairs.py): "paired" or "unpaired", set by the command (pix2pix, cyclegan), no flag
    pairs: typing.Optional[str] = None


@dataclass
class ModelConfig:
    family: str = _f("ae", "model family", choices=tuple(FAMILIES))
    arch: str = _f("mlp", "body: mlp (any data) or conv (images)", choices=("mlp", "conv"))
    code_dim: typing.Optional[int] = _f(None, "size of the code (latent) vector (default: 32 for images; for a "
                                              "table of D columns D/4, between 2 and 32)",
                                        tune=Range(2, 64, log=True, integer=True))
    hidden: typing.Optional[tuple[int, ...]] = _f(None, "mlp hidden layer sizes, encoder side, e.g. 512,256 "
                                                        "(default: 512,256 for images; 2D,D for a table of D "
                                                        "columns, within 16-512 and 8-256)",
                                                 tune=Choice(((128,), (256, 128), (512, 256), (1024, 512)),
                                                             when=("arch", "mlp")))
    conv_channels: tuple[int, ...] = _f((32, 64, 128), "conv channels per stride-2 stage, e.g. 32,64,128",
                                        tune=Choice(((16, 32, 64), (32, 64, 128), (64, 128, 256)), when=("arch", "conv")))
    output: str = _f("auto", "decoder output activation; auto: sigmoid for [0,1] images, tanh for [-1,1], "
                             "identity for tables", choices=("auto", "identity", "sigmoid", "tanh"))
    noise: str = _f("gaussian", "dae corruption: gaussian (additive) or mask (zero a fraction of inputs)",
                    choices=("gaussian", "mask"))
    noise_level: float = _f(0.2, "dae corruption strength: Gaussian std (model units) or mask probability",
                            tune=Range(0.05, 0.5))
    sparsity: float = _f(1e-3, "sparse: weight of the L1 penalty on the code", tune=Range(1e-5, 1e-1, log=True))
    beta: float = _f(1.0, "vae: weight of the KL term (beta-VAE)", tune=Range(0.25, 4.0, log=True))
    likelihood: str = _f("gaussian", "vae decoder likelihood: gaussian (learned variance) or bernoulli "
                                     "([0,1] data)", choices=("gaussian", "bernoulli"))
    codebook_size: int = _f(256, "vqvae: entries in the codebook (each position's code is one of them)",
                            tune=Choice((64, 128, 256, 512)))
    vq_dim: int = _f(4, "vqvae: values per quantised vector; the code holds code_dim / vq_dim of them")
    commitment: float = _f(0.25, "vqvae: weight of the commitment loss (beta of the paper)",
                            tune=Range(0.05, 1.0, log=True))


@dataclass
class GANConfig:
    """A GAN; None means: pick the default for this loss and data (models/gan.py: resolve)."""

    loss: str = _f("ns", "GAN loss", choices=tuple(GAN_LOSSES), tune=Choice(("ns", "hinge", "lsgan")))
    arch: typing.Optional[str] = _f(None, "mlp or dcgan (default: dcgan for images, mlp for tables)",
                                    choices=("mlp", "dcgan"))
    z_dim: typing.Optional[int] = _f(None, "size of the noise vector z (default: 64 for images; for tables the "
                                           "number of columns, at most 16: 2 for the 2-D toys)")
    hidden: tuple[int, ...] = _f((256, 256, 256), "mlp hidden sizes of G (and D, in the same order)")
    conv_channels: tuple[int, ...] = _f((64, 128, 256), "dcgan channels per stride-2 stage (D order; G mirrors)")
    d_activation: str = _f("leaky_relu", "mlp discriminator activation", choices=("relu", "leaky_relu"))
    output: str = _f("auto", "generator output activation; auto: tanh for [-1,1] images, identity for tables",
                     choices=("auto", "identity", "sigmoid", "tanh"))
    conditional: bool = _f(False, "condition G and D on the class labels (projection discriminator)")
    aux_weight: typing.Optional[float] = _f(None, "conditional models: weight of an auxiliary classifier head on D "
                                                  "(AC-GAN, Odena et al. 2017): D learns to name the class of real "
                                                  "images, G to make samples D names as asked (default 1 with "
                                                  "--conditional; 0: off; Fashion-MNIST, 5 epochs: 1 -> 97.6%% of "
                                                  "samples classified as asked, worst class 88.9%%, FCD 40.2; 3 -> "
                                                  "98.9%%, worst 94.3%%, FCD 48.4; 4 (over 95%% in every class on "
                                                  "two seeds) -> 98.9-99.3%%, worst 95.6-97.5%%, FCD 50.9-56.5, "
                                                  "recall 0.41)", absent=0.0)
    class_norm: typing.Optional[bool] = _f(None, "conditional dcgan generators: batch norms whose scale and shift "
                                                 "are looked up by class (default: on with --conditional on images)",
                                           absent=False)
    pack: int = _f(1, "PacGAN packing: D judges m samples at once (batch size must be a multiple)")
    ema: typing.Optional[float] = _f(0.999, "decay of the generator's moving average used for sampling; 0: off")
    spectral_norm: typing.Optional[bool] = _f(None, "spectral norm on D (default: on for hinge)")
    n_critic: typing.Optional[int] = _f(None, "D steps per G step (default: 5 for wgan/wgan-gp, else 1)")
    lr_decay: typing.Optional[str] = _f(None, "learning-rate schedule of G and D: constant, or linear decay to 0 "
                                              "by the last step (default: linear for tables and 2-D toys, "
                                              "constant for images)", choices=("constant", "linear"))
    lr_g: typing.Optional[float] = _f(None, "generator learning rate (default: the loss's paper; with ns on images "
                                            "4e-4, twice D's)",
                                      tune=Range(2e-5, 1e-3, log=True))
    lr_d: typing.Optional[float] = _f(None, "discriminator learning rate (default: the loss's paper)",
                                      tune=Range(2e-5, 1e-3, log=True))
    betas_g: typing.Optional[tuple[float, ...]] = _f(None, "generator Adam betas, e.g. 0.5,0.999")
    betas_d: typing.Optional[tuple[float, ...]] = _f(None, "discriminator Adam betas, e.g. 0.5,0.999")
    clip: typing.Optional[float] = _f(None, "wgan weight clipping bound (default 0.01)")
    gp_weight: typing.Optional[float] = _f(None, "wgan-gp gradient penalty weight lambda (default 10)")
    kernel: typing.Optional[int] = _f(None, "dcgan kernel size: 4 (Radford et al. 2016: kernel-4 stride-2 convs, "
                                            "batch norm after the projection; default) or 3 (aegan 0.1's layout)")
    init: typing.Optional[str] = _f(None, "initial weights: dcgan (normal, std 0.02; batch-norm scales normal "
                                          "around 1; Radford et al. 2016; default for images) or torch (PyTorch's "
                                          "defaults; default for tables)",
                                    choices=("torch", "dcgan"))
    r1: typing.Optional[float] = _f(None, "R1 penalty gamma on D's gradient at real data (Mescheder et al. "
                                          "2018); none: off")


@dataclass
class ClassifierConfig:
    """The feature network of the sample metrics (see models/classifier.py)."""

    conv_channels: tuple[int, ...] = _f((32, 64, 128), "conv channels per stage (the first at full resolution, "
                                                  "then stride 2)")
    feature_dim: int = _f(128, "size of the penultimate feature layer the metrics use")


@dataclass
class CodecConfig:
    """A learned image codec (models/codec.py): rate and distortion trained together."""

    prior: str = _f("checkerboard", "entropy model of the latents: factorized (Balle et al. 2017), hyperprior (a "
                                  "scale hyperprior, Balle et al. 2018), mean-scale (means too, Minnen et al. "
                                  "2018), checkerboard (mean-scale plus the context of the latents decoded "
                                  "first, He et al. 2021) or space-channel (checkerboard within four channel "
                                  "groups coded one after another, each seeing the groups before it: ELIC, He et "
                                  "al. 2022)",
                    choices=("factorized", "hyperprior", "mean-scale", "checkerboard", "space-channel"))
    lmbda: float = _f(0.01, "rate-distortion trade-off: the loss is lambda * 255^2 * distortion + bits per pixel; "
                            "larger: better pictures, bigger files (Fashion-MNIST test set, the defaults, 10 epochs: "
                            "0.0003 -> 14.3 bytes per image at 21.7 dB, 0.001 -> 30.9 B at 24.8 dB, 0.003 -> 55.1 B "
                            "at 28.1 dB, 0.01 -> 95.4 B at 32.6 dB; 0.03 -> 154 B at 36.6 dB before the last phase)",
                      flag="lambda")
    distortion: str = _f("mse", "what lambda weighs: mse, or ms-ssim (1 - MS-SSIM)", choices=("mse", "ms-ssim"))
    decoder_input: str = _f("round", "what the synthesis transform sees in training: round (the rounded latent, "
                                     "gradients passed straight through: what it sees in a file) or noise (the "
                                     "noisy latent the rate is measured on, as in Balle et al.)",
                            choices=("round", "noise"))
    hidden_channels: int = _f(64, "channels of the transforms' hidden layers (N)", tune=Choice((32, 64, 128)))
    latent_channels: int = _f(32, "channels of the latent (M); 64 on Fashion-MNIST, 10 epochs, without the last "
                                  "phase (--latent-channels 64 --finetune-steps 0 --lambda L, then aegan evaluate on "
                                  "the test set): lambda 0.0003 17.3 bytes per image "
                                  "at 21.50 dB, 0.001 38.4 B at 24.67, 0.003 62.8 B at 27.98, 0.01 89.6 B at 32.77; "
                                  "BD-rate against WebP as a mosaic over 22-32 dB (benchmarks/run.py --sections "
                                  "compression) -34.6%% where 32 gave -33.9%%, for 1.3-1.65x the training time",
                              tune=Choice((16, 32, 64)))

    finetune_steps: typing.Optional[int] = _f(None, "batches of a last phase on rounded latents, as a file holds "
                                                    "them (Guo et al. 2021): the analysis transforms frozen, the "
                                                    "synthesis transform and entropy models fitted at 1/50 of --lr, "
                                                    "kept if the validation loss falls (default: a quarter of the "
                                                    "training's batches, at most 4000; 0: off). On Fashion-MNIST, "
                                                    "the test set, 10 epochs, 0 against the default 4000: lambda "
                                                    "0.0003 18.6 -> 14.3 bytes per image (21.44 -> 21.65 dB), 0.001 "
                                                    "37.2 -> 30.9 B (24.61 -> 24.78), 0.003 61.1 -> 55.1 B (27.92 -> "
                                                    "28.07), 0.01 96.0 -> 95.4 B (32.49 -> 32.60), for 2.5 minutes "
                                                    "more with one thread")

    stages: typing.Optional[int] = _f(None, "stride-2 stages of the analysis transform (default: 2 for images "
                                            "under 64 pixels a side, 28 x 28 -> 7 x 7; 4 from 64, 256 -> 16)")
    blocks: int = _f(1, "3 x 3 conv + GDN pairs after each hidden stage of both transforms, at that stage's size "
                        "(0: the transforms of Balle et al. alone; 1 against 0 on Fashion-MNIST, lambda 0.01, 10 "
                        "epochs, before the last phase (--finetune-steps 0): 96.0 against 107.0 bytes per image at "
                        "32.5 and 32.6 dB, for 1.2x the training time)",
                     tune=Choice((0, 1, 2)))


@dataclass
class TranslationConfig:
    """Image-to-image translation (models/translation.py): pix2pix (paired, Isola et al. 2017) or
    CycleGAN (unpaired, Zhu et al. 2017)."""

    mode: str = _f("pix2pix", "pix2pix (paired) or cyclegan (unpaired): set by the command",
                   choices=("pix2pix", "cyclegan"))
    generator: typing.Optional[str] = _f(None, "unet (skip connections; pix2pix's default) or resnet (residual "
                                               "blocks; CycleGAN's default)", choices=("unet", "resnet"))
    base_channels: typing.Optional[int] = _f(None, "channels of the first layer of G and D, doubling per stride-2 "
                                                   "stage up to 8x (default: 64; 32 for sides under 64 pixels)")
    l1_weight: float = _f(100.0, "pix2pix: weight of the L1 distance to the target (lambda; 100 in the paper)")
    adv_weight: float = _f(1.0, "weight of the adversarial loss of G; 0 trains the generator on L1 (pix2pix) or "
                                "cycle consistency alone, with no discriminator")
    d_noise: float = _f(0.1, "pix2pix: std of Gaussian noise added to the output side of the pairs the "
                             "discriminator sees (model units, [-1, 1]; instance noise), so that it judges "
                             "realism rather than exact agreement with the input (0: off, as the paper)")
    cycle_weight: float = _f(10.0, "cyclegan: weight of the cycle-consistency loss (lambda; 10 in the paper)")
    identity_weight: float = _f(0.5, "cyclegan: identity loss weight as a fraction of --cycle-weight (0.5 in the "
                                     "paper; 0: off)")
    pool_size: int = _f(50, "cyclegan: generated images kept for the discriminators (history pool; 0: off)")
    res_blocks: typing.Optional[int] = _f(None, "resnet generator: residual blocks (default: 6 up to 128 pixels, "
                                                "9 above)")
    downsamplings: typing.Optional[int] = _f(None, "resnet generator: stride-2 stages before the residual blocks "
                                                   "(and as many up after); default: 2 from 64 pixels (the paper's), "
                                                   "1 below")
    betas: tuple[float, ...] = _f((0.5, 0.999), "Adam betas of G and D")


@dataclass
class TrainConfig:
    epochs: int = _f(10, "passes over the training data")
    batch_size: int = _f(128, "examples per step", tune=Choice((32, 64, 128, 256)))
    lr: float = _f(1e-3, "Adam learning rate", tune=Range(1e-4, 1e-2, log=True))
    weight_decay: float = _f(0.0, "Adam weight decay (L2)")
    val_split: float = _f(0.1, "fraction of the training data held out for validation (0 for none)")
    patience: int = _f(0, "early stopping: stop after N epochs without a better validation loss (0: off)")
    seed: int = _f(0, "random seed; the same seed gives the same run on a CPU")
    max_samples: typing.Optional[int] = _f(None, "use at most N training examples (quick experiments)")
    checkpoint_every: int = _f(1, "write a resumable checkpoint every N epochs (RUN/checkpoints/)")
    checkpoint_steps: int = _f(0, "also write one every N batches (0: only at epoch ends)")
    keep_checkpoints: int = _f(2, "how many of the newest checkpoints to keep")
    on_nan: str = _f("stop", "when a loss or gradient becomes NaN or inf: stop (keeping the last good "
                             "checkpoint) or recover (reload the last good state, halve the learning rate, go on)",
                     choices=("stop", "recover"))
    grad_clip: typing.Optional[float] = _f(None, "clip the gradient norm of each step to this value")
    tensorboard: bool = _f(False, "also log scalars and pictures to RUN/tb/ (pip install 'aegan[tensorboard]')")
    device: str = _f("auto", "where to train: auto (a CUDA GPU, else Apple's MPS, else the CPU), cpu, cuda, mps",
                     choices=("auto", "cpu", "cuda", "mps"))
    precision: str = _f("fp32", "arithmetic of the forward pass: fp32, or bf16/fp16 autocast (fp16 with a gradient "
                                "scaler), mainly for GPUs", choices=("fp32", "bf16", "fp16"))
    workers: typing.Optional[int] = _f(None, "processes reading batches from disk for a streamed .npy or image "
                                             "folder (--stream); 0 reads them in the training process (default: 0 "
                                             "when training on the CPU, where readers would take its cores; 4 with "
                                             "a GPU)")
    threads: typing.Optional[int] = _f(None, "CPU threads of the training process (default: $AEGAN_THREADS, else "
                                             "PyTorch's choice, the cores); recorded in the run and used again on "
                                             "resume: the same seed gives the same weights at the same thread count")
    compile: bool = _f(False, "compile the training step with torch.compile (a GPU, or a CPU with a C++ compiler; "
                              "the first steps take a while)")


PRESETS = {
    # The reference article's network: x -> Dense 128 ReLU -> code -> Dense 128 ReLU -> x_hat,
    # linear output, MSE, Adam.
    "classic": {"model": {"family": "ae", "arch": "mlp", "hidden": (128,), "output": "identity"},
                "train": {"lr": 1e-3}},
}
GAN_PRESETS = {
    # The article's GAN: G: z -> Dense 128 ReLU -> x (linear); D: x -> Dense 128 ReLU -> 1 logit.
    "classic": {"model": {"arch": "mlp", "hidden": (128,), "d_activation": "relu", "output": "identity"}},
}


@dataclass
class RunConfig:
    """What a run folder's config.json holds."""

    task: str = "autoencoder"
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    preset: typing.Optional[str] = None
    split: str = "train"  # which split of `data` was trained on (resume reads it again)
    # filled in at training time: kind, shape, classes, normaliser
    data_info: dict = field(default_factory=dict)
    aegan_version: str = ""
    format_version: int = FORMAT_VERSION

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, d: dict, source: str = "config.json", model_cls=ModelConfig) -> "RunConfig":
        """A config from its JSON object; `model_cls`: the task's model config (runs/registry.py)."""
        if not isinstance(d, dict):
            raise RunError(f"{source}: expected a JSON object, found {type(d).__name__}")
        version = d.get("format_version", 0)
        if not isinstance(version, int) or version > FORMAT_VERSION:
            raise RunError(f"{source}: format_version {version!r} is newer than this aegan understands "
                           f"({FORMAT_VERSION}); upgrade aegan")
        kw = {}
        for f in fields(cls):
            if f.name not in d:
                continue
            v = d[f.name]
            sub = {"data": DataConfig, "model": model_cls, "train": TrainConfig}.get(f.name)
            kw[f.name] = _from_dict(sub, v, f"{source}: {f.name}") if sub else v
        return cls(**kw)


def _from_dict(cls, d: dict, where: str):
    if not isinstance(d, dict):
        raise RunError(f"{where}: expected an object, found {type(d).__name__}")
    names = {f.name: f for f in fields(cls)}
    unknown = sorted(set(d) - set(names))
    if unknown:
        raise RunError(f"{where}: unknown keys {unknown}; this aegan knows {sorted(names)}")
    out = {k: f.metadata["absent"] for k, f in names.items() if k not in d and "absent" in f.metadata}
    for k, v in d.items():
        out[k] = tuple(v) if isinstance(v, list) else v
    obj = cls(**out)
    for k, f in names.items():
        choices = f.metadata.get("choices")
        if choices and getattr(obj, k) not in choices and not (getattr(obj, k) is None and f.default is None):
            raise RunError(f"{where}.{k} = {getattr(obj, k)!r} is not one of {list(choices)}")
    return obj


def apply_preset(name: str | None, model, train: TrainConfig, presets: dict = PRESETS) -> tuple:
    """(model, train) with the settings of preset `name` (one of `presets`) on top."""
    if name is None:
        return model, train
    if name not in presets:
        raise UsageError(f"--preset {name!r} is unknown; expected one of {', '.join(presets) or 'none'}")
    p = presets[name]
    return dataclasses.replace(model, **p.get("model", {})), dataclasses.replace(train, **p.get("train", {}))
