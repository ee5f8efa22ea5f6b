"""The dashboard's ROC/PR curves against the run's own test metrics: the curves predict
as ``motiflens test`` did (forward and reverse complement averaged unless ``--no-rc``)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from motiflens.cli import app
from motiflens.dashboard.explorer import Explorer
from motiflens.runs import Run
from tests.dashboard.runfixtures import make_run

runner = CliRunner()


@pytest.fixture(scope="module")
def tested(tmp_path_factory):
    """Test metrics and dashboard curves of one run, tested with the defaults and with
    ``--no-rc``: ``{options: (metrics table, curves, the step's rc)}``."""
    run = make_run(tmp_path_factory.mktemp("curves"))
    out = {}
    for options in ((), ("--no-rc",)):
        result = runner.invoke(app, ["test", str(run), "--no-progress", *options])
        assert result.exit_code == 0, result.output
        table = pd.read_csv(Run(run).metrics_path("test.tsv"), sep="\t").set_index("target")
        explorer = Explorer(run)  # a new server after each test, as `motiflens serve` would be
        out[options] = (table, explorer.curves(), Run(run).steps()["test"]["rc"])
    return out


@pytest.mark.parametrize("options", [(), ("--no-rc",)], ids=["defaults", "no-rc"])
def test_curves_give_the_test_tables_auroc_and_auprc(tested, options):
    table, curves, rc = tested[options]
    assert rc is (options == ())  # the default averages both strands
    assert curves["reverse_complement"] is rc
    for target, curve in curves["targets"].items():
        if curve is None:  # no positive in the test split: no curve, no metric
            assert math.isnan(table.loc[target, "auroc"])
            continue
        # The area under the ROC curve; average precision as sklearn sums it over the PR
        # curve (recall falls along it). Points are rounded to 5 decimals: off by <= 1e-5.
        auroc = np.trapezoid(curve["tpr"], curve["fpr"])
        auprc = -np.sum(np.diff(curve["recall"]) * np.asarray(curve["precision"])[:-1])
        assert auroc == pytest.approx(table.loc[target, "auroc"], abs=1e-5), target
        assert auprc == pytest.approx(table.loc[target, "auprc"], abs=1e-5), target


def test_averaging_both_strands_changes_the_metrics_here(tested):
    # otherwise the test above could not tell the two apart
    with_rc, without = tested[()][0], tested[("--no-rc",)][0]
    assert abs(with_rc.loc["motif", "auroc"] - without.loc["motif", "auroc"]) > 0.01
