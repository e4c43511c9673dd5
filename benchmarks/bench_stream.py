"""Streaming a Parquet file larger than the cache: peak memory of a fit, and a pass against pyarrow's own read.

1. Writes (once; ``--keep`` keeps it) a Parquet file of ``--rows`` × ``--features`` float64 features, a numeric
   target ``y`` and a 0/1 label, in row groups of 16,384 rows, without dictionary encoding (random floats do
   not compress), memory bounded while writing too.
2. **Read throughput**: pyarrow's own read of the file (``ParquetFile.iter_batches`` of 16,384 rows, every
   column, nothing converted; with its defaults and with ``pre_buffer=False`` as gdlearn reads: the faster is the
   reference) against one streaming pass of gdlearn (the same batches, converted to a float64
   (rows, features) array, checked for missing and non-finite values, and reduced by the log-loss kernel:
   Σℓ, Xᵀr, Σr), medians of interleaved rounds.
3. **Peak RSS** of whole fits in fresh processes (``VmHWM``: the largest resident set, the interpreter and the
   libraries included; and above what the imports alone reached): ``LinearRegression().fit(ParquetSource(...))``
   (the statistics pass, with the Gram matrix: no further reads), ``LogisticRegression(max_iter=5)`` (five
   passes more) and one epoch of mini-batches of 1,024 rows (record batches in a seeded order).

Run ``python benchmarks/bench_stream.py`` (the issue's size: 5,000,000 × 100, a 4 GB file; about 5 minutes
on 2 cores) or ``--rows 500000`` / ``--quick``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

import numpy as np
from _common import Contention, fmt_ratio, interleaved, machine_lines, markdown_table

BATCH = 16_384

# VmHWM, not ru_maxrss: Linux carries ru_maxrss over fork and exec (the parent's peak would show)
FIT = """
import sys, time, warnings

def peak():
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmHWM"))

warnings.simplefilter("ignore")
from gdlearn import LinearRegression, LogisticRegression
from gdlearn.data import ParquetSource
path, kind = sys.argv[1], sys.argv[2]
imported = peak()
t = time.perf_counter()
if kind == "linear":
    model = LinearRegression().fit(ParquetSource(path, target="y", drop=["label"]))
elif kind == "minibatch":
    model = LogisticRegression(batch_size=1024, max_iter=1).fit(ParquetSource(path, target="label", drop=["y"]))
else:
    model = LogisticRegression(solver="lbfgs", max_iter=5).fit(ParquetSource(path, target="label", drop=["y"]))
seconds = time.perf_counter() - t
print(peak(), imported, seconds, model.n_iter_)
"""


def write(path: str, rows: int, features: int) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(0)
    w = rng.normal(size=features) / np.sqrt(features)
    names = [f"x{j}" for j in range(features)]
    schema = pa.schema([(n, pa.float64()) for n in names] + [("y", pa.float64()), ("label", pa.int64())])
    with pq.ParquetWriter(path + ".tmp", schema, use_dictionary=False) as writer:  # random floats: no dictionary
        for start in range(0, rows, BATCH):
            n = min(BATCH, rows - start)
            X = rng.normal(size=(n, features))
            z = X @ w
            cols = [pa.array(X[:, j]) for j in range(features)]
            cols += [pa.array(z + rng.normal(size=n)), pa.array((z + rng.logistic(size=n) > 0).astype(np.int64))]
            writer.write_table(pa.Table.from_arrays(cols, schema=schema), row_group_size=BATCH)
    os.replace(path + ".tmp", path)


def throughput(path: str, features: int, reps: int) -> tuple[str, float]:
    import pyarrow.parquet as pq

    from gdlearn.data import ParquetSource
    from gdlearn.estimators import encode_values
    from gdlearn.losses import BinaryLogLoss

    source = ParquetSource(path, target="label", drop=["y"]).with_targets(encode_values, 1)
    W, b, loss = np.zeros((features, 1)), np.zeros(1), BinaryLogLoss()

    def pyarrow_read(**options):
        for _ in pq.ParquetFile(path, **options).iter_batches(batch_size=BATCH):
            pass

    t = interleaved({"pyarrow iter_batches, its defaults": pyarrow_read,
                     "pyarrow iter_batches, pre_buffer=False": lambda: pyarrow_read(pre_buffer=False),
                     "gdlearn pass (convert, check, kernel)": lambda: source.loss_sums(loss, W, b)},
                    reps, warmup=1)  # fmt: skip
    rows, nbytes = source.n_samples, source.n_samples * (features + 2) * 8
    base = min(t[k][0].median for k in t if k.startswith("pyarrow"))  # pyarrow's faster read
    table = [
        [name, f"{timing.median:.2f}", f"{nbytes / timing.median / 1e9:.2f}", f"{rows / timing.median / 1e6:.2f}",
         fmt_ratio(base / timing.median)]
        for name, (timing, _) in t.items()
    ]  # fmt: skip
    headers = ["one pass", "median s", "GB/s", "M rows/s", "× pyarrow's faster read"]
    ours = t["gdlearn pass (convert, check, kernel)"][0].median
    return markdown_table(headers, table, right={1, 2, 3, 4}), base / ours


def peak_rss(path: str) -> str:
    rows = []
    for kind, what in (("linear", "LinearRegression().fit (statistics and Gram: one pass)"),
                       ("logistic", "LogisticRegression(solver='lbfgs', max_iter=5).fit"),
                       ("minibatch", "LogisticRegression(batch_size=1024, max_iter=1).fit (one epoch)")):  # fmt: skip
        out = subprocess.run([sys.executable, "-c", FIT, path, kind], capture_output=True, text=True, check=True)
        rss, imported, seconds, n_iter = out.stdout.split()
        mib = int(rss) / 2**20
        rows.append([what, f"{mib:.0f}", f"{mib - int(imported) / 2**20:.0f}", f"{float(seconds):.1f}", n_iter])
    headers = ["fit, in a fresh process", "peak RSS MiB", "above the imports", "seconds", "iterations"]
    return markdown_table(headers, rows, right={1, 2, 3, 4})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=5_000_000)
    ap.add_argument("--features", type=int, default=100)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--path", default=os.path.join(os.environ.get("TMPDIR", "/tmp"), "gdlearn-bench-stream.parquet"))
    ap.add_argument("--keep", action="store_true", help="keep the generated file (reused by the next run)")
    ap.add_argument("--quick", action="store_true", help="200,000 rows, one round")
    ap.add_argument("--no-fits", action="store_true", help="only the read throughput (no peak-memory fits)")
    args = ap.parse_args()
    if args.quick:
        args.rows, args.reps = 200_000, 1
    import pyarrow

    path = f"{args.path[:-8]}-{args.rows}x{args.features}.parquet"
    t = time.perf_counter()
    if not os.path.exists(path):
        write(path, args.rows, args.features)
    made = time.perf_counter() - t
    contention = Contention()
    print("## Streaming a Parquet file\n")
    print("\n".join(machine_lines({"pyarrow": pyarrow.__version__})))
    size = os.path.getsize(path)
    print(f"- file: {args.rows:,} rows × {args.features} float64 features (+ y, label), {size / 1e9:.2f} GB on disk, "
          f"row groups of {BATCH:,} rows (written in {made:.0f} s)\n")  # fmt: skip
    table, ratio = throughput(path, args.features, args.reps)
    print(table)
    print(f"\nA streaming pass runs at {ratio:.2f}× pyarrow's own read of the same file.\n")
    if not args.no_fits:
        print(peak_rss(path))
    print(f"\n{contention.summary()}")
    if not args.keep:
        os.remove(path)


if __name__ == "__main__":
    main()
