"""Every headline figure of the speed issue, at sizes that run in minutes on 2 cores.

Each figure comes from the ``quick()`` function of its full bench script (same code, smaller
sizes), run in a fresh subprocess so that one bench's threads, caches and JIT state do not
leak into the next. Output: the benches' own detail lines, then one line per figure::

    ratio NAME VALUEx

with NAME one of ``insertion``, ``logos``, ``influence_cnn_rnn``, ``ism_vs_tangermeme``,
``tomtom_warm_over_cold`` and the others the benches add. Every ratio is "higher is
better" and measured within one process (or one bench run) on the same load.

Usage (from the repository root)::

    .venv/bin/python bench/quick.py [--only SCRIPT ...] [--timeout SECONDS]

A bench that fails or cannot run here (tangermeme not installed, no demo run for the
dashboard bench) prints why and the others go on; the exit status is 1 if any failed.
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
# Script -> what its quick() measures, in the order they run.
SCRIPTS = {
    "tomtom_cold": "first-call filter annotation after install vs a warm call",
    "logos": "logo drawing vs logomaker",
    "insertion": "motif insertion vs a full forward pass per inserted sequence",
    "influence": "CNN-RNN filter influence vs rerunning after layer 1 per filter",
    "ism": "ISM vs tangermeme's steady state (Basset 600 bp) and vs naive",
    "dashboard": "dashboard first page and explain latency",
}


def run_one(name: str) -> None:
    """Import ``bench/<name>.py`` and print its ``quick()`` figures (in this process)."""
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
    if spec is None or spec.loader is None:
        raise SystemExit(f"bench/{name}.py not found")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for figure, value in module.quick():
        print(f"ratio {figure} {value:.2f}x", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=sorted(SCRIPTS), help="these benches only")
    parser.add_argument("--timeout", type=float, default=600, help="seconds per bench")
    parser.add_argument("--run-one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run_one:
        run_one(args.run_one)
        return

    failed = []
    ratios: dict[str, str] = {}
    start = time.perf_counter()
    for name in args.only or list(SCRIPTS):
        print(f"== bench/{name}.py: {SCRIPTS[name]}", flush=True)
        t0 = time.perf_counter()
        try:
            proc = subprocess.run(
                [sys.executable, str(Path(__file__).resolve()), "--run-one", name],
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                timeout=args.timeout,
            )
        except subprocess.TimeoutExpired:
            print(f"bench/{name}.py: over {args.timeout:.0f} s, stopped", flush=True)
            failed.append(name)
            continue
        for line in proc.stdout.splitlines():
            if line.startswith("ratio "):  # printed once, at the end
                ratios[line.split()[1]] = line
            else:
                print(f"  {line}", flush=True)
        if proc.returncode != 0:
            print(f"bench/{name}.py failed (exit {proc.returncode})", flush=True)
            failed.append(name)
        print(f"   ({time.perf_counter() - t0:.0f} s)", flush=True)

    print(f"== figures ({time.perf_counter() - start:.0f} s in all)")
    for line in ratios.values():
        print(line)
    if failed:
        print(f"failed: {', '.join(failed)}")
        sys.exit(1)


if __name__ == "__main__":
    main()
