"""A hostile user at the command line: 359 kinds of input, each outcome classified.

Every case builds its inputs in a fresh folder (from one tiny simulated dataset and one
tiny run, built once and copied), runs one ``motiflens`` command and sorts the outcome:

- ``clear``      exit 2, one message that contains the case's keywords, no traceback
- ``misleading`` refused (no traceback, no signal) but the message misses a keyword,
                 says something it should not, or the exit code is not 2
- ``traceback``  a Python traceback in the output
- ``crash``      killed by a signal (segfault: exit 139 in a shell) or a hang (timeout)
- ``silent``     exit 0 where the input should have been refused (or warned about)
- ``ok``         exit 0 where success is expected (control cases)
- ``refused``    a control case that should have succeeded but failed

Independently, ``partial`` flags any file created or changed in the case's folder by a
command that failed (a failed command must leave what was there before; advisory
``*.lock`` files and pyfaidx's ``.fai`` index beside a genome are not counted).

Commands run in child processes forked from one server process per worker that has
imported motiflens, torch and Lightning once: a case costs its own work, not 3 s of
imports (10 s on a loaded 2-core machine), and still gets its own process, exit status,
signals and file descriptors, with stdout and stderr going to files (no TTY, as under
nohup or SLURM). Disk-full cases run in a private mount namespace on a small tmpfs
(needs root or unprivileged user namespaces; skipped otherwise).

Usage::

    .venv/bin/python bench/hostile_cli.py                         # this checkout
    .venv/bin/python bench/hostile_cli.py --checkout /tmp/before  # another tree, same venv
    .venv/bin/python bench/hostile_cli.py --only 'vcf|fasta' --keep
    .venv/bin/python bench/hostile_cli.py --list                  # the cases, no run

The code under test is ``<checkout>/src`` (put first on ``PYTHONPATH``), run by
``--python`` (default ``<checkout>/.venv/bin/python``, else this interpreter). Writes a
TSV of every case (``--out``) and prints the summary table. 359 cases: 3.5 minutes on two
busy cores with ``--jobs 2`` before issue 13's fixes (the 90 s hang included), under 2 after.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]

# ----------------------------------------------------------------------------- the server
# Runs under the checkout's interpreter. Reads one JSON request per line, forks a child per
# command (several at once for the concurrency cases), answers one JSON line.
SERVER = r'''
import ctypes, json, os, shutil, signal, sys, time, traceback, hashlib

def _preload():
    import motiflens.cli  # noqa
    for name in ("torch", "lightning", "h5py", "matplotlib.pyplot", "pandas",
                 "motiflens.steps.train_job", "motiflens.steps.evaluate", "motiflens.steps.predict",
                 "motiflens.steps.explain", "motiflens.steps.motifs", "motiflens.steps.optimize",
                 "motiflens.steps.variants", "motiflens.steps.tune_job", "motiflens.data.simulate",
                 "motiflens.data.preprocess", "motiflens.data.labelled_build",
                 "motiflens.data.hdf5", "motiflens.distributed", "motiflens.dashboard",
                 "motiflens.dashboard.app", "motiflens.dashboard.export", "pysam", "pyfaidx",
                 "safetensors.torch", "optuna"):
        try:
            __import__(name)
        except Exception:
            pass

_preload()
import motiflens
from motiflens.cli import main

def run_cli(argv, cwd, out, err, env):
    os.setpgid(0, 0)
    # A bounded address space: a 100 GB allocation fails in this process instead of
    # waking the OOM killer on a machine shared with others.
    import resource
    vm = int(open("/proc/self/statm").read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    resource.setrlimit(resource.RLIMIT_AS, (vm + 6 * 2**30, vm + 6 * 2**30))
    fd0 = os.open(os.devnull, os.O_RDONLY); os.dup2(fd0, 0)
    fd1 = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644); os.dup2(fd1, 1)
    fd2 = os.open(err, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644); os.dup2(fd2, 2)
    os.environ.update(env)
    os.chdir(cwd)
    sys.argv = ["motiflens", *argv]
    code = 0
    try:
        main()
    except SystemExit as exc:
        c = exc.code
        if c is None:
            code = 0
        elif isinstance(c, int):
            code = c
        else:
            print(c, file=sys.stderr)
            code = 1
    except BaseException:
        sys.excepthook(*sys.exc_info())
        code = 1
    try:
        sys.stdout.flush(); sys.stderr.flush()
    except Exception:
        pass
    os._exit(code & 0xFF)

def wait_all(pids, timeout):
    """{pid: ("exit", code) | ("signal", n) | ("timeout", None)} and wall seconds."""
    t0 = time.time(); res = {}
    while len(res) < len(pids):
        for pid in pids:
            if pid in res:
                continue
            got, status = os.waitpid(pid, os.WNOHANG)
            if got:
                if os.WIFSIGNALED(status):
                    res[pid] = ("signal", os.WTERMSIG(status))
                else:
                    res[pid] = ("exit", os.WEXITSTATUS(status))
        if len(res) < len(pids) and time.time() - t0 > timeout:
            for pid in pids:
                if pid not in res:
                    for sig in (signal.SIGKILL,):
                        try:
                            os.killpg(pid, sig)
                        except OSError:
                            pass
                    os.waitpid(pid, 0)
                    res[pid] = ("timeout", None)
        time.sleep(0.02)
    return res, time.time() - t0

def listing(root):
    out = {}
    for dirpath, dirs, files in os.walk(root):
        for f in files:
            p = os.path.join(dirpath, f)
            try:
                with open(p, "rb") as fh:
                    out[os.path.relpath(p, root)] = hashlib.md5(fh.read()).hexdigest()
            except OSError:
                out[os.path.relpath(p, root)] = "?"
    return out

def launch(cmds, timeout):
    pids = []
    for i, c in enumerate(cmds):
        if i and c.get("delay"):
            time.sleep(c["delay"])
        pid = os.fork()
        if pid == 0:
            run_cli(c["argv"], c["cwd"], c["stdout"], c["stderr"], c.get("env", {}))
        pids.append(pid)
    res, secs = wait_all(pids, timeout)
    return [dict(status=res[p][0], code=res[p][1]) for p in pids], secs

CLONE_NEWNS = 0x00020000
MS_REC, MS_PRIVATE = 16384, 1 << 18

def in_tmpfs(req):
    """Child: private mount namespace, tmpfs on req['tmpfs']['path'], run, report."""
    spec = req["tmpfs"]
    libc = ctypes.CDLL(None, use_errno=True)
    report = {}
    try:
        if libc.unshare(CLONE_NEWNS) != 0:
            raise OSError(ctypes.get_errno(), "unshare")
        if libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None) != 0:
            raise OSError(ctypes.get_errno(), "make-private")
        os.makedirs(spec["path"], exist_ok=True)
        opts = ("size=" + spec["size"]).encode()
        if libc.mount(b"tmpfs", spec["path"].encode(), b"tmpfs", 0, opts) != 0:
            raise OSError(ctypes.get_errno(), "mount tmpfs")
        for src, dst in spec.get("copy", []):
            (shutil.copytree if os.path.isdir(src) else shutil.copy)(src, dst)
        report["before"] = listing(spec["path"])
        results, secs = launch(req["cmds"], req["timeout"])
        report["results"], report["secs"] = results, secs
        report["after"] = listing(spec["path"])
        st = os.statvfs(spec["path"])
        report["free_kb"] = st.f_bavail * st.f_frsize // 1024
    except Exception as exc:
        report["error"] = f"{type(exc).__name__}: {exc}"
    with open(spec["report"], "w") as fh:
        json.dump(report, fh)
    os._exit(0)

print(json.dumps({"ready": motiflens.__file__}), flush=True)
for line in sys.stdin:
    req = json.loads(line)
    if req.get("tmpfs"):
        pid = os.fork()
        if pid == 0:
            in_tmpfs(req)
        os.waitpid(pid, 0)
        print(json.dumps({"tmpfs": True}), flush=True)
        continue
    results, secs = launch(req["cmds"], req["timeout"])
    print(json.dumps({"results": results, "secs": secs}), flush=True)
'''


class Server:
    """One worker: a long-lived interpreter that forks a child per command."""

    def __init__(self, python: str, src: Path, workdir: Path) -> None:
        env = dict(os.environ)
        env.pop("MOTIFLENS_DEBUG", None)
        env.update(
            PYTHONPATH=str(src),
            OMP_NUM_THREADS="1",
            MKL_NUM_THREADS="1",
            MPLBACKEND="Agg",
            COLUMNS="100",
            TERM="dumb",
            NO_COLOR="1",
            PYTHONUNBUFFERED="1",
            PYTHONWARNINGS="ignore",
            # numba's default OpenMP layer hangs in a child forked after torch used
            # OpenMP in the parent (memelite's TomTom in `filters`); workqueue does not
            NUMBA_THREADING_LAYER="workqueue",
        )
        script = workdir / "server.py"
        script.write_text(SERVER)
        self.proc = subprocess.Popen(
            [python, str(script)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=open(workdir / f"server-{os.getpid()}-{id(self)}.log", "w"),
            text=True,
            env=env,
            cwd=workdir,
        )
        ready = json.loads(self.proc.stdout.readline() or "{}")
        if "ready" not in ready:
            raise SystemExit(f"the server did not start; see {workdir}/server-*.log")
        self.module = ready["ready"]

    def request(self, req: dict) -> dict:
        self.proc.stdin.write(json.dumps(req) + "\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


# ----------------------------------------------------------------------------- the cases
@dataclass
class Case:
    """One kind of bad (or control) input.

    ``argv`` items are formatted with ``d`` (the case folder), ``base`` (the shared
    inputs), ``run`` (``{d}/run``, a copy of the tiny run when ``run=True``), ``t0``/``t1``
    (two target names of the run) and ``port`` (a port held busy by the harness).
    ``keywords``: every group must occur in the output (case-insensitive); a group is
    ``a|b`` alternatives. ``absent``: text that must not occur.
    """

    id: str
    verb: str
    what: str
    argv: list[str]
    expect: str = "error"  # error | ok | either | warn
    keywords: tuple[str, ...] = ()
    absent: tuple[str, ...] = ()
    setup: Callable[[Path, Path], None] | None = None
    run: bool = False
    timeout: float = 120.0
    tmpfs: dict | None = None  # {"size": "256k", "path": "out", "copy": [[src, dst]]}
    concurrent: int = 1
    delay: float = 0.0
    hang_is_silent: bool = False  # serve: still running at the timeout = it accepted


CASES: list[Case] = []


def case(*args, **kwargs) -> None:
    CASES.append(Case(*args, **kwargs))


# --------------------------------------------------------------------- input builders
ACGT = np.array(list("ACGT"))
RNG = np.random.default_rng(7)


def dna(n: int) -> str:
    return "".join(RNG.choice(ACGT, n))


def write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def w(name: str, text: str | bytes) -> Callable[[Path, Path], None]:
    """Setup: write one file into the case folder."""
    return lambda d, base: write(d / name, text)


def steps(*fns: Callable[[Path, Path], None]) -> Callable[[Path, Path], None]:
    def run_all(d: Path, base: Path) -> None:
        for fn in fns:
            fn(d, base)

    return run_all


def cp(src: str, dst: str) -> Callable[[Path, Path], None]:
    return lambda d, base: shutil.copy(base / src, d / dst)


def truncate(name: str, keep: float) -> Callable[[Path, Path], None]:
    def fn(d: Path, base: Path) -> None:
        p = d / name
        data = p.read_bytes()
        p.write_bytes(data[: int(len(data) * keep)])

    return fn


def h5_edit(src: str, dst: str, edit: Callable) -> Callable[[Path, Path], None]:
    def fn(d: Path, base: Path) -> None:
        import h5py

        shutil.copy(base / src, d / dst)
        with h5py.File(d / dst, "a") as f:
            edit(f)

    return fn


def h5_drop(*keys: str):
    def edit(f) -> None:
        for k in keys:
            if k in f:
                del f[k]

    return edit


def h5_labels(value: float):
    def edit(f) -> None:
        for split in ("train", "valid", "test"):
            y = f[f"{split}_out"][...]
            f[f"{split}_out"][...] = np.full_like(y, value)

    return edit


def yaml_cfg(model_arch: str = "", training: str = "", model_extra: str = "") -> str:
    arch = model_arch or "{filters: [8], sizes: [9], pools: [4], hidden: [8], batch_norm: false}"
    train = training or "{max_epochs: 1, batch_size: 64, patience: 1, seed: 1}"
    return f"model:\n  name: basset\n{model_extra}  arch: {arch}\ntraining: {train}\n"


TINY = yaml_cfg()
BIG_INT = "9" * 5000
FASTA_OK = ">s1\n" + "ACGT" * 25 + "\n>s2\n" + "GGCA" * 25 + "\n"
LABELLED = "".join(f">r{i} {i % 2}\n{'ACGTTGCA' * 6}{'AC'[i % 2] * 4}\n" for i in range(40))
TABLE = "sequence\tlabel\n" + "".join(
    f"{'ACGTTGCA' * 6}{'GT'[i % 2] * 4}\t{i % 2}\n" for i in range(40)
)
MEME_OK = textwrap.dedent(
    """\
    MEME version 4

    ALPHABET= ACGT

    strands: + -

    Background letter frequencies
    A 0.25 C 0.25 G 0.25 T 0.25

    MOTIF M1 one
    letter-probability matrix: alength= 4 w= 3 nsites= 10 E= 0
    1.0 0.0 0.0 0.0
    0.0 1.0 0.0 0.0
    0.0 0.0 1.0 0.0

    MOTIF M2 two
    letter-probability matrix: alength= 4 w= 2 nsites= 10 E= 0
    0.0 0.0 0.0 1.0
    0.5 0.5 0.0 0.0
    """
)
VCF_HEAD = (
    "##fileformat=VCFv4.2\n##contig=<ID=chr1,length=3000>\n##contig=<ID=chr2,length=3000>\n"
    "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
)


def vcf_line(chrom: str, pos: int, ref: str, alt: str, vid: str = ".") -> str:
    return f"{chrom}\t{pos}\t{vid}\t{ref}\t{alt}\t.\tPASS\t.\n"


def vcf_at(chrom: str, pos: int, alt: str, genome: dict[str, str], vid: str = ".") -> str:
    return vcf_line(chrom, pos, genome[chrom][pos - 1], alt, vid)


# ------------------------------------------------------------------------- base inputs
GENOME: dict[str, str] = {}


def build_base_files(base: Path) -> None:
    """Plain inputs shared by the cases (read only): genome, BEDs, FASTA, tables, motifs."""
    rng = np.random.default_rng(3)
    for name in ("chr1", "chr2", "chr8"):
        GENOME[name] = "".join(rng.choice(ACGT, 3000))
    with open(base / "genome.fa", "w") as fh:
        for name, seq in GENOME.items():
            fh.write(f">{name}\n")
            fh.writelines(seq[i : i + 60] + "\n" for i in range(0, len(seq), 60))
    write(base / "tiny.yaml", TINY)
    write(base / "a.bed", "chr1\t1000\t1200\nchr2\t300\t400\nchr8\t2000\t2300\nchr1\t2400\t2500\n")
    write(base / "b.bed", "chr1\t1050\t1250\nchr2\t1000\t1100\nchr8\t500\t600\n")
    write(base / "targets.txt", f"cellA\t{base / 'a.bed'}\ncellB\t{base / 'b.bed'}\n")
    write(base / "pred.bed", "chr1\t100\t200\tp1\nchr2\t500\t600\tp2\n")
    write(base / "seqs.fa", FASTA_OK)
    write(base / "labelled.fa", LABELLED)
    write(base / "table.tsv", TABLE)
    write(base / "motifs.meme", MEME_OK)
    write(
        base / "ok.vcf",
        VCF_HEAD
        + vcf_at("chr1", 500, "A" if GENOME["chr1"][499] != "A" else "C", GENOME, "v1")
        + vcf_at("chr2", 1500, "G" if GENOME["chr2"][1499] != "G" else "T", GENOME, "v2"),
    )
    # for disk-full: a labelled FASTA whose dataset is ~1 MB
    big = "".join(f">b{i} {i % 2}\n{''.join(rng.choice(ACGT, 400))}\n" for i in range(3000))
    write(base / "big.fa", big)
    write(
        base / "search.yaml",
        TINY + "search:\n  training.lr: {type: float, low: 0.001, high: 0.1, log: true}\n",
    )


def cases_for(base: Path, targets: list[str]) -> None:
    """Register every case (needs the genome, for VCF positions)."""
    g = GENOME
    ref1 = g["chr1"][499]
    alt1 = "A" if ref1 != "A" else "C"

    # ---------------------------------------------------------------- simulate
    sim = ["simulate", "{d}/out.h5", "--length", "100", "--n-sequences"]
    case("sim-ok", "simulate", "control: tiny simulation", [*sim, "200"], "ok")
    case(
        "sim-n0",
        "simulate",
        "--n-sequences 0",
        [*sim, "0"],
        keywords=("n-sequences|n_sequences|number",),
    )
    case(
        "sim-nneg",
        "simulate",
        "--n-sequences -5",
        [*sim, "-5"],
        keywords=("n-sequences|n_sequences|number",),
    )
    case(
        "sim-nbig",
        "simulate",
        "--n-sequences 5000 digits",
        [*sim, BIG_INT],
        keywords=("n-sequences|too large|range",),
        absent=("int_max_str_digits", "Exceeds the limit"),
    )
    case(
        "sim-nhuge",
        "simulate",
        "--n-sequences 10^13 (memory)",
        [*sim, "10000000000000"],
        keywords=("n-sequences|memory|too",),
        timeout=90,
    )
    case("sim-nstr", "simulate", "--n-sequences abc", [*sim, "abc"], keywords=("n-sequences",))
    case(
        "sim-len0",
        "simulate",
        "--length 0",
        ["simulate", "{d}/out.h5", "--n-sequences", "100", "--length", "0"],
        keywords=("length",),
    )
    case(
        "sim-lenneg",
        "simulate",
        "--length -10",
        ["simulate", "{d}/out.h5", "--n-sequences", "100", "--length", "-10"],
        keywords=("length",),
    )
    case(
        "sim-lenshort",
        "simulate",
        "--length 5 (shorter than motifs)",
        ["simulate", "{d}/out.h5", "--n-sequences", "100", "--length", "5"],
        keywords=("length",),
    )
    case("sim-gc", "simulate", "--gc 1.5", [*sim, "100", "--gc", "1.5"], keywords=("gc",))
    case("sim-gcneg", "simulate", "--gc -0.1", [*sim, "100", "--gc", "-0.1"], keywords=("gc",))
    case("sim-gcnan", "simulate", "--gc nan", [*sim, "100", "--gc", "nan"], keywords=("gc",))
    case(
        "sim-validneg",
        "simulate",
        "--valid -0.1",
        [*sim, "100", "--valid", "-0.1"],
        keywords=("valid",),
    )
    case(
        "sim-splitsum",
        "simulate",
        "--valid 0.6 --test 0.6",
        [*sim, "100", "--valid", "0.6", "--test", "0.6"],
        keywords=("valid|test",),
    )
    case(
        "sim-validbig",
        "simulate",
        "--valid 500 of 100",
        [*sim, "100", "--valid", "500"],
        keywords=("valid",),
    )
    case(
        "sim-markov",
        "simulate",
        "--markov-order -1",
        [*sim, "100", "--markov-order", "-1"],
        keywords=("markov|order",),
    )
    case(
        "sim-seedneg",
        "simulate",
        "--seed -1",
        [*sim, "100", "--seed", "-1"],
        "either",
        keywords=("seed",),
    )
    case(
        "sim-outdir",
        "simulate",
        "output is a directory",
        ["simulate", "{d}/outdir", "--n-sequences", "100", "--length", "100"],
        keywords=("outdir", "directory"),
        setup=lambda d, b: (d / "outdir").mkdir(),
    )
    case(
        "sim-outinfile",
        "simulate",
        "output inside a regular file",
        ["simulate", "{d}/f.txt/out.h5", "--n-sequences", "100", "--length", "100"],
        keywords=("f.txt", "directory|not a dir|exists"),
        setup=w("f.txt", "x"),
    )
    case("sim-badopt", "simulate", "unknown option", [*sim, "100", "--bogus"], keywords=("bogus",))
    case(
        "sim-enospc",
        "simulate",
        "disk full (tmpfs 256 KB)",
        ["simulate", "{d}/full/out.h5", "--n-sequences", "3000", "--length", "200"],
        keywords=("no space left", "out.h5"),
        tmpfs={"path": "full", "size": "256k"},
    )

    # ---------------------------------------------------------------- dataset info
    info = ["dataset", "info"]
    case("info-ok", "dataset info", "control", [*info, "{base}/sim.h5"], "ok")
    case(
        "info-missing",
        "dataset info",
        "missing file",
        [*info, "{d}/nope.h5"],
        keywords=("nope.h5", "not found|no such|does not exist"),
    )
    case(
        "info-dir",
        "dataset info",
        "a directory",
        [*info, "{d}/dir.h5"],
        keywords=("dir.h5", "directory"),
        setup=lambda d, b: (d / "dir.h5").mkdir(),
    )
    case(
        "info-empty",
        "dataset info",
        "empty file",
        [*info, "{d}/e.h5"],
        keywords=("e.h5", "empty|not an hdf5"),
        setup=w("e.h5", ""),
    )
    case(
        "info-garbage",
        "dataset info",
        "garbage file",
        [*info, "{d}/g.h5"],
        keywords=("g.h5", "hdf5"),
        setup=w("g.h5", os.urandom(3000)),
    )
    case(
        "info-trunc",
        "dataset info",
        "truncated HDF5",
        [*info, "{d}/t.h5"],
        keywords=("t.h5", "truncated|corrupt|incomplete|damaged|hdf5"),
        setup=steps(cp("sim.h5", "t.h5"), truncate("t.h5", 0.5)),
    )
    case(
        "info-nolabels",
        "dataset info",
        "HDF5 without target_labels",
        [*info, "{d}/n.h5"],
        keywords=("n.h5", "target_labels"),
        setup=h5_edit("sim.h5", "n.h5", h5_drop("target_labels")),
    )
    case(
        "info-novalid",
        "dataset info",
        "HDF5 without validation split",
        [*info, "{d}/n.h5"],
        "either",
        keywords=("n.h5", "valid"),
        setup=h5_edit("sim.h5", "n.h5", h5_drop("valid_in", "valid_out")),
    )
    case(
        "info-noin",
        "dataset info",
        "HDF5 with train_out but no train_in",
        [*info, "{d}/n.h5"],
        keywords=("n.h5", "train_in"),
        setup=h5_edit("sim.h5", "n.h5", h5_drop("train_in")),
    )
    case(
        "info-emptyh5",
        "dataset info",
        "valid but empty HDF5",
        [*info, "{d}/n.h5"],
        keywords=("n.h5", "train_in|no |dataset"),
        setup=lambda d, b: __import__("h5py").File(d / "n.h5", "w").close(),
    )
    case(
        "info-fasta",
        "dataset info",
        "a FASTA given as dataset",
        [*info, "{base}/seqs.fa"],
        keywords=("seqs.fa", "hdf5"),
    )
    case(
        "info-mismatch",
        "dataset info",
        "train_out rows != train_in rows",
        [*info, "{d}/n.h5"],
        keywords=("n.h5", "train"),
        setup=h5_edit(
            "sim.h5",
            "n.h5",
            lambda f: (
                f.__delitem__("train_out"),
                f.create_dataset("train_out", data=np.zeros((5, 5), "u1")),
            ),
        ),
    )
    case(
        "info-wrongext",
        "dataset info",
        "valid HDF5 named .txt",
        [*info, "{d}/x.txt"],
        "ok",
        setup=cp("sim.h5", "x.txt"),
    )

    # ---------------------------------------------------------------- dataset sequences
    seqs = ["dataset", "sequences", "-o", "{d}/o.h5"]
    case(
        "seq-ok-fasta",
        "dataset sequences",
        "control: labelled FASTA",
        [*seqs, "{base}/labelled.fa"],
        "ok",
    )
    case(
        "seq-ok-table", "dataset sequences", "control: TSV table", [*seqs, "{base}/table.tsv"], "ok"
    )
    case(
        "seq-ok-crlf",
        "dataset sequences",
        "control: CRLF line ends",
        [*seqs, "{d}/c.fa"],
        "ok",
        setup=w("c.fa", LABELLED.replace("\n", "\r\n")),
    )
    case(
        "seq-missing",
        "dataset sequences",
        "missing file",
        [*seqs, "{d}/nope.fa"],
        keywords=("nope.fa", "not found|no such|does not exist"),
    )
    case(
        "seq-dir",
        "dataset sequences",
        "directory as input",
        [*seqs, "{d}/in.fa"],
        keywords=("in.fa", "directory"),
        setup=lambda d, b: (d / "in.fa").mkdir(),
    )
    case(
        "seq-empty",
        "dataset sequences",
        "empty file",
        [*seqs, "{d}/e.fa"],
        keywords=("e.fa", "empty|no sequence|no record"),
        setup=w("e.fa", ""),
    )
    case(
        "seq-bom",
        "dataset sequences",
        "FASTA starting with a BOM",
        [*seqs, "{d}/x.fa"],
        "either",
        keywords=("x.fa", "byte-order|byte order|bom"),
        absent=("looks like a BED", "sequence column"),
        setup=w("x.fa", "\ufeff" + LABELLED),
    )
    case(
        "seq-before-header",
        "dataset sequences",
        "sequence before the first >",
        [*seqs, "{d}/x.fa"],
        keywords=("x.fa", "before the first|first '>'|header"),
        absent=("looks like a BED", "sequence column"),
        setup=w("x.fa", "ACGT\n" + LABELLED),
    )
    case(
        "seq-binary",
        "dataset sequences",
        "binary file named .fa",
        [*seqs, "{d}/x.fa"],
        keywords=("x.fa", "binary|not text|not a text|utf-8|decode"),
        absent=("looks like a BED", "sequence column"),
        setup=w("x.fa", bytes(range(256)) * 8),
    )
    case(
        "seq-badbase",
        "dataset sequences",
        "invalid base X",
        [*seqs, "{d}/x.fa"],
        keywords=("x.fa", "'x'|\"x\"| x "),
        setup=w("x.fa", ">a 1\nACGTXACGT\n>b 0\nACGTACGTA\n"),
    )
    case(
        "seq-badlabel",
        "dataset sequences",
        "label 'yes'",
        [*seqs, "{d}/x.fa"],
        keywords=("x.fa", "label"),
        setup=w("x.fa", ">a yes\nACGTACGT\n>b 0\nACGTACGT\n"),
    )
    case(
        "seq-label2",
        "dataset sequences",
        "label 2 in binary data",
        [*seqs, "{d}/x.fa"],
        keywords=("x.fa", "label|0 or 1"),
        setup=w("x.fa", ">a 2\nACGTACGT\n>b 0\nACGTACGT\n"),
    )
    case(
        "seq-ntargets",
        "dataset sequences",
        "records with different label counts",
        [*seqs, "{d}/x.fa"],
        keywords=("x.fa", "label"),
        setup=w("x.fa", ">a 1,0\nACGTACGT\n>b 0\nACGTACGT\n"),
    )
    case(
        "seq-emptyrec",
        "dataset sequences",
        "record with no sequence",
        [*seqs, "{d}/x.fa"],
        keywords=("x.fa", "empty|no sequence"),
        setup=w("x.fa", ">a 1\n>b 0\nACGTACGT\n"),
    )
    case(
        "seq-dupname",
        "dataset sequences",
        "duplicate record names",
        [*seqs, "{d}/x.fa"],
        "either",
        keywords=("x.fa", "duplicate"),
        setup=w("x.fa", ">a 1\nACGTACGT\n>a 0\nACGTACGT\n>c 0\nAAAAAAAA\n"),
    )
    case(
        "seq-oneclass",
        "dataset sequences",
        "single class (all positives)",
        [*seqs, "{d}/x.fa"],
        keywords=(
            "x.fa",
            "one class|only positive|all positive|negatives|single class|both classes",
        ),
        setup=w("x.fa", "".join(f">r{i} 1\nACGTACGTAC\n" for i in range(20))),
    )
    case(
        "seq-allneg",
        "dataset sequences",
        "single class (all negatives)",
        [*seqs, "{d}/x.fa"],
        keywords=("x.fa", "one class|no positive|all negative|single class|both classes"),
        setup=w("x.fa", "".join(f">r{i} 0\nACGTACGTAC\n" for i in range(20))),
    )
    case(
        "seq-latin1",
        "dataset sequences",
        "non-UTF-8 FASTA",
        [*seqs, "{d}/x.fa"],
        "either",
        keywords=("x.fa", "utf-8|encoding|decode"),
        setup=w("x.fa", ">r\xe9 1\nACGT\n>b 0\nACGT\n".encode("latin-1")),
    )
    case(
        "seq-plaingz",
        "dataset sequences",
        "plain text named .fa.gz",
        [*seqs, "{d}/x.fa.gz"],
        keywords=("x.fa.gz", "gzip"),
        setup=w("x.fa.gz", LABELLED),
    )
    case(
        "seq-truncgz",
        "dataset sequences",
        "truncated gzip",
        [*seqs, "{d}/x.fa.gz"],
        keywords=("x.fa.gz", "gzip|truncated|compressed|end of"),
        setup=w("x.fa.gz", gzip.compress(LABELLED.encode())[:200]),
    )
    case(
        "seq-allN",
        "dataset sequences",
        "all-N sequences",
        [*seqs, "{d}/x.fa"],
        "either",
        keywords=("x.fa",),
        setup=w("x.fa", "".join(f">r{i} {i % 2}\nNNNNNNNN\n" for i in range(20))),
    )
    case(
        "seq-tab-ragged",
        "dataset sequences",
        "ragged TSV row",
        [*seqs, "{d}/x.tsv"],
        keywords=("x.tsv", "column|field"),
        absent=("label '' is not",),
        setup=w("x.tsv", TABLE + "ACGTACGT\n"),
    )
    case(
        "seq-tab-extra",
        "dataset sequences",
        "TSV row with an extra field",
        [*seqs, "{d}/x.tsv"],
        keywords=("x.tsv", "column|field"),
        setup=w("x.tsv", TABLE + "ACGTACGT\t1\textra\n"),
    )
    case(
        "seq-tab-noseq",
        "dataset sequences",
        "table without a sequence column",
        [*seqs, "{d}/x.tsv"],
        keywords=("x.tsv", "sequence"),
        setup=w("x.tsv", TABLE.replace("sequence", "seq", 1)),
    )
    case(
        "seq-tab-nolab",
        "dataset sequences",
        "--label-column missing",
        [*seqs, "{base}/table.tsv", "--label-column", "nolabel"],
        keywords=("table.tsv", "nolabel"),
    )
    case(
        "seq-tab-headeronly",
        "dataset sequences",
        "table with header only",
        [*seqs, "{d}/x.tsv"],
        keywords=("x.tsv", "no |empty|rows"),
        setup=w("x.tsv", "name\tsequence\tlabel\n"),
    )
    case(
        "seq-tab-labnan",
        "dataset sequences",
        "empty label cell",
        [*seqs, "{d}/x.tsv"],
        keywords=("x.tsv", "label"),
        setup=w("x.tsv", TABLE + "ACGTACGT\t\n"),
    )
    case(
        "seq-tab-contbad",
        "dataset sequences",
        "--continuous with label 'abc'",
        [*seqs, "{d}/x.tsv", "--continuous"],
        keywords=("x.tsv", "abc|number|label"),
        setup=w("x.tsv", TABLE + "ACGTACGT\tabc\n"),
    )
    case(
        "seq-tab-latin1",
        "dataset sequences",
        "non-UTF-8 table",
        [*seqs, "{d}/x.tsv", "--label-column", "label"],
        "either",
        keywords=("x.tsv", "utf-8|encoding|decode"),
        setup=w(
            "x.tsv",
            (
                "sequence\tlabel\tnote\n"
                + "".join(f"ACGTACGT\t{i % 2}\tcaf\xe9\n" for i in range(10))
            ).encode("latin-1"),
        ),
    )
    case(
        "seq-tab-splitcol",
        "dataset sequences",
        "--split-column missing",
        [*seqs, "{base}/table.tsv", "--split-column", "fold"],
        keywords=("fold",),
    )
    case(
        "seq-tab-splitval",
        "dataset sequences",
        "split column value 'maybe'",
        [*seqs, "{d}/x.tsv", "--split-column", "split"],
        keywords=("x.tsv", "maybe"),
        setup=w(
            "x.tsv",
            "sequence\tlabel\tsplit\n"
            + "".join(f"ACGTACGT\t{i % 2}\t{'train' if i else 'maybe'}\n" for i in range(10)),
        ),
    )
    case(
        "seq-tab-chromcol",
        "dataset sequences",
        "--chrom-column missing with --valid-chrom",
        [*seqs, "{base}/table.tsv", "--chrom-column", "nochr", "--valid-chrom", "chr2"],
        keywords=("nochr",),
    )
    case(
        "seq-deepbind-hdr",
        "dataset sequences",
        "--format deepbind on a FASTA",
        [*seqs, "{base}/labelled.fa", "--format", "deepbind"],
        keywords=("labelled.fa", "deepbind|header|FoldID"),
    )
    case(
        "seq-table-fasta",
        "dataset sequences",
        "--format table on a FASTA",
        [*seqs, "{base}/labelled.fa", "--format", "table"],
        keywords=("labelled.fa", "sequence|column"),
    )
    case(
        "seq-badformat",
        "dataset sequences",
        "--format xml",
        [*seqs, "{base}/labelled.fa", "--format", "xml"],
        keywords=("format",),
    )
    case(
        "seq-len0",
        "dataset sequences",
        "--length 0",
        [*seqs, "{base}/labelled.fa", "--length", "0"],
        keywords=("length",),
    )
    case(
        "seq-lenneg",
        "dataset sequences",
        "--length -5",
        [*seqs, "{base}/labelled.fa", "--length", "-5"],
        keywords=("length",),
    )
    case(
        "seq-lenbig",
        "dataset sequences",
        "--length 5000 digits",
        [*seqs, "{base}/labelled.fa", "--length", BIG_INT],
        keywords=("length",),
        absent=("int_max_str_digits", "Exceeds the limit"),
    )
    case(
        "seq-lenhuge",
        "dataset sequences",
        "--length 10^12 (memory)",
        [*seqs, "{base}/labelled.fa", "--length", "1000000000000"],
        keywords=("length|memory|too",),
        timeout=90,
    )
    case(
        "seq-validneg",
        "dataset sequences",
        "--valid -1",
        [*seqs, "{base}/labelled.fa", "--valid", "-1"],
        keywords=("valid",),
    )
    case(
        "seq-splitsum",
        "dataset sequences",
        "--valid 0.6 --test 0.6",
        [*seqs, "{base}/labelled.fa", "--valid", "0.6", "--test", "0.6"],
        keywords=("valid|test",),
    )
    case(
        "seq-validcount",
        "dataset sequences",
        "--valid 500 of 40",
        [*seqs, "{base}/labelled.fa", "--valid", "500"],
        keywords=("valid",),
    )
    case(
        "seq-testchrom-file",
        "dataset sequences",
        "--test-chrom with --test-file",
        [*seqs, "{base}/labelled.fa", "--test-chrom", "chr1", "--test-file", "{base}/labelled.fa"],
        keywords=("test-chrom", "test-file"),
    )
    case(
        "seq-valid-chrom",
        "dataset sequences",
        "--valid with --valid-chrom",
        [*seqs, "{base}/labelled.fa", "--valid", "0.2", "--valid-chrom", "chr2"],
        keywords=("valid",),
    )
    case(
        "seq-chrom-nochr",
        "dataset sequences",
        "--valid-chrom but names have no chromosome",
        [*seqs, "{base}/labelled.fa", "--valid-chrom", "chr2"],
        keywords=("labelled.fa", "chrom"),
    )
    case(
        "seq-testfile-missing",
        "dataset sequences",
        "--test-file missing",
        [*seqs, "{base}/labelled.fa", "--test-file", "{d}/nope.fa"],
        keywords=("nope.fa", "not found|no such|does not exist"),
    )
    case(
        "seq-outdir",
        "dataset sequences",
        "-o is a directory",
        ["dataset", "sequences", "-o", "{d}/odir", "{base}/labelled.fa"],
        keywords=("odir", "directory"),
        setup=lambda d, b: (d / "odir").mkdir(),
    )
    case(
        "seq-noout",
        "dataset sequences",
        "no -o",
        ["dataset", "sequences", "{base}/labelled.fa"],
        keywords=("out",),
    )
    case(
        "seq-neg-shuffle-onlyneg",
        "dataset sequences",
        "--negatives shuffle with negatives present",
        [*seqs, "{base}/labelled.fa", "--negatives", "shuffle"],
        "either",
        keywords=("negative",),
    )
    case(
        "seq-enospc",
        "dataset sequences",
        "disk full (tmpfs 256 KB)",
        ["dataset", "sequences", "-o", "{d}/full/o.h5", "{base}/big.fa"],
        keywords=("no space left", "o.h5"),
        tmpfs={"path": "full", "size": "256k"},
    )

    # ---------------------------------------------------------------- dataset peaks
    pk = ["dataset", "peaks"]
    pk_ok = [
        *pk,
        "{base}/targets.txt",
        "{base}/genome.fa",
        "{d}/p.h5",
        "--size",
        "100",
        "--merge-overlap",
        "20",
        "--valid-chrom",
        "chr8",
        "--test-chrom",
        "chr2",
    ]
    case("peaks-ok", "dataset peaks", "control", pk_ok, "ok")
    case(
        "peaks-size-neg",
        "dataset peaks",
        "--size -5",
        [*pk_ok, "--size", "-5"],
        keywords=("size",),
        absent=("larger than the region size",),
    )
    case("peaks-size-0", "dataset peaks", "--size 0", [*pk_ok, "--size", "0"], keywords=("size",))
    case(
        "peaks-size-big",
        "dataset peaks",
        "--size 10^7 (past chromosome ends)",
        [*pk_ok, "--size", "10000000"],
        keywords=("size|chromosome|longer",),
    )
    case(
        "peaks-merge-neg",
        "dataset peaks",
        "--merge-overlap -1",
        [*pk_ok, "--merge-overlap", "-1"],
        keywords=("merge",),
    )
    case(
        "peaks-targets-missing",
        "dataset peaks",
        "targets table missing",
        [*pk, "{d}/nope.txt", "{base}/genome.fa", "{d}/p.h5"],
        keywords=("nope.txt", "not found|no such|does not exist"),
    )
    case(
        "peaks-targets-empty",
        "dataset peaks",
        "targets table empty",
        [*pk, "{d}/t.txt", "{base}/genome.fa", "{d}/p.h5"],
        keywords=("t.txt", "empty|no target"),
        setup=w("t.txt", ""),
    )
    case(
        "peaks-targets-onecol",
        "dataset peaks",
        "targets table with one column",
        [*pk, "{d}/t.txt", "{base}/genome.fa", "{d}/p.h5"],
        keywords=("t.txt", "column|label|bed"),
        setup=w("t.txt", "cellA\n"),
    )
    case(
        "peaks-targets-bedmissing",
        "dataset peaks",
        "targets table names a missing BED",
        [*pk, "{d}/t.txt", "{base}/genome.fa", "{d}/p.h5"],
        keywords=("gone.bed", "not found|no such|does not exist"),
        setup=w("t.txt", "cellA gone.bed\n"),
    )
    case(
        "peaks-targets-dup",
        "dataset peaks",
        "duplicate target label",
        [*pk, "{d}/t.txt", "{base}/genome.fa", "{d}/p.h5"],
        keywords=("t.txt", "duplicate|twice|cellA"),
        setup=lambda d, b: write(d / "t.txt", f"cellA {b}/a.bed\ncellA {b}/b.bed\n"),
    )

    def peaks_with(bed_text: str | bytes):
        def fn(d: Path, b: Path) -> None:
            write(d / "x.bed", bed_text)
            write(d / "t.txt", f"cellA {b}/a.bed\ncellX x.bed\n")

        return fn

    pk_x = [
        *pk,
        "{d}/t.txt",
        "{base}/genome.fa",
        "{d}/p.h5",
        "--size",
        "100",
        "--merge-overlap",
        "20",
        "--valid-chrom",
        "chr8",
        "--test-chrom",
        "chr2",
    ]
    case(
        "peaks-bed-startend",
        "dataset peaks",
        "BED start == end",
        pk_x,
        keywords=("x.bed", "start|end|empty|zero"),
        setup=peaks_with("chr1\t500\t500\n"),
    )
    case(
        "peaks-bed-startgt",
        "dataset peaks",
        "BED start > end",
        pk_x,
        keywords=("x.bed", "start|end"),
        setup=peaks_with("chr1\t600\t500\n"),
    )
    case(
        "peaks-bed-negstart",
        "dataset peaks",
        "BED negative start",
        pk_x,
        keywords=("x.bed", "negative|start"),
        setup=peaks_with("chr1\t-5\t100\n"),
    )
    case(
        "peaks-bed-strand",
        "dataset peaks",
        "BED strand '?'",
        pk_x,
        keywords=("x.bed", "strand"),
        setup=peaks_with("chr1\t500\t600\tp\t0\t?\n"),
    )
    case(
        "peaks-bed-nonint",
        "dataset peaks",
        "BED non-integer start",
        pk_x,
        keywords=("x.bed", "integer"),
        setup=peaks_with("chr1\tten\t600\n"),
    )
    case(
        "peaks-bed-float",
        "dataset peaks",
        "BED start 1.5",
        pk_x,
        keywords=("x.bed", "integer"),
        setup=peaks_with("chr1\t1.5\t600\n"),
    )
    case(
        "peaks-bed-2col",
        "dataset peaks",
        "BED with two columns",
        pk_x,
        keywords=("x.bed", "column|field"),
        setup=peaks_with("chr1\t500\n"),
    )
    case(
        "peaks-bed-empty",
        "dataset peaks",
        "empty BED",
        pk_x,
        keywords=("x.bed", "empty|no interval|no peak"),
        setup=peaks_with(""),
    )
    case(
        "peaks-bed-unkchrom",
        "dataset peaks",
        "BED chromosome not in genome",
        pk_x,
        keywords=("x.bed", "chr99"),
        setup=peaks_with("chr99\t500\t600\n"),
    )
    case(
        "peaks-bed-pastend",
        "dataset peaks",
        "BED interval past chromosome end",
        pk_x,
        keywords=("x.bed", "end|length|past"),
        setup=peaks_with("chr1\t2900\t3500\n"),
    )
    case(
        "peaks-bed-bigint",
        "dataset peaks",
        "BED end with 5000 digits",
        pk_x,
        keywords=("x.bed",),
        absent=("int_max_str_digits", "Exceeds the limit"),
        setup=peaks_with(f"chr1\t500\t{BIG_INT}\n"),
    )
    case(
        "peaks-bed-binary",
        "dataset peaks",
        "binary BED",
        pk_x,
        keywords=("x.bed", "binary|utf-8|not text|decode|column"),
        setup=peaks_with(os.urandom(500)),
    )
    case(
        "peaks-bed-track",
        "dataset peaks",
        "control: BED with track/browser lines",
        pk_x,
        "ok",
        setup=peaks_with(
            "track name=x\nbrowser position chr1\n# c\n"
            "chr1\t500\t600\nchr8\t100\t200\nchr2\t2000\t2100\n"
        ),
    )
    case(
        "peaks-bed-plaingz",
        "dataset peaks",
        "plain text named .bed.gz",
        [*pk, "{d}/t.txt", "{base}/genome.fa", "{d}/p.h5"],
        keywords=("x.bed.gz", "gzip"),
        setup=lambda d, b: (
            write(d / "x.bed.gz", "chr1\t1\t100\n"),
            write(d / "t.txt", "cellX x.bed.gz\n"),
        ),
    )
    case(
        "peaks-genome-missing",
        "dataset peaks",
        "genome missing",
        [*pk, "{base}/targets.txt", "{d}/nope.fa", "{d}/p.h5"],
        keywords=("nope.fa", "not found|no such|does not exist"),
    )
    case(
        "peaks-genome-empty",
        "dataset peaks",
        "genome empty",
        [*pk, "{base}/targets.txt", "{d}/g.fa", "{d}/p.h5"],
        keywords=("g.fa", "empty|no sequence|no chromosome"),
        setup=w("g.fa", ""),
    )
    case(
        "peaks-genome-binary",
        "dataset peaks",
        "genome binary",
        [*pk, "{base}/targets.txt", "{d}/g.fa", "{d}/p.h5"],
        keywords=("g.fa", "fasta|binary"),
        setup=w("g.fa", os.urandom(4000)),
    )
    case(
        "peaks-genome-bed",
        "dataset peaks",
        "a BED given as genome",
        [*pk, "{base}/targets.txt", "{base}/a.bed", "{d}/p.h5"],
        keywords=("a.bed", "fasta"),
    )
    case(
        "peaks-genome-dir",
        "dataset peaks",
        "genome is a directory",
        [*pk, "{base}/targets.txt", "{d}/gdir", "{d}/p.h5"],
        keywords=("gdir", "directory"),
        setup=lambda d, b: (d / "gdir").mkdir(),
    )
    case(
        "peaks-genome-plaingz",
        "dataset peaks",
        "genome plain text named .fa.gz",
        [*pk, "{base}/targets.txt", "{d}/g.fa.gz", "{d}/p.h5"],
        keywords=("g.fa.gz", "gzip|bgzip"),
        setup=cp("genome.fa", "g.fa.gz"),
    )
    case(
        "peaks-validchrom-absent",
        "dataset peaks",
        "--valid-chrom not in data",
        [*pk_ok, "--valid-chrom", "chrZZ"],
        keywords=("chrZZ",),
    )
    case(
        "peaks-split-bad",
        "dataset peaks",
        "--split sideways",
        [*pk_ok, "--split", "sideways"],
        keywords=("split",),
    )
    case(
        "peaks-random-validbig",
        "dataset peaks",
        "random split --valid 5.0 of few regions",
        [*pk_ok, "--split", "random", "--valid", "500"],
        keywords=("valid",),
    )
    case(
        "peaks-dropall",
        "dataset peaks",
        "--drop-chrom every chromosome",
        [*pk_ok, "--drop-chrom", "chr1", "--drop-chrom", "chr2", "--drop-chrom", "chr8"],
        keywords=("no |empty|left|drop",),
    )
    case(
        "peaks-canonical-none",
        "dataset peaks",
        "--canonical-only with no canonical chromosome",
        [
            *pk,
            "{d}/t.txt",
            "{d}/g.fa",
            "{d}/p.h5",
            "--size",
            "100",
            "--merge-overlap",
            "20",
            "--canonical-only",
        ],
        keywords=("canonical|no |left",),
        setup=lambda d, b: (
            write(d / "g.fa", ">scaffold1\n" + dna(2000) + "\n"),
            write(d / "x.bed", "scaffold1\t100\t200\n"),
            write(d / "t.txt", "cellX x.bed\n"),
        ),
    )
    case(
        "peaks-outdir",
        "dataset peaks",
        "output is a directory",
        [
            *pk,
            "{base}/targets.txt",
            "{base}/genome.fa",
            "{d}/odir",
            "--size",
            "100",
            "--merge-overlap",
            "20",
        ],
        keywords=("odir", "directory"),
        setup=lambda d, b: (d / "odir").mkdir(),
    )

    # ---------------------------------------------------------------- train
    tr = ["train", "--no-progress", "--max-epochs", "1"]
    tr_ok = [*tr, "{base}/sim.h5", "{d}/newrun", "--config", "{base}/tiny.yaml"]
    case("train-ok", "train", "control: tiny model", tr_ok, "ok")
    case(
        "train-ds-missing",
        "train",
        "dataset missing",
        [*tr, "{d}/nope.h5", "{d}/newrun", "--config", "{base}/tiny.yaml"],
        keywords=("nope.h5", "not found|no such|does not exist"),
    )
    case(
        "train-ds-dir",
        "train",
        "dataset is a directory",
        [*tr, "{d}/ds", "{d}/newrun", "--config", "{base}/tiny.yaml"],
        keywords=("ds", "directory"),
        setup=lambda d, b: (d / "ds").mkdir(),
    )
    case(
        "train-ds-empty",
        "train",
        "dataset empty",
        [*tr, "{d}/e.h5", "{d}/newrun", "--config", "{base}/tiny.yaml"],
        keywords=("e.h5", "empty|hdf5"),
        setup=w("e.h5", ""),
    )
    case(
        "train-ds-garbage",
        "train",
        "dataset garbage",
        [*tr, "{d}/g.h5", "{d}/newrun", "--config", "{base}/tiny.yaml"],
        keywords=("g.h5", "hdf5"),
        setup=w("g.h5", os.urandom(5000)),
    )
    case(
        "train-ds-trunc",
        "train",
        "truncated HDF5",
        [*tr, "{d}/t.h5", "{d}/newrun", "--config", "{base}/tiny.yaml"],
        keywords=("t.h5", "truncated|corrupt|incomplete|damaged|hdf5"),
        setup=steps(cp("sim.h5", "t.h5"), truncate("t.h5", 0.6)),
    )
    case(
        "train-ds-nolabels",
        "train",
        "HDF5 without target_labels",
        [*tr, "{d}/n.h5", "{d}/newrun", "--config", "{base}/tiny.yaml"],
        "either",
        keywords=("n.h5", "target_labels"),
        setup=h5_edit("sim.h5", "n.h5", h5_drop("target_labels")),
    )
    case(
        "train-ds-novalid",
        "train",
        "HDF5 without validation split",
        [*tr, "{d}/n.h5", "{d}/newrun", "--config", "{base}/tiny.yaml"],
        keywords=("n.h5", "valid"),
        setup=h5_edit("sim.h5", "n.h5", h5_drop("valid_in", "valid_out")),
    )
    case(
        "train-ds-notrain",
        "train",
        "HDF5 without training split",
        [*tr, "{d}/n.h5", "{d}/newrun", "--config", "{base}/tiny.yaml"],
        keywords=("n.h5", "train"),
        setup=h5_edit("sim.h5", "n.h5", h5_drop("train_in", "train_out")),
    )
    case(
        "train-ds-oneclass",
        "train",
        "single-class dataset (all positive)",
        [*tr, "{d}/n.h5", "{d}/newrun", "--config", "{base}/tiny.yaml"],
        keywords=(
            "n.h5",
            "one class|only positive|all positive|single class|negative|both classes",
        ),
        setup=h5_edit("sim.h5", "n.h5", h5_labels(1.0)),
    )
    case(
        "train-ds-fasta",
        "train",
        "FASTA given as dataset",
        [*tr, "{base}/labelled.fa", "{d}/newrun", "--config", "{base}/tiny.yaml"],
        keywords=("labelled.fa", "hdf5|dataset sequences"),
    )
    case(
        "train-cfg-missing",
        "train",
        "--config missing",
        [*tr, "{base}/sim.h5", "{d}/newrun", "--config", "{d}/nope.yaml"],
        keywords=("nope.yaml", "not found|no such|does not exist"),
    )
    case(
        "train-cfg-latin1",
        "train",
        "non-UTF-8 config",
        [*tr, "{base}/sim.h5", "{d}/newrun", "--config", "{d}/c.yaml"],
        keywords=("c.yaml", "utf-8|encoding"),
        setup=w("c.yaml", ("# caf\xe9\n" + TINY).encode("latin-1")),
    )
    case(
        "train-cfg-syntax",
        "train",
        "YAML syntax error",
        [*tr, "{base}/sim.h5", "{d}/newrun", "--config", "{d}/c.yaml"],
        keywords=("c.yaml", "yaml|line"),
        setup=w("c.yaml", "model: [1, 2\ntraining: {\n"),
    )
    case(
        "train-cfg-list",
        "train",
        "config is a YAML list",
        [*tr, "{base}/sim.h5", "{d}/newrun", "--config", "{d}/c.yaml"],
        keywords=("c.yaml", "mapping|dict|key"),
        setup=w("c.yaml", "- 1\n- 2\n"),
    )
    case(
        "train-cfg-typo",
        "train",
        "unknown key filtres",
        [*tr, "{base}/sim.h5", "{d}/newrun", "--config", "{d}/c.yaml"],
        keywords=("filtres",),
        setup=w("c.yaml", TINY.replace("filters", "filtres")),
    )
    case(
        "train-cfg-binary",
        "train",
        "binary config",
        [*tr, "{base}/sim.h5", "{d}/newrun", "--config", "{d}/c.yaml"],
        keywords=("c.yaml",),
        setup=w("c.yaml", os.urandom(300)),
    )
    case(
        "train-cfg-dir",
        "train",
        "--config is a directory",
        [*tr, "{base}/sim.h5", "{d}/newrun", "--config", "{d}/cdir"],
        keywords=("cdir", "directory"),
        setup=lambda d, b: (d / "cdir").mkdir(),
    )

    def cfg_case(
        cid: str,
        what: str,
        arch: str = "",
        training: str = "",
        kw: tuple[str, ...] = (),
        expect: str = "error",
        timeout: float = 120.0,
        extra: str = "",
    ) -> None:
        case(
            cid,
            "train",
            what,
            [*tr, "{base}/sim.h5", "{d}/newrun", "--config", "{d}/c.yaml"],
            expect,
            keywords=("c.yaml|model|arch|training|conv|pool|basset", *kw),
            setup=w("c.yaml", yaml_cfg(arch, training, extra)),
            timeout=timeout,
        )

    A = "{{filters: {f}, sizes: {s}, pools: {p}, hidden: {h}, batch_norm: false{x}}}"
    cfg_case(
        "train-filters-1e9",
        "filters: [1000000000] (112 GB)",
        A.format(f="[1000000000]", s="[9]", p="[4]", h="[8]", x=""),
        kw=("filters|parameters|memory|GB",),
        timeout=90,
    )
    cfg_case(
        "train-hidden-1e9",
        "hidden: [1e9] (416 GB)",
        A.format(f="[8]", s="[9]", p="[4]", h="[1000000000]", x=""),
        kw=("hidden|parameters|memory|GB",),
        timeout=90,
    )
    cfg_case(
        "train-kernel-1e6",
        "kernel 10^6 on 100 bp, padding same",
        A.format(f="[8]", s="[1000000]", p="[4]", h="[8]", x=", padding: same"),
        kw=("size|kernel|length",),
        timeout=90,
    )
    cfg_case(
        "train-kernel-long",
        "kernel 150 on 100 bp, padding valid",
        A.format(f="[8]", s="[150]", p="[4]", h="[8]", x=""),
        kw=("size|kernel|length",),
    )
    cfg_case(
        "train-pool-long",
        "pool 500 on 100 bp",
        A.format(f="[8]", s="[9]", p="[500]", h="[8]", x=""),
        kw=("pool|length",),
    )
    cfg_case(
        "train-filters-0",
        "filters: [0]",
        A.format(f="[0]", s="[9]", p="[4]", h="[8]", x=""),
        kw=("filters",),
    )
    cfg_case(
        "train-filters-neg",
        "filters: [-3]",
        A.format(f="[-3]", s="[9]", p="[4]", h="[8]", x=""),
        kw=("filters",),
    )
    cfg_case(
        "train-filters-str",
        "filters: [many]",
        A.format(f="[many]", s="[9]", p="[4]", h="[8]", x=""),
        kw=("filters",),
    )
    cfg_case(
        "train-filters-float",
        "filters: [8.5]",
        A.format(f="[8.5]", s="[9]", p="[4]", h="[8]", x=""),
        kw=("filters",),
    )
    cfg_case(
        "train-sizes-0",
        "sizes: [0]",
        A.format(f="[8]", s="[0]", p="[4]", h="[8]", x=""),
        kw=("sizes",),
    )
    cfg_case(
        "train-pools-0",
        "pools: [0]",
        A.format(f="[8]", s="[9]", p="[0]", h="[8]", x=""),
        kw=("pools",),
    )
    cfg_case(
        "train-hidden-neg",
        "hidden: [-1]",
        A.format(f="[8]", s="[9]", p="[4]", h="[-1]", x=""),
        kw=("hidden",),
    )
    cfg_case(
        "train-layers-mismatch",
        "filters 2 layers, sizes 3",
        A.format(f="[8, 8]", s="[9, 9, 9]", p="[4, 4]", h="[8]", x=""),
        kw=("sizes|filters|layers",),
    )
    cfg_case(
        "train-dropout",
        "hidden_dropout 1.5",
        A.format(f="[8]", s="[9]", p="[4]", h="[8]", x=", hidden_dropout: 1.5"),
        kw=("dropout",),
    )
    cfg_case(
        "train-padding",
        "padding: sideways",
        A.format(f="[8]", s="[9]", p="[4]", h="[8]", x=", padding: sideways"),
        kw=("padding",),
    )
    cfg_case(
        "train-bigint-cfg",
        "filters with 5000 digits in YAML",
        A.format(f=f"[{BIG_INT}]", s="[9]", p="[4]", h="[8]", x=""),
        kw=("filters",),
    )
    cfg_case("train-task-bad", "task: ranking", extra="  task: ranking\n", kw=("task",))
    cfg_case("train-model-name", "model name: transformer", extra="", kw=("transformer",))
    CASES[-1].setup = w("c.yaml", TINY.replace("name: basset", "name: transformer"))
    cfg_case(
        "train-epochs-cfg",
        "training.max_epochs: -1",
        training="{max_epochs: -1, batch_size: 64}",
        kw=("max_epochs",),
    )
    cfg_case("train-lr-cfg", "training.lr: fast", training="{max_epochs: 1, lr: fast}", kw=("lr",))
    cfg_case(
        "train-preset-cfg",
        "training.preset: adamw",
        training="{max_epochs: 1, preset: adamw}",
        kw=("preset|adamw",),
    )
    case("train-lr-neg", "train", "--lr -1", [*tr_ok, "--lr", "-1"], keywords=("lr|learning rate",))
    case("train-lr-0", "train", "--lr 0", [*tr_ok, "--lr", "0"], keywords=("lr|learning rate",))
    case(
        "train-lr-nan", "train", "--lr nan", [*tr_ok, "--lr", "nan"], keywords=("lr|learning rate",)
    )
    case(
        "train-bs-0", "train", "--batch-size 0", [*tr_ok, "--batch-size", "0"], keywords=("batch",)
    )
    case(
        "train-bs-neg",
        "train",
        "--batch-size -1",
        [*tr_ok, "--batch-size", "-1"],
        keywords=("batch",),
    )
    case(
        "train-epochs-0",
        "train",
        "--max-epochs 0",
        [*tr_ok, "--max-epochs", "0"],
        keywords=("epoch",),
    )
    case(
        "train-epochs-neg",
        "train",
        "--max-epochs -3",
        [*tr_ok, "--max-epochs", "-3"],
        keywords=("epoch",),
    )
    case(
        "train-epochs-big",
        "train",
        "--max-epochs 5000 digits",
        [*tr_ok, "--max-epochs", BIG_INT],
        keywords=("epoch",),
        absent=("int_max_str_digits", "Exceeds the limit"),
    )
    case(
        "train-patience-neg",
        "train",
        "--patience -1",
        [*tr_ok, "--patience", "-1"],
        keywords=("patience",),
    )
    case(
        "train-model-unknown", "train", "--model foo", [*tr_ok, "--model", "foo"], keywords=("foo",)
    )
    case(
        "train-preset-bad",
        "train",
        "--preset adamw",
        [*tr_ok, "--preset", "adamw"],
        keywords=("preset",),
    )
    case(
        "train-devices-bad",
        "train",
        "--devices abc",
        [*tr_ok, "--devices", "abc"],
        keywords=("devices|abc",),
    )
    case(
        "train-devices-0", "train", "--devices 0", [*tr_ok, "--devices", "0"], keywords=("devices",)
    )
    case(
        "train-accel-bad",
        "train",
        "--accelerator tpu9",
        [*tr_ok, "--accelerator", "tpu9"],
        keywords=("accelerator|tpu9",),
    )
    case(
        "train-nodes-0", "train", "--num-nodes 0", [*tr_ok, "--num-nodes", "0"], keywords=("nodes",)
    )
    case(
        "train-strategy-bad",
        "train",
        "--strategy bogus",
        [*tr_ok, "--strategy", "bogus"],
        keywords=("strategy|bogus",),
    )
    case(
        "train-existing",
        "train",
        "into an existing run without --resume",
        [*tr, "{base}/sim.h5", "{run}", "--config", "{base}/tiny.yaml"],
        keywords=("run", "exist|already"),
        run=True,
    )
    case(
        "train-resume-nockpt",
        "train",
        "--resume without checkpoint",
        [*tr_ok, "--resume"],
        keywords=("checkpoint|ckpt",),
    )
    case(
        "train-resume-garbage",
        "train",
        "--resume with garbage last.ckpt",
        [*tr, "{base}/sim.h5", "{run}", "--resume"],
        keywords=("last.ckpt", "checkpoint|corrupt|damaged|read"),
        run=True,
        setup=lambda d, b: write(d / "run/checkpoints/last.ckpt", os.urandom(3000)),
    )
    case(
        "train-resume-trunc",
        "train",
        "--resume with truncated last.ckpt",
        [*tr, "{base}/sim.h5", "{run}", "--resume"],
        keywords=("last.ckpt", "checkpoint|corrupt|damaged|truncated|read"),
        run=True,
        setup=truncate("run/checkpoints/last.ckpt", 0.5),
    )
    case(
        "train-rundir-file",
        "train",
        "run directory is a regular file",
        [*tr, "{base}/sim.h5", "{d}/runfile", "--config", "{base}/tiny.yaml"],
        keywords=("runfile", "directory|file|exist"),
        setup=w("runfile", "x"),
    )
    case(
        "train-rundir-infile",
        "train",
        "run directory inside a regular file",
        [*tr, "{base}/sim.h5", "{d}/f/run", "--config", "{base}/tiny.yaml"],
        keywords=("f", "directory|exist"),
        setup=w("f", "x"),
    )
    case(
        "train-two-at-once",
        "train",
        "two trains on one new run directory",
        tr_ok,
        keywords=("newrun", "lock|in use|another|busy|running"),
        concurrent=2,
        delay=0.5,
    )
    case(
        "train-enospc",
        "train",
        "disk full (tmpfs 48 KB run dir)",
        [*tr, "{base}/sim.h5", "{d}/full/run", "--config", "{base}/tiny.yaml"],
        keywords=("no space left",),
        tmpfs={"path": "full", "size": "48k"},
    )
    case(
        "train-ds-mismatch-run",
        "train",
        "--resume with a dataset of other targets",
        [*tr, "{d}/n.h5", "{run}", "--resume"],
        keywords=("target",),
        run=True,
        setup=h5_edit(
            "sim.h5",
            "n.h5",
            lambda f: (
                f.__delitem__("target_labels"),
                f.create_dataset("target_labels", data=np.array([b"a", b"b", b"c", b"d", b"e"])),
            ),
        ),
    )

    # ---------------------------------------------------------------- broken runs (read side)
    pred = ["predict", "{run}", "{base}/seqs.fa", "-o", "{d}/p.tsv", "--no-progress"]
    case("run-ok", "predict", "control: predict FASTA", pred, "ok", run=True)
    case(
        "run-weights-trunc",
        "predict",
        "truncated model.safetensors",
        pred,
        keywords=("model.safetensors", "truncated|corrupt|damaged|incomplete|read"),
        run=True,
        setup=truncate("run/model.safetensors", 0.5),
    )
    case(
        "run-weights-empty",
        "predict",
        "empty model.safetensors",
        pred,
        keywords=("model.safetensors", "empty|corrupt|damaged|read"),
        run=True,
        setup=w("run/model.safetensors", ""),
    )
    case(
        "run-weights-garbage",
        "predict",
        "garbage model.safetensors",
        pred,
        keywords=("model.safetensors", "corrupt|damaged|not a|read"),
        run=True,
        setup=w("run/model.safetensors", os.urandom(4000)),
    )
    case(
        "run-weights-missing",
        "predict",
        "model.safetensors missing",
        pred,
        keywords=("model.safetensors|not a trained run|train",),
        run=True,
        setup=lambda d, b: (d / "run/model.safetensors").unlink(),
    )
    case(
        "run-weights-nan",
        "predict",
        "NaN weights",
        pred,
        "warn",
        keywords=("nan",),
        run=True,
        setup=lambda d, b: _nan_weights(d / "run/model.safetensors"),
    )
    case(
        "run-config-missing",
        "predict",
        "config.yaml missing",
        pred,
        keywords=("config.yaml",),
        run=True,
        setup=lambda d, b: (d / "run/config.yaml").unlink(),
    )
    case(
        "run-config-garbage",
        "predict",
        "config.yaml garbage",
        pred,
        keywords=("config.yaml",),
        run=True,
        setup=w("run/config.yaml", "model: [1, 2\n"),
    )
    case(
        "run-config-task",
        "predict",
        "task edited to regression in config.yaml",
        pred,
        keywords=("task|config.yaml",),
        run=True,
        setup=lambda d, b: _edit_config_task(d / "run/config.yaml", "regression"),
    )
    case(
        "run-config-arch",
        "predict",
        "filters edited in config.yaml",
        pred,
        keywords=("config.yaml|model.safetensors", "shape|match|size|trained with"),
        run=True,
        setup=lambda d, b: _edit_config_filters(d / "run/config.yaml"),
    )
    case(
        "run-labels-count",
        "predict",
        "target_labels.txt with wrong count",
        pred,
        keywords=("target_labels",),
        run=True,
        setup=w("run/target_labels.txt", "a\nb\n"),
    )
    case(
        "run-missing",
        "predict",
        "run directory missing",
        ["predict", "{d}/norun", "{base}/seqs.fa", "-o", "{d}/p.tsv"],
        keywords=("norun", "not found|does not exist|no such|not a"),
    )
    case(
        "run-is-file",
        "predict",
        "run directory is a file",
        ["predict", "{base}/sim.h5", "{base}/seqs.fa", "-o", "{d}/p.tsv"],
        keywords=("sim.h5", "directory|run"),
    )
    case(
        "run-empty-dir",
        "predict",
        "empty run directory",
        ["predict", "{d}/emptyrun", "{base}/seqs.fa", "-o", "{d}/p.tsv"],
        keywords=("emptyrun", "model.safetensors|train|not a"),
        setup=lambda d, b: (d / "emptyrun").mkdir(),
    )
    for verb, extra in (
        ("test", []),
        ("ism", ["{base}/seqs.fa"]),
        ("saliency", ["{base}/seqs.fa"]),
        ("temporal", ["{base}/seqs.fa"]),
        ("optimize", ["--steps", "2"]),
        ("filters", []),
        ("insert", []),
        ("variants", ["{base}/ok.vcf", "--genome", "{base}/genome.fa"]),
        ("report", []),
        ("serve", ["--port", "{free}"]),
    ):
        case(
            f"norun-{verb}",
            verb,
            "run directory missing",
            [verb, "{d}/norun", *extra],
            keywords=("norun", "not found|does not exist|no such|not a"),
            timeout=40,
            hang_is_silent=verb == "serve",
        )
    case(
        "run-trunc-test",
        "test",
        "truncated model.safetensors",
        ["test", "{run}", "--no-progress"],
        keywords=("model.safetensors", "truncated|corrupt|damaged|incomplete|read"),
        run=True,
        setup=truncate("run/model.safetensors", 0.5),
    )
    case(
        "run-trunc-filters",
        "filters",
        "truncated model.safetensors",
        ["filters", "{run}", "-n", "20", "--db", "{base}/motifs.meme"],
        keywords=("model.safetensors", "truncated|corrupt|damaged|incomplete|read"),
        run=True,
        setup=truncate("run/model.safetensors", 0.5),
    )
    case(
        "run-trunc-ism",
        "ism",
        "truncated model.safetensors",
        ["ism", "{run}", "{base}/seqs.fa"],
        keywords=("model.safetensors", "truncated|corrupt|damaged|incomplete|read"),
        run=True,
        setup=truncate("run/model.safetensors", 0.5),
    )
    case(
        "run-manifest-garbage",
        "test",
        "manifest.json garbage",
        ["test", "{run}", "--no-progress", "--no-baseline"],
        keywords=("manifest.json",),
        run=True,
        setup=w("run/manifest.json", "{not json"),
    )
    case(
        "run-dataset-gone",
        "test",
        "training dataset moved away",
        ["test", "{run}", "--no-progress", "--no-baseline"],
        keywords=("sim.h5", "not found|no such|moved|does not exist"),
        run=True,
        setup=lambda d, b: _move_dataset(d),
    )

    # ---------------------------------------------------------------- predict inputs
    pr = ["predict", "{run}"]
    pr_tail = ["-o", "{d}/p.tsv", "--no-progress"]
    case(
        "pred-bed-ok",
        "predict",
        "control: BED with --genome",
        [*pr, "{base}/pred.bed", "--genome", "{base}/genome.fa", *pr_tail],
        "ok",
        run=True,
    )
    case(
        "pred-h5-ok",
        "predict",
        "control: dataset test split",
        [*pr, "{base}/sim.h5", *pr_tail],
        "ok",
        run=True,
    )
    case(
        "pred-missing",
        "predict",
        "source missing",
        [*pr, "{d}/nope.fa", *pr_tail],
        keywords=("nope.fa", "not found|no such|does not exist"),
        run=True,
    )
    case(
        "pred-dir",
        "predict",
        "source is a directory",
        [*pr, "{d}/s.fa", *pr_tail],
        keywords=("s.fa", "directory"),
        run=True,
        setup=lambda d, b: (d / "s.fa").mkdir(),
    )
    case(
        "pred-empty",
        "predict",
        "empty FASTA",
        [*pr, "{d}/s.fa", *pr_tail],
        keywords=("s.fa", "empty|no sequence|no record"),
        run=True,
        setup=w("s.fa", ""),
    )
    case(
        "pred-bom",
        "predict",
        "FASTA with a BOM",
        [*pr, "{d}/s.fa", *pr_tail],
        "either",
        keywords=("s.fa", "bom|byte-order|byte order"),
        absent=("looks like a BED",),
        run=True,
        setup=w("s.fa", "\ufeff" + FASTA_OK),
    )
    case(
        "pred-before-header",
        "predict",
        "sequence before the first >",
        [*pr, "{d}/s.fa", *pr_tail],
        keywords=("s.fa", ">|header"),
        absent=("looks like a BED",),
        run=True,
        setup=w("s.fa", "ACGT\n" + FASTA_OK),
    )
    case(
        "pred-binary",
        "predict",
        "binary source",
        [*pr, "{d}/s.fa", *pr_tail],
        keywords=("s.fa", "binary|not text|utf-8|decode|fasta"),
        absent=("looks like a BED",),
        run=True,
        setup=w("s.fa", bytes(range(256)) * 8),
    )
    case(
        "pred-badbase",
        "predict",
        "FASTA with '*' in a sequence",
        [*pr, "{d}/s.fa", *pr_tail],
        keywords=("s.fa", "'\\*'|position"),
        run=True,
        setup=w("s.fa", ">a\nACGT*ACGT\n"),
    )
    case(
        "pred-dupnames",
        "predict",
        "duplicate sequence names",
        [*pr, "{d}/s.fa", *pr_tail],
        keywords=("s.fa", "duplicate"),
        run=True,
        setup=w("s.fa", ">a\n" + "A" * 100 + "\n>a\n" + "C" * 100 + "\n"),
    )
    case(
        "pred-emptyrec",
        "predict",
        "record of length 0",
        [*pr, "{d}/s.fa", *pr_tail],
        keywords=("s.fa", "empty|length 0|no sequence"),
        run=True,
        setup=w("s.fa", ">a\n>b\n" + "A" * 100 + "\n"),
    )
    case(
        "pred-latin1",
        "predict",
        "non-UTF-8 FASTA",
        [*pr, "{d}/s.fa", *pr_tail],
        "either",
        keywords=("s.fa", "utf-8|encoding|decode"),
        run=True,
        setup=w("s.fa", (">\xe9\n" + "A" * 100 + "\n").encode("latin-1")),
    )
    case(
        "pred-plaingz",
        "predict",
        "plain text named .fa.gz",
        [*pr, "{d}/s.fa.gz", *pr_tail],
        keywords=("s.fa.gz", "gzip"),
        run=True,
        setup=w("s.fa.gz", FASTA_OK),
    )
    case(
        "pred-nopad",
        "predict",
        "other length with --no-pad",
        [*pr, "{d}/s.fa", "--no-pad", *pr_tail],
        keywords=("s.fa", "length"),
        run=True,
        setup=w("s.fa", ">a\nACGTACGT\n"),
    )
    case(
        "pred-bed-nogenome",
        "predict",
        "BED without --genome",
        [*pr, "{base}/pred.bed", *pr_tail],
        keywords=("pred.bed", "genome"),
        run=True,
    )
    case(
        "pred-bed-startend",
        "predict",
        "BED start == end",
        [*pr, "{d}/x.bed", "--genome", "{base}/genome.fa", *pr_tail],
        keywords=("x.bed", "start|end|empty"),
        run=True,
        setup=w("x.bed", "chr1\t500\t500\n"),
    )
    case(
        "pred-bed-strand",
        "predict",
        "BED strand '?'",
        [*pr, "{d}/x.bed", "--genome", "{base}/genome.fa", *pr_tail],
        keywords=("x.bed", "strand"),
        run=True,
        setup=w("x.bed", "chr1\t500\t600\tp\t0\t?\n"),
    )
    case(
        "pred-bed-unkchrom",
        "predict",
        "BED chromosome not in genome",
        [*pr, "{d}/x.bed", "--genome", "{base}/genome.fa", *pr_tail],
        keywords=("x.bed", "chr77"),
        run=True,
        setup=w("x.bed", "chr77\t500\t600\n"),
    )
    case(
        "pred-bed-pastend",
        "predict",
        "BED past chromosome end",
        [*pr, "{d}/x.bed", "--genome", "{base}/genome.fa", *pr_tail],
        keywords=("x.bed", "end|past|length"),
        run=True,
        setup=w("x.bed", "chr1\t2950\t3050\n"),
    )
    case(
        "pred-genome-missing",
        "predict",
        "--genome missing",
        [*pr, "{base}/pred.bed", "--genome", "{d}/nope.fa", *pr_tail],
        keywords=("nope.fa", "not found|no such|does not exist"),
        run=True,
    )
    case(
        "pred-genome-garbage",
        "predict",
        "--genome garbage",
        [*pr, "{base}/pred.bed", "--genome", "{d}/g.fa", *pr_tail],
        keywords=("g.fa", "fasta|binary|genome"),
        run=True,
        setup=w("g.fa", os.urandom(3000)),
    )
    case(
        "pred-out-dir",
        "predict",
        "-o is a directory",
        [*pr, "{base}/seqs.fa", "-o", "{d}/odir", "--no-progress"],
        keywords=("odir", "directory"),
        run=True,
        setup=lambda d, b: (d / "odir").mkdir(),
    )
    case(
        "pred-out-infile",
        "predict",
        "-o inside a regular file",
        [*pr, "{base}/seqs.fa", "-o", "{d}/f/p.tsv", "--no-progress"],
        keywords=("f", "directory|exist"),
        run=True,
        setup=w("f", "x"),
    )
    case(
        "pred-bs-0",
        "predict",
        "--batch-size 0",
        [*pr, "{base}/seqs.fa", "--batch-size", "0", *pr_tail],
        keywords=("batch",),
        run=True,
    )
    case(
        "pred-bs-neg",
        "predict",
        "--batch-size -4",
        [*pr, "{base}/seqs.fa", "--batch-size", "-4", *pr_tail],
        keywords=("batch",),
        run=True,
    )
    case(
        "pred-bs-big",
        "predict",
        "--batch-size 5000 digits",
        [*pr, "{base}/seqs.fa", "--batch-size", BIG_INT, *pr_tail],
        keywords=("batch",),
        absent=("int_max_str_digits", "Exceeds the limit"),
        run=True,
    )
    case(
        "pred-split-bad",
        "predict",
        "--split bogus on a dataset",
        [*pr, "{base}/sim.h5", "--split", "bogus", *pr_tail],
        keywords=("bogus", "split"),
        run=True,
    )
    case(
        "pred-devices-0",
        "predict",
        "--devices 0",
        [*pr, "{base}/seqs.fa", "--devices", "0", *pr_tail],
        keywords=("devices",),
        run=True,
    )
    case(
        "pred-devices-bad",
        "predict",
        "--devices many",
        [*pr, "{base}/seqs.fa", "--devices", "many", *pr_tail],
        keywords=("devices|many",),
        run=True,
    )
    case(
        "pred-h5-trunc",
        "predict",
        "truncated dataset as source",
        [*pr, "{d}/t.h5", *pr_tail],
        keywords=("t.h5", "truncated|corrupt|damaged|hdf5"),
        run=True,
        setup=steps(cp("sim.h5", "t.h5"), truncate("t.h5", 0.5)),
    )
    case(
        "pred-h5-otherlen",
        "predict",
        "dataset of another length with --no-pad",
        [*pr, "{d}/o.h5", "--no-pad", *pr_tail],
        keywords=("o.h5|length",),
        run=True,
        setup=lambda d, b: _other_length_h5(d / "o.h5"),
    )
    case(
        "pred-wrongext",
        "predict",
        "FASTA named .txt",
        [*pr, "{d}/s.txt", *pr_tail],
        "either",
        keywords=("s.txt", "format|fasta|bed"),
        run=True,
        setup=w("s.txt", FASTA_OK),
    )
    case(
        "pred-overwrite-fail",
        "predict",
        "failed predict over an existing -o keeps it",
        [*pr, "{d}/s.fa", *pr_tail],
        keywords=("s.fa",),
        run=True,
        setup=lambda d, b: (write(d / "p.tsv", "old\n"), write(d / "s.fa", ">a\nAC*GT\n")),
    )

    # ---------------------------------------------------------------- test (evaluate)
    te = ["test", "{run}", "--no-progress", "--no-baseline"]
    case("test-ok", "test", "control: own test split", te, "ok", run=True)
    case(
        "test-data-missing",
        "test",
        "data missing",
        [*te, "{d}/nope.h5"],
        keywords=("nope.h5", "not found|no such|does not exist"),
        run=True,
    )
    case(
        "test-split-bad",
        "test",
        "--split bogus",
        [*te, "--split", "bogus"],
        keywords=("bogus|split",),
        run=True,
    )
    case(
        "test-label-col",
        "test",
        "--label-column not in table",
        [*te, "{base}/table.tsv", "--label-column", "nope"],
        keywords=("nope",),
        run=True,
    )
    case(
        "test-table-names",
        "test",
        "table whose columns match no target",
        [*te, "{base}/table.tsv"],
        keywords=("table.tsv", "target|label"),
        run=True,
    )
    case(
        "test-bs-0",
        "test",
        "--batch-size 0",
        [*te, "--batch-size", "0"],
        keywords=("batch",),
        run=True,
    )
    case(
        "test-oneclass",
        "test",
        "evaluation data with one class",
        [*te, "{d}/n.h5"],
        "warn",
        keywords=("one class|only positive|all positive|single class|undefined|nan",),
        run=True,
        setup=h5_edit("sim.h5", "n.h5", h5_labels(1.0)),
    )
    case(
        "test-fewer-targets",
        "test",
        "dataset with fewer targets",
        [*te, "{d}/n.h5"],
        keywords=("n.h5", "target"),
        run=True,
        setup=h5_edit("sim.h5", "n.h5", _keep_targets(2)),
    )

    # ------------------------------------------------ ism / saliency / temporal / optimize
    im = ["ism", "{run}", "{base}/seqs.fa"]
    case("ism-ok", "ism", "control", [*im, "--figures", "0"], "ok", run=True)
    case("ism-n0", "ism", "-n 0", [*im, "-n", "0"], keywords=("-n|sequences",), run=True)
    case("ism-nneg", "ism", "-n -1", [*im, "-n", "-1"], keywords=("-n|sequences",), run=True)
    case("ism-window0", "ism", "--window 0", [*im, "--window", "0"], keywords=("window",), run=True)
    case(
        "ism-windowneg",
        "ism",
        "--window -5",
        [*im, "--window", "-5"],
        keywords=("window",),
        run=True,
    )
    case(
        "ism-windowbig",
        "ism",
        "--window 10^6 > length",
        [*im, "--window", "1000000"],
        "either",
        keywords=("window",),
        run=True,
    )
    case(
        "ism-target",
        "ism",
        "--target unknown",
        [*im, "--target", "NOPE"],
        keywords=("NOPE",),
        run=True,
    )
    case(
        "ism-method",
        "ism",
        "--method bogus",
        [*im, "--method", "bogus"],
        keywords=("method|bogus",),
        run=True,
    )
    case(
        "ism-figneg",
        "ism",
        "--figures -1",
        [*im, "--figures", "-1"],
        "either",
        keywords=("figures",),
        run=True,
    )
    case(
        "ism-src-missing",
        "ism",
        "source missing",
        ["ism", "{run}", "{d}/nope.fa"],
        keywords=("nope.fa", "not found|no such|does not exist"),
        run=True,
    )
    case(
        "ism-split",
        "ism",
        "--split bogus on a dataset",
        ["ism", "{run}", "{base}/sim.h5", "--split", "bogus"],
        keywords=("bogus|split",),
        run=True,
    )
    sal = ["saliency", "{run}", "{base}/seqs.fa", "--figures", "0"]
    case("sal-ok", "saliency", "control", sal, "ok", run=True)
    case(
        "sal-steps0",
        "saliency",
        "integrated_gradients --steps 0",
        [*sal, "--method", "integrated_gradients", "--steps", "0"],
        keywords=("steps",),
        run=True,
    )
    case(
        "sal-shuffles0",
        "saliency",
        "deeplift_shap --shuffles 0",
        [*sal, "--method", "deeplift_shap", "--shuffles", "0"],
        keywords=("shuffles|reference",),
        run=True,
    )
    case(
        "sal-method",
        "saliency",
        "--method occlusion",
        [*sal, "--method", "occlusion"],
        keywords=("method",),
        run=True,
    )
    case(
        "sal-target",
        "saliency",
        "--target unknown",
        [*sal, "--target", "NOPE"],
        keywords=("NOPE",),
        run=True,
    )
    case("sal-n0", "saliency", "-n 0", [*sal, "-n", "0"], keywords=("-n|sequences",), run=True)
    case(
        "temporal-cnn",
        "temporal",
        "temporal on a CNN run",
        ["temporal", "{run}", "{base}/seqs.fa"],
        keywords=("rnn|recurrent",),
        run=True,
    )
    opt = ["optimize", "{run}", "--steps", "3", "-n", "1", "--no-match"]
    case("opt-ok", "optimize", "control", opt, "ok", run=True)
    case(
        "opt-steps0",
        "optimize",
        "--steps 0",
        ["optimize", "{run}", "--steps", "0", "--no-match"],
        keywords=("steps",),
        run=True,
    )
    case(
        "opt-n0",
        "optimize",
        "-n 0",
        ["optimize", "{run}", "--steps", "3", "-n", "0", "--no-match"],
        keywords=("-n|starts",),
        run=True,
    )
    case(
        "opt-target",
        "optimize",
        "--target unknown",
        [*opt, "--target", "NOPE"],
        keywords=("NOPE",),
        run=True,
    )
    case(
        "opt-db-missing",
        "optimize",
        "--db missing MEME",
        ["optimize", "{run}", "--steps", "3", "-n", "1", "--db", "{d}/nope.meme"],
        keywords=("nope.meme",),
        run=True,
    )
    case(
        "opt-db-release",
        "optimize",
        "--db jaspar:1999",
        ["optimize", "{run}", "--steps", "3", "-n", "1", "--db", "jaspar:1999"],
        keywords=("1999|release",),
        run=True,
    )
    case(
        "opt-q",
        "optimize",
        "--q 2",
        ["optimize", "{run}", "--steps", "3", "-n", "1", "--db", "{base}/motifs.meme", "--q", "2"],
        keywords=("q",),
        run=True,
    )

    # ---------------------------------------------------------------- filters / insert / MEME
    fl = ["filters", "{run}", "-n", "40", "--no-influence", "--no-logos"]
    case(
        "filt-ok",
        "filters",
        "control with a MEME --db",
        [*fl, "--db", "{base}/motifs.meme"],
        "ok",
        run=True,
    )

    def meme_case(
        cid: str,
        what: str,
        text: str | bytes,
        kw: tuple[str, ...],
        expect: str = "error",
        absent: tuple[str, ...] = (),
    ) -> None:
        case(
            cid,
            "filters",
            what,
            [*fl, "--db", "{d}/m.meme"],
            expect,
            keywords=("m.meme", *kw),
            absent=absent,
            run=True,
            setup=w("m.meme", text),
        )

    meme_case("meme-empty", "MEME empty", "", ("empty|no motif|meme",))
    meme_case("meme-binary", "MEME binary", os.urandom(600), ("meme|binary|utf-8|decode",))
    meme_case("meme-nomotif", "MEME header only", MEME_OK.split("MOTIF")[0], ("no motif|motif",))
    meme_case(
        "meme-rowsum",
        "MEME row summing to 2",
        MEME_OK.replace("1.0 0.0 0.0 0.0", "1.0 1.0 0.0 0.0"),
        ("sum|row|line",),
    )
    meme_case(
        "meme-neg",
        "MEME negative probability",
        MEME_OK.replace("1.0 0.0 0.0 0.0", "1.2 -0.2 0.0 0.0"),
        ("negative|probab|row|line",),
    )
    meme_case(
        "meme-width",
        "MEME w= disagrees with rows",
        MEME_OK.replace("w= 3", "w= 7"),
        ("w=|width|rows",),
    )
    meme_case(
        "meme-alpha",
        "MEME protein alphabet",
        MEME_OK.replace("ALPHABET= ACGT", "ALPHABET= ACDEFGHIKLMNPQRSTVWY"),
        ("alphabet",),
    )
    meme_case(
        "meme-cols",
        "MEME row with 3 columns",
        MEME_OK.replace("0.0 1.0 0.0 0.0\n", "0.0 1.0 0.0\n", 1),
        ("column|row|line|4",),
    )
    meme_case(
        "meme-nan",
        "MEME nan probability",
        MEME_OK.replace("1.0 0.0 0.0 0.0", "nan 0.0 0.0 0.0"),
        ("nan|number|row|line",),
    )
    meme_case(
        "meme-dupid",
        "MEME duplicate motif id",
        MEME_OK.replace("MOTIF M2", "MOTIF M1"),
        ("duplicate|M1",),
        "either",
    )
    meme_case("meme-bom", "control: MEME with a BOM", "\ufeff" + MEME_OK, (), "ok")
    meme_case(
        "meme-latin1",
        "MEME non-UTF-8",
        MEME_OK.replace("one", "on\xe9").encode("latin-1"),
        ("utf-8|encoding|decode",),
    )
    meme_case(
        "meme-bg",
        "MEME background summing to 2",
        MEME_OK.replace("A 0.25 C 0.25 G 0.25 T 0.25", "A 0.5 C 0.5 G 0.5 T 0.5"),
        ("background",),
    )
    meme_case("meme-fasta", "a FASTA given as MEME", FASTA_OK, ("meme",))
    case(
        "filt-db-missing",
        "filters",
        "--db missing file",
        [*fl, "--db", "{d}/nope.meme"],
        keywords=("nope.meme", "not found|no such|does not exist"),
        run=True,
    )
    case(
        "filt-db-dir",
        "filters",
        "--db is a directory",
        [*fl, "--db", "{d}/mdir"],
        keywords=("mdir", "directory"),
        run=True,
        setup=lambda d, b: (d / "mdir").mkdir(),
    )
    case(
        "filt-db-jaspar",
        "filters",
        "--db jaspar:abcd",
        [*fl, "--db", "jaspar:abcd"],
        keywords=("abcd|release",),
        run=True,
    )
    case(
        "filt-db-taxon",
        "filters",
        "--db jaspar:2024:CORE:martians",
        [*fl, "--db", "jaspar:2024:CORE:martians"],
        keywords=("martians",),
        run=True,
    )
    case(
        "filt-n0",
        "filters",
        "-n 0",
        ["filters", "{run}", "-n", "0", "--db", "{base}/motifs.meme"],
        keywords=("-n|sequences",),
        run=True,
    )
    case(
        "filt-nneg",
        "filters",
        "-n -5",
        ["filters", "{run}", "-n", "-5", "--db", "{base}/motifs.meme"],
        keywords=("-n|sequences",),
        run=True,
    )
    case(
        "filt-threshold",
        "filters",
        "--threshold 2",
        [*fl, "--db", "{base}/motifs.meme", "--threshold", "2"],
        keywords=("threshold",),
        run=True,
    )
    case(
        "filt-q",
        "filters",
        "--q -1",
        [*fl, "--db", "{base}/motifs.meme", "--q", "-1"],
        keywords=("q",),
        run=True,
    )
    case(
        "filt-minsites",
        "filters",
        "--min-sites -1",
        [*fl, "--db", "{base}/motifs.meme", "--min-sites", "-1"],
        keywords=("min-sites|sites",),
        run=True,
    )
    case(
        "filt-bs0",
        "filters",
        "--batch-size 0",
        [*fl, "--db", "{base}/motifs.meme", "--batch-size", "0"],
        keywords=("batch",),
        run=True,
    )
    case(
        "filt-src-missing",
        "filters",
        "source missing",
        ["filters", "{run}", "{d}/nope.fa", "--db", "{base}/motifs.meme"],
        keywords=("nope.fa", "not found|no such|does not exist"),
        run=True,
    )
    case(
        "filt-enospc",
        "filters",
        "disk full (tmpfs: run copied in, 24 KB free)",
        ["filters", "{d}/full/run", "-n", "40", "--db", "{base}/motifs.meme", "--no-influence"],
        keywords=("no space left",),
        run=True,
        tmpfs={"path": "full", "size": "FIT+24k", "copy": [["{run}", "{d}/full/run"]]},
    )
    ins = ["insert", "{run}", "-n", "8", "--db", "{base}/motifs.meme"]
    case("ins-ok", "insert", "control", ins, "ok", run=True)
    case(
        "ins-motif",
        "insert",
        "--motif unknown",
        [*ins, "--motif", "NOPE"],
        keywords=("NOPE",),
        run=True,
    )
    case(
        "ins-center-neg",
        "insert",
        "--center -1",
        [*ins, "--center", "-1"],
        keywords=("center|centre",),
        run=True,
    )
    case(
        "ins-center-big",
        "insert",
        "--center 10^6",
        [*ins, "--center", "1000000"],
        keywords=("center|centre",),
        run=True,
    )
    case(
        "ins-n0",
        "insert",
        "-n 0",
        ["insert", "{run}", "-n", "0", "--db", "{base}/motifs.meme"],
        keywords=("-n|background|sequences",),
        run=True,
    )
    case(
        "ins-target",
        "insert",
        "--target unknown",
        [*ins, "--target", "NOPE"],
        keywords=("NOPE",),
        run=True,
    )
    case(
        "ins-db-garbage",
        "insert",
        "--db binary",
        ["insert", "{run}", "-n", "8", "--db", "{d}/m.meme"],
        keywords=("m.meme",),
        run=True,
        setup=w("m.meme", os.urandom(500)),
    )

    # ---------------------------------------------------------------- variants / VCF
    va = [
        "variants",
        "{run}",
        "{d}/v.vcf",
        "--genome",
        "{base}/genome.fa",
        "-o",
        "{d}/vout",
        "--no-progress",
    ]

    def vcf_case(
        cid: str,
        what: str,
        body: str | bytes,
        kw: tuple[str, ...],
        expect: str = "error",
        absent: tuple[str, ...] = (),
        extra: tuple[str, ...] = (),
    ) -> None:
        text = body if isinstance(body, bytes) else VCF_HEAD + body
        file_kw = ("v.vcf",) if expect != "ok" and not extra else ()
        case(
            cid,
            "variants",
            what,
            [*va, *extra],
            expect,
            keywords=(*file_kw, *kw),
            absent=absent,
            run=True,
            setup=w("v.vcf", text),
        )

    vcf_case(
        "vcf-ok",
        "control: two SNVs",
        vcf_at("chr1", 500, alt1, g, "v1")
        + vcf_at("chr2", 100, "A" if g["chr2"][99] != "A" else "C", g, "v2"),
        (),
        "ok",
    )
    vcf_case(
        "vcf-pos0",
        "POS 0",
        vcf_line("chr1", 0, "A", "C"),
        ("pos|position",),
        absent=("does not match the genome",),
    )
    vcf_case(
        "vcf-pastend",
        "POS past the chromosome end",
        vcf_line("chr1", 5000, "A", "C"),
        ("pos|position|end|length",),
        absent=("does not match the genome",),
    )
    vcf_case("vcf-alt-xyz", "ALT XYZ", vcf_line("chr1", 500, ref1, "XYZ"), ("alt|XYZ",))
    vcf_case("vcf-ref-bad", "REF with 'J'", vcf_line("chr1", 500, "J", "C"), ("ref|J",))
    vcf_case(
        "vcf-refmismatch-err",
        "REF mismatch with --ref-mismatch error",
        vcf_line("chr1", 500, "ACGTACGT", "A"),
        ("ref",),
        extra=("--ref-mismatch", "error"),
    )
    vcf_case("vcf-chrom", "chromosome not in genome", vcf_line("chrQ", 500, "A", "C"), ("chrQ",))
    vcf_case("vcf-cols", "line with 4 columns", "chr1\t500\t.\tA\n", ("column|field",))
    vcf_case(
        "vcf-posstr",
        "POS 'abc'",
        vcf_line("chr1", 0, "A", "C").replace("\t0\t", "\tabc\t"),
        ("pos|abc",),
    )
    vcf_case(
        "vcf-posbig",
        "POS with 5000 digits",
        vcf_line("chr1", 0, "A", "C").replace("\t0\t", f"\t{BIG_INT}\t"),
        ("pos|position",),
        absent=("int_max_str_digits", "Exceeds the limit"),
    )
    vcf_case(
        "vcf-noheader",
        "no ## header, no #CHROM",
        vcf_line("chr1", 500, ref1, alt1).encode(),
        ("header|vcf",),
    )
    vcf_case("vcf-binary", "binary VCF", os.urandom(700), ("vcf",))
    vcf_case("vcf-empty-file", "empty file", b"", ("empty|header|vcf",))
    vcf_case("vcf-headeronly", "header, no variants", "", ("no variant|empty|0 variant",), "either")
    vcf_case(
        "vcf-altdot",
        "ALT '.' only",
        vcf_line("chr1", 500, ref1, "."),
        ("no variant|alt|0 variant",),
        "either",
    )
    vcf_case(
        "vcf-multi",
        "control: multi-allelic ALT",
        vcf_line("chr1", 500, ref1, ",".join(b for b in "ACGT" if b != ref1)),
        (),
        "ok",
    )
    vcf_case(
        "vcf-latin1",
        "non-UTF-8 VCF",
        (VCF_HEAD + vcf_line("chr1", 500, ref1, alt1).replace("\t.\t", "\tv\xe9\t", 1)).encode(
            "latin-1"
        ),
        ("utf-8|encoding|decode|vcf",),
        "either",
    )
    vcf_case(
        "vcf-lowerref",
        "control: lowercase REF",
        vcf_line("chr1", 500, ref1.lower(), alt1),
        (),
        "either",
    )
    vcf_case(
        "vcf-skipbad",
        "bad lines with --skip-bad",
        vcf_line("chr1", 0, "A", "C") + vcf_at("chr1", 500, alt1, g),
        (),
        "ok",
        extra=("--skip-bad",),
    )
    vcf_case(
        "vcf-chunk0",
        "--chunk-size 0",
        vcf_at("chr1", 500, alt1, g),
        ("chunk",),
        extra=("--chunk-size", "0"),
    )
    vcf_case(
        "vcf-bs0",
        "--batch-size 0",
        vcf_at("chr1", 500, alt1, g),
        ("batch",),
        extra=("--batch-size", "0"),
    )
    vcf_case(
        "vcf-ismtop",
        "--ism-top -1",
        vcf_at("chr1", 500, alt1, g),
        ("ism-top",),
        extra=("--ism", "--ism-top", "-1"),
    )
    vcf_case(
        "vcf-target",
        "--target unknown",
        vcf_at("chr1", 500, alt1, g),
        ("NOPE",),
        extra=("--target", "NOPE"),
    )
    case(
        "vcf-plaingz",
        "variants",
        "plain-gzip VCF named .bgz",
        [
            "variants",
            "{run}",
            "{d}/x.vcf.bgz",
            "--genome",
            "{base}/genome.fa",
            "-o",
            "{d}/vout",
            "--no-progress",
        ],
        keywords=("x.vcf.bgz", "bgzip"),
        absent=(".bgz.vcf.gz", ".vcf.bgz.vcf"),
        run=True,
        setup=w(
            "x.vcf.bgz", gzip.compress((VCF_HEAD + vcf_line("chr1", 500, ref1, alt1)).encode())
        ),
    )
    case(
        "vcf-missing",
        "variants",
        "VCF missing",
        ["variants", "{run}", "{d}/nope.vcf", "--genome", "{base}/genome.fa", "-o", "{d}/vout"],
        keywords=("nope.vcf", "not found|no such|does not exist"),
        run=True,
    )
    case(
        "vcf-genome-missing",
        "variants",
        "--genome missing",
        ["variants", "{run}", "{base}/ok.vcf", "--genome", "{d}/nope.fa", "-o", "{d}/vout"],
        keywords=("nope.fa", "not found|no such|does not exist"),
        run=True,
    )
    case(
        "vcf-out-file",
        "variants",
        "-o is a regular file",
        ["variants", "{run}", "{base}/ok.vcf", "--genome", "{base}/genome.fa", "-o", "{d}/vout"],
        keywords=("vout", "directory|file|exist"),
        run=True,
        setup=w("vout", "x"),
    )
    case(
        "vcf-nogenome",
        "variants",
        "no --genome",
        ["variants", "{run}", "{base}/ok.vcf"],
        keywords=("genome",),
        run=True,
    )

    # ---------------------------------------------------------------- tune
    tu = ["tune", "{base}/sim.h5", "{d}/tune", "{d}/s.yaml", "--n-trials", "1", "--no-progress"]
    case(
        "tune-space-missing",
        "tune",
        "search space missing",
        ["tune", "{base}/sim.h5", "{d}/tune", "{d}/nope.yaml", "--n-trials", "1"],
        keywords=("nope.yaml", "not found|no such|does not exist"),
    )
    case(
        "tune-nosearch",
        "tune",
        "space without search:",
        tu,
        keywords=("s.yaml", "search"),
        setup=w("s.yaml", TINY),
    )
    case(
        "tune-badparam",
        "tune",
        "search over an unknown key",
        tu,
        keywords=("s.yaml", "filtres|unknown"),
        setup=w("s.yaml", TINY + "search:\n  model.arch.filtres: {type: int, low: 1, high: 4}\n"),
    )
    case(
        "tune-lowhigh",
        "tune",
        "search low > high",
        tu,
        keywords=("s.yaml", "low|high"),
        setup=w("s.yaml", TINY + "search:\n  training.lr: {type: float, low: 0.1, high: 0.001}\n"),
    )
    case(
        "tune-ntrials0",
        "tune",
        "--n-trials 0",
        ["tune", "{base}/sim.h5", "{d}/tune", "{base}/search.yaml", "--n-trials", "0"],
        keywords=("trials",),
    )
    case(
        "tune-storage",
        "tune",
        "--storage nonsense://",
        [
            "tune",
            "{base}/sim.h5",
            "{d}/tune",
            "{base}/search.yaml",
            "--n-trials",
            "1",
            "--storage",
            "nonsense://x",
        ],
        keywords=("storage|nonsense",),
    )
    case(
        "tune-ds-trunc",
        "tune",
        "truncated dataset",
        ["tune", "{d}/t.h5", "{d}/tune", "{base}/search.yaml", "--n-trials", "1", "--no-progress"],
        keywords=("t.h5",),
        setup=steps(cp("sim.h5", "t.h5"), truncate("t.h5", 0.5)),
    )

    # ---------------------------------------------------------------- report / serve / generic
    case(
        "report-top",
        "report",
        "--top -1",
        ["report", "{run}", "--top", "-1", "-o", "{d}/r.html"],
        keywords=("top",),
        run=True,
    )
    case(
        "report-seqs",
        "report",
        "--sequences 0",
        ["report", "{run}", "--sequences", "0", "-o", "{d}/r.html"],
        "either",
        keywords=("sequences",),
        run=True,
    )
    case(
        "report-out-dir",
        "report",
        "-o is a directory",
        ["report", "{run}", "-o", "{d}/rdir"],
        keywords=("rdir", "directory"),
        run=True,
        setup=lambda d, b: (d / "rdir").mkdir(),
    )
    case(
        "report-target",
        "report",
        "--target unknown",
        ["report", "{run}", "--target", "NOPE", "-o", "{d}/r.html"],
        keywords=("NOPE",),
        run=True,
    )
    case(
        "serve-port-used",
        "serve",
        "--port already in use",
        ["serve", "{run}", "--port", "{port}"],
        keywords=("port|address", "in use|already|bind"),
        absent=("http://",),
        run=True,
        timeout=60,
    )
    case(
        "serve-port-range",
        "serve",
        "--port 70000",
        ["serve", "{run}", "--port", "70000"],
        keywords=("port",),
        run=True,
        timeout=60,
    )
    case(
        "serve-port-neg",
        "serve",
        "--port -1",
        ["serve", "{run}", "--port", "-1"],
        keywords=("port",),
        run=True,
        timeout=60,
    )
    case(
        "serve-genome",
        "serve",
        "--genome missing",
        ["serve", "{run}", "--port", "{free}", "--genome", "{d}/nope.fa"],
        keywords=("nope.fa",),
        run=True,
        timeout=40,
        hang_is_silent=True,
    )
    case(
        "serve-host",
        "serve",
        "--host not an address",
        ["serve", "{run}", "--host", "999.1.1.1", "--port", "{free}"],
        keywords=("host|address|999",),
        run=True,
        timeout=40,
        hang_is_silent=True,
    )
    case("cli-verb", "cli", "unknown verb", ["frobnicate"], keywords=("frobnicate",))
    case("cli-dataset-verb", "cli", "unknown dataset verb", ["dataset", "frob"], keywords=("frob",))


def _move_dataset(d: Path) -> None:
    """The run's manifest points at a dataset that is no longer there."""
    manifest = json.loads((d / "run/manifest.json").read_text())
    manifest["steps"]["train"]["dataset"] = str(d / "moved" / "sim.h5")
    (d / "run/manifest.json").write_text(json.dumps(manifest))


