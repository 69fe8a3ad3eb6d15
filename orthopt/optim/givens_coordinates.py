r"""The coordinates of Givens coordinate descent: generators, rotations, selection rules.

A *coordinate* is one Givens rotation plane of the Lie algebra acting on
x ∈ St(n, p) (SO(n) and O(n) = St(n, n), U(n) for complex x), on one of two
sides:

left action (rows), x ← G x, G ∈ SO(n) / U(n)
    G_ij(ω) = exp(ω e_i e_jᴴ − ω̄ e_j e_iᴴ):   x_i ← c x_i + s x_j,
                                                x_j ← −s̄ x_i + c x_j,
    with c = cos|ω|, s = sin|ω|·ω/|ω| (c = cos θ, s = sin θ for real ω = θ).
    1 ≤ i < j ≤ n: n(n−1)/2 coordinates; over ℂ also the n phases
    x_i ← e^{iα} x_i (ω = iα on the diagonal).
right action (columns), x ← x G, G ∈ SO(p) / U(p)
    Jacobi's coordinates: columns i < j ≤ p rotate by x ← x exp(K_ij(ω)),
    K_ij(ω) = ω e_i e_jᴴ − ω̄ e_j e_iᴴ (p×p), p(p−1)/2 coordinates (and p
    phases over ℂ). On a square x (SO(n), O(n), U(n)) the two sides reach the
    same points, G x = x (xᴴG x), but along different coordinates. On a tall x
    (p < n) the right action only rotates the basis inside span(x): it cannot
    solve a problem alone and is offered together with the left action.

Coordinate derivatives
----------------------
Let ∇f be the Euclidean gradient at x and

    Ω = skew(∇f xᴴ) = ½(∇f xᴴ − x ∇fᴴ)   (n×n)    for the left action,
    Ψ = skew(xᴴ∇f) = ½(xᴴ∇f − ∇fᴴ x)     (p×p)    for the right action.

Along a coordinate with ω = θu (|u| = 1)

    pairs:   d/dθ f|₀ = 2 Re(conj(Ω_ij) u)   (2Ω_ij for real x; Ψ on the right),
    phases:  d/dα f|₀ = Im Ω_ii              (Im Ψ_ii on the right).

Proof (left, real): d/dθ f(G_ij(θ)x)|₀ = ⟨∇f, (e_i e_jᵀ − e_j e_iᵀ) x⟩ =
(∇f xᵀ)_ij − (∇f xᵀ)_ji = 2Ω_ij. Right: ⟨∇f, x(e_i e_jᵀ − e_j e_iᵀ)⟩ =
(xᵀ∇f)_ij − (xᵀ∇f)_ji = 2Ψ_ij. Both generators can be read off the
Riemannian gradient P_x(∇f) as well (they differ by x·herm(·)·xᴴ, resp.
herm(·), which skew removes). The tangent vector of a unit coordinate step,
Kx or xK, has norm ‖K‖ = √2 for pairs (1 for phases) on a square x, so the
two sides compare on the same footing.

Rules
-----
``"gauss-southwell"``
    The largest |Ω_ij|, |Ψ_ij| (i < j; over ℂ also |Ω_ii|/√2, |Ψ_ii|/√2: the
    directional derivative per unit generator norm). ``block=k`` takes the k
    largest, greedily made disjoint on each side (an index already used on
    that side is skipped): disjoint rotations on one side commute, and a left
    rotation always commutes with a right one, (Gx)H = G(xH).
``"cyclic"``
    The rounds of :func:`~orthopt.linalg.givens_round_robin` on each side
    (n − 1 rounds of ⌊n/2⌋ disjoint pairs on the left, then those of the
    right, plus one round of phases per side over ℂ).
``"random"``
    Coordinates drawn uniformly among all those of the chosen sides.

References
----------
Shalit & Chechik (2014), ICML. Massart & Abrol (2022), AAAI.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..backend import (
    conj_transpose,
    device_of,
    get_namespace,
    is_complex_dtype,
    to_float,
    to_numpy,
)
from ..linalg import apply_givens, givens_coefficients, givens_round_robin, skew

__all__ = [
    "SIDES",
    "Coordinates",
    "CoordinateSpace",
    "coordinate_generator",
    "rotate",
    "rotate_rows_inplace",
    "select_gauss_southwell",
]

#: the actions, in the order their coordinates are listed
SIDES = ("left", "right")


def coordinate_generator(x, gradient, side="left"):
    r"""Ω = skew(g xᴴ) (left) or Ψ = skew(xᴴ g) (right): the gradient's coordinates.

    Parameters
    ----------
    x : array, shape (n, p)
    gradient : array, shape (n, p)
        Euclidean or Riemannian gradient at x (both give the same matrix).
    side : {"left", "right"}

    Returns
    -------
    array, shape (n, n) (left) or (p, p) (right), skew-Hermitian
        d/dθ f|₀ = 2 × the entry (real pairs); see the module docstring.
    """
    if side == "left":
        return skew(gradient @ conj_transpose(x))
    return skew(conj_transpose(x) @ gradient)


def rotate(x, i, j, omega, side="left"):
    r"""Apply disjoint coordinate rotations of one side to x.

    Parameters
    ----------
    x : array, shape (n, p)
    i, j : numpy.ndarray of int, shape (m,)
        Coordinates: a pair i_k < j_k, or a phase i_k = j_k (complex only).
        No index may appear in two coordinates (they then commute).
    omega : numpy.ndarray, shape (m,)
        Generator entries ω_k (host array; real for real x). For a phase,
        ω_k = iα_k is imaginary.
    side : {"left", "right"}
        Left: x ← ∏ G_{i_k j_k}(ω_k) x (rows). Right: x ← x ∏ exp(K_{i_k j_k}(ω_k))
        (columns).

    Returns
    -------
    array, shape (n, p), a new array of x's namespace, dtype and device

    Notes
    -----
    x exp(K(ω)) = (exp(K(ω))ᵀ xᵀ)ᵀ and K(ω)ᵀ = K(−ω̄) in the same plane (for a
    phase too, ω̄ = −ω), so the right action is the left one applied to xᵀ
    with the angles −ω̄.
    """
    i = np.asarray(i, dtype=np.int64)
    j = np.asarray(j, dtype=np.int64)
    omega = np.asarray(omega)
    if side == "right":
        if type(x) is np.ndarray:
            return _rotate_numpy(x.T, i, j, -np.conj(omega), i != j).T
        xp = get_namespace(x)
        return xp.permute_dims(rotate(xp.permute_dims(x, (1, 0)), i, j, -np.conj(omega)),
                               (1, 0))
    pairs = i != j
    if type(x) is np.ndarray:
        return _rotate_numpy(x, i, j, omega, pairs)
    xp = get_namespace(x)
    if np.any(pairs):
        om = xp.asarray(omega[pairs], dtype=x.dtype, device=device_of(x))
        c, s = givens_coefficients(om)
        x = apply_givens(x, i[pairs], j[pairs], c, s)
    if np.any(~pairs):
        phase = np.ones(x.shape[0], dtype=np.complex128)
        phase[i[~pairs]] = np.exp(omega[~pairs])
        x = x * xp.asarray(phase, dtype=x.dtype, device=device_of(x))[:, None]
    return x


def _rotate_numpy(x, i, j, omega, pairs):
    """NumPy route of :func:`rotate` (left): one copy, then fancy-indexed row updates."""
    y = x.copy()
    if len(i) == 1 and pairs[0] and not np.iscomplexobj(y):
        # one real rotation, the common case of coordinate descent: scalar arithmetic
        theta = float(omega[0].real)
        return rotate_rows_inplace(y, int(i[0]), int(j[0]), math.cos(theta), math.sin(theta))
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

    x_i ← c x_i + s x_j,  x_j ← −s x_i + c x_j.

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


def _scores(omega, complex_phases):
    """|Ω_ij| on the strict upper triangle, |Ω_ii|/√2 on the diagonal for phases, flattened."""
    xp = get_namespace(omega)
    n = omega.shape[-1]
    # a mask from index arithmetic on the device, no n×n host array
    dev = device_of(omega)
    mag = xp.abs(omega)
    rows = xp.arange(n, device=dev)[:, None]
    cols = xp.arange(n, device=dev)[None, :]
    scores = xp.where(rows < cols, mag, xp.zeros_like(mag))
    if complex_phases:
        scores = xp.where(rows == cols, mag / math.sqrt(2), scores)
    return xp, xp.reshape(scores, (n * n,))


def _ranked_candidates(omega, block, complex_phases):
    """Flat indices and scores (host, decreasing) of enough coordinates for k disjoint picks.

    Greedy disjoint selection only looks at a prefix of the ranking: before the
    k-th choice at most 2(k − 1) indices are used, and each index lies in at most
    n candidate coordinates, so the first k + 2(k − 1)n ranked coordinates
    suffice. Only that prefix (ranked on the device) comes to the host.
    """
    n = omega.shape[-1]
    if block == 1 and type(omega) is np.ndarray:
        scores = np.triu(np.abs(omega), 1)
        if complex_phases:
            scores[np.diag_indices(n)] = np.abs(np.diagonal(omega)) / math.sqrt(2)
        k = int(np.argmax(scores))
        return np.asarray([k]), np.asarray([float(scores.flat[k])])
    xp, flat = _scores(omega, complex_phases)
    if block == 1:
        k = int(xp.argmax(flat))
        return np.asarray([k]), np.asarray([to_float(flat[k])])
    return _ranked_prefix(xp, flat, min(n * n, block + 2 * (block - 1) * n))


def _ranked_prefix(xp, flat, m):
    """Indices and values of the m largest entries of ``flat``, by decreasing value.

    Ties are ranked by increasing index, exactly as a full stable descending
    sort would rank them. NumPy partitions first (O(N) instead of O(N log N));
    other namespaces sort on their device. Returns host arrays of length ≤ m.
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


