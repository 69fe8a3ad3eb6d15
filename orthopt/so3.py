r"""Closed forms on SO(3): exp, Cayley and polar retractions of a generator.

Every Ω ∈ so(3) is a cross-product matrix Ω = [ω]× (Ωu = ω × u) with
ω = (Ω₂₁, Ω₀₂, Ω₁₀) and θ = ‖ω‖. Its powers close up:
Ω² = ωωᵀ − θ²I and Ω³ = −θ²Ω, so every analytic function of Ω — and every
retraction that is a function of Ω — is a combination of I, Ω and ωωᵀ with
scalar coefficients that depend on θ only:

========  ==========================================  ==========================
map       formula                                     reference
========  ==========================================  ==========================
exp       cos θ I + sinc θ · Ω + ½ sinc²(θ/2) · ωωᵀ   Rodrigues; the half-angle
                                                      form avoids the
                                                      cancellation in 1 − cos θ
Cayley    (I − Ω/2)⁻¹(I + Ω/2) =                      Cayley (1846)
          I + 4/(4 + θ²) · (Ω + ½Ω²)
polar     polar(I + Ω) = (I + Ω)(I − Ω²)^{-1/2} =     (I − Ω²) has eigenvalues
          (I + Ω)/s + ωωᵀ/(s(s + 1)),  s = √(1 + θ²)  1 (along ω), s² (across)
========  ==========================================  ==========================

With x ∈ SO(3) and v = xΩ tangent, the retraction is x·f(Ω): elementwise
work on the stack plus one batched 3×3 product, and no Python loop over the
points.

Tangent vectors in axis coordinates. v = x[ω]× ↔ ω ∈ R³ is an isometry up
to the factor 2 of the embedded metric, ⟨x[ω]×, x[ν]×⟩ = tr([ω]×ᵀ[ν]×) = 2 ω·ν,
and the projection of an ambient u onto T_x is x·skew(xᵀu), with axis
:func:`skew_axis` (xᵀu). The Riemannian Hessian of the embedded metric,
P_x(∇²f[v] − v sym(xᵀ∇f)) (Absil, Mahony & Trumpf 2013), needs one more
identity: for symmetric S, [ω]×S + S[ω]× = [(tr S·I − S)ω]×, so the axis of
skew([ω]×S) is ½(tr S·I − S)ω (:func:`weingarten_operator`).
"""

from __future__ import annotations

import numpy as np

from .backend import get_namespace

__all__ = ["axis_vector", "cross_matrix", "skew_axis", "weingarten_operator", "exp_so3",
           "cayley_so3", "polar_so3"]


def axis_vector(omega):
    """ω with Ω = [ω]×, shape (..., 3), from skew Ω of shape (..., 3, 3)."""
    xp = get_namespace(omega)
    return xp.stack([omega[..., 2, 1], omega[..., 0, 2], omega[..., 1, 0]], axis=-1)


def cross_matrix(w):
    """[ω]× (so that [ω]×u = ω × u), shape (..., 3, 3), from ω of shape (..., 3)."""
    if type(w) is np.ndarray:  # six strided writes: np.stack of stacks is ~10× slower here
        out = np.zeros(w.shape[:-1] + (9,), dtype=w.dtype)
        out[..., 7], out[..., 2], out[..., 3] = w[..., 0], w[..., 1], w[..., 2]
        out[..., 5], out[..., 6], out[..., 1] = -w[..., 0], -w[..., 1], -w[..., 2]
        return out.reshape(w.shape[:-1] + (3, 3))
    xp = get_namespace(w)
    zero = xp.zeros_like(w[..., 0])
    w0, w1, w2 = w[..., 0], w[..., 1], w[..., 2]
    rows = [xp.stack([zero, -w2, w1], axis=-1), xp.stack([w2, zero, -w0], axis=-1),
            xp.stack([-w1, w0, zero], axis=-1)]
    return xp.stack(rows, axis=-2)


