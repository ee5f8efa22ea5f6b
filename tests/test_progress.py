"""Output without a terminal: plain progress lines, one line per training epoch, --no-progress."""

from __future__ import annotations

import io
import re

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from motiflens import progress, training
from motiflens.cli import app
from motiflens.motifs.meme import write_meme
from motiflens.motifs.pwm import Motif
from motiflens.progress import tqdm
from motiflens.training import train
from tests.test_training import make_dataset, tiny

runner = CliRunner()


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def percents(text: str) -> list[int]:
    return [int(m) for m in re.findall(r"^\w+: +(\d+)% ", text, flags=re.M)]


# ---------------------------------------------------------------------- the bar


def test_without_a_terminal_a_plain_line_every_five_percent():
    log = io.StringIO()
    for _ in tqdm(range(1000), desc="loop", file=log, mininterval=0, miniters=1):
        pass
    text = log.getvalue()
    assert "\r" not in text
    # 0, 5, ..., 100: 21 lines, each one whole
    assert percents(text) == list(range(0, 101, 5))
    assert text.count("\n") == 21
    assert text.splitlines()[-1].startswith("loop: 100% 1000/1000")


def test_on_a_terminal_it_is_tqdm():
    screen = Terminal()
    for _ in tqdm(range(50), desc="loop", file=screen, mininterval=0):
        pass
    text = screen.getvalue()
    assert "\r" in text and "|" in text  # carriage-return frames with the bar drawn
    assert text.count("\n") <= 1


def test_the_last_line_even_when_the_bar_would_not_be_left(monkeypatch):
    # A fast loop draws only its start (tqdm's 0.1 s minimum interval); the end is written
    # by close, also for leave=False (a log that stops at 0% reads as a crash).
    log = io.StringIO()
    for _ in tqdm(range(30), desc="quick", file=log, leave=False):
        pass
    assert percents(log.getvalue()) == [0, 100]


def test_unknown_total_writes_by_time(monkeypatch):
    monkeypatch.setattr(progress, "LINE_EVERY_SECONDS", 0.0)
    log = io.StringIO()
    with tqdm(desc="stream", unit="variant", file=log, mininterval=0, miniters=1) as bar:
        for _ in range(5):
            bar.update(2)
    lines = log.getvalue().splitlines()
    # the start, then one per update; the end is the last update again (not repeated)
    assert [int(re.search(r"(\d+)variant", line)[1]) for line in lines] == [0, 2, 4, 6, 8, 10]


def test_write_and_disable():
    log = io.StringIO()
    with tqdm(total=4, desc="w", file=log, mininterval=0, miniters=1) as bar:
        bar.update(2)
        tqdm.write("a message", file=log)
        bar.update(2)
    text = log.getvalue()
    assert "\r" not in text and "\na message\n" in text
    assert percents(text) == [0, 50, 100]
    quiet = io.StringIO()
    for _ in tqdm(range(10), file=quiet, disable=True):
        pass
    assert quiet.getvalue() == ""


# ---------------------------------------------------------------------- training


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return make_dataset(tmp_path_factory.mktemp("progress") / "d.h5", n=500)


EPOCH = re.compile(
    r"^epoch (\d+)/3: train_loss (\S+), val_loss (\S+), val_auroc (\S+) \(\d+\.\d s\)$", re.M
)


@pytest.mark.parametrize("verbose", [True, False])
def test_training_without_a_terminal_prints_one_line_per_epoch(dataset, tmp_path, capsys, verbose):
    # pytest's captured stdout is no terminal; verbose=False is the CLI's --no-progress,
    # which drops the bar, not the epoch lines.
    train(dataset, tmp_path / "run", tiny(3), verbose=verbose)
    out = capsys.readouterr().out
    assert "\r" not in out
    # 500 x 0.7 = 350 training sequences, 350 // 32 = 10 full batches (the last dropped)
    assert out.splitlines()[0].startswith(
        "training basset: 1,963 parameters, 350 training sequences, 10 batches per epoch"
    )
    rows = EPOCH.findall(out)
    assert [int(r[0]) for r in rows] == [1, 2, 3]
    table = pd.read_csv(tmp_path / "run" / "metrics" / "training.tsv", sep="\t")
    for (_, loss, val_loss, auroc), row in zip(rows, table.itertuples(), strict=True):
        np.testing.assert_allclose(
            [float(loss), float(val_loss), float(auroc)],
            [row.train_loss, row.val_loss, row.val_auroc],
            atol=5e-5,
        )


def test_heartbeat_within_long_epochs_and_silence_on_request(
    dataset, tmp_path, capsys, monkeypatch
):
    # Every batch is "long" with a 0 s heartbeat: batch 1/10 ... 10/10 in each epoch.
    monkeypatch.setattr(training, "HEARTBEAT_SECONDS", 0.0)
    train(dataset, tmp_path / "beat", tiny(1), verbose=True)
    out = capsys.readouterr().out
    beats = re.findall(r"^epoch 1/1: batch (\d+)/10 \((\d+)%\), \d+ s$", out, re.M)
    assert [(int(b), int(p)) for b, p in beats] == [(i, 10 * i) for i in range(1, 11)]
    train(dataset, tmp_path / "quiet", tiny(1), verbose=False, log_epochs=False)
    assert capsys.readouterr().out == ""


def test_on_a_terminal_the_bar_replaces_the_lines(dataset, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(training, "interactive", lambda stream=None: True)
    train(dataset, tmp_path / "tty", tiny(1), verbose=True)
    assert not EPOCH.search(capsys.readouterr().out)


def test_cli_train_in_a_batch_job_shows_epochs_with_and_without_progress(dataset, tmp_path):
    config = tmp_path / "tiny.yaml"
    tiny(2).save_yaml(config)
    for flag in ([], ["--no-progress"]):
        run = tmp_path / f"run{len(flag)}"
        out = runner.invoke(app, ["train", str(dataset), str(run), "--config", str(config), *flag])
        assert out.exit_code == 0, out.output
        assert re.search(r"^epoch 1/2: train_loss", out.output, re.M)
        assert re.search(r"^epoch 2/2: train_loss", out.output, re.M)


# ---------------------------------------------------------------------- filters


@pytest.fixture(scope="module")
def motif_run(dataset, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("filters")
    train(dataset, tmp / "run", tiny(1), verbose=False, log_epochs=False)
    rng = np.random.default_rng(0)
    motifs = [Motif(f"R{i}", f"random{i}", rng.dirichlet(np.ones(4), size=8).T) for i in range(30)]
    return tmp / "run", write_meme(motifs, tmp / "db.meme")


def test_filters_without_a_terminal_writes_whole_lines_and_no_progress_none(dataset, motif_run):
    run, db = motif_run
    args = ["filters", str(run), str(dataset), "--db", str(db), "-n", "60", "--no-logos"]
    out = runner.invoke(app, args)
    assert out.exit_code == 0, out.output
    assert "\r" not in out.output
    for bar in ("filter statistics", "filter sites", "filter influence"):
        assert re.search(rf"^{bar}: +100% ", out.output, re.M), bar
    out = runner.invoke(app, [*args, "--no-progress"])
    assert out.exit_code == 0, out.output
    assert "filter influence" not in out.output and "%" not in out.output
