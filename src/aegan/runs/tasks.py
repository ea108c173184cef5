"""The kinds of run by task name: the registry `load`, `fit`, resume, the CLI, evaluation and
reports ask. An entry says what the command line needs to know of a kind (its commands, model
settings, presets, training defaults, which flags do not apply) and names the module that holds
the rest: its run class (`RUN_CLASS`) and `prepare` (runs/base.py: Job), imported when first
used, so that `aegan --help` and argument errors answer without loading PyTorch. A new kind of
run is one file in runs/ and one entry here."""

from __future__ import annotations

import dataclasses
import importlib
from typing import Callable

from ..config import (FAMILIES, GAN_PRESETS, PRESETS, ClassifierConfig, CodecConfig, GANConfig, ModelConfig,
                      TrainConfig, TranslationConfig)
from ..config_checks import validate_autoencoder, validate_codec, validate_translation


@dataclasses.dataclass(frozen=True)
class Task:
    """A kind of run. name: the task in config.json; module: the file of its run class and
    prepare(ds, config, accel) -> Job; model_config: the dataclass of config.json's "model" (its
    fields' help makes the `aegan train` flags); commands: `aegan train COMMAND` -> help;
    model_for(command): the model config that command starts from. TrainConfig fields in
    skip_train, model fields in skip_model (and skip_model_for(command)) are not offered."""

    name: str
    module: str
    model_config: type
    commands: dict[str, str]
    model_for: Callable[[str], object]
    presets: dict = dataclasses.field(default_factory=dict)
    train_defaults: TrainConfig = dataclasses.field(default_factory=TrainConfig)
    skip_train: tuple[str, ...] = ()
    skip_model: tuple[str, ...] = ()
    skip_model_for: Callable[[str], tuple[str, ...]] = lambda command: ()
    normalize: bool = True  # whether --normalize applies
    check_model: Callable[[object], None] | None = None  # cheap checks before any data is read
    data_for: Callable[[str], dict] = lambda command: {}  # data settings a command fixes (DataConfig fields)
    train_defaults_for: Callable[[str], TrainConfig] | None = None  # where the commands' defaults differ
    data_defaults: dict[str, dict] = dataclasses.field(default_factory=dict)  # named dataset -> TrainConfig fields

    def defaults(self, command: str, data: str | None = None) -> TrainConfig:
        """The training settings `aegan train COMMAND --data DATA` starts from."""
        base = self.train_defaults_for(command) if self.train_defaults_for else self.train_defaults
        return dataclasses.replace(base, **self.data_defaults[data]) if data in self.data_defaults else base

    @property
    def run_class(self) -> type:
        return importlib.import_module(self.module).RUN_CLASS

    @property
    def prepare(self) -> Callable:
        return importlib.import_module(self.module).prepare


def other_families_settings(command: str) -> tuple[str, ...]:
    """The ModelConfig flags of the other autoencoder families, which `aegan train COMMAND` does not offer."""
    own = FAMILIES[command][1]
    return tuple(f for name, (_, settings) in FAMILIES.items() if name != command for f in settings if f not in own)


# small batches, as the papers (which use 1): per epoch about the time of batch 64 on a CPU, and
# better images (measured against batch 64: pix2pix edges FCD 115 -> 56; CycleGAN cycle PSNR after
# one epoch +1.4 dB)
TRANSLATION_BATCH = {"pix2pix": 16, "cyclegan": 8}
TRANSLATION_ONLY = {"pix2pix": ("l1_weight", "d_noise"), "cyclegan": ("cycle_weight", "identity_weight", "pool_size")}


# GANs on the 2-D toys train 30 epochs (about 42,000 steps at batch 64): at 10, the high-quality share of the
# grid's samples ranged from 42.6% to 85.4% over seeds 0-4 and the ring's from 95.8% to 96.8%
GAN_DATA_DEFAULTS = {"ring": {"epochs": 30}, "grid": {"epochs": 30}}


TASKS: dict[str, Task] = {t.name: t for t in (
    Task("autoencoder", "aegan.runs.autoencoder", ModelConfig,
         commands={name: description for name, (description, _) in FAMILIES.items()},
         model_for=lambda command: ModelConfig(family=command), presets=PRESETS, skip_model=("family",),
         skip_model_for=other_families_settings, check_model=validate_autoencoder),
    Task("gan", "aegan.runs.gan", GANConfig, commands={"gan": "generative adversarial network"},
         model_for=lambda command: GANConfig(), presets=GAN_PRESETS, train_defaults=TrainConfig(batch_size=64),
         skip_train=("lr", "weight_decay", "val_split", "patience"), data_defaults=GAN_DATA_DEFAULTS),
    Task("classifier", "aegan.runs.classifier", ClassifierConfig,
         commands={"classifier": "the CNN whose features the sample metrics use (labelled images)"},
         model_for=lambda command: ClassifierConfig(), skip_train=("patience",), normalize=False),
    Task("codec", "aegan.runs.codec", CodecConfig,
         commands={"codec": "learned image codec, rate and distortion together (aegan compress / decompress)"},
         model_for=lambda command: CodecConfig(), train_defaults=TrainConfig(epochs=10, batch_size=8, lr=5e-4),
         normalize=False, check_model=validate_codec),
    Task("translation", "aegan.runs.translation", TranslationConfig,
         commands={"pix2pix": "paired image-to-image translation (U-Net, PatchGAN, L1; aegan translate)",
                   "cyclegan": "unpaired image-to-image translation, both directions (aegan translate)"},
         model_for=lambda command: TranslationConfig(mode=command),
         train_defaults_for=lambda command: TrainConfig(epochs=5, batch_size=TRANSLATION_BATCH[command], lr=2e-4),
         skip_model=("mode",),
         skip_model_for=lambda command: tuple(f for c, fs in TRANSLATION_ONLY.items() if c != command for f in fs),
         skip_train=("weight_decay", "patience"), check_model=validate_translation, normalize=False,
         data_for=lambda command: {"pairs": "paired" if command == "pix2pix" else "unpaired"}),
)}
