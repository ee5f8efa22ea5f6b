"""Compile memelite's numba kernels into numba's on-disk cache once, at install time.

memelite's TomTom and FIMO are numba kernels declared ``@njit(cache=True)``. The first
call in a fresh environment compiles them (TomTom's ``_tomtom`` alone, ~80 s on an idle
machine), so a new user's first ``motiflens filters`` paid it: 163 s against 60 s for the
same command right after. Compiled code is cached per kernel *and signature* (argument
types, including array layout) under the kernel's source file, and loaded in a few
milliseconds by every later process on the same CPU. :func:`warm` calls motiflens' own
:func:`~motiflens.motifs.compare.tomtom` and :func:`~motiflens.motifs.scan.scan_motifs`
on tiny inputs: they hand memelite arrays of fixed dtypes and layouts whatever the
caller gave, so the tiny calls compile exactly the signatures a real analysis uses.
``make install`` runs ``python -m motiflens.motifs.warmup``; with a warm cache it loads
everything in about a second.

Where the cache lives is numba's choice: ``NUMBA_CACHE_DIR`` when set, else
``memelite/__pycache__`` in the environment (or a per-user folder when that is not
writable). An edit to memelite's sources, another CPU or another numba invalidates it, and
the next call compiles again (correct, only slow).

modisco-lite's kernels are not compiled here: they are not declared ``cache=True``, and
only ``modiscolite.precompile.start()`` turns their caching on, by forking children that
compile them while the run goes on. :func:`~motiflens.explain.modisco.discover_motifs`
calls it (as modisco-lite's own command does), so the first ``motiflens modisco`` in an
environment compiles them into numba's cache and later runs load them (TF-MoDISco's own
time on the demo's CTCF, 300 sequences: 11.3 s the first time, 2.7 s after).
"""

from __future__ import annotations

import importlib
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["WarmupResult", "main", "memelite_kernels", "warm"]


@dataclass(frozen=True)
class WarmupResult:
    """What :func:`warm` did.

    Attributes
    ----------
    compiled
        Kernels (``module.function``) compiled in this process: absent from the cache,
        or cached for another signature, CPU or source.
    loaded
        Kernels loaded from numba's cache.
    seconds
        Wall time of the tiny calls, compilation included.
    cache_dir
        Where numba keeps TomTom's cache (None when it has no writable place).
    """

    compiled: tuple[str, ...]
    loaded: tuple[str, ...]
    seconds: float
    cache_dir: str | None


def memelite_kernels() -> dict[str, object]:
    """memelite's cached numba dispatchers, by ``module.function`` (TomTom's and FIMO's).

    Inlined helpers (``inline='always'``) are compiled into their callers and have no
    cache of their own, but they are dispatchers too and are listed.
    """
    from numba.core.registry import CPUDispatcher  # numba: loaded only here, on demand

    kernels = {}
    # by import_module: ``memelite.tomtom`` as an attribute is the function, not the module
    for module in map(
        importlib.import_module, ("memelite.tomtom", "memelite.fimo", "memelite.utils")
    ):
        short = module.__name__.rsplit(".", 1)[-1]
        for name, obj in vars(module).items():
            if isinstance(obj, CPUDispatcher) and obj.__module__ == module.__name__:
                kernels[f"{short}.{name}"] = obj
    return kernels


def _tiny_motifs(rng: np.random.Generator, n: int, prefix: str) -> list:
    """``n`` random (4, w) motifs, widths 6 to 15, as filters and JASPAR give."""
    from motiflens.motifs.pwm import Motif

    motifs = []
    for i in range(n):
        width = int(rng.integers(6, 16))
        motifs.append(
            Motif(
                f"{prefix}{i}",
                f"{prefix}{i}",
                np.ascontiguousarray(rng.dirichlet(np.ones(4) * 0.5, width).T),
            )
        )
    return motifs


def warm() -> WarmupResult:
    """Run memelite's TomTom and FIMO once, through motiflens, on tiny inputs.

    Every kernel a ``motiflens filters`` / ``modisco`` / ``scan`` call reaches is then in
    numba's cache, for the signatures those calls use.

    Returns
    -------
    WarmupResult
        The kernels compiled here and those loaded from the cache, and the time taken.
    """
    start = time.perf_counter()
    from motiflens.motifs.compare import tomtom
    from motiflens.motifs.scan import scan_motifs

    kernels = memelite_kernels()  # imports memelite: its eager kernels compile or load here
    rng = np.random.default_rng(0)
    # 30 targets: memelite warns below 25 (its p-values use the targets as background).
    queries, targets = _tiny_motifs(rng, 3, "q"), _tiny_motifs(rng, 30, "t")
    tomtom(queries, targets, thresh=None)
    sequences = ["".join(rng.choice(list("ACGT"), 60)) for _ in range(3)]
    scan_motifs(targets[:4], sequences, p=1e-2)
    seconds = time.perf_counter() - start

    compiled, loaded = [], []
    for name, kernel in sorted(kernels.items()):
        stats = kernel.stats
        if sum(stats.cache_misses.values()):
            compiled.append(name)
        elif sum(stats.cache_hits.values()):
            loaded.append(name)
    cache = getattr(kernels["tomtom._tomtom"], "_cache", None)
    cache_dir = getattr(cache, "cache_path", None)
    return WarmupResult(tuple(compiled), tuple(loaded), seconds, cache_dir)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m motiflens.motifs.warmup``: :func:`warm`, then one line on what it did."""
    del argv  # no options; the signature matches the other entry points
    result = warm()
    where = result.cache_dir or "nowhere (no writable cache folder: set NUMBA_CACHE_DIR)"
    if result.compiled:
        what = f"compiled {len(result.compiled)} memelite numba kernels"
    else:
        what = f"memelite numba kernels already cached ({len(result.loaded)} loaded)"
    print(f"motiflens warmup: {what} in {result.seconds:.1f} s; cache: {where}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
