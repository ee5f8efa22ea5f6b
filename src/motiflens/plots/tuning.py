"""Figures of a hyperparameter search (:mod:`motiflens.tuning`)."""

from __future__ import annotations

from pathlib import Path

import optuna
from matplotlib.ticker import MaxNLocator
from optuna.trial import TrialState

from motiflens.plots.style import plt, save_figure


def plot_history(study: optuna.Study, path: str | Path, metric: str) -> Path:
    """Objective per trial with the best so far, and each trial's per-epoch metric.

    Optuna's steps index the epochs from 0; the figure counts them from 1.
    """
    trials = sorted(study.get_trials(deepcopy=False), key=lambda t: t.number)
    maximize = study.direction == optuna.study.StudyDirection.MAXIMIZE
    colors = {TrialState.COMPLETE: "C0", TrialState.PRUNED: "C1", TrialState.FAIL: "C3"}
    fig, (ax, ax_epochs) = plt.subplots(1, 2, figsize=(11, 4))
    for state, color in colors.items():
        if state == TrialState.FAIL:
            continue
        xs = [t.number for t in trials if t.state == state and t.value is not None]
        ys = [t.value for t in trials if t.state == state and t.value is not None]
        if xs:
            ax.scatter(xs, ys, s=18, color=color, label=state.name.lower(), zorder=3)
    done = [t for t in trials if t.state == TrialState.COMPLETE]
    if done:
        best, xs, ys = None, [], []
        for t in done:
            if best is None or (t.value > best if maximize else t.value < best):
                best = t.value
            xs.append(t.number)
            ys.append(best)
        xs.append(trials[-1].number)  # carry the line to the latest trial
        ys.append(best)
        ax.step(xs, ys, where="post", color="C2", label="best so far")
    failed = [t.number for t in trials if t.state == TrialState.FAIL]
    for n in failed:
        ax.axvline(n, color=colors[TrialState.FAIL], lw=0.8, ls=":", alpha=0.6)
    if failed:
        ax.plot([], [], color=colors[TrialState.FAIL], ls=":", label="failed")
    ax.set(xlabel="trial", ylabel=metric, title=f"Optimisation history ({study.study_name})")
    ax.legend(fontsize=8)
    for t in trials:
        if t.intermediate_values:
            steps = sorted(t.intermediate_values)
            ax_epochs.plot(
                [s + 1 for s in steps],
                [t.intermediate_values[s] for s in steps],
                color=colors.get(t.state, "grey"),
                lw=1,
                alpha=0.7,
            )
    ax_epochs.set(xlabel="epoch", ylabel=metric, title="Per epoch (orange: pruned)")
    for axis in (ax.xaxis, ax_epochs.xaxis):
        axis.set_major_locator(MaxNLocator(integer=True))
    fig.tight_layout()
    return save_figure(fig, path)
