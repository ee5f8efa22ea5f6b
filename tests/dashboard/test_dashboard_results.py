"""Stored per-sequence results through the API: listed, and sliced per sequence and target."""

from __future__ import annotations

import numpy as np
import pytest
from fastapi.testclient import TestClient

from motiflens.dashboard.app import create_app
from motiflens.dashboard.stored import report_results
from tests.dashboard.runfixtures import (
    ISM_POSITIONS,
    RESULT_NAMES,
    RESULT_SEQS,
    RESULT_TARGETS,
    make_bare_run,
    write_stored_results,
)

ISM = "explain/ism/ism.h5"
ATTRIBUTION = "explain/saliency/attributions.h5"
TEMPORAL = "explain/temporal/temporal.h5"


@pytest.fixture(scope="module")
def stored(tmp_path_factory):
    run = make_bare_run(tmp_path_factory.mktemp("stored"))
    return run, write_stored_results(run)


@pytest.fixture(scope="module")
def client(stored):
    return TestClient(create_app(stored[0]), base_url="http://localhost")


def test_every_result_file_is_listed_with_its_axes(client):
    listed = {r["id"]: r for r in client.get("/api/results").json()["results"]}
    assert sorted(listed) == sorted([ISM, ATTRIBUTION, TEMPORAL])
    ism = listed[ISM]
    assert (ism["analysis"], ism["file"], ism["kind"], ism["n"]) == ("ism", "ism.h5", "ism", 3)
    assert ism["names"] == RESULT_NAMES and ism["targets"] == RESULT_TARGETS
    assert ism["arrays"]["delta"] == ["sequence", "base", "position", "target"]
    assert ism["params"] == {"window": 5} and ism["has_onehot"]
    assert listed[TEMPORAL]["arrays"]["forward"] == ["sequence", "position", "target"]


@pytest.mark.parametrize("sequence", ["seq_b", "1"])
def test_one_sequence_and_target_of_the_ism(client, stored, sequence):
    _, expected = stored
    res = client.get(f"/api/results/{ISM}", params={"sequence": sequence, "target": "gc"}).json()
    got = (res["sequence"], res["index"], res["target"], res["target_index"])
    assert got == ("seq_b", 1, "gc", 1)
    assert res["bases"] == RESULT_SEQS[1] and res["positions"] == ISM_POSITIONS.tolist()
    delta = res["arrays"]["delta"]
    assert delta["axes"] == ["base", "position"]
    # delta[s, b, j, k] = s + b/10 + j/100 - k, here s = 1, k = 1
    hand = [[0.1 * b + 0.01 * j for j in range(5)] for b in range(4)]
    np.testing.assert_allclose(delta["values"], hand, atol=1e-6)
    np.testing.assert_allclose(delta["values"], expected["ism"]["delta"][1, :, :, 1], atol=1e-6)
    assert res["arrays"]["reference"] == {"axes": [], "values": 3.0}  # 2 * s + k
    assert res["arrays"]["gain"]["axes"] == ["position"]


def test_no_sequence_or_target_given_picks_the_first(client):
    res = client.get(f"/api/results/{TEMPORAL}").json()
    assert (res["sequence"], res["target"]) == ("seq_a", "motif")
    forward = np.asarray(res["arrays"]["forward"]["values"])
    # forward[s, t, k] = (t + 1) / 40 * (s + 1) / 3 * (k + 1) / 2, here s = k = 0
    np.testing.assert_allclose(forward, np.arange(1, 41) / 40 / 3 / 2, atol=1e-6)


def test_unknown_results_sequences_and_targets(client):
    assert client.get("/api/results/explain/ism/nope.h5").status_code == 404
    assert client.get("/api/results/../secret.txt").status_code == 404
    bad = client.get(f"/api/results/{ISM}", params={"sequence": "seq_z"})
    assert bad.status_code == 400 and "no sequence 'seq_z'" in bad.json()["error"]
    bad = client.get(f"/api/results/{ISM}", params={"target": "never"})
    assert bad.status_code == 400 and "no target 'never'" in bad.json()["error"]


