r"""Maps from a flat (unconstrained) space onto orthogonal matrices, and their gradients.

A *trivialization* (Lezcano-Casado 2019) writes the orthogonal weight as a
smooth function W = φ(A) of a parameter A living in a vector space, here the
skew-symmetric (skew-Hermitian) matrices 𝔰𝔬(n) (𝔲(n)). Any optimizer for
flat spaces (RMSprop, Adam) then trains A, and W stays exactly orthogonal by
construction. Given the Euclidean gradient G = ∂L/∂W from BPTT, each
``*_gradient`` function returns ∂L/∂A: the gradient for the Frobenius inner
product restricted to skew matrices, i.e. the skew part of the Euclidean
gradient of A ↦ L(φ(A)). (The papers differentiate w.r.t. the free upper
triangle of A and get twice the off-diagonal entries; RMSprop and Adam are
invariant to that factor up to their ε.)

=========  ===========================  ==========================================
name       W = φ(A)                     reference
=========  ===========================  ==========================================
exprnn     exp(A)                       Lezcano-Casado & Martínez-Rubio 2019
dtriv      B·exp(A), B ← W every K      Lezcano-Casado 2019 (dynamic trivialization)
scornn     (I + A)⁻¹(I − A)D            Helfrich, Willmott & Ye 2018
vfield     exp(S + diag(d))             inspired by Azencot et al. 2021
=========  ===========================  ==========================================

Complex (unitary) weights work the same with skew-Hermitian A. Gradients
follow the convention ∂L/∂Re + i ∂L/∂Im.

Initializations (:func:`initial_skew`) follow the expRNN code: they give a
block-diagonal skew matrix with 2×2 blocks [[0, s], [−s, 0]], whose exponential
is a rotation by s in each plane.
"""

from __future__ import annotations

import math

import numpy as np

from ..backend import conj_transpose, eye_like, get_namespace
from ..linalg import expm, expm_frechet_adjoint, qr_positive, skew

__all__ = [
    "INITIALIZATIONS",
    "initial_skew",
    "exprnn_weight",
    "exprnn_gradient",
    "dtriv_weight",
    "dtriv_gradient",
    "dtriv_rebase",
    "scornn_weight",
    "scornn_gradient",
    "scornn_diagonal",
    "vfield_weight",
    "vfield_gradient",
]

INITIALIZATIONS = ("henaff", "cayley", "orthogonal", "identity")


# ---------------------------------------------------------------------------
# initializations (host side, NumPy)
# ---------------------------------------------------------------------------


def _block_skew(n, angles):
    """Skew matrix with angles[k] at (2k, 2k+1) and −angles[k] at (2k+1, 2k)."""
    a = np.zeros((n, n))
    k = np.arange(len(angles))
    a[2 * k, 2 * k + 1] = angles
    return a - a.T


def initial_skew(n, init="henaff", rng=None, field="real"):
    """A skew-symmetric (skew-Hermitian) matrix A₀ with W₀ = exp(A₀) the initial weight.

    Parameters
    ----------
    n : int
        Hidden size.
    init : {"henaff", "cayley", "orthogonal", "identity"}
        ``"henaff"`` (Henaff et al. 2016): 2×2 rotation blocks with angles
        s ~ U(−π, π); ``"cayley"`` (Helfrich et al. 2018): s = −√((1 − cos θ)/(1 + cos θ))
        with θ ~ U(0, π/2), which makes the Cayley transform of A have eigenvalues
        spread over the unit circle; ``"orthogonal"``: A₀ = log W with W Haar on SO(n)
        (U(n)); ``"identity"``: A₀ = 0, W₀ = I.
    rng : None, int or numpy.random.Generator
    field : {"real", "complex"}

    Returns
    -------
    numpy.ndarray, shape (n, n), float64 or complex128
    """
    if init not in INITIALIZATIONS:
        raise ValueError(f"unknown initialization {init!r}; use one of {INITIALIZATIONS}")
    if int(n) != n or n < 1:
        raise ValueError(f"hidden size must be a positive integer, got {n!r}")
    rng = np.random.default_rng(rng)
    half = n // 2
    if init == "identity":
        a = np.zeros((n, n))
    elif init == "henaff":
        a = _block_skew(n, rng.uniform(-math.pi, math.pi, size=half))
    elif init == "cayley":
        theta = rng.uniform(0.0, math.pi / 2, size=half)
        a = _block_skew(n, -np.sqrt((1 - np.cos(theta)) / (1 + np.cos(theta))))
    else:
        import scipy.linalg

        g = rng.standard_normal((n, n))
        if field == "complex":
            g = (g + 1j * rng.standard_normal((n, n))) / math.sqrt(2)
        q, _ = qr_positive(g)
        if field == "real" and np.linalg.det(q) < 0:
            q[:, 0] = -q[:, 0]  # SO(n): the exponential only reaches det = +1
        a = scipy.linalg.logm(q)
        a = a.real if field == "real" else a
        a = (a - a.conj().T) / 2
    return a.astype(np.complex128) if field == "complex" else a


# ---------------------------------------------------------------------------
# exprnn: W = exp(A)
# ---------------------------------------------------------------------------


def exprnn_weight(a):
    """W = exp(A), orthogonal (unitary) for skew A. Shape (n, n)."""
    return expm(a)


