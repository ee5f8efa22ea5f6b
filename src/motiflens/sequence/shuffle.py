"""Dinucleotide-preserving shuffles (Altschul & Erickson 1985).

A shuffle that keeps every dinucleotide count is a random Eulerian path through the
multigraph whose vertices are letters and whose edges are the sequence's consecutive
pairs. Altschul-Erickson draw it uniformly: pick, for every letter but the last, a random
"last exit" edge so that the last exits form a tree towards the final letter, then shuffle
the other exits freely and walk.
"""

from __future__ import annotations

import itertools

import numpy as np


def dinucleotide_shuffle(seq: str, rng: np.random.Generator | int | None = None) -> str:
    """Shuffle a sequence keeping its first letter, last letter and every dinucleotide count.

    Parameters
    ----------
    seq
        Sequence to shuffle (any letters; case is kept as given).
    rng
        A numpy Generator or a seed.

    Returns
    -------
    str
        The shuffled sequence, same length and same dinucleotide counts.
    """
    rng = np.random.default_rng(rng)
    if len(seq) < 3:
        return seq
    edges: dict[str, list[str]] = {}
    for a, b in itertools.pairwise(seq):
        edges.setdefault(a, []).append(b)
    last = seq[-1]

    # Random arborescence towards `last` via loop-erased random walks over the edge lists
    # (Wilson's algorithm on the edge multigraph): uniform over valid last-exit choices.
    in_tree = {last}
    last_exit: dict[str, int] = {}
    for start in edges:
        node = start
        path_choice: dict[str, int] = {}
        while node not in in_tree:
            j = int(rng.integers(len(edges[node])))
            path_choice[node] = j
            node = edges[node][j]
        node = start
        while node not in in_tree:
            last_exit[node] = path_choice[node]
            in_tree.add(node)
            node = edges[node][path_choice[node]]

    ordered: dict[str, list[str]] = {}
    for node, succ in edges.items():
        succ = list(succ)
        fixed = succ.pop(last_exit[node]) if node in last_exit else None
        rng.shuffle(succ)
        if fixed is not None:
            succ.append(fixed)
        ordered[node] = succ[::-1]  # pop() from the end walks them in order

    out = [seq[0]]
    node = seq[0]
    for _ in range(len(seq) - 1):
        node = ordered[node].pop()
        out.append(node)
    return "".join(out)
