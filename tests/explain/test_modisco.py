"""TF-MoDISco on synthetic attributions: a planted motif comes back with its seqlets."""

from __future__ import annotations

import numpy as np
import pytest

from motiflens.explain.modisco import discover_motifs, trim_window
from motiflens.sequence.onehot import decode, one_hot

MOTIF = "TGACGTCATTGCA"  # 13 bp, not its own reverse complement


def _planted(n: int = 300, length: int = 100, seed: int = 0):
    """Random sequences with MOTIF at a random place in each; the hypothetical
    contribution of a base is 1 where it is the motif's base, a little noise elsewhere."""
    rng = np.random.default_rng(seed)
    seqs, starts = [], []
    for _ in range(n):
        s = "".join(rng.choice(list("ACGT"), size=length))
        start = int(rng.integers(10, length - len(MOTIF) - 10))
        seqs.append(s[:start] + MOTIF + s[start + len(MOTIF) :])
        starts.append(start)
    X = one_hot(seqs)
    hyp = rng.normal(0, 0.02, size=X.shape).astype(np.float32)
    motif = one_hot(MOTIF)
    for i, start in enumerate(starts):
        hyp[i, :, start : start + len(MOTIF)] += motif
    return X, hyp, np.asarray(starts)


def test_trim_window_by_hand():
    contrib = np.zeros((4, 6))
    contrib[0] = [0.1, 0.5, 0.0, 1.0, 0.2, 0.31]  # 30% of 1.0 is 0.3
    assert trim_window(contrib) == (1, 6)
    contrib[0, 5] = 0.29
    assert trim_window(contrib) == (1, 4)


def test_planted_motif_is_discovered_with_its_seqlets():
    X, hyp, starts = _planted()
    patterns = discover_motifs(X, hyp * X, hyp, random_state=0)
    assert patterns, "no pattern found"
    top = patterns[0]
    assert top.name == "pos_patterns.pattern_0" and top.kind == "pos"
    assert top.probs.shape == top.contrib.shape == top.hypothetical.shape
    np.testing.assert_allclose(top.probs.sum(axis=0), 1.0, atol=1e-6)
    consensus = decode(np.eye(4, dtype=np.float32)[:, top.probs.argmax(axis=0)])
    rc = consensus[::-1].translate(str.maketrans("ACGT", "TGCA"))
    assert consensus in MOTIF or rc in MOTIF, consensus
    assert top.n_seqlets >= 0.5 * len(X)
    # every seqlet lies inside the planted site of its sequence
    s = top.seqlets
    assert len(s.index) >= 0.5 * len(X)
    planted = starts[s.index]
    assert np.all(s.start >= planted) and np.all(s.end <= planted + len(MOTIF))
    assert np.all(s.end - s.start == top.probs.shape[1])


def test_shapes_are_checked():
    X, hyp, _ = _planted(n=5)
    with pytest.raises(ValueError, match="one shape"):
        discover_motifs(X, hyp * X, hyp[:, :, :50])
    with pytest.raises(ValueError, match="observed bases"):
        discover_motifs(X, hyp, hyp)
