"""Tests that kill surviving mutants of the model file format (issue "Tests that can fail").

``gdlearn.persistence``: files are read and forged by hand here (safetensors' layout, the canonical header and
its SHA-256 written out with ``json`` and ``hashlib``), and every message a refusal must give is stated in full.
"""

import hashlib
import json
import os
import warnings

import numpy as np
import pandas as pd
import pytest
import safetensors.numpy
from sklearn import exceptions, linear_model

from gdlearn import LinearRegression, LogisticRegression
from gdlearn.persistence import ModelFileError, load, save, show

SOLVER_LIST = "'gd', 'momentum', 'nesterov', 'adagrad', 'rmsprop', 'adam', 'fista', 'lbfgs', 'newton'"


def fit(model, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return model.fit(X, y)


def problem(n=40, p=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p))
    return X, X @ np.arange(1.0, p + 1) + 0.5 + 0.1 * rng.normal(size=n)


# ---------------------------------------------------------------- files by hand
def parse(path):
    """(header without its checksum, arrays) of a model file, read with json and safetensors only."""
    data = open(path, "rb").read()
    size = int.from_bytes(data[:8], "little")
    header = json.loads(json.loads(data[8 : 8 + size])["__metadata__"]["gdlearn"])
    header.pop("sha256")
    return header, safetensors.numpy.load(data)


def canonical(obj):
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def sealed(header, arrays):
    """A gdlearn file written by hand: the checksum of docs/reliability.md, then safetensors' layout (float64 only)."""
    h = hashlib.sha256(b"gdlearn-file\x00" + canonical(header).encode("ascii"))
    for name in sorted(arrays):
        a = np.asarray(arrays[name], dtype="<f8")
        h.update(b"\x00" + name.encode() + b"\x00" + b"<f8" + str(a.shape).encode() + b"\x00" + a.tobytes())
    layout, offset, body = {}, 0, b""
    for name in sorted(arrays):
        raw = np.ascontiguousarray(arrays[name], dtype="<f8").tobytes()
        layout[name] = {
            "dtype": "F64",
            "shape": list(np.shape(arrays[name])),
            "data_offsets": [offset, offset + len(raw)],
        }
        offset, body = offset + len(raw), body + raw
    layout["__metadata__"] = {"gdlearn": canonical({**header, "sha256": h.hexdigest()})}
    text = json.dumps(layout).encode()
    return len(text).to_bytes(8, "little") + text + body


def refusal(path, data):
    """The message of the ModelFileError that loading ``data`` (written to ``path``) raises."""
    path.write_bytes(data)
    with pytest.raises(ModelFileError) as info:
        load(path)
    prefix = f"Cannot load model file {str(path)!r}: "
    assert str(info.value).startswith(prefix)
    return str(info.value)[len(prefix) :]


@pytest.fixture(scope="module")
def models():
    X, y = problem()
    return {
        "linear": fit(LinearRegression(), X, y),
        "multi": fit(LinearRegression(), X, np.c_[y, -2 * y]),
        "binary": fit(LogisticRegression(), X, np.where(X[:, 0] > 0, "yes", "no")),
    }


@pytest.fixture
def forge(tmp_path, models):
    """forge(name, edit): the saved model ``name``, its header and arrays changed by ``edit``, re-sealed by hand."""

    def make(name, edit):
        save(models[name], tmp_path / "orig.gdlearn")
        header, arrays = parse(tmp_path / "orig.gdlearn")
        edit(header, arrays)
        return sealed(header, arrays)

    return make


# ---------------------------------------------------------------- what is saved comes back
def test_one_feature_gd_model_keeps_path_step_lipschitz_target_name_and_1d_predictions(tmp_path):
    X, y = problem(p=1)
    model = fit(LinearRegression(solver="gd", record_path=True, max_iter=5), X, y)
    model.target_name_ = "price"  # as the command line sets it
    assert model.learning_rate_ is not None and model.lipschitz_ is not None
    save(model, path := tmp_path / "m.gdlearn")
    header, arrays = parse(path)
    assert header["target_name"] == "price" and header["n_features_in"] == 1
    assert sorted(arrays) == [
        "coef",
        "history/grad_norm",
        "history/loss",
        "intercept",
        "learning_rate",
        "lipschitz",
        "path",
    ]
    assert arrays["learning_rate"].shape == () and float(arrays["learning_rate"]) == model.learning_rate_
    assert arrays["lipschitz"].shape == () and float(arrays["lipschitz"]) == model.lipschitz_
    assert arrays["path"].dtype == np.float64 and np.array_equal(arrays["path"], np.asarray(model.path_))
    assert np.asarray(model.path_).shape == (len(model.loss_curve_), 2) and len(model.loss_curve_) >= 2
    loaded = load(path)
    assert loaded.target_name_ == "price" and loaded.n_features_in_ == 1
    assert type(loaded.learning_rate_) is float and loaded.learning_rate_ == model.learning_rate_
    assert type(loaded.lipschitz_) is float and loaded.lipschitz_ == model.lipschitz_
    assert np.array_equal(loaded.path_, model.path_) and loaded.loss_curve_ == model.loss_curve_
    assert loaded.predict(X).shape == (40,) and np.array_equal(loaded.predict(X), model.predict(X))