def test_a_run_without_results_lists_none(tmp_path):
    app = TestClient(create_app(make_bare_run(tmp_path)), base_url="http://localhost")
    assert app.get("/api/results").json() == {"results": []}


def test_report_results_hold_the_first_sequences_of_the_chosen_targets(stored):
    run, expected = stored
    included = report_results(run, sequences=2, targets=["gc"])
    entry = {r["id"]: r for r in included["results"]}[ATTRIBUTION]
    assert entry["names"] == RESULT_NAMES[:2] and entry["targets"] == ["gc"]
    views = included["data"][ATTRIBUTION]
    assert sorted(views) == ["0", "1"] and list(views["1"]) == ["gc"]
    got = views["1"]["gc"]["arrays"]["attributions"]["values"]
    np.testing.assert_allclose(got, expected["attribution"]["attributions"][1, :, :, 1], atol=1e-5)


@pytest.mark.slow
def test_what_the_steps_computed_is_shown_per_sequence(tmp_path):
    """A CNN-RNN run after the ism (-n 50), saliency and temporal steps: the dashboard's
    API and the report give, for a chosen sequence, exactly what the steps computed."""
    from motiflens.dashboard.export import report
    from motiflens.explain import attribute, saturation_mutagenesis, temporal_scores
    from motiflens.runs import Run
    from motiflens.steps import ism, saliency, temporal
    from tests.toy_models import random_sequences, toy_model

    model = toy_model("cnn-rnn", length=40, n_targets=2)
    run = Run(tmp_path / "run")
    run.save_model(model, model.config)
    run.write_target_labels(["up", "down"])
    seqs = random_sequences(50, 40, random_state=3)
    fasta = tmp_path / "seqs.fa"
    fasta.write_text("".join(f">s{i}\n{s}\n" for i, s in enumerate(seqs)))

    ism(run, fasta, n=50, figures=0, verbose=False)
    saliency(run, fasta, n=5, figures=0, verbose=False)
    temporal(run, fasta, n=5, figures=0, verbose=False)

    client = TestClient(create_app(run.path), base_url="http://localhost")
    listed = {r["kind"]: r for r in client.get("/api/results").json()["results"]}
    assert sorted(listed) == ["attribution", "ism", "temporal"]
    assert listed["ism"]["n"] == 50 and listed["ism"]["targets"] == ["up", "down"]

    # The expected values are computed directly by the compute API, not read from files.
    model = run.model("cpu")
    want_ism = saturation_mutagenesis(model, [seqs[37]]).delta[0, :, :, 1]
    got = client.get(
        f"/api/results/{listed['ism']['id']}", params={"sequence": "s37", "target": "down"}
    ).json()
    assert got["bases"] == seqs[37]
    np.testing.assert_allclose(got["arrays"]["delta"]["values"], want_ism, atol=1e-4)

    want_attr = attribute(model, seqs[2]).attributions[0, :, :, 0]
    got = client.get(
        f"/api/results/{listed['attribution']['id']}", params={"sequence": "s2", "target": "up"}
    ).json()
    np.testing.assert_allclose(got["arrays"]["attributions"]["values"], want_attr, atol=1e-4)

    want_fwd = temporal_scores(model, seqs[4]).forward[0, :, 1]
    got = client.get(
        f"/api/results/{listed['temporal']['id']}", params={"sequence": "s4", "target": "down"}
    ).json()
    np.testing.assert_allclose(got["arrays"]["forward"]["values"], want_fwd, atol=1e-4)

    html = report(run, tmp_path / "report.html").read_text(encoding="utf-8")
    for name in ("ism.h5", "gradient_x_input.h5", "temporal.h5", "s0"):
        assert name in html
