"""Every command end to end on digits, and each bad input: one line, an exit code, no traceback,
no half-written output."""

import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image


def _one_line_error(r, code, *words):
    assert r.code == code, (r.code, r.out, r.err)
    lines = r.err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in r.err, r.err
    for w in words:
        assert w in lines[0], (w, lines[0])


def test_train_writes_a_complete_run_folder(cli, tmp_path):
    out = tmp_path / "run"
    r = cli("train", "vae", "--data", "digits", "--code-dim", "4", "--epochs", "2", "--hidden", "64",
            "--out", out, "--quiet")
    assert r.code == 0, r.err
    assert "run folder:" in r.out
    names = {p.name for p in out.iterdir()}
    assert {"config.json", "model.safetensors", "state.pt", "metrics.jsonl", "recon.png", "loss.png",
            "recon_epoch001.png", "recon_epoch002.png"} <= names
    lines = (out / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["epoch"] for line in lines] == [1, 2]
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["model"]["family"] == "vae" and cfg["data_info"]["shape"] == [1, 8, 8]
    assert Image.open(out / "recon.png").size[0] > 100


def test_train_classic_preset_and_flags(cli, tmp_path):
    r = cli("train", "ae", "--preset", "classic", "--data", "digits", "--code-dim", "16", "--epochs", "1",
            "--batch-size", "32", "--lr", "0.002", "--out", tmp_path / "c", "--quiet")
    assert r.code == 0, r.err
    cfg = json.loads((tmp_path / "c" / "config.json").read_text())
    assert cfg["model"]["hidden"] == [128] and cfg["model"]["output"] == "identity"
    assert cfg["train"]["lr"] == 0.002 and cfg["train"]["batch_size"] == 32 and cfg["preset"] == "classic"


def test_encode_decode_reconstruct_info(cli, digits_run, tmp_path):
    codes = tmp_path / "codes.npy"
    r = cli("encode", digits_run, "--data", "digits", "--split", "test", "--out", codes)
    assert r.code == 0, r.err
    z = np.load(codes)
    assert z.shape == (359, 8) and z.dtype == np.float32
    r = cli("decode", digits_run, "--codes", codes, "--out", tmp_path / "x.npy")
    assert r.code == 0, r.err
    x = np.load(tmp_path / "x.npy")
    assert x.shape == (359, 1, 8, 8) and 0 <= x.min() and x.max() <= 1  # digits' own range: [0, 1]
    r = cli("decode", digits_run, "--codes", codes, "--out", tmp_path / "x.png")
    assert r.code == 0 and Image.open(tmp_path / "x.png").mode == "L"
    r = cli("reconstruct", digits_run, "--data", "digits", "--out", tmp_path / "r.png", "-n", "8")
    assert r.code == 0 and (tmp_path / "r.png").is_file()
    r = cli("reconstruct", digits_run, "--data", "digits", "--out", tmp_path / "r.npy")
    assert r.code == 0 and np.load(tmp_path / "r.npy").shape == (359, 1, 8, 8)
    r = cli("info", digits_run)
    assert r.code == 0 and "ae" in r.out and "(1, 8, 8)" in r.out and "last epoch: 2" in r.out
    r = cli("info", digits_run, "--json")
    assert json.loads(r.out)["config"]["model"]["code_dim"] == 8


def test_data_command(cli):
    r = cli("data", "digits", "--split", "test")
    assert r.code == 0 and "359 examples" in r.out and "labels:" in r.out