def _nan_weights(path: Path) -> None:
    from safetensors.numpy import load_file, save_file

    tensors = load_file(str(path))
    key = next(k for k in tensors if k.endswith("weight"))
    tensors[key] = np.full_like(tensors[key], np.nan)
    save_file(tensors, str(path))


def _edit_config_task(path: Path, task: str) -> None:
    import yaml

    cfg = yaml.safe_load(path.read_text())
    cfg["model"]["task"] = task
    path.write_text(yaml.safe_dump(cfg))


def _edit_config_filters(path: Path) -> None:
    import yaml

    cfg = yaml.safe_load(path.read_text())
    cfg["model"]["arch"]["filters"] = [16]
    path.write_text(yaml.safe_dump(cfg))


def _keep_targets(k: int):
    def edit(f) -> None:
        labels = f["target_labels"][:k]
        del f["target_labels"]
        f.create_dataset("target_labels", data=labels)
        for split in ("train", "valid", "test"):
            y = f[f"{split}_out"][:, :k]
            del f[f"{split}_out"]
            f.create_dataset(f"{split}_out", data=y)

    return edit


def _other_length_h5(path: Path) -> None:
    import h5py

    with h5py.File(path, "w") as f:
        for split in ("train", "valid", "test"):
            x = np.zeros((4, 4, 50), "u1")
            x[:, 0, :] = 1
            f.create_dataset(f"{split}_in", data=x)
            f.create_dataset(f"{split}_out", data=np.zeros((4, 5), "u1"))
        f.create_dataset("target_labels", data=np.array([b"a", b"b", b"c", b"d", b"e"]))


