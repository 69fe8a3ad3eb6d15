r"""Textbook problems of optimization under orthogonality constraints, with known optima.

The one source of truth for ``tests/test_textbook.py`` and the benchmarks
(``benchmarks/textbook.py``, ``benchmarks/defaults.py``, ``benchmarks/solvers.py``).

Every problem is a function ``make(seed=0, **size) -> Instance``. An instance
carries

* ``cost(x)``: the cost written with ``autograd.numpy`` (autograd can
  differentiate it; it also accepts plain NumPy arrays),
* ``gradient(x)``, ``hessian(x, v)``: the Euclidean gradient ∇f(x) and
  Hessian-vector product ∇²f(x)[v] written by hand (None where not given;
  for complex x the convention of orthopt, ∂f/∂Re x + i ∂f/∂Im x),
* ``start(rng)``: a random start point on the manifold (Haar measure; on
  SO(n) det = +1, so that :func:`orthopt.minimize` infers SO(n)), and
  ``x0 = start(seed)``,
* ``optimum``: the minimum value from a closed form (an eigen- or singular
  value decomposition), ``minimizer``: a point that attains it.

Notation: St(n, p) = {X ∈ 𝔽^{n×p} : XᴴX = I_p}; SO(n) = St(n, n) ∩ {det = 1};
U(n) the complex St(n, n); λ↑ / λ↓ the eigenvalues in ascending / descending
order; σ the singular values.

=========================  =========  ===========================================
problem                    manifold   optimum
=========================  =========  ===========================================
dominant_subspace          St(n, p)   −Σ_{i≤p} λ↓_i(A)            (Ky Fan)
dominant_subspace_complex  ℂSt(n, p)  −Σ_{i≤p} λ↓_i(A), A Hermitian
rayleigh_quotient          St(n, 1)   λ↑_1(A)                     (the sphere)
brockett_stiefel           St(n, p)   Σ_i λ↑_i(A) N_ii, N_11 > … > N_pp > 0
brockett_so                SO(n)      Σ_i λ↑_i(A) N_ii             (n = p)
procrustes_so              SO(n)      SVD of AᵀB with det correction (Kabsch)
procrustes_stiefel         St(n, p)   polar factor of AᵀB (AᵀA = s²I)
procrustes_unitary         U(n)       polar factor of AᴴB (complex)
generalized_eigenvalues    St(n, p)   Σ_{i≤p} λ↑_i(A, B), X = B^{-1/2}Y
pca                        St(n, p)   −Σ_{i≤p} σ_i(D)²/(m − 1)
wahba                      SO(3)      SVD of Σ w_i b_i r_iᵀ with det correction
rotation_averaging         SO(3)      chordal mean: SO(3) projection of Σ R_i
joint_diagonalization      SO(n)      0 (the C_k commute)
=========================  =========  ===========================================

Not here: the Thomson problem and the max-cut SDP relaxation (Burer–Monteiro)
need a product of spheres / the oblique manifold, which orthopt does not have.

References: Absil, Mahony & Sepulchre (2008), Optimization Algorithms on
Matrix Manifolds, §4.6 (Rayleigh quotient, Brockett), Edelman, Arias & Smith
(1998) SIAM J. Matrix Anal. Appl. 20(2); Schönemann (1966), Psychometrika 31
(Procrustes); Kabsch (1976), Acta Cryst. A32; Wahba (1965), SIAM Rev. 7;
Hartley et al. (2013), IJCV 103 (rotation averaging); Cardoso & Souloumiac
(1996), SIAM J. Matrix Anal. Appl. 17(1) (joint diagonalization).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import autograd.numpy as anp
import numpy as np
import scipy.linalg

__all__ = ["Instance", "PROBLEMS", "SIZES", "make", "random_stiefel", "random_rotation"]


@dataclass
class Instance:
    """One textbook problem at one size and seed.

    Attributes
    ----------
    name : str
    manifold : {"stiefel", "stiefel-complex", "so", "unitary"}
    n, p : int
        Points are n×p matrices.
    cost : callable
        ``cost(x) -> float``, written with autograd.numpy.
    start : callable
        ``start(rng) -> x``, a random point on the manifold (rng: seed or Generator).
    x0 : array, shape (n, p)
        ``start(seed)``.
    optimum : float
        The minimum of ``cost`` over the manifold.
    minimizer : array, shape (n, p)
        A point where ``cost`` equals ``optimum``.
    gradient, hessian : callable or None
        Hand-written ∇f(x) and ∇²f(x)[v].
    """

    name: str
    manifold: str
    n: int
    p: int
    cost: Callable
    start: Callable
    x0: np.ndarray
    optimum: float
    minimizer: np.ndarray
    gradient: Callable | None = None
    hessian: Callable | None = None
    params: dict = field(default_factory=dict)

    @property
    def is_complex(self):
        return self.manifold in ("stiefel-complex", "unitary")

    def cost_and_gradient(self, x):
        """(f(x), ∇f(x)) from the hand-written functions."""
        return float(self.cost(x)), self.gradient(x)

    def orthopt_manifold(self, retraction=None):
        """The orthopt manifold of the instance."""
        from orthopt.manifolds import SpecialOrthogonal, Stiefel, Unitary

        kwargs = {} if retraction is None else {"retraction": retraction}
        if self.manifold == "stiefel":
            return Stiefel(self.n, self.p, **kwargs)
        if self.manifold == "stiefel-complex":
            return Stiefel(self.n, self.p, field="complex", **kwargs)
        if self.manifold == "so":
            return SpecialOrthogonal(self.n, **kwargs)
        return Unitary(self.n, **kwargs)

    def relative_error(self, value):
        """(f − f*)/|f*|, or f − f* when f* = 0."""
        scale = abs(self.optimum) if self.optimum != 0 else 1.0
        return (float(value) - self.optimum) / scale


# -- random points ----------------------------------------------------------------------


def _rng(rng):
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


def random_stiefel(n, p, rng, complex_=False):
    """Haar-random point of St(n, p) (sign-fixed QR of a Gaussian matrix, Mezzadri 2007)."""
    rng = _rng(rng)
    g = rng.standard_normal((n, p))
    if complex_:
        g = g + 1j * rng.standard_normal((n, p))
    q, r = np.linalg.qr(g)
    d = np.diagonal(r)
    return q * (d / np.abs(d))


def random_rotation(n, rng):
    """Haar-random point of SO(n)."""
    q = random_stiefel(n, n, rng)
    if np.linalg.det(q) < 0:
        q[:, 0] = -q[:, 0]
    return q


def _starter(n, p, kind):
    if kind == "so":
        return lambda rng: random_rotation(n, rng)
    return lambda rng: random_stiefel(n, p, rng, complex_=kind in ("stiefel-complex", "unitary"))


def _symmetric(n, rng):
    g = rng.standard_normal((n, n))
    return (g + g.T) / 2


def _instance(name, kind, n, p, seed, cost, optimum, minimizer, gradient=None, hessian=None,
              **params):
    start = _starter(n, p, kind)
    # the start point has its own stream: the same seed, the same data, any start
    x0 = start(np.random.default_rng([seed, 1]))
    return Instance(name=name, manifold=kind, n=n, p=p, cost=cost, start=start, x0=x0,
                    optimum=float(optimum), minimizer=minimizer, gradient=gradient,
                    hessian=hessian, params=dict(seed=seed, **params))


# -- eigenvalue problems ----------------------------------------------------------------


def dominant_subspace(seed=0, n=40, p=4):
    """min −tr(XᵀAX) on St(n, p), A symmetric: the span of the top p eigenvectors."""
    rng = np.random.default_rng(seed)
    a = _symmetric(n, rng)
    w, v = np.linalg.eigh(a)

    def cost(x):
        return -anp.sum(x * anp.dot(a, x))

    return _instance("dominant_subspace", "stiefel", n, p, seed, cost, -np.sum(w[-p:]),
                     v[:, ::-1][:, :p], gradient=lambda x: -2.0 * (a @ x),
                     hessian=lambda x, u: -2.0 * (a @ u))


def dominant_subspace_complex(seed=0, n=30, p=3):
    """min −Re tr(XᴴAX) on the complex St(n, p), A Hermitian."""
    rng = np.random.default_rng(seed)
    g = rng.standard_normal((n, n)) + 1j * rng.standard_normal((n, n))
    a = (g + g.conj().T) / 2
    w, v = np.linalg.eigh(a)

    def cost(x):
        return -anp.real(anp.sum(anp.conj(x) * anp.dot(a, x)))

    return _instance("dominant_subspace_complex", "stiefel-complex", n, p, seed, cost,
                     -np.sum(w[-p:]), v[:, ::-1][:, :p], gradient=lambda x: -2.0 * (a @ x),
                     hessian=lambda x, u: -2.0 * (a @ u))


def rayleigh_quotient(seed=0, n=50):
    """min xᵀAx on the sphere St(n, 1): the smallest eigenvalue."""
    rng = np.random.default_rng(seed)
    a = _symmetric(n, rng)
    w, v = np.linalg.eigh(a)

    def cost(x):
        return anp.sum(x * anp.dot(a, x))

    return _instance("rayleigh_quotient", "stiefel", n, 1, seed, cost, w[0], v[:, :1],
                     gradient=lambda x: 2.0 * (a @ x), hessian=lambda x, u: 2.0 * (a @ u))


def _brockett(name, kind, seed, n, p):
    rng = np.random.default_rng(seed)
    a = _symmetric(n, rng)
    weights = np.arange(p, 0, -1.0)  # N = diag(p, ..., 1)
    w, v = np.linalg.eigh(a)
    minimizer = v[:, :p].copy()
    if kind == "so" and np.linalg.det(minimizer) < 0:
        minimizer[:, -1] = -minimizer[:, -1]  # the cost does not see column signs

    def cost(x):
        return anp.sum(x * anp.dot(a, x) * weights)

    return _instance(name, kind, n, p, seed, cost, np.sum(w[:p] * weights), minimizer,
                     gradient=lambda x: 2.0 * (a @ x) * weights,
                     hessian=lambda x, u: 2.0 * (a @ u) * weights, a=a, weights=weights)


def brockett_stiefel(seed=0, n=40, p=5):
    """min tr(XᵀAXN) on St(n, p), N = diag(p, …, 1): the p smallest eigenvectors, in order."""
    return _brockett("brockett_stiefel", "stiefel", seed, n, p)


def brockett_so(seed=0, n=12):
    """min tr(XᵀAXN) on SO(n), N = diag(n, …, 1): the eigenvector basis, sorted."""
    return _brockett("brockett_so", "so", seed, n, n)


def generalized_eigenvalues(seed=0, n=30, p=3):
    """min tr(XᵀAX) s.t. XᵀBX = I, as min tr(YᵀSASY) on St(n, p) with X = SY, S = B^{-1/2}."""
    rng = np.random.default_rng(seed)
    a = _symmetric(n, rng)
    g = rng.standard_normal((n, 2 * n))
    b = g @ g.T / (2 * n) + 0.5 * np.eye(n)  # SPD, condition number about 10
    wb, vb = np.linalg.eigh(b)
    s = (vb / np.sqrt(wb)) @ vb.T
    w, v = scipy.linalg.eigh(a, b)  # the optimum does not go through S
    sas = s @ a @ s

    def cost(y):
        x = anp.dot(s, y)
        return anp.sum(x * anp.dot(a, x))

    # the minimizer in Y: Y = S⁻¹X = B^{1/2}X for B-orthonormal generalized eigenvectors X
    b_half = (vb * np.sqrt(wb)) @ vb.T
    return _instance("generalized_eigenvalues", "stiefel", n, p, seed, cost, np.sum(w[:p]),
                     b_half @ v[:, :p], gradient=lambda y: 2.0 * (sas @ y),
                     hessian=lambda y, u: 2.0 * (sas @ u))


def pca(seed=0, m=200, n=20, p=3):
    """max variance: min −‖D_c X‖²/(m − 1) on St(n, p), D_c the centered m×n data."""
    rng = np.random.default_rng(seed)
    scales = np.geomspace(3.0, 0.3, n)
    mixing = random_rotation(n, rng)
    data = (rng.standard_normal((m, n)) * scales) @ mixing.T + rng.standard_normal(n)
    dc = data - data.mean(axis=0)
    _, sv, vt = np.linalg.svd(dc, full_matrices=False)
    c = 1.0 / (m - 1)

    def cost(x):
        return -c * anp.sum(anp.dot(dc, x) ** 2)

    return _instance("pca", "stiefel", n, p, seed, cost, -c * np.sum(sv[:p] ** 2), vt[:p].T,
                     gradient=lambda x: -2.0 * c * (dc.T @ (dc @ x)),
                     hessian=lambda x, u: -2.0 * c * (dc.T @ (dc @ u)), m=m)


# -- Procrustes problems ------------------------------------------------------------------


def procrustes_so(seed=0, n=10, m=30):
    """min ‖AX − B‖² on SO(n), A m×n: X* = U diag(1, …, 1, det UVᵀ) Vᵀ from AᵀB = UΣVᵀ.

    tr(XᵀAᵀAX) = tr(AᵀA) on O(n), so only −2tr(XᵀAᵀB) matters (Kabsch 1976).
    The data are drawn so that the O(n) optimum has det −1 half of the time:
    the det correction matters.
    """
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((m, n))
    q = random_stiefel(n, n, rng)  # in O(n): det ±1
    b = a @ q + 0.5 * rng.standard_normal((m, n))
    u, _, vt = np.linalg.svd(a.T @ b)
    d = np.ones(n)
    d[-1] = np.sign(np.linalg.det(u @ vt))
    minimizer = (u * d) @ vt
    ata, atb = a.T @ a, a.T @ b

    def cost(x):
        return anp.sum((anp.dot(a, x) - b) ** 2)

    return _instance("procrustes_so", "so", n, n, seed, cost, cost(minimizer), minimizer,
                     gradient=lambda x: 2.0 * (ata @ x - atb),
                     hessian=lambda x, u_: 2.0 * (ata @ u_), m=m)


def procrustes_stiefel(seed=0, n=30, p=4, m=40):
    """min ‖AX − B‖² on St(n, p) with AᵀA = s²I (A m×n): X* = polar(AᵀB) = UVᵀ.

    With AᵀA = s²I, ‖AX − B‖² = s²p − 2tr(XᵀAᵀB) + ‖B‖², maximized by the
    polar factor (Schönemann 1966); a general A has no closed form.
    """
    rng = np.random.default_rng(seed)
    a = 2.0 * random_stiefel(m, n, rng)
    b = a @ random_stiefel(n, p, rng) + 0.3 * rng.standard_normal((m, p))
    u, _, vt = np.linalg.svd(a.T @ b, full_matrices=False)
    minimizer = u @ vt
    ata, atb = a.T @ a, a.T @ b

    def cost(x):
        return anp.sum((anp.dot(a, x) - b) ** 2)

    return _instance("procrustes_stiefel", "stiefel", n, p, seed, cost, cost(minimizer),
                     minimizer, gradient=lambda x: 2.0 * (ata @ x - atb),
                     hessian=lambda x, u_: 2.0 * (ata @ u_), m=m)


def procrustes_unitary(seed=0, n=8, m=20):
    """min ‖AX − B‖² on U(n), complex A (m×n), B: X* = UVᴴ from AᴴB = UΣVᴴ."""
    rng = np.random.default_rng(seed)

    def gaussian(*shape):
        return rng.standard_normal(shape) + 1j * rng.standard_normal(shape)

    a = gaussian(m, n)
    b = a @ random_stiefel(n, n, rng, complex_=True) + 0.5 * gaussian(m, n)
    u, _, vh = np.linalg.svd(a.conj().T @ b)
    minimizer = u @ vh
    aha, ahb = a.conj().T @ a, a.conj().T @ b

    def cost(x):
        r = anp.dot(a, x) - b
        return anp.sum(anp.real(r) ** 2 + anp.imag(r) ** 2)

    return _instance("procrustes_unitary", "unitary", n, n, seed, cost, cost(minimizer),
                     minimizer, gradient=lambda x: 2.0 * (aha @ x - ahb),
                     hessian=lambda x, u_: 2.0 * (aha @ u_), m=m)


# -- rotations ----------------------------------------------------------------------------


def _project_so(m):
    """The nearest rotation to m in the Frobenius norm (SVD with det correction)."""
    u, _, vt = np.linalg.svd(m)
    d = np.ones(m.shape[0])
    d[-1] = np.sign(np.linalg.det(u @ vt))
    return (u * d) @ vt


def wahba(seed=0, k=20):
    """Wahba's problem: min ½Σ w_i ‖b_i − X r_i‖² on SO(3); X* from Σ w_i b_i r_iᵀ (Markley 1988)."""
    rng = np.random.default_rng(seed)
    r = rng.standard_normal((k, 3))
    r /= np.linalg.norm(r, axis=1, keepdims=True)
    truth = random_rotation(3, rng)
    b = r @ truth.T + 0.1 * rng.standard_normal((k, 3))
    b /= np.linalg.norm(b, axis=1, keepdims=True)
    w = rng.uniform(0.5, 1.5, k)
    minimizer = _project_so((b * w[:, None]).T @ r)

    def cost(x):
        return 0.5 * anp.sum(w[:, None] * (b - anp.dot(r, x.T)) ** 2)

    def gradient(x):
        return -((w[:, None] * (b - r @ x.T)).T @ r)

    def hessian(x, u):
        return (w[:, None] * (r @ u.T)).T @ r

    return _instance("wahba", "so", 3, 3, seed, cost, cost(minimizer), minimizer,
                     gradient=gradient, hessian=hessian, k=k)


