r"""Linear algebra the array API standard lacks, for any array namespace.

Every function dispatches on its input (``xp = get_namespace(a)``): the NumPy
route calls SciPy, the CuPy route calls ``cupyx.scipy``, and any other
namespace (array-api-strict in the tests) gets a generic implementation written
with standard functions only, so that no array ever leaves its device.

Conventions
-----------
``aᴴ`` is the conjugate transpose (the plain transpose for real arrays). All
functions act on the last two axes and broadcast over leading ones, so a stack
``(k, n, p)`` of independent matrices is processed in one call. Results keep
the input's dtype and device.

Contents
--------
herm, skew
    Hermitian part ½(a + aᴴ) and skew-Hermitian part ½(a − aᴴ).
expm, expm_frechet, expm_frechet_adjoint
    Matrix exponential, its Fréchet derivative L_A(E) and the adjoint
    L_A^*(G) = L_{Aᴴ}(G) for the real inner product Re tr(XᴴY).
solve_triangular, qr_positive, cholesky_qr, polar
    Orthonormalizations used by the retractions.
givens_round_robin, apply_givens, givens_coefficients
    Givens rotations: many disjoint planes rotated in one vectorized step.
log_unitary
    Principal logarithm of a unitary / orthogonal matrix (for log and dist).
"""

from __future__ import annotations

import numpy as np

from .binomial import gram_matrix, polar_newton_schulz
from .expm import expm_taylor
from .backend import (
    conj_transpose,
    device_of,
    eye_like,
    get_namespace,
    is_complex_dtype,
    is_cupy,
    is_numpy,
    real_dtype_of,
)

__all__ = [
    "herm",
    "skew",
    "expm",
    "expm_frechet",
    "expm_frechet_adjoint",
    "solve_triangular",
    "qr_positive",
    "cholesky_qr",
    "polar",
    "newton_schulz_step",
    "givens_round_robin",
    "givens_coefficients",
    "apply_givens",
    "log_unitary",
]


# ---------------------------------------------------------------------------
# Symmetric parts
# ---------------------------------------------------------------------------


def herm(a):
    """Hermitian (symmetric) part ½(a + aᴴ) of a square matrix, shape (..., n, n)."""
    return (a + conj_transpose(a)) / 2


def skew(a):
    """Skew-Hermitian (skew-symmetric) part ½(a − aᴴ), shape (..., n, n).

    The Lie algebra so(n) (real) or u(n) (complex) consists of exactly these
    matrices; ``skew`` is the orthogonal projection onto it.
    """
    return (a - conj_transpose(a)) / 2


# ---------------------------------------------------------------------------
# Matrix exponential and its derivative
# ---------------------------------------------------------------------------

def expm(a):
    """Matrix exponential exp(a) of square matrices, shape (..., n, n).

    Parameters
    ----------
    a : array, shape (..., n, n), float32/64 or complex64/128

    Returns
    -------
    array, shape (..., n, n), same dtype and device as ``a``

    Notes
    -----
    NumPy: :func:`scipy.linalg.expm`. Every other namespace (CuPy included):
    :func:`orthopt.expm.expm_taylor`, the optimized Taylor polynomials of
    Bader, Blanes & Casas (2019) with scaling and squaring: matrix products
    only, each matrix of a stack with its own degree. For a skew-symmetric
    (skew-Hermitian) ``a`` the result is orthogonal (unitary): this is the
    exponential map of SO(n) (U(n)) at the identity; :func:`orthopt.expm.expm_skew`
    is the faster kernel for that case.
    """
    xp = get_namespace(a)
    if is_numpy(xp):
        import scipy.linalg

        return np.asarray(scipy.linalg.expm(a), dtype=a.dtype)
    return expm_taylor(a)


def _block_upper(a, e):
    """The 2n×2n block matrix [[a, e], [0, a]]."""
    xp = get_namespace(a, e)
    zero = xp.zeros_like(a)
    top = xp.concat([a, e], axis=-1)
    bottom = xp.concat([zero, a], axis=-1)
    return xp.concat([top, bottom], axis=-2)