def exprnn_gradient(a, g):
    """∂L/∂A = skew(L*_A(G)) with L*_A the adjoint of the Fréchet derivative of exp at A.

    Parameters
    ----------
    a : array, shape (n, n), skew
    g : array, shape (n, n)
        Euclidean gradient ∂L/∂W.
    """
    return skew(expm_frechet_adjoint(a, g))


# ---------------------------------------------------------------------------
# dtriv: W = B exp(A), with the base B moved to W every K steps
# ---------------------------------------------------------------------------


def dtriv_weight(base, a):
    """W = B·exp(A) for an orthogonal base B and skew A."""
    return base @ expm(a)


def dtriv_gradient(base, a, g):
    """∂L/∂A = skew(L*_A(Bᴴ G)): W = B exp(A) is linear in exp(A)."""
    return skew(expm_frechet_adjoint(a, conj_transpose(base) @ g))


def dtriv_rebase(base, a):
    """Move the base to the current point: B ← qr(B exp(A)), A ← 0.

    The Q factor re-orthonormalizes B, so rounding errors of repeated products
    do not accumulate over many rebases (B exp(A) is orthogonal up to eps, the QR
    projects it back to eps without drifting).
    """
    xp = get_namespace(a)
    q, _ = qr_positive(base @ expm(a))
    return q, xp.zeros_like(a)


# ---------------------------------------------------------------------------
# scornn: W = (I + A)⁻¹ (I − A) D
# ---------------------------------------------------------------------------


def scornn_diagonal(n, rho, like=None):
    """The diagonal of D: ρ entries −1 (the last ρ), the others +1, shape (n,).

    D lets the Cayley transform reach orthogonal matrices with eigenvalue −1
    (Helfrich et al. 2018 treat ρ as a hyper-parameter).
    """
    if int(rho) != rho or not 0 <= rho <= n:
        raise ValueError(f"scornn needs 0 <= rho <= n = {n}, got rho={rho!r}")
    d = np.ones(n)
    d[n - int(rho):] = -1.0
    if like is None:
        return d
    xp = get_namespace(like)
    return xp.astype(xp.asarray(d, device=like.device), like.dtype)


def scornn_weight(a, d):
    """W = (I + A)⁻¹(I − A)·diag(d); ``d`` has entries ±1, shape (n,)."""
    xp = get_namespace(a)
    ident = eye_like(a)
    return xp.linalg.solve(ident + a, ident - a) * d[None, :]


def scornn_gradient(a, d, g, w=None):
    """Helfrich et al.'s gradient: with V = (I + A)⁻ᴴ G (D + Wᴴ), ∂L/∂A = skew(−V) = (Vᴴ − V)/2.

    Derivation: dW = −(I + A)⁻¹ dA (W + D) (using D² = I), so
    ⟨G, dW⟩ = ⟨−(I + A)⁻ᴴ G (W + D)ᴴ, dA⟩.

    Parameters
    ----------
    a : array, shape (n, n), skew
    d : array, shape (n,), entries ±1
    g : array, shape (n, n), ∂L/∂W
    w : array, shape (n, n), optional
        W = scornn_weight(a, d) if already computed.
    """
    xp = get_namespace(a)
    if w is None:
        w = scornn_weight(a, d)
    ident = eye_like(a)
    # (I + A)ᴴ = I − A for skew A
    v = xp.linalg.solve(conj_transpose(ident + a), g @ conj_transpose(w + _diag(xp, d, a)))
    return skew(-v)


def _diag(xp, d, like):
    return eye_like(like) * xp.astype(d, like.dtype)[None, :]


# ---------------------------------------------------------------------------
# vfield: W = exp(S + diag(d)), d = d_max · tanh(θ)
# ---------------------------------------------------------------------------


def vfield_weight(s, theta, d_max):
    """W = exp(S + diag(d)) with d = d_max·tanh(θ).

    Inspired by the vector-field view of orthogonal RNNs (Azencot et al. 2021):
    the skew part S generates a divergence-free (volume preserving) flow, the
    diagonal d its divergence. For d ≠ 0, W is **not** orthogonal: its singular
    values lie in [e^{−d_max}, e^{d_max}], so d_max bounds how much the hidden
    state may contract or expand per step. d = 0 recovers exprnn.

    Parameters
    ----------
    s : array, shape (n, n), skew
    theta : array, shape (n,), real
    d_max : float ≥ 0
    """
    xp = get_namespace(s)
    d = d_max * xp.tanh(theta)
    return expm(s + _diag(xp, d, s))


def vfield_gradient(s, theta, d_max, g):
    """(∂L/∂S, ∂L/∂θ) = (skew(Γ), d_max(1 − tanh²θ)·Re diag(Γ)), Γ = L*_{S+diag(d)}(G)."""
    xp = get_namespace(s)
    t = xp.tanh(theta)
    gamma = expm_frechet_adjoint(s + _diag(xp, d_max * t, s), g)
    diag = xp.real(xp.linalg.diagonal(gamma)) if xp.isdtype(gamma.dtype, "complex floating") \
        else xp.linalg.diagonal(gamma)
    return skew(gamma), d_max * (1 - t * t) * diag
