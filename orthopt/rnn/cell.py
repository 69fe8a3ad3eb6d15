r"""A recurrent cell with orthogonal (unitary) recurrence and hand-written BPTT.

The model, for an input sequence x₁, …, x_T (batch of B sequences)::

    z_t = W h_{t−1} + V x_t + b          (pre-activation, h₀ = 0)
    h_t = σ(z_t)                          (hidden state, n numbers)
    y_t = Re(U h_t) + c                   (output, at every step or only at t = T)

W is n×n: real (later kept orthogonal) or complex (kept unitary, the hidden
state is then complex). σ is one of

* ``"modrelu"`` (default, Arjovsky et al. 2016): σ(z) = z/|z| · relu(|z| + β)
  with a learned real bias β ∈ ℝⁿ; on real z this is sign(z)·relu(|z| + β);
  on complex z it acts on the modulus and keeps the phase;
* ``"tanh"`` and ``"relu"`` (real W only).

Storage is batch-major: a hidden state is a row h ∈ 𝔽^{B×n}, so a step is the
product ``h @ Wᵀ``. Everything that does not depend on the recurrence (V x_t
for all t, the outputs for all t, and the weight gradients) is one big matrix
product over the T·B rows; only the recurrence itself loops over time: one
GEMM forward and one GEMM backward per step. The states H (T + 1, B, n) and
pre-activations Z (T, B, n) are stored, O(T·B·n) memory.

Gradients
---------
For a real loss L of complex weights the gradient is ∂L/∂Re W + i ∂L/∂Im W
(for real weights: the ordinary gradient). With that convention the chain
rule through a linear map z = W h reads ∂L/∂W = δ hᴴ and ∂L/∂h = Wᴴ δ, with
δ = ∂L/∂z, so back-propagation through time (BPTT) gives::

    G = ∂L/∂W = Σ_t δ_t h_{t−1}ᴴ,   ∂L/∂V = Σ_t δ_t x_tᵀ,   ∂L/∂b = Σ_t δ_t.

G is the Euclidean gradient handed to the orthogonal training methods
(:mod:`orthopt.rnn.parametrizations`, :mod:`orthopt.rnn.methods`).

modReLU backward: with r = |z|, u = z/r, m = relu(r + β), m' = 1[r + β > 0]
and an upstream gradient g, split g into its radial part g_r = Re(ḡ u) u and
the rest::

    ∂L/∂z = m' g_r + (m/r)(g − g_r),     ∂L/∂β = Σ m' Re(ḡ u).

(For real z, g − g_r = 0 and this is m'·g.)
"""

from __future__ import annotations

import math

import numpy as np

from ..backend import (
    conj_transpose,
    default_rng,
    device_of,
    get_namespace,
    is_complex_dtype,
    real_dtype_of,
)

__all__ = ["NONLINEARITIES", "OUTPUT_MODES", "init_params", "forward", "backward", "check_params"]

NONLINEARITIES = ("modrelu", "tanh", "relu")
OUTPUT_MODES = ("all", "last")


def _check_choice(name, value, choices):
    if value not in choices:
        raise ValueError(f"unknown {name} {value!r}; use one of {', '.join(map(repr, choices))}")