def rotation_averaging(seed=0, k=10):
    """Chordal L2 mean of rotations: min Σ ‖X − R_i‖² on SO(3); X* = projection of Σ R_i."""
    rng = np.random.default_rng(seed)
    center = random_rotation(3, rng)
    rotations = []
    for _ in range(k):
        s = 0.4 * rng.standard_normal((3, 3))
        rotations.append(center @ scipy.linalg.expm(s - s.T))
    rotations = np.array(rotations)
    total = rotations.sum(axis=0)
    minimizer = _project_so(total)

    def cost(x):
        return anp.sum((x[None] - rotations) ** 2)

    return _instance("rotation_averaging", "so", 3, 3, seed, cost, cost(minimizer), minimizer,
                     gradient=lambda x: 2.0 * (k * x - total), hessian=lambda x, u: 2.0 * k * u,
                     k=k)


def joint_diagonalization(seed=0, n=8, k=4):
    """min Σ_k ‖off(XᵀC_kX)‖² on SO(n), C_k = QD_kQᵀ: exactly diagonalizable, optimum 0.

    off(M) = M − diag(M). ∇f = 4 Σ_k C_k X off(XᵀC_kX) (C_k symmetric).
    """
    rng = np.random.default_rng(seed)
    q = random_rotation(n, rng)
    diagonals = rng.standard_normal((k, n))
    c = np.einsum("ij,kj,lj->kil", q, diagonals, q)  # C_k = Q diag(d_k) Qᵀ
    mask = 1.0 - np.eye(n)

    def cost(x):
        m = anp.einsum("ji,kjl,lm->kim", x, c, x)
        return anp.sum((m * mask) ** 2)

    def gradient(x):
        cx = c @ x
        off = np.einsum("ji,kjm->kim", x, cx) * mask
        return 4.0 * np.sum(cx @ off, axis=0)

    return _instance("joint_diagonalization", "so", n, n, seed, cost, 0.0, q,
                     gradient=gradient, k=k)


