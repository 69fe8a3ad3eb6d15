"""Run directories of ``orthopt rnn`` (issue 15, item 2): refused overwrites, the lock,
damaged files with their own exit code, atomic log rewrites, partial log lines, stale
temporaries, iterations below the checkpoint, negative schedules, Ctrl-C during a commit."""

import argparse
import importlib
import json
import os
import signal

import numpy as np
import pytest

from orthopt.rnn import checkpoint as ckpt
from orthopt.rnn.cli import EXIT_CODES, add_rnn_subparser
from orthopt.rnn.rundir import lock_run_directory
from orthopt.rnn.train import TrainConfig, Trainer

train_module = importlib.import_module("orthopt.rnn.train")

TINY = ["--hidden", "5", "--length", "3", "--batch-size", "3", "--eval-every", "4",
        "--checkpoint-every", "4", "--no-progress"]


def _run(argv):
    parser = argparse.ArgumentParser(prog="orthopt")
    add_rnn_subparser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


def _train(out, iterations=8, *extra):
    return _run(["rnn", "copying", "--out", str(out), "--iterations", str(iterations)]
                + TINY + list(extra))


def _iterations(out):
    with open(os.path.join(out, "log.jsonl")) as f:
        return [json.loads(line)["iteration"] for line in f]


def _weights(out):
    arrays, meta = ckpt.load_checkpoint(os.path.join(out, "checkpoint.npz"))
    return arrays, meta


def _assert_same_run(a, b):
    arrays_a, meta_a = _weights(a)
    arrays_b, meta_b = _weights(b)
    assert set(arrays_a) == set(arrays_b)
    for name in arrays_a:
        np.testing.assert_array_equal(arrays_a[name], arrays_b[name], err_msg=name)
    assert meta_a["rng"] == meta_b["rng"] and meta_a["iteration"] == meta_b["iteration"]


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """An uninterrupted 8-iteration run."""
    out = tmp_path_factory.mktemp("reference") / "run"
    assert _train(out) == 0
    return out


def test_existing_run_is_refused_without_resume_or_overwrite(tmp_path, capsys, reference):
    out = tmp_path / "run"
    assert _train(out, 4) == 0
    before = (out / "checkpoint.npz").read_bytes(), (out / "log.jsonl").read_text()
    capsys.readouterr()
    assert _train(out, 8) == EXIT_CODES["refused"] == 3
    err = capsys.readouterr().err
    assert "already holds a run" in err and "--resume" in err and "--overwrite" in err
    assert ((out / "checkpoint.npz").read_bytes(), (out / "log.jsonl").read_text()) == before
    assert _train(out, 8, "--overwrite") == 0      # starts over: the same as a fresh run
    assert _iterations(out) == list(range(1, 9))
    _assert_same_run(out, reference)


def test_second_run_on_a_locked_directory_is_refused_naming_the_holder(tmp_path, capsys):
    out = tmp_path / "run"
    with lock_run_directory(str(out)):
        assert _train(out, 4) == EXIT_CODES["refused"]
        err = capsys.readouterr().err
        assert f"pid {os.getpid()}" in err and "in use by another run" in err
        assert not os.path.exists(out / "config.json")
    assert _train(out, 4) == 0                      # released: the directory is usable again
    with open(out / ".lock") as f:
        assert f"pid {os.getpid()}" in f.read()


def _damage_checkpoint(path, how):
    if how == "truncated":
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])
    elif how == "empty":
        path.write_bytes(b"")
    elif how == "garbage":
        path.write_bytes(os.urandom(300))
    elif how == "directory":
        path.unlink()
        path.mkdir()
    else:  # rewrite the header or the weights
        arrays, meta = ckpt.load_checkpoint(path)
        if how == "no rng":
            del meta["rng"]
        elif how == "no config":
            del meta["config"]
        elif how == "negative iteration":
            meta["iteration"] = -3
        elif how == "integer weights":
            arrays["param/V"] = arrays["param/V"].astype(np.int64)
        ckpt.save_checkpoint(path, arrays, meta)


