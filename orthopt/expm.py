r"""The matrix exponential from matrix products only: optimized Taylor polynomials.

For a square A (one matrix or a stack), exp(A) is approximated by its Taylor
polynomial T_m(A) of degree m ∈ {1, 2, 4, 8, 12, 18}, evaluated with the
fewest matrix products known (Bader, Blanes & Casas 2019; the degree-18
formula is Sastre's):

========  ========  ===========================================================
degree m  products  evaluation
========  ========  ===========================================================
1         0         I + A
2         1         I + A + A²/2
4         2         I + A + A²(I/2 + A/6 + A²/24)
8         3         A₄ = A²(x₁A + x₂A²), A₈ = (x₃A² + A₄)(x₄I + x₅A + x₆A² + x₇A₄),
                    I + A + y₂A² + A₈
12        4         A³; B_i = Σ_j b_ij A^j (j ≤ 3); A₆ = B₂ + B₃²; B₀ + (B₁ + A₆)A₆
18        5         A³, A⁶ = (A³)²; B_i = Σ_j b_ij {I, A, A², A³, A⁶};
                    A₉ = B₃ + B₀B₄; B₁ + (B₂ + A₉)A₉
========  ========  ===========================================================

There is no linear solve: the cost is 0–5 products, then s squarings when
‖A‖ exceeds θ₁₈ (A is scaled by 2⁻ˢ first). The thresholds θ_m bound the
relative *backward* error: T_m(2⁻ˢA)^{2ˢ} = exp(A + ΔA) with ‖ΔA‖ ≤ u‖A‖ when
2⁻ˢ‖A‖ ≤ θ_m (u the unit roundoff of the dtype).

The norm. Any bound on ‖A‖ in a consistent submultiplicative norm works in the
backward-error bound. For a general A it is ‖A‖₁. For a skew-Hermitian A
(the generators of SO(n) and U(n)) A is normal, so ‖A^k‖₂ = ‖A‖₂^k and

    ‖A‖₂ ≤ min(‖A‖_F, ‖A²‖_F^{1/2}),

which the kernel gets for free once A² is formed: a short retraction step at
n = 1024 (‖A‖_F = 0.1, ‖A‖₂ ≈ 0.006) takes degree 8 (3 products) where ‖A‖₁
alone would ask for degree 12. For a real skew A, A² = −AᵀA is symmetric and
NumPy forms it with a symmetric rank-k update (half a product); so is A⁶.

Batches. Every matrix of a stack gets its own degree and its own number of
squarings: the stack is sorted by (degree, squarings), each group is a
contiguous slice evaluated with batched products, and the results are put
back in order with one ``take``. There is no Python loop over the stack,
only over the (few) distinct groups.

Closed forms (:func:`expm_skew`): n = 1, n = 2 (exp(μI + B) =
e^μ(cos β I + (sin β/β) B) for traceless B, B² = −β²I) and real n = 3
(Rodrigues: exp(A) = cos θ I + (sin θ/θ) A + ½ (sin(θ/2)/(θ/2))² ωωᵀ with
A = [ω]×, θ = ‖ω‖; the half-angle form has no cancellation at small θ).

References
----------
P. Bader, S. Blanes, F. Casas (2019), Computing the matrix exponential with an
optimized Taylor polynomial approximation, Mathematics 7(12), 1174.
J. Sastre (2018), Efficient evaluation of matrix polynomials, Linear Algebra
Appl. 539. A. H. Al-Mohy, N. J. Higham (2009), A new scaling and squaring
algorithm for the matrix exponential, SIAM J. Matrix Anal. Appl. 31(3).
"""

from __future__ import annotations

import math

from .so3 import exp_so3
from .backend import device_of, eye_like, get_namespace, is_complex_dtype, is_numpy, real_dtype_of

__all__ = ["expm_taylor", "expm_skew", "taylor_degree", "add_scaled_identity"]

