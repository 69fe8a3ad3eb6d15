r"""The Stiefel manifold St(n, p) = {x ∈ 𝔽^{n×p} : xᴴx = I_p}, 𝔽 = ℝ or ℂ.

Geometry (embedded metric)
--------------------------
* Points: n×p matrices with orthonormal columns; St(n, n) is the orthogonal
  group O(n) (the unitary group U(n) for 𝔽 = ℂ), St(n, 1) the unit sphere.
* Tangent space: T_x = {v : xᴴv + vᴴx = 0}, i.e. v = xΩ + x_⊥K with Ω
  skew-Hermitian (p×p) and K arbitrary ((n−p)×p).
  Real dimension np − p(p+1)/2 (real), 2np − p² (complex).
* Metric: ⟨u, v⟩ = Re tr(uᴴv), the Euclidean metric of 𝔽^{n×p}.
* Projection onto T_x: P_x(u) = u − x herm(xᴴu), herm(a) = ½(a + aᴴ).
* Riemannian gradient: P_x(∇f(x)).

Retractions (all land exactly on St(n, p) up to rounding)
---------------------------------------------------------
``"qr"``
    The Q factor (positive diagonal R) of x + v, computed as Cholesky-QR from
    its Gram matrix (x + v)ᴴ(x + v) = I + vᴴv — O(np²), level-3 BLAS only.
``"polar"``
    The polar factor (x + v)(I + vᴴv)^{-1/2}, the closest point of St(n, p) to
    x + v. For p close to n one high-order Newton–Schulz step (the binomial
    series of (I + E)^{-1/2}, E = (x+v)ᴴ(x+v) − I, truncated where it reaches
    working precision: matrix products only, :mod:`orthopt.binomial`) while
    ‖v‖₂ < 1, an eigh of the p×p Gram matrix otherwise and for tall x. On
    SO(3) a closed form. Second order.
``"cayley"``
    (I − W/2)⁻¹(I + W/2) x with the skew generator
    W = P v xᴴ − x (P v)ᴴ, P = I − ½xxᴴ, so that Wx = v. For 2p < n the rank-2p
    form of Wen & Yin (2013) applies Sherman–Morrison–Woodbury:
    R = x + U (I − ½VᴴU)⁻¹ Vᴴx, U = [Pv, x], V = [x, −Pv]: O(np²), one 2p×2p
    solve. For p = n, R = 2x(I − Ω/2)⁻¹ − x with Ω = skew(xᴴv): one LU solve
    with n right-hand sides on NumPy, and on other backends and stacks
    (I − Ω/2)⁻¹ = (I + Ω/2)(I + ΩᴴΩ/4)⁻¹ by a binomial series, products only
    (:mod:`orthopt.cayley`). Second order for p = n; first order otherwise.
``"exp"``
    The Riemannian exponential of the embedded metric (a geodesic, Edelman,
    Arias & Smith 1998, eq. 2.45):
    exp_x(v) = [x, v] expm([[A, −S], [I, A]]) [I; 0] expm(−A), A = xᴴv,
    S = vᴴv — a 2p×2p exponential, followed by a Cholesky-QR that only
    removes rounding errors. For p = n it is x expm(xᴴv), and the retraction
    evaluates expm by a norm-adaptive Taylor polynomial from products only
    (degree 8 in 3 products for a short step; :mod:`orthopt.expm`), by
    Rodrigues' formula on SO(3).
``"givens"``
    A product of Givens rotations, one per pair of coordinates, with angles
    the entries of the generator (W_ij): R_x(v) = ∏ G_ij(W_ij) x. For p = n the
    rotations act from the right, in the coordinates Ω = xᴴv:
    R_x(v) = x ∏ G_ij(Ω_ij). The product
    of exponentials agrees with exp(W) to first order, so it is a retraction,
    and each rotation touches two rows only. The n(n−1)/2 rotations are
    scheduled in n − 1 rounds of disjoint pairs, each applied in one vectorized
    step. For 2p < n the rotations act in the 2p-dimensional basis [x, q] of
    span(x, v) (q spans the component of v orthogonal to x), which keeps the
    cost O(np²).

Logarithm and distance: for p = n (O(n), U(n)) log_x(y) = x logm(xᴴy), the
principal logarithm, defined when xᴴy has no eigenvalue −1 (and, on O(n), when
x and y lie in the same component); dist(x, y) = ‖logm(xᴴy)‖_F. For p < n
the logarithm has no closed form (Zimmermann 2017) and :meth:`Stiefel.log`
raises; :class:`~orthopt.manifolds.Grassmann` measures the distance between the
spanned subspaces.

Random points: the Q factor (positive diagonal R) of an n×p standard Gaussian
matrix is uniformly (Haar) distributed on St(n, p) (Mezzadri 2007).

References
----------
Edelman, Arias & Smith (1998), The geometry of algorithms with orthogonality
constraints, SIAM J. Matrix Anal. Appl. 20(2). Absil, Mahony & Sepulchre
(2008), Optimization Algorithms on Matrix Manifolds, Princeton. Wen & Yin
(2013), A feasible method for optimization with orthogonality constraints,
Math. Program. 142. Zimmermann (2017), A matrix-algebraic algorithm for the
Riemannian logarithm on the Stiefel manifold under the canonical metric, SIAM
J. Matrix Anal. Appl. 38(2).
"""

