"""BLAS threads under control (issue 15, item 3): ``orthopt demo`` pins every BLAS its
solves use, SciPy's included (loaded after the limit was set, it used to run on all cores),
and ``orthopt rnn --blas-threads``."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from orthopt._threads import blas_threads

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _fresh_python(code):
    """Run ``code`` in a new interpreter (nothing imported yet), without the CI's
    *_NUM_THREADS variables, which would hide a missing limit."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


needs_two_cores = pytest.mark.skipif((os.cpu_count() or 1) < 2,
                                     reason="one core: every pool has one thread anyway")


@needs_two_cores
def test_demo_solves_run_every_blas_on_one_thread():
    """The demo pinned only the BLAS loaded when it set the limit; SciPy's OpenBLAS loaded
    inside the solve and ran with all cores (12.8 s instead of 0.86 s next to a busy process)."""
    pools = _fresh_python("""
import json
from threadpoolctl import threadpool_info
import orthopt.demo as demo
seen = []
class Recording(demo.RiemannianGradientDescent):
    def run(self, problem, x0=None):
        result = super().run(problem, x0=x0)
        seen.append([(p["internal_api"], p["filepath"], p["num_threads"])
                     for p in threadpool_info()])
        return result
demo.RiemannianGradientDescent = Recording
demo.run_demo(out=lambda line: None)
print(json.dumps(seen))
""")
    assert len(pools) == 3
    for solve in pools:
        assert any("scipy" in path or "openblas" in path for _, path, _ in solve), solve
        assert all(threads == 1 for _, _, threads in solve), solve


@needs_two_cores
def test_blas_threads_pins_libraries_loaded_inside_the_block():
    pools = _fresh_python("""
import json
import numpy
from threadpoolctl import threadpool_info
from orthopt._threads import blas_threads
with blas_threads(1):
    inside = [p["num_threads"] for p in threadpool_info()]
after = [p["num_threads"] for p in threadpool_info()]
print(json.dumps([inside, after]))
""")
    inside, after = pools
    assert len(inside) >= 2 and inside == [1] * len(inside)   # NumPy's and SciPy's BLAS
    assert max(after) >= 2                                    # restored on exit


def test_blas_threads_none_leaves_the_pools_and_bad_values_are_refused():
    from threadpoolctl import threadpool_info

    before = [p["num_threads"] for p in threadpool_info()]
    with blas_threads(None) as limits:
        assert limits is None
        assert [p["num_threads"] for p in threadpool_info()] == before
    for bad in (0, -1, 1.5, True, "2"):
        with pytest.raises(ValueError, match="positive integer or None"):
            with blas_threads(bad):
                pass


def test_rnn_blas_threads_flag(tmp_path, capsys):
    import argparse

    from orthopt.rnn.cli import DEFAULT_BLAS_THREADS, add_rnn_subparser

    parser = argparse.ArgumentParser(prog="orthopt")
    add_rnn_subparser(parser.add_subparsers(dest="command", required=True))
    tiny = ["rnn", "copying", "--hidden", "4", "--length", "3", "--batch-size", "2",
            "--iterations", "2", "--no-progress"]
    args = parser.parse_args(tiny + ["--out", str(tmp_path / "a")])
    assert args.blas_threads == DEFAULT_BLAS_THREADS == 1
    args = parser.parse_args(tiny + ["--out", str(tmp_path / "b"), "--blas-threads", "2"])
    assert args.func(args) == 0
    args = parser.parse_args(tiny + ["--out", str(tmp_path / "c"), "--blas-threads", "-1"])
    assert args.func(args) == 2 and "--blas-threads" in capsys.readouterr().err


def test_solvers_run_small_problems_on_one_blas_thread():
    """blas_threads="auto" (the default) pins every BLAS during a run on a small point;
    an explicit count is honoured; None leaves the pools alone."""
    from threadpoolctl import threadpool_info

    from orthopt.manifolds import Stiefel
    from orthopt.optim import Problem, RiemannianGradientDescent

    manifold = Stiefel(8, 2)
    a = np.diag(np.arange(1.0, 9.0))
    problem = Problem(manifold, lambda x: float(np.sum(x * (a @ x))),
                      euclidean_gradient=lambda x: 2 * a @ x)
    seen = []

    def record(_):
        seen.append({lib["filepath"]: lib["num_threads"] for lib in threadpool_info()
                     if lib["user_api"] == "blas"})
        return True

    RiemannianGradientDescent().run(problem, rng=0, callback=record)
    assert seen and all(n == 1 for n in seen[-1].values())
    with pytest.raises(ValueError, match="blas_threads"):
        RiemannianGradientDescent(blas_threads=0)