def expm_frechet(a, e):
    r"""Fréchet derivative of the exponential: L_a(e) = d/dt exp(a + t e)|₀.

    Parameters
    ----------
    a, e : array, shape (..., n, n)

    Returns
    -------
    array, shape (..., n, n)

    Notes
    -----
    Uses the block identity exp([[A, E], [0, A]]) = [[exp A, L_A(E)], [0, exp A]]
    (Mathias 1996). On NumPy with 2-D input it calls
    :func:`scipy.linalg.expm_frechet`, which evaluates the same quantity with
    about half the work.
    """
    xp = get_namespace(a, e)
    n = a.shape[-1]
    if is_numpy(xp) and a.ndim == 2:
        import scipy.linalg

        out = scipy.linalg.expm_frechet(a, e, compute_expm=False)
        return np.asarray(out, dtype=np.result_type(a.dtype, e.dtype))
    return expm(_block_upper(a, e))[..., :n, n:]


def expm_frechet_adjoint(a, g):
    r"""Adjoint of the Fréchet derivative of expm: L_a^*(g) = L_{aᴴ}(g).

    If a loss ℓ depends on W = exp(A), then ∂ℓ/∂A = L_A^*(∂ℓ/∂W): this is how
    expRNN back-propagates through its parametrization.

    Parameters
    ----------
    a : array, shape (..., n, n)
        The point A at which exp is differentiated.
    g : array, shape (..., n, n)
        The gradient with respect to exp(A).

    Returns
    -------
    array, shape (..., n, n)
        The gradient with respect to A, for the real inner product
        ⟨X, Y⟩ = Re tr(XᴴY).

    Notes
    -----
    L_A(E) = ∫₀¹ e^{sA} E e^{(1−s)A} ds, so
    ⟨G, L_A(E)⟩ = ⟨∫₀¹ e^{sAᴴ} G e^{(1−s)Aᴴ} ds, E⟩ = ⟨L_{Aᴴ}(G), E⟩.
    """
    return expm_frechet(conj_transpose(a), g)


# ---------------------------------------------------------------------------
# Orthonormalization
# ---------------------------------------------------------------------------


def solve_triangular(a, b, lower=False):
    """Solve a x = b for triangular a, shape (n, n), b shape (n, k).

    NumPy: :func:`scipy.linalg.solve_triangular`; CuPy: cupyx's; otherwise a
    general :func:`xp.linalg.solve` (correct, only not exploiting the structure).
    """
    xp = get_namespace(a, b)
    if a.ndim == 2 and b.ndim == 2:
        if is_numpy(xp):
            import scipy.linalg

            return scipy.linalg.solve_triangular(a, b, lower=lower, check_finite=False)
        if is_cupy(xp):
            import cupyx.scipy.linalg

            return cupyx.scipy.linalg.solve_triangular(a, b, lower=lower)
    return xp.linalg.solve(a, b)


def _unit_phase(d):
    """d/|d| with 1 where d = 0 (the sign of a real number, the phase of a complex one)."""
    xp = get_namespace(d)
    mag = xp.abs(d)
    safe = xp.where(mag == 0, xp.ones_like(mag), mag)
    phase = d / xp.astype(safe, d.dtype)
    return xp.where(mag == 0, xp.ones_like(d), phase)


def qr_positive(a):
    """Reduced QR with a positive real diagonal in R: the unique Q-factor.

    Parameters
    ----------
    a : array, shape (..., n, p), n ≥ p

    Returns
    -------
    q : array, shape (..., n, p), orthonormal columns
    r : array, shape (..., p, p), upper triangular, diag(r) > 0

    Notes
    -----
    LAPACK's Householder QR leaves the signs of diag(R) arbitrary. Fixing them
    makes Q a smooth function of ``a`` (needed for the QR retraction) and makes
    ``qr_positive(gaussian)`` Haar distributed (Mezzadri 2007).
    """
    xp = get_namespace(a)
    q, r = xp.linalg.qr(a)
    d = _unit_phase(xp.linalg.diagonal(r))
    q = q * d[..., None, :]
    r = xp.conj(d)[..., :, None] * r if is_complex_dtype(xp, a.dtype) else d[..., :, None] * r
    return q, r


