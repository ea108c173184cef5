"""Anomaly detection: the detector's conventions, its scores, saving, the CLI and bad input."""

import csv
import json

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.metrics import roc_auc_score

from aegan import AnomalyDetector
from aegan.errors import DataError, UsageError
from test_cli import _one_line_error


def _blobs(seed=0, n=600, d=8, shift=2.0):
    rng = np.random.default_rng(seed)
    normal = rng.normal(size=(n, d)).astype(np.float32)
    test = np.vstack([rng.normal(size=(300, d)), rng.normal(shift, 1.0, size=(300, d))]).astype(np.float32)
    return normal, test, np.r_[np.zeros(300), np.ones(300)]


@pytest.mark.parametrize("score", ["recon", "feature-knn", "recon+code-knn"])
def test_a_blob_against_a_shifted_blob(score):
    normal, test, truth = _blobs()
    det = AnomalyDetector(score=score, epochs=30, random_state=0).fit(normal)
    assert roc_auc_score(truth, det.decision_function(test)) > 0.95
    assert np.array_equal(det.score_samples(test), det.decision_function(test))  # deterministic, one convention


@pytest.mark.parametrize("contamination", [0.01, 0.1, 0.5])
def test_threshold_from_contamination_marks_that_fraction_of_the_training_data(contamination):
    normal, test, _ = _blobs(n=400)
    det = AnomalyDetector(contamination=contamination, epochs=5, random_state=0).fit(normal)
    assert abs(det.labels_.mean() - contamination) <= 1 / len(normal)
    assert np.array_equal(det.labels_, (det.decision_scores_ > det.threshold_).astype(int))
    if contamination == 0.1:  # the reconstruction score of the training data again gives the same labels
        rec = AnomalyDetector(score="recon", contamination=contamination, epochs=5, random_state=0).fit(normal)
        assert np.array_equal(rec.predict(normal), rec.labels_)
    proba = det.predict_proba(test)
    assert proba.shape == (len(test), 2) and np.allclose(proba.sum(1), 1) and (proba >= 0).all()
    unify = det.predict_proba(test, method="unify")
    assert np.all(np.diff(unify[np.argsort(det.decision_function(test)), 1]) >= -1e-12)  # monotone in the score


def test_given_threshold_and_sklearn_conventions():
    normal, test, _ = _blobs(n=300)
    det = AnomalyDetector(threshold=1e9, epochs=3, random_state=0)
    assert det.get_params()["threshold"] == 1e9 and det.get_params()["family"] is None  # stored untouched
    det.fit(normal)
    assert det.threshold_ == 1e9 and det.predict(test).sum() == 0
    twin = clone(det)
    assert twin.get_params() == det.get_params() and not hasattr(twin, "threshold_")


def test_save_load_keeps_scores_and_threshold(tmp_path):
    normal, test, _ = _blobs(n=300)
    det = AnomalyDetector(score="recon+feature-knn", epochs=5, random_state=0).fit(normal)
    det.save(tmp_path / "det")
    back = AnomalyDetector.load(tmp_path / "det")
    assert back.threshold_ == det.threshold_ and back.score == det.score
    assert back.get_params()["family"] == "ae" and back.get_params()["epochs"] == 5  # as fitted
    assert np.array_equal(back.decision_function(test), det.decision_function(test))
    assert np.array_equal(back.decision_scores_, det.decision_scores_)


def test_vae_bounds_as_scores_are_repeatable():
    normal, test, truth = _blobs(n=400)
    det = AnomalyDetector(family="vae", score="elbo", epochs=20, random_state=0).fit(normal)
    first = det.decision_function(test)
    assert np.array_equal(first, det.decision_function(test))  # fixed-seed Monte Carlo
    assert roc_auc_score(truth, first) > 0.9
    with pytest.raises(UsageError, match="needs a vae"):
        AnomalyDetector(score="iwae", epochs=1).fit(normal)


