"""Parameter names of the loss-surface plots.

``"w0"`` .. ``"w{p-1}"``, a feature name from ``feature_names_in_``, or
``"b"``, with an output index such as ``"w3[1]"`` for several outputs,
mapped to a position (row, output) in θ of shape (n_features + 1, n_outputs).
"""

from __future__ import annotations

import re

from ._common import _require_fitted

_PARAM_RE = re.compile(r"^\s*(?P<name>.+?)\s*(?:\[\s*(?P<out>\d+)\s*\])?\s*$")


def _parse_param(est, spec: str, n_features: int, n_outputs: int) -> tuple[int, int, str]:
    """Map a parameter name to (row, output, label) in θ of shape (n_features + 1, n_outputs).

    Names: ``"w0"`` .. ``"w{p-1}"``, a feature name from ``feature_names_in_``,
    or ``"b"``; with several outputs (multi-target regression, more than two
    classes) append the output index, ``"w3[1]"``, ``"b[1]"``.
    """
    m = _PARAM_RE.match(str(spec))
    if not m:
        raise ValueError(f"params: cannot read parameter name {spec!r}.")
    name, out = m.group("name"), m.group("out")
    names = [str(n) for n in getattr(est, "feature_names_in_", [])]
    if name == "b":
        if not getattr(est, "fit_intercept", True):
            raise ValueError("params: 'b' is fixed at 0 because the model has fit_intercept=False; choose two weights.")
        row, label = n_features, "b (intercept)"
    elif re.fullmatch(r"w\d+", name) and name not in names:
        row = int(name[1:])
        if row >= n_features:
            raise ValueError(f"params: {name!r} does not exist; the model has weights w0 .. w{n_features - 1}.")
        label = f"w{row}" + (f" ({names[row]})" if row < len(names) else "")
    elif name in names:
        row = names.index(name)
        label = f"w{row} ({name})"
    else:
        known = f"w0 .. w{n_features - 1}, b" + (f", or a feature name such as {names[0]!r}" if names else "")
        raise ValueError(f"params: unknown parameter {spec!r}; use {known}.")
    if out is None:
        if n_outputs > 1:
            raise ValueError(
                f"params: the model has {n_outputs} outputs (one column of W per target or class); "
                f"say which with an index, e.g. '{name}[1]'."
            )
        col = 0
    else:
        col = int(out)
        if col >= n_outputs:
            raise ValueError(f"params: {spec!r}: output index {col} is out of range; the model has {n_outputs}.")
        label = f"{label} [output {col}]"
    return row, col, label


def _param_list(params) -> list[str]:
    if isinstance(params, str):
        params = [p for p in params.split(",") if p.strip()]
    params = list(params)
    if len(params) != 2:
        raise ValueError(f"params: give exactly two parameter names, e.g. ('w0', 'b'); got {params!r}.")
    return params


def _resolve_params(est, params) -> list[tuple[int, int, str]]:
    """(row, output, label) of each of the two named parameters of a fitted estimator."""
    _require_fitted(est, "_theta", "plot_loss_surface")
    n_features, n_outputs = est.theta_.shape[0] - 1, est.theta_.shape[1]
    specs = [_parse_param(est, p, n_features, n_outputs) for p in _param_list(params)]
    if specs[0][:2] == specs[1][:2]:
        raise ValueError(f"params: the two parameters must differ; got {params!r}.")
    return specs