def _greedy_disjoint(candidates, block):
    """Pick up to ``block`` coordinates from (score, side, i, j) in the given order,
    skipping zero scores and indices already used on the same side."""
    used = {}
    chosen = []
    for score, side, a, b in candidates:
        if not score > 0.0 or len(chosen) == block:
            break
        taken = used.setdefault(side, set())
        if a in taken or b in taken:
            continue
        taken.update((a, b))
        chosen.append((side, a, b))
    return chosen


def select_gauss_southwell(omega, block=1, complex_phases=None):
    r"""The Gauss–Southwell coordinates of one generator: the k largest |Ω_ij|, disjoint.

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
        disjoint. Zero-score coordinates are never chosen.
    """
    if complex_phases is None:
        complex_phases = is_complex_dtype(get_namespace(omega), omega.dtype)
    n = omega.shape[-1]
    flat, scores = _ranked_candidates(omega, block, complex_phases)
    chosen = _greedy_disjoint(
        ((s, 0) + divmod(int(k), n) for k, s in zip(flat.tolist(), scores.tolist())), block)
    return (np.asarray([c[1] for c in chosen], dtype=np.int64),
            np.asarray([c[2] for c in chosen], dtype=np.int64))


@dataclass
class Coordinates:
    """A round of coordinates: ``side[k]`` (0 left, 1 right), pair or phase (i[k], j[k])."""

    side: np.ndarray
    i: np.ndarray
    j: np.ndarray

    def __len__(self):
        return len(self.i)

    @classmethod
    def from_list(cls, chosen):
        """From [(side, i, j), ...]."""
        arrays = np.asarray(chosen, dtype=np.int64).reshape(-1, 3)
        return cls(arrays[:, 0], arrays[:, 1], arrays[:, 2])