def test_bad_input_in_the_api():
    normal, _, _ = _blobs(n=300)
    with pytest.raises(UsageError, match=r"contamination 0.7 must be in \(0, 0.5\]"):
        AnomalyDetector(contamination=0.7).fit(normal)
    with pytest.raises(UsageError, match="expected one of"):
        AnomalyDetector(score="recon+nope").fit(normal)
    with pytest.raises(DataError, match="fewer than one batch"):
        AnomalyDetector(batch_size=128).fit(normal[:50])
    det = AnomalyDetector(epochs=2, random_state=0).fit(normal)
    with pytest.raises(DataError, match="does not fit this run"):
        det.decision_function(np.zeros((3, 5), np.float32))
    bad = normal[:4].copy()
    bad[1, 2] = np.nan
    with pytest.raises(DataError, match="NaN"):
        det.predict(bad)


def test_cli_fit_and_score_a_table(cli, tmp_path):
    normal, test, truth = _blobs()
    np.save(tmp_path / "normal.npy", normal)
    np.save(tmp_path / "new.npy", test)
    run = tmp_path / "det"
    r = cli("anomaly", "fit", "--data", tmp_path / "normal.npy", "--split", "all", "--epochs", "30",
            "--contamination", "0.1", "--out", run, "--quiet")
    assert r.code == 0, r.err
    assert "threshold" in r.out and (run / "anomaly.json").is_file()
    r = cli("anomaly", "score", run, "--data", tmp_path / "new.npy", "--split", "all", "--out", tmp_path / "s.csv")
    assert r.code == 0, r.err
    rows = list(csv.DictReader(open(tmp_path / "s.csv")))
    assert [int(row["index"]) for row in rows] == list(range(len(test)))
    scores = np.array([float(row["score"]) for row in rows])
    assert roc_auc_score(truth, scores) > 0.95
    thr = json.loads((run / "anomaly.json").read_text())["threshold"]
    assert [int(row["flagged"]) for row in rows] == [int(s > thr) for s in scores]
    assert np.allclose(scores, AnomalyDetector.load(run).decision_function(test))
    # no silent overwrite
    _one_line_error(cli("anomaly", "score", run, "--data", tmp_path / "new.npy", "--out", tmp_path / "s.csv"),
                    2, "already exists")


def test_cli_scores_an_image_folder_by_file_name(cli, tmp_path):
    from PIL import Image
    rng = np.random.default_rng(0)
    folder = tmp_path / "imgs"
    folder.mkdir()
    for i in range(40):
        Image.fromarray(rng.integers(0, 60, (12, 12), dtype=np.uint8)).save(folder / f"ok{i:02d}.png")
    np.save(tmp_path / "dark.npy", rng.integers(0, 60, (200, 12, 12), dtype=np.uint8))
    run = tmp_path / "det"
    r = cli("anomaly", "fit", "--data", tmp_path / "dark.npy", "--split", "all", "--epochs", "2", "--batch-size",
            "32", "--out", run, "--quiet")
    assert r.code == 0, r.err
    r = cli("anomaly", "score", run, "--data", folder, "--split", "all", "--out", tmp_path / "s.csv")
    assert r.code == 0, r.err
    rows = list(csv.DictReader(open(tmp_path / "s.csv")))
    assert sorted(row["name"] for row in rows) == [f"ok{i:02d}.png" for i in range(40)]


