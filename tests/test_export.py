"""aegan export --format onnx: every part of every kind of run gives in onnxruntime what it gives in
PyTorch (within 1e-5, float32) on random and real inputs, and what the run's own methods give; the
README's onnxruntime-only scoring example runs; bad input is one line."""

import json
import re
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("onnxruntime", reason="onnxruntime is not installed (pip install -e '.[test]')")
pytest.importorskip("onnxscript", reason="onnxscript is not installed (pip install -e '.[test]')")

from aegan.export import export_onnx, parts_of  # noqa: E402
from aegan.export_check import ATOL, RTOL, onnxruntime_session, random_inputs, real_inputs  # noqa: E402

README = Path(__file__).resolve().parents[1] / "README.md"
DIGITS = ["--data", "digits", "--epochs", "1", "--max-samples", "400"]
RUNS = {  # name -> aegan arguments (the run folder is appended)
    "ae-mlp": ["train", "ae", *DIGITS, "--code-dim", "6"],
    "ae-conv": ["train", "ae", *DIGITS, "--arch", "conv", "--code-dim", "8"],
    "dae-conv": ["train", "dae", *DIGITS, "--arch", "conv", "--code-dim", "8"],
    "sparse-mlp": ["train", "sparse", *DIGITS],
    "vae-conv": ["train", "vae", *DIGITS, "--arch", "conv", "--code-dim", "4"],
    "vae-mlp-bernoulli": ["train", "vae", *DIGITS, "--likelihood", "bernoulli"],
    "vqvae-conv": ["train", "vqvae", *DIGITS, "--arch", "conv", "--code-dim", "16", "--vq-dim", "4"],
    "gan-dcgan-conditional": ["train", "gan", *DIGITS, "--conditional"],
    "gan-mlp-ring": ["train", "gan", "--data", "ring", "--max-samples", "512", "--epochs", "1"],
    "ae-mlp-table": ["train", "ae", "--data", "ring", "--max-samples", "512", "--epochs", "1"],  # standardised
    "codec": ["train", "codec", *DIGITS],
    "detector-feature-knn": ["anomaly", "fit", *DIGITS],
    "detector-recon+code-knn": ["anomaly", "fit", *DIGITS, "--score", "recon+code-knn"],
}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    from aegan.cli import main
    root = tmp_path_factory.mktemp("export-runs")
    for name, args in RUNS.items():
        assert main([*args, "--out", str(root / name), "--quiet"]) == 0, name
    return root