def test_tabular_csv_end_to_end(cli, tmp_path):
    rng = np.random.default_rng(0)
    rows = rng.normal(size=(200, 6)) * [1, 10, 100, 1, 1, 1] + [0, 5, -50, 0, 0, 0]
    lines = ["a,b,c,d,e,f,kind"] + [",".join(f"{v:.5f}" for v in r) + f",{'xy'[i % 2]}" for i, r in enumerate(rows)]
    (tmp_path / "t.csv").write_text("\n".join(lines) + "\n")
    r = cli("train", "ae", "--data", tmp_path / "t.csv", "--label-column", "kind", "--code-dim", "3",
            "--hidden", "512,256", "--epochs", "3", "--out", tmp_path / "run", "--quiet")  # the sizes it had before
    # tables got their sizes from their width
    assert r.code == 0, r.err
    r = cli("reconstruct", tmp_path / "run", "--data", tmp_path / "t.csv", "--split", "all",
            "--out", tmp_path / "rec.npy")
    assert r.code == 0, r.err
    rec = np.load(tmp_path / "rec.npy")
    assert rec.shape == (200, 6)
    assert abs(rec[:, 2].mean() - rows[:, 2].mean()) < 30  # back in the table's own units
    r = cli("reconstruct", tmp_path / "run", "--data", tmp_path / "t.csv", "--out", tmp_path / "rec.png")
    _one_line_error(r, 2, "needs image data")


def test_console_script_runs(tmp_path):
    exe = [sys.executable, "-m", "aegan"]
    r = subprocess.run(exe + ["train", "ae", "--data", str(tmp_path / "nope.npy"), "--out", str(tmp_path / "o")],
                       capture_output=True, text=True)
    assert r.returncode == 1 and r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
    assert not (tmp_path / "o").exists()
    r = subprocess.run(exe + ["train", "ae", "--data", str(tmp_path / "nope.npy"), "--out", str(tmp_path / "o"),
                              "--debug"], capture_output=True, text=True)
    assert "Traceback" in r.stderr


# --- bad input: one line, an exit code, nothing half-written ------------------------------

