"""The static report: one HTML file, everything inlined, the same views as the API."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from motiflens.cli import app
from motiflens.dashboard.export import build_report_data, render_report, report
from motiflens.runs import Run
from tests.dashboard.runfixtures import (
    RESULT_NAMES,
    TARGETS,
    make_bare_run,
    make_run,
    write_stored_results,
)

runner = CliRunner()


@pytest.fixture(autouse=True)
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    run = make_run(tmp_path_factory.mktemp("report"))
    write_stored_results(run)
    return run


def _embedded(html: str) -> dict:
    match = re.search(r"<script>window\.MOTIFLENS_REPORT = (.*?);</script>", html, re.S)
    assert match, "no embedded report data"
    return json.loads(match.group(1))


def test_report_is_one_self_contained_file(run, tmp_path):
    out = report(run, tmp_path / "r.html", top=2)
    html = out.read_text()
    # no script, stylesheet, image or link is fetched from anywhere
    assert not re.search(r"<script[^>]+src=", html)
    assert not re.search(r"<link[^>]+href=\"(?!data:)", html)
    assert not re.search(r"<img[^>]+src=", html)
    assert "Plotly" in html and "const Logo" in html
    data = _embedded(html)
    assert data["overview"]["targets"] == TARGETS
    assert len(data["filters"]["rows"]) == 8
    assert [m["method"] for m in data["optimize"]["methods"]] == ["sequence", "demo"]
    assert data["model"]["available"] and not data["model"]["genome"]
    step = Run(run).steps()["report"]
    assert step["outputs"] == [str(out)] and step["top"] == 2


def test_report_holds_the_stored_results_of_the_first_sequences(run):
    data = build_report_data(run, top=0, sequences=2, targets=["gc"])
    listed = {r["id"]: r for r in data["results"]["results"]}
    assert sorted(r["kind"] for r in listed.values()) == ["attribution", "ism", "temporal"]
    for entry in listed.values():
        assert entry["names"] == RESULT_NAMES[:2] and entry["targets"] == ["gc"]
        views = data["result_data"][entry["id"]]
        assert [views[i]["gc"]["sequence"] for i in ("0", "1")] == RESULT_NAMES[:2]
    ism = data["result_data"]["explain/ism/ism.h5"]["1"]["gc"]["arrays"]["delta"]["values"]
    # delta[s, b, j, k] = s + b/10 + j/100 - k, here s = 1, k = 1
    hand = [[0.1 * b + 0.01 * j for j in range(5)] for b in range(4)]
    np.testing.assert_allclose(ism, hand, atol=1e-6)


def test_report_defaults_to_the_run_directory(tmp_path):
    run = make_bare_run(tmp_path)
    path = report(run, top=0)
    assert path.parent == run and path.is_file()


def test_report_views_are_each_targets_top_test_sequences(run):
    import h5py

    data = build_report_data(run, top=2)
    assert [v["target"] for v in data["views"]] == [t for t in TARGETS for _ in range(2)]
    model = Run(run).model("cpu")
    with h5py.File(run.parent / "data.h5") as h5:
        x = h5["test_in"][:].astype(np.float32)
        names = [n.decode() for n in h5["test_headers"][:]]
    # ranked as the run's test step scores them: by default forward and reverse complement
    # (both axes flipped) averaged
    with torch.no_grad():
        logits = model(torch.from_numpy(x)).numpy()
        logits = (logits + model(torch.from_numpy(x[:, ::-1, ::-1].copy())).numpy()) / 2
    for k, target in enumerate(TARGETS):
        top = [names[i] for i in np.argsort(-logits[:, k], kind="stable")[:2]]
        assert [v["name"] for v in data["views"] if v["target"] == target] == top


def test_report_data_cannot_close_its_script_element():
    html = render_report({"overview": {"name": "</script><script>alert(1)</script>"}})
    data_part = html.split("window.MOTIFLENS_REPORT = ", 1)[1].split(";</script>", 1)[0]
    assert "</script" not in data_part and "<" not in data_part
    assert json.loads(data_part)["overview"]["name"].startswith("</script>")


def test_report_of_a_bare_run(tmp_path):
    run = make_bare_run(tmp_path)
    data = build_report_data(run)
    assert data["overview"]["test"]["missing"] and data["filters"]["missing"]
    assert data["views"] == []  # no dataset to pick test sequences from
    assert data["curves"]["missing"]


def test_report_verb(run, tmp_path):
    out = tmp_path / "cli.html"
    args = ["report", str(run), "-o", str(out), "--top", "1", "--target", "gc"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "report ->" in result.output
    views = _embedded(out.read_text())["views"]
    assert [v["target"] for v in views] == ["gc"]


def test_report_verb_on_a_missing_directory(tmp_path):
    result = runner.invoke(app, ["report", str(tmp_path / "nope"), "-o", str(tmp_path / "x.html")])
    assert result.exit_code == 2 and "run directory not found" in result.output


def test_serve_verb_is_registered():
    result = runner.invoke(app, ["serve", "--help"])
    assert result.exit_code == 0 and "--genome" in result.output and "--port" in result.output
