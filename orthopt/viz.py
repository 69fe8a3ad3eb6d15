"""Figures for lectures and reports (matplotlib, imported lazily).

Every function returns the matplotlib ``Axes`` it drew on and accepts an
``ax`` to draw into an existing figure.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "plot_convergence",
    "plot_check",
    "plot_sphere_tangent",
    "plot_retractions",
    "plot_unit_circle",
    "plot_loadings",
]


def _axes(ax, figsize=(6.0, 4.0)):
    import matplotlib

    if ax is not None:
        return ax
    if matplotlib.get_backend().lower() not in ("agg", "module://matplotlib_inline.backend_inline"):
        import os

        if not os.environ.get("DISPLAY") and os.name != "nt":
            matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    _, ax = plt.subplots(figsize=figsize, layout="constrained")
    return ax


def plot_convergence(results, labels=None, quantity="grad_norm", optimum=None, ax=None):
    r"""Convergence curves of one or several solver runs.

    Parameters
    ----------
    results : OptimizeResult, sequence of OptimizeResult, or dict
        One run, several runs, or ``{label: run}`` (the keys label the legend).
    labels : sequence of str, optional
        Legend entries (default: the dict keys, or "run 0", "run 1", ...).
    quantity : {"grad_norm", "cost", "cost_gap"}
        What to plot against the iteration number; "cost_gap" plots
        :math:`|f(x_k) - f^*| / |f^*|` and needs ``optimum`` (one
        :math:`f^*` per run or a single one).
    optimum : float or sequence of float, optional
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
    """
    if hasattr(results, "history"):
        results = [results]
    elif isinstance(results, dict):
        labels = labels or [str(key) for key in results]
        results = list(results.values())
    labels = labels or [f"run {i}" for i in range(len(results))]
    if quantity == "cost_gap":
        if optimum is None:
            raise ValueError("quantity='cost_gap' needs optimum=f* (one value or one per run)")
        optima = np.broadcast_to(np.asarray(optimum, dtype=float), (len(results),))
    ax = _axes(ax)
    for k, (res, label) in enumerate(zip(results, labels)):
        hist = res.history
        if quantity == "cost_gap":
            values = np.abs(hist["cost"] - optima[k]) / max(abs(optima[k]), 1e-300)
        else:
            values = hist[quantity]
        # exact zeros (an optimum hit to the last bit) would stretch the axis to 1e-300
        floor = 1e-17 if quantity == "cost_gap" else 1e-300
        ax.semilogy(np.arange(len(values)), np.maximum(values, floor), label=label)
    names = {"grad_norm": "Riemannian gradient norm ‖grad f(x_k)‖",
             "cost": "cost f(x_k)", "cost_gap": "relative cost error |f(x_k) − f*| / |f*|"}
    ax.set_xlabel("iteration k")
    ax.set_ylabel(names.get(quantity, quantity))
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    return ax


def plot_check(check, ax=None):
    """Log–log plot of a Taylor / retraction check with slope guides.

    The guides have slopes 1 and 2, or the check's ``guide_slopes`` (2 and 3
    for a :class:`~orthopt.diagnostics.HessianCheck`).

    Parameters
    ----------
    check : GradientCheck, HessianCheck or RetractionCheck
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
    """
    ax = _axes(ax)
    t, err = np.asarray(check.t), np.maximum(np.asarray(check.errors), 1e-300)
    ax.loglog(t, err, "o-", ms=3, label="measured error")
    anchor = len(t) // 2
    for order, style in zip(getattr(check, "guide_slopes", (1, 2)), (":", "--")):
        guide = err[anchor] * (t / t[anchor]) ** order
        ax.loglog(t, guide, style, color="gray", label=f"slope {order}")
    window = getattr(check, "window", None)
    if window and window[1] > window[0]:
        s = slice(*window)
        ax.loglog(t[s], err[s], "o", ms=5, color="C3", label=f"fitted window (slope {check.slope:.2f})")
    ax.set_xlabel("step t")
    ax.set_ylabel("error")
    ax.set_title(check.message, fontsize=9)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    return ax


# -- geometry pictures ---------------------------------------------------------

_RETRACTION_STYLES = {
    "exp": dict(color="black", ls="-", lw=2.4, marker="o"),
    "qr": dict(color="C0", ls="--", lw=1.6, marker="s"),
    "polar": dict(color="C1", ls=":", lw=1.8, marker="^"),
    "cayley": dict(color="C2", ls="-.", lw=1.6, marker="D"),
    "givens": dict(color="C3", ls=(0, (5, 1, 1, 1)), lw=1.6, marker="v"),
}


def _axes3d(ax, figsize=(5.5, 5.0)):
    if ax is not None:
        return ax
    fig_ax = _axes(None, figsize=figsize)
    fig = fig_ax.figure
    fig_ax.remove()
    return fig.add_subplot(projection="3d")


def _draw_sphere(ax, alpha=0.12):
    u = np.linspace(0.0, 2.0 * np.pi, 48)
    w = np.linspace(0.0, np.pi, 24)
    xs = np.outer(np.cos(u), np.sin(w))
    ys = np.outer(np.sin(u), np.sin(w))
    zs = np.outer(np.ones_like(u), np.cos(w))
    ax.plot_surface(xs, ys, zs, color="lightsteelblue", alpha=alpha, linewidth=0,
                    shade=False)
    ax.plot_wireframe(xs, ys, zs, color="gray", alpha=0.15, linewidth=0.4,
                      rstride=4, cstride=4)


def _finish_3d(ax, limit=1.25, view=None):
    ax.set_xlim(-limit, limit)
    ax.set_ylim(-limit, limit)
    ax.set_zlim(-limit, limit)
    ax.set_box_aspect((1, 1, 1))
    for axis in (ax.xaxis, ax.yaxis, ax.zaxis):
        axis.set_ticks([-1.0, 0.0, 1.0])
    ax.set_xlabel("$e_1$")
    ax.set_ylabel("$e_2$")
    ax.set_zlabel("$e_3$")
    if view is not None:
        ax.view_init(*view)


def _unit_column(x, name):
    x = np.asarray(_np(x), dtype=float).reshape(-1)
    if x.shape != (3,):
        raise ValueError(f"{name} must be a point of St(3, 1) = S², shape (3, 1) or (3,), "
                         f"got {x.size} entries")
    return x


def _np(a):
    from .backend import to_numpy

    return to_numpy(a)


def _view_from(direction):
    # matplotlib camera angles (elev, azim) of a camera on the ray `direction`
    c = np.asarray(direction, dtype=float)
    c = c / np.linalg.norm(c)
    return (float(np.degrees(np.arcsin(np.clip(c[2], -1.0, 1.0)))),
            float(np.degrees(np.arctan2(c[1], c[0]))))


def _unit(a, fallback):
    norm = np.linalg.norm(a)
    return a / norm if norm > 1e-12 else np.asarray(fallback, dtype=float)


def plot_sphere_tangent(x, v, ax=None, plane_size=0.8, view=None):
    r"""The sphere St(3, 1) = S², its tangent plane at x, a vector and its projection.

    Draws the unit sphere, the tangent plane T_x S² = {d : xᵀd = 0} as a
    square patch at x, the ambient vector ``v`` (attached at x), its
    orthogonal projection P_x(v) = v − x xᵀv onto the tangent plane, and the
    normal component x xᵀv that the projection removes.

    Parameters
    ----------
    x : array, shape (3, 1) or (3,)
        A unit vector (a point of St(3, 1)); real.
    v : array, shape (3, 1) or (3,)
        Any ambient vector (e.g. a Euclidean gradient).
    ax : mpl_toolkits.mplot3d.Axes3D, optional
        A 3-D axes to draw into (``fig.add_subplot(projection="3d")``).
    plane_size : float, default 0.8
        Half-width of the drawn tangent-plane patch.
    view : (elev, azim), optional
        Camera angles in degrees (default: looking at x from above).

    Returns
    -------
    mpl_toolkits.mplot3d.Axes3D
    """
    x = _unit_column(x, "x")
    v = _unit_column(v, "v")
    if abs(np.linalg.norm(x) - 1.0) > 1e-6:
        raise ValueError(f"x must have unit norm (a point of S²), got ‖x‖ = {np.linalg.norm(x):.3g}; "
                         f"pass x / np.linalg.norm(x)")
    ax = _axes3d(ax)
    _draw_sphere(ax)
    # orthonormal basis (e, f) of the tangent plane
    e = np.linalg.svd(x[None, :])[2][1:]
    s = np.linspace(-plane_size, plane_size, 2)
    a, b = np.meshgrid(s, s)
    plane = x[:, None, None] + e[0][:, None, None] * a + e[1][:, None, None] * b
    ax.plot_surface(*plane, color="gold", alpha=0.3, linewidth=0, shade=False)
    pv = v - x * (x @ v)
    normal = x * (x @ v)
    ax.scatter(*x, color="black", s=30, depthshade=False)
    ax.text(*(1.08 * x), "  $x$", fontsize=12)
    arrows = [
        (v, "C3", r"$v$ (ambient)"),
        (pv, "navy", r"$P_x(v) = v - x\,x^\top v$ (tangent)"),
    ]
    for vec, color, label in arrows:
        ax.quiver(*x, *vec, color=color, linewidth=2.2, arrow_length_ratio=0.12, label=label)
    ax.plot(*np.stack([x + pv, x + v]).T, ls="--", color="gray", lw=1.2,
            label=r"normal part $x\,x^\top v$")
    ax.plot([], [], color="gold", lw=8, alpha=0.5, label=r"tangent plane $T_x S^2$")
    # camera between x and the normal of the plane spanned by x and P_x(v):
    # the tangent plane is seen obliquely and all three arrows at full length
    side = _unit(np.cross(x, pv), np.cross(x, [0.0, 0.0, 1.0]) + [1e-3, 0, 0])
    _finish_3d(ax, view=view or _view_from(0.9 * x + side + 0.3 * np.array([0, 0, 1.0])))
    ax.legend(loc="upper left", fontsize=8, framealpha=0.9)
    return ax


def _retraction_curves(manifold_factory, x, v, names, t):
    curves = {}
    for name in names:
        m = manifold_factory(name)
        curves[name] = [np.asarray(_np(m.retraction(x, float(ti) * v))) for ti in t]
    return curves


def _body():
    # a paper plane near the sphere: nose at e1, wings spanning e2, fin along e3;
    # returns two triangles (wing, fin) as 3×3 arrays of column points
    nose, left, right = [1.0, 0.0, 0.0], [0.35, 0.45, 0.0], [0.35, -0.45, 0.0]
    tail, fin = [0.35, 0.0, 0.0], [0.35, 0.0, 0.35]
    return [np.array([nose, left, right]).T, np.array([nose, tail, fin]).T]


def _draw_body(ax, rotation, color, alpha):
    from mpl_toolkits.mplot3d.art3d import Poly3DCollection

    faces = [(rotation @ tri).T for tri in _body()]
    ax.add_collection3d(Poly3DCollection(faces, facecolor=color, edgecolor=color,
                                         alpha=alpha, linewidths=1.0))


def plot_retractions(x, v, retractions=None, t_max=1.5, num=7, ax=None, view=None):
    r"""Curves t ↦ R_x(tv) of several retractions beside the geodesic t ↦ exp_x(tv).

    Two pictures, chosen by the shape of ``x``:

    * x of shape (3, 1) or (3,) — a point of St(3, 1) = S²: the curves are
      drawn on the sphere. For p = 1 every retraction of orthopt moves along
      the great circle through x in the direction v; they differ in *speed*,
      which the markers at t = 0, t_max/(num−1), …, t_max make visible. Each
      curve is drawn on its own thin layer just above the sphere (radius
      1 + 0.02k) so that curves on the same great circle stay visible.
    * x of shape (3, 3) — a rotation in SO(3) acting on a body: the body
      (a paper plane with its nose at e₁) is drawn in its start pose x
      (gray) and in the end pose R_x(t_max v) of each retraction (its
      color), and the path of its nose R_x(tv)e₁ is traced. Here the
      retractions follow different paths.

    Parameters
    ----------
    x : array, shape (3, 1), (3,) or (3, 3)
        A point of S² or of SO(3); real.
    v : array, same shape as x
        A tangent vector at x (it is projected onto T_x first).
    retractions : sequence of str, optional
        Names among "qr", "polar", "cayley", "givens" (default: all four);
        the exponential map ("exp") is always drawn, as the reference.
    t_max : float, default 1.5
        End of the curves.
    num : int, default 7
        Number of markers along each curve (the curves themselves use more
        points).
    ax : mpl_toolkits.mplot3d.Axes3D, optional
    view : (elev, azim), optional
        Camera angles in degrees.

    Returns
    -------
    mpl_toolkits.mplot3d.Axes3D
    """
    from .manifolds import SpecialOrthogonal, Stiefel

    names = ["qr", "polar", "cayley", "givens"] if retractions is None else list(retractions)
    unknown = [n for n in names if n not in _RETRACTION_STYLES]
    if unknown:
        raise ValueError(f"unknown retraction(s) {unknown}; valid: qr, polar, cayley, givens, exp")
    names = ["exp"] + [n for n in names if n != "exp"]
    x_np = np.asarray(_np(x), dtype=float)
    v_np = np.asarray(_np(v), dtype=float)
    t_line = np.linspace(0.0, t_max, 61)
    t_mark = np.linspace(0.0, t_max, num)
    ax = _axes3d(ax)
    if x_np.size == 3:
        xs = x_np.reshape(3, 1)
        vs = v_np.reshape(3, 1)

        def factory(name):
            return Stiefel(3, 1, retraction=name)

        vs = factory("qr").projection(xs, vs)
        _draw_sphere(ax)
        lines = _retraction_curves(factory, xs, vs, names, t_line)
        marks = _retraction_curves(factory, xs, vs, names, t_mark)
        for k, name in enumerate(names):
            style = dict(_RETRACTION_STYLES[name])
            marker = style.pop("marker")
            # one thin layer above the sphere per curve, so that curves
            # running along the same great circle do not hide each other
            lift = 1.0 + 0.02 * k
            pts = lift * np.hstack(lines[name])
            ax.plot(*pts, label=("geodesic exp" if name == "exp" else name), **style)
            mk = lift * np.hstack(marks[name])
            ax.scatter(*mk, marker=marker, color=style["color"], s=22, depthshade=False)
        ax.scatter(*xs[:, 0], color="black", s=40, depthshade=False)
        ax.text(*(1.1 * xs[:, 0]), "  $x$", fontsize=12)
        ax.quiver(*xs[:, 0], *vs[:, 0], color="C4", lw=2, arrow_length_ratio=0.15,
                  label="$v$")
        # camera on the normal of the great circle, tilted toward x
        normal = _unit(np.cross(xs[:, 0], vs[:, 0]), [0.0, 0.0, 1.0])
        _finish_3d(ax, view=view or _view_from(normal + 0.7 * xs[:, 0]))
    elif x_np.shape == (3, 3):
        def factory(name):
            return SpecialOrthogonal(3, retraction=name)

        vs = factory("exp").projection(x_np, v_np)
        _draw_sphere(ax, alpha=0.06)
        _draw_body(ax, x_np, "gray", 0.35)
        ax.plot([], [], color="gray", lw=6, alpha=0.5, label="body at $x$")
        lines = _retraction_curves(factory, x_np, vs, names, t_line)
        for name in names:
            style = dict(_RETRACTION_STYLES[name])
            marker = style.pop("marker")
            nose = np.stack([r[:, 0] for r in lines[name]], axis=1)
            label = "geodesic exp" if name == "exp" else name
            ax.plot(*nose, label=label, **style)
            ax.scatter(*nose[:, -1], marker=marker, color=style["color"], s=30,
                       depthshade=False)
            _draw_body(ax, lines[name][-1], style["color"], 0.18)
        start, end = x_np[:, 0], lines["exp"][-1][:, 0]
        normal = _unit(np.cross(start, end), [0.0, 0.0, 1.0])
        _finish_3d(ax, limit=1.1, view=view or _view_from(normal + 0.4 * (start + end)))
    else:
        raise ValueError(
            f"x must be a point of S² (shape (3, 1)) or of SO(3) (shape (3, 3)), "
            f"got shape {x_np.shape}"
        )
    ax.legend(loc="upper left", fontsize=8, framealpha=0.9)
    return ax


def plot_unit_circle(W, labels=None, ax=None):
    r"""Eigenvalues of one or several square matrices in the complex plane.

    The eigenvalues of an orthogonal or unitary matrix lie on the unit circle
    :math:`|\lambda| = 1` (‖Wz‖ = ‖z‖ for every z, in particular for eigenvectors), which is
    why powers W^t neither grow nor decay. A free matrix spreads them inside
    and outside the circle.

    Parameters
    ----------
    W : array, shape (n, n), or sequence of such arrays
        Real or complex square matrices.
    labels : sequence of str, optional
        One legend entry per matrix (default "W", or "W 0", "W 1", ...).
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
    """
    mats = [W] if getattr(W, "ndim", None) == 2 else list(W)
    if labels is None:
        labels = ["W"] if len(mats) == 1 else [f"W {i}" for i in range(len(mats))]
    ax = _axes(ax, figsize=(4.8, 4.6))
    theta = np.linspace(0.0, 2.0 * np.pi, 400)
    ax.plot(np.cos(theta), np.sin(theta), color="gray", lw=1.0, label="unit circle |λ| = 1")
    markers = "oxs^vD"
    radius = 1.0
    for k, (mat, label) in enumerate(zip(mats, labels)):
        mat = np.asarray(_np(mat))
        if mat.ndim != 2 or mat.shape[0] != mat.shape[1]:
            raise ValueError(f"W must be square matrices, got shape {mat.shape}")
        lam = np.linalg.eigvals(mat)
        radius = max(radius, float(np.max(np.abs(lam))))
        ax.scatter(lam.real, lam.imag, s=18, marker=markers[k % len(markers)],
                   color=f"C{k}", label=label, alpha=0.85)
    lim = 1.1 * radius + 0.05
    ax.set_xlim(-lim, lim)
    ax.set_ylim(-lim, lim)
    ax.set_aspect("equal")
    ax.axhline(0.0, color="gray", lw=0.5)
    ax.axvline(0.0, color="gray", lw=0.5)
    ax.set_xlabel("Re λ")
    ax.set_ylabel("Im λ")
    ax.legend(fontsize=8, loc="upper right", framealpha=0.9)
    return ax


def plot_loadings(components, feature_names=None, ax=None, title=None, vmax=None,
                  annotate=True, zero_tol=1e-8):
    r"""Heat map of PCA loadings: one row per component, one column per feature.

    Exact zeros (absolute value ≤ ``zero_tol``) are left white, so sparsity patterns
    of different methods can be compared side by side.

    Parameters
    ----------
    components : array, shape (k, d)
        Loadings as rows (scikit-learn's ``components_``), real.
    feature_names : sequence of str, length d, optional
        Column labels (default "x0", "x1", ..., scikit-learn's names for unnamed
        features).
    ax : matplotlib Axes, optional
    title : str, optional
    vmax : float, optional
        Color scale limit (default: the largest absolute loading); pass the same value
        to several plots to compare them.
    annotate : bool, default True
        Write the value in each nonzero cell.
    zero_tol : float, default 1e-8

    Returns
    -------
    matplotlib.axes.Axes
    """
    comp = np.asarray(_np(components), dtype=float)
    if comp.ndim != 2:
        raise ValueError(f"components must be a (k, d) array, got shape {comp.shape}")
    if feature_names is None:
        feature_names = [f"x{j}" for j in range(comp.shape[1])]
    names = [str(f) for f in feature_names]
    if len(names) != comp.shape[1]:
        raise ValueError(f"{len(names)} feature names for {comp.shape[1]} features; "
                         f"pass one name per column of components")
    k, d = comp.shape
    ax = _axes(ax, figsize=(0.55 * d + 1.5, 0.5 * k + 1.4))
    vmax = float(np.max(np.abs(comp))) if vmax is None else float(vmax)
    shown = np.ma.masked_where(np.abs(comp) <= zero_tol, comp)
    image = ax.imshow(shown, cmap="RdBu_r", vmin=-vmax, vmax=vmax, aspect="auto")
    ax.set_xticks(range(d), names, rotation=60, ha="right", fontsize=8)
    ax.set_yticks(range(k), [f"PC {i + 1}" for i in range(k)], fontsize=8)
    ax.set_xticks(np.arange(-0.5, d, 1.0), minor=True)
    ax.set_yticks(np.arange(-0.5, k, 1.0), minor=True)
    ax.grid(which="minor", color="lightgray", lw=0.5)
    ax.tick_params(which="minor", length=0)
    if annotate:
        for i in range(k):
            for j in range(d):
                if abs(comp[i, j]) > zero_tol:
                    color = "white" if abs(comp[i, j]) > 0.6 * vmax else "black"
                    ax.text(j, i, f"{comp[i, j]:.2f}", ha="center", va="center",
                            fontsize=6.5, color=color)
    ax.set_xlabel("feature")
    ax.set_ylabel("component")
    nnz = int(np.sum(np.abs(comp) > zero_tol))
    ax.set_title(title if title is not None else f"loadings ({nnz} of {k * d} nonzero)",
                 fontsize=10)
    ax.figure.colorbar(image, ax=ax, shrink=0.8, label="loading")
    return ax