@pytest.mark.parametrize("how, says", [
    ("truncated", "truncated or corrupt"), ("empty", "empty"), ("garbage", "truncated or corrupt"),
    ("directory", "is a directory"), ("no rng", "no 'rng'"), ("no config", "no 'config'"),
    ("negative iteration", "negative"), ("integer weights", "not a floating-point type"),
])
def test_damaged_checkpoint_is_named_with_its_own_exit_code(tmp_path, capsys, how, says):
    out = tmp_path / "run"
    assert _train(out, 4) == 0
    _damage_checkpoint(out / "checkpoint.npz", how)
    capsys.readouterr()
    assert _train(out, 8, "--resume") == EXIT_CODES["damaged"] == 4
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "checkpoint.npz" in err and says in err, err
    assert "Traceback" not in err


@pytest.mark.parametrize("content, says", [
    ("null", "holds NoneType"), ("[1, 2]", "holds list"), ('{"hidden": "five"}', "hidden"),
    ('{"eval_every": -1}', "eval_every"), ("{not json", "not valid JSON"), (None, "directory"),
])
def test_damaged_config_is_named_with_its_own_exit_code(tmp_path, capsys, content, says):
    out = tmp_path / "run"
    assert _train(out, 4) == 0
    path = out / "config.json"
    if content is None:
        path.unlink()
        path.mkdir()
    else:
        path.write_text(content)
    capsys.readouterr()
    assert _train(out, 8, "--resume") == EXIT_CODES["damaged"]
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "config.json" in err and says in err, err


def test_partial_last_log_line_is_dropped_and_said(tmp_path, capsys, reference):
    out = tmp_path / "run"
    assert _train(out, 5) == 0          # checkpoint at 5 (the end); rows 1..5
    with open(out / "log.jsonl", "a") as f:
        f.write('{"iteration": 6, "loss": 0.')  # a kill in the middle of an append
    capsys.readouterr()
    assert _train(out, 8, "--resume") == 0
    assert "dropped a partial last line" in capsys.readouterr().err
    assert _iterations(out) == list(range(1, 9))
    _assert_same_run(out, reference)


def test_damaged_middle_log_line_is_named(tmp_path, capsys):
    out = tmp_path / "run"
    assert _train(out, 4) == 0
    lines = (out / "log.jsonl").read_text().splitlines(keepends=True)
    lines[1] = "garbage\n"
    (out / "log.jsonl").write_text("".join(lines))
    capsys.readouterr()
    assert _train(out, 8, "--resume") == EXIT_CODES["damaged"]
    err = capsys.readouterr().err
    assert "log.jsonl" in err and "line 2" in err


def test_a_kill_while_the_logs_are_rewritten_loses_no_row(tmp_path, monkeypatch):
    """The resume rewrote log.jsonl in place ("w"): a kill in that window lost rows."""
    out = tmp_path / "run"
    assert _train(out, 8, "--checkpoint-every", "100") == 0
    rows_before = _iterations(out)
    real_dumps, calls = json.dumps, []

    def dying_dumps(obj, *args, **kwargs):
        calls.append(1)
        if len(calls) == 4:            # config, then rows: die in the middle of the rows
            raise KeyboardInterrupt("killed")
        return real_dumps(obj, *args, **kwargs)

    monkeypatch.setattr(train_module.json, "dumps", dying_dumps)
    with pytest.raises(KeyboardInterrupt):
        Trainer(TrainConfig(task="copying", length=3, hidden=5, batch_size=3, eval_every=4,
                            checkpoint_every=100, iterations=9), out=str(out),
                progress=False).run(resume=True)
    monkeypatch.undo()
    assert _iterations(out) == rows_before == list(range(1, 9))
    assert not [p for p in os.listdir(out) if p.endswith(".tmp")]


def test_stale_temporaries_are_removed(tmp_path):
    out = tmp_path / "run"
    assert _train(out, 4) == 0
    for name in (".checkpoint-abc.tmp", ".checkpoint-def.tmp", ".log.jsonl-x.tmp"):
        (out / name).write_bytes(b"left by a kill")
    assert _train(out, 6, "--resume") == 0
    assert not [p for p in os.listdir(out) if p.endswith(".tmp")]