@pytest.mark.parametrize("name", list(RUNS))
def test_every_part_matches_pytorch_in_onnxruntime(runs, tmp_path, name):
    out = tmp_path / "onnx"
    meta = export_onnx(runs / name, out)
    run, parts, _ = parts_of(runs / name)
    assert [p["file"] for p in meta["parts"]] == [f"{p.name}.onnx" for p in parts]
    for part in parts:
        sess = onnxruntime_session(out / f"{part.name}.onnx")
        assert [i.name for i in sess.get_inputs()] == list(part.inputs)
        assert [o.name for o in sess.get_outputs()] == list(part.outputs)
        feeds = [random_inputs(part, n=5), random_inputs(part, n=1, seed=1)]  # batch sizes the export never saw
        real = real_inputs(run, part)
        if part.name in ("encoder", "scorer", "analysis"):
            assert real is not None
            feeds.append(real)
        for feed in feeds:
            import torch
            got = sess.run(None, feed)
            with torch.no_grad():
                want = part.module(*(torch.from_numpy(v) for v in feed.values()))
            want = want if isinstance(want, tuple) else (want,)
            for g, w in zip(got, want):
                np.testing.assert_allclose(g, w.numpy(), rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("name", ["ae-conv", "vae-conv", "vqvae-conv", "detector-recon+code-knn"])
def test_the_graphs_give_what_the_run_gives(runs, tmp_path, name):
    """The exported encoder/decoder/scorer compute what aegan encode / decode / anomaly score do."""
    from aegan.anomaly import Scoring
    out = tmp_path / "onnx"
    export_onnx(runs / name, out)
    run, _, _ = parts_of(runs / name)
    x = np.asarray(run.dataset("test").x[:32], dtype=np.float32)
    enc = onnxruntime_session(out / "encoder.onnx").run(None, {"x": x})
    code = enc[1] if run.config.model.family == "vqvae" else enc[0]
    np.testing.assert_allclose(code, run.encode(x), rtol=RTOL, atol=ATOL)
    dec = onnxruntime_session(out / "decoder.onnx").run(None, {"code": code})[0]
    np.testing.assert_allclose(dec, run.decode(code), rtol=RTOL, atol=ATOL)
    if name.startswith("detector"):
        score = onnxruntime_session(out / "scorer.onnx").run(None, {"x": x})[0]
        np.testing.assert_allclose(score, Scoring.load(runs / name).scores(x), rtol=1e-4, atol=1e-4)


def test_model_json_says_shapes_ranges_and_the_normaliser(runs, tmp_path, cli):
    r = cli("export", runs / "gan-dcgan-conditional", "--format", "onnx", "--out", tmp_path / "g")
    assert r.code == 0, r.err
    assert "largest difference" in r.out and "generator.onnx" in r.out
    meta = json.loads((tmp_path / "g" / "model.json").read_text())
    part = meta["parts"][0]
    assert [i["name"] for i in part["inputs"]] == ["z", "label"] and part["inputs"][1]["dtype"] == "int64"
    assert part["inputs"][0]["shape"][0] == "batch"
    assert meta["normalizer"]["target"] == "symmetric" and meta["aegan_version"]
    nz = meta["normalizer"]
    assert f"values in [{nz['out_lo']:g}, {nz['out_hi']:g}]" in part["outputs"][0]["what"]  # the data's own range


def test_readme_onnxruntime_example_runs_without_aegan_or_torch(runs, tmp_path, monkeypatch):
    """The README's ten lines score images with onnxruntime and numpy alone."""
    import subprocess
    import sys
    block = re.search(r"```python\n(# scoring with onnxruntime alone.*?)```", README.read_text(), re.S).group(1)
    assert len(block.strip().splitlines()) <= 12
    export_onnx(runs / "detector-feature-knn", tmp_path / "detector-onnx")
    np.save(tmp_path / "images.npy", np.asarray(parts_of(runs / "ae-conv")[0].dataset("test").x[:10]))
    # a Python where importing aegan or torch fails: the example must not need them
    guard = "import sys\nclass _No:\n    def find_spec(self, name, *a):\n" \
            "        if name.split('.')[0] in ('aegan', 'torch'): raise ImportError(name)\nsys.meta_path.insert(0, _No())\n"
    r = subprocess.run([sys.executable, "-c", guard + block], cwd=tmp_path, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.strip().splitlines()
    assert len(lines) == 10 and all(re.match(r"^\d+: [\d.e+-]+ (normal|ANOMALOUS)$", line) for line in lines), r.stdout


@pytest.mark.parametrize("setup, message", [
    ("missing", "no run folder"),
    ("damaged", "config.json"),
    ("classifier", "aegan export takes autoencoder, GAN, codec and anomaly detector folders"),
    ("out-exists", "already holds files"),
])
def test_bad_input_is_one_line(runs, tmp_path, cli, setup, message):
    import shutil
    run, out = runs / "ae-mlp", tmp_path / "onnx"
    if setup == "missing":
        run = tmp_path / "nothing"
    elif setup == "damaged":
        run = tmp_path / "damaged"
        shutil.copytree(runs / "ae-mlp", run)
        (run / "config.json").write_text("{not json")
    elif setup == "classifier":
        from aegan.cli import main
        run = tmp_path / "clf"
        assert main(["train", "classifier", *DIGITS, "--out", str(run), "--quiet"]) == 0
    else:
        out.mkdir()
        (out / "keep.txt").write_text("mine")
    r = cli("export", run, "--format", "onnx", "--out", out)
    assert r.code != 0 and message in r.err and len(r.err.strip().splitlines()) == 1, r.err
    if setup == "out-exists":
        assert (out / "keep.txt").read_text() == "mine"
    else:
        assert not out.exists()
