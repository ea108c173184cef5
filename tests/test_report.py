"""`aegan report`: a self-contained HTML page whose every picture decodes, for autoencoder,
GAN and toy runs and several runs side by side; opened in headless Chromium when present."""

import base64
import io
import re
import shutil
import subprocess

import pytest
from PIL import Image

URI = re.compile(r'<img src="data:image/png;base64,([^"]+)"')


def _pictures(page: str) -> list[Image.Image]:
    out = []
    for b64 in URI.findall(page):
        img = Image.open(io.BytesIO(base64.b64decode(b64)))
        img.load()
        out.append(img)
    return out


def test_autoencoder_report_has_every_part(cli, digits_run, tmp_path):
    run = tmp_path / "ae"
    shutil.copytree(digits_run, run)
    assert cli("evaluate", run, "--n", "300").code == 0
    r = cli("report", run)
    assert r.code == 0, r.err
    page = (run / "report.html").read_text()
    assert (run / "latent_map.png").is_file() and (run / "traversal.png").is_file()
    for part in ("Training curves", "Evaluation", "Reconstructions over the epochs", "Latent map",
                 "Decoded traversal", "Configuration", "linear_probe"):
        assert part in page, part
    assert len(_pictures(page)) >= 5
    assert "http://" not in page and "https://" not in page  # nothing fetched from a network


def test_gan_reports_and_side_by_side(cli, digits_run, tmp_path):
    gan = tmp_path / "cgan"
    assert cli("train", "gan", "--data", "digits", "--conditional", "--epochs", "2", "--out", gan, "--quiet").code == 0
    toy = tmp_path / "ring"
    assert cli("train", "gan", "--data", "ring", "--epochs", "1", "--max-samples", "2000", "--out", toy,
               "--quiet").code == 0
    out = tmp_path / "all.html"
    r = cli("report", gan, toy, digits_run, "--out", out)
    assert r.code == 0, r.err
    page = out.read_text()
    for part in ("Side by side", "one row per class", "Latent interpolation", "Samples over the modes"):
        assert part in page, part
    assert all(img.width > 0 for img in _pictures(page))
    r = cli("report", gan, "--out", out)
    assert r.code == 2 and "already exists" in r.err  # an explicit --out is not clobbered


CHECK = """<script>window.addEventListener('load', () => {
  const bad = [...document.images].filter(i => !(i.complete && i.naturalWidth > 0)).length;
  document.body.setAttribute('data-check', 'images=' + document.images.length + ' broken=' + bad);
});</script></body>"""


def test_report_in_headless_chromium(cli, digits_run, tmp_path):
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("Chromium is not installed (apt-get install chromium); the HTML checks above still ran")
    run = tmp_path / "ae"
    shutil.copytree(digits_run, run)
    assert cli("report", run).code == 0
    page = (run / "report.html").read_text().replace("</body>", CHECK)
    probe = tmp_path / "probe.html"
    probe.write_text(page)
    flags = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr", "--v=0",
             "--virtual-time-budget=5000"]
    r = subprocess.run(flags + ["--dump-dom", probe.as_uri()], capture_output=True, text=True, timeout=120)
    found = re.search(r'data-check="images=(\d+) broken=(\d+)"', r.stdout)
    assert found, r.stdout[-500:] + r.stderr[-2000:]
    assert int(found.group(1)) >= 5 and found.group(2) == "0"
    assert "Uncaught" not in r.stderr and "CONSOLE" not in r.stderr, r.stderr[-2000:]
    shot = tmp_path / "report.png"
    subprocess.run(flags + ["--window-size=1200,2400", f"--screenshot={shot}", (run / "report.html").as_uri()],
                   capture_output=True, timeout=120)
    assert shot.is_file() and Image.open(shot).size == (1200, 2400)


def test_tensorboard_logs_scalars_and_pictures(cli, tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    out = tmp_path / "run"
    r = cli("train", "ae", "--data", "digits", "--arch", "conv", "--epochs", "2", "--tensorboard", "--out", out,
            "--quiet")
    assert r.code == 0, r.err
    acc = EventAccumulator(str(out / "tb"))
    acc.Reload()
    assert [e.step for e in acc.Scalars("train_loss")] == [1, 2]
    assert "reconstructions" in acc.Tags()["images"]


def test_tensorboard_missing_is_one_line_and_leaves_no_folder(cli, tmp_path, monkeypatch):
    import builtins
    real = builtins.__import__

    def no_tensorboard(name, *a, **k):
        if name == "tensorboard":
            raise ImportError(name)
        return real(name, *a, **k)
    monkeypatch.setattr(builtins, "__import__", no_tensorboard)
    r = cli("train", "ae", "--data", "digits", "--epochs", "1", "--tensorboard", "--out", tmp_path / "r")
    assert r.code == 2 and "pip install 'aegan[tensorboard]'" in r.err and len(r.err.strip().splitlines()) == 1
    assert not (tmp_path / "r").exists()
