import math

import numpy as np
import pytest
import torch

import aegan
from aegan import losses
from aegan.config import DataConfig, GANConfig, RunConfig, TrainConfig
from aegan.data import load_dataset
from aegan.runs.registry import fit as fit_gan
from aegan.metrics import mode_stats
from aegan.models.gan import ClassBatchNorm, Discriminator

REAL, FAKE = torch.tensor([2.0, -1.0]), torch.tensor([0.0, 1.0])
sig = lambda v: 1 / (1 + math.exp(-v))  # noqa: E731


def test_losses_against_hand_values():
    # D: -log sigma(r) - log(1 - sigma(f)), averaged per side
    d_ce = (-math.log(sig(2)) - math.log(sig(-1))) / 2 + (-math.log(1 - sig(0)) - math.log(1 - sig(1))) / 2
    assert float(losses.d_cross_entropy(REAL, FAKE)) == pytest.approx(d_ce, rel=1e-6)
    assert float(losses.g_minimax(FAKE)) == pytest.approx((math.log(0.5) + math.log(1 - sig(1))) / 2, rel=1e-6)
    assert float(losses.g_non_saturating(FAKE)) == pytest.approx((-math.log(0.5) - math.log(sig(1))) / 2, rel=1e-6)
    assert float(losses.d_wasserstein(REAL, torch.tensor([0.0, 2.0]))) == pytest.approx(1.0 - 0.5)
    assert float(losses.g_wasserstein(FAKE)) == pytest.approx(-0.5)
    assert float(losses.d_hinge(REAL, FAKE)) == pytest.approx((0 + 2) / 2 + (1 + 2) / 2)
    assert float(losses.d_least_squares(REAL, FAKE)) == pytest.approx(0.5 * (1 + 4) / 2 + 0.5 * (0 + 1) / 2)
    assert float(losses.g_least_squares(FAKE)) == pytest.approx(0.5 * (1 + 0) / 2)


def test_gradient_penalty_on_a_known_gradient():
    w = torch.tensor([2.0, -1.0, 2.0])  # |w| = 3: the gradient of x -> w.x has norm 3 everywhere
    real, fake = torch.randn(16, 3), torch.randn(16, 3)
    assert float(losses.gradient_penalty(lambda x: x @ w, real, fake)) == pytest.approx((3 - 1) ** 2, rel=1e-5)
    unit = w / 3
    assert float(losses.gradient_penalty(lambda x: x @ unit, real, fake)) == pytest.approx(0.0, abs=1e-10)


def test_spectral_norm_keeps_top_singular_value_near_one():
    torch.manual_seed(0)  # not whatever the tests before left in the global generator
    cfg = GANConfig(arch="mlp", hidden=(64, 64))
    d = Discriminator(cfg, (10,), None, spectral=True)
    with torch.no_grad():
        for m in d.modules():
            if isinstance(m, torch.nn.Linear):
                m.parametrizations.weight.original.mul_(25.0)  # far above 1 before normalisation
    d.train()
    # power iterations run in training-mode forward passes; the estimate's error shrinks like
    # (s2/s1)^(2k), which 30 did not make small for every random matrix (s2/s1 near 0.95): 300 do
    for _ in range(300):
        d(torch.randn(8, 10))
    d.eval()
    for m in d.modules():
        if isinstance(m, torch.nn.Linear):
            assert float(torch.linalg.matrix_norm(m.weight.detach(), ord=2)) == pytest.approx(1.0, abs=0.05)


def test_mode_stats_by_hand():
    centers = np.array([[0.0, 0.0], [10.0, 0.0]])
    pts = np.array([[0.01, 0.0], [0.0, 0.02], [10.0, 0.05], [5.0, 5.0]])
    s = mode_stats(pts, centers, std=0.01)  # 3 std = 0.03: the third and fourth are low quality
    assert s["modes"] == 1 and s["high_quality"] == pytest.approx(0.5)
    assert s["reverse_kl"] == pytest.approx(math.log(2))