@pytest.mark.parametrize("outputs", [1, 2, 3])
def test_a_path_of_several_outputs_and_a_2d_target_come_back(tmp_path, outputs):
    X, y = problem()
    Y = np.c_[y, -y, 2 * y][:, :outputs]
    model = fit(LinearRegression(solver="gd", record_path=True, max_iter=5), X, Y)
    assert np.asarray(model.path_).shape == (len(model.loss_curve_), *((outputs,) if outputs > 1 else ()), 4)
    save(model, path := tmp_path / "m.gdlearn")
    loaded = load(path)
    assert np.array_equal(loaded.path_, model.path_)
    # (a target given as one column predicts one column)
    assert loaded.predict(X).shape == (40, outputs) and np.array_equal(loaded.predict(X), model.predict(X))


def test_feature_names_come_back_as_an_object_array(tmp_path):
    X, y = problem()
    model = fit(LinearRegression(), pd.DataFrame(X, columns=["a", "b", "c"]), y)
    save(model, path := tmp_path / "m.gdlearn")
    names = load(path).feature_names_in_
    assert names.dtype == object and names.tolist() == ["a", "b", "c"]


def test_labels_held_as_numpy_strings_in_an_object_array_are_saved_as_plain_strings(tmp_path):
    X, _ = problem()
    y = np.array([np.str_("yes") if v > 0 else np.str_("no") for v in X[:, 0]], dtype=object)
    model = fit(LogisticRegression(), X, y)
    assert type(model.classes_[0]) is np.str_
    save(model, path := tmp_path / "m.gdlearn")
    assert parse(path)[0]["classes"] == {"dtype": "|O", "values": ["no", "yes"]}
    loaded = load(path)
    assert loaded.classes_.dtype == object and loaded.classes_.tolist() == ["no", "yes"]


# ---------------------------------------------------------------- what save refuses, in words
def test_save_names_what_it_refuses(tmp_path, models):
    X, y = problem()
    path = tmp_path / "m.gdlearn"
    mine = fit(type("MyRegression", (LinearRegression,), {})(), X, y)
    for model in (linear_model.LinearRegression().fit(X, y), mine):
        with pytest.raises(TypeError) as info:
            save(model, path)
        name = type(model).__qualname__
        assert str(info.value) == f"save() supports gdlearn's LinearRegression and LogisticRegression; got {name}."
    unfitted = LinearRegression()
    unfitted.target_name_ = "price"  # an attribute ending in "_" does not make it fitted
    with pytest.raises(exceptions.NotFittedError):
        save(unfitted, path)
    broken = fit(LinearRegression(), X, y)
    broken._theta[1, 0] = np.inf
    with pytest.raises(ValueError) as info:
        save(broken, path)
    assert str(info.value) == (
        f"Cannot save model to {str(path)!r}: its coefficients contain NaN or infinity (a diverged fit?); "
        "such a model predicts nothing useful. Refit it with a smaller learning rate."
    )
    assert not path.exists()


def test_save_refuses_date_labels_naming_the_first_three(tmp_path):
    X, _ = problem()
    days = np.array(["2020-01-01", "2021-01-01", "2022-01-01", "2023-01-01"], dtype="M8[ns]")
    model = fit(LogisticRegression(max_iter=5), X, days[np.digitize(X[:, 0], [-0.5, 0.0, 0.5])])
    assert model.classes_.dtype == np.dtype("M8[ns]")
    with pytest.raises(ValueError) as info:
        save(model, path := tmp_path / "m.gdlearn")
    ns = [1577836800000000000, 1609459200000000000, 1640995200000000000]  # nanoseconds since 1970 of the first three
    assert str(info.value) == (
        f"Cannot save model to {str(path)!r}: class labels {ns!r}... of dtype datetime64[ns] cannot be represented."
    )


# ---------------------------------------------------------------- what load refuses, in words
def _set(field, value):
    def edit(header, arrays):
        *parents, last = field.split(".")
        node = header
        for key in parents:
            node = node[key]
        node[last] = value

    return edit


