"""InputError: where (file, line, record), what, and how to fix it."""

from __future__ import annotations

import pickle

import pytest

from motiflens.errors import InputError


@pytest.mark.parametrize(
    ("kwargs", "text"),
    [
        ({}, "bad"),
        ({"path": "a.bed"}, "a.bed: bad"),
        ({"path": "a.bed", "line": 3}, "a.bed:3: bad"),
        ({"line": 3}, "line 3: bad"),
        ({"record": "seq1"}, "record 'seq1': bad"),
        ({"line": 2, "record": "x"}, "line 2 (record 'x'): bad"),
        ({"path": "s.fa", "line": 7, "record": "chr1"}, "s.fa:7 (record 'chr1'): bad"),
        ({"path": "a.bed", "hint": "fix it"}, "a.bed: bad\n  hint: fix it"),
    ],
)
def test_message_format(kwargs, text):
    err = InputError("bad", **kwargs)
    assert str(err) == text
    assert err.message == "bad"
    assert isinstance(err, ValueError)


def test_line_zero_is_still_a_line():
    assert str(InputError("bad", path="f", line=0)) == "f:0: bad"


def test_pickles_with_its_location():
    # errors cross process boundaries (DataLoader workers, parallel jobs)
    err = pickle.loads(pickle.dumps(InputError("bad", path="a.bed", line=3, hint="h")))
    assert str(err) == "a.bed:3: bad\n  hint: h"
    assert (err.path, err.line, err.hint) == ("a.bed", 3, "h")
