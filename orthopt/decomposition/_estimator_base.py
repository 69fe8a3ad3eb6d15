"""scikit-learn conventions without importing scikit-learn at import time.

``import orthopt`` does not import scikit-learn (it is slow to import, and only
``SparsePCA.fit`` needs it, for parameter validation and ConvergenceWarning),
so the estimator does not inherit from ``sklearn.base.BaseEstimator``. This module
reimplements the parts of the convention that ``clone``, grid search,
pipelines and ``check_estimator`` rely on:

* ``get_params`` / ``set_params`` read the ``__init__`` signature: every
  constructor argument is stored unchanged as an attribute of the same name,
  and nothing else happens in ``__init__`` (validation waits for ``fit``).
* ``__repr__`` shows the parameters that differ from their defaults.
* ``__sklearn_tags__`` (imported from scikit-learn lazily, only when
  scikit-learn itself asks for the tags).
* :class:`NotFittedError` subclasses ValueError and AttributeError, like
  scikit-learn's.
"""

from __future__ import annotations

import inspect

__all__ = ["NotFittedError", "EstimatorBase"]


class NotFittedError(ValueError, AttributeError):
    """Raised when ``transform`` (or another method needing a fit) is called before ``fit``."""


class EstimatorBase:
    """get_params / set_params / repr in the scikit-learn convention."""

    @classmethod
    def _get_param_names(cls):
        signature = inspect.signature(cls.__init__)
        return sorted(
            p.name
            for p in signature.parameters.values()
            if p.name != "self" and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)
        )

    def get_params(self, deep=True):
        """Constructor parameters as a dict (``deep`` is accepted for compatibility)."""
        return {name: getattr(self, name) for name in self._get_param_names()}

    def set_params(self, **params):
        """Set constructor parameters; unknown names raise ValueError."""
        valid = self._get_param_names()
        for key, value in params.items():
            if key not in valid:
                raise ValueError(
                    f"Invalid parameter {key!r} for estimator {type(self).__name__}. "
                    f"Valid parameters are: {valid!r}."
                )
            setattr(self, key, value)
        return self

    def __repr__(self):
        signature = inspect.signature(type(self).__init__)
        parts = []
        for name in self._get_param_names():
            default = signature.parameters[name].default
            value = getattr(self, name)
            if default is inspect.Parameter.empty or not _same(value, default):
                parts.append(f"{name}={value!r}")
        return f"{type(self).__name__}({', '.join(parts)})"

    def __sklearn_tags__(self):
        from sklearn.utils import InputTags, Tags, TargetTags, TransformerTags

        return Tags(
            estimator_type=None,
            target_tags=TargetTags(required=False),
            transformer_tags=TransformerTags(preserves_dtype=["float64"]),
            input_tags=InputTags(sparse=True),
        )

    def __sklearn_is_fitted__(self):
        return getattr(self, "components_", None) is not None

    def _check_is_fitted(self):
        if not self.__sklearn_is_fitted__():
            raise NotFittedError(
                f"This {type(self).__name__} instance is not fitted yet. Call 'fit' with "
                "appropriate arguments before using this estimator."
            )


def _same(a, b):
    try:
        return bool(a is b or a == b)
    except Exception:  # arrays and other objects without a scalar ==
        return a is b