def init_params(input_size, hidden_size, output_size, *, field="real", nonlinearity="modrelu",
                rng=None, dtype=np.float64, like=None):
    """Initial non-recurrent weights of the cell (W comes from the training method).

    Follows expRNN: V ~ He-normal (std √(2/input_size)), modReLU bias β ~ U(−0.01, 0.01),
    b = 0, output layer U, c ~ U(−1/√n, 1/√n) (PyTorch's ``nn.Linear`` default).

    Parameters
    ----------
    input_size, hidden_size, output_size : int
        d, n and the number of outputs; each ≥ 1.
    field : {"real", "complex"}
        Complex makes V, b, U complex (the hidden state lives in ℂⁿ).
    nonlinearity : {"modrelu", "tanh", "relu"}
    rng : None, int or numpy.random.Generator
    dtype : real dtype, float32 or float64
        The real dtype; complex weights get the matching complex dtype.
    like : array, optional
        Template array: the weights are created in its namespace and on its device.

    Returns
    -------
    dict of str -> array
        ``"V"`` (n, d), ``"b"`` (n,), ``"U"`` (out, n), ``"c"`` (out,) and, for modReLU,
        ``"b_mod"`` (n,) real.
    """
    for name, value in (("input_size", input_size), ("hidden_size", hidden_size),
                        ("output_size", output_size)):
        if int(value) != value or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    _check_choice("field", field, ("real", "complex"))
    _check_choice("nonlinearity", nonlinearity, NONLINEARITIES)
    if field == "complex" and nonlinearity != "modrelu":
        raise ValueError(f"a complex (unitary) cell needs nonlinearity='modrelu', got {nonlinearity!r}")
    rng = default_rng(rng)
    real = np.dtype(dtype)
    cdtype = np.result_type(real, np.complex64) if field == "complex" else real
    n, d, o = int(hidden_size), int(input_size), int(output_size)

    def draw(shape, scale):
        a = rng.standard_normal(shape) * scale
        if field == "complex":
            a = (a + 1j * rng.standard_normal(shape) * scale) / math.sqrt(2)
        return a

    bound = 1.0 / math.sqrt(n)
    host = {
        "V": draw((n, d), math.sqrt(2.0 / d)).astype(cdtype),
        "b": np.zeros(n, dtype=cdtype),
        "U": (draw((o, n), 1.0) * bound).astype(cdtype),
        "c": rng.uniform(-bound, bound, size=o).astype(real),
    }
    if nonlinearity == "modrelu":
        host["b_mod"] = rng.uniform(-0.01, 0.01, size=n).astype(real)
    return {k: _to_like(v, like) for k, v in host.items()}


def _to_like(a, like):
    if like is None:
        return np.asarray(a)
    xp = get_namespace(like)
    return xp.asarray(a, device=device_of(like))


def check_params(params, x, nonlinearity="modrelu", output="all"):
    """Validate weights and input shapes; raise ValueError saying what to fix."""
    _check_choice("nonlinearity", nonlinearity, NONLINEARITIES)
    _check_choice("output", output, OUTPUT_MODES)
    missing = {"W", "V", "b", "U", "c"} - set(params)
    if nonlinearity == "modrelu":
        missing |= {"b_mod"} - set(params)
    if missing:
        raise ValueError(f"params lacks {sorted(missing)}; build them with init_params and add 'W'")
    W, V = params["W"], params["V"]
    n = W.shape[-1]
    if W.ndim != 2 or W.shape[0] != n:
        raise ValueError(f"W must be square (n, n), got shape {tuple(W.shape)}")
    if x.ndim != 3:
        raise ValueError(f"x must have shape (T, B, input_size) (time-major), got {tuple(x.shape)}; "
                         "add an axis with x[..., None] for scalar inputs")
    if tuple(V.shape) != (n, x.shape[2]):
        raise ValueError(f"V has shape {tuple(V.shape)} but the cell needs ({n}, {x.shape[2]}) "
                         f"for hidden size {n} and inputs of size {x.shape[2]}")
    if params["U"].shape[-1] != n:
        raise ValueError(f"U must have shape (output_size, {n}), got {tuple(params['U'].shape)}")


# ---------------------------------------------------------------------------
# nonlinearities
# ---------------------------------------------------------------------------


def _modrelu_parts(xp, z, b_mod):
    """r = |z|, u = z/|z| (0 where z = 0) and the biased magnitude r + β."""
    r = xp.abs(z)
    safe = xp.where(r == 0, xp.ones_like(r), r)
    u = z / xp.astype(safe, z.dtype)
    u = xp.where(r == 0, xp.zeros_like(u), u)
    return r, u, r + b_mod