from __future__ import annotations

import functools

import numpy as np

from ..backend import (
    conj_transpose,
    device_of,
    eye_like,
    finfo_eps,
    get_namespace,
    is_complex_dtype,
)
from ..cayley import cayley_square
from ..expm import expm_skew
from ..so3 import polar_so3
from ..linalg import (
    apply_givens,
    cholesky_qr,
    expm,
    givens_coefficients,
    givens_round_robin,
    herm,
    log_unitary,
    polar,
    qr_positive,
    skew,
)
from .orthonormal import OrthonormalColumns

__all__ = ["Stiefel"]

@functools.lru_cache(maxsize=16)
def _rounds(n):
    return givens_round_robin(n)


class Stiefel(OrthonormalColumns):
    """The Stiefel manifold St(n, p) of n×p matrices with orthonormal columns.

    Parameters
    ----------
    n, p : int
        Points are n×p, 1 ≤ p ≤ n.
    retraction : {"qr", "polar", "cayley", "exp", "givens"}, default "qr"
        Used by :meth:`retraction` (see the module docstring for each).
    field : {"real", "complex"}, default "real"
        Real points (xᵀx = I, float32/float64) or complex points (xᴴx = I,
        complex64/complex128).

    Examples
    --------
    >>> import numpy as np
    >>> from orthopt.manifolds import Stiefel
    >>> M = Stiefel(5, 2, retraction="polar")
    >>> x = M.random_point(rng=0)
    >>> v = M.random_tangent_vector(x, rng=1)
    >>> y = M.retraction(x, 0.1 * v)
    >>> bool(np.allclose(y.T @ y, np.eye(2)))
    True
    """

    RETRACTIONS = ("qr", "polar", "cayley", "exp", "givens")

    def __init__(self, n, p, retraction="qr", field="real"):
        super().__init__(n, p, field=field, retraction=retraction)

    def __repr__(self):
        extra = ", field='complex'" if self.is_complex else ""
        return f"Stiefel({self.n}, {self.p}, retraction={self.retraction_name!r}{extra})"

    @property
    def dim(self):
        """Real dimension: np − p(p+1)/2 (real), 2np − p² (complex)."""
        n, p = self.n, self.p
        if self.is_complex:
            return 2 * n * p - p * p
        return n * p - p * (p + 1) // 2

    # -- tangent spaces ------------------------------------------------------

    def projection(self, x, u):
        """P_x(u) = u − x herm(xᴴu), the orthogonal projection onto T_x.

        Parameters
        ----------
        x : array, shape (..., n, p)
        u : array, shape (..., n, p), any ambient matrix

        Returns
        -------
        array, shape (..., n, p), tangent at x
        """
        return u - x @ herm(conj_transpose(x) @ u)

    # -- exponential ---------------------------------------------------------

    def exp(self, x, v):
        """Riemannian exponential of the embedded metric (geodesic at t = 1).

        Parameters
        ----------
        x : array, shape (..., n, p)
        v : array, shape (..., n, p), tangent at x

        Returns
        -------
        array, shape (..., n, p)
        """
        xp = get_namespace(x, v)
        a = skew(conj_transpose(x) @ v)
        if self.p == self.n:
            return x @ expm(a)
        s = conj_transpose(v) @ v
        ident = _batched_eye(a)
        block = xp.concat(
            [xp.concat([a, -s], axis=-1), xp.concat([ident, a], axis=-1)], axis=-2
        )
        first_columns = expm(block)[..., :, : self.p]
        y = xp.concat([x, v], axis=-1) @ (first_columns @ expm(-a))
        # The formula assumes xᴴx = I exactly; for long steps its 2p×2p factor is
        # large and amplifies a rounding-level ‖xᴴx − I‖ from step to step. A
        # Cholesky-QR of y is the identity to rounding on an orthonormal y and
        # removes the amplified error (O(np²), level-3 BLAS).
        q, _ = cholesky_qr(y)
        return q

    def _retract_exp(self, x, v):
        if self.p == self.n:
            # x expm(Ω), Ω = ½(xᴴv − vᴴx): Taylor polynomials from products only,
            # closed forms for n ≤ 3 (orthopt.expm.expm_skew); the ½ goes into its scaling
            xh_v = conj_transpose(x) @ v
            return x @ expm_skew(xh_v - conj_transpose(xh_v), scale=0.5)
        return self.exp(x, v)

    def log(self, x, y):
        r"""Riemannian logarithm: only for p = n, the group O(n) (U(n) for 𝔽 = ℂ).

        For p = n, log_x(y) = x logm(xᴴy) with the principal logarithm of the
        unitary matrix xᴴy (eigenvalues e^{iθ} ↦ iθ, θ ∈ (−π, π)).

        Parameters
        ----------
        x, y : array, shape (..., n, n)

        Returns
        -------
        array, shape (..., n, n), tangent at x

        Raises
        ------
        NotImplementedError
            For p < n: the embedded-metric logarithm of St(n, p) has no closed
            form (it needs an iterative shooting method, Zimmermann 2017).
        ValueError
            When x and y lie in different components of O(n) (det xᵀy = −1: no
            geodesic joins them), or when xᴴy has an eigenvalue −1 (y is on the
            cut locus of x: several shortest geodesics, the log is not unique).
        """
        if self.p != self.n:
            raise NotImplementedError(
                f"log on {self!r}: the Stiefel logarithm for p < n has no closed form "
                "(it needs an iterative shooting method, Zimmermann 2017); for distances "
                f"between the spanned subspaces use Grassmann({self.n}, {self.p}) (principal "
                "angles), and for p = n use SpecialOrthogonal or Unitary"
            )
        return x @ _group_log(conj_transpose(x) @ y, self)

    def dist(self, x, y):
        """Geodesic distance ‖logm(xᴴy)‖_F (only for p = n, see :meth:`log`).

        Parameters
        ----------
        x, y : array, shape (..., n, n)

        Returns
        -------
        0-d real array: √Σ d_i² over a batch (see :meth:`batch_dist` for one
        value per point)
        """
        return super().dist(x, y)

    # -- second order ----------------------------------------------------------

    def euclidean_to_riemannian_hessian(self, x, euclidean_gradient, euclidean_hessian, v):
        r"""Riemannian Hessian-vector product from Euclidean derivatives.

        For the embedded metric (Absil, Mahony & Trumpf 2013):
        Hess f(x)[v] = P_x(∇²f(x)[v] − v herm(xᴴ∇f(x))).

        Parameters
        ----------
        x, euclidean_gradient, euclidean_hessian, v : array, shape (..., n, p)
            The point, ∇f(x), ∇²f(x)[v] and the tangent direction v.

        Returns
        -------
        array, shape (..., n, p), tangent at x
        """
        correction = v @ herm(conj_transpose(x) @ euclidean_gradient)
        return self.projection(x, euclidean_hessian - correction)

    # -- retractions ---------------------------------------------------------

    def _retract_qr(self, x, v):
        q, _ = cholesky_qr(x + v)
        return q

    def _retract_polar(self, x, v):
        y = x + v
        if 5 * self.p <= self.n:
            # tall: the p×p eigh is cheap next to the two n×p products it needs
            return polar(y, method="eigh")
        if self.n == 3 and self.p == 3 and not self.is_complex:
            return x @ polar_so3(skew(conj_transpose(x) @ v))
        # square-ish: high-order Newton–Schulz, products only, one step to working
        # precision for ‖v‖₂ < 1 (orthopt.binomial); eigh for longer steps
        return polar(y, method="newton_schulz")

    def _retract_cayley(self, x, v):
        xp = get_namespace(x, v)
        if self.p == self.n:
            # 2x(I − Ω/2)⁻¹ − x, Ω = skew(xᴴv): one LU solve, or products only
            return cayley_square(x, v)
        xh_v = conj_transpose(x) @ v
        pv = v - x @ xh_v / 2
        if 2 * self.p >= self.n:
            w = pv @ conj_transpose(x) - x @ conj_transpose(pv)
            return 2 * xp.linalg.solve(eye_like(w) - w / 2, x) - x
        # Wen–Yin: R = x + U (I − ½VᴴU)⁻¹ Vᴴx with U = [Pv, x], V = [x, −Pv].
        # For orthonormal x: xᴴPv = ½xᴴv, Vᴴx = [I; −½(xᴴv)ᴴ].
        ident = _batched_eye(xh_v)
        half = xh_v / 2
        pv_gram = conj_transpose(pv) @ pv
        m = xp.concat(
            [
                xp.concat([ident - half / 2, -ident / 2], axis=-1),
                xp.concat([pv_gram / 2, ident + conj_transpose(half) / 2], axis=-1),
            ],
            axis=-2,
        )
        rhs = xp.concat([ident, -conj_transpose(half)], axis=-2)
        coeffs = xp.linalg.solve(m, rhs)
        return x + xp.concat([pv, x], axis=-1) @ coeffs

    def _retract_givens(self, x, v):
        xp = get_namespace(x, v)
        xh_v = conj_transpose(x) @ v
        if self.p == self.n:
            # Right action in the coordinates Ω = xᴴv: x ∏ G_ij(Ω_ij) = x(I + Ω) + O(‖Ω‖²).
            # Applied as (∏ G_ij(−Ω_ij) xᴴ)ᴴ, since G(−ω)ᴴ = G(ω): one GEMM for Ω
            # instead of the four that form the left generator.
            omega = skew(xh_v)
            return conj_transpose(_givens_sweep(-omega, conj_transpose(x)))
        pv = v - x @ xh_v / 2
        if 2 * self.p >= self.n:
            w = pv @ conj_transpose(x) - x @ conj_transpose(pv)
            return _givens_sweep(w, x)
        # Work in the orthonormal basis [x, q] of span(x, v): there x = [I; 0]
        # and the generator is w̃ = b aᴴ − a bᴴ with a = [I; 0], b = [½xᴴv; qᴴv].
        # Gram–Schmidt against x twice ("twice is enough", Giraud et al. 2005):
        # once is not when v lies mostly in span(x), and then xᴴq ≠ 0 feeds
        # ‖xᴴx − I‖ back into the next point.
        normal = v - x @ xh_v
        normal = normal - x @ (conj_transpose(x) @ normal)
        q, _ = qr_positive(normal)
        q = q - x @ (conj_transpose(x) @ q)
        q, _ = qr_positive(q)
        b = xp.concat([xh_v / 2, conj_transpose(q) @ v], axis=-2)
        a = xp.concat([_batched_eye(xh_v), xp.zeros_like(xh_v)], axis=-2)
        w = b @ conj_transpose(a) - a @ conj_transpose(b)
        rotated = _givens_sweep(w, a)
        return xp.concat([x, q], axis=-1) @ rotated


