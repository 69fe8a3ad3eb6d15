"""BPTT gradients of the RNN cell against central finite differences (float64)."""

import numpy as np
import pytest

from orthopt.rnn import cell
from orthopt.rnn.losses import cross_entropy, mean_squared_error

EPS = np.finfo(np.float64).eps
T, B, N, D, O = 6, 3, 5, 2, 3


def _setup(field, nonlinearity, seed=0):
    rng = np.random.default_rng(seed)
    params = cell.init_params(D, N, O, field=field, nonlinearity=nonlinearity, rng=rng)
    W = rng.standard_normal((N, N)) / np.sqrt(N)
    if field == "complex":
        W = W + 1j * rng.standard_normal((N, N)) / np.sqrt(N)
        params["b"] = params["b"] + 0.1 * (rng.standard_normal(N) + 1j * rng.standard_normal(N))
        params["b_mod"] = params["b_mod"] + 0.3 * rng.standard_normal(N)
    else:
        params["b"] = params["b"] + 0.1 * rng.standard_normal(N)
        if nonlinearity == "modrelu":
            params["b_mod"] = params["b_mod"] + 0.3 * rng.standard_normal(N)
    params["W"] = W
    x = rng.standard_normal((T, B, D))
    return params, x, rng


def _loss(params, x, nonlinearity, output, weights):
    y, cache = cell.forward(params, x, nonlinearity, output)
    # a generic smooth loss that touches every output: ⟨R, y⟩ + ½‖y‖²
    return float(np.sum(weights * y) + 0.5 * np.sum(y * y)), y, cache


@pytest.mark.parametrize("field,nonlinearity", [("real", "modrelu"), ("real", "tanh"),
                                                ("real", "relu"), ("complex", "modrelu")])
@pytest.mark.parametrize("output", ["all", "last"])
def test_bptt_gradients_match_finite_differences(field, nonlinearity, output):
    params, x, rng = _setup(field, nonlinearity)
    shape_y = (T, B, O) if output == "all" else (B, O)
    weights = rng.standard_normal(shape_y)
    _, y, cache = _loss(params, x, nonlinearity, output, weights)
    grads = cell.backward(params, cache, weights + y)
    assert set(grads) == set(params)
    h = 1e-6
    for name, value in params.items():
        assert grads[name].shape == value.shape and grads[name].dtype == value.dtype, name
        for _ in range(3):
            e = rng.standard_normal(value.shape)
            if np.iscomplexobj(value):
                e = e + 1j * rng.standard_normal(value.shape)
            plus = dict(params, **{name: value + h * e})
            minus = dict(params, **{name: value - h * e})
            fd = (_loss(plus, x, nonlinearity, output, weights)[0]
                  - _loss(minus, x, nonlinearity, output, weights)[0]) / (2 * h)
            # gradient convention ∂L/∂Re + i ∂L/∂Im: directional derivative = Re⟨g, e⟩
            analytic = float(np.real(np.sum(np.conj(grads[name]) * e)))
            scale = max(1.0, abs(analytic))
            assert abs(fd - analytic) <= 1e-7 * scale, (name, fd, analytic)


def test_relu_real_forward_matches_formula():
    params, x, _ = _setup("real", "modrelu")
    y, cache = cell.forward(params, x, "modrelu", "all")
    h = np.zeros((B, N))
    for t in range(T):
        z = h @ params["W"].T + x[t] @ params["V"].T + params["b"]
        h = np.sign(z) * np.maximum(np.abs(z) + params["b_mod"], 0)
    np.testing.assert_allclose(cache["H"][-1], h, rtol=0, atol=100 * EPS)
    np.testing.assert_allclose(y[-1], h @ params["U"].T + params["c"], rtol=0, atol=100 * EPS)


def test_complex_modrelu_keeps_phase():
    params, x, _ = _setup("complex", "modrelu")
    _, cache = cell.forward(params, x, "modrelu", "last")
    z, h = cache["Z"], cache["H"][1:]
    on = np.abs(h) > 0
    np.testing.assert_allclose(np.angle(h[on] / z[on]), 0, atol=100 * EPS)


def test_cross_entropy_gradient():
    rng = np.random.default_rng(1)
    logits = rng.standard_normal((4, 3, 5))
    labels = rng.integers(0, 5, size=(4, 3))
    loss, grad = cross_entropy(logits, labels)
    e = rng.standard_normal(logits.shape)
    h = 1e-6
    fd = (float(cross_entropy(logits + h * e, labels)[0])
          - float(cross_entropy(logits - h * e, labels)[0])) / (2 * h)
    assert abs(fd - np.sum(grad * e)) < 1e-8
    # uniform logits give ln C
    loss0, _ = cross_entropy(np.zeros((2, 5)), np.array([0, 3]))
    assert abs(float(loss0) - np.log(5)) < 10 * EPS


def test_mse_gradient():
    pred = np.array([[1.0], [2.0]])
    loss, grad = mean_squared_error(pred, np.array([0.0, 0.0]))
    assert float(loss) == 2.5
    np.testing.assert_array_equal(grad, [[1.0], [2.0]])


@pytest.mark.parametrize("bad", ["shape", "V", "nonlinearity", "output", "complex_tanh", "hidden"])
def test_bad_inputs_raise(bad):
    params, x, _ = _setup("real", "modrelu")
    with pytest.raises(ValueError):
        if bad == "shape":
            cell.forward(params, x[0], "modrelu")
        elif bad == "V":
            cell.forward(params, np.zeros((T, B, D + 1)), "modrelu")
        elif bad == "nonlinearity":
            cell.forward(params, x, "sigmoid")
        elif bad == "output":
            cell.forward(params, x, "modrelu", "middle")
        elif bad == "complex_tanh":
            cell.init_params(D, N, O, field="complex", nonlinearity="tanh")
        else:
            cell.init_params(D, 0, O)
