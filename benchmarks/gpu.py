"""gdlearn on a GPU: one loss-and-gradient evaluation and a fit to the optimum, on CuPy and PyTorch CUDA arrays.

What it measures, for X of m × n float32 (default m = 1e7, n = 100: 4 GB) and the binary log loss:

* **read**: one product ``X @ w`` on the device, the least any evaluation must do (X is read once);
* **gdlearn**: one ``kernels.loss_sums`` (J, Xᵀr and Σr; W goes to the device, p + 1 numbers come back);
* **hand-written**: the same sums as a PyTorch user would write them
  (``binary_cross_entropy_with_logits``, ``sigmoid``, ``X.T @ r``);
* **fit**: ``LogisticRegression().fit`` on the device arrays against the same fit of the same data (copied to the
  host) on the CPU, with the final losses compared.

Targets (issue "Any array library, any device"): gdlearn's evaluation ≤ 1.5× one read of X; the fit on the
GPU ≥ 10× faster than on the CPU.  Medians of ``--reps`` timed rounds after one warm-up.

    python benchmarks/gpu.py                              # an NVIDIA GPU with PyTorch and/or CuPy (< 5 min)
    python benchmarks/gpu.py --device cpu --m 200000      # a dry run on the CPU (PyTorch CPU tensors)

Run it from the source tree with ``PYTHONPATH=src`` where gdlearn is not installed.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import warnings

import numpy as np


def _timer(sync):
    def timed(fn, reps):
        fn()  # warm-up: kernels compiled, memory pools filled
        sync()
        out = []
        for _ in range(reps):
            t = time.perf_counter()
            fn()
            sync()
            out.append(time.perf_counter() - t)
        return statistics.median(out)

    return timed


def _torch_case(m, n, device, seed):
    import torch

    g = torch.Generator(device=device).manual_seed(seed)
    X = torch.randn(m, n, generator=g, device=device, dtype=torch.float32)
    w_true = torch.randn(n, 1, generator=g, device=device, dtype=torch.float32) / n**0.5
    noise = torch.randn(m, 1, generator=g, device=device, dtype=torch.float32)
    y = ((X @ w_true + 0.5 * noise)[:, 0] > 0).to(torch.float32)

    def sync():
        if device != "cpu":
            torch.cuda.synchronize()

    def hand_written(w, b):
        z = X @ w + b
        value = torch.nn.functional.binary_cross_entropy_with_logits(z[:, 0], y, reduction="sum")
        r = torch.sigmoid(z) - y[:, None]
        return value.item(), (X.T @ r).cpu(), r.sum().item()

    return X, y, sync, hand_written, lambda a: a.cpu().numpy()


def _cupy_case(m, n, seed):
    import cupy as cp

    rs = cp.random.RandomState(seed)
    X = rs.standard_normal((m, n), dtype=cp.float32)
    w_true = rs.standard_normal((n, 1), dtype=cp.float32) / n**0.5
    y = ((X @ w_true + 0.5 * rs.standard_normal((m, 1), dtype=cp.float32))[:, 0] > 0).astype(cp.float32)
    return X, y, cp.cuda.Device().synchronize, None, lambda a: a.get()


def run_case(name, X, y, sync, hand_written, to_host, reps, fit_cpu):
    from gdlearn import LogisticRegression, kernels
    from gdlearn.kernels import arrayapi
    from gdlearn.losses import BinaryLogLoss

    xp = arrayapi.namespace(X)
    timed = _timer(sync)
    m, n = X.shape
    W, b = np.full((n, 1), 0.01), np.zeros(1)
    w_dev = arrayapi.to_device(W, X)
    Y = xp.reshape(y, (m, 1))
    row = {"library": name, "m": m, "n": n}
    row["read_s"] = timed(lambda: X @ w_dev, reps)
    row["gdlearn_s"] = timed(lambda: kernels.loss_sums(X, Y, None, W, b, BinaryLogLoss()), reps)
    for mib in (16, 64):  # the same sums in row blocks that stay in the device's cache between the two products
        arrayapi.LOSS_BLOCK_BYTES = mib << 20
        row[f"blocked_{mib}_s"] = timed(lambda: kernels.loss_sums(X, Y, None, W, b, BinaryLogLoss()), reps)
    arrayapi.LOSS_BLOCK_BYTES = None
    if hand_written is not None:
        w_t, b_t = w_dev, arrayapi.to_device(b, X)
        row["hand_s"] = timed(lambda: hand_written(w_t, b_t), reps)
        ours, theirs = kernels.loss_sums(X, Y, None, W, b, BinaryLogLoss()), hand_written(w_t, b_t)
        row["agree"] = abs(ours[0] - theirs[0]) / abs(theirs[0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t = time.perf_counter()
        gpu_model = LogisticRegression().fit(X, y)
        sync()
        row["fit_device_s"] = time.perf_counter() - t
        row["fit_device_iter"] = gpu_model.n_iter_
        if fit_cpu:
            X_host, y_host = to_host(X), to_host(y)
            t = time.perf_counter()
            cpu_model = LogisticRegression().fit(X_host, y_host)
            row["fit_cpu_s"] = time.perf_counter() - t
            row["fit_cpu_iter"] = cpu_model.n_iter_
            j_gpu, j_cpu = gpu_model.loss_curve_[-1], cpu_model.loss_curve_[-1]
            row["loss_gap"] = abs(j_gpu - j_cpu) / abs(j_cpu)
    return row


def report(rows) -> str:
    lines = [
        "| library | m × n | read X (ms) | gdlearn eval (ms) | ÷ read | in 16/64 MiB blocks ÷ read | "
        "hand-written (ms) | "
        "gdlearn ÷ hand | "
        "fit on device (s, iters) | fit on CPU (s, iters) | CPU ÷ device | |ΔJ|/J |",
        "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for r in rows:
        hand, cpu = r.get("hand_s"), r.get("fit_cpu_s")
        cells = [
            r["library"],
            f"{r['m']:,} × {r['n']}",
            f"{1e3 * r['read_s']:.2f}",
            f"{1e3 * r['gdlearn_s']:.2f}",
            f"{r['gdlearn_s'] / r['read_s']:.2f}",
            f"{r['blocked_16_s'] / r['read_s']:.2f} / {r['blocked_64_s'] / r['read_s']:.2f}",
            "—" if hand is None else f"{1e3 * hand:.2f}",
            "—" if hand is None else f"{r['gdlearn_s'] / hand:.2f}",
            f"{r['fit_device_s']:.2f} ({r['fit_device_iter']})",
            "—" if cpu is None else f"{cpu:.2f} ({r['fit_cpu_iter']})",
            "—" if cpu is None else f"{cpu / r['fit_device_s']:.1f}",
            "—" if cpu is None else f"{r['loss_gap']:.1e}",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--m", type=float, default=1e7, help="rows of X (default 1e7)")
    parser.add_argument("--n", type=int, default=100, help="columns of X (default 100)")
    parser.add_argument("--device", default="cuda", help="cuda (default) or cpu for a dry run with PyTorch CPU")
    parser.add_argument("--reps", type=int, default=10)
    parser.add_argument("--no-cpu-fit", action="store_true", help="skip the CPU fit (the slowest part)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    m = int(args.m)
    rows = []
    try:
        import torch

        if args.device == "cpu" or torch.cuda.is_available():
            name = "torch " + (torch.cuda.get_device_name() if args.device != "cpu" else "cpu")
            print(f"# {name}: m = {m:,}, n = {args.n}", file=sys.stderr, flush=True)
            case = _torch_case(m, args.n, args.device, args.seed)
            rows.append(run_case(name, *case, args.reps, not args.no_cpu_fit))
            del case
            if args.device != "cpu":
                torch.cuda.empty_cache()
        else:
            print("# PyTorch sees no CUDA device: skipped", file=sys.stderr)
    except ImportError:
        print("# PyTorch is not installed: skipped", file=sys.stderr)
    if args.device != "cpu":
        try:
            import cupy  # noqa: F401

            print(f"# cupy: m = {m:,}, n = {args.n}", file=sys.stderr, flush=True)
            rows.append(run_case("cupy", *_cupy_case(m, args.n, args.seed), args.reps, not args.no_cpu_fit))
        except ImportError:
            print("# CuPy is not installed: skipped", file=sys.stderr)
    if not rows:
        print("nothing to measure: no PyTorch or CuPy device here", file=sys.stderr)
        return 1
    print(report(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