def test_missing_dataset_names_where_it_looked(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("AEGAN_DATA", str(tmp_path))
    r = cli("train", "ae", "--data", "mnist", "--out", tmp_path / "o")
    _one_line_error(r, 1, "looked in", str(tmp_path), "apt-get install dataset-fashion-mnist")
    r = cli("train", "ae", "--data", tmp_path / "nothing.csv", "--out", tmp_path / "o")
    _one_line_error(r, 1, "no such file", "nothing.csv")  # a path, not a name: no advice about named sets
    assert not (tmp_path / "o").exists()


def test_wrong_format_files(cli, tmp_path):
    (tmp_path / "x.txt").write_text("hello")
    _one_line_error(cli("train", "ae", "--data", tmp_path / "x.txt", "--out", tmp_path / "o"), 1, "unknown file type")
    (tmp_path / "x.npy").write_text("not numpy")
    _one_line_error(cli("train", "ae", "--data", tmp_path / "x.npy", "--out", tmp_path / "o"), 1, "x.npy")
    (tmp_path / "s.csv").write_text("a,b\n1,2\nfoo,3\n")
    _one_line_error(cli("train", "ae", "--data", tmp_path / "s.csv", "--out", tmp_path / "o"), 1, "'foo'")
    (tmp_path / "n.csv").write_text("a,b\n1,2\nnan,3\n")
    _one_line_error(cli("train", "ae", "--data", tmp_path / "n.csv", "--out", tmp_path / "o"), 1, "finite")
    np.save(tmp_path / "r5.npy", np.zeros((2, 2, 2, 2, 2)))
    _one_line_error(cli("train", "ae", "--data", tmp_path / "r5.npy", "--out", tmp_path / "o"), 1, "rank 5")
    np.save(tmp_path / "c.npy", np.zeros((4, 3), np.complex64))
    _one_line_error(cli("train", "ae", "--data", tmp_path / "c.npy", "--out", tmp_path / "o"), 1, "complex64")
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("flags, words", [
    (["--epochs", "0"], "--epochs 0 must be at least 1"),
    (["--epochs", "-3"], "--epochs -3"),
    (["--batch-size", "0"], "--batch-size 0"),
    (["--code-dim", "65"], "--code-dim 65 is larger than the input (64"),
    (["--lr", "-1"], "--lr -1"),
    (["--hidden", "12,x"], "comma-separated list"),
    (["--arch", "transformer"], "invalid choice"),
])
def test_bad_training_options(cli, tmp_path, flags, words):
    r = cli("train", "ae", "--data", "digits", "--out", tmp_path / "o", *flags)
    _one_line_error(r, 2, words)
    assert not (tmp_path / "o").exists()


def test_refuses_a_folder_with_files_unless_overwrite(cli, tmp_path):
    out = tmp_path / "o"
    out.mkdir()
    (out / "mine.txt").write_text("precious")
    r = cli("train", "ae", "--data", "digits", "--epochs", "1", "--out", out, "--quiet")
    _one_line_error(r, 2, "already holds files", "--overwrite")
    assert sorted(p.name for p in out.iterdir()) == ["mine.txt"]
    r = cli("train", "ae", "--data", "digits", "--epochs", "1", "--out", out, "--quiet", "--overwrite")
    assert r.code == 0, r.err
    assert (out / "mine.txt").read_text() == "precious"  # never delete a user's files
    assert (out / "model.safetensors").is_file()


def test_output_files_are_not_clobbered(cli, digits_run, tmp_path):
    target = tmp_path / "codes.npy"
    target.write_bytes(b"keep me")
    r = cli("encode", digits_run, "--data", "digits", "--out", target)
    _one_line_error(r, 2, "already exists", "--overwrite")
    assert target.read_bytes() == b"keep me"
    _one_line_error(cli("encode", digits_run, "--data", "digits", "--out", tmp_path / "c.txt"), 2, ".npy")
    _one_line_error(cli("encode", digits_run, "--data", "digits", "--out", tmp_path / "no" / "c.npy"), 2,
                    "does not exist")


def test_data_that_does_not_fit_the_run(cli, digits_run, tmp_path):
    np.save(tmp_path / "big.npy", np.zeros((5, 28, 28), np.uint8))
    r = cli("encode", digits_run, "--data", tmp_path / "big.npy", "--split", "all", "--out", tmp_path / "c.npy")
    _one_line_error(r, 1, "(1, 28, 28)", "(1, 8, 8)")
    assert not (tmp_path / "c.npy").exists()
    np.save(tmp_path / "codes.npy", np.zeros((3, 5), np.float32))
    r = cli("decode", digits_run, "--codes", tmp_path / "codes.npy", "--out", tmp_path / "x.npy")
    _one_line_error(r, 1, "(N, 8)")
    assert not (tmp_path / "x.npy").exists()


def test_bad_run_folders(cli, digits_run, tmp_path):
    _one_line_error(cli("info", tmp_path / "missing"), 1, "no run folder")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text((digits_run / "config.json").read_text()[:30])
    _one_line_error(cli("info", broken), 1, "not valid JSON")
    (broken / "config.json").write_text((digits_run / "config.json").read_text())
    _one_line_error(cli("info", broken), 1, "model.safetensors is missing")
    (broken / "model.safetensors").write_bytes((digits_run / "model.safetensors").read_bytes()[:100])
    _one_line_error(cli("info", broken), 1, "damaged")


def test_normalize_flag(cli, tmp_path):
    r = cli("train", "ae", "--data", "digits", "--normalize", "symmetric", "--epochs", "1", "--out", tmp_path / "s",
            "--quiet")
    assert r.code == 0, r.err
    cfg = json.loads((tmp_path / "s" / "config.json").read_text())
    assert cfg["data_info"]["normalizer"]["target"] == "symmetric"
    r = cli("reconstruct", tmp_path / "s", "--data", "digits", "--out", tmp_path / "r.npy")
    rec = np.load(tmp_path / "r.npy")
    assert r.code == 0 and rec.min() >= 0 and rec.max() <= 1  # back to digits' own [0, 1], not [-1, 1]
    r = cli("train", "ae", "--data", "digits", "--normalize", "standard", "--out", tmp_path / "t")
    _one_line_error(r, 2, "--normalize 'standard' does not apply to image data")
    assert not (tmp_path / "t").exists()


def test_output_into_a_closed_pipe_ends_quietly(digits_run, monkeypatch, capsys):
    import io
    import sys

    from aegan.cli import main

    class ClosedPipe(io.StringIO):
        def write(self, text):
            raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr(sys, "stdout", ClosedPipe())
    assert main(["info", str(digits_run)]) == 0  # `aegan info RUN | head -c0`: no traceback, no error
    monkeypatch.undo()
    assert "Traceback" not in capsys.readouterr().err
