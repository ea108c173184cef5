"""The learned codec (aegan train codec) and its .aegz files: round trips, the file's header and
fingerprint checks, bad input in one line, and the codec learning on small data."""

import json
import struct
import zlib

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import aegan
from aegan import aegz
from aegan.coding import Decoder
from aegan.models.entropy import PRECISION, frequencies

from test_cli import _one_line_error

DIGITS = ["--data", "digits", "--hidden-channels", "16", "--latent-channels", "16"]  # 2 stages: the default here


@pytest.fixture(scope="module")
def codec_run(tmp_path_factory):
    """A small codec with the defaults (checkerboard prior, --blocks 1) on the 8 x 8 digits (2 stages:
    latents 16 x 2 x 2, side 16 x 1 x 1)."""
    out = tmp_path_factory.mktemp("codec") / "run"
    from aegan.cli import main
    assert main(["train", "codec", *DIGITS, "--epochs", "8", "--lambda", "0.003", "--out", str(out), "--quiet"]) == 0
    return aegan.load(out)


@pytest.fixture(scope="module")
def digits_test():
    return aegan.load_dataset("digits", "test")


def _decodes_bit_for_bit(run, digits_test, segments: int) -> None:
    """Every segment the decoder reads is the encoder's, symbol for symbol, and the images are what
    `reconstruct` (the encoder's own latents) gives, bit for bit."""
    from aegan.runs.coded_files import CHUNK
    sub = digits_test.subset(np.arange(CHUNK - 6))  # one chunk: one pass through the transforms
    x = run.to_model(sub)
    header, payload = aegz.unpack(run.compress(sub))
    dec, seen = Decoder(payload), []

    def next_symbols(rows, tables):
        seen.append(dec.segment(rows, tables))
        return seen[-1]

    images = run.codec.decode(len(x), next_symbols)
    sent = run.codec.encode(x)
    assert len(sent) == segments and [s.shape for s in seen] == [s[0].shape for s in sent]
    for got, (want, _, _) in zip(seen, sent):
        assert np.array_equal(got, want)
    assert torch.equal(images, run.codec.reconstruct(x))
    back = run.decompress(run.compress(digits_test))  # two chunks
    assert back.shape == digits_test.x.shape and back.dtype == digits_test.x.dtype


def test_decoding_gives_the_encoders_latents_bit_for_bit(codec_run, digits_test):
    assert codec_run.config.model.stages == 2 and codec_run.codec.latent_shape == (16, 2, 2)  # the default, saved
    _decodes_bit_for_bit(codec_run, digits_test, segments=3)  # side information, anchors, the rest


@pytest.mark.parametrize("prior, segments, blocks", [("factorized", 1, "0"), ("hyperprior", 2, "2"),
                                                     ("mean-scale", 2, "1"), ("space-channel", 9, "0")])
def test_every_prior_decodes_bit_for_bit_and_learns(prior, segments, blocks, digits_test, tmp_path):
    """The other entropy models, trained briefly: the decoder rebuilds the densities exactly as the
    encoder had them, and the file's rate is what training measured (bits per pixel within 10% of the
    last validation figure). Each with another number of --blocks (0: the layout of runs saved
    before the option)."""
    from aegan.cli import main
    out = tmp_path / prior
    assert main(["train", "codec", *DIGITS, "--prior", prior, "--epochs", "3", "--lambda", "0.003",
                 "--blocks", blocks, "--out", str(out), "--quiet"]) == 0
    run = aegan.load(out)
    assert run.config.model.blocks == int(blocks)
    _decodes_bit_for_bit(run, digits_test, segments)
    m = run.metrics()
    assert m[-1]["val_bpp"] < m[0]["val_bpp"] or m[-1]["val_psnr"] > m[0]["val_psnr"], m
    got = run.evaluation(1000, None, 0)["bits_per_pixel"]["value"]
    assert abs(got - m[-1]["val_bpp"]) < 0.1 * m[-1]["val_bpp"] + 64 * 8 / (359 * 64), (got, m[-1])


