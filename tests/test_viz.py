"""orthopt.viz: every figure function draws, labels its axes, and rejects bad input."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from orthopt import SpecialOrthogonal, Stiefel  # noqa: E402
from orthopt import viz  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _sphere_point():
    x = np.array([[0.8], [0.3], [0.4]])
    return x / np.linalg.norm(x)


def test_plot_sphere_tangent_draws_labelled_axes():
    ax = viz.plot_sphere_tangent(_sphere_point(), np.array([[0.2], [0.9], [0.8]]))
    assert ax.get_xlabel() and ax.get_ylabel() and ax.get_zlabel()
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert len(labels) == 4


def test_plot_sphere_tangent_rejects_non_unit_point():
    with pytest.raises(ValueError, match="unit norm"):
        viz.plot_sphere_tangent(np.array([1.0, 1.0, 0.0]), np.ones(3))


def test_plot_retractions_sphere_curves_stay_on_layers():
    x = _sphere_point()
    v = Stiefel(3, 1).projection(x, np.array([[-0.3], [0.7], [0.5]]))
    ax = viz.plot_retractions(x, v, t_max=2.0)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[:5] == ["geodesic exp", "qr", "polar", "cayley", "givens"]
    # each curve lies on its own sphere of radius 1 + 0.02k
    lines = [ln for ln in ax.get_lines() if ln.get_label() in labels[:5]]
    for k, line in enumerate(lines):
        xs, ys, zs = line.get_data_3d()
        radius = np.sqrt(np.asarray(xs) ** 2 + np.asarray(ys) ** 2 + np.asarray(zs) ** 2)
        np.testing.assert_allclose(radius, 1.0 + 0.02 * k, atol=1e3 * np.finfo(float).eps)


def test_plot_retractions_so3_and_bad_shape():
    M = SpecialOrthogonal(3)
    x = M.random_point(rng=0)
    ax = viz.plot_retractions(x, M.random_tangent_vector(x, rng=1), retractions=["qr"])
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["body at $x$", "geodesic exp", "qr"]
    with pytest.raises(ValueError, match="shape"):
        viz.plot_retractions(np.eye(4), np.zeros((4, 4)))
    with pytest.raises(ValueError, match="unknown retraction"):
        viz.plot_retractions(x, np.zeros((3, 3)), retractions=["householder"])


def test_plot_unit_circle_eigenvalues_of_orthogonal_matrix_on_circle():
    x = SpecialOrthogonal(6).random_point(rng=0)
    ax = viz.plot_unit_circle(x)
    points = ax.collections[0].get_offsets()
    np.testing.assert_allclose(np.hypot(points[:, 0], points[:, 1]), 1.0,
                               atol=100 * np.finfo(float).eps)
    assert ax.get_xlabel() == "Re λ" and ax.get_ylabel() == "Im λ"
    with pytest.raises(ValueError, match="square"):
        viz.plot_unit_circle(np.ones((3, 2)))


def test_plot_loadings_masks_zeros_and_checks_names():
    comp = np.array([[0.8, 0.0, 0.6], [0.0, 1.0, 0.0]])
    ax = viz.plot_loadings(comp, ["a", "b", "c"])
    assert ax.get_title() == "loadings (3 of 6 nonzero)"
    assert [t.get_text() for t in ax.get_xticklabels()] == ["a", "b", "c"]
    with pytest.raises(ValueError, match="feature names"):
        viz.plot_loadings(comp, ["a", "b"])


def test_plot_loadings_without_names_uses_sklearn_style_names():
    ax = viz.plot_loadings(np.array([[0.8, 0.0, 0.6], [0.0, 1.0, 0.0]]))
    assert [t.get_text() for t in ax.get_xticklabels()] == ["x0", "x1", "x2"]


def test_plot_convergence_takes_a_dict_of_labelled_runs():
    import orthopt

    a = np.diag(np.arange(1.0, 6.0))
    runs = {method: orthopt.minimize(lambda x: np.sum(x * (a @ x)), np.eye(5, 2), method=method,
                                     jac=lambda x: 2 * a @ x)
            for method in ("rgd", "cg")}
    ax = viz.plot_convergence(runs)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["rgd", "cg"]
    assert [len(line.get_xdata()) for line in ax.get_lines()] == [
        len(run.history["cost"]) for run in runs.values()]
