"""The result object every solver returns (SciPy's OptimizeResult, extended)."""

from __future__ import annotations

import numpy as np

__all__ = ["OptimizeResult", "SUCCESS_STATUSES", "STATUS_MESSAGES"]

#: statuses that mean "converged by one of the tolerance rules"
SUCCESS_STATUSES = frozenset({"gradient_tolerance", "cost_tolerance", "step_tolerance",
                              "precision_limit"})

STATUS_MESSAGES = {
    "gradient_tolerance": "Riemannian gradient norm below tolerance",
    "cost_tolerance": "relative cost change below tolerance",
    "step_tolerance": "step size below tolerance",
    "max_iterations": "maximum number of iterations reached",
    "max_time": "maximum time reached",
    "max_evaluations": "maximum number of cost evaluations reached",
    "precision_limit": "the cost no longer resolves the decrease the steps aim for (below "
                       "100·eps·|f|): the point is stationary to working precision",
    "nonfinite": "non-finite cost or gradient; returning the last finite iterate",
    "callback": "the callback asked to stop",
    "interrupted": "interrupted (KeyboardInterrupt); returning the last iterate",
    "line_search_failed": "the line search found no decrease; returning the last iterate",
    "trust_region_collapsed": "the trust region shrank to nothing while the model still "
                              "predicted a decrease: the model does not describe the cost "
                              "(check the gradient with orthopt.check_gradient and the Hessian "
                              "with orthopt.check_hessian); returning the last iterate",
    "infeasible": "the final iterate is off the manifold (‖xᴴx − I‖ above 1000·eps·√n): "
                  "the steps were numerically unstable; re-orthonormalize x (e.g. "
                  "manifold.projection_onto_manifold(x)) and restart, or use smaller steps",
}


class OptimizeResult(dict):
    """Result of a solver run: a dict with attribute access, like SciPy's.

    Attributes
    ----------
    x : array, shape (n, p)
        The last good iterate (a point of the manifold, never a non-finite one).
    fun : float
        Cost at ``x``.
    grad_norm : float
        Riemannian gradient norm at ``x``.
    nit : int
        Number of iterations.
    nfev, ngev, nhev : int
        Number of cost, gradient and Hessian-vector evaluations.
    time : float
        Wall time in seconds.
    status : str
        Why the run stopped: one of the keys of :data:`STATUS_MESSAGES`.
    message : str
        The status in words.
    success : bool
        True when a convergence test stopped the run.
    stopping : StoppingCriterion or None
        The criterion that fired (None when the loop stopped by itself: a
        non-finite value, the callback, a failed line search, the precision
        limit).
    history : dict of numpy.ndarray
        Per-iteration ``cost``, ``grad_norm``, ``step_size`` and ``time``
        (entry 0 is the starting point).
    """

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError as exc:
            raise AttributeError(name) from exc

    __setattr__ = dict.__setitem__
    __delattr__ = dict.__delitem__

    def __dir__(self):
        return list(self.keys())

    def __repr__(self):
        if not self:
            return "OptimizeResult()"
        width = max(len(k) for k in self) + 1
        lines = []
        for key, value in self.items():
            if key == "history":
                text = "{" + ", ".join(f"{k}: ({len(v)},)" for k, v in value.items()) + "}"
            elif hasattr(value, "shape") and getattr(value, "ndim", 0) > 0:
                text = f"<array shape={tuple(value.shape)} dtype={value.dtype}>"
            else:
                text = repr(value)
            lines.append(f"{key.rjust(width)}: {text}")
        return "\n".join(lines)


def make_history(records):
    """Turn a list of (cost, grad_norm, step_size, time) tuples into arrays."""
    arr = np.asarray(records, dtype=float).reshape(-1, 4)
    return {
        "cost": arr[:, 0].copy(),
        "grad_norm": arr[:, 1].copy(),
        "step_size": arr[:, 2].copy(),
        "time": arr[:, 3].copy(),
    }