def test_iterations_below_the_checkpoint_are_refused(tmp_path, capsys):
    out = tmp_path / "run"
    assert _train(out, 8) == 0
    config = (out / "config.json").read_text()
    capsys.readouterr()
    assert _train(out, 5, "--resume") == EXIT_CODES["refused"]
    out_err = capsys.readouterr()
    assert "finished" not in out_err.out and "iteration 8, past --iterations 5" in out_err.err
    assert (out / "config.json").read_text() == config
    assert _iterations(out) == list(range(1, 9))


@pytest.mark.parametrize("flag", ["--lr-decay-every", "--eval-every", "--checkpoint-every"])
def test_negative_schedules_are_refused(tmp_path, capsys, flag):
    assert _train(tmp_path / "run", 4, flag, "-2") == EXIT_CODES["usage"]
    assert flag[2:].replace("-", "_") in capsys.readouterr().err
    assert not os.path.exists(tmp_path / "run" / "config.json")


def test_resume_before_the_first_checkpoint_starts_from_zero(tmp_path, capsys, reference):
    out = tmp_path / "run"
    assert _train(out, 8) == 0
    os.remove(out / "checkpoint.npz")       # as if killed before the first checkpoint
    capsys.readouterr()
    assert _train(out, 8, "--resume") == 0
    assert "starting from iteration 0" in capsys.readouterr().err
    assert _iterations(out) == list(range(1, 9))
    _assert_same_run(out, reference)


@pytest.mark.parametrize("where", ["evaluate", "update"])
def test_double_ctrl_c_while_an_iteration_commits_loses_nothing(tmp_path, monkeypatch, where,
                                                                reference):
    """Two Ctrl-C between the update and its log row reported a clean stop but lost the row."""
    config = TrainConfig(task="copying", length=3, hidden=5, batch_size=3, eval_every=4,
                         checkpoint_every=4, iterations=8)
    trainer = Trainer(config, out=str(tmp_path / "run"), progress=False)

    def press_twice():
        if trainer.iteration >= 6 and not getattr(trainer, "_pressed", False):
            trainer._pressed = True
            os.kill(os.getpid(), signal.SIGINT)
            os.kill(os.getpid(), signal.SIGINT)

    if where == "evaluate":   # between the step and its log row (iteration 8 evaluates)
        real = trainer.evaluate

        def evaluate(*args, **kwargs):
            press_twice()
            return real(*args, **kwargs)
        monkeypatch.setattr(trainer, "evaluate", evaluate)
    else:                     # inside the weight update of iteration 7
        real_update = trainer.method.update

        def update(*args, **kwargs):
            out = real_update(*args, **kwargs)
            press_twice()
            return out
        monkeypatch.setattr(trainer.method, "update", update)
    result = trainer.run()
    assert result["status"] == "interrupted", result["message"]
    stopped = result["iteration"]
    assert _iterations(tmp_path / "run") == list(range(1, stopped + 1))
    assert _weights(tmp_path / "run")[1]["iteration"] == stopped
    assert _run(["rnn", "copying", "--out", str(tmp_path / "run"), "--resume",
                 "--no-progress"]) == 0
    assert _iterations(tmp_path / "run") == list(range(1, 9))
    _assert_same_run(tmp_path / "run", reference)


def test_resume_of_a_missing_directory_creates_nothing(tmp_path, capsys):
    assert _train(tmp_path / "nothing", 4, "--resume") == EXIT_CODES["usage"]
    assert "run without --resume first" in capsys.readouterr().err
    assert not os.path.exists(tmp_path / "nothing")


def test_resume_and_overwrite_exclude_each_other(tmp_path, capsys):
    with pytest.raises(SystemExit):
        _train(tmp_path / "run", 4, "--resume", "--overwrite")
    assert "not allowed with argument" in capsys.readouterr().err