_DEGREES = (1, 2, 4, 8, 12, 18)
# θ_m for the relative backward error u, Bader, Blanes & Casas (2019), Table 1
# (the same values drive torch.linalg.matrix_exp).
_THETA = {
    "single": (1.192092800768788e-07, 5.978858893805233e-04, 5.116619363445086e-02,
               5.800524627688768e-01, 1.461661507209034e+00, 3.010066362817634e+00),
    "double": (2.220446049250313e-16, 2.580956802971767e-08, 3.397168839976962e-04,
               4.991228871115323e-02, 2.996158913811580e-01, 1.090863719290036e+00),
}

_SQRT177 = math.sqrt(177.0)
_X3 = 2.0 / 3.0
_T8 = {  # Bader, Blanes & Casas (2019), eq. (16)
    "x1": _X3 * (1 + _SQRT177) / 88, "x2": _X3 * (1 + _SQRT177) / 352, "x3": _X3,
    "x4": (-271 + 29 * _SQRT177) / (315 * _X3), "x5": (-11 + 11 * _SQRT177) / (1260 * _X3),
    "x6": (-99 + 11 * _SQRT177) / (5040 * _X3), "x7": (89 - _SQRT177) / (5040 * _X3 * _X3),
    "y2": (857 - 58 * _SQRT177) / 630,
}
# Rows: B_0..B_3 over the powers (I, A, A², A³); Bader, Blanes & Casas (2019), eq. (17).
_T12 = (
    (9.0198e-16, 0.46932117595418237389, -0.20099424927047284052, -0.04623946134063071740),
    (5.31597895759871264183, 1.19926790417132231573, 0.01179296240992997031,
     0.01108844528519167989),
    (0.18188869982170434744, 0.05502798439925399070, 0.09351590770535414968,
     0.00610700528898058230),
    (-2.0861320e-13, -0.13181061013830184015, -0.02027855540589259079,
     -0.00675951846863086359),
)
# Rows: B_0..B_4 over the powers (I, A, A², A³, A⁶); Bader, Blanes & Casas (2019),
# eq. (18), the coefficients of Sastre's degree-18 formula.
_T18 = (
    (0.0, -1.00365581030144618291e-01, -8.02924648241156932449e-03,
     -8.92138498045729985177e-04, 0.0),
    (0.0, 3.97849749499645077844e-01, 1.36783778460411720168e+00,
     4.98289622525382669416e-01, -6.37898194594723280150e-04),
    (-1.09676396052962061844e+01, 1.68015813878906206114e+00, 5.71779846478865511061e-02,
     -6.98210122488052056106e-03, 3.34975017086070470649e-05),
    (-9.04316832390810593223e-02, -6.76404519071381882256e-02, 6.75961301770459654925e-02,
     2.95552570429315521194e-02, -1.39180257516060693404e-05),
    (0.0, 0.0, -9.23364619367118555360e-02, -1.69364939002081722752e-02,
     -1.40086798182036094347e-05),
)


def _thresholds(xp, dtype):
    single = real_dtype_of(xp, dtype) == xp.float32
    return _THETA["single" if single else "double"]


def taylor_degree(norm_bound, dtype="float64"):
    """Degree and number of squarings the kernel uses for a given ‖A‖ bound.

    Parameters
    ----------
    norm_bound : float
        An upper bound on ‖A‖ (see the module docstring for which norm).
    dtype : {"float64", "float32", "complex128", "complex64"}

    Returns
    -------
    degree : int, one of 1, 2, 4, 8, 12, 18
    squarings : int, ≥ 0
    """
    single = str(dtype) in ("float32", "complex64")
    index, squarings = _select(norm_bound, _THETA["single" if single else "double"])
    return _DEGREES[index], squarings


