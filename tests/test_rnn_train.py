"""Training loop: exact resume, interruption, checkpoints, logs, orthogonality, bad input."""

import csv
import json
import os

import numpy as np
import pytest

from orthopt.rnn import checkpoint as ckpt
from orthopt.rnn.methods import METHODS, make_method, orthogonality_error
from orthopt.rnn.train import TrainConfig, Trainer

EPS = np.finfo(np.float64).eps
TINY = dict(task="copying", length=4, hidden=6, batch_size=4, eval_every=5, checkpoint_every=5,
            lr=1e-2, orth_lr=1e-2)


def _interrupt_at(k):
    def callback(iteration, record):
        if iteration == k:
            raise KeyboardInterrupt
    return callback


def _final_arrays(out):
    arrays, meta = ckpt.load_checkpoint(os.path.join(out, "checkpoint.npz"))
    return arrays, meta


@pytest.mark.parametrize("method,extra", [
    ("exprnn", {}),
    ("dtriv", {"rebase_every": 3}),
    ("givens", {"rule": "random"}),
    ("projunn-t", {"approximation": "lsi", "rank": 2}),
    ("rgd", {"optimizer": "adam"}),
    ("vfield", {"lr_decay": 0.5, "lr_decay_every": 4, "clip": 0.5}),
    ("scornn", {"field": "complex"}),
])
def test_resume_equals_uninterrupted_run(tmp_path, method, extra):
    config = TrainConfig(method=method, iterations=12, **TINY, **extra)
    full = Trainer(config, out=str(tmp_path / "full"), progress=False).run()
    assert full["status"] == "finished"

    part_dir = str(tmp_path / "part")
    part = Trainer(config, out=part_dir, progress=False, callback=_interrupt_at(7)).run()
    assert part["status"] == "interrupted" and "--resume" in part["message"]
    arrays, meta = _final_arrays(part_dir)
    assert meta["iteration"] == 7          # the interrupted run left a loadable checkpoint

    resumed = Trainer(config, out=part_dir, progress=False).run(resume=True)
    assert resumed["status"] == "finished" and resumed["iteration"] == 12
    a, meta_a = _final_arrays(str(tmp_path / "full"))
    b, meta_b = _final_arrays(part_dir)
    assert set(a) == set(b)
    for name in a:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)  # bit for bit
    assert meta_a["rng"] == meta_b["rng"]
    losses_full = [r["loss"] for r in full["history"]]
    losses_resumed = [r["loss"] for r in resumed["history"]]
    assert losses_full == losses_resumed
    with open(os.path.join(part_dir, "log.csv")) as f:
        rows = list(csv.DictReader(f))
    assert [int(r["iteration"]) for r in rows] == list(range(1, 13))


def test_outputs_written(tmp_path):
    out = str(tmp_path / "run")
    result = Trainer(TrainConfig(method="exprnn", iterations=5, **TINY), out=out,
                     progress=False).run()
    for name in ("config.json", "log.csv", "log.jsonl", "checkpoint.npz", "curves.png"):
        assert os.path.getsize(os.path.join(out, name)) > 0, name
    with open(os.path.join(out, "log.jsonl")) as f:
        records = [json.loads(line) for line in f]
    assert [r["iteration"] for r in records] == [1, 2, 3, 4, 5]
    assert records[-1]["eval_loss"] == pytest.approx(result["eval_loss"])
    assert 0 <= records[-1]["eval_accuracy"] <= 1
    with open(os.path.join(out, "config.json")) as f:
        assert json.load(f)["method"] == "exprnn"
    assert not [p for p in os.listdir(out) if p.endswith(".tmp")]


def test_checkpoint_write_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "checkpoint.npz"
    ckpt.save_checkpoint(path, {"a": np.arange(3.0)}, {"iteration": 1})

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", broken)
    with pytest.raises(OSError):
        ckpt.save_checkpoint(path, {"a": np.zeros(3)}, {"iteration": 2})
    arrays, meta = ckpt.load_checkpoint(path)
    assert meta["iteration"] == 1 and np.array_equal(arrays["a"], [0.0, 1.0, 2.0])
    assert os.listdir(tmp_path) == ["checkpoint.npz"]