def test_ring_run_captures_most_modes(tmp_path):
    # the defaults (EMA, linear decay) at a higher learning rate, so that ~1,500 steps suffice
    run = fit_gan(load_dataset("ring"), RunConfig(task="gan", model=GANConfig(lr_g=1e-3, lr_d=1e-3),
                  train=TrainConfig(epochs=3, batch_size=64, max_samples=32000)), tmp_path / "ring", progress=False)
    stats = run.mode_stats()
    assert stats["modes"] >= 6, stats
    assert (tmp_path / "ring" / "samples.png").is_file()
    assert "mode_modes" in run.metrics()[-1]


def test_linear_lr_decay_reaches_zero_by_the_last_step():
    from aegan.optim import LR_SCHEDULES, set_lr
    assert LR_SCHEDULES["constant"](0.7) == 1.0
    assert [LR_SCHEDULES["linear"](f) for f in (0.0, 0.25, 1.0)] == [1.0, 0.75, 0.0]
    opt = torch.optim.Adam([torch.nn.Parameter(torch.zeros(2))], lr=1.0)
    set_lr([opt], [2e-3], 0.5)
    assert opt.param_groups[0]["lr"] == pytest.approx(1e-3)


def test_toy_gans_default_to_linear_decay_and_images_to_constant():
    from aegan.models.gan import resolve
    assert resolve(GANConfig(), "table", (2,)).lr_decay == "linear"
    assert resolve(GANConfig(), "image", (1, 28, 28)).lr_decay == "constant"
    assert resolve(GANConfig(lr_decay="constant"), "table", (2,)).lr_decay == "constant"


def test_toy_gans_default_to_30_epochs_unless_given(cli):
    from aegan.cli import build_parser
    from aegan.cli.train import run_config

    def epochs(*argv):
        return run_config(build_parser().parse_args(["train", "gan", "--out", "unused", *argv]))[0].train.epochs

    assert epochs("--data", "grid") == epochs("--data", "ring") == 30
    assert epochs("--data", "digits") == 10
    assert epochs("--data", "grid", "--epochs", "3") == 3
    shown = " ".join(cli("train", "gan", "--help").out.split())  # --help says so
    assert "(default: 10; 30 with --data ring; 30 with --data grid)" in shown


@pytest.fixture(scope="module")
def digits_gan(tmp_path_factory):
    out = tmp_path_factory.mktemp("gan") / "digits"
    run = fit_gan(load_dataset("digits"), RunConfig(task="gan", model=GANConfig(conv_channels=(16, 32), z_dim=16,
                  conditional=True), train=TrainConfig(epochs=2, batch_size=64)), out, progress=False)
    return run, out


def test_save_load_sample_same_seed_same_images(digits_gan):
    run, out = digits_gan
    back = aegan.load(out)
    np.testing.assert_array_equal(run.sample(16, seed=3), back.sample(16, seed=3))
    assert not np.array_equal(back.sample(16, seed=3), back.sample(16, seed=4))
    x = back.sample(8, label=2, seed=0)
    assert x.shape == (8, 1, 8, 8) and 0 <= x.min() and x.max() <= 1  # digits' own range


def test_conditional_discriminator_learns_the_classes_of_real_images(digits_gan):
    """The AC-GAN head (on by default with --conditional): after 2 epochs D names the class of more
    than 40% of the real test digits (72% in one run; chance: 10%)."""
    _, out = digits_gan
    back = aegan.load(out)
    assert back.gan.cfg.aux_weight == 1.0 and back.gan.cfg.class_norm  # both on by default here
    assert any(isinstance(m, ClassBatchNorm) for m in back.gan.generator.modules())
    test = load_dataset(DataConfig(data="digits"), "test")
    with torch.no_grad():
        _, logits = back.gan.discriminator.eval()(back.to_model(test), torch.as_tensor(test.y).long(), classes=True)
    assert (logits.argmax(1).numpy() == test.y).mean() > 0.4


def test_runs_saved_before_the_auxiliary_head_have_none(digits_gan):
    """A config.json without aux_weight and class_norm is a run from before the options: no head and
    plain batch norms, not the new defaults."""
    import json
    from aegan.models.gan import Generator
    _, out = digits_gan
    d = json.loads((out / "config.json").read_text())
    del d["model"]["aux_weight"], d["model"]["class_norm"]
    old = RunConfig.from_dict(d, model_cls=GANConfig).model
    assert old.aux_weight == 0.0 and old.class_norm is False
    assert Discriminator(old, (1, 8, 8), 10, False).classes is None
    assert not any(isinstance(m, ClassBatchNorm) for m in Generator(old, (1, 8, 8), 10, "tanh").modules())