def skew_axis(a):
    """The axis ω of skew(a) = ½(a − aᵀ) for real a of shape (..., 3, 3); shape (..., 3)."""
    if type(a) is np.ndarray:
        flat = a.reshape(a.shape[:-2] + (9,))
        out = np.empty(a.shape[:-2] + (3,), dtype=a.dtype)
        np.subtract(flat[..., 7], flat[..., 5], out=out[..., 0])
        np.subtract(flat[..., 2], flat[..., 6], out=out[..., 1])
        np.subtract(flat[..., 3], flat[..., 1], out=out[..., 2])
        out *= 0.5
        return out
    xp = get_namespace(a)
    return xp.stack([a[..., 2, 1] - a[..., 1, 2], a[..., 0, 2] - a[..., 2, 0],
                     a[..., 1, 0] - a[..., 0, 1]], axis=-1) / 2


def weingarten_operator(a):
    """½(tr S·I − S) with S = sym(a), shape (..., 3, 3): ω ↦ the axis of skew([ω]× S).

    Parameters
    ----------
    a : array, shape (..., 3, 3), real
        Typically xᵀ∇f(x); only its symmetric part S enters.

    Returns
    -------
    array, shape (..., 3, 3), symmetric
    """
    xp = get_namespace(a)
    s = (a + xp.matrix_transpose(a)) / 2
    trace = s[..., 0, 0] + s[..., 1, 1] + s[..., 2, 2]
    out = -s / 2
    flat = xp.reshape(out, tuple(out.shape[:-2]) + (9,))
    flat[..., ::4] = flat[..., ::4] + trace[..., None] / 2
    return xp.reshape(flat, out.shape)


def _sinc(xp, t):
    """sin(t)/t with the value 1 at t = 0 (t real, any shape; a NumPy scalar too)."""
    safe = xp.where(t == 0, xp.ones_like(t), t)
    return xp.where(t == 0, xp.ones_like(t), xp.sin(safe) / safe)


def _combine(xp, omega, w, c_ident, c_omega, c_outer):
    """c_ident I + c_omega Ω + c_outer ωωᵀ with per-matrix scalar coefficients.

    Built in one fresh array with the identity term added on the diagonal
    only: for stacks of 3×3 matrices the passes over the stack, not the
    arithmetic, are the cost.
    """
    out = (c_outer[..., None] * w)[..., :, None] * w[..., None, :]
    out += c_omega[..., None, None] * omega
    flat = xp.reshape(out, tuple(out.shape[:-2]) + (9,))
    flat[..., ::4] = flat[..., ::4] + c_ident[..., None]
    return xp.reshape(flat, out.shape)


def _theta(xp, w):
    return xp.sqrt(xp.sum(w * w, axis=-1))


def exp_so3(omega):
    """Rodrigues: exp(Ω) for real skew Ω, shape (..., 3, 3)."""
    xp = get_namespace(omega)
    w = axis_vector(omega)
    half = _theta(xp, w) / 2
    sinc_half = _sinc(xp, half)
    cos_half = xp.cos(half)
    # sinc θ = sinc(θ/2)·cos(θ/2) and cos θ = 1 − 2 sin²(θ/2): one sin, one cos
    sin_half = sinc_half * half
    return _combine(xp, omega, w, 1 - 2 * sin_half * sin_half, sinc_half * cos_half,
                    sinc_half * sinc_half / 2)


def cayley_so3(omega):
    """(I − Ω/2)⁻¹(I + Ω/2) = I + 4/(4 + θ²)(Ω + ½Ω²) for real skew Ω, shape (..., 3, 3)."""
    xp = get_namespace(omega)
    w = axis_vector(omega)
    theta2 = xp.sum(w * w, axis=-1)
    c = 4 / (4 + theta2)
    # Ω² = ωωᵀ − θ²I, so I + c(Ω + ½Ω²) = (1 − cθ²/2) I + cΩ + (c/2) ωωᵀ
    return _combine(xp, omega, w, 1 - c * theta2 / 2, c, c / 2)


def polar_so3(omega):
    """Polar factor of I + Ω: (I + Ω)/s + ωωᵀ/(s(s + 1)), s = √(1 + θ²); shape (..., 3, 3)."""
    xp = get_namespace(omega)
    w = axis_vector(omega)
    s = xp.sqrt(1 + xp.sum(w * w, axis=-1))
    inv_s = 1 / s
    return _combine(xp, omega, w, inv_s, inv_s, inv_s / (s + 1))