def _activate(xp, z, nonlinearity, b_mod):
    if nonlinearity == "tanh":
        return xp.tanh(z)
    if nonlinearity == "relu":
        return xp.maximum(z, 0)
    if not is_complex_dtype(xp, z.dtype):
        # sign(z)·relu(|z| + β): four cheap element-wise passes on the hot path
        return xp.sign(z) * xp.maximum(xp.abs(z) + b_mod, 0)
    _, u, biased = _modrelu_parts(xp, z, b_mod)
    return u * xp.astype(xp.maximum(biased, 0), z.dtype)


def _activate_backward(xp, z, h, g, nonlinearity, b_mod):
    """∂L/∂z from g = ∂L/∂h.

    For complex modReLU also the per-sample bias gradient m'·Re(ḡu), shape (B, n);
    for real modReLU that is δ·sign(h), summed once after the loop.
    """
    if nonlinearity == "tanh":
        return g * (1 - h * h), None
    if not is_complex_dtype(xp, z.dtype):
        # relu and real modReLU: the derivative is 1 exactly where the output is nonzero
        return xp.where(h != 0, g, 0.0), None
    r, u, biased = _modrelu_parts(xp, z, b_mod)
    active = biased > 0
    g_along_u = xp.real(xp.conj(g) * u)            # Re(ḡ u)
    radial = xp.astype(g_along_u, z.dtype) * u
    safe = xp.where(r == 0, xp.ones_like(r), r)
    ratio = xp.where(active, biased / safe, xp.zeros_like(r))
    dz = xp.where(active, radial, xp.zeros_like(radial)) + xp.astype(ratio, z.dtype) * (g - radial)
    dz = xp.where(r == 0, xp.zeros_like(dz), dz)
    return dz, xp.where(active, g_along_u, xp.zeros_like(g_along_u))


# ---------------------------------------------------------------------------
# forward and backward
# ---------------------------------------------------------------------------


def forward(params, x, nonlinearity="modrelu", output="all"):
    """Run the cell over a batch of sequences.

    Parameters
    ----------
    params : dict of str -> array
        ``"W"`` (n, n), ``"V"`` (n, d), ``"b"`` (n,), ``"U"`` (out, n), ``"c"`` (out,),
        and ``"b_mod"`` (n,) real for modReLU. Complex W, V, b, U give a complex state.
    x : array, shape (T, B, d), real
        Time-major inputs.
    nonlinearity : {"modrelu", "tanh", "relu"}
    output : {"all", "last"}
        Outputs y_t for every t, or only y_T.

    Returns
    -------
    y : array, real, shape (T, B, out) for ``output="all"``, (B, out) for ``"last"``
    cache : dict
        What :func:`backward` needs: the states H (T + 1, B, n) with H[0] = h₀ = 0, the
        pre-activations Z (T, B, n), the inputs and the options.
    """
    check_params(params, x, nonlinearity, output)
    xp = get_namespace(x, params["W"])
    W, V, b, U, c = (params[k] for k in ("W", "V", "b", "U", "c"))
    b_mod = params.get("b_mod")
    T, B, d = x.shape
    n = W.shape[0]
    dtype = W.dtype
    xs = xp.astype(x, dtype) if x.dtype != dtype else x
    # V x_t + b for all t in one product; the loop then adds W h_{t-1}.
    Z = xp.reshape(xp.reshape(xs, (T * B, d)) @ xp.matrix_transpose(V), (T, B, n)) + b
    H = xp.zeros((T + 1, B, n), dtype=dtype, device=device_of(x))
    Wt = xp.matrix_transpose(W)
    for t in range(T):
        z = Z[t, ...] + H[t, ...] @ Wt
        Z[t, ...] = z
        H[t + 1, ...] = _activate(xp, z, nonlinearity, b_mod)
    Ut = xp.matrix_transpose(U)
    if output == "all":
        y = xp.reshape(xp.reshape(H[1:, ...], (T * B, n)) @ Ut, (T, B, U.shape[0]))
    else:
        y = H[T, ...] @ Ut
    if is_complex_dtype(xp, dtype):
        y = xp.real(y)
    y = y + c
    cache = {"H": H, "Z": Z, "x": xs, "nonlinearity": nonlinearity, "output": output}
    return y, cache