@pytest.mark.parametrize("prior", ["mean-scale", "checkerboard", "space-channel"])
def test_each_pass_sees_only_what_earlier_passes_decoded(prior):
    """The decoder can rebuild pass k's means and scales only if they depend on nothing but z_hat
    and the elements of passes before k: changing every later element leaves them exactly as they
    were (the same inputs reach the same arithmetic, so this holds bit for bit on any CPU), and the
    passes cover each element of y once."""
    from aegan.config import CodecConfig
    from aegan.models.codec import Codec
    torch.manual_seed(0)
    codec = Codec(CodecConfig(prior=prior, hidden_channels=16, latent_channels=16), (1, 28, 28)).eval()
    masks = codec.pass_masks
    assert torch.equal(masks.sum(0), torch.ones(codec.latent_shape, dtype=masks.dtype))
    hyper = codec.h_s(torch.randn(3, *codec.side_shape).round())
    y_hat = torch.randn(3, *codec.latent_shape) * 3
    with torch.no_grad():
        for k in range(len(masks)):
            later = masks[k:].any(0)
            other = torch.where(later, torch.randn_like(y_hat) * 5, y_hat)
            for a, b in zip(codec._pass_params(hyper, y_hat, k), codec._pass_params(hyper, other, k)):
                assert torch.equal(a[:, masks[k]], b[:, masks[k]]), (prior, k)
    assert len(masks) == {"mean-scale": 1, "checkerboard": 2, "space-channel": 8}[prior]


def test_per_image_files_decode_to_the_same_images(codec_run, digits_test):
    sub = digits_test.subset(np.arange(5))
    whole = codec_run.decompress(codec_run.compress(sub))
    files = codec_run.compress(sub, per_image=True)
    assert len(files) == 5
    # The same latents; the synthesis transform then runs on batches of 1 instead of 5, which may
    # sum in another order: a worst-case float32 bound of (terms summed ~1600) x eps (6e-8) ~ 1e-4
    # of the [0, 16] range of the digits' units, so 2e-3 of a unit.
    assert np.abs(np.concatenate([codec_run.decompress(f) for f in files]) - whole).max() <= 2e-3


def _file_rd(run, sub, data: bytes) -> float:
    """lambda * 255^2 * MSE + bits per pixel of a file of `sub`, measured on the file itself."""
    x, y = run.to_model(sub), run.to_model(run.decompress(data))
    return run.config.model.lmbda * 255 ** 2 * float(((x - y) ** 2).mean()) + 8 * len(data) / x[0].numel() / len(x)


def test_refined_latents_decode_bit_for_bit_and_cost_less(codec_run, digits_test):
    """--refine: the file holds other latents, which the unchanged decoder rebuilds exactly; the
    weights are untouched; what the file costs in rate + lambda x distortion falls."""
    from aegan.coding import Encoder
    from aegan.models.latent_refine import refine
    sub = digits_test.subset(np.arange(200))
    x, codec, before = codec_run.to_model(sub), codec_run.codec, codec_run.fingerprint
    latents = refine(codec, x, 40)
    segments, y_hat = codec._code(x, latents)
    enc = Encoder()
    for s in segments:
        enc.segment(*s)
    data = aegz.pack(aegz.Header(codec_run.fingerprint, codec_run.shape, len(x)), enc.finish())
    dec = Decoder(aegz.unpack(data)[1])
    assert torch.equal(codec.decode(len(x), dec.segment), codec.decode_latents(y_hat))
    assert codec_run.fingerprint == before and all(p.requires_grad and p.grad is None for p in codec.parameters())
    plain, refined = _file_rd(codec_run, sub, codec_run.compress(sub)), _file_rd(codec_run, sub, data)
    assert refined < plain, (refined, plain)


def test_the_header_says_what_the_file_holds(codec_run, digits_test):
    data = codec_run.compress(digits_test)
    assert data[:4] == aegz.MAGIC and data[4] == aegz.FORMAT_VERSION
    header, _ = aegz.unpack(data)
    assert header.shape == (1, 8, 8) and header.count == len(digits_test)
    assert header.fingerprint == codec_run.fingerprint[:aegz.FINGERPRINT_BYTES]
    assert struct.unpack("<I", data[-4:])[0] == zlib.crc32(data[:-4])


def _recrc(body: bytes) -> bytes:
    return body + struct.pack("<I", zlib.crc32(body))


