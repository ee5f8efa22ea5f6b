"""MEME minimal format: nasty hand-written files, errors that name the line, round trips."""

from pathlib import Path

import numpy as np
import pytest
from Bio import motifs as bio_motifs
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from motiflens.errors import InputError
from motiflens.motifs.meme import read_meme, write_meme
from motiflens.motifs.pwm import Motif

SHARED = Path("/work/shared/data")
JASPAR_MEME = SHARED / "motifs_jaspar2024_core_vertebrates/JASPAR2024_CORE_vertebrates_latest.meme"
CISBP_MEME = SHARED / "motifs_cisbp_human_basset/Homo_sapiens.meme"

HEADER = "MEME version 4\n\nALPHABET= ACGT\n\nstrands: + -\n\n"


def write(tmp_path, text, name="m.meme", newline="\n"):
    path = tmp_path / name
    path.write_bytes(text.replace("\n", newline).encode())
    return path


NASTY = (
    "\ufeffMEME version 5.5.4\n"
    "\n"
    "ALPHABET= ACGT\n"
    "strands: + -\n"
    "Background letter frequencies (from some file):\n"
    "A 0.3 C 0.2\n"
    "G 0.2 T 0.3\n"
    "\n"
    "MOTIF\tfirst\t  alt   name\n"
    "letter-probability matrix: w=2 E= 1e-5   nsites= 12.0 alength= 4\n"
    "1\t0\t0\t0\n"
    "\n"
    "  0.25   0.25 0.25  0.25  \n"
    "URL   http://example.org/first\n"
    "MOTIF   second\n"
    "\n"
    "\n"
    "letter-probability matrix: alength= 4 w= 1 nsites= 3 E= 0\n"
    "0.1 0.2 0.3 0.39\n"  # sums to 0.99: rounding, renormalised
    "log-odds matrix: alength= 4 w= 1 E= 0\n"
    "-1 2 3 4\n"
    "MOTIF last only-one-row\n"
    "letter-probability matrix: alength= 4 w= 1\n"
    "0 0 0 1"  # no newline at the end of the file
)


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_nasty_file(tmp_path, newline):
    motifs, bg = read_meme(write(tmp_path, NASTY, newline=newline))
    np.testing.assert_allclose(bg, [0.3, 0.2, 0.2, 0.3])
    assert [m.id for m in motifs] == ["first", "second", "last"]
    assert [m.name for m in motifs] == ["alt name", "second", "only-one-row"]
    assert [m.nsites for m in motifs] == [12, 3, None]
    assert [m.url for m in motifs] == ["http://example.org/first", None, None]
    np.testing.assert_allclose(motifs[0].probs, [[1, 0.25], [0, 0.25], [0, 0.25], [0, 0.25]])
    np.testing.assert_allclose(motifs[1].probs[:, 0], np.array([0.1, 0.2, 0.3, 0.39]) / 0.99)
    np.testing.assert_allclose(motifs[2].probs, [[0], [0], [0], [1]])


def test_matrix_without_w_ends_at_a_blank_line(tmp_path):
    text = HEADER + "MOTIF a\nletter-probability matrix:\n1 0 0 0\n0 1 0 0\n\nMOTIF b\n"
    text += "letter-probability matrix:\n0 0 1 0\n"
    motifs, bg = read_meme(write(tmp_path, text))
    assert [m.width for m in motifs] == [2, 1]
    np.testing.assert_allclose(bg, 0.25)


def test_cisbp_style_tabs_and_versions(tmp_path):
    text = (
        "MEME version 4.4\n\nALPHABET= ACGT\n\nstrands: + -\n\n"
        "Background letter frequencies (from uniform background):\n"
        "A 0.25000 C 0.25000 G 0.25000 T 0.25000 \n\n"
        "MOTIF M0085_1.02 (TFAP2E)_(Mus_musculus)_(DBD_0.99)\n\n"
        "letter-probability matrix: alength= 4 w= 2 nsites= 1 E= 0\n"
        "  0.369863\t  0.184932\t  0.000000\t  0.445205\t\n"
        "  0.315068\t  0.184932\t  0.500000\t  0.000000\t\n\n"
        "URL http://cisbp.ccbr.utoronto.ca/TFreport.php?searchTF=T044453_1.02\n\n"
    )
    (motif,), _ = read_meme(write(tmp_path, text))
    assert motif.id == "M0085_1.02" and motif.name == "(TFAP2E)_(Mus_musculus)_(DBD_0.99)"
    assert motif.url.endswith("T044453_1.02")
    np.testing.assert_allclose(motif.probs[:, 1], [0.315068, 0.184932, 0.5, 0.0], atol=1e-6)


