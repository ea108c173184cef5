"""aegan tune: a tiny study finds better settings than its first trial, pruning stops trials early,
kill -9 then --resume loses and repeats nothing, two processes share a study (journal file and a
real PostgreSQL server), best.json trains as it is, and bad input is refused in one line."""

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from aegan.tuning.study import load, read_spec

# digits, a small MLP autoencoder: each epoch takes a fraction of a second
TINY = ["--data", "digits", "--max-samples", "600"]
# for the tests that stop or share a running study: trials of a second or two (80 steps an epoch)
SLOW = ["--data", "digits", "--batch-size", "16", "--epochs", "10"]


def study_of(folder):
    spec = read_spec(folder)
    return spec, load(spec, folder)


def states(study) -> dict:
    return {t.number: t.state.name for t in study.trials}


def aegan_proc(*args, **kw) -> subprocess.Popen:
    env = {**os.environ, "AEGAN_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([sys.executable, "-m", "aegan", *map(str, args)], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, **kw)


def wait_for(path: Path, proc: subprocess.Popen, seconds: float = 120) -> None:
    end = time.time() + seconds
    while not path.exists():
        assert proc.poll() is None, f"the process ended before {path} appeared:\n{proc.stdout.read()}"
        assert time.time() < end, f"{path} did not appear in {seconds} s"
        time.sleep(0.05)


def test_tiny_study_beats_its_first_trial_and_best_json_trains_as_it_is(cli, tmp_path):
    out = tmp_path / "study"
    r = cli("tune", "ae", *TINY, "--epochs", "1", "--trials", "6", "--pruner", "none", "--out", out)
    assert r.code == 0, r.err
    assert r.out.count("trial ") >= 6 and "best: trial" in r.out and "aegan train --config" in r.out
    spec, study = study_of(out)
    values = {t.number: t.value for t in study.trials}
    assert len(values) == 6 and all(v is not None for v in values.values())
    assert study.best_value < values[0]  # the search found better settings than its first draw
    # every trial is an ordinary run folder, numbered as the study numbers it
    assert sorted(p.name for p in (out / "trials").iterdir()) == [f"{n:04d}" for n in range(6)]
    best = json.loads((out / "best.json").read_text())
    assert best["tuned"]["trial"] == study.best_trial.number
    assert best["train"]["lr"] == pytest.approx(study.best_trial.params["lr"])
    # trainable as it is: the same seed and settings give the trial's own validation value again
    r = cli("train", "--config", out / "best.json", "--out", tmp_path / "best", "--quiet")
    assert r.code == 0, r.err
    last = json.loads((tmp_path / "best" / "metrics.jsonl").read_text().splitlines()[-1])
    assert last["val_recon"] == pytest.approx(study.best_value, rel=1e-5)
    r = cli("report", out)
    assert r.code == 0, r.err
    page = (out / "report.html").read_text()
    assert "Optimisation history" in page and "Parameter importances" in page and "data:image/png" in page
    assert (out / "trials" / f"{study.best_trial.number:04d}" / "report.html").is_file()  # linked from the page


def test_pruned_trials_stop_early(cli, tmp_path):
    # one setting with a good and a hopeless value: once a good trial has finished its first epoch, a
    # hopeless one (lr 1e-6) is worse there by far and successive halving stops it after that epoch
    space = tmp_path / "space.yaml"
    space.write_text("lr:\n  choices: [0.01, 0.000001]\n")
    out = tmp_path / "study"
    r = cli("tune", "ae", *TINY, "--epochs", "3", "--trials", "8", "--sampler", "random", "--pruner", "halving",
            "--code-dim", "8", "--hidden", "64", "--batch-size", "64", "--space", space, "--checks-per-epoch", "1",
            "--out", out)
    assert r.code == 0, r.err
    assert "pruned at epoch 1 " in r.out
    _, study = study_of(out)
    pruned = [t for t in study.trials if t.state.name == "PRUNED"]
    assert any(t.params["lr"] == 1e-6 for t in pruned)
    for t in pruned:  # it stopped: one epoch in its run folder, not three
        lines = (out / t.user_attrs["folder"] / "metrics.jsonl").read_text().splitlines()
        assert len(lines) == 1 and t.user_attrs["epochs"] == 1
    assert "searching lr {0.01 | 1e-06}" in r.out


def test_checks_inside_an_epoch_prune_there(cli, tmp_path):
    # 4 checks per epoch (the default): the hopeless trial stops at a quarter of its first epoch
    space = tmp_path / "space.yaml"
    space.write_text("lr:\n  choices: [0.01, 0.000001]\n")
    out = tmp_path / "study"
    r = cli("tune", "ae", *TINY, "--epochs", "2", "--trials", "8", "--sampler", "random", "--pruner", "halving",
            "--code-dim", "8", "--hidden", "64", "--batch-size", "16", "--space", space, "--out", out)
    assert r.code == 0, r.err
    spec, study = study_of(out)
    assert spec.checks == 4
    pruned = [t for t in study.trials if t.state.name == "PRUNED"]
    assert any(t.params["lr"] == 1e-6 and t.user_attrs["epochs"] < 1 for t in pruned)
    assert re.search(r"pruned at epoch 0\.\d+ \(val_recon", r.out)  # the share of the epoch's batches done
    for t in pruned:  # the steps reported are the quarters trained: 1, 2, ... up to where it stopped
        assert sorted(t.intermediate_values) == list(range(1, round(t.user_attrs["epochs"] * 4) + 1))
    complete = [t for t in study.trials if t.state.name == "COMPLETE"]
    assert complete and all(sorted(t.intermediate_values) == list(range(1, 9)) for t in complete)
    from aegan.tuning.report import epochs_spent
    assert epochs_spent(study) == pytest.approx(sum(t.user_attrs["epochs"] for t in study.trials), abs=1e-3)
    assert epochs_spent(study) < 2 * len(study.trials)


@pytest.mark.parametrize("model", ["dae", "vae"])
def test_checks_leave_training_as_it_is(tmp_path, model):
    # the checks evaluate the validation split with the random streams forked: the weights are the
    # very same as without them (a DAE's noise and a VAE's sampling draw from those streams)
    import torch

    from aegan.config import ModelConfig, RunConfig, TrainConfig
    from aegan.data import load_dataset
    from aegan.runs.registry import fit
    ds = load_dataset("digits", "train").subset(range(300))
    cfg = RunConfig(model=ModelConfig(family=model), train=TrainConfig(epochs=2, batch_size=32))
    seen = []
    plain = fit(ds, cfg, progress=False)
    checked = fit(ds, cfg, progress=False, observe=lambda record, run: seen.append(record), checks_per_epoch=4)
    for epoch in (1, 2):  # three checks inside each epoch, then its own record
        fractions = [r.get("fraction") for r in seen if r["epoch"] == epoch]
        assert fractions[-1] is None and 0 < fractions[0] < fractions[1] < fractions[2] < 1, fractions
    assert all("val_loss" in r and "train_loss" in r for r in seen)
    for (k, a), b in zip(plain.module.state_dict().items(), checked.module.state_dict().values()):
        assert torch.equal(a, b), k


def test_kill_9_then_resume_loses_and_repeats_nothing(tmp_path):
    out = tmp_path / "study"
    proc = aegan_proc("tune", "ae", *SLOW, "--trials", "4", "--pruner", "none", "--out", out)
    wait_for(out / "trials" / "0001" / "metrics.jsonl", proc)  # trial 1 is under way
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    _, study = study_of(out)
    before = {t.number: (t.state.name, t.value, dict(t.params)) for t in study.trials}
    assert before[0][0] == "COMPLETE" and before[1][0] == "RUNNING"
    first_metrics = (out / "trials" / "0000" / "metrics.jsonl").read_text()

    r = subprocess.run([sys.executable, "-m", "aegan", "tune", "--resume", str(out)], capture_output=True, text=True,
                       env={**os.environ, "AEGAN_THREADS": "1"})
    assert r.returncode == 0, r.stderr
    assert "trial 1 was cut off and runs again" in r.stdout
    _, study = study_of(out)
    trials = {t.number: t for t in study.trials}
    finished = [t for t in trials.values() if t.state.name in ("COMPLETE", "PRUNED")]
    assert len(finished) == 4  # what was asked, no more
    assert trials[0].value == before[0][1] and trials[0].state.name == "COMPLETE"  # kept, not run again
    assert (out / "trials" / "0000" / "metrics.jsonl").read_text() == first_metrics
    assert trials[1].state.name == "FAIL"
    retried = [t for t in finished if t.user_attrs.get("retry_of") == 1]
    assert len(retried) == 1 and retried[0].params == before[1][2]  # the cut-off trial ran again, once
    params = [tuple(sorted(t.params.items())) for t in finished]
    assert len(set(params)) == len(params)  # no finished trial repeated
    assert sorted(trials) == list(range(len(trials)))


def test_ctrl_c_stops_the_study_and_resume_runs_the_cut_off_trial_again(tmp_path):
    out = tmp_path / "study"
    proc = aegan_proc("tune", "ae", *SLOW, "--trials", "3", "--pruner", "none", "--out", out)
    wait_for(out / "trials" / "0001" / "metrics.jsonl", proc)
    proc.send_signal(signal.SIGINT)
    text, _ = proc.communicate(timeout=120)
    assert proc.returncode == 130, text
    assert "aegan tune --resume" in text and "Traceback" not in text
    _, study = study_of(out)
    assert states(study)[1] == "FAIL" and len(study.trials) == 3  # the third: trial 1 queued again
    r = subprocess.run([sys.executable, "-m", "aegan", "tune", "--resume", str(out)], capture_output=True, text=True,
                       env={**os.environ, "AEGAN_THREADS": "1"})
    assert r.returncode == 0, r.stderr
    _, study = study_of(out)
    retried = [t for t in study.trials if t.user_attrs.get("retry_of") == 1]
    assert len(retried) == 1 and retried[0].state.name == "COMPLETE"
    assert retried[0].params == study.trials[1].params


def _two_workers(out: Path, first: list, trials: int) -> tuple[str, str]:
    # trials of about 15 s (SLOW's 10 epochs), so that the second worker, started once trial 0 is under way,
    # joins while the first still has trials to run
    a = aegan_proc("tune", "ae", *SLOW, "--trials", trials, "--pruner", "none", "--out", out, *first)
    wait_for(out / "trials" / "0000", a)
    b = aegan_proc("tune", "--resume", out)
    out_b, _ = b.communicate(timeout=600)
    out_a, _ = a.communicate(timeout=600)
    assert a.returncode == 0 and b.returncode == 0, out_a + out_b
    return out_a, out_b


def _check_shared(out: Path, trials: int) -> None:
    _, study = study_of(out)
    numbers = [t.number for t in study.trials]
    assert sorted(numbers) == list(range(len(numbers)))  # every trial number exactly once
    finished = [t for t in study.trials if t.state.name in ("COMPLETE", "PRUNED")]
    assert trials <= len(finished) <= trials + 1  # a worker may finish one started before the last ended
    assert len({t.user_attrs["pid"] for t in study.trials}) == 2  # both processes ran trials
    folders = [t.user_attrs["folder"] for t in study.trials]
    assert len(set(folders)) == len(folders)
    assert sorted(p.name for p in (out / "trials").iterdir()) == sorted(Path(f).name for f in folders)


def test_two_processes_share_a_study_journal_file(tmp_path):
    out = tmp_path / "study"
    _two_workers(out, [], 6)
    _check_shared(out, 6)


def _find_initdb():
    import glob
    import shutil
    found = shutil.which("initdb") or sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return found if isinstance(found, str) else (found[-1] if found else None)


@pytest.fixture
def postgres(tmp_path_factory):
    """A throwaway PostgreSQL server on a free local port (Debian's postgresql, which make test installs
    where apt-get works as root); its URL."""
    import shutil
    import socket
    import tempfile
    pytest.importorskip("psycopg", reason="psycopg is not installed (pip install -e '.[test]')")
    initdb = _find_initdb()
    if initdb is None:
        pytest.skip("PostgreSQL is not installed (make test installs Debian's postgresql where apt-get works as root)")
    bindir = Path(initdb).resolve().parent
    as_user = []
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root: as its own user
        if shutil.which("runuser") is None:
            pytest.skip("running as root without runuser: cannot start PostgreSQL as another user")
        try:
            import pwd
            pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and there is no 'postgres' user to start PostgreSQL as")
        as_user = ["runuser", "-u", "postgres", "--"]
    root = Path(tempfile.mkdtemp(prefix="aegan-pg-"))
    data = root / "data"
    os.chmod(root, 0o755)
    if as_user:
        shutil.chown(root, "postgres")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    subprocess.run([*as_user, str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8"],
                   check=True, capture_output=True)
    subprocess.run([*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-w", "-l", str(root / "log"), "-o",
                    f"-p {port} -k {root} -c listen_addresses=127.0.0.1", "start"], check=True, capture_output=True)
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
                       capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


def test_two_processes_share_a_study_in_postgresql(tmp_path, postgres):
    out = tmp_path / "study"
    _two_workers(out, ["--storage", postgres, "--study-name", "shared"], 6)
    assert not (out / "journal.log").exists()  # the study lives in the database
    spec = read_spec(out)
    assert spec.storage == postgres
    _check_shared(out, 6)


@pytest.mark.parametrize("args, message", [
    (["tune", "nope", "--data", "digits", "--out", "S"], "invalid choice: 'nope'"),
    (["tune", "ae", "--data", "digits", "--metric", "val_psnr", "--out", "S"], "--metric 'val_psnr' is not recorded"),
    (["tune", "ae", "--data", "digits", "--trials", "0", "--out", "S"], "--trials 0 must be at least 1"),
    (["tune", "vae", "--data", "digits", "--checks-per-epoch", "0", "--out", "S"], "--checks-per-epoch 0 must be"),
    (["tune", "ae", "--data", "digits", "--storage", "postgresql://nobody@127.0.0.1:1/none", "--out", "S"],
     "cannot reach the database"),
    (["tune", "ae", "--data", "digits", "--storage", "study.db", "--out", "S"], "is not a database URL"),
    (["tune", "--resume", "S"], "does not exist"),
    (["tune"], "needs a model"),
])
def test_bad_input_is_one_line_and_writes_nothing(cli, tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    r = cli(*args)
    assert r.code == 2, r.out + r.err
    assert message in r.err and len(r.err.strip().splitlines()) == 1 and "Traceback" not in r.err
    assert not (tmp_path / "S").exists()


@pytest.mark.parametrize("text, message", [
    ('{"nope": {"low": 1, "high": 2}}', "'nope' is not a setting of ae"),
    ('{"lr": {"low": 0.1, "high": 0.001}}', "low 0.1 is above high 0.001"),
    ('{"lr": {"low": 0, "high": 0.1, "log": true}}', "a log range needs low > 0"),
    ('{"lr": [1, 2]}', "expected"),
    ('{"lr": ', "not valid JSON"),
    ('[1, 2]', "expected an object"),
    ('{"hidden": {"low": 1, "high": 4}}', "hidden is not a number; give its values as choices"),
    ('{"batch_size": {"choices": [32, "big"]}}', 'the choice "big" is not a whole number'),
    ('{"sparsity": {"low": 0.1, "high": 1}}', "'sparsity' is not a setting of ae"),
])
def test_bad_space_file(cli, tmp_path, monkeypatch, text, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "space.json").write_text(text)
    r = cli("tune", "ae", "--data", "digits", "--space", "space.json", "--out", "S")
    assert r.code == 2 and message in r.err and len(r.err.strip().splitlines()) == 1, r.err
    assert not (tmp_path / "S").exists()


def test_resume_of_a_run_folder_is_refused(cli, digits_run):
    r = cli("tune", "--resume", digits_run)
    assert r.code == 2 and "is not a study folder" in r.err


def test_fixed_flags_stay_fixed_and_the_space_is_declared_per_family(cli, tmp_path):
    out = tmp_path / "study"
    r = cli("tune", "vae", *TINY, "--epochs", "1", "--trials", "2", "--lr", "0.002", "--code-dim", "4", "--out", out)
    assert r.code == 0, r.err
    assert "minimize val_nelbo" in r.out and "beta" in r.out
    spec, study = study_of(out)
    assert "lr" not in spec.space and "code_dim" not in spec.space and "beta" in spec.space
    for t in study.trials:
        cfg = json.loads((out / t.user_attrs["folder"] / "config.json").read_text())
        assert cfg["train"]["lr"] == 0.002 and cfg["model"]["code_dim"] == 4
        assert cfg["model"]["beta"] == pytest.approx(t.params["beta"])


def test_gan_study_on_a_toy_uses_the_mode_histogram(cli, tmp_path):
    out = tmp_path / "study"
    r = cli("tune", "gan", "--data", "ring", "--max-samples", "1024", "--epochs", "1", "--trials", "2",
            "--out", out)
    assert r.code == 0, r.err
    assert "minimize mode_reverse_kl" in r.out
    _, study = study_of(out)
    assert all(t.value is not None and t.value >= 0 for t in study.trials)


def test_a_setting_that_always_fails_stops_the_study_with_its_reason(cli, tmp_path):
    space = tmp_path / "space.json"
    space.write_text('{"noise_level": {"low": 1.0, "high": 2.0}}')  # mask noise needs a level below 1
    r = cli("tune", "dae", *TINY, "--epochs", "1", "--trials", "6", "--noise", "mask", "--space", space,
            "--out", tmp_path / "study")
    assert r.code == 1
    assert r.out.count("failed: --noise-level") == 3 and "(and < 1 for mask noise)" in r.out
    assert "no trial finished with a value" in r.out


def test_a_small_table_bounds_the_code_size(cli, tmp_path):
    import numpy as np
    np.save(tmp_path / "t.npy", np.random.default_rng(0).normal(size=(300, 6)).astype(np.float32))
    r = cli("tune", "ae", "--data", tmp_path / "t.npy", "--epochs", "1", "--trials", "3", "--out", tmp_path / "s")
    assert r.code == 0, r.out + r.err
    assert "code_dim 2..6 log int" in r.out and "failed" not in r.out
    spec, study = study_of(tmp_path / "s")
    assert Path(spec.config["data"]["data"]).is_absolute()  # found again from any folder
    assert all(t.state.name == "COMPLETE" and t.params["code_dim"] <= 6 for t in study.trials)


def test_timeout_and_a_sqlite_database(cli, tmp_path):
    db = tmp_path / "studies.db"
    out = tmp_path / "s"
    r = cli("tune", "ae", *TINY, "--epochs", "1", "--trials", "200", "--timeout", "2", "--storage", f"sqlite:///{db}",
            "--out", out)
    assert r.code == 0, r.err
    spec, study = study_of(out)
    assert db.is_file() and not (out / "journal.log").exists() and spec.storage == f"sqlite:///{db}"
    assert 1 <= len(study.trials) < 200  # no trial is started after the timeout
    assert (out / "best.json").is_file()


def test_a_codec_trial_is_worth_what_its_last_phase_leaves(cli, tmp_path):
    # train codec ends with a phase on rounded latents after its epochs (runs/codec.py); the weights a
    # trial leaves, and best.json retrains, are those after it, so the trial's value is the phase's
    space = tmp_path / "space.yaml"
    space.write_text("lr:\n  choices: [0.003, 0.005]\n")
    out = tmp_path / "study"
    r = cli("tune", "codec", "--data", "digits", "--hidden-channels", "16", "--latent-channels", "16",
            "--blocks", "0", "--batch-size", "32", "--epochs", "2", "--finetune-steps", "300", "--trials", "2",
            "--sampler", "random", "--pruner", "none", "--space", space, "--out", out)
    assert r.code == 0, r.out + r.err
    _, study = study_of(out)
    assert len(study.trials) == 2
    for t in study.trials:
        lines = (out / t.user_attrs["folder"] / "metrics.jsonl").read_text().splitlines()
        epoch, phase = json.loads(lines[-2]), json.loads(lines[-1])
        assert phase["phase"] == "finetune-rounded" and t.user_attrs["before_phase"] == epoch["val_loss"]
        # the phase is kept only where it lowered the validation loss: then the value is below the epoch's
        assert t.value == phase["val_loss"] < epoch["val_loss"], (t.value, epoch["val_loss"])
