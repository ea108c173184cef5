"""aegan explore: what the page computes (Explorer), the page itself in a real headless Chromium
(a slider moved, images uploaded: good, wrong size, not an image), and a port in use."""

import io
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("gradio", reason="Gradio is not installed (pip install -e '.[test]')")

from aegan.errors import DataError  # noqa: E402
from aegan.explore import Explorer  # noqa: E402


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    from sklearn.datasets import load_digits
    root = tmp_path_factory.mktemp("uploads")
    d = load_digits()
    Image.fromarray((d.images[0] * 255 / 16).astype(np.uint8), "L").save(root / "digit.png")
    Image.fromarray(np.zeros((16, 16), np.uint8), "L").save(root / "big.png")
    Image.fromarray(np.zeros((8, 8, 3), np.uint8), "RGB").save(root / "rgb.png")
    (root / "notimage.png").write_text("hello")
    return root


def test_sliders_walk_the_code_and_uploads_are_checked(digits_run, images):
    ex = Explorer(digits_run)
    assert ex.by_number and len(ex.slider_names) == 8  # a code of 8: one slider per number
    start = [v for _, _, v in ex.slider_ranges]
    a = np.asarray(ex.decoded(start), dtype=float)
    moved = list(start)
    moved[0] = ex.slider_ranges[0][1]
    b = np.asarray(ex.decoded(moved), dtype=float)
    assert a.shape == b.shape and np.abs(a - b).max() > 0  # the decoded example follows the slider
    pair, where, text = ex.analyse(str(images / "digit.png"))
    assert pair.size[0] > pair.size[1] and where.size[0] > 100 and "reconstruction MSE" in text
    for name, message in (("big.png", "16 x 16 pixels; this model takes 8 x 8"),
                          ("rgb.png", "this model takes grey images"),
                          ("notimage.png", "is not an image")):
        with pytest.raises(DataError, match=message):
            ex.analyse(str(images / name))


def test_a_wide_code_gets_sliders_along_its_main_directions(tmp_path):
    from aegan.cli import main
    run = tmp_path / "wide"
    assert main(["train", "ae", "--data", "digits", "--epochs", "1", "--code-dim", "16", "--out", str(run),
                 "--quiet"]) == 0
    ex = Explorer(run)
    assert not ex.by_number and len(ex.slider_names) == 8 and ex.slider_names[0].startswith("direction 1")
    code = ex.code_from_sliders([1.0] + [0.0] * 7)
    along = (code[0] - ex.mean) @ ex.directions[0]
    assert along == pytest.approx(ex.sd[0], rel=1e-4)  # one standard deviation along the first direction


def test_gan_samples_by_seed_and_class(tmp_path):
    from aegan.cli import main
    run = tmp_path / "cgan"
    assert main(["train", "gan", "--data", "digits", "--conditional", "--epochs", "1", "--out", str(run),
                 "--quiet"]) == 0
    ex = Explorer(run)
    assert ex.class_names[:3] == ["0", "1", "2"]
    same = [np.asarray(ex.samples(3, 1)) for _ in range(2)]
    assert np.array_equal(*same) and not np.array_equal(same[0], np.asarray(ex.samples(4, 1)))
    strip = ex.interpolation(0, 1, 2)
    assert strip.size[0] > 6 * strip.size[1]  # eight steps in a row


def test_a_port_in_use_is_one_line(cli, digits_run):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        r = cli("explore", digits_run, "--port", port)
    assert r.code == 2 and f"--port {port} on 127.0.0.1 is in use" in r.err and len(r.err.strip().splitlines()) == 1


def _browser():
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if chromium is None or driver is None:
        pytest.skip("Chromium or chromedriver not installed (make test installs Debian's chromium and "
                    "chromium-driver where apt-get works as root)")
    pytest.importorskip("selenium", reason="selenium is not installed (pip install -e '.[test]')")
    os.environ["SE_OFFLINE"] = "true"  # Selenium must never try to download a driver
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    opts = webdriver.ChromeOptions()
    opts.binary_location = chromium
    for a in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1200,1600"):
        opts.add_argument(a)
    return webdriver.Chrome(service=Service(driver), options=opts)


def _fetch_image(src: str) -> Image.Image:
    with urllib.request.urlopen(src, timeout=30) as f:
        return Image.open(io.BytesIO(f.read())).convert("L")


def test_the_page_in_a_real_browser(digits_run, images, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait
    drv = _browser()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app = subprocess.Popen([sys.executable, "-m", "aegan", "explore", str(digits_run), "--port", str(port)],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        line = app.stdout.readline()
        assert f"http://127.0.0.1:{port}" in line and "this machine only" in line, line
        url = f"http://127.0.0.1:{port}/"
        end = time.time() + 120
        while True:
            try:
                urllib.request.urlopen(url, timeout=5)
                break
            except OSError:
                assert app.poll() is None and time.time() < end, "the app did not start"
                time.sleep(0.5)
        drv.get(url)
        wait = WebDriverWait(drv, 90)
        first = wait.until(lambda d: d.find_element(By.CSS_SELECTOR, "#decoded img")).get_attribute("src")
        box = drv.find_element(By.CSS_SELECTOR, "#slider-0 input[type=number]")
        box.send_keys(Keys.CONTROL, "a")
        box.send_keys(box.get_attribute("max"))
        box.send_keys(Keys.ENTER)
        wait.until(lambda d: d.find_element(By.CSS_SELECTOR, "#decoded img").get_attribute("src") != first)
        second = drv.find_element(By.CSS_SELECTOR, "#decoded img").get_attribute("src")
        a, b = np.asarray(_fetch_image(first), float), np.asarray(_fetch_image(second), float)
        assert a.shape == b.shape and a.shape[0] >= 8 and np.abs(a - b).max() > 0  # it decodes, and it moved

        drv.find_element(By.CSS_SELECTOR, "#upload input[type=file]").send_keys(str(images / "digit.png"))
        rec = wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#reconstruction img"))
        pair = _fetch_image(rec[0].get_attribute("src"))
        assert pair.size[0] > pair.size[1]  # the input beside its reconstruction
        wait.until(lambda d: "reconstruction MSE" in d.find_element(By.CSS_SELECTOR, "#score").text)

        for name, said in (("big.png", "16 x 16 pixels"), ("notimage.png", "is not an image")):
            drv.get(url)
            wait.until(lambda d: d.find_element(By.CSS_SELECTOR, "#upload input[type=file]"))
            drv.find_element(By.CSS_SELECTOR, "#upload input[type=file]").send_keys(str(images / name))
            wait.until(lambda d: said in d.find_element(By.CSS_SELECTOR, "#message").text)
        assert app.poll() is None  # the server is still up after bad uploads
        drv.save_screenshot(str(tmp_path / "explorer.png"))
    finally:
        drv.quit()
        app.terminate()
        app.wait(timeout=30)