# ------------------------------------------------------------------------ classification
TRACEBACK = re.compile(r"Traceback \(most recent call last\)|^\s*File \".*\", line \d+", re.M)
# advisory locks and the FASTA index pyfaidx writes beside a genome are not outputs
IGNORED = re.compile(r"(^|/)([^/]*\.lock|[^/]*\.fai|__pycache__/.*)$")


def has_keywords(text: str, groups: tuple[str, ...]) -> list[str]:
    """The keyword groups that do not occur in ``text`` (case-insensitive)."""
    low = text.lower()
    missing = []
    for group in groups:
        alts = group.split("|")
        if not any(
            re.search(a.lower(), low) if a.startswith("'") else a.lower() in low for a in alts
        ):
            missing.append(group)
    return missing


def classify(c: Case, results: list[dict], texts: list[str], changed: list[str]) -> tuple[str, str]:
    """(outcome, note) for one case."""
    if c.concurrent > 1:
        return classify_concurrent(c, results, texts)
    r, text = results[0], texts[0]
    if r["status"] == "timeout":
        if c.hang_is_silent:
            return "silent", f"still serving after {c.timeout:.0f} s"
        return "crash", f"no exit within {c.timeout:.0f} s"
    if r["status"] == "signal":
        return "crash", f"killed by signal {r['code']}"
    if TRACEBACK.search(text):
        return "traceback", last_line(text)
    code = r["code"]
    absent = [a for a in c.absent if a.lower() in text.lower()]
    if c.expect == "ok":
        return ("ok", "") if code == 0 else ("refused", last_line(text))
    if code == 0:
        if c.expect == "either":
            return "ok", "accepted"
        if c.expect == "warn" and not has_keywords(text, c.keywords):
            return "clear", "warned"
        return "silent", "exit 0"
    missing = has_keywords(text, c.keywords)
    if code != 2:
        return "misleading", f"exit {code}: {last_line(text)}"
    if missing or absent:
        why = "; ".join([*(f"lacks '{m}'" for m in missing), *(f"says '{a}'" for a in absent)])
        return "misleading", f"{why}: {last_line(text)}"
    return "clear", last_line(text)


