"""The README's "Python API" walkthrough runs as written, on a small simulated run."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def python_api_blocks() -> list[str]:
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## Python API") : text.index("## Development")]
    return re.findall(r"```python\n(.*?)```", section, flags=re.S)


def test_readme_has_a_python_api_walkthrough():
    assert python_api_blocks(), "README's Python API section has no python block"


@pytest.mark.slow
def test_readme_python_api_walkthrough_runs(tmp_path, capsys):
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        for block in python_api_blocks():
            exec(compile(block, str(README), "exec"), {"__name__": "readme"})
    finally:
        os.chdir(cwd)
    out = capsys.readouterr().out
    assert "ism" in out and "attribution" in out
    assert (tmp_path / "runs/sim/explain/ism").is_dir()
