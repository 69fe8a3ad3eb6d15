r"""The stopping criteria, asked once per problem of a batch.

A batch of k independent problems stops problem by problem: the criteria of
:mod:`orthopt.optim.stopping` are evaluated on a :class:`BatchProgress`,
whose fields hold one value per problem, and the answer is, for each
problem, the criterion that fired (or None). A problem whose criterion fired
is frozen while the others go on.

The criteria of :mod:`orthopt.optim.stopping` are answered with one array
operation each; a user's own criterion (a subclass with only a scalar
``fired(progress)``) is asked problem by problem with a scalar
:class:`~orthopt.optim.stopping.Progress` — correct, only slower.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .stopping import (AllOf, AnyOf, CostChange, GradientNorm, MaxEvaluations, MaxIterations,
                       MaxTime, Progress, StepSize)

__all__ = ["BatchProgress", "first_fired"]


@dataclass
class BatchProgress:
    """:class:`~orthopt.optim.stopping.Progress` with one entry per problem.

    Attributes
    ----------
    iteration : numpy.ndarray of int, shape (k,)
    cost, grad_norm, initial_grad_norm : numpy.ndarray of float64, shape (k,)
    step_size : numpy.ndarray of float64, shape (k,)
        NaN where the scalar progress has None (no step yet, or a rejected one).
    step_floor : float
    recent_costs : numpy.ndarray, shape (w, k)
        The last w costs after accepted iterations (the latest in row −1), w
        the longest window of a :class:`CostChange` criterion plus one.
    n_costs : numpy.ndarray of int, shape (k,)
        How many costs each problem has recorded (the start included).
    time : float
    n_evaluations : numpy.ndarray of int, shape (k,)
    """

    iteration: np.ndarray
    cost: np.ndarray
    grad_norm: np.ndarray
    initial_grad_norm: np.ndarray
    step_size: np.ndarray
    step_floor: float
    recent_costs: np.ndarray
    n_costs: np.ndarray
    time: float = 0.0
    n_evaluations: np.ndarray = None

    @classmethod
    def start(cls, cost, grad_norm, eps, criterion):
        k = cost.shape[0]
        window = _longest_window(criterion) + 1
        recent = np.full((window, k), np.nan)
        recent[-1] = cost
        return cls(np.zeros(k, dtype=np.int64), cost.copy(), grad_norm.copy(), grad_norm.copy(),
                   np.full(k, np.nan), eps, recent, np.ones(k, dtype=np.int64),
                   n_evaluations=np.zeros(k, dtype=np.int64))

    def record(self, problems, cost, grad_norm, step_size):
        """An accepted step of the problems ``problems`` (indices)."""
        self.cost[problems] = cost
        self.grad_norm[problems] = grad_norm
        self.step_size[problems] = step_size
        self.recent_costs[:-1, problems] = self.recent_costs[1:, problems]
        self.recent_costs[-1, problems] = cost
        self.n_costs[problems] += 1

    def scalar(self, i):
        """The scalar Progress of problem i (for criteria without an array form)."""
        n = min(int(self.n_costs[i]), self.recent_costs.shape[0])
        step = float(self.step_size[i])
        return Progress(int(self.iteration[i]), float(self.cost[i]), float(self.grad_norm[i]),
                        float(self.initial_grad_norm[i]), None if np.isnan(step) else step,
                        self.step_floor, list(self.recent_costs[-n:, i]), self.time,
                        int(self.n_evaluations[i]))


def first_fired(criterion, progress, running):
    """For each running problem, the criterion that fired (None where none did).

    Parameters
    ----------
    criterion : StoppingCriterion
    progress : BatchProgress
    running : numpy.ndarray of bool, shape (k,)
        Problems still running (the others are not asked).

    Returns
    -------
    numpy.ndarray of object, shape (k,)
    """
    k = running.shape[0]
    which = np.full(k, None, dtype=object)
    members = criterion.criteria if isinstance(criterion, AnyOf) else (criterion,)
    undecided = running.copy()
    for member in members:
        if not undecided.any():
            break
        if isinstance(member, AnyOf):
            inner = first_fired(member, progress, undecided)
            hit = undecided & (inner != None)  # noqa: E711 - elementwise
            which[hit] = inner[hit]
        else:
            hit = undecided & _fires(member, progress, undecided)
            which[hit] = member
        undecided &= ~hit
    return which


def _fires(criterion, progress, running):
    """Whether ``criterion`` fires, per problem (bool array of shape (k,))."""
    with np.errstate(invalid="ignore"):
        if isinstance(criterion, MaxIterations):
            return progress.iteration >= criterion.n
        if isinstance(criterion, MaxEvaluations):
            return progress.n_evaluations >= criterion.n
        if isinstance(criterion, MaxTime):
            return np.full(running.shape, progress.time >= criterion.seconds)
        if isinstance(criterion, GradientNorm):
            bound = criterion.tol * progress.initial_grad_norm if criterion.relative \
                else criterion.tol
            return progress.grad_norm <= bound
        if isinstance(criterion, StepSize):
            step = progress.step_size
            return ~np.isnan(step) & ((step <= criterion.tol) | (step < progress.step_floor))
        if isinstance(criterion, CostChange):
            window = criterion.window
            recent = progress.recent_costs[-window - 1:]
            change = recent.max(axis=0) - recent.min(axis=0)
            return (progress.n_costs > window) & (
                change <= criterion.tol * np.maximum(1.0, np.abs(progress.cost)))
        if isinstance(criterion, AllOf):
            fired = running.copy()
            for member in criterion.criteria:
                fired &= _fires(member, progress, fired)
            return fired
        if isinstance(criterion, AnyOf):
            return first_fired(criterion, progress, running) != None  # noqa: E711
    # a user's criterion: ask it problem by problem
    fired = np.zeros(running.shape, dtype=bool)
    for i in np.flatnonzero(running):
        fired[i] = bool(criterion.fired(progress.scalar(i)))
    return fired


def _longest_window(criterion):
    if isinstance(criterion, CostChange):
        return criterion.window
    members = getattr(criterion, "criteria", ())
    return max([_longest_window(c) for c in members], default=1)