def _group_log(u, manifold):
    """Principal logarithm of u = xᴴy on O(n) / U(n), with clear errors where it fails.

    Parameters
    ----------
    u : array, shape (..., n, n), orthogonal (unitary) up to rounding
    manifold : Stiefel
        For the error messages.

    Returns
    -------
    array, shape (..., n, n), skew-Hermitian
    """
    xp = get_namespace(u)
    n = u.shape[-1]
    eps = finfo_eps(xp, u.dtype)
    if not is_complex_dtype(xp, u.dtype):
        det = xp.linalg.det(u)
        if bool(xp.any(det < 0)):
            raise ValueError(
                f"log on {manifold!r}: x and y lie in different components of O({n}) "
                f"(det(xᵀy) = {float(xp.min(det)):+.3f}); no geodesic joins them, so the "
                f"logarithm and the distance are not defined. Negate one column of y to "
                f"compare it within SO({n}), or compare subspaces with Grassmann"
            )
    # xᴴy has an eigenvalue −1 ⇔ I + xᴴy is singular: y is on the cut locus of x,
    # where at least two shortest geodesics (θ = +π and θ = −π) reach it
    gap = xp.min(xp.linalg.svdvals(eye_like(u) + u), axis=-1)
    tol = 100 * eps * n
    if bool(xp.any(gap <= tol)):
        raise ValueError(
            f"log on {manifold!r}: xᴴy has an eigenvalue −1 (smallest singular value of "
            f"I + xᴴy = {float(xp.min(gap)):.1e} ≤ {tol:.1e}), so y is on the cut locus of x: "
            f"several shortest geodesics join them and the logarithm is not unique there. "
            f"Perturb y, or step with M.retraction / M.exp instead"
        )
    return log_unitary(u)


