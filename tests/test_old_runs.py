"""Run folders written by aegan 0.1.0 before the runs/ registry (tests/fixtures/runs-0.1.0, made by
its made_with.py) still load and compute what they computed then.

Tolerance: float32 forward passes of a few small layers; another CPU may sum in another order,
which moves a result by a few float32 ulps per layer (about 1e-6 relative), far below 1e-4."""

from pathlib import Path

import numpy as np
import pytest

import aegan
from aegan.anomaly import Scoring

OLD = Path(__file__).parent / "fixtures" / "runs-0.1.0"
EXPECTED = np.load(OLD / "expected.npz")


def close(a, b):
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_an_old_autoencoder_encodes_decodes_and_scores_the_same():
    run, x = aegan.load(OLD / "ae"), EXPECTED["x"]
    close(run.encode(x), EXPECTED["ae_codes"])
    close(run.decode(EXPECTED["ae_codes"]), EXPECTED["ae_decoded"])
    close(run.score(x), EXPECTED["ae_scores"])


def test_an_old_vae_encodes_and_reconstructs_the_same():
    run = aegan.load(OLD / "vae")
    close(run.encode(EXPECTED["x"]), EXPECTED["vae_codes"])
    close(run.reconstruct(EXPECTED["x"]), EXPECTED["vae_recon"])


def test_an_old_gan_samples_the_same():
    close(aegan.load(OLD / "gan").sample(5, seed=3), EXPECTED["gan_samples"])


def test_an_old_classifier_gives_the_same_features():
    run = aegan.load(OLD / "classifier")
    close(run.features(EXPECTED["x"]), EXPECTED["classifier_features"])
    assert (run.predict(EXPECTED["x"]) == EXPECTED["classifier_predictions"]).all()


def test_an_old_detector_scores_the_same():
    close(Scoring.load(OLD / "detector").scores(EXPECTED["x"]), EXPECTED["detector_scores"])


@pytest.mark.parametrize("name", ["ae", "vae", "gan", "classifier", "detector"])
def test_info_reads_every_old_run(cli, name):
    r = cli("info", OLD / name)
    assert r.code == 0, r.err
    assert "parameters:" in r.out