def test_cli_bad_input(cli, tmp_path, digits_run):
    normal, _, _ = _blobs(n=300)
    np.save(tmp_path / "normal.npy", normal)
    np.save(tmp_path / "small.npy", normal[:20])
    bad = normal.copy()
    bad[3, 1] = np.inf
    np.save(tmp_path / "bad.npy", bad)
    np.save(tmp_path / "wide.npy", np.zeros((10, 5), np.float32))
    _one_line_error(cli("anomaly", "fit", "--data", tmp_path / "normal.npy", "--contamination", "0.6",
                        "--out", tmp_path / "a"), 2, "contamination 0.6")
    _one_line_error(cli("anomaly", "fit", "--data", tmp_path / "normal.npy", "--contamination", "0",
                        "--out", tmp_path / "a"), 2, "contamination 0.0")
    _one_line_error(cli("anomaly", "fit", "--data", tmp_path / "small.npy", "--split", "all", "--out", tmp_path / "a"),
                    1, "fewer than one batch", "--batch-size")
    assert not (tmp_path / "a").exists()  # nothing left behind
    _one_line_error(cli("anomaly", "fit", "--data", tmp_path / "bad.npy", "--out", tmp_path / "b"), 1, "inf")
    run = tmp_path / "det"
    assert cli("anomaly", "fit", "--data", tmp_path / "normal.npy", "--epochs", "2", "--out", run, "--quiet").code == 0
    _one_line_error(cli("anomaly", "score", run, "--data", tmp_path / "wide.npy", "--split", "all",
                        "--out", tmp_path / "s.csv"), 1, "shape (5,)", "trained on table data of shape (8,)")
    _one_line_error(cli("anomaly", "score", run, "--data", tmp_path / "bad.npy", "--split", "all",
                        "--out", tmp_path / "s.csv"), 1, "inf")
    _one_line_error(cli("anomaly", "score", digits_run, "--data", "digits", "--out", tmp_path / "s.csv"),
                    1, "not an anomaly detector", "aegan anomaly fit")
    assert not (tmp_path / "s.csv").exists()


def test_cli_bench_on_two_classes(cli):
    r = cli("anomaly", "bench", "--data", "digits", "--classes", "0,1", "--seeds", "1", "--epochs", "1",
            "--batch-size", "32", "--json")
    assert r.code == 0, r.err
    out = json.loads(r.out)
    assert set(out["detector"]) == {"0", "1"} and len(out["detector"]["0"]) == 1
    assert set(out["peers"]) == {"pca-32", "knn-pixels", "isolation-forest", "ocsvm"}
    for name, per_class in out["peers"].items():
        assert all(50 < v <= 100 for v in per_class.values()), (name, per_class)  # digits are easy
    assert 0 <= out["mean"]["detector"] <= 100
    table = cli("anomaly", "bench", "--data", "digits", "--classes", "0,1", "--seeds", "1", "--epochs", "1",
                "--batch-size", "32", "--no-peers", "--quiet").out
    assert "mean" in table and "AUROC" in table
    _one_line_error(cli("anomaly", "bench", "--data", "digits", "--classes", "0,12"), 2, "classes 0 to 9")


def test_cli_threshold_and_combined_scores(cli, tmp_path):
    normal, test, truth = _blobs(n=300)
    np.save(tmp_path / "normal.npy", normal)
    np.save(tmp_path / "new.npy", test)
    run = tmp_path / "det"
    r = cli("anomaly", "fit", "--data", tmp_path / "normal.npy", "--split", "all", "--epochs", "20", "--score",
            "recon+code-knn", "--threshold", "0.5", "--out", run, "--quiet")
    assert r.code == 0, r.err
    saved = json.loads((run / "anomaly.json").read_text())
    assert saved["score"] == "recon+code-knn" and saved["threshold"] == 0.5 and saved["threshold_from"] == "given"
    assert set(saved["calibration"]) == {"recon", "code-knn"} and (run / "anomaly_code-knn.npy").is_file()
    assert cli("anomaly", "score", run, "--data", tmp_path / "new.npy", "--split", "all",
               "--out", tmp_path / "s.csv").code == 0
    rows = list(csv.DictReader(open(tmp_path / "s.csv")))
    scores = np.array([float(row["score"]) for row in rows])
    assert [int(row["flagged"]) for row in rows] == [int(s > 0.5) for s in scores]
    assert roc_auc_score(truth, scores) > 0.95
    _one_line_error(cli("anomaly", "fit", "--data", tmp_path / "normal.npy", "--score", "recon+recon",
                        "--out", tmp_path / "x"), 2, "--score 'recon+recon'")
    _one_line_error(cli("anomaly", "fit", "--data", tmp_path / "normal.npy", "--score", "elbo",
                        "--out", tmp_path / "x"), 2, "needs a vae")
    with pytest.raises(UsageError, match="linear or unify"):
        AnomalyDetector.load(run).predict_proba(test, method="sigmoid")