def _batched_eye(a):
    """Identity matrices of a's shape (..., m, m), dtype and device."""
    return get_namespace(a).zeros_like(a) + eye_like(a)


def _givens_sweep(w, y, block_size=32):
    r"""Apply a product of Givens rotations ∏ G_ij(w_ij), one per pair i < j, to y.

    Parameters
    ----------
    w : array, shape (..., m, m), skew-Hermitian generator
    y : array, shape (..., m, k)
    block_size : int, default 32
        Rows are grouped into blocks of this size (see Notes).

    Returns
    -------
    array, shape (..., m, k)

    Notes
    -----
    G_ij(ω) = exp(ω e_i e_jᴴ − ω̄ e_j e_iᴴ); complex generators also carry an
    imaginary diagonal, whose phases exp(w_ii) are applied first. Any order of
    the factors gives a retraction (the product agrees with exp(w) to first
    order), so the order is chosen for speed:

    1. pairs inside each block of b rows — all blocks at once, b − 1 rounds of
       disjoint pairs, accumulated into b×b orthogonal matrices;
    2. pairs across two blocks (I, J) — block pairs scheduled round-robin, the
       b² rotations of each pair in b rounds (row a of I with row (a + r) mod b
       of J in round r), accumulated into 2b×2b orthogonal matrices.

    Each accumulated matrix is applied to the 2b rows of y with one batched
    matrix product. Accumulation costs O(m²b) elementwise work instead of the
    O(m²k) of rotating y directly, and the products cost about 2m²k flops, one
    m×m×k GEMM.
    """
    xp = get_namespace(w, y)
    m = w.shape[-1]
    complex_dtype = xp.isdtype(w.dtype, "complex floating")
    if complex_dtype:
        phases = xp.exp(xp.linalg.diagonal(w))
        y = phases[..., :, None] * y
    if m <= 2 * block_size:
        return _givens_rounds(w, y)
    b = block_size
    n_blocks = -(-m // b)
    size = n_blocks * b
    batch = tuple(w.shape[:-2])
    if size != m:  # zero angles on the padding rows are identity rotations
        pad = size - m
        w = xp.concat([w, xp.zeros(batch + (pad, m), dtype=w.dtype, device=device_of(w))], axis=-2)
        w = xp.concat([w, xp.zeros(batch + (size, pad), dtype=w.dtype, device=device_of(w))], axis=-1)
        y = xp.concat([y, xp.zeros(batch + (pad, y.shape[-1]), dtype=y.dtype, device=device_of(y))],
                      axis=-2)
    dev = device_of(w)
    flat = xp.reshape(w, batch + (size * size,))
    blocks = xp.reshape(y, batch + (n_blocks, b, y.shape[-1]))

    # 1. within blocks
    q = xp.zeros(batch + (n_blocks, b, b), dtype=w.dtype, device=dev) + eye_like(w, b)
    offsets = np.arange(n_blocks)[:, None] * b
    for i, j in _rounds(b):
        index = ((offsets + i) * size + offsets + j).reshape(-1)
        omega = xp.reshape(xp.take(flat, xp.asarray(index, device=dev), axis=-1),
                           batch + (n_blocks, i.size))
        c, s = givens_coefficients(omega)
        q = apply_givens(q, i, j, c, s)
    blocks = q @ blocks

    # 2. across blocks
    a = np.arange(b)
    shifts = (a[None, :] + a[:, None]) % b  # shifts[r, a] = (a + r) mod b
    for first, second in _rounds(n_blocks):
        pairs = first.size
        rows = first[None, :, None] * b + a[None, None, :]           # (1, P, b)
        cols = second[None, :, None] * b + shifts[:, None, :]        # (b, P, b)
        index = (rows * size + cols).reshape(-1)
        omega = xp.reshape(xp.take(flat, xp.asarray(index, device=dev), axis=-1),
                           batch + (b, pairs, b))
        c, s = givens_coefficients(omega)
        c = xp.astype(c, w.dtype)[..., None]
        s = xp.astype(s, w.dtype)[..., None]
        ident = xp.zeros(batch + (pairs, 2 * b, 2 * b), dtype=w.dtype, device=dev) + eye_like(w, 2 * b)
        top, bottom = ident[..., :b, :], ident[..., b:, :]
        s_conj = xp.conj(s) if complex_dtype else s
        for r in range(b):
            c_r, s_r = c[..., r, :, :, :], s[..., r, :, :, :]
            top, bottom = c_r * top + s_r * bottom, c_r * bottom - s_conj[..., r, :, :, :] * top
            # bring row (a + r + 1) mod b of J next to row a of I for round r + 1
            bottom = xp.roll(bottom, -1, axis=-2)
        q = xp.concat([top, bottom], axis=-2)
        idx_first = xp.asarray(first, device=dev)
        idx_second = xp.asarray(second, device=dev)
        stacked = xp.concat([xp.take(blocks, idx_first, axis=-3),
                             xp.take(blocks, idx_second, axis=-3)], axis=-2)
        rotated = q @ stacked
        rest = np.setdiff1d(np.arange(n_blocks), np.concatenate([first, second]))
        order = np.concatenate([first, second, rest])
        inverse = np.empty(n_blocks, dtype=np.int64)
        inverse[order] = np.arange(n_blocks)
        parts = [rotated[..., :b, :], rotated[..., b:, :]]
        parts = [xp.reshape(part, batch + (pairs, b, part.shape[-1])) for part in parts]
        if rest.size:
            parts.append(xp.take(blocks, xp.asarray(rest, device=dev), axis=-3))
        blocks = xp.take(xp.concat(parts, axis=-3), xp.asarray(inverse, device=dev), axis=-3)
    y = xp.reshape(blocks, batch + (size, blocks.shape[-1]))
    return y[..., :m, :]


def _givens_rounds(w, y):
    """Unblocked sweep: n − 1 round-robin rounds of disjoint rotations applied to y."""
    xp = get_namespace(w, y)
    m = w.shape[-1]
    flat = xp.reshape(w, tuple(w.shape[:-2]) + (m * m,))
    dev = device_of(w)
    for i, j in _rounds(m):
        omega = xp.take(flat, xp.asarray(i * m + j, device=dev), axis=-1)
        c, s = givens_coefficients(omega)
        y = apply_givens(y, i, j, c, s)
    return y
