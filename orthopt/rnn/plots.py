"""Figures of RNN training (matplotlib, imported lazily, Agg backend: works without a display)."""

from __future__ import annotations

import numpy as np

from ..backend import to_numpy

__all__ = ["plot_training", "plot_curves"]


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def _smooth(values, window):
    values = np.asarray(values, dtype=float)
    if window <= 1 or values.size < window:
        return values
    kernel = np.ones(window) / window
    return np.convolve(values, kernel, mode="valid")


def plot_training(history, baseline, weight, path, title=None):
    """Loss curves against the task baseline (left) and the eigenvalues of W (right).

    Parameters
    ----------
    history : list of dict
        Records with ``iteration``, ``loss`` and optionally ``eval_loss``.
    baseline : float or None
        Loss of the memoryless predictor, drawn as a dashed line.
    weight : array, shape (n, n)
        The recurrent matrix; orthogonal W has all eigenvalues on the unit circle.
    path : str
        Output PNG.
    """
    plt = _pyplot()
    fig, (ax, ax_eig) = plt.subplots(1, 2, figsize=(11, 4.2),
                                     gridspec_kw={"width_ratios": [1.6, 1]})
    its = [r["iteration"] for r in history]
    losses = [r["loss"] for r in history]
    if its:
        ax.plot(its, losses, lw=0.6, alpha=0.4, color="C0")
        window = max(1, len(losses) // 50)
        sm = _smooth(losses, window)
        ax.plot(its[len(its) - len(sm):], sm, color="C0", label="train loss")
    evals = [(r["iteration"], r["eval_loss"]) for r in history if r.get("eval_loss") is not None]
    if evals:
        ax.plot(*zip(*evals), "o-", color="C1", ms=3, label="held-out loss")
    if baseline is not None:
        ax.axhline(baseline, ls="--", color="k", lw=1, label=f"baseline {baseline:.4g}")
    ax.set_xlabel("iteration")
    ax.set_ylabel("loss")
    if losses and min(losses) > 0:
        ax.set_yscale("log")
    ax.legend()
    ax.set_title(title or "training")
    w = to_numpy(weight)
    eig = np.linalg.eigvals(w)
    circle = np.exp(1j * np.linspace(0, 2 * np.pi, 400))
    ax_eig.plot(circle.real, circle.imag, color="0.6", lw=1)
    ax_eig.plot(eig.real, eig.imag, ".", color="C3")
    ax_eig.set_aspect("equal")
    ax_eig.set_title("eigenvalues of W")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_curves(curves, baseline, path, title=None, ylabel="loss"):
    """Several training curves in one figure.

    Parameters
    ----------
    curves : dict of str -> (iterations, losses)
    baseline : float or None
    path : str
    """
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    for k, (name, (its, losses)) in enumerate(curves.items()):
        window = max(1, len(losses) // 60)
        sm = _smooth(losses, window)
        ax.plot(np.asarray(its)[len(its) - len(sm):], sm, color=f"C{k}", label=name)
    if baseline is not None:
        ax.axhline(baseline, ls="--", color="k", lw=1, label="baseline")
    ax.set_yscale("log")
    ax.set_xlabel("iteration")
    ax.set_ylabel(ylabel)
    ax.legend()
    if title:
        ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
