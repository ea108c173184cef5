"""The image GAN's parts: the kernel-4 DCGAN body at any image size, its weight init, the R1 penalty,
the EMA generator's batch-norm statistics, runs saved before --kernel, stacked Fashion-MNIST and its
mode count, and the conditional model's class accuracy."""

import json
import math

import numpy as np
import pytest
import torch

import aegan
from aegan import losses
from aegan.config import DataConfig, GANConfig, RunConfig, TrainConfig
from aegan.data import load_dataset
from aegan.metrics import stacked_modes
from aegan.models.gan import GAN, build_gan
from aegan.runs.registry import fit as fit_gan
from conftest import needs_fashion


def _gan(shape, **kw):
    return build_gan(GANConfig(**kw), "image", shape, (-1.0, 1.0), None)


@pytest.mark.parametrize("shape,channels", [((1, 28, 28), (64, 128)), ((1, 28, 28), (16, 32, 64)),
                                            ((3, 8, 8), (8, 16)), ((1, 13, 17), (8, 16)), ((3, 64, 64), (8,) * 4)])
def test_kernel4_body_makes_and_judges_images_of_any_size(shape, channels):
    gan = _gan(shape, conv_channels=channels)
    assert gan.cfg.kernel == 4
    x = gan.generator(torch.randn(5, gan.cfg.z_dim))
    assert x.shape == (5, *shape) and x.abs().max() <= 1
    assert gan.discriminator(x).shape == (5,)
    convs = [m for m in gan.generator.modules() if isinstance(m, torch.nn.ConvTranspose2d)]
    assert [m.kernel_size for m in convs] == [(4, 4)] * len(channels)


def test_too_many_stages_for_the_image_size_is_one_line(cli, tmp_path):
    r = cli("train", "gan", "--data", "digits", "--conv-channels", "8,8,8,8", "--out", tmp_path / "o")
    assert r.code == 2 and len(r.err.strip().splitlines()) == 1 and "below one pixel" in r.err, r.err
    for flag, value in (("--kernel", "5"), ("--r1", "-1")):
        r = cli("train", "gan", "--data", "digits", flag, value, "--out", tmp_path / "o")
        assert r.code == 2 and len(r.err.strip().splitlines()) == 1 and flag in r.err, r.err
    assert not (tmp_path / "o").exists()


def test_dcgan_init_draws_weights_with_std_002():
    torch.manual_seed(0)
    gan = _gan((1, 28, 28), conv_channels=(64, 128), init="dcgan")
    w = [m.weight for m in gan.discriminator.modules() if isinstance(m, torch.nn.Conv2d)][-1]  # 131,072 weights
    # the sample std of n normal draws has relative spread 1/sqrt(2n) = 0.2%: 5% is far outside it
    assert float(w.detach().std()) == pytest.approx(0.02, rel=0.05)
    bn = [m for m in gan.generator.modules() if isinstance(m, torch.nn.BatchNorm2d)][0]
    assert float(bn.weight.detach().mean()) == pytest.approx(1.0, abs=0.01)
    sn = _gan((1, 28, 28), conv_channels=(64, 128), init="dcgan", loss="hinge")  # spectral norm wraps D
    assert sn.cfg.spectral_norm and sn.discriminator(torch.zeros(2, 1, 28, 28)).shape == (2,)


def test_r1_penalty_on_a_known_gradient():
    w = torch.tensor([2.0, -1.0, 2.0])  # the gradient of x -> w.x is w: |w|^2 = 9 everywhere
    x = torch.randn(16, 3).requires_grad_(True)
    assert float(losses.r1_penalty(x @ w, x)) == pytest.approx(9.0, rel=1e-6)
    y = torch.randn(16, 3).requires_grad_(True)
    expected = float((2 * y.detach()).pow(2).sum(1).mean())
    assert float(losses.r1_penalty((y ** 2).sum(1), y)) == pytest.approx(expected, rel=1e-5)


def test_ema_batch_norm_statistics_are_measured_on_its_own_outputs():
    torch.manual_seed(0)
    gan = _gan((1, 28, 28), conv_channels=(16, 32))
    with torch.no_grad():  # an EMA generator whose weights differ from G's
        for p in gan.ema.parameters():
            p.mul_(1.5)
    gan.recalibrate_ema(batches=4, size=64)
    stem = gan.ema.body.stem
    bn = stem[2]
    gen = torch.Generator().manual_seed(0)  # the noise recalibrate_ema draws
    with torch.no_grad():
        pre = torch.cat([stem[:2](gan.noise(64, gen)) for _ in range(4)])
    # float32 means of 256 x 49 values: errors of order 1e-6, far below 1e-4
    torch.testing.assert_close(bn.running_mean, pre.mean((0, 2, 3)), rtol=1e-4, atol=1e-4)
    assert bn.momentum == 0.1  # restored


def test_a_dcgan_run_saved_before_kernel_loads_with_the_old_layout(tmp_path):
    out = tmp_path / "old"
    run = fit_gan(load_dataset("digits"), RunConfig(task="gan", model=GANConfig(conv_channels=(8, 16), z_dim=8,
                  kernel=3), train=TrainConfig(epochs=1, batch_size=64)), out, progress=False)
    before = run.sample(4, seed=1)
    cfg = json.loads((out / "config.json").read_text())
    del cfg["model"]["kernel"], cfg["model"]["init"], cfg["model"]["r1"]  # as aegan 0.1 wrote it
    (out / "config.json").write_text(json.dumps(cfg))
    np.testing.assert_array_equal(aegan.load(out).sample(4, seed=1), before)


