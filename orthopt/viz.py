"""Figures for lectures and reports (matplotlib, imported lazily).

Every function returns the matplotlib ``Axes`` it drew on and accepts an
``ax`` to draw into an existing figure.
"""

from __future__ import annotations

import numpy as np

__all__ = ["plot_convergence", "plot_check"]


def _axes(ax, figsize=(6.0, 4.0)):
    import matplotlib

    if ax is not None:
        return ax
    if matplotlib.get_backend().lower() not in ("agg", "module://matplotlib_inline.backend_inline"):
        import os

        if not os.environ.get("DISPLAY") and os.name != "nt":
            matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    _, ax = plt.subplots(figsize=figsize, layout="constrained")
    return ax


def plot_convergence(results, labels=None, quantity="grad_norm", optimum=None, ax=None):
    """Convergence curves of one or several solver runs.

    Parameters
    ----------
    results : OptimizeResult or sequence of OptimizeResult
    labels : sequence of str, optional
        Legend entries (default "run 0", "run 1", ...).
    quantity : {"grad_norm", "cost", "cost_gap"}
        What to plot against the iteration number; "cost_gap" plots
        (f_k − f*)/|f*| and needs ``optimum`` (one f* per run or a single one).
    optimum : float or sequence of float, optional
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
    """
    if hasattr(results, "history"):
        results = [results]
    labels = labels or [f"run {i}" for i in range(len(results))]
    if quantity == "cost_gap":
        if optimum is None:
            raise ValueError("quantity='cost_gap' needs optimum=f* (one value or one per run)")
        optima = np.broadcast_to(np.asarray(optimum, dtype=float), (len(results),))
    ax = _axes(ax)
    for k, (res, label) in enumerate(zip(results, labels)):
        hist = res.history
        if quantity == "cost_gap":
            values = np.abs(hist["cost"] - optima[k]) / max(abs(optima[k]), 1e-300)
        else:
            values = hist[quantity]
        ax.semilogy(np.arange(len(values)), np.maximum(values, 1e-300), label=label)
    names = {"grad_norm": "Riemannian gradient norm ‖grad f(x_k)‖",
             "cost": "cost f(x_k)", "cost_gap": "relative cost error |f(x_k) − f*| / |f*|"}
    ax.set_xlabel("iteration k")
    ax.set_ylabel(names.get(quantity, quantity))
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    return ax


def plot_check(check, ax=None):
    """Log–log plot of a Taylor / retraction check with slope-1 and slope-2 guides.

    Parameters
    ----------
    check : GradientCheck or RetractionCheck
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
    """
    ax = _axes(ax)
    t, err = np.asarray(check.t), np.maximum(np.asarray(check.errors), 1e-300)
    ax.loglog(t, err, "o-", ms=3, label="measured error")
    anchor = len(t) // 2
    for order, style in ((1, ":"), (2, "--")):
        guide = err[anchor] * (t / t[anchor]) ** order
        ax.loglog(t, guide, style, color="gray", label=f"slope {order}")
    window = getattr(check, "window", None)
    if window and window[1] > window[0]:
        s = slice(*window)
        ax.loglog(t[s], err[s], "o", ms=5, color="C3", label=f"fitted window (slope {check.slope:.2f})")
    ax.set_xlabel("step t")
    ax.set_ylabel("error")
    ax.set_title(check.message, fontsize=9)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    return ax
