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
    return TestClient(create_app(stored[0]))


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
    app = TestClient(create_app(make_bare_run(tmp_path)))
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
