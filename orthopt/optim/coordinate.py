r"""Givens coordinate descent on SO(n), O(n), St(n, p) and U(n).

The left action of the rotation group moves a point x ∈ St(n, p) (SO(n) and
O(n) = St(n, n), U(n) for complex x) by a *Givens rotation* that touches two
rows only::

    G_ij(ω) = exp(ω e_i e_jᴴ − ω̄ e_j e_iᴴ),   rows:  x_i ←  c x_i + s x_j
                                                     x_j ← −s̄ x_i + c x_j

with c = cos|ω|, s = sin|ω|·ω/|ω| (c = cos θ, s = sin θ for real ω = θ).
Coordinate descent picks one pair (i, j) — a *coordinate* of the Lie algebra —
and the angle along it; over ℂ the diagonal phases x_i ← e^{iα} x_i are
coordinates too, so that the coordinates span u(n).

Coordinate derivative
---------------------
Let ∇f be the Euclidean gradient at x and

    Ω = skew(∇f xᴴ) = ½(∇f xᴴ − x ∇fᴴ)      (n×n, skew-Hermitian).

Differentiating f(G_ij(ω) x) = f(x + ω(e_i x_jᴴ... )) at ω = 0 gives

    real:    d/dθ f(G_ij(θ) x)|₀ = 2 Ω_ij,
    complex: d/dθ f(G_ij(θu) x)|₀ = 2 Re(conj(Ω_ij) u)   (|u| = 1),
    phase:   d/dα f(e^{iα} on row i)|₀ = Im Ω_ii.

(Proof, real case: d/dθ = ⟨∇f, (e_i e_jᵀ − e_j e_iᵀ) x⟩ = (∇f xᵀ)_ij −
(∇f xᵀ)_ji = 2Ω_ij.) The Riemannian gradient of the embedded metric at x is
grad f = P_x(∇f) and Ω = skew(grad f · xᴴ) too, because the two differ by
x·herm(·)·xᴴ, which is Hermitian; so Ω can be read off either gradient. The
update with all coordinates at once, ω_ij = −tΩ_ij, is the Givens retraction
of the tangent step −tΩx.

Rules (which coordinates to move)
---------------------------------
``"gauss-southwell"``
    The largest |Ω_ij| (i < j; over ℂ also |Ω_ii|/√2, which puts a phase and a
    pair on the same footing: the directional derivative per unit generator
    norm). With ``block=k`` the k largest entries, made disjoint greedily
    (an index already used is skipped), rotated together in one vectorized
    round. Massart & Abrol (2022) prove linear convergence for this rule.
``"cyclic"``
    All coordinates in the round-robin order of
    :func:`~orthopt.linalg.givens_round_robin` (n − 1 rounds of ⌊n/2⌋
    disjoint pairs, plus one round of the n phases over ℂ); ``block=k`` takes
    up to k coordinates of the current round at a time.
``"random"``
    Coordinates drawn uniformly; ``block=k`` draws k disjoint ones.

Angles (``step``)
-----------------
``"exact"``
    If f is a polynomial of degree ≤ 2 in the entries of x (Brockett
    tr(xᴴAxN), Procrustes ‖Ax − B‖², PCA, any quadratic plus linear term),
    then along one coordinate, with rows changing linearly in (cos θ, sin θ),

        f(θ) = a + b₁ cos θ + c₁ sin θ + b₂ cos 2θ + c₂ sin 2θ,

    a trigonometric polynomial of degree 2 (degree 1 for linear costs). In a
    quadratic, products of the two moving rows give the cos 2θ, sin 2θ terms
    and their coupling with the fixed rows the cos θ, sin θ terms, which
    vanish only without coupling (e.g. Brockett with a diagonal A). Its five
    coefficients come from f(0) and the derivative f'(0) = c₁ + 2c₂, both
    known, and three cost evaluations at the well-conditioned points
    θ = π/2, π, −π/2 (orthogonal sampling: each coefficient is a sum or a
    difference of two values). The global minimizer on the circle is found
    in closed form from the roots of a quartic (z = e^{iθ} turns f'(θ) = 0
    into z²f'(θ) = 0, a polynomial of degree 4). For a cost that is not of
    this form the angle is the minimizer of the interpolating polynomial and
    a safeguard (below) keeps the method monotone.
``"armijo"``
    Angles ω = −tΩ on the chosen coordinates (a coordinate gradient step)
    with t from backtracking until f decreases by c·t·Σ (derivative·angle).
float
    Fixed angles ω = −step·Ω: the stochastic-training rule.

Safeguard. Coordinates of one block are optimized independently and then
applied together; when they interact, the joint step can realize less than
the predicted decrease. The round is accepted when it achieves at least half
the decrease the per-coordinate models predict; otherwise all angles are
halved (each still a descent angle: the 1-D minimizer has the sign of
−f'(0)). With ``block=1`` and a quadratic cost the prediction is exact and
the first trial is accepted.

Cost of one iteration: one full gradient (O(n²p) for Ω, plus the cost's own
gradient) and, for ``"exact"``, three cost evaluations per coordinate; the
rotations themselves cost O(p) each (:func:`rotate_rows_inplace` for the
NumPy kernel; :func:`~orthopt.linalg.apply_givens` for any namespace). With
a generic cost, prefer block rounds (``block`` ≈ n/2 with the cyclic or
random rule) so that one gradient buys many rotations.

References
----------
Shalit & Chechik (2014), Coordinate-descent for learning orthogonal matrices
through Givens rotations, ICML. Massart & Abrol (2022), Coordinate descent on
the orthogonal group for recurrent neural network training, AAAI.
"""

