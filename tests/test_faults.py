"""Fault injection on ``orthopt rnn`` (issue 15, item 4): real processes, real signals.

Every trial ends with the same check — nothing was lost: the final checkpoint
equals an uninterrupted run's bit for bit (weights, optimizer and method state,
random-generator state), and log.jsonl and log.csv hold every iteration exactly
once with the uninterrupted run's values. The faults:

* ``kill -9`` at seeded random moments: after a random number of log rows
  (during training), or a random time after the start (while starting or
  resuming, which includes the rewrite of the logs), several times per trial;
* two runs on one directory at once (the second is refused, naming the first);
* damaged files (a one-line error and exit code 4, not a traceback);
* a double Ctrl-C (SIGINT twice, a seeded random gap apart).

Seeds are fixed; the default run takes well under a minute, ``-m slow`` runs
more trials.
"""

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from orthopt.rnn import checkpoint as ckpt

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ITERATIONS = 120
ARGS = ["--hidden", "8", "--length", "5", "--batch-size", "8", "--checkpoint-every", "7",
        "--eval-every", "25", "--iterations", str(ITERATIONS), "--no-progress"]
TIMEOUT = 60  # seconds for any one process: a hang fails the test instead of blocking CI

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals and flock")


def _env():
    env = dict(os.environ)
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    env.setdefault("MPLBACKEND", "Agg")
    return env


def _start(out, *extra):
    return subprocess.Popen([sys.executable, "-m", "orthopt", "rnn", "copying", "--out", str(out)]
                            + ARGS + list(extra), cwd=ROOT, env=_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _finish(proc):
    out, err = proc.communicate(timeout=TIMEOUT)
    return proc.returncode, out, err


def _rows(out):
    try:
        with open(os.path.join(out, "log.jsonl"), "rb") as f:
            return f.read().count(b"\n")
    except (FileNotFoundError, IsADirectoryError):
        return 0


def _wait_for_rows(proc, out, rows):
    deadline = time.monotonic() + TIMEOUT
    while _rows(out) < rows and proc.poll() is None:
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"no {rows} log rows after {TIMEOUT} s")
        time.sleep(0.002)


def _log(out):
    with open(os.path.join(out, "log.jsonl")) as f:
        rows = [json.loads(line) for line in f]
    with open(os.path.join(out, "log.csv"), newline="") as f:
        table = list(csv.DictReader(f))
    return rows, table


def _assert_nothing_lost(out, reference):
    arrays, meta = ckpt.load_checkpoint(os.path.join(out, "checkpoint.npz"))
    ref_arrays, ref_meta = ckpt.load_checkpoint(os.path.join(reference, "checkpoint.npz"))
    assert meta["iteration"] == ITERATIONS
    assert set(arrays) == set(ref_arrays)
    for name in arrays:
        np.testing.assert_array_equal(arrays[name], ref_arrays[name], err_msg=name)
    assert meta["rng"] == ref_meta["rng"]
    rows, table = _log(out)
    ref_rows, _ = _log(reference)
    assert [r["iteration"] for r in rows] == list(range(1, ITERATIONS + 1))
    assert [int(r["iteration"]) for r in table] == list(range(1, ITERATIONS + 1))
    for row, ref in zip(rows, ref_rows):
        row.pop("seconds"), ref.pop("seconds")
        assert row == ref
    assert not [p for p in os.listdir(out) if p.endswith(".tmp")]


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    out = tmp_path_factory.mktemp("faults") / "reference"
    code, stdout, err = _finish(_start(out))
    assert code == 0, err
    return str(out)


def _kill_and_resume_until_done(out, rng, kills):
    """Start, kill -9 at ``kills`` random moments (resuming in between), then finish."""
    for _ in range(kills):
        fresh = not os.path.exists(os.path.join(out, "config.json"))
        proc = _start(out, *([] if fresh else ["--resume"]))
        if rng.random() < 0.5:   # during training: after a random number of new rows
            _wait_for_rows(proc, out, _rows(out) + int(rng.integers(1, 30)))
            time.sleep(rng.uniform(0.0, 0.01))
        else:                    # while starting or resuming (reading, rewriting the logs)
            time.sleep(rng.uniform(0.0, 1.0))
        proc.kill()
        code, _, err = _finish(proc)
        assert code in (0, -signal.SIGKILL), err  # 0: it finished before the kill
        if code == 0:
            return
    fresh = not os.path.exists(os.path.join(out, "config.json"))
    code, _, err = _finish(_start(out, *([] if fresh else ["--resume"])))
    assert code == 0, err


