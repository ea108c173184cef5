"""The README's Python examples run as written (in a temporary folder)."""

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_python_examples_run(tmp_path, monkeypatch):
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    # the onnxruntime-only example needs an exported detector: tests/test_export.py runs it
    blocks = [b for b in blocks if not b.startswith("# scoring with onnxruntime alone")]
    assert len(blocks) >= 2
    monkeypatch.chdir(tmp_path)
    scope: dict = {}
    for block in blocks:
        exec(compile(block, str(README), "exec"), scope)
    assert (tmp_path / "runs" / "py-digits" / "model.safetensors").is_file()
    assert (tmp_path / "runs" / "sk-dae" / "config.json").is_file()
    assert scope["codes"].shape == (359, 8)
    assert scope["mode_stats"](scope["points"], scope["ring_modes"](), std=0.01)["modes"] >= 6  # not "0 modes, nan"