from __future__ import annotations

import collections
import math

import numpy as np

from ..backend import (
    conj_transpose,
    default_rng,
    device_of,
    get_namespace,
    is_complex_dtype,
    to_float,
    to_numpy,
)
from ..linalg import apply_givens, givens_coefficients, givens_round_robin, skew
from ..manifolds.stiefel import Stiefel
from .solver import Solver, Step

__all__ = [
    "GivensCoordinateDescent",
    "coordinate_generator",
    "rotate",
    "rotate_rows_inplace",
    "select_gauss_southwell",
    "minimize_trig2",
]

_STEPS = ("exact", "armijo")
_RULES = ("random", "cyclic", "gauss-southwell")


# ---------------------------------------------------------------------------
# Kernels
# ---------------------------------------------------------------------------


def coordinate_generator(x, gradient):
    r"""Ω = skew(g xᴴ), the coordinates of the gradient in the Lie algebra.

    Parameters
    ----------
    x : array, shape (n, p)
        The point.
    gradient : array, shape (n, p)
        Euclidean or Riemannian gradient at x (both give the same Ω).

    Returns
    -------
    array, shape (n, n), skew-Hermitian
        d/dθ f(G_ij(θ)x)|₀ = 2Ω_ij (real); see the module docstring.
    """
    return skew(gradient @ conj_transpose(x))


def rotate(x, i, j, omega):
    r"""Apply disjoint coordinate rotations ∏_k G_{i_k j_k}(ω_k) to the rows of x.

    Parameters
    ----------
    x : array, shape (n, p)
    i, j : numpy.ndarray of int, shape (m,)
        Coordinates: a pair i_k < j_k, or a phase i_k = j_k (complex only).
        No index may appear in two coordinates (they then commute).
    omega : numpy.ndarray, shape (m,)
        Generator entries ω_k (host array; real for real x). For a phase,
        ω_k = iα_k is imaginary and row i_k is multiplied by e^{iα_k}.

    Returns
    -------
    array, shape (n, p), a new array of x's namespace, dtype and device
    """
    i = np.asarray(i, dtype=np.int64)
    j = np.asarray(j, dtype=np.int64)
    omega = np.asarray(omega)
    pairs = i != j
    if type(x) is np.ndarray:
        return _rotate_numpy(x, i, j, omega, pairs)
    xp = get_namespace(x)
    if np.any(pairs):
        om = xp.asarray(omega[pairs], dtype=x.dtype, device=device_of(x))
        c, s = givens_coefficients(om)
        x = apply_givens(x, i[pairs], j[pairs], c, s)
    if np.any(~pairs):
        n = x.shape[0]
        phase = np.ones(n, dtype=np.complex128)
        phase[i[~pairs]] = np.exp(omega[~pairs])
        x = x * xp.asarray(phase, dtype=x.dtype, device=device_of(x))[:, None]
    return x