def test_damaged_truncated_newer_and_foreign_files_are_refused(codec_run, digits_test):
    data = codec_run.compress(digits_test.subset(np.arange(20)))
    cases = {
        "not an .aegz file": b"PK\x03\x04" + data[4:],
        "truncated": data[:6],
        "CRC-32 does not match": data[:-10] + bytes([data[-10] ^ 1]) + data[-9:],
        "newer than this aegan": _recrc(data[:4] + bytes([aegz.FORMAT_VERSION + 1]) + data[5:-4]),
        "another model": _recrc(data[:5] + bytes(8) + data[13:-4]),
    }
    for words, bad in cases.items():
        with pytest.raises(aegz.AegzError, match=words):
            codec_run.decompress(bad)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=300))
def test_any_bytes_give_images_or_one_error(codec_run, junk):
    for data in (junk, _recrc(aegz.MAGIC + bytes([1]) + codec_run.fingerprint[:8] + junk)):
        try:
            x = codec_run.decompress(data)
        except aegz.AegzError as e:
            assert "\n" not in str(e)
        else:
            assert x.shape[1:] == (1, 8, 8)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.integers(1, 40), st.binary(min_size=0, max_size=200))
def test_a_well_formed_header_over_a_random_stream_never_crashes(codec_run, count, payload):
    """The range decoder reading noise: images (whatever they show) or the one-line error."""
    header = aegz.Header(codec_run.fingerprint, (1, 8, 8), count)
    try:
        x = codec_run.decompress(aegz.pack(header, payload))
    except aegz.AegzError as e:
        assert "\n" not in str(e)
    else:
        assert x.shape == (count, 1, 8, 8)


def test_frequency_tables_are_exact_integers():
    for pmf in (np.array([0.5, 0.5]), np.array([1e-30, 1.0, 1e-30]), np.full(511, 1 / 511)):
        f = frequencies(pmf)
        assert f.sum() == 1 << PRECISION and f.min() >= 1


def test_compress_and_decompress_from_the_command_line(cli, codec_run, tmp_path):
    run = str(codec_run.path)
    r = cli("compress", run, "--data", "digits", "--out", tmp_path / "t.aegz")
    assert r.code == 0, r.err
    size = (tmp_path / "t.aegz").stat().st_size
    assert f"{size} bytes" in r.out and "359 images" in r.out
    for out in ("d.npy", "d.png", "pngs"):
        r = cli("decompress", tmp_path / "t.aegz", "--run", run, "--out", tmp_path / out)
        assert r.code == 0, r.err
    assert np.load(tmp_path / "d.npy").shape == (359, 1, 8, 8)
    assert len(list((tmp_path / "pngs").glob("*.png"))) == 359
    r = cli("compress", run, "--data", "digits", "--out", tmp_path / "each", "--per-image")
    assert r.code == 0, r.err
    assert len(list((tmp_path / "each").glob("*.aegz"))) == 359
    r = cli("decompress", tmp_path / "each", "--run", run, "--out", tmp_path / "each.npy")
    assert r.code == 0, r.err
    assert np.abs(np.load(tmp_path / "each.npy") - np.load(tmp_path / "d.npy")).max() <= 2e-3  # as above
    r = cli("compress", run, "--data", "digits", "--out", tmp_path / "r.aegz", "--refine", "20")
    assert r.code == 0, r.err
    r = cli("decompress", tmp_path / "r.aegz", "--run", run, "--out", tmp_path / "r.npy")
    assert r.code == 0, r.err
    assert np.load(tmp_path / "r.npy").shape == (359, 1, 8, 8)