def cholesky_qr(a, gram=None):
    """Q-factor of a through the Cholesky factor of its Gram matrix.

    Parameters
    ----------
    a : array, shape (n, p), full column rank
    gram : array, shape (p, p), optional
        aᴴa if already known.

    Returns
    -------
    q : array, shape (n, p), q = a R⁻¹ with aᴴa = RᴴR, diag(R) > 0
    r : array, shape (p, p)

    Notes
    -----
    Costs one Gram product, a p×p Cholesky and a triangular solve: O(np²), all
    level-3 BLAS, and the result equals :func:`qr_positive` in exact
    arithmetic. Orthogonality error grows like eps·cond(a)², which is harmless
    for the retraction x + v: its Gram matrix I + vᴴv has cond = 1 + ‖v‖₂².
    When NumPy's Cholesky fails (cond(a)² beyond 1/eps) the Householder
    :func:`qr_positive` answers instead.
    """
    xp = get_namespace(a)
    if gram is None:
        gram = gram_matrix(a)
    try:
        lower = xp.linalg.cholesky(gram)  # gram = L Lᴴ, R = Lᴴ
    except np.linalg.LinAlgError:
        # cond(a)² beyond 1/eps: the Gram matrix lost definiteness in rounding (a
        # line search trying x + tv with a huge t). Householder QR has no squared
        # condition number; other libraries return NaN here, which a search shortens.
        return qr_positive(a)
    if a.ndim == 2:
        # qᴴ = L⁻¹ aᴴ
        q = conj_transpose(solve_triangular(lower, conj_transpose(a), lower=True))
    elif lower.shape[-1] <= _SMALL_TRIANGULAR:
        q = conj_transpose(_solve_lower_small(lower, conj_transpose(a)))
    else:
        q = conj_transpose(xp.linalg.solve(lower, conj_transpose(a)))
    return q, conj_transpose(lower)


# Stacks of triangular systems up to this size are solved by substitution,
# vectorized over the stack: the array API has no triangular solve, and a
# general batched LU solve costs ~6 batched products at p = 8 (NumPy).
_SMALL_TRIANGULAR = 16


def _solve_lower_small(lower, b):
    """x with lower @ x = b by forward substitution, shapes (..., p, p), (..., p, k).

    p(p − 1)/2 elementwise updates of (..., k) rows: no Python loop over the stack.
    """
    xp = get_namespace(lower, b)
    rows = []
    for i in range(lower.shape[-1]):
        r = b[..., i, :]
        for k in range(i):
            r = r - lower[..., i, k][..., None] * rows[k]
        rows.append(r / lower[..., i, i][..., None])
    return xp.stack(rows, axis=-2)


def polar(a, method="eigh", gram=None, tol=None, max_iterations=30):
    r"""Orthonormal polar factor U = a (aᴴa)^{-1/2} of a full-rank a.

    U is the closest matrix with orthonormal columns to ``a`` in every unitarily
    invariant norm (Fan & Hoffman 1955).

    Parameters
    ----------
    a : array, shape (..., n, p), n ≥ p, full column rank
    method : {"eigh", "newton_schulz"}
        ``"eigh"``: eigen-decomposition of the p×p Gram matrix,
        U = a V Λ^{-1/2} Vᴴ. ``"newton_schulz"``: high-order Newton–Schulz
        steps Y ← Y p_d(YᴴY − I), p_d the binomial series of (1 + e)^{-1/2}
        truncated at the degree that reaches working precision
        (:func:`orthopt.binomial.polar_newton_schulz`): matrix products only
        (GPU friendly), valid when ‖aᴴa − I‖₂ < 1; it falls back to
        ``"eigh"`` otherwise or after ``max_iterations`` steps.
    gram : array, shape (..., p, p), optional
        aᴴa if already known (first iteration of either route).
    tol : float, optional
        Ignored (kept for compatibility): Newton–Schulz now always iterates
        to the unit roundoff of the dtype.

    Returns
    -------
    array, shape (..., n, p)
    """
    xp = get_namespace(a)
    if method == "newton_schulz":
        y = polar_newton_schulz(a, gram=gram, max_iterations=max_iterations)
        return polar(a, method="eigh") if y is None else y
    if gram is None:
        gram = conj_transpose(a) @ a
    if method == "eigh":
        w, v = xp.linalg.eigh(gram)
        scale = 1.0 / xp.sqrt(w)
        inv_sqrt = (v * xp.astype(scale, a.dtype)[..., None, :]) @ conj_transpose(v)
        return a @ inv_sqrt
    raise ValueError(f"unknown polar method {method!r}; use 'eigh' or 'newton_schulz'")


