"""Dask: a fit on Dask arrays and data frames equals the in-memory fit, on every scheduler, moving only small sums.

The distributed scheduler is a real ``LocalCluster`` of two worker processes (one thread each), started once for
the module.  Data are chunked unevenly (a chunk of 17 rows next to one of 333) and weighted.
"""

import contextlib
import os
import sys
import time

import dask
import dask.array as da
import dask.dataframe as dd
import distributed
import numpy as np
import pandas as pd
import pytest

from gdlearn import LinearRegression, LogisticRegression
from gdlearn.data.dask import DaskSource
from gdlearn.data.source import ArraySource
from gdlearn.losses import HalfSquaredError, MultinomialLogLoss

ROWS = (50, 200, 17, 333)  # uneven row chunks
M, P = sum(ROWS), 4


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(
        n_workers=2, processes=True, threads_per_worker=1, dashboard_address=":0", silence_logs=50
    )
    client = distributed.Client(cluster, set_as_default=False)
    yield client
    client.close()
    cluster.close()


@contextlib.contextmanager
def scheduler(name, client):
    if name == "distributed":
        with client.as_current(), dask.config.set(scheduler="distributed"):
            yield
    else:
        with dask.config.set(scheduler=name):
            yield


def problem(kind, seed=0):
    """(X, y, sample_weight) in memory: a regression, two classes or three classes (none separable)."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(M, P)) * [1.0, 3.0, 0.5, 2.0] + [0.0, 1.0, -2.0, 0.5]
    sw = rng.uniform(0.2, 3.0, size=M)
    if kind == "linear":
        y = X @ rng.normal(size=P) + 1.5 + rng.normal(size=M)
    elif kind == "binary":
        y = (X @ rng.normal(size=P) + rng.logistic(size=M) > 0.3).astype(int)
    else:
        y = np.argmax(X @ rng.normal(size=(P, 3)) + rng.gumbel(size=(M, 3)), axis=1)
    return X, y, sw


def chunked(X, y, sw):
    return (
        da.from_array(X, chunks=(ROWS, (P,))),
        da.from_array(y, chunks=(ROWS,)),
        da.from_array(sw, chunks=(ROWS,)),
    )


MODELS = {"linear": LinearRegression, "binary": LogisticRegression, "multiclass": LogisticRegression}


@pytest.mark.parametrize("sched", ["synchronous", "threads", "distributed"])
@pytest.mark.parametrize("kind", ["linear", "binary", "multiclass"])
def test_dask_fit_equals_in_memory_fit(client, sched, kind):
    X, y, sw = problem(kind)
    want = MODELS[kind](tol=1e-10).fit(X, y, sample_weight=sw)
    with scheduler(sched, client):
        got = MODELS[kind](tol=1e-10).fit(*chunked(X, y, sw))
        pred = got.predict(da.from_array(X, chunks=(ROWS, (P,))))
        assert isinstance(pred, da.Array)
        pred = pred.compute()
    np.testing.assert_allclose(got.coef_, want.coef_, rtol=0, atol=1e-8)
    np.testing.assert_allclose(got.intercept_, want.intercept_, rtol=0, atol=1e-8)
    assert got.solver_ == want.solver_ and got.converged_
    assert type(got.coef_) is np.ndarray and got.n_features_in_ == P
    if kind == "linear":
        np.testing.assert_allclose(pred, want.predict(X), rtol=1e-10)
        coef, *_ = np.linalg.lstsq(np.c_[X, np.ones(M)] * np.sqrt(sw)[:, None], y * np.sqrt(sw), rcond=None)
        np.testing.assert_allclose(np.r_[got.coef_, got.intercept_], coef, rtol=1e-7)  # the weighted least squares
    else:
        np.testing.assert_array_equal(got.classes_, np.unique(y))
        np.testing.assert_array_equal(pred, want.predict(X))


def test_lbfgs_and_l2_on_the_cluster(client):
    """A first-order path (L-BFGS with power-iteration step, diagonal scaling) equals the in-memory one too."""
    X, y, sw = problem("multiclass", seed=1)
    params = dict(solver="lbfgs", l2=2.0, tol=1e-9, precondition="diagonal")
    want = LogisticRegression(**params).fit(X, y, sample_weight=sw)
    with scheduler("distributed", client):
        got = LogisticRegression(**params).fit(*chunked(X, y, sw))
        proba = got.predict_proba(da.from_array(X, chunks=(ROWS, (P,))))
        assert isinstance(proba, da.Array) and proba.shape == (M, 3)
        np.testing.assert_allclose(proba.compute(), want.predict_proba(X), atol=1e-8)
    np.testing.assert_allclose(got.coef_, want.coef_, atol=1e-8)
    assert got.n_iter_ == want.n_iter_


def test_data_frames_and_text_labels():
    X, y, _ = problem("multiclass", seed=2)
    frame = pd.DataFrame(X, columns=["a", "b", "c", "d"]).assign(label=np.array(["cat", "dog", "eel"])[y])
    want = LogisticRegression(tol=1e-10).fit(frame[["a", "b", "c", "d"]], frame["label"])
    ddf = dd.from_pandas(frame, npartitions=3)
    with dask.config.set(scheduler="threads"):
        got = LogisticRegression(tol=1e-10).fit(ddf[["a", "b", "c", "d"]], ddf["label"])
        labels = got.predict(ddf[["a", "b", "c", "d"]]).compute()
        with pytest.raises(ValueError, match="columns"):
            got.predict(ddf[["b", "a", "c", "d"]])
    np.testing.assert_allclose(got.coef_, want.coef_, atol=1e-8)
    assert list(got.classes_) == ["cat", "dog", "eel"] and list(got.feature_names_in_) == ["a", "b", "c", "d"]
    np.testing.assert_array_equal(labels, want.predict(frame[["a", "b", "c", "d"]]))


class Recorder:
    """A scheduler that records, for each compute, the number of tasks and of bytes returned."""

    def __init__(self):
        self.calls = []

    def __call__(self, dsk, keys, **kwargs):
        out = dask.get(dsk, keys, **kwargs)
        size = sum(np.asarray(a).nbytes for a in _leaves(out))
        self.calls.append((len(dsk.__dask_graph__()), size))
        return out


def _leaves(x):
    if isinstance(x, (list, tuple)):
        for item in x:
            yield from _leaves(item)
    elif x is not None:
        yield x


def test_one_small_graph_per_evaluation():
    """Each sum is one compute of about one task per chunk (tree of fan-in 8), returning O(p·k) numbers."""
    rng = np.random.default_rng(3)
    X, Y = rng.normal(size=(M, P)), np.eye(3)[rng.integers(0, 3, size=M)]
    rows = (20,) * 28 + (40,)
    src = DaskSource(*dask.persist(da.from_array(X, chunks=(rows, (P,))), da.from_array(Y, chunks=(rows, (3,)))))
    ref = ArraySource(X, Y)
    W, b = rng.normal(size=(P, 3)), rng.normal(size=3)
    rec = Recorder()
    with dask.config.set(scheduler=rec):
        got = src.loss_sums(MultinomialLogLoss(), W, b)
        stats = src.statistics(center=True, gram=True, targets=False)
    want = ref.loss_sums(MultinomialLogLoss(), W, b)
    for a, c in zip(got, want):
        np.testing.assert_allclose(a, c, rtol=1e-12)
    np.testing.assert_allclose(stats.gram, ref.statistics(center=True, gram=True).gram, rtol=1e-12, atol=1e-15)
    assert len(rec.calls) == 2  # the loss sums; the statistics in one pass (blocks merged on the workers)
    for tasks, size in rec.calls:
        assert tasks <= 3 * len(rows) + 8  # the chunks of X and Y, one task per chunk, the additions, the parameters
        assert size <= 8 * (P + 3) ** 2 + 200  # small: sums of the size of the parameters (or the Gram matrix)


def held_chunks(client, src):
    """{worker: the row counts of the chunks that ``src``'s actors hold there, one list per group (thread)}.

    Only ``src``'s own actors: those of a source from an earlier test on the shared cluster may not be released yet.
    """

    def rows(keys, dask_worker):
        holders = [dask_worker.state.actors[k] for k in keys if k in dask_worker.state.actors]
        return [[len(chunk[0]) for chunk in group] for h in holders for group in h.groups]

    return client.run(rows, [f.key for f in src._actor_futures])


@pytest.mark.parametrize("on_one_worker", [False, True])
@pytest.mark.parametrize("rows", [ROWS, (20,) * 28 + (40,)])
def test_on_a_cluster_each_worker_sums_the_chunks_it_holds_without_the_scheduler(client, rows, on_one_worker):
    """No rows move and no task runs per evaluation: each worker's actor adds the parts of the chunks its worker holds.

    Chunks of X, Y and s that persist put apart are brought together once; all chunks on one worker are shared out.
    """
    rng = np.random.default_rng([6, len(rows), on_one_worker])  # keys of their own: none left by another case
    X, Y, sw = rng.normal(size=(M, P)), np.eye(3)[rng.integers(0, 3, size=M)], rng.uniform(0.5, 2.0, size=M)
    ref = ArraySource(X, Y, sw)
    W, b = rng.normal(size=(P, 3)), rng.normal(size=3)
    with scheduler("distributed", client):
        arrays = (
            da.from_array(X, chunks=(rows, (P,))),
            da.from_array(Y, chunks=(rows, (3,))),
            da.from_array(sw, chunks=rows),
        )
        first = sorted(client.nthreads())[0]
        arrays = client.persist(arrays, workers=[first]) if on_one_worker else dask.persist(*arrays)
        distributed.wait(arrays)
        if on_one_worker:
            assert set(client.who_has(distributed.futures_of(arrays[0])).values()) == {(first,)}
        src = DaskSource(*arrays)
        held = held_chunks(client, src)
        with distributed.get_task_stream(client) as stream:
            got = src.loss_sums(MultinomialLogLoss(), W, b)
            maxima = src.max_abs()
    for a, c in zip(got, ref.loss_sums(MultinomialLogLoss(), W, b)):
        np.testing.assert_allclose(a, c, rtol=1e-12)
    np.testing.assert_array_equal(maxima[0], abs(X).max(0))
    assert stream.data == []  # two evaluations: no task, no transfer
    assert sorted(n for groups in held.values() for g in groups for n in g) == sorted(rows)  # every chunk, once
    share = -(-len(rows) // 2)
    assert all(len(groups) == 1 and 1 <= len(groups[0]) <= share for groups in held.values())  # 1 thread each


def test_a_worker_with_several_threads_sums_a_group_per_thread_and_unpersisted_data_take_a_graph():
    rng = np.random.default_rng(8)
    X, Y = rng.normal(size=(M, P)), rng.normal(size=(M, 2))
    W, b = rng.normal(size=(P, 2)), rng.normal(size=2)
    want = ArraySource(X, Y).curvature_sums(W, b)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=3, processes=False, dashboard_address=":0") as cl:
        with distributed.Client(cl) as c:
            Xd = da.from_array(X, chunks=(ROWS, (P,)))
            Yd = da.from_array(Y, chunks=(ROWS, (2,)))
            for arrays, persisted in ((dask.persist(Xd, Yd), True), ((dask.persist(Xd)[0], Yd), False)):
                distributed.wait([a for a in arrays if distributed.futures_of(a)])
                src = DaskSource(*arrays)
                with distributed.get_task_stream(c) as stream:
                    got = src.curvature_sums(W, b)
                for a, w in zip(got, want):
                    np.testing.assert_allclose(a, w, rtol=1e-12)
                if persisted:  # 4 chunks on one worker of 3 threads: 3 groups, summed by the actor, no task
                    (groups,) = held_chunks(c, src).values()
                    assert sorted(map(len, groups)) == [1, 1, 2] and stream.data == []
                else:  # Y not persisted: one graph with a task per chunk of X and of Y, and the additions
                    assert len(stream.data) > len(ROWS)
                del src


def test_a_lost_worker_falls_back_to_tasks_that_recompute_its_chunks():
    rng = np.random.default_rng(9)
    X, Y = rng.normal(size=(M, P)), rng.normal(size=(M, 1))
    W, b = rng.normal(size=(P, 1)), rng.normal(size=1)
    want = ArraySource(X, Y).loss_sums(HalfSquaredError(), W, b)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=":0", silence_logs=50) as cl:
        with distributed.Client(cl) as c:
            arrays = dask.persist(da.from_array(X, chunks=(ROWS, (P,))), da.from_array(Y, chunks=(ROWS, (1,))))
            distributed.wait(arrays)
            src = DaskSource(*arrays)
            before = src.loss_sums(HalfSquaredError(), W, b)
            lost = sorted(c.nthreads())[0]
            with contextlib.suppress(Exception):  # the worker process dies: its chunks and its actor with it
                c.run(os._exit, 1, workers=[lost])
            while lost in c.nthreads():
                time.sleep(0.05)
            with distributed.get_task_stream(c) as stream:
                after = src.loss_sums(HalfSquaredError(), W, b)
    for a, x, w in zip(before, after, want):
        np.testing.assert_allclose(a, w, rtol=1e-12)
        np.testing.assert_allclose(x, w, rtol=1e-12)
    assert stream.data  # the tasks' path


@pytest.mark.filterwarnings("ignore::gdlearn.exceptions.ConvergenceWarning")
def test_a_dask_fit_computes_only_small_results():
    X, y, sw = problem("binary", seed=4)
    Xd, yd, swd = dask.persist(*chunked(X, y, sw), scheduler="synchronous")
    rec = Recorder()
    with dask.config.set(scheduler=rec):
        model = LogisticRegression(solver="lbfgs", max_iter=10, tol=0).fit(Xd, yd, sample_weight=swd)
    assert len(rec.calls) >= model.n_iter_ == 10
    sizes = [size for _, size in rec.calls]
    assert sizes[0] == M * (P + 2) * 8 and sizes[2] == M * 8  # persisting X, y, s, then the encoded Y: locally
    assert max(sizes[1:2] + sizes[3:]) < 1000  # everything else: sums of the size of the parameters


def test_minibatches_walk_whole_chunks_in_a_seeded_order():
    X, y, sw = problem("linear", seed=5)
    exact = LinearRegression(tol=1e-10).fit(X, y, sample_weight=sw)
    with dask.config.set(scheduler="synchronous"):
        fits = [
            LinearRegression(solver="gd", batch_size=32, max_iter=30, random_state=7).fit(*chunked(X, y, sw))
            for _ in range(2)
        ]
    np.testing.assert_array_equal(fits[0].coef_, fits[1].coef_)  # reproducible
    np.testing.assert_allclose(fits[0].coef_, exact.coef_, atol=0.05)  # and near the optimum (averaged iterate)


def test_dask_input_is_checked_without_loading_it():
    X, y, sw = problem("linear")
    Xd, yd, swd = chunked(X, y, sw)
    with dask.config.set(scheduler="synchronous"):
        bad = X.copy()
        bad[400, 2] = np.nan
        with pytest.raises(ValueError, match="NaN or infinity"):
            LinearRegression().fit(da.from_array(bad, chunks=(ROWS, (P,))), yd)
        with pytest.raises(ValueError, match="600 rows but y has 599"):
            LinearRegression().fit(Xd, yd[:-1])
        with pytest.raises(ValueError, match="negative"):
            LinearRegression().fit(Xd, yd, sample_weight=-swd)
        with pytest.raises(ValueError, match="validation_fraction"):
            LinearRegression(validation_fraction=0.2).fit(Xd, yd)
        with pytest.raises(ValueError, match="continuous"):
            LogisticRegression().fit(Xd, yd)
        model = LinearRegression().fit(Xd, yd)
        with pytest.raises(ValueError, match="expecting 4 features"):
            model.predict(Xd[:, :3])
    assert LinearRegression().fit(X, y).n_features_in_ == model.n_features_in_


@pytest.mark.filterwarnings("ignore::gdlearn.exceptions.ConvergenceWarning")
def test_gram_source_from_a_dask_fit_reads_x_a_fixed_number_of_times():
    """The squared loss on Dask: statistics and the Gram matrix, then no pass over X, whatever the iterations."""
    X, y, sw = problem("linear", seed=6)
    rec = Recorder()
    Xd, yd, swd = dask.persist(*chunked(X, y, sw), scheduler="synchronous")
    with dask.config.set(scheduler=rec):
        model = LinearRegression(solver="gd", learning_rate=1e-3, max_iter=200, tol=0).fit(Xd, yd, sample_weight=swd)
    assert model.n_iter_ == 200
    assert len(rec.calls) <= 7  # validation, persisting Y, target mean, the statistics pass...: not 200


def test_missing_dask_names_the_extra(monkeypatch):
    from gdlearn.data.dask import DaskTable

    monkeypatch.setitem(sys.modules, "dask", None)
    with pytest.raises(ImportError, match=r"gdlearn\[dask\]"):
        DaskTable(np.ones((3, 2)), np.ones(3), None, estimator="LinearRegression", classifier=False)


def test_classes_given_up_front_on_dask_equal_the_in_memory_partial_fit():
    """partial_fit(..., classes=) on Dask: one epoch over the chunks, the model of the same rows in memory."""
    X, y, sw = problem("multiclass", seed=10)
    params = dict(solver="gd", random_state=3)  # one full-batch step per call: the same on both
    want = LogisticRegression(**params).partial_fit(X, y, sample_weight=sw, classes=[0, 1, 2, 7])
    with dask.config.set(scheduler="synchronous"):
        Xd, yd, swd = chunked(X, y, sw)
        got = LogisticRegression(**params).partial_fit(Xd, yd, sample_weight=swd, classes=[0, 1, 2, 7])
    np.testing.assert_array_equal(got.classes_, [0, 1, 2, 7])
    assert got.coef_.shape == (4, P)
    np.testing.assert_allclose(got.coef_, want.coef_, atol=1e-12)
