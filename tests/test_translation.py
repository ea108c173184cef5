"""Image-to-image translation: the built-in tasks' data, pix2pix and CycleGAN learning on small
data, save -> load -> translate, aegan translate and evaluate, and bad input refused in one line."""

import json
import os
import signal
import subprocess

import numpy as np
import pytest
from PIL import Image

from aegan.data import load_dataset
from aegan.data.pairs import HOLE, SCALE, edge_map, load_pairs
from aegan.runs.registry import load

from conftest import needs_fashion


def digits_pairs(tmp_path, n=400, scale=1):
    """a: digits (8x8, or each pixel a scale x scale block), b: the same digits flipped
    left-right (paired by position)."""
    from sklearn.datasets import load_digits
    x = np.kron((load_digits().images[:n] / 16.0).astype(np.float32), np.ones((1, scale, scale), np.float32))
    path = tmp_path / "flip.npz"
    np.savez(path, a=x, b=x[:, :, ::-1].copy())
    return path


def metrics_of(run_dir):
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


@needs_fashion
def test_built_in_paired_tasks_are_right():
    images = load_dataset("fashion-mnist", "test").x[:200].astype(np.float32) / 255.0
    for task in ("edges", "superres", "inpaint"):
        ds = load_pairs(task, "test", "paired")
        assert ds.shape == (2, 28, 28) and len(ds) == 10000 and ds.extra["pairs"]["a_channels"] == 1
        a, b = ds.x[:200, :1], ds.x[:200, 1:]
        assert np.array_equal(b, images)  # B is the image itself, paired with its own A
        if task == "inpaint":
            hole = np.zeros((28, 28), bool)
            hole[HOLE[0]:HOLE[1], HOLE[0]:HOLE[1]] = True
            assert (a[..., hole] == 0).all() and np.array_equal(a[..., ~hole], b[..., ~hole])
        if task == "superres":  # constant on 4x4 blocks, each block the mean of the image's block
            blocks = b.reshape(200, 1, 7, SCALE, 7, SCALE).mean((3, 5))
            assert np.allclose(a[..., ::SCALE, ::SCALE], blocks, atol=1e-6)
            assert np.array_equal(a, np.repeat(np.repeat(a[..., ::SCALE, ::SCALE], SCALE, 2), SCALE, 3))
        if task == "edges":
            assert set(np.unique(a)) <= {0.0, 1.0} and 0.05 < a.mean() < 0.5
            assert np.array_equal(a, edge_map(b))
    with pytest.raises(Exception, match="paired task"):
        load_pairs("edges", "train", "unpaired")


@needs_fashion
def test_sneaker_boot_halves_share_no_image():
    train = load_pairs("sneaker-boot", "train", "unpaired")
    a, b = train.x[train.y == 0], train.x[train.y == 1]
    assert 2500 < len(a) < 3500 and 2500 < len(b) < 3500  # half of the 6,000 of each class
    full = load_dataset("fashion-mnist", "train")
    first, second = full.x[:30000].reshape(30000, -1), full.x[30000:].reshape(30000, -1)
    # every A image is a sneaker from the first half, every B image an ankle boot from the second
    assert train.classes == ["Sneaker", "Ankle boot"]
    key = lambda rows: {r.tobytes() for r in rows}  # noqa: E731
    a_px = (a * 255).round().astype(np.uint8).reshape(len(a), -1)
    b_px = (b * 255).round().astype(np.uint8).reshape(len(b), -1)
    assert key(a_px) <= key(first[full.y[:30000] == 7]) and key(b_px) <= key(second[full.y[30000:] == 9])


def test_pix2pix_learns_and_translates_the_same_after_loading(cli, tmp_path):
    data = digits_pairs(tmp_path)
    out = tmp_path / "run"
    r = cli("train", "pix2pix", "--data", data, "--epochs", "6", "--batch-size", "16", "--lr", "1e-3",
            "--out", out, "--quiet")
    assert r.code == 0, r.err
    rows = metrics_of(out)
    assert rows[-1]["l1"] < 0.5 * rows[0]["l1"] and rows[-1]["val_l1"] < rows[0]["val_l1"]
    assert {"d_loss", "g_adv", "g_loss", "val_psnr"} <= set(rows[-1])
    run = load(out)
    x = np.load(data)["a"][:20]
    direct = run.translate(x)
    r = cli("translate", out, "--data", data, "--split", "all", "--out", tmp_path / "t.npy", "-n", "20")
    assert r.code == 0, r.err
    assert np.array_equal(np.load(tmp_path / "t.npy"), direct)  # the folder gives the same images
    assert direct.shape == (20, 1, 8, 8)
    # images of the A side only (a plain .npy): the same again
    np.save(tmp_path / "a.npy", x)
    r = cli("translate", out, "--data", tmp_path / "a.npy", "--out", tmp_path / "t2.npy")
    assert r.code == 0 and np.array_equal(np.load(tmp_path / "t2.npy"), direct), r.err
    r = cli("translate", out, "--data", data, "--out", tmp_path / "t.png")
    assert r.code == 0 and "rows of inputs, outputs, targets" in r.out
    assert Image.open(tmp_path / "t.png").size[1] > 3 * 48  # three rows per line of 8
    r = cli("evaluate", out, "--n", "100")
    assert r.code == 0 and "psnr" in r.out and "ssim" in r.out, r.err
    r = cli("report", out)
    assert r.code == 0 and "Test examples" in (out / "report.html").read_text(), r.err


