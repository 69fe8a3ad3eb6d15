"""The RNN runs unchanged on other array namespaces (array-api-strict here, CuPy on GPU)."""

import numpy as np
import pytest

from orthopt.rnn import cell
from orthopt.rnn.losses import cross_entropy
from orthopt.rnn.train import TrainConfig, Trainer

xps = pytest.importorskip("array_api_strict")
EPS = np.finfo(np.float64).eps


@pytest.mark.parametrize("field,nonlinearity", [("real", "modrelu"), ("real", "tanh"),
                                                ("real", "relu"), ("complex", "modrelu")])
def test_cell_gradients_equal_numpy(field, nonlinearity):
    rng = np.random.default_rng(0)
    params = cell.init_params(3, 5, 4, field=field, nonlinearity=nonlinearity, rng=0)
    w = rng.standard_normal((5, 5)) / 3
    params["W"] = w + 1j * rng.standard_normal((5, 5)) / 3 if field == "complex" else w
    x, y = rng.standard_normal((6, 2, 3)), rng.integers(0, 4, size=(6, 2))
    out, cache = cell.forward(params, x, nonlinearity)
    grads = cell.backward(params, cache, cross_entropy(out, y)[1])
    strict = {k: xps.asarray(v) for k, v in params.items()}
    out_s, cache_s = cell.forward(strict, xps.asarray(x), nonlinearity)
    grads_s = cell.backward(strict, cache_s, cross_entropy(out_s, xps.asarray(y))[1])
    for name, g in grads.items():
        assert type(grads_s[name]).__module__.startswith("array_api_strict"), name
        np.testing.assert_allclose(np.from_dlpack(grads_s[name]), g, rtol=0,
                                   atol=100 * EPS * max(1.0, np.abs(g).max()), err_msg=name)


@pytest.mark.parametrize("method", ["exprnn", "dtriv", "scornn", "rgd", "projunn-t", "givens"])
def test_training_matches_numpy(method):
    config = TrainConfig(task="copying", length=4, method=method, hidden=6, batch_size=4,
                         iterations=6, eval_every=3, checkpoint_every=0, rebase_every=2,
                         lr=1e-2, orth_lr=1e-2)
    ref = Trainer(config, progress=False).run()
    strict = Trainer(config, progress=False, like=xps.asarray([0.0])).run()
    losses = [r["loss"] for r in ref["history"]]
    losses_s = [r["loss"] for r in strict["history"]]
    np.testing.assert_allclose(losses_s, losses, rtol=1e3 * EPS)


@pytest.mark.gpu
def test_training_on_cupy_matches_numpy():
    cupy = pytest.importorskip("cupy")
    config = TrainConfig(task="copying", length=4, method="exprnn", hidden=6, batch_size=4,
                         iterations=6, eval_every=3, checkpoint_every=0)
    ref = Trainer(config, progress=False).run()
    gpu = Trainer(config, progress=False, like=cupy.zeros(1)).run()
    np.testing.assert_allclose([r["loss"] for r in gpu["history"]],
                               [r["loss"] for r in ref["history"]], rtol=1e-10)