def test_nonfinite_loss_stops_and_keeps_checkpoint(tmp_path):
    out = str(tmp_path / "blowup")
    config = TrainConfig(task="adding", length=40, method="none", hidden=6, nonlinearity="relu",
                         batch_size=4, iterations=200, lr=1e10, orth_lr=1e10, eval_every=0,
                         checkpoint_every=1)
    result = Trainer(config, out=out, progress=False).run()
    assert result["status"] == "nonfinite"
    assert "checkpoint" in result["message"] and "stopped" in result["message"]
    _, meta = _final_arrays(out)
    assert meta["iteration"] == result["iteration"] < 200
    assert all(np.isfinite(r["loss"]) for r in result["history"])


CONSTRAINED = [m for m in METHODS if m not in ("none", "vfield")]


@pytest.mark.parametrize("method", CONSTRAINED)
def test_updates_stay_orthogonal_over_1000_steps(method):
    # the W update alone, with random gradients (fast); the full training loop is the slow test
    m = make_method(method, 6, init="henaff", rng=0, lr=1e-2, rebase_every=50, rule="block",
                    block=2)
    w0 = np.array(m.weight)
    rng = np.random.default_rng(1)
    worst = 0.0
    for k in range(1000):
        m.update(rng.standard_normal((6, 6)), 1e-2, rng)
        if k % 50 == 49:
            worst = max(worst, orthogonality_error(m.weight))
    assert worst <= 1e-12 and orthogonality_error(m.weight) <= 1e-12
    assert np.linalg.norm(m.weight - w0) > 1e-2  # it did move


@pytest.mark.slow
@pytest.mark.parametrize("method", CONSTRAINED)
def test_training_stays_orthogonal_over_1000_steps(method):
    config = TrainConfig(task="adding", length=6, method=method, hidden=6, batch_size=4,
                         iterations=1000, lr=1e-2, orth_lr=1e-2, eval_every=0,
                         checkpoint_every=0, rebase_every=50, rule="block", block=2)
    trainer = Trainer(config, progress=False)
    w0 = np.array(trainer.method.weight)
    result = trainer.run()
    assert result["status"] == "finished"
    w = trainer.method.weight
    assert orthogonality_error(w) <= 1e-12
    assert max(r["orthogonality"] for r in result["history"]) <= 1e-12
    assert np.linalg.norm(w - w0) > 1e-3  # it did move


@pytest.mark.parametrize("method", ["exprnn", "dtriv", "scornn", "rgd", "projunn-d", "projunn-t"])
def test_unitary_methods_stay_unitary(method):
    m = make_method(method, 6, field="complex", init="henaff", rng=0, lr=1e-2, rebase_every=7)
    rng = np.random.default_rng(1)
    for _ in range(300):
        g = rng.standard_normal((6, 6)) + 1j * rng.standard_normal((6, 6))
        m.update(g, 1e-2, rng)
    assert m.weight.dtype == np.complex128
    assert orthogonality_error(m.weight) <= 1e-12


@pytest.mark.parametrize("local", [False, True])
def test_givens_step_is_the_chosen_rotation(local, monkeypatch):
    import scipy.linalg

    from orthopt.rnn import methods

    if local:  # the fallback kernel used when orthopt.optim.coordinate is absent
        monkeypatch.setattr(methods, "_coordinate_solver", lambda: None)
    m = make_method("givens", 5, init="orthogonal", rng=0, lr=1e-3, rule="gauss-southwell",
                    precondition=False)
    w = np.array(m.weight)
    rng = np.random.default_rng(0)
    g = w - rng.standard_normal((5, 5))  # gradient of ½‖W − target‖²
    m.update(g, 1e-3, rng)
    # right action on columns (Ω = skew(WᵀG)) or left action on rows (Ω = skew(GWᵀ))
    for omega, side in (((w.T @ g - g.T @ w) / 2, "right"), ((g @ w.T - w @ g.T) / 2, "left")):
        i, j = np.unravel_index(np.argmax(np.abs(np.triu(omega, 1))), omega.shape)
        e = np.zeros((5, 5))
        e[i, j], e[j, i] = 1.0, -1.0
        rot = scipy.linalg.expm(-1e-3 * omega[i, j] * e)
        expected = w @ rot if side == "right" else rot @ w
        if np.allclose(m.weight, expected, atol=100 * EPS, rtol=0):
            break
    else:
        raise AssertionError("the update is not the Gauss–Southwell rotation")
    assert side == ("right" if local else "left")
    cost = lambda x: 0.5 * np.sum((x - (w - g)) ** 2)  # noqa: E731
    assert cost(m.weight) < cost(w)