def test_l1_only_unet_has_no_discriminator(cli, tmp_path):
    data = digits_pairs(tmp_path, n=200)
    r = cli("train", "pix2pix", "--data", data, "--epochs", "1", "--adv-weight", "0", "--out", tmp_path / "r",
            "--batch-size", "16", "--quiet")
    assert r.code == 0, r.err
    run = load(tmp_path / "r")
    assert run.module.d_b is None and "d_loss" not in metrics_of(tmp_path / "r")[-1]


def test_defaults_follow_the_image_size_and_the_command():
    from aegan.config import TranslationConfig
    from aegan.models.translation import ResnetGenerator, resolve
    from aegan.runs.tasks import TASKS
    small, large = (resolve(TranslationConfig(mode="cyclegan"), size) for size in ((28, 28), (64, 64)))
    assert (small.downsamplings, small.base_channels, large.downsamplings, large.base_channels) == (1, 32, 2, 64)
    assert resolve(TranslationConfig(mode="pix2pix"), (28, 28)).downsamplings is None  # a U-Net has none
    import torch
    g = ResnetGenerator(1, 1, 8, 1, downs=1)
    assert g(torch.zeros(2, 1, 28, 28)).shape == (2, 1, 28, 28)
    assert [TASKS["translation"].defaults(c).batch_size for c in ("pix2pix", "cyclegan")] == [16, 8]


def test_cyclegan_cycle_loss_falls_and_both_directions_work(cli, tmp_path):
    # 16x16 digits: on 8x8 ones the generator's maps at half the side are 4x4, too few pixels
    # for instance norm
    data = digits_pairs(tmp_path, n=300, scale=2)
    out = tmp_path / "cyc"
    r = cli("train", "cyclegan", "--data", data, "--epochs", "6", "--batch-size", "16", "--base-channels", "8",
            "--res-blocks", "2", "--lr", "1e-3", "--out", out, "--quiet")
    assert r.code == 0, r.err
    rows = metrics_of(out)
    assert rows[-1]["cycle"] < 0.5 * rows[0]["cycle"]
    assert rows[-1]["val_cycle_l1"] < rows[0]["val_cycle_l1"]
    run = load(out)
    assert run.module.g_ba is not None and run.module.d_a is not None
    x = np.load(data)["b"][:10]
    back = run.translate(x, "b2a")
    assert back.shape == (10, 1, 16, 16)
    r = cli("translate", out, "--data", data, "--direction", "b2a", "--out", tmp_path / "b.npy", "-n", "10",
            "--split", "all")
    assert r.code == 0, r.err
    assert np.array_equal(np.load(tmp_path / "b.npy"), back)
    # the history pool is part of the checkpoint: resume continues from it
    r = cli("train", "--resume", out, "--epochs", "7", "--quiet")
    assert r.code == 0, r.err
    assert len(metrics_of(out)) == 7