def classify_concurrent(c: Case, results: list[dict], texts: list[str]) -> tuple[str, str]:
    statuses = [(r["status"], r["code"]) for r in results]
    if any(s != "exit" for s, _ in statuses):
        return "crash", str(statuses)
    if any(TRACEBACK.search(t) for t in texts):
        return "traceback", str(statuses)
    codes = sorted(code for _, code in statuses)
    if codes == [0, 0]:
        return "silent", "both exited 0 (one run directory, two writers)"
    if codes == [0, 2]:
        loser = texts[[code for _, code in statuses].index(2)]
        missing = has_keywords(loser, c.keywords)
        return (
            ("misleading", f"lacks {missing}: {last_line(loser)}")
            if missing
            else ("clear", last_line(loser))
        )
    return "misleading", f"exit codes {codes}"


def last_line(text: str) -> str:
    """The message: the first 'error' line, else the last line (box drawing removed)."""
    lines = [ln.strip(" \t│╭╰╮╯─") for ln in text.strip().splitlines()]
    lines = [ln for ln in lines if ln]
    err = [i for i, ln in enumerate(lines) if re.match(r"(error|warning)\b", ln, re.I)]
    if err:
        return " ".join(lines[err[0] : err[0] + 2])[:240]
    return (lines[-1] if lines else "")[:240]


