import resource
import sys

import numpy as np
import pytest
from typer.testing import CliRunner

from motiflens.cli import app, common
from motiflens.memory import keep_freed_memory

runner = CliRunner()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc malloc settings")
def test_freed_arrays_are_reused_without_page_faults():
    if not keep_freed_memory():
        pytest.skip("not glibc")
    np.ones(16 * 2**20, dtype=np.float32)  # 64 MB: the heap grows once
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(5):
        np.ones(16 * 2**20, dtype=np.float32)
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
    # Unmapped and faulted in again, the five arrays cost thousands of faults (2,720 here
    # with transparent huge pages, 81,920 in 4 kB pages); kept, none.
    assert faults < 200


def test_verbs_keep_freed_memory_but_the_server_does_not(monkeypatch, tmp_path):
    calls = []
    monkeypatch.setattr(common, "keep_freed_memory", lambda: calls.append(1) or True)
    runner.invoke(app, ["dataset", "info", str(tmp_path / "missing.h5")])
    assert calls == [1]
    runner.invoke(app, ["serve", str(tmp_path / "no-run")])
    assert calls == [1]
