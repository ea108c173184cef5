import numpy as np
import pytest
import torch

import aegan
from aegan.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from aegan.data import load_dataset
from aegan.errors import RunError, UsageError
from aegan.models import MODELS, build_model
from aegan.train import evaluate

FAMILIES = list(MODELS)


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits", "train"), load_dataset("digits", "test")


def _cfg(family, arch, epochs=8, **model):
    model.setdefault("code_dim", 8)
    if family == "vae":
        model.setdefault("likelihood", "bernoulli")
    return RunConfig(data=DataConfig("digits"), model=ModelConfig(family=family, arch=arch, **model),
                     train=TrainConfig(epochs=epochs, batch_size=64, val_split=0.0, seed=1))


@pytest.mark.parametrize("arch", ["mlp", "conv"])
@pytest.mark.parametrize("family", FAMILIES)
def test_loss_falls_by_half(digits, family, arch):
    tr, te = digits
    cfg = _cfg(family, arch, epochs=1)
    torch.manual_seed(1)
    from aegan.data import Normalizer
    norm = Normalizer.fit(tr.x, "image")
    fresh = build_model(cfg.model, "image", tr.shape, norm.model_range)
    before = evaluate(fresh, norm.transform(te.x))
    run = aegan.fit(tr, _cfg(family, arch), progress=False)
    after = run.evaluate(te)
    if family == "vae":
        # In nats the Bernoulli loss has an entropy floor (digits are grey, not binary), so the
        # VAE must halve its reconstruction error and lower its bound by a third.
        assert after["mse"] <= 0.5 * before["mse"] and after["loss"] <= 0.67 * before["loss"], (before, after)
    else:
        assert after["loss"] <= 0.5 * before["loss"], (family, arch, before, after)


def test_vae_gaussian_likelihood_mse_falls(digits):
    tr, te = digits
    run = aegan.fit(tr, _cfg("vae", "mlp", likelihood="gaussian"), progress=False)
    hist = run.evaluate(te)
    assert hist["mse"] < 0.05 and np.isfinite(hist["loss"])


def test_save_load_identical_outputs(digits, tmp_path):
    tr, te = digits
    for family in FAMILIES:
        run = aegan.fit(tr, _cfg(family, "conv", epochs=1), tmp_path / family, progress=False)
        back = aegan.load(tmp_path / family)
        np.testing.assert_array_equal(run.encode(te), back.encode(te))
        np.testing.assert_array_equal(run.reconstruct(te), back.reconstruct(te))
        np.testing.assert_array_equal(run.score(te), back.score(te))
        codes = run.encode(te)
        np.testing.assert_array_equal(run.decode(codes), back.decode(codes))


def test_same_seed_same_run(digits):
    tr, te = digits
    a = aegan.fit(tr, _cfg("dae", "mlp", epochs=2), progress=False)
    b = aegan.fit(tr, _cfg("dae", "mlp", epochs=2), progress=False)
    np.testing.assert_array_equal(a.encode(te), b.encode(te))


def test_iwae_bound_is_finite_and_tighter_than_elbo(digits):
    tr, te = digits
    run = aegan.fit(tr, _cfg("vae", "mlp", epochs=10), progress=False)
    torch.manual_seed(0)
    elbo = run.elbo(te, samples=20)
    iwae = run.iwae(te, k=200)
    assert iwae.shape == elbo.shape == (len(te),)
    assert np.isfinite(iwae).all() and np.isfinite(elbo).all()
    # The NLL estimate -IWAE is at most -ELBO (averaged over the test set; each is an estimate).
    assert -iwae.mean() <= -elbo.mean()
    assert (iwae >= elbo - 1e-3).mean() > 0.9
    k1 = run.iwae(te, k=1)  # k = 1 is a one-sample ELBO
    assert abs(k1.mean() - elbo.mean()) < 0.05 * abs(elbo.mean()) + 1.0
    with pytest.raises(UsageError, match="needs a vae run"):
        aegan.fit(tr, _cfg("ae", "mlp", epochs=1), progress=False).iwae(te)


def test_classic_preset_is_the_articles_network():
    from aegan.config import apply_preset
    model, train = apply_preset("classic", ModelConfig(code_dim=32), TrainConfig())
    net = build_model(model, "image", (1, 28, 28), (0.0, 1.0))
    linears = [m for m in net.modules() if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(784, 128), (128, 32), (32, 128), (128, 784)]
    assert isinstance(net.out_act, torch.nn.Identity)
    relus = [m for m in net.modules() if isinstance(m, torch.nn.ReLU)]
    assert len(relus) == 2 and train.lr == 1e-3


@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 32, 32), (1, 8, 8), (3, 17, 23), (1, 64, 64)])
def test_conv_body_fits_any_image_size(shape):
    net = build_model(ModelConfig(arch="conv", code_dim=4), "image", shape, (0.0, 1.0))
    x = torch.rand(2, *shape)
    assert net.encode(x).shape == (2, 4) and net.reconstruct(x).shape == x.shape