def snapshot(root: Path) -> dict[str, str]:
    out = {}
    for p in root.rglob("*"):
        if p.is_file() and not p.is_symlink():
            rel = str(p.relative_to(root))
            out[rel] = hashlib.md5(p.read_bytes()).hexdigest()
    return out


def changed_files(before: dict[str, str], after: dict[str, str]) -> list[str]:
    return sorted(k for k, v in after.items() if before.get(k) != v and not IGNORED.search(k))


# ------------------------------------------------------------------------------ running
@dataclass
class Outcome:
    case: Case
    outcome: str
    partial: list[str] = field(default_factory=list)
    codes: str = ""
    secs: float = 0.0
    note: str = ""


def fmt_argv(argv: list[str], d: Path, base: Path, extra: dict) -> list[str]:
    return [a.format(d=d, base=base, run=d / "run", **extra) for a in argv]


def dir_size_kb(path: Path) -> int:
    """KB a copy takes on tmpfs (whole 4 KB pages per file, and per directory)."""
    pages = sum(-(-p.stat().st_size // 4096) if p.is_file() else 1 for p in path.rglob("*"))
    return 4 * pages + 16


def run_case(server: Server, c: Case, base: Path, root: Path, extra: dict) -> Outcome:
    d = root / c.id
    shutil.rmtree(d, ignore_errors=True)
    d.mkdir(parents=True)
    try:
        if c.run:
            shutil.copytree(base / "run", d / "run")
            (d / "sim.h5").symlink_to(base / "sim.h5")
        if c.setup:
            c.setup(d, base)
    except Exception as exc:  # a case that cannot be built is reported, not fatal
        return Outcome(c, "setup-failed", note=f"{type(exc).__name__}: {exc}")
    argv = fmt_argv(c.argv, d, base, extra)
    cmds = [
        dict(
            argv=argv,
            cwd=str(d),
            stdout=str(d / f".out{i}"),
            stderr=str(d / f".err{i}"),
            delay=c.delay,
        )
        for i in range(c.concurrent)
    ]
    before = snapshot(d)
    if c.tmpfs:
        spec = dict(c.tmpfs)
        spec["path"] = str(d / spec["path"])
        spec["report"] = str(d / ".tmpfs.json")
        spec["copy"] = [fmt_argv(pair, d, base, extra) for pair in spec.get("copy", [])]
        if spec["size"].startswith("FIT+"):
            need = sum(dir_size_kb(Path(src)) for src, _ in spec["copy"])
            spec["size"] = f"{need + int(spec['size'][4:-1])}k"
        server.request(dict(cmds=cmds, timeout=c.timeout, tmpfs=spec))
        rep = json.loads((d / ".tmpfs.json").read_text())
        (d / ".tmpfs.json").unlink()
        if "error" in rep:
            return Outcome(c, "skipped", note=f"no tmpfs: {rep['error']}")
        results, secs = rep["results"], rep["secs"]
        inside = changed_files(rep["before"], rep["after"])
        note_free = f" ({rep['free_kb']} KB free after)"
    else:
        reply = server.request(dict(cmds=cmds, timeout=c.timeout))
        results, secs = reply["results"], reply["secs"]
        inside, note_free = [], ""
    texts = []
    for i in range(c.concurrent):
        texts.append(
            (d / f".out{i}").read_text(errors="replace")
            + (d / f".err{i}").read_text(errors="replace")
        )
        (d / f".out{i}").unlink()
        (d / f".err{i}").unlink()
    after = snapshot(d)
    # keywords are looked for in the message, not in the folder names of the case
    shown = [t.replace(str(d), "<dir>").replace(str(base), "<base>") for t in texts]
    outcome, note = classify(c, results, shown, [])
    failed = any(r["status"] != "exit" or r["code"] != 0 for r in results)
    if c.concurrent > 1:
        failed = all(r["status"] != "exit" or r["code"] != 0 for r in results)
    partial = (
        (changed_files(before, after) + [f"{c.tmpfs['path']}/{p}" for p in inside])
        if failed
        else []
    )
    codes = ",".join(
        str(r["code"]) if r["status"] == "exit" else f"{r['status']}:{r['code']}" for r in results
    )
    (d / "output.txt").write_text("\n=====\n".join(texts))
    return Outcome(c, outcome, partial, codes, secs, note + (note_free if c.tmpfs else ""))


def build_base(server: Server, base: Path) -> list[str]:
    """The tiny simulated dataset and run every case copies; returns the run's targets."""
    base.mkdir(parents=True, exist_ok=True)
    build_base_files(base)
    for argv in (
        [
            "simulate",
            str(base / "sim.h5"),
            "--n-sequences",
            "400",
            "--length",
            "100",
            "--seed",
            "1",
        ],
        [
            "train",
            str(base / "sim.h5"),
            str(base / "run"),
            "--config",
            str(base / "tiny.yaml"),
            "--no-progress",
        ],
        [
            "predict",
            str(base / "run"),
            str(base / "pred.bed"),
            "--genome",
            str(base / "genome.fa"),
            "-o",
            str(base / "warm.tsv"),
            "--no-progress",
        ],
    ):
        reply = server.request(
            dict(
                cmds=[
                    dict(
                        argv=argv,
                        cwd=str(base),
                        stdout=str(base / "setup.out"),
                        stderr=str(base / "setup.err"),
                    )
                ],
                timeout=600,
            )
        )
        r = reply["results"][0]
        if r["status"] != "exit" or r["code"] != 0:
            raise SystemExit(
                f"setup failed: {' '.join(argv)}\n{(base / 'setup.err').read_text()[-3000:]}"
            )
    return (base / "run" / "target_labels.txt").read_text().split()


COLUMNS = ("clear", "misleading", "traceback", "crash", "silent", "partial")
HEADERS = (
    "cases tried",
    "clear error",
    "misleading",
    "traceback",
    "crash or hang",
    "silently accepted",
    "partial file left",
)


def summary(outcomes: list[Outcome]) -> str:
    counts = Counter(o.outcome for o in outcomes)
    partial = sum(1 for o in outcomes if o.partial)
    tried = [o for o in outcomes if o.outcome not in ("skipped", "setup-failed")]
    row = [
        len(tried),
        counts["clear"],
        counts["misleading"],
        counts["traceback"],
        counts["crash"],
        counts["silent"],
        partial,
    ]
    lines = [
        "| " + " | ".join(HEADERS) + " |",
        "|" + "---|" * len(HEADERS),
        "| " + " | ".join(map(str, row)) + " |",
    ]
    lines.append(
        f"controls: {counts['ok']} accepted as expected, {counts['refused']} refused; "
        f"{counts['skipped']} skipped, {counts['setup-failed']} could not be set up"
    )
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--checkout", type=Path, default=REPO, help="tree whose src/ is tested")
    ap.add_argument(
        "--python", default=None, help="interpreter (default <checkout>/.venv/bin/python)"
    )
    ap.add_argument("--out", type=Path, default=Path("hostile.tsv"), help="TSV of every case")
    ap.add_argument(
        "--workdir", type=Path, default=None, help="where inputs are built (default a temp dir)"
    )
    ap.add_argument("--jobs", type=int, default=2, help="cases run at once")
    ap.add_argument("--only", default=None, help="regex on case id / verb")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    ap.add_argument("--list", action="store_true", help="list the cases and exit")
    args = ap.parse_args()

    checkout = args.checkout.resolve()
    python = args.python or (
        str(checkout / ".venv/bin/python")
        if (checkout / ".venv/bin/python").exists()
        else sys.executable
    )
    work = args.workdir or Path(tempfile.mkdtemp(prefix="hostile-"))
    work.mkdir(parents=True, exist_ok=True)
    base, root = work / "base", work / "cases"
    if args.list:
        base.mkdir(parents=True, exist_ok=True)
        build_base_files(base)
        cases_for(base, ["t0", "t1"])
        for c in CASES:
            print(f"{c.id}\t{c.verb}\t{c.what}")
        print(f"{len(CASES)} cases")
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)
        return

    t0 = time.time()
    servers = [Server(python, checkout / "src", work) for _ in range(max(1, args.jobs))]
    print(f"testing {servers[0].module} with {python}; work in {work}", flush=True)
    targets = build_base(servers[0], base)
    cases_for(base, targets)
    chosen = [c for c in CASES if not args.only or re.search(args.only, f"{c.id} {c.verb}")]
    print(f"base built in {time.time() - t0:.0f} s; {len(chosen)} cases", flush=True)

    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    spare = socket.socket()
    spare.bind(("127.0.0.1", 0))
    free = spare.getsockname()[1]
    spare.close()  # free: nothing listens there (a serve that starts is found by its timeout)
    extra = {"port": busy.getsockname()[1], "free": free, "t0": targets[0], "t1": targets[-1]}

    import queue
    import threading

    pool: queue.Queue[Server] = queue.Queue()
    for s in servers:
        pool.put(s)
    lock = threading.Lock()

    def one(c: Case) -> Outcome:
        s = pool.get()
        try:
            o = run_case(s, c, base, root, extra)
        finally:
            pool.put(s)
        with lock:
            flag = " +partial " + ",".join(o.partial[:3]) if o.partial else ""
            print(f"{o.outcome:<11} {o.secs:6.1f}s {c.id:<26} {o.note[:110]}{flag}", flush=True)
        return o

    # the slow cases first, so that the pool ends together
    order = sorted(chosen, key=lambda c: -(c.timeout + (60 if c.tmpfs or c.concurrent > 1 else 0)))
    with ThreadPoolExecutor(max_workers=len(servers)) as ex:
        done = {o.case.id: o for o in ex.map(one, order)}
    outcomes = [done[c.id] for c in chosen]
    busy.close()
    for s in servers:
        s.close()

    with open(args.out, "w") as fh:
        fh.write("id\tverb\tkind\texpect\toutcome\tpartial\texit\tseconds\tnote\n")
        for o in outcomes:
            note = o.note.replace("\t", " ").replace("\n", " ")
            fh.write(
                f"{o.case.id}\t{o.case.verb}\t{o.case.what}\t{o.case.expect}\t{o.outcome}\t"
                f"{';'.join(o.partial)}\t{o.codes}\t{o.secs:.1f}\t{note}\n"
            )
    print()
    print(summary(outcomes))
    print(f"{len(outcomes)} cases in {time.time() - t0:.0f} s; table in {args.out}")
    if not args.keep and args.workdir is None:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
