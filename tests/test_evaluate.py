"""`aegan train classifier` and `aegan evaluate`: the feature network, sample metrics with their
real-vs-real floor, autoencoder and VAE metrics, toy runs, foreign sample files."""

import json

import numpy as np
import pytest

from aegan.data import load_dataset
from aegan.evaluation import dataset_unit_images

from test_cli import _one_line_error

SAMPLE_KEYS = ("fcd", "kid", "precision", "recall", "density", "coverage")


@pytest.fixture(scope="module")
def features(tmp_path_factory):
    from aegan.cli import main
    out = tmp_path_factory.mktemp("clf") / "digits-classifier"
    assert main(["train", "classifier", "--data", "digits", "--epochs", "4", "--out", str(out), "--quiet"]) == 0
    return out


def test_classifier_learns_digits(features):
    import aegan
    run = aegan.load(features)
    test = load_dataset("digits", "test")
    assert run.accuracy(test, test.y) > 0.85
    assert run.features(test).shape == (len(test), 128)


def test_gan_sample_metrics_sit_above_their_floor(cli, features, tmp_path):
    gan = tmp_path / "gan"
    assert cli("train", "gan", "--data", "digits", "--epochs", "1", "--arch", "mlp", "--hidden", "32",
               "--out", gan, "--quiet").code == 0
    r = cli("evaluate", gan, "--features", features, "--n", "300", "--json")
    assert r.code == 0, r.err
    out = json.loads(r.out)
    for k in SAMPLE_KEYS:
        assert set(out[k]) >= {"value", "real_vs_real"}, k
    # a one-epoch MLP GAN is far from real digits; real training images are close to test images
    assert out["fcd"]["value"] > 2 * out["fcd"]["real_vs_real"]
    assert out["precision"]["real_vs_real"] > 0.7 and out["coverage"]["real_vs_real"] > 0.7
    assert out["kid"]["std"] > 0 and "class_kl" in out
    assert json.loads((gan / "evaluation.json").read_text()) == out
    table = cli("evaluate", gan, "--features", features, "--n", "300").out
    assert "fcd" in table and "real vs real" in table


def test_foreign_samples_on_the_same_ruler(cli, features, tmp_path):
    real = dataset_unit_images(load_dataset("digits", "test")).numpy()
    np.save(tmp_path / "real.npy", real[:, 0])  # (N, H, W) pixels in [0, 1]
    r = cli("evaluate", "--samples", tmp_path / "real.npy", "--data", "digits", "--features", features, "--json")
    assert r.code == 0, r.err
    out = json.loads(r.out)
    assert out["precision"]["value"] > 0.9 and out["recall"]["value"] > 0.9  # the test set against itself
    np.save(tmp_path / "bad.npy", real * 255.0)
    _one_line_error(cli("evaluate", "--samples", tmp_path / "bad.npy", "--data", "digits", "--features", features),
                    1, "expected pixels in [0, 1]")
    _one_line_error(cli("evaluate", "--samples", tmp_path / "real.npy"), 2, "--data")
    _one_line_error(cli("evaluate", "--samples", tmp_path / "real.npy", "--data", "digits"), 2,
                    "aegan train classifier")


def test_autoencoder_and_vae_metrics(cli, digits_run, tmp_path):
    r = cli("evaluate", digits_run, "--json")
    assert r.code == 0, r.err
    out = json.loads(r.out)
    mse = out["mse"]["value"]
    assert 0 < mse < 0.25 and out["psnr"]["value"] == pytest.approx(-10 * np.log10(mse))
    probe = out["linear_probe"]
    assert set(probe) == {"value", "raw", "pca_8"} and probe["value"] > 0.5 and probe["raw"] > 0.8
    vae = tmp_path / "vae"
    assert cli("train", "vae", "--data", "digits", "--epochs", "2", "--hidden", "64", "--code-dim", "4",
               "--out", vae, "--quiet").code == 0
    out = json.loads(cli("evaluate", vae, "--json", "--n", "200").out)
    assert out["iwae_100"]["value"] >= out["elbo"]["value"] - 1.0  # the bound is at least as tight, up to noise


def test_toy_runs_report_modes(cli, tmp_path):
    assert cli("train", "gan", "--data", "ring", "--epochs", "1", "--max-samples", "2000", "--out", tmp_path / "g",
               "--quiet").code == 0
    out = json.loads(cli("evaluate", tmp_path / "g", "--json").out)
    assert out["modes"]["of"] == 8 and 0 <= out["high_quality"]["value"] <= 1


def test_evaluate_and_classifier_errors(cli, features, tmp_path):
    _one_line_error(cli("evaluate", features), 2, "autoencoder and GAN runs")
    _one_line_error(cli("evaluate"), 2, "RUN")
    np.save(tmp_path / "t.npy", np.random.default_rng(0).normal(size=(50, 3)).astype(np.float32))
    _one_line_error(cli("train", "classifier", "--data", tmp_path / "t.npy", "--out", tmp_path / "c"), 1,
                    "labelled images")


def test_the_shipped_fashion_mnist_feature_network():
    import json as _json
    from aegan.runs.classifier import SHIPPED, shipped
    try:
        test = load_dataset("fashion-mnist", "test")
    except Exception as e:  # noqa: BLE001
        pytest.skip(f"Fashion-MNIST is not installed ({e})")
    run = shipped("fashion-mnist")
    info = _json.loads((SHIPPED / "fashion-mnist" / "info.json").read_text())
    acc = run.accuracy(test, test.y)
    assert acc >= 0.92 and acc == pytest.approx(info["test_accuracy"], abs=1e-4)
    assert shipped("digits") is None
