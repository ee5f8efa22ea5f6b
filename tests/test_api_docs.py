"""docs/api.md lists every public function of the Python API with its real signature.

The public API is what ``motiflens``, ``motiflens.explain`` and ``motiflens.steps`` export
(``__all__``). Each name has a section in docs/api.md headed ``### `module.name` `` followed
by a ``python`` block holding ``name(signature)``. After changing the API, rewrite the
listing with ``MOTIFLENS_WRITE_API_DOC=1 pytest tests/test_api_docs.py`` and edit the prose.
"""

from __future__ import annotations

import importlib
import inspect
import os
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "api.md"
MODULES = ("motiflens", "motiflens.explain", "motiflens.steps")
HEADER = re.compile(r"^### `(?P<module>[\w.]+)\.(?P<name>\w+)`$")


def public_api() -> dict[str, tuple[str, str]]:
    """``"module.name" -> (signature line, first docstring line)`` for every export."""
    api = {}
    for module_name in MODULES:
        module = importlib.import_module(module_name)
        for name in module.__all__:
            obj = getattr(module, name)
            if not callable(obj) or name.startswith("_"):
                continue
            try:
                signature = str(inspect.signature(obj))
            except (TypeError, ValueError):
                signature = "(...)"
            signature = re.sub(r"\s+", " ", signature)
            summary = (inspect.getdoc(obj) or "").strip().splitlines()
            api[f"{module_name}.{name}"] = (f"{name}{signature}", summary[0] if summary else "")
    return api


def documented() -> dict[str, str]:
    """``"module.name" -> the signature line`` as docs/api.md has it."""
    lines = DOC.read_text(encoding="utf-8").splitlines()
    found = {}
    for i, line in enumerate(lines):
        m = HEADER.match(line)
        if m and i + 2 < len(lines) and lines[i + 1] == "```python":
            found[f"{m['module']}.{m['name']}"] = lines[i + 2]
    return found


def render(api: dict[str, tuple[str, str]]) -> str:
    """The listing part of docs/api.md."""
    out = []
    for module_name in MODULES:
        out.append(f"## `{module_name}`\n")
        for key, (signature, summary) in api.items():
            if key.rsplit(".", 1)[0] != module_name:
                continue
            out += [f"### `{key}`", "```python", signature, "```", summary, ""]
    return "\n".join(out)


MARK = "<!-- listing below is checked by tests/test_api_docs.py -->"


@pytest.mark.skipif(not os.environ.get("MOTIFLENS_WRITE_API_DOC"), reason="writes the doc")
def test_write_api_doc():
    text = DOC.read_text(encoding="utf-8") if DOC.is_file() else f"# Python API\n\n{MARK}\n"
    head = text.split(MARK)[0]
    DOC.write_text(f"{head}{MARK}\n\n{render(public_api())}", encoding="utf-8")


def test_every_public_function_is_documented_with_its_signature():
    api, doc = public_api(), documented()
    missing = sorted(set(api) - set(doc))
    stale = sorted(set(doc) - set(api))
    wrong = sorted(k for k in set(api) & set(doc) if api[k][0] != doc[k])
    assert not missing, f"not in docs/api.md: {missing}"
    assert not stale, f"in docs/api.md but not exported: {stale}"
    assert not wrong, "signatures differ: " + "; ".join(f"{k}: {api[k][0]}" for k in wrong)


def test_public_functions_have_numpy_docstrings():
    for module_name in MODULES:
        module = importlib.import_module(module_name)
        for name in module.__all__:
            obj = getattr(module, name)
            if inspect.isfunction(obj):
                assert inspect.getdoc(obj), f"{module_name}.{name} has no docstring"
