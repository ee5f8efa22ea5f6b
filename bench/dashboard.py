"""Benchmark: the dashboard's sequence explorer for 600 bp on Basset (CPU).

The default Basset (300/200/200 filters, two dense layers of 1000, 164 targets, 600 bp;
random weights with batch-norm statistics from random sequences, ``bench/ism.py``'s
``basset``) saved as a run directory; then, in alternating rounds on random sequences:

* (a) ``POST /api/explain`` through the FastAPI app (validation, prediction for every
  target, fast ISM and gradient x input for one target, filter matches, JSON), timed as a
  round trip with FastAPI's test client;
* (b) the same computations called directly (:func:`motiflens.explain.ism.
  saturation_mutagenesis` + :func:`motiflens.explain.saliency.attribute`), the reference.

Prints the medians and their ratio (the dashboard's overhead). Target (issue 6): (a)
under 2 s on CPU.

Usage::

    .venv/bin/python bench/dashboard.py [--repeats 5] [--threads N]
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # see bench/ism.py

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ism import basset

from motiflens.config import RunConfig
from motiflens.dashboard.app import create_app
from motiflens.explain.ism import saturation_mutagenesis
from motiflens.explain.saliency import attribute
from motiflens.runs import Run
from motiflens.sequence.onehot import one_hot


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    from fastapi.testclient import TestClient

    model = basset()
    target = 17
    with tempfile.TemporaryDirectory() as tmp:
        cfg = RunConfig.from_dict({"model": {"name": "basset", "n_targets": 164, "length": 600}})
        Run(tmp).save_model(model, cfg)
        t0 = time.perf_counter()
        client = TestClient(create_app(tmp, warmup=True))
        startup = time.perf_counter() - t0
        rng = np.random.default_rng(1)
        served, direct = [], []
        for _ in range(args.repeats):
            seq = "".join(rng.choice(list("ACGT"), 600))
            t0 = time.perf_counter()
            reply = client.post("/api/explain", json={"sequence": seq, "target": target})
            served.append(time.perf_counter() - t0)
            assert reply.status_code == 200, reply.text
            x = one_hot(seq)[None]
            t0 = time.perf_counter()
            saturation_mutagenesis(model, x, targets=[target])
            attribute(model, x, targets=[target], method="gradient_x_input")
            direct.append(time.perf_counter() - t0)
    a, b = statistics.median(served), statistics.median(direct)
    print(f"threads {args.threads}; Basset 600 bp, 164 targets; app start (load + warm-up) "
          f"{startup:.1f} s")  # fmt: skip
    print(f"  (a) POST /api/explain, round trip   median {a:6.3f} s  "
          f"({', '.join(f'{t:.2f}' for t in served)})")  # fmt: skip
    print(f"  (b) ISM + gradient x input directly  median {b:6.3f} s")
    print(f"  dashboard overhead (a)/(b)           {a / b:6.2f}x; ISM method "
          f"{reply.json()['ism']['method']}; reply {len(reply.content) / 1e3:.0f} kB")  # fmt: skip


if __name__ == "__main__":
    main()