def _select(norm_bound, theta):
    for index, bound in enumerate(theta[:-1]):
        if norm_bound <= bound:
            return index, 0
    if not math.isfinite(norm_bound):
        raise ValueError(
            f"expm: the matrix has a non-finite norm ({norm_bound}); check the input "
            "for inf or nan entries"
        )
    return len(theta) - 1, max(0, math.ceil(math.log2(norm_bound / theta[-1])))


def _matmul_square(a, skew):
    """a @ a; for a real skew (or symmetric) a as ∓aᵀa, which NumPy runs as syrk."""
    xp = get_namespace(a)
    if skew and a.ndim == 2 and is_numpy(xp) and not is_complex_dtype(xp, a.dtype):
        # aᵀ is a view of a: NumPy recognises aᵀa and calls syrk (half the flops)
        return -(xp.matrix_transpose(a) @ a)
    return a @ a


def _fro(a):
    """Frobenius norm over the last two axes, shape a.shape[:-2], real dtype."""
    xp = get_namespace(a)
    flat = xp.reshape(a, tuple(a.shape[:-2]) + (a.shape[-1] * a.shape[-2],))
    return xp.linalg.vector_norm(flat, axis=-1)


def _one_norm(a):
    """Maximum absolute column sum over the last two axes, shape a.shape[:-2]."""
    xp = get_namespace(a)
    return xp.max(xp.sum(xp.abs(a), axis=-2), axis=-1)


def _combine(coefficients, terms, ident=0.0):
    """Σ_j c_j t_j + ident·I, accumulated in place in one fresh array.

    For stacks of small matrices every pass over the stack costs about as much
    as a batched product (both are memory bound), so the sum is built with
    as few passes and temporaries as possible.
    """
    out = None
    for c, t in zip(coefficients, terms):
        if c == 0.0:
            continue
        if out is None:
            out = c * t
        else:
            out += c * t if c != 1.0 else t
    if ident != 0.0:
        out = add_scaled_identity(out, ident)
    return out


def add_scaled_identity(out, c):
    """out + c·I for a fresh array ``out`` of shape (..., n, n), updated in place.

    Only the diagonal is touched (a strided slice of the flattened matrices),
    which for stacks of small matrices is about half the cost of adding a
    broadcast identity. ``out`` must not be shared: it may be modified.
    """
    xp = get_namespace(out)
    n = out.shape[-1]
    flat = xp.reshape(out, tuple(out.shape[:-2]) + (n * n,))
    flat[..., ::n + 1] = flat[..., ::n + 1] + c
    return xp.reshape(flat, out.shape)