def newton_schulz_step(y, gram=None):
    r"""One Newton–Schulz step toward the polar factor: y ← y(3I − yᴴy)/2.

    With yᴴy = I + E the result has yᴴy = I − (3/4)E² + O(E³): the error in
    orthonormality is squared, so a single step repairs rounding drift
    (‖E‖ ~ 1e-13 becomes ~1e-16) with two matrix products and no
    factorization. The step is a polynomial in y, so det y keeps its sign
    (SO(n) stays SO(n)), and it preserves the column span.

    Parameters
    ----------
    y : array, shape (..., n, p), n ≥ p, with ‖yᴴy − I‖₂ < 1
    gram : array, shape (..., p, p), optional
        yᴴy if already known.

    Returns
    -------
    array, shape (..., n, p), dtype of y
    """
    if gram is None:
        gram = conj_transpose(y) @ y
    return y - (y @ (gram - eye_like(gram))) / 2


# ---------------------------------------------------------------------------
# Givens rotations
# ---------------------------------------------------------------------------


def givens_round_robin(n):
    """Schedule all n(n−1)/2 index pairs into rounds of disjoint pairs.

    The circle method of round-robin tournaments: n − 1 rounds (n rounds for
    odd n) of ⌊n/2⌋ pairs each, every unordered pair (i, j) exactly once.
    Rotations in one round act on different rows, so they commute and can be
    applied in one vectorized step.

    Parameters
    ----------
    n : int

    Returns
    -------
    list of (numpy.ndarray, numpy.ndarray)
        For each round, the index arrays ``i`` and ``j`` with ``i < j``.
    """
    players = list(range(n)) + ([-1] if n % 2 else [])
    m = len(players)
    rounds = []
    for _ in range(m - 1):
        pairs = [(players[k], players[m - 1 - k]) for k in range(m // 2)]
        pairs = [(min(p), max(p)) for p in pairs if -1 not in p]
        if pairs:
            i, j = zip(*pairs)
            rounds.append((np.asarray(i, dtype=np.int64), np.asarray(j, dtype=np.int64)))
        players = [players[0]] + [players[-1]] + players[1:-1]
    return rounds


def givens_coefficients(omega_ij):
    r"""Cosine and (complex) sine of the rotation exp(ω (e_i e_jᴴ) − ω̄ (e_j e_iᴴ)).

    The generator restricted to the (i, j) plane is W = [[0, ω], [−ω̄, 0]];
    W² = −|ω|² I, so exp(W) = cos|ω| I + (sin|ω|/|ω|) W.

    Parameters
    ----------
    omega_ij : array, shape (m,)
        Generator entries (real for SO(n), complex for U(n)).

    Returns
    -------
    c : array, shape (m,), real dtype
    s : array, shape (m,), dtype of ``omega_ij``; s = sin|ω| · ω/|ω|
    """
    xp = get_namespace(omega_ij)
    mag = xp.abs(omega_ij)
    c = xp.cos(mag)
    if is_complex_dtype(xp, omega_ij.dtype):
        safe = xp.where(mag == 0, xp.ones_like(mag), mag)
        sinc = xp.where(mag == 0, xp.ones_like(mag), xp.sin(mag) / safe)
        s = omega_ij * xp.astype(sinc, omega_ij.dtype)
    else:
        s = xp.sin(omega_ij)
    return c, s


def apply_givens(x, i, j, c, s, axis=-2):
    r"""Apply disjoint Givens rotations to rows (or columns) of x in one step.

    For each k, rows i_k and j_k of x are replaced by::

        x_i ←  c x_i + s x_j
        x_j ← −s̄ x_i + c x_j

    which is left multiplication by the rotation exp(θ(e_i e_jᴴ − e_j e_iᴴ))
    (c = cos θ, s = sin θ in the real case). With ``axis=-1`` columns are
    rotated instead: x ← x Gᴴ, i.e. x_{:,i} ← c x_{:,i} + s̄ x_{:,j} and
    x_{:,j} ← −s x_{:,i} + c x_{:,j}, so that x Gᴴ = (G xᴴ)ᴴ.

    Parameters
    ----------
    x : array, shape (..., n, p)
    i, j : array of int, shape (m,)
        Disjoint index pairs (no index appears twice across i and j).
    c : array, shape (..., m), real
        Leading dimensions broadcast against those of x (one set of angles
        per matrix of a stack).
    s : array, shape (..., m), real or complex
    axis : {-2, -1}
        Rotate rows (-2, the left action) or columns (-1).

    Returns
    -------
    array, shape (..., n, p)
        A new array; O(m·p) work (O(m·n) for columns).

    Notes
    -----
    Written with ``take`` and ``concat`` only (no scatter), so it runs on every
    array-API namespace: the touched rows are gathered, rotated and put back by
    one inverse permutation.
    """
    xp = get_namespace(x)
    n = x.shape[axis]
    dev = device_of(x)
    i_np = np.asarray(i, dtype=np.int64)
    j_np = np.asarray(j, dtype=np.int64)
    touched = np.concatenate([i_np, j_np])
    rest = np.setdiff1d(np.arange(n), touched, assume_unique=False)
    order = np.concatenate([touched, rest])
    inverse = np.empty(n, dtype=np.int64)
    inverse[order] = np.arange(n)
    if i_np.size == 0:
        return x
    idx_i = xp.asarray(i_np, device=dev)
    idx_j = xp.asarray(j_np, device=dev)
    xi = xp.take(x, idx_i, axis=axis)
    xj = xp.take(x, idx_j, axis=axis)
    c = xp.astype(c, x.dtype)
    s = xp.astype(s, x.dtype)
    if axis in (-2, x.ndim - 2):
        c_b, s_b = c[..., :, None], s[..., :, None]
        new_i = c_b * xi + s_b * xj
        new_j = -xp.conj(s_b) * xi + c_b * xj
    else:
        c_b, s_b = c[..., None, :], s[..., None, :]
        new_i = xi * c_b + xj * xp.conj(s_b)
        new_j = -xi * s_b + xj * c_b
    if rest.size:
        rest_part = xp.take(x, xp.asarray(rest, device=dev), axis=axis)
        stacked = xp.concat([new_i, new_j, rest_part], axis=axis)
    else:
        stacked = xp.concat([new_i, new_j], axis=axis)
    return xp.take(stacked, xp.asarray(inverse, device=dev), axis=axis)


# ---------------------------------------------------------------------------
# Logarithm on the unitary group
# ---------------------------------------------------------------------------


def log_unitary(u):
    r"""Principal logarithm of a unitary (or orthogonal) matrix.

    Parameters
    ----------
    u : array, shape (..., n, n), unitary (orthogonal) up to rounding

    Returns
    -------
    array, shape (..., n, n), same dtype as ``u``
        The skew-Hermitian (skew-symmetric for real ``u`` with det u = 1 and
        no eigenvalue −1) matrix Ω with exp(Ω) = u and spectrum in i(−π, π].

    Notes
    -----
    A unitary matrix is normal: u = Z diag(e^{iθ}) Zᴴ with Z unitary, so
    log u = Z diag(iθ) Zᴴ. NumPy route: the complex Schur form (SciPy), which is
    diagonal for normal matrices. Other namespaces: an eigenvector basis from
    :func:`eigh` of the Hermitian matrix ½(u + uᴴ) + γ·(u − uᴴ)/(2i) for a
    fixed irrational γ; it shares u's eigenvectors (both parts are functions of
    u), and γ separates eigenvalues e^{iθ} with equal cos θ.
    """
    xp = get_namespace(u)
    real_input = not is_complex_dtype(xp, u.dtype)
    cdtype = xp.complex64 if u.dtype in (xp.float32, xp.complex64) else xp.complex128
    uc = xp.astype(u, cdtype)
    if is_numpy(xp):
        import scipy.linalg

        def one(m):
            t, z = scipy.linalg.schur(m, output="complex")
            theta = np.angle(np.diag(t))
            return (z * (1j * theta)[None, :]) @ z.conj().T

        flat = uc.reshape((-1,) + uc.shape[-2:])
        out = np.stack([one(m) for m in flat]).reshape(uc.shape).astype(cdtype)
    else:
        gamma = 0.5772156649015329  # Euler–Mascheroni: any irrational works
        hermitian = (uc + conj_transpose(uc)) / 2 + gamma * (uc - conj_transpose(uc)) / 2j
        _, z = xp.linalg.eigh(hermitian)
        lam = xp.linalg.diagonal(conj_transpose(z) @ uc @ z)
        theta = xp.atan2(xp.imag(lam), xp.real(lam))
        out = (z * xp.astype(1j * xp.astype(theta, cdtype), cdtype)[..., None, :]) @ conj_transpose(z)
    out = skew(out)
    if real_input:
        return xp.real(out)
    return out
