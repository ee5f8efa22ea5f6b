"""The install-time warmup compiles every memelite kernel signature a real analysis uses.

numba caches compiled code per kernel and per signature (dtypes *and* array layouts), so a
warmup that compiled a C-ordered FIMO table while a real scan passed an F-ordered one would
leave the user's first scan compiling again. The realistic calls below deliberately vary
what callers pass (float32 PWMs in F order, a sliced non-contiguous one-hot, uint8 one-hot,
DNA strings, JASPAR itself, both distances) and must need nothing the warmup did not build.

With the environment's numba cache already warm (``make install`` runs the warmup), each
test takes seconds; on a cold cache the first one compiles (about 1-2 minutes).
"""

from __future__ import annotations

import json
import subprocess
import sys

from motiflens.motifs.warmup import memelite_kernels, warm

# What filters / modisco / scan / optimize hand memelite, in the shapes callers produce.
REALISTIC_CALLS = """
import numpy as np
from motiflens.motifs.compare import tomtom
from motiflens.motifs.databases import load_database
from motiflens.motifs.pwm import Motif
from motiflens.motifs.scan import scan_motifs

rng = np.random.default_rng(7)
db = load_database("jaspar:2024")
filters = [
    Motif(f"filter{i}", f"filter{i}", rng.dirichlet(np.full(4, 0.4), w).T.astype(np.float32))
    for i, w in enumerate([19, 7, 12, 25])
]
tomtom(filters, db)
tomtom(filters[:2], db, distance="euclidean", thresh=None, reverse_complement=False, n_jobs=1)
onehot = np.eye(4, dtype=np.float32)[rng.integers(0, 4, (6, 300))].transpose(0, 2, 1)
scan_motifs(db[:40], onehot, p=1e-3)
scan_motifs(filters, onehot[:, :, 50:250], p=1e-3)  # a non-contiguous view
scan_motifs(db[100:110], onehot.astype(np.uint8), strands=["-"] * 6)
scan_motifs(db[:3], "ACGTACGTTTGACTCATGGCCAGGAACGT")
"""

REPORT = """
import json
from motiflens.motifs.warmup import memelite_kernels
kernels = memelite_kernels()
print(json.dumps({
    "compiled": sorted(n for n, k in kernels.items() if sum(k.stats.cache_misses.values())),
    "loaded": sorted(n for n, k in kernels.items() if sum(k.stats.cache_hits.values())),
}))
"""


def _python(code: list[str]) -> str:
    done = subprocess.run(
        [sys.executable, *code], capture_output=True, text=True, timeout=600, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_after_the_warmup_a_fresh_process_compiles_nothing():
    out = _python(["-m", "motiflens.motifs.warmup"]).strip()
    assert len(out.splitlines()) == 1 and out.startswith("motiflens warmup: "), out

    report = json.loads(_python(["-c", REALISTIC_CALLS + REPORT]).strip().splitlines()[-1])
    assert report["compiled"] == []
    # not vacuous: the heavy kernels were reached, and came from the cache
    assert {"tomtom._tomtom", "fimo._fast_hits", "fimo._fill_tables"} <= set(report["loaded"])


def test_realistic_calls_need_no_signature_beyond_the_warmups():
    result = warm()
    assert result.cache_dir is not None  # else numba caches nothing and installs warm nothing
    kernels = memelite_kernels()
    before = {name: set(k.signatures) for name, k in kernels.items()}
    assert before["tomtom._tomtom"] and before["fimo._fast_hits"]
    exec(compile(REALISTIC_CALLS, "realistic calls", "exec"), {})
    after = {name: set(k.signatures) for name, k in kernels.items()}
    added = {name: after[name] - before[name] for name in after if after[name] - before[name]}
    assert added == {}