@pytest.mark.parametrize("field,value", [("method", "lstm"), ("task", "parity"),
                                         ("init", "glorot"), ("hidden", 0),
                                         ("optimizer", "sgd"), ("iterations", 0)])
def test_bad_config(field, value):
    with pytest.raises(ValueError, match=str(value) if field != "hidden" else "hidden"):
        Trainer(TrainConfig(**dict(TINY, **{field: value})), progress=False)


def test_resume_with_other_settings_is_refused(tmp_path):
    out = str(tmp_path / "r")
    Trainer(TrainConfig(method="exprnn", iterations=5, **TINY), out=out, progress=False).run()
    with pytest.raises(ValueError, match="hidden"):
        Trainer(TrainConfig(method="exprnn", iterations=9, **dict(TINY, hidden=8)), out=out,
                progress=False).run(resume=True)
    with pytest.raises(FileNotFoundError, match="checkpoint"):
        Trainer(TrainConfig(method="exprnn", iterations=5, **TINY), out=str(tmp_path / "none"),
                progress=False).run(resume=True)


def test_plot_curves_writes_png(tmp_path):
    from orthopt.rnn.plots import plot_curves

    path = str(tmp_path / "curves.png")
    plot_curves({"a": ([1, 2, 3], [3.0, 2.0, 1.0]), "b": ([1, 2, 3], [3.0, 3.0, 3.0])}, 2.0,
                path, title="t")
    with open(path, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_learning_rate_schedule_and_clipping():
    config = TrainConfig(method="exprnn", iterations=9, lr_decay=0.5, lr_decay_every=4,
                         clip=1e-3, **dict(TINY, eval_every=0, checkpoint_every=0))
    history = Trainer(config, progress=False).run()["history"]
    assert [r["lr"] for r in history] == [1e-2] * 4 + [5e-3] * 4 + [2.5e-3]
    assert [r["orth_lr"] for r in history][-1] == 2.5e-3
    assert all(r["grad_norm"] > 1e-3 for r in history)  # the norm before clipping is logged


def test_clipping_scales_the_update():
    moved = {}
    for clip in (None, 1e-12):
        config = TrainConfig(method="exprnn", iterations=1, clip=clip,
                             **dict(TINY, eval_every=0, checkpoint_every=0))
        trainer = Trainer(config, progress=False)
        v0 = trainer.params["V"].copy()
        trainer.run()
        moved[clip] = np.linalg.norm(trainer.params["V"] - v0)
    # RMSprop's step is scale-free until the gradient drops below its ε = 1e-8
    assert moved[1e-12] < 1e-3 * moved[None]


@pytest.mark.parametrize("method", ["projunn-d", "projunn-t"])
@pytest.mark.parametrize("approximation", ["lsi", "column", "exact"])
@pytest.mark.parametrize("local", [False, True])
def test_projunn_steps_stay_orthogonal_and_descend(method, approximation, local, monkeypatch):
    from orthopt.rnn import methods

    if local:  # the dense fallback used when orthopt.optim.projunn is absent
        monkeypatch.setattr(methods, "_projunn_solver", lambda: None)
    m = make_method(method, 6, init="orthogonal", rng=0, lr=1e-2, rank=6,
                    approximation=approximation, optimizer="adam")
    rng = np.random.default_rng(0)
    target = rng.standard_normal((6, 6))
    cost = lambda x: 0.5 * np.sum((x - target) ** 2)  # noqa: E731
    start = cost(m.weight)
    for _ in range(50):
        m.update(m.weight - target, 1e-2, rng)
    assert orthogonality_error(m.weight) <= 1e-12
    assert cost(m.weight) < start
