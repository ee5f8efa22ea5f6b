"""One-hot encoding, decoding, reverse complement and centre resizing."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from motiflens.errors import InputError
from motiflens.sequence.onehot import (
    codes_to_onehot,
    decode,
    encode_codes,
    one_hot,
    resize,
    reverse_complement,
    reverse_complement_onehot,
)

IUPAC = "NRYSWKMBDHV"
# Written out by hand (not derived from the module's table).
COMPLEMENT = {
    "A": "T", "C": "G", "G": "C", "T": "A", "N": "N",
    "R": "Y", "Y": "R", "S": "S", "W": "W", "K": "M", "M": "K",
    "B": "V", "V": "B", "D": "H", "H": "D",
}  # fmt: skip

acgt = st.text(alphabet="ACGT", max_size=60)
dna_any = st.text(alphabet="ACGT" + IUPAC + "acgt" + IUPAC.lower(), max_size=60)
SETTINGS = settings(max_examples=80, deadline=None)


def ref_onehot(seq: str) -> np.ndarray:
    """Reference encoder: a column per base, 0.25 everywhere for an unknown base."""
    out = np.zeros((4, len(seq)), dtype=np.float32)
    for j, base in enumerate(seq.upper()):
        if base in "ACGT":
            out["ACGT".index(base), j] = 1.0
        else:
            out[:, j] = 0.25
    return out


def ref_revcomp(seq: str) -> str:
    out = []
    for base in reversed(seq):
        comp = COMPLEMENT[base.upper()]
        out.append(comp.lower() if base.islower() else comp)
    return "".join(out)


# --- encoding --------------------------------------------------------------------------


def test_channels_are_a_c_g_t_in_order():
    x = one_hot("ACGT")
    assert x.dtype == np.float32
    np.testing.assert_array_equal(x, np.eye(4, dtype=np.float32))


def test_encode_codes_values():
    np.testing.assert_array_equal(encode_codes("ACGTNacgtn"), [0, 1, 2, 3, 4, 0, 1, 2, 3, 4])
    np.testing.assert_array_equal(encode_codes(b"GATN"), [2, 0, 3, 4])
    assert encode_codes("ACGT").dtype == np.uint8


@pytest.mark.parametrize("base", list(IUPAC + IUPAC.lower()))
def test_unknown_bases_are_quarter_in_every_channel(base):
    x = one_hot(f"A{base}T")
    expected = np.array([[1, 0.25, 0], [0, 0.25, 0], [0, 0.25, 0], [0, 0.25, 1]], dtype=np.float32)
    np.testing.assert_array_equal(x, expected)
    assert encode_codes(base)[0] == 4


def test_lower_case_is_upper_case():
    np.testing.assert_array_equal(one_hot("acgtn"), one_hot("ACGTN"))
    np.testing.assert_array_equal(one_hot("aCgT"), np.eye(4, dtype=np.float32))


def test_batch_shape_and_compact_dtypes():
    x = one_hot(["ACGTN", "TTTTA"])
    assert x.shape == (2, 4, 5)
    np.testing.assert_array_equal(x[1], ref_onehot("TTTTA"))
    # integer / bool storage: an unknown base is an all-zero column
    xb = one_hot(["AN"], dtype=bool)
    assert xb.dtype == bool
    np.testing.assert_array_equal(
        xb[0], [[True, False], [False, False], [False, False], [False, False]]
    )
    xu = codes_to_onehot(np.array([[3, 4, 1]], dtype=np.uint8), np.uint8)
    np.testing.assert_array_equal(xu[0], [[0, 0, 0], [0, 0, 1], [0, 0, 0], [1, 0, 0]])


def test_codes_to_onehot_float_gives_quarter_for_unknown():
    x = codes_to_onehot(np.array([4, 0], dtype=np.uint8))
    np.testing.assert_array_equal(x, [[0.25, 1], [0.25, 0], [0.25, 0], [0.25, 0]])


@pytest.mark.parametrize(
    ("seq", "char", "pos"),
    [("ACGU", "U", 4), ("XACG", "X", 1), ("AC-G", "-", 3), ("AC G", " ", 3), ("ACé", "é", 3)],
)
def test_invalid_character_names_record_and_position(seq, char, pos):
    with pytest.raises(InputError) as info:
        encode_codes(seq, path="reads.fa", line=12, record="chr1:100-200")
    msg = str(info.value)
    assert "reads.fa:12" in msg
    assert "'chr1:100-200'" in msg
    assert repr(char) in msg
    assert f"position {pos}" in msg


def test_invalid_character_in_batch_names_the_record_index():
    with pytest.raises(InputError) as info:
        one_hot(["ACGT", "ACGT", "ACZT"])
    msg = str(info.value)
    assert "record '2'" in msg
    assert "position 3" in msg
    assert "'Z'" in msg


def test_invalid_bytes_input():
    with pytest.raises(InputError, match="position 2"):
        encode_codes(b"A\xffC")


def test_invalid_character_position_is_in_the_sequence_as_passed():
    # the position counts in the given sequence, not in the centre-trimmed one
    with pytest.raises(InputError, match="position 5"):
        one_hot(["ACGTXAA"], length=5)
    # and a bad character is an error even where trimming would cut it away
    with pytest.raises(InputError, match="position 1"):
        one_hot(["XACGTA"], length=4)


def test_empty_batch():
    assert one_hot([]).shape == (0, 4, 0)
    x = one_hot([], length=7, dtype=np.uint8)
    assert x.shape == (0, 4, 7) and x.dtype == np.uint8
    assert one_hot("").shape == (4, 0)


def test_different_lengths_need_length():
    with pytest.raises(InputError, match="different lengths"):
        one_hot(["ACG", "ACGT"])
    x = one_hot(["ACG", "ACGTA"], length=4)
    np.testing.assert_array_equal(x[0], ref_onehot("ACGN"))
    np.testing.assert_array_equal(x[1], ref_onehot("ACGT"))


@given(acgt)
@SETTINGS
def test_onehot_matches_reference(seq):
    np.testing.assert_array_equal(one_hot(seq), ref_onehot(seq))


@given(dna_any)
@SETTINGS
def test_onehot_matches_reference_with_unknown_and_lower_case(seq):
    np.testing.assert_array_equal(one_hot(seq), ref_onehot(seq))


# --- decoding --------------------------------------------------------------------------


def test_decode_by_hand():
    x = np.array(
        [
            [1, 0, 0, 0, 0.25, 0],
            [0, 1, 0, 0, 0.25, 0],
            [0, 0, 1, 0, 0.25, 0],
            [0, 0, 0, 1, 0.25, 0],
        ],
        dtype=np.float32,
    )
    assert decode(x) == "ACGTNN"  # 0.25 column and all-zero column are both N
    assert decode(np.stack([x, x[:, ::-1]])) == ["ACGTNN", "NNTGCA"]
    # a soft (non one-hot) column is not a base
    assert decode(np.array([[0.7], [0.3], [0], [0]])) == "N"


@given(acgt)
@SETTINGS
def test_decode_encode_round_trip(seq):
    assert decode(one_hot(seq)) == seq
    assert decode(one_hot(seq, dtype=np.uint8)) == seq
    assert decode(one_hot(seq.lower())) == seq


@given(dna_any)
@SETTINGS
def test_decode_maps_unknown_to_n(seq):
    expected = "".join(b if b in "ACGT" else "N" for b in seq.upper())
    assert decode(one_hot(seq)) == expected


@given(st.lists(st.text(alphabet="ACGT", min_size=8, max_size=8), min_size=1, max_size=5))
@SETTINGS
def test_decode_batch_round_trip(seqs):
    assert decode(one_hot(seqs)) == seqs


# --- reverse complement ----------------------------------------------------------------


def test_reverse_complement_by_hand():
    assert reverse_complement("AACGTN") == "NACGTT"
    assert reverse_complement("acgT") == "Acgt"
    assert reverse_complement("RYKMBDHVSW") == "WSBDHVKMRY"
    assert reverse_complement("") == ""


def test_reverse_complement_onehot_by_hand():
    # AAC -> GTT
    x = np.array([[1, 1, 0], [0, 0, 1], [0, 0, 0], [0, 0, 0]], dtype=np.float32)
    expected = np.array([[0, 0, 0], [0, 0, 0], [1, 0, 0], [0, 1, 1]], dtype=np.float32)
    np.testing.assert_array_equal(reverse_complement_onehot(x), expected)
    np.testing.assert_array_equal(reverse_complement_onehot(x[None])[0], expected)
    assert reverse_complement_onehot(x).flags["C_CONTIGUOUS"]


@given(dna_any)
@SETTINGS
def test_reverse_complement_matches_reference(seq):
    assert reverse_complement(seq) == ref_revcomp(seq)


@given(dna_any)
@SETTINGS
def test_reverse_complement_twice_is_identity(seq):
    assert reverse_complement(reverse_complement(seq)) == seq
    x = one_hot(seq)
    np.testing.assert_array_equal(reverse_complement_onehot(reverse_complement_onehot(x)), x)


@given(dna_any)
@SETTINGS
def test_reverse_complement_onehot_commutes_with_encoding(seq):
    np.testing.assert_array_equal(
        reverse_complement_onehot(one_hot(seq)), one_hot(reverse_complement(seq))
    )


@given(st.lists(st.text(alphabet="ACGTN", min_size=6, max_size=6), min_size=1, max_size=4))
@SETTINGS
def test_reverse_complement_onehot_batch(seqs):
    expected = np.stack([ref_onehot(ref_revcomp(s)) for s in seqs])
    np.testing.assert_array_equal(reverse_complement_onehot(one_hot(seqs)), expected)


# --- resize ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seq", "length", "expected"),
    [
        ("ACGTA", 5, "ACGTA"),
        ("ACGTA", 3, "CGT"),  # even difference: one off each end
        ("ACGTA", 4, "ACGT"),  # odd difference 1: the extra base comes off the right
        ("ACGTA", 2, "CG"),  # difference 3: one off the left, two off the right
        ("ACGTAC", 3, "CGT"),  # difference 3 again: [1:4]
        ("ACGTA", 0, ""),
        ("AC", 4, "NACN"),
        ("AC", 5, "NACNN"),  # odd difference 3: one N left, two N right
        ("ACG", 4, "ACGN"),  # odd difference 1: the extra N goes right
        ("", 3, "NNN"),
    ],
)
def test_resize_by_hand(seq, length, expected):
    assert resize(seq, length) == expected


def test_resize_codes_by_hand():
    codes = np.array([0, 1, 2, 3, 0], dtype=np.uint8)
    np.testing.assert_array_equal(resize(codes, 2), [1, 2])
    np.testing.assert_array_equal(resize(codes[:2], 5), [4, 0, 1, 4, 4])
    assert resize(codes[:2], 5).dtype == np.uint8


@given(acgt, st.integers(0, 80))
@SETTINGS
def test_resize_keeps_the_centre(seq, length):
    out = resize(seq, length)
    assert len(out) == length
    n = len(seq)
    if n >= length:
        # a window of seq whose left margin is at most one shorter than the right one
        lefts = [i for i in range(n - length + 1) if seq[i : i + length] == out]
        assert any(i <= n - length - i <= i + 1 for i in lefts)
    else:
        left = len(out) - len(out.lstrip("N"))
        right = len(out) - len(out.rstrip("N"))
        assert out[left : length - right] == seq
        assert right in (left, left + 1)
