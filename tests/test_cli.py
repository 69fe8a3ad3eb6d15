"""The main job: `orthopt demo` solves its three problems to the known optima."""

import numpy as np
import pytest

from orthopt import Problem, check_gradient
from orthopt.cli import main
from orthopt.demo import demo_problems, run_demo


@pytest.mark.parametrize("index", [0, 1, 2])
def test_demo_gradients_pass_taylor_check(index):
    name, manifold, cost_and_gradient, _ = demo_problems(seed=0)[index]
    problem = Problem(manifold, None, cost_and_gradient=cost_and_gradient)
    check = check_gradient(problem, rng=1)
    assert check.passed, (name, check.message)


def test_demo_matches_known_optima(tmp_path):
    lines = []
    figure = tmp_path / "convergence.png"
    rows = run_demo(seed=0, plot=figure, out=lines.append)
    assert len(rows) == 3
    for row in rows:
        assert row["relative_error"] <= 1e-8, row
        assert row["feasibility"] <= 1e3 * np.finfo(np.float64).eps * np.sqrt(500), row
        assert row["status"] == "gradient_tolerance", row
    assert figure.stat().st_size > 10_000
    assert any("Brockett" in line for line in lines)


def test_cli_demo_exit_code(capsys):
    assert main(["demo", "--seed", "3"]) == 0
    out = capsys.readouterr().out
    assert "known optimum" in out and "unitary Procrustes" in out


def test_cli_requires_a_command():
    with pytest.raises(SystemExit):
        main([])


def test_cli_demo_plot_into_a_missing_folder_fails_before_solving(tmp_path, capsys, monkeypatch):
    import orthopt.demo

    def must_not_run(**kwargs):  # pragma: no cover - the failure mode under test
        raise AssertionError("the demo ran before the --plot path was checked")

    monkeypatch.setattr(orthopt.demo, "run_demo", must_not_run)
    with pytest.raises(SystemExit) as info:
        main(["demo", "--plot", str(tmp_path / "missing" / "x.png")])
    assert info.value.code == 2
    assert "does not exist" in capsys.readouterr().err
