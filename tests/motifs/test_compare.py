"""TomTom comparison: planted matches, strands and offsets, q-values against a naive BH."""

import numpy as np
import pandas as pd
import pytest

from motiflens.motifs.compare import TOMTOM_COLUMNS, benjamini_hochberg, best_matches, tomtom
from motiflens.motifs.databases import jaspar_motif, load_database
from motiflens.motifs.pwm import Motif, reverse_complement_probs


@pytest.fixture(scope="module")
def db():
    return load_database("jaspar:2024:CORE:vertebrates")


@pytest.fixture(scope="module")
def ctcf():
    return jaspar_motif("MA0139.2")  # width 15, very informative


def planted(probs, left, right, seed=0):
    """``probs`` with ``left`` and ``right`` random (weakly informative) flanking columns."""
    rng = np.random.default_rng(seed)
    flank = rng.dirichlet(np.ones(4), size=left + right).T
    return np.concatenate([flank[:, :left], probs, flank[:, left:]], axis=1)


def target_row(table, query_id, target_id):
    rows = table[(table.query_id == query_id) & (table.target_id == target_id)]
    assert len(rows) == 1
    return rows.iloc[0]


def aligned_columns_agree(query, target, row):
    """Query column i must equal oriented-target column i - offset on every overlapping i."""
    oriented = target if row.strand == "+" else reverse_complement_probs(target)
    cols = [i for i in range(query.shape[1]) if 0 <= i - row.offset < oriented.shape[1]]
    assert len(cols) == row.overlap
    return np.allclose(query[:, cols], oriented[:, [i - row.offset for i in cols]], atol=1e-9)


def test_identical_motif_matches_first(db, ctcf):
    table = tomtom([ctcf], db)
    assert list(table.columns) == TOMTOM_COLUMNS
    first = table.iloc[0]
    assert (first.target_id, first.target_name, first.strand) == ("MA0139.2", "CTCF", "+")
    assert (first.offset, first.overlap) == (0, 15)
    assert first.q_value < 1e-20 and first.p_value < 1e-20
    assert (table.q_value <= 0.1).all()


def test_reverse_complement_matches_on_the_minus_strand(db, ctcf):
    rc = Motif("ctcf_rc", "rc", reverse_complement_probs(ctcf.probs))
    first = tomtom([rc], db).iloc[0]
    assert (first.target_id, first.strand, first.offset, first.overlap) == ("MA0139.2", "-", 0, 15)
    assert first.q_value < 1e-20


def test_shuffled_columns_do_not_match(db, ctcf):
    rng = np.random.default_rng(7)
    queries = []
    for k in range(5):
        order = rng.permutation(ctcf.width)
        assert not np.array_equal(order, np.arange(ctcf.width))
        queries.append(Motif(f"shuffled{k}", "s", ctcf.probs[:, order]))
    table = tomtom(queries, db, thresh=0.1)
    assert "MA0139.2" not in set(table.target_id)
    full = tomtom(queries, db, thresh=None)
    assert full[full.target_id == "MA0139.2"].q_value.min() > 0.1


@pytest.mark.parametrize("strand", ["+", "-"])
def test_offset_semantics_with_planted_motifs(db, ctcf, strand):
    # CTCF planted at query columns 3..17 of a width-20 query
    query = planted(ctcf.probs, 3, 2)
    # a query that is CTCF's columns 4..12: CTCF column 0 lies at query column -4
    sub = ctcf.probs[:, 4:13]
    if strand == "-":
        query, sub = reverse_complement_probs(query), reverse_complement_probs(sub)
    table = tomtom([Motif("planted", "p", query), Motif("sub", "s", sub)], db, thresh=None)
    big, small = target_row(table, "planted", "MA0139.2"), target_row(table, "sub", "MA0139.2")
    assert big.strand == small.strand == strand
    if strand == "+":
        assert (big.offset, big.overlap) == (3, 15)
        assert (small.offset, small.overlap) == (-4, 9)
    else:
        # reverse complement of the width-20 query: RC(CTCF) starts at 20 - 3 - 15 = 2;
        # RC(CTCF[4:13]) is RC(CTCF)[:, 2:11], so RC(CTCF) column 0 lies at -2.
        assert (big.offset, big.overlap) == (2, 15)
        assert (small.offset, small.overlap) == (-2, 9)
    assert aligned_columns_agree(query, ctcf.probs, big)
    assert aligned_columns_agree(sub, ctcf.probs, small)
    assert big.q_value < 1e-10 and small.q_value < 1e-5


def naive_bh(p):
    """q_i = min over p_j >= p_i of p_j n / #{k: p_k <= p_j}, straight from the definition."""
    p = np.asarray(p)
    rank = (p[None, :] <= p[:, None]).sum(axis=1)
    scaled = p * len(p) / rank
    return np.array([min(1.0, scaled[p >= pi].min()) for pi in p])


def test_benjamini_hochberg_hand_values():
    q = benjamini_hochberg(np.array([0.01, 0.04, 0.03, 0.2]))
    np.testing.assert_allclose(q, [0.04, 0.16 / 3, 0.16 / 3, 0.2])
    assert benjamini_hochberg(np.array([])).size == 0


def test_e_and_q_values(db, ctcf):
    other = jaspar_motif("MA0079.5")  # SP1
    table = tomtom([ctcf, other], db, thresh=None)
    assert len(table) == 2 * len(db)
    for _, group in table.groupby("query_index"):
        np.testing.assert_allclose(group.e_value, group.p_value * len(db))
        np.testing.assert_allclose(group.q_value, naive_bh(list(group.p_value)), rtol=1e-12)
        # sorted by q-value within each query, queries in input order
        assert group.q_value.is_monotonic_increasing
    assert table.query_index.is_monotonic_increasing
    assert set(table.strand) <= {"+", "-"}


def test_best_matches_and_uninformative_queries(db, ctcf):
    uniform = Motif("uniform", "u", np.full((4, 10), 0.25))
    rc = Motif("rc", "rc", reverse_complement_probs(ctcf.probs))
    table = tomtom([uniform, ctcf, rc], db, thresh=None)
    assert (table[table.query_id == "uniform"].p_value == 1.0).all()
    best = best_matches(table, q=0.1)
    assert list(best.query_id) == ["MA0139.2", "rc"]
    assert list(best.target_id) == ["MA0139.2", "MA0139.2"]
    assert list(best.strand) == ["+", "-"]
    assert best_matches(table.drop(columns="query_index")).query_id.tolist() == ["MA0139.2", "rc"]


def test_euclidean_distance_and_edge_cases(db, ctcf):
    first = tomtom([ctcf], db, distance="euclidean").iloc[0]
    assert (first.target_id, first.strand, first.offset) == ("MA0139.2", "+", 0)
    empty = tomtom([], db)
    assert isinstance(empty, pd.DataFrame) and list(empty.columns) == TOMTOM_COLUMNS
    with pytest.raises(ValueError, match="pearson"):
        tomtom([ctcf], db, distance="sandelin")
