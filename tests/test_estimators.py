import numpy as np
import pytest
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

import aegan
from aegan import AutoencoderTransformer
from aegan.data import load_dataset


@pytest.fixture(scope="module")
def digits_flat():
    tr, te = load_dataset("digits", "train"), load_dataset("digits", "test")
    return tr.x.reshape(len(tr), -1), tr.y, te.x.reshape(len(te), -1), te.y


def test_init_stores_parameters_untouched_and_clone_works():
    hidden = [64, 32]
    est = AutoencoderTransformer(code_dim=5, hidden=hidden, epochs=3, random_state=7)
    assert est.hidden is hidden and est.get_params()["code_dim"] == 5
    twin = clone(est)
    assert twin.get_params() == est.get_params() and twin is not est
    assert not hasattr(twin, "run_")


def test_fit_transform_inverse_score(digits_flat):
    xtr, _, xte, _ = digits_flat
    est = AutoencoderTransformer(code_dim=6, hidden=(64,), epochs=10, random_state=0)
    assert est.fit(xtr) is est
    z = est.transform(xte)
    assert z.shape == (len(xte), 6) and est.n_features_in_ == 64
    back = est.inverse_transform(z)
    assert back.shape == xte.shape
    mse = ((back - xte) ** 2).mean()
    assert mse < ((xte - xtr.mean(0)) ** 2).mean() * 0.5  # much better than predicting the mean
    scores = est.score_samples(xte)
    assert scores.shape == (len(xte),) and np.all(scores >= 0)
    noise = np.random.default_rng(0).normal(xte.mean(), 3 * xte.std(), xte.shape).astype(np.float32)
    assert est.score_samples(noise).mean() > 3 * scores.mean()  # higher = more anomalous


def test_same_random_state_same_codes(digits_flat):
    xtr, _, xte, _ = digits_flat
    a = AutoencoderTransformer(code_dim=4, hidden=(32,), epochs=2, random_state=3).fit(xtr)
    b = AutoencoderTransformer(code_dim=4, hidden=(32,), epochs=2, random_state=3).fit(xtr)
    np.testing.assert_array_equal(a.transform(xte), b.transform(xte))


def test_in_a_pipeline(digits_flat):
    xtr, ytr, xte, yte = digits_flat
    pipe = make_pipeline(AutoencoderTransformer(code_dim=16, hidden=(128,), epochs=15, random_state=0),
                         LogisticRegression(max_iter=2000))
    pipe.fit(xtr, ytr)
    assert pipe.score(xte, yte) > 0.8  # codes keep the class information (chance: 0.1)


def test_image_input_and_save_load(tmp_path):
    tr = load_dataset("digits", "train")
    est = AutoencoderTransformer(arch="conv", code_dim=4, epochs=1, random_state=0).fit(tr.x[:200])
    est.save(tmp_path / "run")
    run = aegan.load(tmp_path / "run")
    np.testing.assert_array_equal(run.encode(tr.x[:10]), est.transform(tr.x[:10]))
    with pytest.raises(aegan.UsageError, match="already holds files"):
        est.save(tmp_path / "run")


def test_unfitted_raises():
    from sklearn.exceptions import NotFittedError
    with pytest.raises(NotFittedError):
        AutoencoderTransformer().transform(np.zeros((2, 3)))


def test_gan_estimator_fit_sample_clone(tmp_path):
    from aegan.data import load_dataset
    ring = load_dataset("ring", "test")  # 2,500 points
    est = aegan.GAN(epochs=2, batch_size=128, random_state=0)
    assert clone(est).get_params() == est.get_params()
    assert est.fit(ring.x) is est
    s = est.sample(50, seed=1)
    assert s.shape == (50, 2) and np.isfinite(s).all()
    np.testing.assert_array_equal(s, est.sample(50, seed=1))
    assert abs(float(s.std()) - float(ring.x.std())) < 0.5  # back in the data's units, not standardised
    est.save(tmp_path / "g")
    np.testing.assert_array_equal(aegan.load(tmp_path / "g").sample(50, seed=1), s)
    digits = load_dataset("digits")
    cond = aegan.GAN(conditional=True, conv_channels=(8, 16), epochs=1, random_state=0).fit(digits.x, digits.y)
    assert cond.sample(5, label=7).shape == (5, 1, 8, 8)
