"""What the file formats cost: the data fingerprint of a checkpointed fit, a checkpoint write, save and load.

Side by side in one run, medians of interleaved rounds:

1. **Data fingerprint** (``gdlearn.checkpoint.data_fingerprint``) on 500,000 × 100 float64 X, against one
   product X @ w (a read of X at memory speed) and the SHA-256 of all of X (what 0.2.0.dev0 hashed on every
   checkpointed fit).
2. **Checkpoint writes**: a 300-iteration gd fit with a write every iteration against the same fit with none;
   the difference per write.
3. **save / load** of a small fitted model.

Run ``python benchmarks/bench_files.py`` (about a minute) or ``--quick``.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import tempfile
import warnings

import numpy as np
from _common import fmt_ratio, interleaved, machine_lines, markdown_table

from gdlearn import LinearRegression
from gdlearn.checkpoint import data_fingerprint
from gdlearn.data.source import ArraySource
from gdlearn.persistence import load, save


def fingerprint(n: int, reps: int) -> str:
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(n, 100)), rng.normal(size=(n, 1))
    data, w = ArraySource(X, Y), np.zeros((100, 1))
    t = interleaved(
        {
            "fingerprint": lambda: data_fingerprint(data),
            "X @ w": lambda: X @ w,
            "SHA-256 of X": lambda: hashlib.sha256(memoryview(X).cast("B")).hexdigest(),
        },
        reps,
    )
    base = t["X @ w"][0].median
    rows = [[name, f"{timing.median * 1e3:.1f}", fmt_ratio(timing.median / base)] for name, (timing, _) in t.items()]
    return markdown_table([f"{n:,} × 100 float64", "median ms", "÷ X @ w"], rows, right={1, 2})


def checkpoints(reps: int) -> str:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(2000, 20))
    y = X @ rng.normal(size=20)
    directory = tempfile.mkdtemp()

    def fit(every):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            LinearRegression(solver="gd", max_iter=300, tol=0, checkpoint=os.path.join(directory, "c"),
                             checkpoint_every=every).fit(X, y)  # fmt: skip

    model = LinearRegression().fit(X, y)
    path = os.path.join(directory, "m")
    save(model, path)
    t = interleaved(
        {
            "fit, no writes": lambda: fit(10**6),
            "fit, a write per iteration": lambda: fit(1),
            "save": lambda: save(model, path),
            "load": lambda: load(path),
        },
        reps,
    )
    per_write = (t["fit, a write per iteration"][0].median - t["fit, no writes"][0].median) / 300
    rows = [[name, f"{timing.median * 1e3:.2f}"] for name, (timing, _) in t.items()]
    rows.append(["→ one checkpoint write", f"{per_write * 1e3:.2f}"])
    return markdown_table(["2,000 × 20, 300 gd iterations", "median ms"], rows, right={1})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smaller X, fewer rounds")
    args = ap.parse_args()
    reps = 3 if args.quick else 7
    print("\n".join(machine_lines()))
    print()
    print(fingerprint(50_000 if args.quick else 500_000, reps))
    print()
    print(checkpoints(reps))


if __name__ == "__main__":
    main()
