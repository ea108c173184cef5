"""Checks of the config values a user gives (cli/flags.py, the Python API, aegan tune): each
rejects values no run can use with one line naming the flag, the bad value and a valid one."""

from __future__ import annotations

from .config import CodecConfig, ModelConfig, TrainConfig, TranslationConfig
from .errors import check_all


def validate_codec(m: CodecConfig) -> None:
    check_all([
        (m.lmbda > 0, f"--lambda {m.lmbda} must be positive (e.g. 0.01; larger: better pictures, bigger files)"),
        (m.hidden_channels >= 1, f"--hidden-channels {m.hidden_channels} must be at least 1"),
        (m.latent_channels >= 1, f"--latent-channels {m.latent_channels} must be at least 1"),
        (m.stages is None or 1 <= m.stages <= 6, f"--stages {m.stages} must be between 1 and 6"),
        (0 <= m.blocks <= 4, f"--blocks {m.blocks} must be between 0 and 4"),
        (m.finetune_steps is None or m.finetune_steps >= 0,
         f"--finetune-steps {m.finetune_steps} must be 0 (off) or more"),
    ])


def validate_translation(m: TranslationConfig) -> None:
    check_all([
        (m.base_channels is None or m.base_channels >= 1, f"--base-channels {m.base_channels} must be at least 1"),
        (m.l1_weight >= 0, f"--l1-weight {m.l1_weight} must be zero or positive"),
        (m.adv_weight >= 0, f"--adv-weight {m.adv_weight} must be zero or positive"),
        (m.cycle_weight >= 0, f"--cycle-weight {m.cycle_weight} must be zero or positive"),
        (m.identity_weight >= 0, f"--identity-weight {m.identity_weight} must be zero or positive"),
        (m.d_noise >= 0, f"--d-noise {m.d_noise} must be zero or positive"),
        (m.pool_size >= 0, f"--pool-size {m.pool_size} must be zero or positive"),
        (m.res_blocks is None or m.res_blocks >= 1, f"--res-blocks {m.res_blocks} must be at least 1"),
        (m.downsamplings is None or 1 <= m.downsamplings <= 2, f"--downsamplings {m.downsamplings} must be 1 or 2"),
        (len(m.betas) == 2 and all(0 <= b < 1 for b in m.betas), f"--betas {m.betas}: expected two numbers in "
                                                                   "[0, 1), e.g. 0.5,0.999"),
        (m.mode != "pix2pix" or m.l1_weight > 0 or m.adv_weight > 0, "--l1-weight 0 with --adv-weight 0 leaves "
                                                                      "pix2pix nothing to learn from"),
    ])


def validate_train(train: TrainConfig) -> None:
    """Reject training values no run can use, naming the flag and the valid range."""
    check_all([
        (train.epochs >= 1, f"--epochs {train.epochs} must be at least 1"),
        (train.batch_size >= 1, f"--batch-size {train.batch_size} must be at least 1"),
        (train.lr > 0, f"--lr {train.lr} must be positive (e.g. 1e-3)"),
        (train.weight_decay >= 0, f"--weight-decay {train.weight_decay} must be zero or positive"),
        (0 <= train.val_split < 1, f"--val-split {train.val_split} must be in [0, 1), e.g. 0.1"),
        (train.patience >= 0, f"--patience {train.patience} must be zero (off) or positive"),
        (train.max_samples is None or train.max_samples >= 1, f"--max-samples {train.max_samples} must be at least 1"),
        (train.checkpoint_every >= 0, f"--checkpoint-every {train.checkpoint_every} must be zero (off) or positive"),
        (train.checkpoint_steps >= 0, f"--checkpoint-steps {train.checkpoint_steps} must be zero (off) or positive"),
        (train.keep_checkpoints >= 1, f"--keep-checkpoints {train.keep_checkpoints} must be at least 1"),
        (train.grad_clip is None or train.grad_clip > 0, f"--grad-clip {train.grad_clip} must be positive, e.g. 1.0"),
        (train.threads is None or train.threads >= 1, f"--threads {train.threads} must be at least 1"),
        (train.workers is None or train.workers >= 0,
         f"--workers {train.workers} must be zero (read in the training process) or positive"),
    ])


def validate_autoencoder(model: ModelConfig) -> None:
    """Reject autoencoder settings no run can use, naming the flag and the valid range."""
    check_all([
        (model.code_dim is None or model.code_dim >= 1, f"--code-dim {model.code_dim} must be at least 1"),
        (model.noise_level >= 0 and (model.noise != "mask" or model.noise_level < 1),
         f"--noise-level {model.noise_level} must be >= 0 (and < 1 for mask noise)"),
        (model.sparsity >= 0, f"--sparsity {model.sparsity} must be zero or positive"),
        (model.beta >= 0, f"--beta {model.beta} must be zero or positive"),
        (2 <= model.codebook_size <= 65536, f"--codebook-size {model.codebook_size} must be between 2 and 65536"),
        (model.vq_dim >= 1, f"--vq-dim {model.vq_dim} must be at least 1"),
        (model.family != "vqvae" or model.code_dim is None or model.code_dim % max(1, model.vq_dim) == 0,
         f"--code-dim {model.code_dim} is not a multiple of --vq-dim {model.vq_dim}; the code is cut into vectors "
         f"of vq_dim values (e.g. --code-dim {model.vq_dim * 16})"),
        (model.commitment >= 0, f"--commitment {model.commitment} must be zero or positive"),
    ])


def validate(model: ModelConfig | None, train: TrainConfig) -> None:
    """An autoencoder's model (when given) and training settings."""
    validate_train(train)
    if model is not None:
        validate_autoencoder(model)