def test_killed_cyclegan_resumes_to_the_same_weights(tmp_path):
    # kill -9 mid-epoch, then --resume: the weights match an uninterrupted run byte for byte (the
    # history pools and the random streams are in the checkpoint)
    from test_resume import _aegan, _newest_step, _stop_after
    data = digits_pairs(tmp_path, n=200, scale=2)
    args = ["train", "cyclegan", "--data", data, "--epochs", "2", "--batch-size", "16", "--base-channels", "8",
            "--res-blocks", "2", "--pool-size", "8", "--checkpoint-steps", "4", "--quiet", "--out"]
    env = {**os.environ, "AEGAN_THREADS": "1"}
    assert subprocess.run(_aegan(*args, tmp_path / "ref"), env=env, timeout=300).returncode == 0
    proc = subprocess.Popen(_aegan(*args, tmp_path / "cut"), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _stop_after(proc, tmp_path / "cut", 12, signal.SIGKILL)
    assert proc.returncode == -9 and _newest_step(tmp_path / "cut") < _newest_step(tmp_path / "ref")
    r = subprocess.run(_aegan("train", "--resume", tmp_path / "cut", "--quiet"), env=env, capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "ref" / "model.safetensors").read_bytes() == (tmp_path / "cut" / "model.safetensors").read_bytes()


def folder_pair(root, names_a, names_b, size_a=8, size_b=8, mode_b="L"):
    for side, names, size, mode in (("A", names_a, size_a, "L"), ("B", names_b, size_b, mode_b)):
        (root / side).mkdir(parents=True, exist_ok=True)
        for i, name in enumerate(names):
            Image.new(mode, (size, size), color=(i * 20) % 255 if mode == "L" else (i, 0, 0)).save(root / side / name)
    return root


def test_folders_pair_by_file_name(tmp_path):
    root = folder_pair(tmp_path / "f", [f"{i}.png" for i in range(12)], [f"{i}.png" for i in range(3, 15)])
    ds = load_pairs(str(root), "all", "paired")
    assert len(ds) == 9 and ds.shape == (2, 8, 8)  # the nine names in both
    # A/i.png is grey 20 i, B/i.png grey 20 (i - 3): every pair differs by exactly 60
    assert (ds.x[:, 0].astype(int) - ds.x[:, 1].astype(int) == 60).all()
    un = load_pairs(str(root), "all", "unpaired")
    assert len(un) == 24 and list(np.bincount(un.y)) == [12, 12]


@pytest.mark.parametrize("case, message", [
    ("unmatched", "no file name appears in both A/ and B/"),
    ("sizes", "A images are 1x8x8 (channels x height x width) and B images 1x12x12"),
    ("channels", "and B images 3x8x8"),
    ("empty", "no image files"),
])
def test_bad_folders_are_one_line(cli, tmp_path, case, message):
    root = tmp_path / "pairs"
    if case == "unmatched":
        folder_pair(root, ["a1.png", "a2.png"], ["b1.png", "b2.png"])
    elif case == "sizes":
        folder_pair(root, ["1.png"], ["1.png"], size_b=12)
    elif case == "channels":
        folder_pair(root, ["1.png"], ["1.png"], mode_b="RGB")
    else:
        folder_pair(root, ["1.png"], [])
    r = cli("train", "pix2pix", "--data", root, "--out", tmp_path / "run")
    assert r.code != 0 and message in r.err and len(r.err.strip().splitlines()) == 1, r.err
    assert "Traceback" not in r.err and not (tmp_path / "run").exists()


def test_bad_uses_of_runs_are_one_line(cli, tmp_path, digits_run):
    data = digits_pairs(tmp_path, n=100)
    assert cli("train", "pix2pix", "--data", data, "--epochs", "1", "--batch-size", "16", "--out", tmp_path / "p",
               "--quiet").code == 0
    cases = [
        (("translate", digits_run, "--data", data, "--out", tmp_path / "x.npy"), "needs a translation run"),
        (("translate", tmp_path / "p", "--data", data, "--direction", "b2a", "--out", tmp_path / "x.npy"),
         "translates A to B only"),
        (("translate", tmp_path / "p", "--data", "digits", "--image-size", "12", "--out", tmp_path / "x.npy"),
         "do not fit this run"),
        (("train", "cyclegan", "--data", "edges", "--out", tmp_path / "c"), "is a paired task"),
        (("train", "pix2pix", "--data", "digits", "--out", tmp_path / "c"), "a dataset of single images, not of pairs"),
        (("train", "pix2pix", "--data", tmp_path, "--out", tmp_path / "c"), "a folder without A/ and B/"),
        (("train", "cyclegan", "--data", data, "--downsamplings", "3", "--out", tmp_path / "c"), "must be 1 or 2"),
        (("train", "pix2pix", "--data", data, "--d-noise", "-0.1", "--out", tmp_path / "c"), "must be zero or positive"),
    ]
    np.savez(tmp_path / "uneven.npz", a=np.zeros((5, 8, 8)), b=np.zeros((4, 8, 8)))
    cases.append((("train", "pix2pix", "--data", tmp_path / "uneven.npz", "--out", tmp_path / "u"),
                  "a has 5 images and b 4"))
    for args, message in cases:
        r = cli(*args)
        assert r.code != 0 and message in r.err and len(r.err.strip().splitlines()) == 1, (args, r.err)
        assert not (tmp_path / "x.npy").exists()


def test_pix2pix_and_cyclegan_under_two_processes(tmp_path):
    from test_distributed import _torchrun
    data = digits_pairs(tmp_path, n=200, scale=2)
    for model, extra in (("pix2pix", []), ("cyclegan", ["--base-channels", "8", "--res-blocks", "1"])):
        r = _torchrun("train", model, "--data", data, "--epochs", "1", "--batch-size", "16", *extra, "--quiet",
                      "--out", tmp_path / model)
        assert r.returncode == 0 and "identical on every process" in r.stdout, r.stderr
        assert load(tmp_path / model).translate(np.load(data)["a"][:3]).shape == (3, 1, 16, 16)
