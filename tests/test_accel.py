"""--device, --precision and --compile: what runs on this CPU-only machine."""

import pytest
import torch

from aegan.accel import Accel, resolve_device
from aegan.checkpoint import checkpoints, load_state


def _one_line(r, code, *words):
    assert r.code == code, (r.code, r.err)
    assert len(r.err.strip().splitlines()) == 1 and "Traceback" not in r.err, r.err
    for w in words:
        assert w in r.err, (w, r.err)


def test_auto_is_the_cpu_here_and_missing_accelerators_are_one_line_errors(cli, tmp_path):
    if torch.cuda.is_available():
        pytest.skip("a CUDA GPU is present")
    assert resolve_device("auto") == torch.device("cpu")
    r = cli("train", "ae", "--data", "digits", "--device", "cuda", "--out", tmp_path / "r")
    _one_line(r, 2, "--device cuda", "--device cpu")
    r = cli("train", "gan", "--data", "digits", "--device", "mps", "--out", tmp_path / "r")
    _one_line(r, 2, "--device mps")
    r = cli("train", "ae", "--data", "digits", "--precision", "fp8", "--out", tmp_path / "r")
    assert r.code == 2 and "fp8" in r.err
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_half_precision_training_learns_and_keeps_its_scaler(cli, tmp_path, precision):
    out = tmp_path / precision
    r = cli("train", "ae", "--data", "digits", "--arch", "conv", "--precision", precision, "--epochs", "3",
            "--code-dim", "8", "--out", out, "--quiet")
    assert r.code == 0, r.err
    import json
    hist = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert hist[-1]["train_loss"] < 0.6 * hist[0]["train_loss"], hist
    state = load_state(checkpoints(out)[-1] / "state.pt")
    assert len(state["scalers"]) == (1 if precision == "fp16" else 0)
    assert cli("train", "--resume", out, "--quiet").code == 0


def test_fp16_scaler_state_round_trips_through_a_resume(cli, tmp_path):
    out = tmp_path / "g"
    args = ["train", "gan", "--data", "digits", "--precision", "fp16", "--batch-size", "64", "--conv-channels", "16,32",
            "--max-samples", "640", "--out", out, "--quiet"]  # small: fp16 on a CPU is emulated, and slow
    assert cli(*args, "--epochs", "1").code == 0
    scale = load_state(checkpoints(out)[-1] / "state.pt")["scalers"][0]["scale"]
    assert scale > 0
    # continue the same folder to 2 epochs: resume loads the optimisers and scalers
    import json
    cfg = json.loads((out / "config.json").read_text())
    cfg["train"]["epochs"] = 2
    (out / "config.json").write_text(json.dumps(cfg))
    assert cli("train", "--resume", out, "--quiet").code == 0
    assert len((out / "metrics.jsonl").read_text().splitlines()) == 2


def test_compiled_step_trains_like_the_eager_one(cli, tmp_path):
    losses = {}
    for name, flags in (("eager", []), ("compiled", ["--compile"])):
        out = tmp_path / name
        r = cli("train", "ae", "--preset", "classic", "--data", "digits", "--epochs", "2", *flags, "--out", out, "--quiet")
        assert r.code == 0, r.err
        import json
        losses[name] = json.loads((out / "metrics.jsonl").read_text().splitlines()[-1])["val_loss"]
    assert losses["compiled"] == pytest.approx(losses["eager"], rel=1e-3)


def test_accel_from_config_rejects_an_unknown_precision():
    from aegan.config import TrainConfig
    from aegan.errors import UsageError
    with pytest.raises(UsageError, match="fp64"):
        Accel.from_config(TrainConfig(precision="fp64"))
    assert Accel.from_config(TrainConfig()).autocast().__class__.__name__ == "nullcontext"


def test_loader_workers_default_to_none_on_the_cpu_and_conv_nets_go_channels_last():
    acc = Accel()
    assert acc.loader_workers(None) == 0 and acc.loader_workers(3) == 3
    from aegan.config import ModelConfig
    from aegan.models import build_model
    net = acc.place(build_model(ModelConfig(family="ae", arch="conv"), "image", (1, 28, 28), (0.0, 1.0)))
    w = net.encoder.convs[3].weight  # 32 -> 64 channels (with 1 input channel both layouts agree)
    assert w.is_contiguous(memory_format=torch.channels_last) and not w.is_contiguous()
    Accel.release(net)
    assert net.encoder.convs[3].weight.is_contiguous()