class CoordinateSpace:
    """The coordinates of the chosen sides on St(n, p): counts, schedules, derivatives.

    Parameters
    ----------
    n, p : int
        Shape of x.
    complex_phases : bool
        Whether the diagonal phases are coordinates (complex x).
    sides : tuple of {"left", "right"}
    """

    def __init__(self, n, p, complex_phases, sides):
        self.sizes = {"left": n, "right": p}
        self.complex_phases = bool(complex_phases)
        self.sides = tuple(sides)
        self._table = None

    def count(self, side=None):
        """Number of coordinates on one side (default: on all chosen sides)."""
        if side is None:
            return sum(self.count(s) for s in self.sides)
        m = self.sizes[side]
        return m * (m - 1) // 2 + (m if self.complex_phases else 0)

    def generators(self, x, gradient):
        """{side: Ω or Ψ} for the chosen sides."""
        return {side: coordinate_generator(x, gradient, side) for side in self.sides}

    def values(self, generators, coordinates):
        """The generator entries of ``coordinates`` (host array, complex for complex x)."""
        values = np.zeros(len(coordinates), dtype=np.complex128 if self.complex_phases
                          else np.float64)
        for code, side in enumerate(SIDES):
            mask = coordinates.side == code
            if not np.any(mask):
                continue
            omega = generators[side]
            if type(omega) is np.ndarray:
                values[mask] = omega[coordinates.i[mask], coordinates.j[mask]]
                continue
            xp = get_namespace(omega)
            m = omega.shape[-1]
            flat = xp.reshape(omega, (m * m,))
            index = xp.asarray(coordinates.i[mask] * m + coordinates.j[mask],
                               device=device_of(omega))
            values[mask] = np.asarray(to_numpy(xp.take(flat, index)))
        return values

    def apply(self, x, coordinates, omega):
        """x with the rotations ω of ``coordinates`` applied (each side in one vectorized call)."""
        if len(coordinates) == 1:
            return rotate(x, coordinates.i, coordinates.j, omega, SIDES[coordinates.side[0]])
        for code, side in enumerate(SIDES):
            mask = coordinates.side == code
            if np.any(mask):
                x = rotate(x, coordinates.i[mask], coordinates.j[mask], omega[mask], side)
        return x

    # -- rules ---------------------------------------------------------------------

    def gauss_southwell(self, generators, block):
        """The k best coordinates over the chosen sides (see the module docstring)."""
        candidates = []
        for code, side in enumerate(SIDES):
            if side not in self.sides:
                continue
            m = self.sizes[side]
            flat, scores = _ranked_candidates(generators[side], block, self.complex_phases)
            candidates.extend((s, code) + divmod(int(k), m)
                              for k, s in zip(flat.tolist(), scores.tolist()))
        # a stable sort keeps each side's ranking and puts the left side first on ties
        candidates.sort(key=lambda c: -c[0])
        return Coordinates.from_list(_greedy_disjoint(candidates, block))

    def table(self):
        """All coordinates of the chosen sides as rows (side, i, j), left side first."""
        if self._table is None:
            tables = []
            for code, side in enumerate(SIDES):
                if side in self.sides:
                    m = self.sizes[side]
                    iu, ju = np.triu_indices(m, k=0 if self.complex_phases else 1)
                    tables.append(np.stack([np.full(iu.shape, code), iu, ju], axis=1))
            self._table = np.concatenate(tables).astype(np.int64)
        return self._table

    def random(self, block, rng):
        """k disjoint coordinates drawn uniformly (overlapping draws are rejected)."""
        return random_coordinates(self.table(), block, rng)

    def cyclic_rounds(self):
        """The rounds of disjoint coordinates that make up one sweep, side after side."""
        rounds = []
        for code, side in enumerate(SIDES):
            if side not in self.sides:
                continue
            m = self.sizes[side]
            for i, j in givens_round_robin(m):
                rounds.append(Coordinates(np.full(len(i), code), i, j))
            if self.complex_phases:
                idx = np.arange(m, dtype=np.int64)
                rounds.append(Coordinates(np.full(m, code), idx, idx))
        return rounds


def random_coordinates(table, block, rng):
    """``block`` coordinates drawn uniformly from the rows (code, i, j) of ``table``.

    Draws that overlap an earlier one (share a code and an index) are
    rejected, so the coordinates of a block can be applied at once.
    """
    if block == 1:
        k = int(rng.integers(len(table)))
        return Coordinates(table[k:k + 1, 0], table[k:k + 1, 1], table[k:k + 1, 2])
    draws = rng.permutation(len(table))
    candidates = ((1.0,) + tuple(int(v) for v in table[k]) for k in draws)
    return Coordinates.from_list(_greedy_disjoint(candidates, block))