def _rotate_numpy(x, i, j, omega, pairs):
    """NumPy route of :func:`rotate`: one copy, then fancy-indexed row updates."""
    y = x.copy()
    if np.any(pairs):
        ip, jp, om = i[pairs], j[pairs], omega[pairs]
        mag = np.abs(om)
        c = np.cos(mag)
        if np.iscomplexobj(y):
            s = np.where(mag > 0, np.sin(mag) / np.where(mag > 0, mag, 1.0), 1.0) * om
        else:
            s = np.sin(om)
        xi, xj = x[ip], x[jp]
        y[ip] = c[:, None] * xi + s[:, None] * xj
        y[jp] = -np.conj(s)[:, None] * xi + c[:, None] * xj
    if np.any(~pairs):
        y[i[~pairs]] *= np.exp(omega[~pairs])[:, None]
    return y


def rotate_rows_inplace(x, i, j, c, s):
    """One real Givens rotation of rows i, j of a NumPy array, in place: O(p).

    x_i ← c x_i + s x_j,  x_j ← −s x_i + c x_j. The O(p) kernel of one
    coordinate step (the vectorized :func:`~orthopt.linalg.apply_givens`
    copies the whole array, O(np), so that it runs on every namespace).

    Parameters
    ----------
    x : numpy.ndarray, shape (n, p), writeable, real
    i, j : int
    c, s : float
        cos θ and sin θ.
    """
    xi = x[i].copy()
    x[i] *= c
    x[i] += s * x[j]
    x[j] *= c
    x[j] -= s * xi
    return x