def error_of(tmp_path, text):
    path = write(tmp_path, text)
    with pytest.raises(InputError) as info:
        read_meme(path)
    assert str(path) in str(info.value)
    return info.value


MOTIF_A = "MOTIF a\nletter-probability matrix: alength= 4 w= 2\n"


@pytest.mark.parametrize(
    ("body", "line", "words"),
    [
        (MOTIF_A + "1 0 0 0\n0.5 0.5 0\n", 10, "expected 4 probabilities (A C G T), found 3"),
        (MOTIF_A + "1 0 0 0\n0.5 0.5 abc 0\n", 10, "expected 4 probabilities"),
        (MOTIF_A + "1 0 0 0\n0.6 0.6 0.1 0\n", 10, "row sums to 1.3"),
        (MOTIF_A + "10 0 0 0\n0 1 0 0\n", 9, "not counts"),
        (MOTIF_A + "1 0 0 0\nMOTIF b\n", 8, "w= 2 but 1 matrix rows"),
        (MOTIF_A + "1 0 0 0\n0 1 0 0\n0 0 1 0\n", 11, "more rows than the matrix's w="),
        (MOTIF_A.replace("w= 2", "w= two") + "1 0 0 0\n", 8, "w= 'two'"),
        (MOTIF_A.replace("alength= 4", "alength= 20") + "1 0 0 0\n", 8, "alength= 20"),
        ("MOTIF a\nURL x\n", 7, "no letter-probability matrix"),
        ("MOTIF\n", 7, "without an identifier"),
        ("letter-probability matrix: w= 1\n1 0 0 0\n", 7, "before any MOTIF"),
        ("Background letter frequencies\nA 0.5 C 0.5 G 0.5\n", 8, "['T'] missing"),
        ("Background letter frequencies\nA 0.5 C 0.5 G 0.5 T 0.5\n", 7, "sum to 1"),
        ("Background letter frequencies\nA 0.25 C 0.25 G\n", 8, "pairs"),
        ("Background letter frequencies\nA 0.25 C 0.25 G 0.25 U 0.25\n", 8, "'U'"),
        ("ALPHABET= ACDEFGHIKLMNPQRSTVWY\n", 7, "not DNA"),
    ],
)
def test_errors_name_the_line(tmp_path, body, line, words):
    err = error_of(tmp_path, HEADER + body)
    assert err.line == line, str(err)
    assert words in err.message


def test_whole_file_errors(tmp_path):
    assert "MEME version" in error_of(tmp_path, "MOTIF a\n").message
    assert error_of(tmp_path, "\n\n>seq\nACGT\n").line == 3
    assert "empty" in error_of(tmp_path, "").message
    assert "no MOTIF" in error_of(tmp_path, HEADER).message
    with pytest.raises(InputError, match="not found"):
        read_meme(tmp_path / "absent.meme")
    (tmp_path / "bin.meme").write_bytes(b"MEME version 4\n\xff\xfe\n")
    with pytest.raises(InputError, match="UTF-8") as info:
        read_meme(tmp_path / "bin.meme")
    assert info.value.line == 2


def test_write_format_and_other_readers(tmp_path):
    probs = np.array([[0.5, 0.0, 0.1], [0.5, 0.0, 0.2], [0.0, 1.0, 0.3], [0.0, 0.0, 0.4]])
    motifs = [
        Motif("MA0001.1", "AGL3", probs, nsites=97, url="https://jaspar.elixir.no/x/"),
        Motif("filter 7", "filter 7", probs[:, :2]),
    ]
    path = write_meme(motifs, tmp_path / "out.meme", background=[0.3, 0.2, 0.2, 0.3])
    text = path.read_text()
    assert text.startswith("MEME version 4\n\nALPHABET= ACGT\n\nstrands: + -\n\n")
    assert "A 0.3 C 0.2 G 0.2 T 0.3\n" in text
    assert (
        "MOTIF MA0001.1 AGL3\nletter-probability matrix: alength= 4 w= 3 nsites= 97 E= 0\n" in text
    )
    assert "0.500000 0.500000 0.000000 0.000000\n" in text
    assert "URL https://jaspar.elixir.no/x/\n" in text
    assert "MOTIF filter_7\nletter-probability matrix: alength= 4 w= 2 nsites= 20 E= 0\n" in text
    # memelite's reader (what its tomtom CLI uses) keys by the MOTIF line
    from memelite.io import read_meme as memelite_read

    theirs = memelite_read(str(path))
    assert list(theirs) == ["MA0001.1 AGL3", "filter_7"]
    np.testing.assert_allclose(theirs["MA0001.1 AGL3"], probs, atol=1e-6)
    with path.open() as handle:
        record = bio_motifs.parse(handle, "minimal")
    assert [m.name for m in record] == ["MA0001.1", "filter_7"]
    assert record[0].length == 3