#: name → problem constructor
PROBLEMS = {f.__name__: f for f in (
    dominant_subspace, dominant_subspace_complex, rayleigh_quotient, brockett_stiefel,
    brockett_so, procrustes_so, procrustes_stiefel, procrustes_unitary,
    generalized_eigenvalues, pca, wahba, rotation_averaging, joint_diagonalization,
)}

#: sizes: "small" for the default test run, "large" for the slow tests and benchmarks
SIZES = {
    "small": {},
    "large": {
        "dominant_subspace": dict(n=300, p=10),
        "dominant_subspace_complex": dict(n=200, p=5),
        "rayleigh_quotient": dict(n=500),
        "brockett_stiefel": dict(n=300, p=8),
        "brockett_so": dict(n=40),
        "procrustes_so": dict(n=60, m=120),
        "procrustes_stiefel": dict(n=200, p=10, m=250),
        "procrustes_unitary": dict(n=40, m=80),
        "generalized_eigenvalues": dict(n=200, p=5),
        "pca": dict(m=2000, n=100, p=5),
        "wahba": dict(k=500),
        "rotation_averaging": dict(k=200),
        "joint_diagonalization": dict(n=20, k=6),
    },
}


def make(name, seed=0, size="small"):
    """The instance of problem ``name`` at ``size`` ("small" or "large") and ``seed``."""
    return PROBLEMS[name](seed=seed, **SIZES[size].get(name, {}))