def select_gauss_southwell(omega, block=1, complex_phases=None):
    r"""The Gauss–Southwell coordinates: the k largest |Ω_ij|, disjoint.

    Parameters
    ----------
    omega : array, shape (n, n), skew-Hermitian
    block : int
        Number k of coordinates wanted.
    complex_phases : bool, optional
        Include the phases (i, i) with score |Ω_ii|/√2 (default: when Ω is complex).

    Returns
    -------
    i, j : numpy.ndarray of int, shape (m,), m ≤ k
        Chosen coordinates (i ≤ j) in decreasing order of score, greedily made
        disjoint: a coordinate sharing an index with a better one is skipped.
        Zero-score coordinates are never chosen.
    """
    xp = get_namespace(omega)
    n = omega.shape[-1]
    if complex_phases is None:
        complex_phases = is_complex_dtype(xp, omega.dtype)
    # scores on the device: |Ω_ij| on the strict upper triangle, |Ω_ii|/√2 on the
    # diagonal for phases, 0 elsewhere (a mask from index arithmetic, no n×n host array)
    dev = device_of(omega)
    mag = xp.abs(omega)
    rows = xp.arange(n, device=dev)[:, None]
    cols = xp.arange(n, device=dev)[None, :]
    scores = xp.where(rows < cols, mag, xp.zeros_like(mag))
    if complex_phases:
        scores = xp.where(rows == cols, mag / math.sqrt(2), scores)
    flat = xp.reshape(scores, (n * n,))
    if block == 1:
        k = int(xp.argmax(flat))
        if to_float(flat[k]) == 0.0:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        return np.asarray([k // n]), np.asarray([k % n])
    # Greedy disjoint selection only looks at a prefix of the ranking: before the k-th
    # choice at most 2(k − 1) indices are used, and each index lies in at most n
    # candidate coordinates, so the first k + 2(k − 1)n ranked coordinates suffice.
    # Only that prefix (ranked on the device) comes to the host, not all n² scores.
    prefix = min(n * n, block + 2 * (block - 1) * n)
    candidates, candidate_scores = _ranked_prefix(xp, flat, prefix)
    used = np.zeros(n, dtype=bool)
    chosen_i, chosen_j = [], []
    for k, score in zip(candidates.tolist(), candidate_scores.tolist()):
        if score <= 0.0 or len(chosen_i) == block:
            break
        a, b = divmod(k, n)
        if used[a] or used[b]:
            continue
        used[a] = used[b] = True
        chosen_i.append(a)
        chosen_j.append(b)
    return np.asarray(chosen_i, dtype=np.int64), np.asarray(chosen_j, dtype=np.int64)


def _ranked_prefix(xp, flat, m):
    """Indices and values of the m largest entries of ``flat``, by decreasing value.

    Ties are ranked by increasing index (a stable descending sort), exactly as a full
    ``argsort(-flat, kind="stable")`` would rank them. NumPy partitions first
    (O(N) instead of O(N log N)); other namespaces sort on their device. Returns
    host (NumPy) arrays of length ≤ m.
    """
    if xp.__name__.endswith("numpy") and isinstance(flat, np.ndarray):
        values = flat
        if m < values.size:
            threshold = np.partition(values, values.size - m)[values.size - m]
            # every entry ≥ the m-th largest value (ties included), then the exact order
            pool = np.flatnonzero(values >= threshold)
        else:
            pool = np.arange(values.size)
        order = pool[np.lexsort((pool, -values[pool]))][:m]
        return order, values[order]
    order = xp.argsort(flat, descending=True, stable=True)[:m]
    return to_numpy(order).astype(np.int64), to_numpy(xp.take(flat, order))


def _trig2(coef, theta):
    a, b1, c1, b2, c2 = coef
    return (a + b1 * np.cos(theta) + c1 * np.sin(theta)
            + b2 * np.cos(2 * theta) + c2 * np.sin(2 * theta))


def minimize_trig2(coef):
    r"""Global minimizer on (−π, π] of f(θ) = a + b₁cos θ + c₁sin θ + b₂cos 2θ + c₂sin 2θ.

    Parameters
    ----------
    coef : sequence of 5 floats
        (a, b₁, c₁, b₂, c₂).

    Returns
    -------
    theta : float
        A global minimizer (0 when f is constant).
    value : float
        f(θ).

    Notes
    -----
    With z = e^{iθ}, z² f'(θ) = d₂z⁴ + d₁z³ + d̄₁z + d̄₂ with d₂ = c₂ + i b₂ and
    d₁ = (c₁ + i b₁)/2: the critical points are the unit-modulus roots of
    this quartic. Its roots (numpy.roots, a 4×4 companion eigenproblem) are
    projected onto the circle, polished by two Newton steps on f', and the
    best of them (and θ = 0) is returned.
    """
    a, b1, c1, b2, c2 = (float(v) for v in coef)
    poly = [c2 + 1j * b2, (c1 + 1j * b1) / 2, 0.0, (c1 - 1j * b1) / 2, c2 - 1j * b2]
    scale = max(abs(p) for p in poly)
    if scale == 0.0:
        return 0.0, a + b1 + b2
    poly = [p / scale for p in poly]
    while abs(poly[0]) <= 1e-14:
        poly = poly[1:]
    candidates = [0.0]
    if len(poly) > 1:
        candidates.extend(np.angle(np.roots(poly)).tolist())
    best_theta, best_value = 0.0, _trig2((a, b1, c1, b2, c2), 0.0)
    for theta in candidates:
        for _ in range(2):
            d1 = -b1 * math.sin(theta) + c1 * math.cos(theta) \
                - 2 * b2 * math.sin(2 * theta) + 2 * c2 * math.cos(2 * theta)
            d2 = -b1 * math.cos(theta) - c1 * math.sin(theta) \
                - 4 * b2 * math.cos(2 * theta) - 4 * c2 * math.sin(2 * theta)
            if d2 > 0:
                theta -= d1 / d2
        value = _trig2((a, b1, c1, b2, c2), theta)
        if value < best_value:
            best_theta, best_value = theta, value
    best_theta = math.remainder(best_theta, 2 * math.pi)
    return best_theta, best_value


# ---------------------------------------------------------------------------
# Coordinate schedules
# ---------------------------------------------------------------------------


def _cyclic_rounds(n, complex_phases):
    rounds = [(i, j) for i, j in givens_round_robin(n)]
    if complex_phases:
        idx = np.arange(n, dtype=np.int64)
        rounds.append((idx, idx))
    return rounds


def _random_coordinates(n, block, complex_phases, rng):
    """k disjoint coordinates drawn uniformly (rejection of overlapping draws)."""
    count = n * (n - 1) // 2 + (n if complex_phases else 0)
    iu, ju = np.triu_indices(n, k=0 if complex_phases else 1)
    used = np.zeros(n, dtype=bool)
    chosen_i, chosen_j = [], []
    draws = rng.permutation(count) if block > 1 else rng.integers(count, size=1)
    for k in draws:
        a, b = int(iu[k]), int(ju[k])
        if used[a] or used[b]:
            continue
        used[a] = used[b] = True
        chosen_i.append(a)
        chosen_j.append(b)
        if len(chosen_i) == block:
            break
    return np.asarray(chosen_i, dtype=np.int64), np.asarray(chosen_j, dtype=np.int64)


# ---------------------------------------------------------------------------
# The solver
# ---------------------------------------------------------------------------


class GivensCoordinateDescent(Solver):
    r"""Riemannian coordinate descent with Givens rotations (left action of SO(n) / U(n)).

    Parameters
    ----------
    rule : {"gauss-southwell", "cyclic", "random"}, default "gauss-southwell"
        Which coordinates move (see the module docstring).
    block : int, default 1
        Coordinates per iteration, rotated together in one vectorized round
        (they are made disjoint). Each iteration costs one gradient, so with a
        generic cost a larger block (up to ⌊n/2⌋) buys more rotations per
        gradient.
    step : {"exact", "armijo"} or float, default "exact"
        Angle rule: exact minimization of the degree-2 trigonometric
        polynomial (quadratic costs), Armijo backtracking along the coordinate
        gradient, or fixed angles ω = −step·Ω_ij (the stochastic rule used by
        :meth:`step`).
    sufficient_decrease : float, default 1e-4
        Armijo constant c.
    max_backtracks : int, default 40
    manifold : Manifold, optional
        The manifold of :meth:`step` (default: inferred from x).
    **stopping
        Stopping rules and ``verbose``, see :class:`~orthopt.optim.solver.Solver`.
        For the cyclic and random rules the step size the loop tests against
        ``step_tolerance`` is the largest rotation of the last full sweep (of
        the last four sweeps' worth of draws for the random rule), so that
        idle coordinates do not stop the run.

    Notes
    -----
    Works on real and complex Stiefel manifolds, SpecialOrthogonal (the left
    action keeps det x = 1) and Unitary. ``res.history["step_size"]`` holds
    the norm of the round's generator √(Σ 2|ω_ij|² + Σ |ω_ii|²).

    Examples
    --------
    >>> import numpy as np
    >>> from orthopt.manifolds import SpecialOrthogonal
    >>> from orthopt.optim import Problem
    >>> from orthopt.optim.coordinate import GivensCoordinateDescent
    >>> A = np.diag(np.arange(1.0, 6.0)); N = np.diag(np.arange(5.0, 0.0, -1.0))
    >>> problem = Problem(SpecialOrthogonal(5), lambda x: np.trace(x.T @ A @ x @ N),
    ...                   euclidean_gradient=lambda x: 2 * A @ x @ N)
    >>> res = GivensCoordinateDescent(rule="gauss-southwell", max_iterations=500,
    ...                               gradient_tolerance=1e-10).run(problem, rng=0)
    >>> round(res.fun, 8)   # Σ λ_i μ_{n+1−i}: sorted oppositely
    35.0
    """

    def __init__(self, rule="gauss-southwell", block=1, step="exact", sufficient_decrease=1e-4,
                 max_backtracks=40, manifold=None, **stopping):
        super().__init__(manifold=manifold, **stopping)
        if rule not in _RULES:
            raise ValueError(
                f"unknown rule {rule!r}; valid: {', '.join(repr(r) for r in _RULES)}"
            )
        if isinstance(block, bool) or not isinstance(block, (int, np.integer)) or block < 1:
            raise ValueError(f"block must be a positive integer, got {block!r}")
        if isinstance(step, str):
            if step not in _STEPS:
                raise ValueError(
                    f"unknown step {step!r}; use 'exact', 'armijo' or a positive float angle scale"
                )
        elif not (isinstance(step, (int, float)) and step > 0):
            raise ValueError(f"step must be 'exact', 'armijo' or a positive float, got {step!r}")
        if not 0 < sufficient_decrease < 1:
            raise ValueError(f"sufficient_decrease must be in (0, 1), got {sufficient_decrease}")
        self.rule = rule
        self.block = int(block)
        self.step_rule = step
        self.sufficient_decrease = float(sufficient_decrease)
        self.max_backtracks = int(max_backtracks)

    # -- coordinate choice -------------------------------------------------------

    def _new_schedule(self, n, complex_phases, rng):
        schedule = {"rng": default_rng(rng), "round": 0, "position": 0}
        if self.rule == "cyclic":
            schedule["rounds"] = _cyclic_rounds(n, complex_phases)
        return schedule

    def _sweep_iterations(self, n, complex_phases):
        count = n * (n - 1) // 2 + (n if complex_phases else 0)
        sweep = max(1, math.ceil(count / self.block))
        # random draws cover every coordinate only after several sweeps' worth
        return sweep if self.rule == "cyclic" else 4 * sweep

    def _choose(self, omega, schedule, complex_phases):
        n = omega.shape[-1]
        if self.rule == "gauss-southwell":
            return select_gauss_southwell(omega, self.block, complex_phases)
        if self.rule == "random":
            return _random_coordinates(n, self.block, complex_phases, schedule["rng"])
        rounds = schedule["rounds"]
        i, j = rounds[schedule["round"]]
        start = schedule["position"]
        stop = min(start + self.block, len(i))
        chosen = (i[start:stop], j[start:stop])
        if stop == len(i):
            schedule["round"] = (schedule["round"] + 1) % len(rounds)
            schedule["position"] = 0
        else:
            schedule["position"] = stop
        return chosen

    # -- angles ------------------------------------------------------------------

    @staticmethod
    def _coordinate_data(omega, i, j):
        """Ω_k of the chosen coordinates (host), unit directions u_k, slopes s_k, weights w_k."""
        xp = get_namespace(omega)
        n = omega.shape[-1]
        flat = xp.reshape(omega, (n * n,))
        values = to_numpy(xp.take(flat, xp.asarray(i * n + j, device=device_of(omega))))
        values = np.asarray(values)
        weight = np.where(i == j, 1.0, 2.0)
        if np.iscomplexobj(values):
            mag = np.abs(values)
            # a phase must stay imaginary (ω = iα) even where Ω_ii = 0
            default = np.where(i == j, 1j, 1.0)
            direction = np.where(mag > 0, values / np.where(mag > 0, mag, 1.0), default)
            # pairs: d/dθ = 2|Ω_ij|; phases (ω = θu, u = ±i): d/dθ = |Ω_ii|
            slope = np.where(i == j, mag, 2 * mag)
        else:
            direction = np.ones_like(values)
            slope = 2 * values
        return values, direction, slope, weight

    def _exact_models(self, problem, x, cost0, i, j, direction, slope):
        """Coefficients (a, b₁, c₁, b₂, c₂) of f along each coordinate, and its minimizer."""
        models, thetas = [], []
        for k in range(len(i)):
            values = []
            for theta in (math.pi / 2, math.pi, -math.pi / 2):
                y = rotate(x, i[k:k + 1], j[k:k + 1], np.asarray([theta * direction[k]]))
                values.append(to_float(problem.cost(y)))
            f_half, f_pi, f_mhalf = values
            b1 = (cost0 - f_pi) / 2
            a_plus_b2 = (cost0 + f_pi) / 2
            a_minus_b2 = (f_half + f_mhalf) / 2
            a, b2 = (a_plus_b2 + a_minus_b2) / 2, (a_plus_b2 - a_minus_b2) / 2
            c1 = (f_half - f_mhalf) / 2
            c2 = (slope[k] - c1) / 2
            coef = (a, b1, c1, b2, c2)
            theta, _ = minimize_trig2(coef)
            models.append(coef)
            thetas.append(theta)
        return models, np.asarray(thetas)

    # -- one round ---------------------------------------------------------------

    def _round(self, problem, x, cost, omega, schedule, complex_phases):
        """Choose coordinates, find angles, rotate. Returns (x_new, cost_new, ω, status)."""
        i, j = self._choose(omega, schedule, complex_phases)
        schedule["last_coordinates"] = (i, j)
        if len(i) == 0:
            return x, cost, np.zeros(0), None
        values, direction, slope, weight = self._coordinate_data(omega, i, j)
        cost0 = to_float(cost)
        if not isinstance(self.step_rule, str):
            angles = -self.step_rule * values
            x_new = rotate(x, i, j, angles)
            return x_new, problem.cost(x_new), angles, None
        if self.step_rule == "armijo":
            t = schedule.get("t")
            if t is None:
                t = min(1.0, (math.pi / 4) / max(float(np.max(np.abs(values))), 1e-300))
            else:
                t = 2.0 * t
            thetas = -t * slope / weight
            models = None
        else:
            models, thetas = self._exact_models(problem, x, cost0, i, j, direction, slope)
        eps = float(np.finfo(np.float64).eps)
        scale = 1.0
        for _ in range(self.max_backtracks):
            angles = scale * thetas * direction
            x_new = rotate(x, i, j, angles)
            cost_new = problem.cost(x_new)
            new = to_float(cost_new)
            if models is None:
                predicted = float(np.sum(slope * scale * thetas))  # ≤ 0
                # a decrease below rounding cannot be measured: accept no increase
                # beyond rounding
                noise = 10 * eps * max(1.0, abs(cost0))
                accept = new <= cost0 + self.sufficient_decrease * predicted or (
                    -self.sufficient_decrease * predicted <= noise and new <= cost0 + noise)
            else:
                predicted = sum(_trig2(m, scale * th) - cost0 for m, th in zip(models, thetas))
                # ratio test: realize at least half the decrease the models predict
                # (a scaled angle can predict an increase: then halve again); a
                # prediction at rounding level only has to avoid an increase
                noise = 100 * eps * max(1.0, abs(cost0))
                if abs(predicted) <= noise:
                    accept = new <= cost0 + noise
                else:
                    accept = predicted < 0 and cost0 - new >= -0.5 * predicted
            if accept and math.isfinite(new):
                if models is None:
                    schedule["t"] = t * scale
                return x_new, cost_new, angles, None
            scale *= 0.5
        return x, cost, np.zeros(0), "line_search_failed"

    # -- deterministic solver hooks ----------------------------------------------

    def _check_manifold(self, manifold):
        if not isinstance(manifold, Stiefel):
            raise TypeError(
                f"GivensCoordinateDescent needs a Stiefel, SpecialOrthogonal or Unitary "
                f"manifold, got {manifold!r}"
            )

    def _start(self, problem, x, cost, grad):
        manifold = problem.manifold
        self._check_manifold(manifold)
        complex_phases = manifold.is_complex
        state = {"schedule": self._new_schedule(manifold.n, complex_phases,
                                                getattr(self, "_rng", None)),
                 "complex": complex_phases}
        if self.rule != "gauss-southwell":
            state["recent"] = collections.deque(
                maxlen=self._sweep_iterations(manifold.n, complex_phases))
        return state

    def _iterate(self, problem, x, cost, grad, state):
        omega = coordinate_generator(x, grad)
        x_new, cost_new, angles, status = self._round(problem, x, cost, omega,
                                                      state["schedule"], state["complex"])
        if status is not None:
            return Step(x, cost, grad, 0.0, status=status)
        step_size = _generator_norm(angles, state["schedule"]["last_coordinates"])
        if "recent" in state:
            state["recent"].append(step_size)
            if len(state["recent"]) < state["recent"].maxlen:
                reported = math.inf
            else:
                reported = max(state["recent"])
        else:
            reported = step_size
        if len(angles) == 0:
            # no coordinate with a nonzero derivative: x is critical
            reported = 0.0 if self.rule == "gauss-southwell" else reported
        cost_new, grad_new = problem.cost_and_riemannian_gradient(x_new)
        return Step(x_new, cost_new, grad_new, reported)

    # -- stochastic interface ------------------------------------------------------

    def _step(self, manifold, x, euclidean_gradient, state):
        """One stochastic coordinate round: rotate the chosen coordinates by ω = −step·Ω.

        Called by :meth:`~orthopt.optim.solver.Solver.step` (``x, state =
        solver.step(x, euclidean_gradient, state)``). Needs a float ``step``
        (the angle scale, a learning rate). The state holds the schedule of the
        cyclic / random rules and their random generator.
        """
        if isinstance(self.step_rule, str):
            raise ValueError(
                f"step() needs fixed angles: construct GivensCoordinateDescent(step=<float>), "
                f"e.g. step=1e-2 (got step={self.step_rule!r}, which needs cost evaluations)"
            )
        self._check_manifold(manifold)
        complex_phases = manifold.is_complex
        if "schedule" not in state:
            state["schedule"] = self._new_schedule(manifold.n, complex_phases, None)
        omega = coordinate_generator(x, euclidean_gradient)
        i, j = self._choose(omega, state["schedule"], complex_phases)
        if len(i) == 0:
            return x, state
        values, _, _, _ = self._coordinate_data(omega, i, j)
        return rotate(x, i, j, -self.step_rule * values), state


def _generator_norm(angles, coordinates):
    """√(Σ w_k |ω_k|²) with w = 2 for pairs (ω and −ω̄ both appear), 1 for phases."""
    angles = np.asarray(angles)
    if angles.size == 0:
        return 0.0
    i, j = coordinates
    weight = np.where(np.asarray(i) == np.asarray(j), 1.0, 2.0)
    return float(np.sqrt(np.sum(weight * np.abs(angles) ** 2)))