def test_bad_input_gets_one_line_and_writes_nothing(cli, codec_run, tmp_path):
    run = str(codec_run.path)
    ae = tmp_path / "ae"
    assert cli("train", "ae", "--data", "digits", "--epochs", "1", "--out", ae, "--quiet").code == 0
    _one_line_error(cli("compress", ae, "--data", "digits", "--out", tmp_path / "a.aegz"), 2, "need a codec run")
    _one_line_error(cli("compress", run, "--data", "digits", "--refine", "-3", "--out", tmp_path / "a.aegz"), 2,
                    "--refine -3")
    np.save(tmp_path / "big.npy", np.zeros((3, 1, 12, 12), np.float32))
    _one_line_error(cli("compress", run, "--data", tmp_path / "big.npy", "--out", tmp_path / "b.aegz"), 1,
                    "(1, 12, 12)")
    _one_line_error(cli("compress", run, "--data", "digits", "--out", tmp_path / "c.png"), 2, ".aegz")
    (tmp_path / "bad.aegz").write_bytes(b"AEGZ\x01" + bytes(30))
    _one_line_error(cli("decompress", tmp_path / "bad.aegz", "--run", run, "--out", tmp_path / "x.npy"), 1,
                    "damaged")
    _one_line_error(cli("decompress", tmp_path / "none.aegz", "--run", run, "--out", tmp_path / "y.npy"), 2,
                    "does not exist")
    assert not any((tmp_path / n).exists() for n in ("a.aegz", "b.aegz", "c.png", "x.npy", "y.npy"))
    good = tmp_path / "good.aegz"
    assert cli("compress", run, "--data", "digits", "--out", good).code == 0
    _one_line_error(cli("compress", run, "--data", "digits", "--out", good), 2, "--overwrite")
    other = tmp_path / "other"
    assert cli("train", "codec", *DIGITS, "--epochs", "1", "--seed", "1", "--out", other, "--quiet").code == 0
    _one_line_error(cli("decompress", good, "--run", other, "--out", tmp_path / "z.npy"), 1, "another model")
    assert not (tmp_path / "z.npy").exists()
    _one_line_error(cli("train", "codec", "--data", "digits", "--lambda", "0", "--out", tmp_path / "l"), 2,
                    "--lambda 0")
    _one_line_error(cli("train", "codec", "--data", "digits", "--stages", "4", "--out", tmp_path / "s"), 1,
                    "too small")
    _one_line_error(cli("train", "codec", "--data", "digits", "--blocks", "5", "--out", tmp_path / "b"), 2,
                    "--blocks 5 must be between 0 and 4")
    _one_line_error(cli("train", "codec", "--data", "digits", "--finetune-steps", "-1", "--out", tmp_path / "f"), 2,
                    "--finetune-steps -1 must be 0 (off) or more")


def test_the_codec_learns_fewer_bits_at_the_same_quality(codec_run):
    """Over its epochs the rate-distortion loss falls by half and the PSNR rises; once the codec has
    learnt to spend bits (its most expensive epoch, usually an early one), the bits fall while the
    PSNR holds: rate and distortion learnt together (seen on the digits at the defaults, batch 8,
    --blocks 1: loss 15.5 -> 4.4, PSNR 11.4 -> 18.3 dB, bits per pixel 1.73 at epoch 2 -> 1.27
    while the PSNR rose from 14.5 dB; the test asks for a tenth fewer bits, under half the fall
    seen, and a higher PSNR)."""
    m = codec_run.metrics()
    first, last = m[0], m[-1]
    assert last["val_loss"] < 0.5 * first["val_loss"], (first, last)
    assert last["val_psnr"] > first["val_psnr"] + 2, (first, last)
    peak = max(m[:-1], key=lambda e: e["val_bpp"])
    assert last["val_bpp"] < 0.9 * peak["val_bpp"], (peak, last)
    assert last["val_psnr"] > peak["val_psnr"], (peak, last)