def _evaluate(index, a, a2, skew, scale=1.0):
    """T_m(scale·a) for m = _DEGREES[index], given a2 = a @ a.

    ``scale`` (a power of two ≤ 1) is folded into the coefficients of the
    degree-8 formula, which the stacks of small matrices use with squarings;
    the other degrees expect ``scale == 1``.
    """
    if index == 0:
        return add_scaled_identity(a + 0.0, 1.0)
    if index == 1:
        return _combine((1.0, 0.5), (a, a2), ident=1.0)
    if index == 2:
        out = a2 @ _combine((1 / 6, 1 / 24), (a, a2), ident=0.5)
        out += a
        return add_scaled_identity(out, 1.0)
    if index == 3:
        # with σ = scale, σ² = s2: A₄ = s2·(a2 @ t), and the factor s2 of the left
        # operand of A₈ is moved into the right one
        c, s2 = _T8, scale * scale
        a4 = a2 @ _combine((c["x1"] * scale, c["x2"] * s2), (a, a2))
        a8 = _combine((c["x3"], 1.0), (a2, a4)) @ _combine(
            (c["x5"] * scale * s2, c["x6"] * s2 * s2, c["x7"] * s2 * s2), (a, a2, a4),
            ident=c["x4"] * s2)
        a8 += scale * a if scale != 1.0 else a
        a8 += (c["y2"] * s2) * a2
        return add_scaled_identity(a8, 1.0)
    a3 = a2 @ a
    # The formulas of degree 12 and 18 build their constant term 1 from products
    # of coefficients (5.498… × 0.1819… for degree 12). Evaluated as written it
    # comes out as 1 + δ with the same δ ~ 1e-16 at every call, and a run of
    # multiplicative steps x ← x·T(Ω) drifts off the manifold linearly in the
    # number of steps (measured: ‖xᵀx − I‖ = 1e-12 after 2560 steps on SO(16),
    # against 5e-14 for a √k random walk). So the identity parts are
    # multiplied out by hand and the constant is put in as the exact 1.
    if index == 4:
        beta = [row[0] for row in _T12]
        c6 = beta[2] + beta[3] * beta[3]          # identity part of A₆ = B₂ + B₃²
        c7 = beta[1] + c6                          # identity part of B₁ + A₆
        powers = (a, a2, a3)
        p3 = _combine(_T12[3][1:], powers)
        a6 = p3 @ p3                               # A₆ − c6·I
        a6 += _combine([b2 + 2 * beta[3] * b3 for b2, b3 in zip(_T12[2][1:], _T12[3][1:])],
                       powers)
        m = _combine(_T12[1][1:], powers)
        m += a6                                    # B₁ + A₆ − c7·I
        out = m @ a6
        out += _combine([b0 + c6 * b1 for b0, b1 in zip(_T12[0][1:], _T12[1][1:])], powers)
        out += (c6 + c7) * a6
        return add_scaled_identity(out, 1.0)       # β₀ + c7·c6 = 1 exactly
    a6 = _matmul_square(a3, skew)  # a³ is skew when a is
    powers = (a, a2, a3, a6)
    beta = [row[0] for row in _T18]                # β₀ = β₄ = 0
    c = beta[2] + beta[3]                          # identity part of B₂ + A₉
    a9 = _combine(_T18[0][1:], powers) @ _combine(_T18[4][1:], powers)
    a9 += _combine(_T18[3][1:], powers)            # A₉ − β₃·I
    n = _combine(_T18[2][1:], powers)
    n += a9                                        # B₂ + A₉ − c·I
    out = n @ a9
    out += _combine([b1 + beta[3] * b2 for b1, b2 in zip(_T18[1][1:], _T18[2][1:])], powers)
    out += (c + beta[3]) * a9
    return add_scaled_identity(out, 1.0)           # β₁ + c·β₃ = 1 exactly


# NumPy evaluates a stack in slices of about this many bytes per array, so that the
# ~10 temporaries of a degree-12/18 evaluation stay in the CPU cache: for stacks of
# small matrices every elementwise pass is memory bound and costs about as much as
# a batched product when it streams from main memory.
_SLICE_BYTES = 1 << 18
_SMALL = 16