def test_build_errors():
    with pytest.raises(UsageError, match="--code-dim 100 is larger than the input \\(64"):
        build_model(ModelConfig(code_dim=100), "image", (1, 8, 8), (0.0, 1.0))
    with pytest.raises(UsageError, match="--arch conv needs image data"):
        build_model(ModelConfig(arch="conv", code_dim=4), "table", (10,), None)
    with pytest.raises(UsageError, match="bernoulli needs data in \\[0, 1\\]"):
        build_model(ModelConfig(family="vae", likelihood="bernoulli", code_dim=2), "table", (10,), None)


def test_run_rejects_data_of_the_wrong_shape(digits, tmp_path):
    tr, _ = digits
    run = aegan.fit(tr, _cfg("ae", "mlp", epochs=1), progress=False)
    with pytest.raises(aegan.DataError, match=r"shape \(1, 9, 9\).*shape \(1, 8, 8\)"):
        run.encode(np.zeros((3, 1, 9, 9), np.float32))


def test_damaged_run_folders(digits, tmp_path):
    tr, _ = digits
    aegan.fit(tr, _cfg("ae", "mlp", epochs=1), tmp_path / "r", progress=False)
    weights = (tmp_path / "r" / "model.safetensors").read_bytes()
    (tmp_path / "r" / "model.safetensors").write_bytes(weights[: len(weights) // 2])
    with pytest.raises(RunError, match="damaged"):
        aegan.load(tmp_path / "r")
    (tmp_path / "r" / "model.safetensors").unlink()
    with pytest.raises(RunError, match="model.safetensors is missing"):
        aegan.load(tmp_path / "r")
    cfg = (tmp_path / "r" / "config.json").read_text()
    (tmp_path / "r" / "config.json").write_text(cfg[:40])
    with pytest.raises(RunError, match="not valid JSON"):
        aegan.load(tmp_path / "r")
    with pytest.raises(RunError, match="no run folder"):
        aegan.load(tmp_path / "missing")


def test_config_with_other_sizes_is_refused_before_weights_load(digits, tmp_path):
    import json
    tr, _ = digits
    aegan.fit(tr, _cfg("ae", "mlp", epochs=1), tmp_path / "r", progress=False)
    path = tmp_path / "r" / "config.json"
    cfg = json.loads(path.read_text())
    cfg["model"]["code_dim"] = 5
    path.write_text(json.dumps(cfg))
    with pytest.raises(RunError, match="different runs"):
        aegan.load(tmp_path / "r")
    cfg["format_version"] = 99
    path.write_text(json.dumps(cfg))
    with pytest.raises(RunError, match="newer than this aegan"):
        aegan.load(tmp_path / "r")


def test_state_file_loads_with_weights_only(digits, tmp_path):
    from aegan.checkpoint import load_state
    tr, _ = digits
    aegan.fit(tr, _cfg("ae", "mlp", epochs=1), tmp_path / "r", progress=False)
    state = load_state(tmp_path / "r" / "state.pt")
    assert "state" in state["optimizer"]


def test_early_stopping_restores_best(digits):
    tr, _ = digits
    cfg = _cfg("ae", "mlp", epochs=50)
    cfg.train.val_split, cfg.train.patience, cfg.train.lr = 0.2, 2, 0.05  # noisy: stops early
    run = aegan.fit(tr, cfg, progress=False)
    val = [r["val_loss"] for r in run.history]
    assert len(val) < 50 and len(val) - 1 - val.index(min(val)) == 2  # stopped 2 epochs after the best
    from aegan.train import evaluate
    x = run.normalizer.transform(tr.x)
    perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(cfg.train.seed))
    x_val = x[perm[: int(round(len(x) * 0.2))]]
    assert evaluate(run.model, x_val)["loss"] == pytest.approx(min(val), rel=1e-5)  # best weights restored


@pytest.mark.skipif(__import__("conftest").FASHION is None, reason="Fashion-MNIST not installed "
                    "(apt-get install dataset-fashion-mnist, run as root by make test)")
def test_conv_autoencoder_beats_mean_image_on_fashion_mnist():
    tr, te = load_dataset("fashion-mnist", "train"), load_dataset("fashion-mnist", "test")
    te = te.subset(np.arange(1000))
    cfg = RunConfig(data=DataConfig("fashion-mnist"), model=ModelConfig(arch="conv", code_dim=16),
                    train=TrainConfig(epochs=8, max_samples=5000, val_split=0.0))
    run = aegan.fit(tr, cfg, progress=False)
    x = te.x.reshape(len(te), -1) / 255.0
    mse = float(((run.reconstruct(te).reshape(len(te), -1) - x) ** 2).mean())
    baseline = float(((x - tr.x[:4000].reshape(4000, -1).mean(0) / 255.0) ** 2).mean())
    assert mse < 0.35 * baseline, (mse, baseline)  # PCA-16 fitted on 4000 images: 0.24 x