def test_the_last_phase_on_rounded_latents_is_logged_and_lowers_their_loss(codec_run):
    """train codec ends with a phase on rounded latents (runs/codec.finetune_rounded), by default a
    quarter of the training's batches: its record closes metrics.jsonl, and it is kept only for a
    lower validation loss, so a kept phase must have lowered it (a phase that learnt nothing or
    made things worse shows the loss before and after equal)."""
    m = codec_run.metrics()
    last, trained = m[-1], m[-2]
    assert last["phase"] == "finetune-rounded" and last["epoch"] == trained["epoch"] == 8, last
    assert last["finetune_steps"] == min(4000, trained["step"] // 4), (last, trained)
    assert trained["val_loss"] == last["val_loss_before"], (trained, last)
    assert last["val_loss"] < last["val_loss_before"], last


def test_finetuning_on_rounded_latents_makes_files_smaller(tmp_path):
    """The phase on a codec trained without it: the files of held-out images get smaller while their
    PSNR holds, and the analysis transform (what made the latents) does not move. Seen on the
    digits, 3000 steps on the codec_run settings: 10.31 -> 9.96 bytes per image (-3.5%) and +0.04 dB;
    the test asks for 1.5% fewer bytes and at most 0.1 dB less."""
    from aegan.accel import Accel
    from aegan.cli import main
    from aegan.data.feed import TensorFeed
    from aegan.runs.codec import finetune_rounded
    from aegan.runs.recipe import split_feed
    from aegan.train import Control
    out = tmp_path / "run"
    assert main(["train", "codec", *DIGITS, "--epochs", "8", "--lambda", "0.003", "--finetune-steps", "0",
                 "--out", str(out), "--quiet"]) == 0
    run = aegan.load(out)
    assert not any(r.get("phase") for r in run.metrics())

    def file_of_test_images():  # the whole file's bytes and its PSNR, over the 359 test images
        e = run.evaluation(1000, None, 0)
        return e["bytes_per_image"]["value"], e["psnr"]["value"]

    size, psnr = file_of_test_images()
    analysis = {k: v.clone() for k, v in run.codec.g_a.state_dict().items()}
    x_val, x_train = split_feed(TensorFeed(run.to_model(aegan.load_dataset("digits", "train")), None),
                                run.config.train)  # the training's own split
    run.codec.train()
    record = finetune_rounded(run.codec, x_train, x_val, 3000, run.config.train, Accel(), Control())
    run.codec.eval()
    run.codec.build_tables()
    assert record["val_loss"] < record["val_loss_before"], record
    assert all(torch.equal(v, run.codec.g_a.state_dict()[k]) for k, v in analysis.items())
    assert all(p.requires_grad for p in run.codec.parameters())
    new_size, new_psnr = file_of_test_images()
    assert new_size < 0.985 * size and new_psnr > psnr - 0.1, (size, new_size, psnr, new_psnr)


def test_evaluate_reports_file_bytes_and_psnr(cli, codec_run):
    r = cli("evaluate", codec_run.path, "--json")
    assert r.code == 0, r.err
    result = json.loads(r.out)
    assert result["n"] == 359 and result["bytes_per_image"]["value"] > 0 and 5 < result["psnr"]["value"] < 60


@pytest.fixture(scope="module")
def vq_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("vq") / "run"
    from aegan.cli import main
    assert main(["train", "vqvae", "--data", "digits", "--code-dim", "16", "--vq-dim", "2", "--codebook-size", "32",
                 "--hidden", "64", "--epochs", "6", "--out", str(out), "--quiet"]) == 0
    return aegan.load(out)


def test_vqvae_logs_codebook_use_and_learns(vq_run):
    m = vq_run.metrics()
    for key in ("train_perplexity", "train_usage", "val_perplexity", "train_commitment", "val_recon"):
        assert key in m[-1], sorted(m[-1])
    assert m[-1]["val_recon"] < 0.5 * m[0]["val_recon"], (m[0]["val_recon"], m[-1]["val_recon"])
    assert m[-1]["val_perplexity"] > 2  # no collapse onto one or two entries


def test_vqvae_restarts_dead_codes_at_encoder_outputs():
    from aegan.config import ModelConfig
    from aegan.models import build_model
    torch.manual_seed(0)
    m = build_model(ModelConfig(family="vqvae", code_dim=8, vq_dim=2, codebook_size=16, hidden=(32,)), "table",
                    (10,), None)
    m.codebook[1:] = 1e3  # 15 entries no output can reach
    m.ema_sum[1:] = 1e3
    m.ema_count[1:] = 0.0
    x = torch.randn(64, 10)
    m.train()
    m.loss(x)
    outputs = m.encoder(x).detach().reshape(-1, 2)
    for row in m.codebook[1:]:
        assert torch.isclose(outputs, row).all(1).any()  # each restarted at one of the batch's vectors


def test_vqvae_files_hold_the_indices_and_decode_on_the_same_codes(vq_run, digits_test):
    sub = digits_test.subset(np.arange(100))
    with pytest.raises(aegan.UsageError, match="--refine 5: only codec runs"):
        vq_run.compress(sub, refine=5)
    data = vq_run.compress(sub)
    _, payload = aegz.unpack(data)
    rows = np.broadcast_to(np.arange(vq_run.model.positions), (100, vq_run.model.positions))
    got = Decoder(payload).segment(rows, vq_run.model.tables())
    assert np.array_equal(got, vq_run.model.indices(vq_run.to_model(sub)).numpy())
    back = vq_run.decompress(data)
    # the decoder of the same codes on batches of the same size: exactly the reconstruction
    assert np.array_equal(back, vq_run.reconstruct(sub))
    assert len(data) < 100 * vq_run.model.positions * 5 / 8 + 40  # under 5 of the 5 bits per index, header aside


def test_vqvae_tables_come_from_integer_arithmetic():
    from aegan.models.vqvae import CountTables
    rng = np.random.default_rng(0)
    freq = rng.random((3, 50)).astype(np.float32)
    freq[1] = 0.0
    for r in range(3):
        f, offset = CountTables(freq).row(r)
        assert offset == 0 and f.sum() == 1 << PRECISION and f.min() >= 1
        assert np.array_equal(f, CountTables(freq.copy()).row(r)[0])


def test_only_codec_and_vqvae_runs_compress(cli, tmp_path):
    ae = tmp_path / "ae"
    assert cli("train", "ae", "--data", "digits", "--epochs", "1", "--out", ae, "--quiet").code == 0
    _one_line_error(cli("compress", ae, "--data", "digits", "--out", tmp_path / "a.aegz"), 2,
                    "an ae autoencoder run", "vqvae")
    _one_line_error(cli("train", "vqvae", "--data", "digits", "--code-dim", "10", "--vq-dim", "4", "--out",
                        tmp_path / "v"), 2, "--code-dim 10 is not a multiple of --vq-dim 4")


def test_a_single_symbol_table_costs_nothing_and_decodes():
    """A channel training made constant gets a one-symbol table: constriction cannot code with it,
    and need not, since the symbol is certain (seen at lambda 0.001 on Fashion-MNIST)."""
    from aegan.coding import Encoder

    class Rows:
        def row(self, r):
            return (np.array([1 << PRECISION]), 3) if r == 0 else (frequencies(np.array([0.25, 0.5, 0.25])), -1)

    symbols = np.array([[3, -1, 3, 1, 3, 0]])
    rows = np.array([[0, 1, 0, 1, 0, 1]])
    enc = Encoder()
    enc.segment(symbols, rows, Rows())
    assert np.array_equal(Decoder(enc.finish()).segment(rows, Rows()), symbols)


def test_a_stop_in_the_last_phase_is_one_line_and_resume_runs_it_again(tmp_path):
    """SIGTERM (or Ctrl-C) during the phase on rounded latents: exit 143 with one line that says so and
    how to go on; the folder keeps the last epoch's checkpoint, and --resume runs the phase from its
    start, to the weights an uninterrupted run ends with, byte for byte."""
    import signal
    import subprocess
    import sys
    import time

    from aegan import checkpoint

    def train(out):
        argv = ["train", "codec", *DIGITS, "--epochs", "1", "--finetune-steps", "400", "--out", out, "--quiet"]
        return subprocess.Popen([sys.executable, "-m", "aegan", *map(str, argv)], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)

    ref, out = tmp_path / "ref", tmp_path / "stopped"
    assert train(ref).wait(300) == 0
    proc, deadline = train(out), time.time() + 120
    while not checkpoint.checkpoints(out) and proc.poll() is None:  # the epoch's end: the phase begins
        assert time.time() < deadline, "the run wrote no checkpoint"
        time.sleep(0.02)
    time.sleep(0.5)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(60) == 143, proc.stderr.read()
    err = proc.stderr.read().strip().splitlines()
    assert len(err) == 1 and "of the last phase on rounded latents" in err[0], err
    assert f"aegan train --resume {out}" in err[0], err
    assert [m.get("phase") for m in checkpoint.read_jsonl(out / "metrics.jsonl")] == [None]
    r = subprocess.run([sys.executable, "-m", "aegan", "train", "--resume", str(out), "--quiet"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert (ref / "model.safetensors").read_bytes() == (out / "model.safetensors").read_bytes()
    assert ([m.get("phase") for m in checkpoint.read_jsonl(out / "metrics.jsonl")]
            == [m.get("phase") for m in checkpoint.read_jsonl(ref / "metrics.jsonl")] == [None, "finetune-rounded"])