def test_sample_and_interpolate_cli(cli, digits_gan, tmp_path):
    _, out = digits_gan
    r = cli("sample", out, "-n", "20", "--out", tmp_path / "s.npy", "--seed", "1")
    assert r.code == 0, r.err
    assert np.load(tmp_path / "s.npy").shape == (20, 1, 8, 8)
    assert cli("sample", out, "--out", tmp_path / "g.png", "--class", "3").code == 0
    assert cli("interpolate", out, "--steps", "6", "--out", tmp_path / "i.png").code == 0
    r = cli("interpolate", out, "--steps", "5", "--rows", "2", "--out", tmp_path / "i.npy")
    assert r.code == 0 and np.load(tmp_path / "i.npy").shape == (10, 1, 8, 8)
    assert cli("info", out).code == 0


def test_train_gan_cli_classic_preset(cli, tmp_path):
    r = cli("train", "gan", "--preset", "classic", "--data", "grid", "--epochs", "1", "--max-samples", "2000",
            "--out", tmp_path / "g", "--quiet")
    assert r.code == 0, r.err
    run = aegan.load(tmp_path / "g")
    lin = [m for m in run.gan.generator.modules() if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in lin] == [(2, 128), (128, 2)]
    lin = [m for m in run.gan.discriminator.modules() if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in lin] == [(2, 128), (128, 1)]


def _one_line(r, code, words):
    assert r.code == code and len(r.err.strip().splitlines()) == 1 and words in r.err, (r.code, r.err)


def test_gan_bad_input(cli, digits_gan, digits_run, tmp_path):
    _, out = digits_gan
    _one_line(cli("train", "gan", "--data", "ring", "--loss", "nope", "--out", tmp_path / "o"), 2, "invalid choice")
    _one_line(cli("train", "gan", "--data", "ring", "--arch", "dcgan", "--out", tmp_path / "o"), 2, "needs image data")
    np.save(tmp_path / "x.npy", np.zeros((20, 4), np.float32))
    _one_line(cli("train", "gan", "--data", tmp_path / "x.npy", "--conditional", "--out", tmp_path / "o"), 2,
              "--conditional needs labelled data")
    _one_line(cli("train", "gan", "--data", "ring", "--pack", "3", "--out", tmp_path / "o"), 2,
              "--pack 3 does not divide --batch-size 64")
    _one_line(cli("train", "gan", "--data", "digits", "--aux-weight", "1", "--out", tmp_path / "o"), 2,
              "--aux-weight 1.0 needs --conditional")
    _one_line(cli("train", "gan", "--data", "digits", "--class-norm", "on", "--out", tmp_path / "o"), 2,
              "--class-norm on needs --conditional")
    assert not (tmp_path / "o").exists()
    _one_line(cli("sample", out, "-n", "0", "--out", tmp_path / "s.npy"), 2, "-n 0")
    _one_line(cli("sample", out, "--class", "10", "--out", tmp_path / "s.npy"), 2, "--class 10 is outside")
    _one_line(cli("sample", digits_run, "--out", tmp_path / "s.npy"), 2, "needs a gan run")
    assert not (tmp_path / "s.npy").exists()


def test_class_on_unconditional_gan(cli, tmp_path):
    fit_gan(load_dataset("grid"), RunConfig(task="gan", model=GANConfig(hidden=(32,)),
            train=TrainConfig(epochs=1, max_samples=500)), tmp_path / "g", progress=False)
    _one_line(cli("sample", tmp_path / "g", "--class", "1", "--out", tmp_path / "s.npy"), 2, "not conditional")


@pytest.mark.parametrize("loss", ["minimax", "wgan", "wgan-gp", "hinge", "lsgan"])
def test_every_loss_trains_and_samples(loss):
    run = fit_gan(load_dataset("digits"), RunConfig(task="gan", model=GANConfig(loss=loss, conv_channels=(8, 16),
                  z_dim=8, pack=2), train=TrainConfig(epochs=1, batch_size=64)), progress=False)
    x = run.sample(4)
    assert x.shape == (4, 1, 8, 8) and np.isfinite(x).all()
    assert all(np.isfinite(v) for v in run.history[-1].values() if isinstance(v, float))