def _group(index, squarings, a, a2, skew, scale=1.0):
    """exp of a group sharing one degree and one number of squarings."""
    xp = get_namespace(a)
    count = a.shape[0] if a.ndim == 3 else 1
    per_matrix = a.shape[-1] * a.shape[-1] * a.itemsize if hasattr(a, "itemsize") else 0
    if is_numpy(xp) and count > 1 and count * per_matrix > 2 * _SLICE_BYTES:
        step = max(1, _SLICE_BYTES // per_matrix)
        return xp.concat([_group_slice(index, squarings, a[i:i + step, ...],
                                       a2[i:i + step, ...], skew, scale)
                          for i in range(0, count, step)], axis=0)
    return _group_slice(index, squarings, a, a2, skew, scale)


def _group_slice(index, squarings, a, a2, skew, scale=1.0):
    """exp(σa), σ = scale·2⁻ˢ: T_m(σa)^{2ˢ}, the factor σ folded into degree 8's coefficients."""
    sigma = scale * 0.5**squarings
    if index == 3:
        r = _evaluate(index, a, a2, skew, scale=sigma)
    else:
        if sigma != 1.0:
            a = sigma * a
            a2 = (sigma * sigma) * a2
        r = _evaluate(index, a, a2, skew)
    for _ in range(squarings):
        r = r @ r
    return r


def _norm_bounds(a, skew):
    """Per-matrix bound on ‖a‖ before a² is known (shape a.shape[:-2])."""
    if skew:  # normal: ‖a‖₂ ≤ min(‖a‖₁, ‖a‖_F); ‖a‖_F is one contiguous reduction
        return _fro(a)
    return _one_norm(a)


def expm_taylor(a, skew=False, scale=1.0):
    """exp(scale·a) by a norm-adaptive optimized Taylor polynomial, no solve.

    Parameters
    ----------
    a : array, shape (..., n, n), float32/float64/complex64/complex128
        One matrix or a stack; every matrix of a stack gets its own degree
        and number of squarings.
    skew : bool, default False
        Promise that ``a`` is skew-Hermitian (aᴴ = −a, e.g. from
        :func:`orthopt.linalg.skew`). Enables the normal-matrix norm bound and
        the symmetric products described in the module docstring. With
        ``skew=False`` any square matrix is accepted.
    scale : float, default 1
        Compute exp(scale·a). The factor is folded into the scaling (for the
        degree-8 formula into its coefficients), which saves a pass over the
        input: the retraction passes a = xᴴv − vᴴx with scale = ½.

    Returns
    -------
    array, shape (..., n, n), same dtype and device as ``a``
        exp(scale·a) with relative backward error ≤ u (the unit roundoff of the dtype).

    Notes
    -----
    Host syncs: one per distinct (degree, squarings) group, to slice the stack.
    """
    xp = get_namespace(a)
    if a.shape[-1] == 0:
        return a
    theta = _thresholds(xp, a.dtype)
    if a.ndim == 2:
        return _expm_single(a, skew, theta, scale)
    batch = tuple(a.shape[:-2])
    n = a.shape[-1]
    flat = xp.reshape(a, (-1, n, n))
    return xp.reshape(_expm_stack(flat, skew, theta, scale), batch + (n, n))


def _expm_single(a, skew, theta, scale):
    xp = get_namespace(a)
    bound = scale * float(_norm_bounds(a, skew))
    if bound <= theta[0]:
        return eye_like(a) + scale * a
    a2 = _matmul_square(a, skew)
    if skew:
        bound = min(bound, scale * math.sqrt(float(_fro(a2))))
    index, squarings = _select(bound, theta)
    return _group(max(index, 1), squarings, a, a2, skew, scale)


def _expm_stack(a, skew, theta, scale):
    """Stack (k, n, n): group by (degree, squarings), evaluate each group batched."""
    xp = get_namespace(a)
    count = a.shape[0]
    if count == 0:
        return a
    a2 = _matmul_square(a, skew)
    # normal a: ‖a‖₂ ≤ ‖a²‖_F^{1/2} ≤ ‖a‖_F, so the first bound is not needed
    bound = scale * (xp.sqrt(_fro(a2)) if skew else _one_norm(a))
    if not bool(xp.all(xp.isfinite(bound))):
        raise ValueError("expm: a matrix of the stack has inf or nan entries; check the input")
    last = len(theta) - 1
    index = xp.zeros(bound.shape, dtype=xp.int64, device=device_of(a))
    for t in theta[:last]:
        index = index + xp.astype(bound > t, xp.int64)
    ratio = xp.maximum(bound / theta[last], xp.ones_like(bound))
    squarings = xp.where(index == last,
                         xp.astype(xp.ceil(xp.log2(ratio)), xp.int64), xp.zeros_like(index))
    if a.shape[-1] <= _SMALL:
        # For stacks of small matrices a product costs about as much as a few
        # elementwise passes (both memory bound): degree 12 needs ~27 passes and
        # 4 products, degree 8 plus one squaring ~15 passes and 4 products.
        one_squaring = (bound > theta[3]) & (bound <= 2 * theta[3])
        index = xp.where(one_squaring, xp.full_like(index, 3), index)
        squarings = xp.where(one_squaring, xp.ones_like(squarings), squarings)
    key = index * 4096 + squarings
    first_key = int(key[0])
    if bool(xp.all(key == first_key)):  # the common case: one group, no reordering
        return _group(max(first_key // 4096, 1), first_key % 4096, a, a2, skew, scale)
    order = xp.argsort(key, stable=True)
    key = xp.take(key, order, axis=0)
    a = xp.take(a, order, axis=0)
    a2 = xp.take(a2, order, axis=0)
    parts, start = [], 0
    while start < count:
        k = int(key[start])
        stop = start + int(xp.sum(xp.astype(key == k, xp.int64)))
        parts.append(_group(max(k // 4096, 1), k % 4096, a[start:stop, ...],
                            a2[start:stop, ...], skew, scale))
        start = stop
    result = xp.concat(parts, axis=0)
    return xp.take(result, xp.argsort(order), axis=0)


# ---------------------------------------------------------------------------
# Skew-Hermitian generators: closed forms for n ≤ 3
# ---------------------------------------------------------------------------


def _sinc(xp, t):
    """sin(t)/t with the value 1 at t = 0 (t real, any shape; a NumPy scalar too)."""
    safe = xp.where(t == 0, xp.ones_like(t), t)
    return xp.where(t == 0, xp.ones_like(t), xp.sin(safe) / safe)


def _expm_2x2(a):
    """exp(a) = e^μ (cos β I + sinc β · (a − μI)), μ = tr(a)/2, β² = det(a − μI)."""
    xp = get_namespace(a)
    mu = (a[..., 0, 0] + a[..., 1, 1]) / 2
    b = a - mu[..., None, None] * eye_like(a)
    det = b[..., 0, 0] * b[..., 1, 1] - b[..., 0, 1] * b[..., 1, 0]
    det = xp.real(det) if is_complex_dtype(xp, a.dtype) else det
    beta = xp.sqrt(xp.maximum(det, xp.zeros_like(det)))  # ≥ 0 for skew-Hermitian a
    c = xp.astype(xp.cos(beta), a.dtype)
    s = xp.astype(_sinc(xp, beta), a.dtype)
    scale = xp.exp(mu) if is_complex_dtype(xp, a.dtype) else xp.ones_like(mu)
    return scale[..., None, None] * (c[..., None, None] * eye_like(a) + s[..., None, None] * b)


def expm_skew(a, scale=1.0):
    r"""exp(scale·a) of skew-Hermitian matrices: the exponential map of SO(n) and U(n) at I.

    Parameters
    ----------
    a : array, shape (..., n, n), skew-symmetric (real) or skew-Hermitian (complex)
        Exactly skew, as :func:`orthopt.linalg.skew` returns it.
    scale : float, default 1
        Compute exp(scale·a) (see :func:`expm_taylor`).

    Returns
    -------
    array, shape (..., n, n), same dtype and device
        An orthogonal (unitary) matrix to working precision.

    Notes
    -----
    n = 1: the scalar exponential; n = 2: the closed form of the module
    docstring; real n = 3: Rodrigues' formula; otherwise :func:`expm_taylor`
    with ``skew=True``. All routes are elementwise work or matrix products
    only, vectorized over the stack.
    """
    xp = get_namespace(a)
    n = a.shape[-1]
    closed_form = n <= 2 or (n == 3 and not is_complex_dtype(xp, a.dtype))
    if closed_form and scale != 1.0:
        a = scale * a
    if n == 1:
        return xp.exp(a)
    if n == 2:
        return _expm_2x2(a)
    if closed_form:
        return exp_so3(a)
    return expm_taylor(a, skew=True, scale=scale)
