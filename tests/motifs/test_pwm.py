"""PWM arithmetic against hand-computed values and naive loops."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from motiflens.motifs.pwm import (
    Motif,
    basset_information_content,
    consensus,
    counts_to_probs,
    information_content,
    log_odds,
    pwm_from_sites,
    reverse_complement_probs,
    trim,
    trim_matrix,
)

UNIFORM = [0.25, 0.25, 0.25, 0.25]


def cols(*columns):
    """A (4, w) matrix from columns given as (A, C, G, T)."""
    return np.array(columns, dtype=float).T


def test_information_content_hand_values():
    probs = cols([1, 0, 0, 0], UNIFORM, [0.5, 0.5, 0, 0], [0.7, 0.1, 0.1, 0.1])
    h = -(0.7 * math.log2(0.7) + 3 * 0.1 * math.log2(0.1))
    np.testing.assert_allclose(information_content(probs), [2.0, 0.0, 1.0, 2.0 - h], atol=1e-12)


def test_information_content_gc_background():
    bg = [0.3, 0.2, 0.2, 0.3]
    probs = cols([0.5, 0, 0.5, 0], bg, [0, 1, 0, 0])
    want = [
        0.5 * math.log2(0.5 / 0.3) + 0.5 * math.log2(0.5 / 0.2),
        0.0,
        math.log2(1 / 0.2),
    ]
    np.testing.assert_allclose(information_content(probs, bg), want, atol=1e-12)


def test_background_must_sum_to_one():
    # Basset's (0.585, 0.415, 0.415, 0.585) sums to 2: refused, not silently rescaled.
    with pytest.raises(ValueError, match="sum to 1"):
        information_content(cols(UNIFORM), [0.585, 0.415, 0.415, 0.585])
    with pytest.raises(ValueError, match="positive"):
        information_content(cols(UNIFORM), [0.5, 0.5, 0.0, 0.0])


def test_basset_information_content_reproduces_the_bug():
    bg = [0.585, 0.415, 0.415, 0.585]
    entropy_term = -sum(b * math.log2(b) for b in bg)  # about 1.958, from a vector summing to 2
    one_hot = cols([1, 0, 0, 0])
    uniform = cols(UNIFORM)
    assert basset_information_content(one_hot) == pytest.approx(entropy_term, abs=1e-6)
    assert basset_information_content(uniform) == pytest.approx(entropy_term - 2.0, abs=1e-6)
    # A uniform column has Basset IC < 0; the relative entropy is 0.
    assert information_content(uniform)[0] == 0.0


def test_pwm_from_sites_with_an_unknown_base():
    a, c, g, n = [1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0.25] * 4
    sites = np.array([cols(a, c), cols(a, n), cols(g, c)])  # AC, AN, GC
    # position 0: A 2, G 1, + 1 each -> (3, 1, 2, 1) / (3 + 4)
    # position 1: C 2 + 0.25, the others 0.25, + 1 each -> (1.25, 3.25, 1.25, 1.25) / 7
    want = cols([3 / 7, 1 / 7, 2 / 7, 1 / 7], [1.25 / 7, 3.25 / 7, 1.25 / 7, 1.25 / 7])
    np.testing.assert_allclose(pwm_from_sites(sites), want, atol=1e-12)
    np.testing.assert_allclose(
        pwm_from_sites(sites, pseudocount=0.0),
        cols([2 / 3, 0, 1 / 3, 0], [0.25 / 3, 2.25 / 3, 0.25 / 3, 0.25 / 3]),
        atol=1e-12,
    )
    np.testing.assert_allclose(pwm_from_sites(np.zeros((0, 4, 3))), np.full((4, 3), 0.25))
    with pytest.raises(ValueError, match=r"\(n, 4, w\)"):
        pwm_from_sites(np.zeros((4, 3)))


def test_counts_to_probs():
    counts = cols([3, 1, 0, 0], [0, 0, 0, 4])
    np.testing.assert_allclose(counts_to_probs(counts), cols([0.75, 0.25, 0, 0], [0, 0, 0, 1]))
    np.testing.assert_allclose(
        counts_to_probs(counts, pseudocount=1.0),
        cols([0.5, 0.25, 0.125, 0.125], [0.125] * 3 + [5 / 8]),
    )
    with pytest.raises(ValueError, match="no counts"):
        counts_to_probs(cols([0, 0, 0, 0]))


def test_log_odds():
    probs = cols([0.5, 0.25, 0.125, 0.125])
    np.testing.assert_allclose(log_odds(probs, pseudocount=0), cols([1, 0, -1, -1]), atol=1e-12)
    bg = [0.4, 0.1, 0.1, 0.4]
    np.testing.assert_allclose(
        log_odds(probs, bg, pseudocount=0),
        cols([math.log2(0.5 / 0.4), math.log2(2.5), math.log2(1.25), math.log2(0.125 / 0.4)]),
        atol=1e-12,
    )
    # A zero probability: -inf without a pseudocount, finite with one.
    zero = cols([1, 0, 0, 0])
    assert np.isneginf(log_odds(zero, pseudocount=0)[1, 0])
    # (0 + 0.01 * 0.25) / 1.01 against 0.25
    assert log_odds(zero)[1, 0] == pytest.approx(math.log2(0.01 / 1.01))


def test_consensus_rule():
    probs = cols([0, 0, 1, 0], UNIFORM, [0.1, 0.7, 0.1, 0.1], [0.3, 0.25, 0.25, 0.2])
    # IC: 2, 0, 0.64, 0.007 bits; below 0.2 bits -> N
    assert consensus(probs) == "GNCN"
    assert consensus(probs, min_ic=0) == "GACA"  # arg-max, ties to the first of ACGT
    assert consensus(probs, min_ic=1.0) == "GNNN"
    assert Motif("m", "m", probs).consensus() == "GNCN"


def test_trim():
    probs = cols(UNIFORM, [0.3, 0.25, 0.25, 0.2], [0, 1, 0, 0], UNIFORM, [0, 0, 0, 1], UNIFORM)
    assert trim(probs) == (2, 5)
    np.testing.assert_array_equal(trim_matrix(probs), probs[:, 2:5])
    assert trim(probs, min_ic=2.5) == (0, 0)
    assert trim_matrix(probs, min_ic=2.5).shape == (4, 0)
    assert trim(probs, min_ic=0) == (0, 6)
    motif = Motif("m", "n", probs, nsites=4)
    np.testing.assert_array_equal(motif.trimmed().probs, probs[:, 2:5])
    assert (motif.trimmed().id, motif.trimmed().nsites) == ("m", 4)
    with pytest.raises(ValueError, match="no position reaches"):
        motif.trimmed(min_ic=2.5)


def test_reverse_complement():
    # consensus ACG -> reverse complement CGT
    probs = cols([0.7, 0.1, 0.1, 0.1], [0.1, 0.6, 0.2, 0.1], [0.0, 0.0, 0.9, 0.1])
    rc = reverse_complement_probs(probs)
    want = cols([0.1, 0.9, 0.0, 0.0], [0.1, 0.2, 0.6, 0.1], [0.1, 0.1, 0.1, 0.7])
    np.testing.assert_array_equal(rc, want)
    motif = Motif("m1", "name", probs, nsites=7, url="u")
    back = motif.reverse_complement()
    assert back.consensus(min_ic=0) == "CGT"
    assert (back.id, back.name, back.nsites, back.url, back.width) == ("m1", "name", 7, "u", 3)
    np.testing.assert_array_equal(back.reverse_complement().probs, probs)


def test_motif_validates_its_matrix():
    with pytest.raises(ValueError, match=r"\(4, w\)"):
        Motif("x", "x", np.full((3, 2), 1 / 3))
    with pytest.raises(ValueError, match="column 1 sums to 2"):
        Motif("x", "x", cols(UNIFORM, [0.5, 0.5, 0.5, 0.5]))
    with pytest.raises(ValueError, match=">= 0"):
        Motif("x", "x", cols([1.5, -0.5, 0, 0]))


def naive_ic(probs, bg):
    out = []
    for j in range(probs.shape[1]):
        total = 0.0
        for b in range(4):
            p = probs[b, j]
            if p > 0:
                total += p * math.log(p / bg[b], 2)
        out.append(total)
    return out


positive = arrays(float, (4, 6), elements=st.floats(0.0, 1.0)).filter(
    lambda a: np.all(a.sum(axis=0) > 1e-3)
)
backgrounds = arrays(float, 4, elements=st.floats(0.05, 1.0))


@settings(max_examples=60, deadline=None)
@given(raw=positive, raw_bg=backgrounds)
def test_information_content_matches_a_naive_loop(raw, raw_bg):
    probs = raw / raw.sum(axis=0)
    bg = raw_bg / raw_bg.sum()
    ic = information_content(probs, bg)
    np.testing.assert_allclose(ic, np.maximum(naive_ic(probs, bg), 0), atol=1e-9)
    assert np.all(ic >= 0)
    assert np.all(ic <= math.log2(1 / bg.min()) + 1e-9)
    # the reverse complement under the complemented background has the reversed IC
    np.testing.assert_allclose(
        information_content(reverse_complement_probs(probs), bg[::-1]), ic[::-1], atol=1e-9
    )
