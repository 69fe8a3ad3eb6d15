r"""projUNN: rank-k steps on O(n) and U(n) in O(kN²) (Kiani et al. 2022).

A gradient step on the unitary group, U ← R_U(−η G), costs O(N³) with any
full retraction (a matrix exponential, a polar decomposition, a solve).
projUNN replaces the step Δ = −η·(gradient) by a rank-k approximation
Δ ≈ a bᴴ (a, b ∈ 𝔽^{N×k}) and then projects back onto the group *exactly*,
using only the 2k-dimensional subspace the update touches.

Variants
--------
projUNN-D (``variant="D"``): the closest unitary matrix,

    U' = polar(U + a bᴴ) = U · polar(I + ã bᴴ),   ã = Uᴴa.

With M = I + ã bᴴ and Z = [ã, b] (N×2k),

    MᴴM = I + Z C Zᴴ,   C = [[0, I], [I, ãᴴã]]   (2k×2k).

Write Z = QR (thin QR, Q orthonormal N×2k): MᴴM = I + Q K Qᴴ with the
Hermitian K = R C Rᴴ = V Λ Vᴴ (a 2k×2k eigh). Any function of I + QKQᴴ acts
as the identity off span(Q), so

    (MᴴM)^{-1/2} = I + Q V ((1 + Λ)^{-1/2} − I) Vᴴ Qᴴ,
    U' = (U + abᴴ) + ((U + abᴴ) Q) F Qᴴ,   F = V((1+Λ)^{-1/2} − I)Vᴴ.

projUNN-T (``variant="T"``): move along the geodesic of the tangent
projection of the step,

    U' = U expm(Ω),   Ω = skew(Uᴴ a bᴴ) = ½(ã bᴴ − b ãᴴ) = Z J Zᴴ,
    J = ½[[0, I], [−I, 0]].

With Z = QR again Ω = Q K Qᴴ, K = R J Rᴴ skew-Hermitian (2k×2k), and
expm(Ω) = I + Q (expm(K) − I) Qᴴ, where expm(K) = W e^{−iΛ} Wᴴ from the eigh
of the Hermitian iK = WΛWᴴ. So U' = U + (UQ)(expm(K) − I)Qᴴ.

Both variants cost a handful of N×N by N×2k products — O(kN²) — plus an
N×2k QR and 2k×2k eigenproblems; no N×N factorization appears.

Low-rank approximations of the step (``approximation``)
-------------------------------------------------------
``"lsi"``
    Randomized subspace iteration (Halko, Martinsson & Tropp 2011, Alg. 4.4):
    Y = Δ Ω_rand with k + oversampling Gaussian columns, ``power_iterations``
    rounds of re-orthonormalized Y ← Δ(ΔᴴY), then the SVD of the small
    (k+o)×N matrix QᴴΔ. Needs only products with Δ and Δᴴ (matrix-free:
    O(N²(k+o)) per product), and is exact when rank Δ ≤ k.
``"column"``
    Norm-proportional column sampling (Drineas, Kannan & Mahoney 2006): draw
    k columns j_t with probability p_j = ‖Δ_{:,j}‖²/‖Δ‖_F², and set
    a_t = Δ_{:,j_t}/(k p_{j_t}), b_t = e_{j_t}. Unbiased: E[abᴴ] = Δ.
``"exact"``
    Truncated SVD (an N×N factorization: for tests and small N only).

Which step is approximated (``direction``)
------------------------------------------
``"riemannian"`` (default): Δ = −η·grad f(U) = −η U skew(Uᴴ∇f), applied
matrix-free as Δv = −η/2 (∇f v − U(∇fᴴ(Uv))), so that the rank-k budget is
spent on the part of the gradient that moves U (the normal part, U·herm(·),
is discarded by both variants to first order). ``"euclidean"``: Δ = −η∇f,
as in the paper.

References
----------
Kiani, Balestriero, LeCun & Lloyd (2022), projUNN: efficient method for
training deep networks with unitary matrices, NeurIPS. Halko, Martinsson &
Tropp (2011), SIAM Review 53(2).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..backend import (
    asarray_like,
    conj_transpose,
    default_rng,
    eye_like,
    get_namespace,
    is_complex_dtype,
    to_float,
)
from ..linalg import newton_schulz_step
from ..manifolds.product import Product, ProductVector
from ..manifolds.stiefel import Stiefel
from .product_coordinates import check_group_factors
from .rgd import make_step_rule
from .solver import Solver, SolverState, Step, inner_float
from .step_size import Armijo, checked_lr, renamed

__all__ = [
    "ProjUNN",
    "ProjUNNState",
    "projunn_d",
    "projunn_t",
    "low_rank_lsi",
    "low_rank_column",
    "low_rank_exact",
]

_VARIANTS = ("D", "T")
_APPROXIMATIONS = ("lsi", "column", "exact")
_DIRECTIONS = ("riemannian", "euclidean")


# ---------------------------------------------------------------------------
# Exact projections of U + abᴴ
# ---------------------------------------------------------------------------


def _basis(u, a, b):
    """ã = Uᴴa, Z = [ã, b] = QR (thin). Returns ã, Q (N×2k), R (2k×2k)."""
    xp = get_namespace(u, a, b)
    a_tilde = _adjoint_times(u, a)
    q, r = xp.linalg.qr(xp.concat([a_tilde, b], axis=-1))
    return a_tilde, q, r


def projunn_d(u, a, b):
    r"""projUNN-D: the polar factor of U + abᴴ in O(kN²).

    Parameters
    ----------
    u : array, shape (..., N, N), orthogonal / unitary (a stack: one update per matrix)
    a, b : array, shape (..., N, k), dtype of u

    Returns
    -------
    array, shape (..., N, N): polar(U + abᴴ) = (U + abᴴ)((U + abᴴ)ᴴ(U + abᴴ))^{-1/2}

    Notes
    -----
    See the module docstring: one thin QR of [Uᴴa, b], one 2k×2k eigh. The
    result is the exact polar factor (to rounding) when U + abᴴ is
    nonsingular; a (near-)singular U + abᴴ — a step of size ≈ 1 pointing
    against U — has no unique polar factor, and the eigenvalues of I + K are
    clipped at eps to return one of them.
    """
    xp = get_namespace(u, a, b)
    k = a.shape[-1]
    a_tilde, q, r = _basis(u, a, b)
    zero = xp.zeros((*u.shape[:-2], k, k), dtype=u.dtype, device=_device(u))  # per matrix
    ident = zero + eye_like(zero)
    c = xp.concat([xp.concat([zero, ident], axis=-1),
                   xp.concat([ident, conj_transpose(a_tilde) @ a_tilde], axis=-1)], axis=-2)
    kmat = r @ c @ conj_transpose(r)
    kmat = (kmat + conj_transpose(kmat)) / 2
    lam, v = xp.linalg.eigh(kmat)
    eps = float(np.finfo(np.float64 if lam.dtype == xp.float64 else np.float32).eps)
    one_plus = xp.clip(1.0 + lam, eps, None)
    scale = 1.0 / xp.sqrt(one_plus) - 1.0
    f = (v * xp.astype(scale, u.dtype)[..., None, :]) @ conj_transpose(v)
    moved = u + a @ conj_transpose(b)
    return moved + ((moved @ q) @ f) @ conj_transpose(q)


def projunn_t(u, a, b):
    r"""projUNN-T: U expm(skew(Uᴴabᴴ)) in O(kN²).

    Parameters
    ----------
    u : array, shape (..., N, N), orthogonal / unitary (a stack: one update per matrix)
    a, b : array, shape (..., N, k), dtype of u

    Returns
    -------
    array, shape (..., N, N): U expm(Ω), Ω = ½(Uᴴabᴴ − baᴴU)

    Notes
    -----
    Ω = Q K Qᴴ with K = R J Rᴴ skew-Hermitian 2k×2k; expm(K) comes from the
    eigh of the Hermitian iK (see the module docstring). For real input the
    real part is taken (expm of a real matrix is real).
    """
    xp = get_namespace(u, a, b)
    k = a.shape[-1]
    _, q, r = _basis(u, a, b)
    zero = xp.zeros((k, k), dtype=u.dtype, device=_device(u))
    ident = eye_like(zero)
    j = xp.concat([xp.concat([zero, ident / 2], axis=-1),
                   xp.concat([-ident / 2, zero], axis=-1)], axis=-2)
    kmat = r @ j @ conj_transpose(r)
    complex_input = is_complex_dtype(xp, u.dtype)
    cdtype = u.dtype if complex_input else (
        xp.complex128 if u.dtype == xp.float64 else xp.complex64)
    kc = xp.astype(kmat, cdtype)
    hermitian = kc * 1j
    hermitian = (hermitian + conj_transpose(hermitian)) / 2
    lam, w = xp.linalg.eigh(hermitian)          # iK = W Λ Wᴴ  ⇒  K = W(−iΛ)Wᴴ
    phases = xp.exp(xp.astype(lam, cdtype) * (-1j))
    exp_k = (w * phases[..., None, :]) @ conj_transpose(w)
    if not complex_input:
        exp_k = xp.real(exp_k)
    delta = exp_k - eye_like(exp_k)
    return u + ((u @ q) @ delta) @ conj_transpose(q)


def _device(x):
    from ..backend import device_of

    return device_of(x)


# ---------------------------------------------------------------------------
# Rank-k approximations
# ---------------------------------------------------------------------------


class _Operator:
    """A linear map on 𝔽^{N×·}: matmat(v) = Δv, rmatmat(v) = Δᴴv, and Δ itself on demand."""

    def __init__(self, matmat, rmatmat, dense, like):
        self.matmat = matmat
        self.rmatmat = rmatmat
        self.dense = dense
        self.like = like


def _adjoint_times(m, v):
    """mᴴ v for a square m and a thin v, computed as (vᴴ m)ᴴ.

    Same numbers; but a thin-times-square product reads m row-wise, which is
    several times faster in single-threaded BLAS than mᴴ v with a transposed
    view of m (measured 1.2 ms vs 4–8 ms at N = 1024, 5 columns).
    """
    return conj_transpose(conj_transpose(v) @ m)


def _as_operator(delta):
    if isinstance(delta, _Operator):
        return delta
    return _Operator(lambda v: delta @ v, lambda v: _adjoint_times(delta, v),
                     lambda: delta, delta)


def _gaussian_like(shape, like, rng):
    g = rng.standard_normal(shape)
    xp = get_namespace(like)
    if is_complex_dtype(xp, like.dtype):
        g = (g + 1j * rng.standard_normal(shape)) / math.sqrt(2)
    return asarray_like(g, like=like)


def low_rank_lsi(delta, rank, oversampling=4, power_iterations=1, rng=None):
    r"""Rank-k approximation a bᴴ ≈ Δ by randomized subspace iteration.

    Parameters
    ----------
    delta : array, shape (..., N, M), or an operator from :class:`ProjUNN`
        A stack gets one independent sketch per matrix.
    rank : int
        k.
    oversampling : int, default 4
        Extra random columns (o); the sketch has k + o columns.
    power_iterations : int, default 1
        Rounds of Y ← Δ(ΔᴴY) (each re-orthonormalized); more rounds sharpen
        the approximation when the singular values decay slowly.
    rng : None, int or numpy.random.Generator

    Returns
    -------
    a : array, shape (..., N, k)
        Left factor scaled by the singular values (a = U_k Σ_k).
    b : array, shape (..., M, k)
        Right singular vectors V_k.

    Notes
    -----
    Cost O(NM(k + o)) per product with Δ or Δᴴ: 2 + 2·power_iterations products.
    Exact (to rounding) when rank Δ ≤ k + o.
    """
    op = _as_operator(delta)
    xp = get_namespace(op.like)
    rng = default_rng(rng)
    m = op.like.shape[-1] if not isinstance(delta, _Operator) else op.like.shape[-1]
    width = min(rank + oversampling, m)
    # one sketch per matrix of a stack (..., N, N): the batched solver's per-problem draws
    y = op.matmat(_gaussian_like((*op.like.shape[:-2], m, width), op.like, rng))
    q, _ = xp.linalg.qr(y)
    for _ in range(power_iterations):
        z, _ = xp.linalg.qr(op.rmatmat(q))
        q, _ = xp.linalg.qr(op.matmat(z))
    small = conj_transpose(op.rmatmat(q))          # QᴴΔ, (k+o)×M
    us, s, vh = xp.linalg.svd(small, full_matrices=False)
    us, s, vh = us[..., :rank], s[..., :rank], vh[..., :rank, :]
    a = (q @ us) * xp.astype(s, op.like.dtype)[..., None, :]
    return a, conj_transpose(vh)


def low_rank_column(delta, rank, rng=None):
    r"""Unbiased rank-k estimate a bᴴ of Δ by norm-proportional column sampling.

    Parameters
    ----------
    delta : array, shape (N, M) (operators are densified: O(N²M))
    rank : int
        k, the number of sampled columns (with replacement).
    rng : None, int or numpy.random.Generator

    Returns
    -------
    a : array, shape (N, k)
        a_t = Δ_{:, j_t} / (k p_{j_t}).
    b : array, shape (M, k)
        b_t = e_{j_t}, so abᴴ = Σ_t a_t e_{j_t}ᵀ and E[abᴴ] = Δ.
    """
    op = _as_operator(delta)
    dense = op.dense()
    xp = get_namespace(dense)
    rng = default_rng(rng)
    m = dense.shape[-1]
    sq = xp.abs(dense) ** 2
    col = np.asarray(_host(xp.sum(sq, axis=0)), dtype=np.float64)
    total = col.sum()
    if total == 0.0:
        zeros = xp.zeros((dense.shape[0], rank), dtype=dense.dtype, device=_device(dense))
        return zeros, xp.zeros((m, rank), dtype=dense.dtype, device=_device(dense))
    prob = col / total
    picks = rng.choice(m, size=rank, p=prob)
    cols = xp.take(dense, xp.asarray(picks, device=_device(dense)), axis=1)
    weights = 1.0 / (rank * prob[picks])
    a = cols * asarray_like(weights, like=dense)[None, :]
    basis = np.zeros((m, rank))
    basis[picks, np.arange(rank)] = 1.0
    return a, asarray_like(basis, like=dense)


def low_rank_exact(delta, rank):
    """Best rank-k approximation (truncated SVD; an N×N factorization — tests only).

    Returns a = U_k Σ_k (..., N, k) and b = V_k (..., M, k) for Δ of shape (..., N, M).
    """
    op = _as_operator(delta)
    dense = op.dense()
    xp = get_namespace(dense)
    us, s, vh = xp.linalg.svd(dense, full_matrices=False)
    a = us[..., :rank] * xp.astype(s[..., :rank], dense.dtype)[..., None, :]
    return a, conj_transpose(vh[..., :rank, :])


def _host(x):
    from ..backend import to_numpy

    return to_numpy(x)


def _tangent_norm(u, a, b, a_tilde=None):
    r"""‖P_U(abᴴ)‖ = ‖skew(ã bᴴ)‖ (ã = Uᴴa) from k×k matrices, O(kN²).

    ‖skew M‖² = ½(‖M‖² − Re tr M²), with ‖ãbᴴ‖² = tr((ãᴴã)(bᴴb)) and
    tr((ãbᴴ)²) = tr((bᴴã)²).
    """
    xp = get_namespace(u, a, b)
    if a_tilde is None:
        a_tilde = _adjoint_times(u, a)
    cross = conj_transpose(b) @ a_tilde
    full = to_float(xp.real(xp.sum((conj_transpose(a_tilde) @ a_tilde) * xp.matrix_transpose(
        conj_transpose(b) @ b))))
    square = to_float(xp.real(xp.sum(cross * xp.matrix_transpose(cross))))
    return math.sqrt(max(0.5 * (full - square), 0.0))


# ---------------------------------------------------------------------------
# The solver
# ---------------------------------------------------------------------------


@dataclass
class ProjUNNState(SolverState):
    """State of :class:`ProjUNN` (a run, or a sequence of :meth:`step` calls).

    Attributes
    ----------
    rng : numpy.random.Generator
        Draws the random sketches.
    step : int
        Steps taken (every ``reorthonormalize_every``-th ends with a Newton–Schulz restore).
    step_memory : object
        The step-size rule's memory (:meth:`run` only).
    skipped : int
        Consecutive sketches along which no decrease could be resolved (:meth:`run`).
    """

    step: int = 0
    step_memory: object = None
    skipped: int = 0


class ProjUNN(Solver):
    r"""projUNN-D / projUNN-T steps on O(n), SO(n) and U(n).

    Parameters
    ----------
    variant : {"D", "T"}, default "T"
        D: polar projection of U + abᴴ; T: U·expm(skew(Uᴴabᴴ)).
    rank : int, default 1
        k, the rank of the approximated step.
    approximation : {"lsi", "column", "exact"}, default "lsi"
        How the step is approximated (see the module docstring).
    direction : {"riemannian", "euclidean"}, default "riemannian"
        Which step is approximated.
    lr : float, optional
        Learning rate η: the fixed step of :meth:`step`, and of :meth:`run`
        with ``step_size="fixed"``; the first trial step of the Armijo rule
        (default there: a step of unit length).
    step_size : {"armijo", "fixed"} or StepSizeRule, default "armijo"
        Step rule of :meth:`run` along the curve η ↦ P(U + η abᴴ) of one
        sketch: backtracking (:class:`~orthopt.optim.step_size.Armijo`, the
        first trial twice the last accepted η) or the fixed η = lr.
    step : {"armijo", "fixed"}, optional
        The first version's name for ``step_size``.
    max_step : float, optional
        Largest step ‖η abᴴ‖_F that :meth:`run` tries (default 0.5 for "D",
        π for "T"). For "D" it keeps σ(U + ηabᴴ) inside [1/2, 3/2]: the
        O(kN²) polar formula assumes UᴴU = I, and a rounding error E in U
        comes out multiplied by about ‖U + ηabᴴ‖, so unbounded Armijo growth
        (steps of length 35–180 were seen on Procrustes SO(20)) made the
        error compound until the iterate left the manifold. For "T" a
        rotation by more than π is never needed.
    oversampling, power_iterations : int
        Parameters of the "lsi" approximation (default 4 and 1).
    reorthonormalize_every : int or None, optional
        After this many steps, restore ``xᴴx = I`` with one Newton–Schulz
        step ``x ← x − x(xᴴx − I)/2`` (two N×N products; a rounding error E
        in xᴴx becomes O(E²)). Default ``None``: every N steps, which adds
        O(N²) per step on average and so keeps the O(kN²) cost; ``0`` never.
        Both O(kN²) updates assume UᴴU = I exactly and, unlike a full polar
        or QR retraction, do not remove the error already in U, so rounding
        error accumulates (on Brockett over SO(5) without the restore,
        ‖UᴴU − I‖ grew from 1.1e-13 after 500 projUNN-D steps to 4.4e-12 after
        20 000).
    sufficient_decrease, contraction : float
        Constants of the default Armijo rule (1e-4 and 0.5).
    **options
        Stopping rules, ``verbose``, ``manifold``, ``blas_threads``
        (:class:`~orthopt.optim.solver.Solver`). The default ``max_iterations``
        is counted in units of dim/k steps (a rank-k step moves about k of the
        dim = N(N−1)/2 directions of the group): ``sweeps`` × ⌈dim/k⌉.

    Notes
    -----
    Each iteration of :meth:`run` draws one sketch abᴴ of the step and
    searches along η ↦ P(U + η abᴴ), whose derivative at 0 is P_U(abᴴ): the
    slope is ⟨grad f, abᴴ⟩, computed as Re⟨grad f·b, a⟩ in O(kN²). A sketch
    with a positive slope (possible for ``direction="euclidean"`` or
    column sampling) is used with the opposite sign, a descent direction.
    With variant "D" on real matrices the search treats as inadmissible any
    η whose polar factor would change the sign of the determinant
    (det(I + bᴴUᴴa) ≤ 0), so SO(n) runs stay in SO(n). The "riemannian"
    direction is the default because with ``direction="euclidean"`` the
    rank-k part of ∇f is mostly its normal component (x·herm(xᴴ∇f), nonzero
    even at the optimum for Brockett-type costs): on Brockett over SO(4)
    rank-1/2 runs then stalled at 10–85 % cost error. The random sketches
    draw from the ``rng`` of :meth:`run` (or of :meth:`init_state`).
    """

    #: the default budget, in units of dim/k steps
    sweeps = 200
    #: consecutive random sketches without a resolvable decrease that stop a run with
    #: "precision_limit" (one for the deterministic truncated SVD)
    precision_window = 10

    def __init__(self, variant="T", rank=1, approximation="lsi", direction="riemannian",
                 lr=None, step_size=None, step=None, oversampling=4, power_iterations=1,
                 sufficient_decrease=1e-4, contraction=0.5, max_step=None,
                 reorthonormalize_every=None, **options):
        super().__init__(**options)
        if variant not in _VARIANTS:
            raise ValueError(f"unknown variant {variant!r}; use 'D' (polar) or 'T' (exponential)")
        if approximation not in _APPROXIMATIONS:
            raise ValueError(f"unknown approximation {approximation!r}; valid: "
                             f"{', '.join(repr(a) for a in _APPROXIMATIONS)}")
        if direction not in _DIRECTIONS:
            raise ValueError(f"unknown direction {direction!r}; use 'riemannian' or 'euclidean'")
        if isinstance(rank, bool) or not isinstance(rank, (int, np.integer)) or rank < 1:
            raise ValueError(f"rank must be a positive integer, got {rank!r}")
        step_size = renamed("step_size", step_size, "step", step)
        lr = checked_lr(lr)
        self.variant = variant
        self.rank = int(rank)
        self.approximation = approximation
        self.direction = direction
        self.lr = lr
        self.oversampling = int(oversampling)
        self.power_iterations = int(power_iterations)
        if step_size in (None, "armijo"):
            step_size = Armijo(sufficient_decrease=sufficient_decrease, contraction=contraction,
                               initial_step=self.lr, max_backtracks=60)
        elif step_size == "bb":
            raise ValueError("ProjUNN's step rule is 'armijo' or 'fixed' (a new sketch every "
                             "iteration leaves no Barzilai–Borwein pair)")
        self.step_rule = make_step_rule(step_size, self.lr)
        if max_step is None:
            max_step = 0.5 if variant == "D" else math.pi
        if not max_step > 0:
            raise ValueError(f"max_step must be positive, got {max_step!r}")
        self.max_step = float(max_step)
        if reorthonormalize_every is not None and (
                isinstance(reorthonormalize_every, bool)
                or not isinstance(reorthonormalize_every, (int, np.integer))
                or reorthonormalize_every < 0):
            raise ValueError(f"reorthonormalize_every must be a non-negative integer or None, "
                             f"got {reorthonormalize_every!r}")
        self.reorthonormalize_every = reorthonormalize_every

    def _budget(self, manifold):
        if manifold is None:
            return self.default_max_iterations
        return self.sweeps * math.ceil(manifold.dim / self.rank)

    # -- building blocks ---------------------------------------------------------

    def _step_operator(self, u, egrad, lr):
        """Δ = −lr·(gradient) as an operator (matrix-free for the Riemannian direction)."""
        if self.direction == "euclidean":
            return _as_operator(-lr * egrad)

        def matmat(v):   # −lr U skew(Uᴴ G) v = −lr/2 (G v − U Gᴴ U v)
            return (-lr / 2) * (egrad @ v - u @ _adjoint_times(egrad, u @ v))

        def rmatmat(v):  # Δᴴ v = −lr/2 (Gᴴ v − Uᴴ G Uᴴ v)
            inner = egrad @ _adjoint_times(u, v)
            return (-lr / 2) * (_adjoint_times(egrad, v) - _adjoint_times(u, inner))

        def dense():
            return matmat(eye_like(u))

        return _Operator(matmat, rmatmat, dense, u)

    def _approximate(self, op, rng):
        if self.approximation == "lsi":
            return low_rank_lsi(op, self.rank, self.oversampling, self.power_iterations, rng)
        if self.approximation == "column":
            return low_rank_column(op, self.rank, rng)
        return low_rank_exact(op, self.rank)

    def _project(self, u, a, b):
        return projunn_d(u, a, b) if self.variant == "D" else projunn_t(u, a, b)

    def _restore_due(self, x, steps):
        """Whether step number ``steps`` (1-based) ends with a Newton–Schulz restore."""
        every = x.shape[-1] if self.reorthonormalize_every is None else self.reorthonormalize_every
        return every > 0 and steps % every == 0

    @staticmethod
    def _keeps_component(a_tilde, b):
        """det(U + abᴴ)/det U = det(I_k + bᴴã) > 0 (real case): the polar factor stays
        in U's component of O(n), e.g. in SO(n). Always True for complex input."""
        xp = get_namespace(a_tilde, b)
        if is_complex_dtype(xp, a_tilde.dtype):
            return True
        small = eye_like(conj_transpose(b) @ a_tilde) + conj_transpose(b) @ a_tilde
        return to_float(xp.linalg.det(small)) > 0

    def _check_manifold(self, manifold):
        if isinstance(manifold, Product):
            check_group_factors(manifold, "ProjUNN")
            return
        if not isinstance(manifold, Stiefel) or manifold.p != manifold.n:
            raise TypeError(
                f"ProjUNN acts on square orthogonal / unitary matrices (Stiefel(n, n), "
                f"SpecialOrthogonal(n), Unitary(n)), got {manifold!r}"
            )

    # -- deterministic iteration ---------------------------------------------------

    def _start(self, problem, current, rng):
        self._check_manifold(problem.manifold)
        return ProjUNNState(rng=rng, step_memory=self.step_rule.start())

    def _iterate(self, problem, current, state):
        x = current.x
        # on a product every factor draws its own sketch a_f b_fᴴ and the search moves
        # along all of them at once (one η); a single matrix is the one-factor case
        parts = _factors(x)
        sketches, slope = [], 0.0
        for u, egrad, grad in zip(parts, _factors(current.euclidean_gradient),
                                  _factors(current.gradient)):
            xp = get_namespace(u)
            # the sketch is drawn once per iteration; the search moves along it
            a, b = self._approximate(self._step_operator(u, egrad, 1.0), state.rng)
            # φ'(0) = ⟨grad, abᴴ⟩ = Re⟨grad·b, a⟩, O(kN²)
            own = to_float(xp.real(xp.sum(xp.conj(grad @ b) * a)))
            if own > 0:
                b, own = -b, -own   # the opposite sketch descends
            sketches.append((a, b))
            slope += own
        if not slope < 0:
            # a sketch orthogonal to the gradient: draw another one next iteration
            return Step(current, 0.0, accepted=False)
        direction = _like(x, [a @ conj_transpose(b) for a, b in sketches])
        unit_length = math.sqrt(max(inner_float(problem.manifold, x, direction, direction), 0.0))
        memory = state.step_memory
        growth = getattr(self.step_rule, "growth", None)
        if growth is not None and memory.step is not None:
            # the first trial, growth × the last η, stays within max_step
            memory.step = min(memory.step, self.max_step / (growth * unit_length))
        a_tildes = [_adjoint_times(u, a) if self.variant == "D" else None
                    for u, (a, _) in zip(parts, sketches)]

        def curve(eta):
            if eta * unit_length > self.max_step * (1 + 1e-12):
                return None
            moved = []
            for u, (a, b), a_tilde in zip(parts, sketches, a_tildes):
                if a_tilde is not None and not self._keeps_component(eta * a_tilde, b):
                    return None   # the polar factor would leave U's component (SO(n))
                u_new = self._project(u, eta * a, b)
                if self._restore_due(u_new, state.step + 1):
                    u_new = newton_schulz_step(u_new)
                moved.append(u_new)
            return _like(x, moved)

        search = self.step_rule.search(problem, current, direction, slope, memory, curve=curve)
        if search.status == "line_search_failed" and search.at_precision_limit:
            # this sketch's decrease is below what the cost resolves; a random sketch may
            # just have missed the gradient, so only a run of them stops the run
            state.skipped += 1
            window = 1 if self.approximation == "exact" else self.precision_window
            if state.skipped < window:
                return Step(current, 0.0, accepted=False)
            # the precision limit only when the sketch points along the gradient: a
            # Euclidean or column sketch can be almost all normal part (seen on Brockett
            # SO(6): ‖P_U(abᴴ)‖ = 1e-6‖abᴴ‖ with ‖grad‖ = 2.9, far from the optimum)
            tangent = math.sqrt(sum(_tangent_norm(u, a, b, a_tilde) ** 2 for u, (a, b), a_tilde
                                    in zip(parts, sketches, a_tildes)))
            cosine = -slope / max(current.grad_norm * tangent, 1e-300)
            return Step.failed(current, "precision_limit" if cosine >= 0.1
                               else "line_search_failed")
        step = Step.from_search(current, search, unit_length, slope)
        if step.status is None:
            state.step += 1
            state.skipped = 0
        return step

    # -- stochastic interface ------------------------------------------------------

    def _init_state(self, manifold, x, rng):
        self._check_manifold(manifold)
        return ProjUNNState(rng=rng)

    def _step(self, manifold, x, euclidean_gradient, state):
        """One projUNN step x ← P(x + abᴴ) with abᴴ ≈ −lr·(gradient), the fixed ``lr``.

        Called by :meth:`~orthopt.optim.solver.Solver.step` (``x, state =
        solver.step(x, euclidean_gradient, state)``) with x of shape (N, N)
        orthogonal / unitary and the (minibatch) Euclidean gradient ∂L/∂x.
        The state (:meth:`init_state`) holds the random generator of the
        sketches and the step counter.
        """
        if self.lr is None:
            raise ValueError("step() needs a learning rate: construct ProjUNN(lr=...)")
        self._check_manifold(manifold)
        state.step += 1
        moved = []
        for u, egrad in zip(_factors(x), _factors(euclidean_gradient)):  # each factor its own
            a, b = self._approximate(self._step_operator(u, egrad, self.lr), state.rng)
            u_new = self._project(u, a, b)
            if self._restore_due(u_new, state.step):
                u_new = newton_schulz_step(u_new)
            moved.append(u_new)
        return _like(x, moved), state


def _factors(x):
    """The matrices of a point: its factors on a product, else (x,)."""
    return tuple(x) if isinstance(x, tuple) else (x,)


def _like(x, parts):
    """parts shaped as x: a ProductVector on a product, else the one matrix."""
    return ProductVector(parts) if isinstance(x, tuple) else parts[0]