FORGED = [
    (
        "linear",
        "kind",
        "Ridge",
        "unknown model kind 'Ridge'; this gdlearn knows 'LinearRegression', 'LogisticRegression'",
    ),
    ("binary", "target_ndim", 1, "target_ndim must be null for LogisticRegression"),
    ("binary", "fitted.n_iter_", -1, "fitted.n_iter_ and fitted.best_iteration_ must be non-negative integers"),
    ("linear", "fitted.solver_", "auto", f"fitted.solver_ must be one of {SOLVER_LIST}, found 'auto'"),
    ("binary", "classes", {"dtype": "<U3"}, "classes must be {'dtype': ..., 'values': [...]}"),
    (
        "binary",
        "classes",
        {"dtype": "|O", "values": [1, "a"]},
        "classes.values must be labels of one type (bool, int, float or str)",
    ),
    (
        "linear",
        "params.random_state",
        {"random_state": [[1, 2], 0, 0, 0.0]},
        "its contents are malformed (ValueError: the RandomState must have 624 key words, a position in [0, 624] "
        "and has_gauss 0 or 1)",
    ),
]


@pytest.mark.parametrize(("name", "field", "value", "message"), FORGED)
def test_forged_headers_are_refused_in_these_words(tmp_path, forge, name, field, value, message):
    assert refusal(tmp_path / "f.gdlearn", forge(name, _set(field, value))) == message


def test_unknown_parameters_are_all_named_in_order(tmp_path, forge):
    def edit(header, arrays):
        header["params"].update(beta=2.0, alpha=1.0)

    message = "params has unknown parameter(s) 'alpha', 'beta' for LinearRegression"
    assert refusal(tmp_path / "f.gdlearn", forge("linear", edit)) == message


def test_non_finite_coefficients_are_refused_in_these_words(tmp_path, forge):
    def edit(header, arrays):
        arrays["intercept"] = np.array([np.nan])

    message = "coef or intercept contains NaN or infinity; a model predicts nothing useful with them"
    assert refusal(tmp_path / "f.gdlearn", forge("linear", edit)) == message


def test_a_2d_target_with_no_output_rows_is_refused(tmp_path, forge):
    def edit(header, arrays):
        arrays["coef"], arrays["intercept"] = np.zeros((0, 3)), np.zeros(0)

    message = "coef must be float64 of shape (1, 3), found float64 of shape (0, 3)"
    assert refusal(tmp_path / "f.gdlearn", forge("multi", lambda h, a: (_set("target_ndim", 2)(h, a), edit(h, a)))) == (
        message
    )


def test_a_checkpoint_is_refused_with_advice(tmp_path):
    header = {"format": "gdlearn-checkpoint", "format_version": 3, "gdlearn_version": "0.2.0"}
    assert refusal(tmp_path / "c.gdlearn", sealed(header, {"x": np.zeros(2)})) == (
        "it is a training checkpoint, not a model; continue the fit with fit(X, y, resume=True) and checkpoint set "
        "to this file (or 'gdlearn train ... --resume')"
    )


def test_a_model_of_zero_iterations_loads(tmp_path, forge):
    (path := tmp_path / "f.gdlearn").write_bytes(forge("linear", _set("fitted.n_iter_", 0)))
    assert load(path).n_iter_ == 0


def test_labels_up_to_exactly_the_size_limit_are_accepted():
    from gdlearn.persistence import _decode_labels

    def fail(problem):
        raise AssertionError(problem)

    values = [f"c{i:02d}" for i in range(32)]  # 32 labels of 4 × 524,288 bytes: 2²⁶ bytes, the limit exactly
    labels = _decode_labels({"dtype": "<U524288", "values": values}, fail)
    assert labels.tolist() == values and labels.nbytes == 64 * 2**20


# ---------------------------------------------------------------- show
def test_show_prints_indented_strict_json(tmp_path):
    header = {"format": "gdlearn-model", "format_version": 2, "gdlearn_version": "9.9", "kind": "K"}
    (path := tmp_path / "m.gdlearn").write_bytes(sealed(header, {"v": np.array([0.25, np.nan, np.inf, -np.inf])}))
    assert show(path) == "\n".join(
        [
            "{",
            ' "header": {',
            '  "format": "gdlearn-model",',
            '  "format_version": 2,',
            '  "gdlearn_version": "9.9",',
            '  "kind": "K"',
            " },",
            ' "arrays": {',
            '  "v": {',
            '   "dtype": "float64",',
            '   "shape": [',
            "    4",
            "   ],",
            '   "values": [',
            "    0.25,",
            '    "nan",',
            '    "inf",',
            '    "-inf"',
            "   ]",
            "  }",
            " }",
            "}",
        ]
    )


def test_show_refuses_files_over_one_gibibyte_before_reading_them(tmp_path):
    path = tmp_path / "big.gdlearn"
    with open(path, "wb") as f:
        f.truncate(2**30 + 1)  # sparse: no disk space used
    with pytest.raises(ModelFileError) as info:
        show(path)
    assert (
        str(info.value)
        == f"Cannot load model file {str(path)!r}: the file is larger than the limit of 1,073,741,824 bytes"
    )
    os.unlink(path)