def _kill_trials(tmp_path, reference, seeds, kills):
    for seed in seeds:
        out = str(tmp_path / f"killed-{seed}")
        _kill_and_resume_until_done(out, np.random.default_rng(seed), kills)
        _assert_nothing_lost(out, reference)


def test_kill_9_at_random_moments_loses_nothing(tmp_path, reference):
    _kill_trials(tmp_path, reference, seeds=range(2), kills=3)


@pytest.mark.slow
def test_kill_9_at_random_moments_loses_nothing_many_trials(tmp_path, reference):
    _kill_trials(tmp_path, reference, seeds=range(100, 120), kills=5)


def test_two_runs_on_one_directory(tmp_path, reference):
    """The second run (fresh or --resume) is refused while the first holds the directory."""
    out = str(tmp_path / "shared")
    first = _start(out)
    _wait_for_rows(first, out, 3)
    first.send_signal(signal.SIGSTOP)  # hold it inside its run, whatever the machine's speed
    try:
        for extra in ([], ["--resume"], ["--overwrite"]):
            code, stdout, err = _finish(_start(out, *extra))
            assert code == 3, err
            assert f"in use by another run (pid {first.pid} on " in err and "started" in err
    finally:
        first.send_signal(signal.SIGCONT)
    code, _, err = _finish(first)
    assert code == 0, err
    _assert_nothing_lost(out, reference)


@pytest.mark.parametrize("damage, says", [
    (lambda d: open(os.path.join(d, "checkpoint.npz"), "r+b").truncate(100), "checkpoint.npz"),
    (lambda d: open(os.path.join(d, "config.json"), "w").write("null"), "config.json"),
])
def test_damaged_files_give_one_line_and_exit_code_4(tmp_path, reference, damage, says):
    out = str(tmp_path / "damaged")
    shutil.copytree(reference, out)
    damage(out)
    code, stdout, err = _finish(_start(out, "--resume"))
    assert code == 4 and err.count("\n") == 1 and says in err and "Traceback" not in err, err


def _double_sigint_trials(tmp_path, reference, seeds):
    for seed in seeds:
        rng = np.random.default_rng(seed)
        out = str(tmp_path / f"sigint-{seed}")
        proc = _start(out)
        _wait_for_rows(proc, out, int(rng.integers(1, ITERATIONS + 1)))
        proc.send_signal(signal.SIGINT)
        time.sleep(rng.uniform(0.0, 0.01))
        proc.send_signal(signal.SIGINT)
        code, stdout, err = _finish(proc)
        # 0: the loop stopped (or had finished); 130: the second press came after the loop
        # had handed the signal back (the run had stopped and saved); -SIGINT: it came after
        # the command had printed its report, while the interpreter exited
        stopped = ("interrupted at iteration" in stdout or "aborted inside an iteration" in stdout
                   or f"finished {ITERATIONS} iterations" in stdout)
        assert (code == 0 and stopped or code == 130 and "continue with --resume" in err
                or code == -signal.SIGINT and stopped and "outputs in" in stdout), (code, stdout,
                                                                                  err)
        assert "Traceback" not in err, err
        code, _, err = _finish(_start(out, "--resume"))
        assert code == 0, err
        _assert_nothing_lost(out, reference)


def test_double_ctrl_c_loses_nothing(tmp_path, reference):
    _double_sigint_trials(tmp_path, reference, seeds=range(2))


@pytest.mark.slow
def test_double_ctrl_c_loses_nothing_many_trials(tmp_path, reference):
    _double_sigint_trials(tmp_path, reference, seeds=range(100, 115))