def backward(params, cache, grad_y):
    """Back-propagation through time: gradients of every weight.

    Parameters
    ----------
    params : dict of str -> array
        The weights passed to :func:`forward`.
    cache : dict
        Returned by :func:`forward`.
    grad_y : array, real, shape of ``y``
        ∂L/∂y from the loss.

    Returns
    -------
    dict of str -> array
        ``"W"``: G = Σ_t δ_t h_{t−1}ᴴ, shape (n, n); ``"V"``, ``"b"``, ``"U"``, ``"c"``
        and ``"b_mod"``: gradients of the same shapes and dtypes as the weights
        (complex gradients as ∂L/∂Re + i ∂L/∂Im).
    """
    xp = get_namespace(grad_y, params["W"])
    H, Z, xs = cache["H"], cache["Z"], cache["x"]
    nonlinearity, output = cache["nonlinearity"], cache["output"]
    W, U = params["W"], params["U"]
    b_mod = params.get("b_mod")
    T, B, n = Z.shape
    d = xs.shape[2]
    o = U.shape[0]
    dtype = W.dtype
    complex_state = is_complex_dtype(xp, dtype)
    gy = xp.astype(grad_y, dtype) if complex_state else grad_y
    Uc = xp.conj(U) if complex_state else U
    grads = {}
    # output layer: y = Re(U h) + c, so ∂L/∂U = gy hᴴ and ∂L/∂h = Uᴴ gy (as rows: gy @ conj(U))
    if output == "all":
        hs = xp.reshape(H[1:, ...], (T * B, n))
        gy_flat = xp.reshape(gy, (T * B, o))
        grads["U"] = xp.matrix_transpose(gy_flat) @ (xp.conj(hs) if complex_state else hs)
        gh_out = xp.reshape(gy_flat @ Uc, (T, B, n))
        grads["c"] = xp.sum(xp.reshape(grad_y, (T * B, o)), axis=0)
    else:
        hT = H[T, ...]
        grads["U"] = xp.matrix_transpose(gy) @ (xp.conj(hT) if complex_state else hT)
        gh_last = gy @ Uc
        grads["c"] = xp.sum(grad_y, axis=0)
    dZ = xp.empty_like(Z)
    gh = xp.zeros((B, n), dtype=dtype, device=device_of(Z))
    d_bias_mod = xp.zeros((B, n), dtype=real_dtype_of(xp, dtype), device=device_of(Z)) \
        if nonlinearity == "modrelu" and complex_state else None
    Wc = xp.conj(W) if complex_state else W
    for t in range(T - 1, -1, -1):
        if output == "all":
            gh = gh + gh_out[t, ...]
        elif t == T - 1:
            gh = gh + gh_last
        dz, db_t = _activate_backward(xp, Z[t, ...], H[t + 1, ...], gh, nonlinearity, b_mod)
        if db_t is not None:
            d_bias_mod = d_bias_mod + db_t
        dZ[t, ...] = dz
        gh = dz @ Wc  # ∂L/∂h_{t-1} = Wᴴ δ_t, as rows
    dZ_flat = xp.reshape(dZ, (T * B, n))
    h_prev = xp.reshape(H[:-1, ...], (T * B, n))
    grads["W"] = xp.matrix_transpose(dZ_flat) @ (xp.conj(h_prev) if complex_state else h_prev)
    grads["V"] = xp.matrix_transpose(dZ_flat) @ xp.reshape(xs, (T * B, d))
    grads["b"] = xp.sum(dZ_flat, axis=0)
    if d_bias_mod is not None:
        grads["b_mod"] = xp.sum(d_bias_mod, axis=0)
    elif nonlinearity == "modrelu":
        # real modReLU: ∂h/∂β = sign(h) where active, so ∂L/∂β = Σ δ·sign(h)
        grads["b_mod"] = xp.sum(dZ_flat * xp.sign(xp.reshape(H[1:, ...], (T * B, n))), axis=0)
    return grads