def test_write_refuses_bad_input_and_is_atomic(tmp_path):
    good = Motif("a", "a", np.full((4, 2), 0.25))
    path = write_meme([good], tmp_path / "keep.meme")
    before = path.read_text()
    bad = Motif("b", "b", np.full((4, 2), 0.25))
    bad.probs = bad.probs * 2  # bypasses the constructor's check
    with pytest.raises(ValueError, match="probability matrix"):
        write_meme([good, bad], path)
    assert path.read_text() == before
    assert [p.name for p in tmp_path.iterdir()] == ["keep.meme"]
    with pytest.raises(ValueError, match="sum to 1"):
        write_meme([good], tmp_path / "x.meme", background=[0.585, 0.415, 0.415, 0.585])
    with pytest.raises(ValueError, match="empty"):
        write_meme([Motif("  ", "a", np.full((4, 1), 0.25))], tmp_path / "y.meme")


ids = st.text(
    alphabet=st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=12
).filter(lambda s: s != "MOTIF")
names = st.text(alphabet="abcXYZ_()-.0 ", min_size=0, max_size=12)
matrices = st.integers(1, 8).flatmap(
    lambda w: arrays(float, (4, w), elements=st.floats(0.0, 1.0)).filter(
        lambda a: np.all(a.sum(axis=0) > 1e-2)
    )
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    data=st.lists(st.tuples(ids, names, matrices, st.none() | st.integers(1, 10**6)), max_size=5),
    raw_bg=arrays(float, 4, elements=st.floats(0.05, 1.0)),
)
def test_round_trip(tmp_path, data, raw_bg):
    motifs = [Motif(i, n, m / m.sum(axis=0), nsites=k) for i, n, m, k in data]
    bg = raw_bg / raw_bg.sum()
    path = tmp_path / "rt.meme"
    if not motifs:
        write_meme(motifs, path, bg)
        with pytest.raises(InputError, match="no MOTIF"):
            read_meme(path)
        return
    got, got_bg = read_meme(write_meme(motifs, path, bg, nsites_default=5))
    np.testing.assert_allclose(got_bg, bg, atol=1e-5)
    assert [g.id for g in got] == [m.id for m in motifs]
    want_names = ["_".join(m.name.split()) or m.id for m in motifs]
    assert [g.name for g in got] == want_names
    assert [g.nsites for g in got] == [5 if m.nsites is None else m.nsites for m in motifs]
    for g, m in zip(got, motifs, strict=True):
        np.testing.assert_allclose(g.probs, m.probs, atol=2e-6)


@pytest.mark.skipif(not JASPAR_MEME.exists(), reason="shared JASPAR export absent")
def test_real_jaspar_file():
    motifs, bg = read_meme(JASPAR_MEME)
    assert len(motifs) == 879  # the README's count
    np.testing.assert_allclose(bg, 0.25)
    by_id = {m.id: m for m in motifs}
    ctcf = by_id["MA0139.2"]
    assert (ctcf.name, ctcf.width, ctcf.nsites) == ("CTCF", 15, 913)
    np.testing.assert_allclose(
        ctcf.probs[:, 0], [0.307777, 0.053669, 0.491785, 0.146769], atol=1e-6
    )


@pytest.mark.skipif(not CISBP_MEME.exists(), reason="shared CIS-BP file absent")
def test_real_cisbp_file():
    motifs, _ = read_meme(CISBP_MEME)
    assert len(motifs) == 734  # the README's count
    by_id = {m.id: m for m in motifs}
    assert by_id["M4462_1.02"].name == "GABPA"
    assert by_id["M4477_1.02"].name == "SRF"
    assert motifs[-1].id == "M6559_1.02"  # the last motif is kept
    assert all(m.url and m.url.startswith("http://cisbp") for m in motifs)