def test_stacked_modes_by_hand():
    every = np.array([[a, b, c] for a in range(10) for b in range(10) for c in range(10)])
    s = stacked_modes(every, 10)
    assert s["modes"] == 1000 and s["num_modes"] == 1000 and s["kl"] == pytest.approx(0.0, abs=1e-12)
    s = stacked_modes(np.tile([[1, 2, 3], [4, 5, 6]], (50, 1)), 10)  # two modes, evenly
    assert s["modes"] == 2 and s["kl"] == pytest.approx(math.log(500))


@needs_fashion
def test_stacked_fashion_mnist_labels_are_the_channels_classes():
    ds, base = load_dataset("stacked-fashion-mnist", "test"), load_dataset("fashion-mnist", "test")
    assert ds.x.shape == (10000, 3, 28, 28) and ds.x.dtype == np.uint8 and ds.num_classes == 1000
    assert np.array_equal(ds.x, load_dataset("stacked-fashion-mnist", "test").x)  # a fixed seed
    lookup = {base.x[i, 0].tobytes(): base.y[i] for i in range(len(base))}
    for i in range(0, 10000, 997):  # each channel is a test image, and the label spells its class
        digits = [lookup[ds.x[i, c].tobytes()] for c in range(3)]
        assert ds.y[i] == digits[0] * 100 + digits[1] * 10 + digits[2]


@needs_fashion
def test_stacked_gan_is_evaluated_by_its_modes(cli, tmp_path):
    from aegan.evaluation import evaluate_stacked, feature_network
    out = tmp_path / "st"
    r = cli("train", "gan", "--data", "stacked-fashion-mnist", "--max-samples", "512", "--epochs", "1",
            "--conv-channels", "8,16", "--out", out, "--quiet")
    assert r.code == 0, r.err
    run = aegan.load(out)
    assert "modes captured" in "\n".join(run.next_commands())
    fake = run.normalizer.to_pixels(run.sample_model(3000, seed=0))
    ev = evaluate_stacked(fake, run.data_config, feature_network("fashion-mnist", None))
    # 3,000 real stacks over 1,000 near-even modes cover about 1000 (1 - e^-3) = 950 of them
    assert ev["n"] == 3000 and ev["modes"]["of"] == 1000 and ev["modes"]["real_vs_real"] >= 900
    assert ev["modes"]["value"] < ev["modes"]["real_vs_real"]  # one epoch on 512 stacks covers fewer
    # anyone's samples: real test stacks cover many modes; a one-channel file is refused in one line
    np.save(tmp_path / "real.npy", load_dataset("stacked-fashion-mnist", "test").x[:600])
    r = cli("evaluate", "--samples", tmp_path / "real.npy", "--data", "stacked-fashion-mnist", "--json")
    assert r.code == 0, r.err
    ev = json.loads(r.out)
    assert ev["n"] == 600 and ev["modes"]["value"] > 300  # 600 draws over 1000 modes cover about 450
    np.save(tmp_path / "grey.npy", np.zeros((600, 28, 28), np.uint8))
    r = cli("evaluate", "--samples", tmp_path / "grey.npy", "--data", "stacked-fashion-mnist")
    assert r.code != 0 and len(r.err.strip().splitlines()) == 1 and "(3, 28, 28)" in r.err, r.err


@needs_fashion
def test_conditional_gan_reports_class_accuracy(tmp_path):
    run = fit_gan(load_dataset("fashion-mnist"), RunConfig(task="gan", data=DataConfig(data="fashion-mnist"),
                  model=GANConfig(conv_channels=(8, 16),
                  z_dim=8, conditional=True), train=TrainConfig(epochs=1, max_samples=1000)), tmp_path / "c",
                  progress=False)
    ev = run.evaluation(1000, None, 0)
    acc = ev["class_accuracy"]
    assert len(acc["per_class"]) == 10 and acc["worst"] <= acc["value"] <= 1
    # the floor: the shipped classifier on real test images is right on most of each class
    assert len(acc["real_per_class"]) == 10 and min(acc["real_per_class"]) > 0.5 and 0.5 < acc["real_vs_real"] <= 1
    assert isinstance(run.gan, GAN)


def test_image_defaults_and_table_defaults():
    from aegan.models.gan import resolve
    img = resolve(GANConfig(), "image", (1, 28, 28))
    assert (img.kernel, img.init, img.lr_g, img.lr_d) == (4, "dcgan", 4e-4, 2e-4)
    assert resolve(GANConfig(loss="hinge"), "image", (1, 28, 28)).lr_g == 2e-4  # its paper's
    table = resolve(GANConfig(), "table", (2,))
    assert (table.init, table.lr_g, table.lr_d) == ("torch", 2e-4, 2e-4)
    assert resolve(GANConfig(lr_g=1e-3, init="torch"), "image", (1, 28, 28)).lr_g == 1e-3


def test_r1_trains_and_is_in_the_d_loss():
    cfg = dict(conv_channels=(8, 16), z_dim=8)
    train = TrainConfig(epochs=1, batch_size=64)
    plain = fit_gan(load_dataset("digits"), RunConfig(task="gan", model=GANConfig(**cfg), train=train),
                    progress=False)
    r1 = fit_gan(load_dataset("digits"), RunConfig(task="gan", model=GANConfig(r1=10.0, **cfg), train=train),
                 progress=False)
    assert r1.config.model.r1 == 10.0 and np.isfinite(r1.sample(4)).all()
    # same seed, data and weights at the start: the penalty changes what D learns and logs
    assert r1.history[0]["d_loss"] != plain.history[0]["d_loss"]
    assert all(np.isfinite(v) for v in r1.history[-1].values() if isinstance(v, float))
