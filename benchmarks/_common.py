"""Shared helpers of the gdlearn benchmark scripts (not part of gdlearn).

Machine description, thread pinning, repeated timing and markdown tables.
The scripts run as ``python benchmarks/<script>.py``, so this module is
imported from the script's own directory.
"""

from __future__ import annotations

import contextlib
import gc
import os
import platform
import statistics
import sys
import time
from dataclasses import dataclass

import numpy as np

try:  # threadpoolctl comes with scikit-learn, so it is normally there
    import threadpoolctl
except ImportError:  # pragma: no cover - fallback, numpy.show_config below
    threadpoolctl = None

THREAD_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


# ---------------------------------------------------------------- the machine
def _cpuinfo() -> dict:
    info = {}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                key = key.strip()
                if key in ("model name", "cpu family", "model", "flags") and key not in info:
                    info[key] = value.strip()
    except OSError:
        pass
    return info


def _cache_sizes() -> str:
    sizes = []
    base = "/sys/devices/system/cpu/cpu0/cache"
    for index in sorted(os.listdir(base)) if os.path.isdir(base) else []:
        try:
            with open(f"{base}/{index}/level") as f:
                level = f.read().strip()
            with open(f"{base}/{index}/type") as f:
                kind = f.read().strip()
            with open(f"{base}/{index}/size") as f:
                size = f.read().strip()
        except OSError:
            continue
        if kind != "Instruction":
            sizes.append(f"L{level} {size}")
    return ", ".join(sizes)


def _mem_total_gib() -> float | None:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) / 2**20
    except OSError:
        pass
    return None


def blas_info() -> list[dict]:
    """The thread pools numpy/scipy/sklearn use (threadpoolctl), or [] without it."""
    if threadpoolctl is None:
        return []
    return threadpoolctl.threadpool_info()


def machine_lines(extra_versions: dict | None = None) -> list[str]:
    """Markdown bullet lines that describe the machine and the software."""
    import scipy
    import sklearn

    import gdlearn

    cpu = _cpuinfo()
    flags = set(cpu.get("flags", "").split())
    simd = ", ".join(f for f in ("avx2", "fma", "avx512f") if f in flags) or "no AVX"
    try:
        affinity = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        affinity = os.cpu_count()
    mem = _mem_total_gib()
    lines = [
        f"- CPU: {cpu.get('model name', platform.processor() or 'unknown')} "
        f"(family {cpu.get('cpu family', '?')}, model {cpu.get('model', '?')}; {simd}); "
        f"caches: {_cache_sizes() or 'unknown'}",
        f"- cores usable: {affinity} (os.cpu_count() = {os.cpu_count()}); memory: "
        + (f"{mem:.1f} GiB" if mem else "unknown"),
        f"- {platform.system()} {platform.release()}, Python {platform.python_version()}",
        f"- gdlearn {gdlearn.__version__}, numpy {np.__version__}, scipy {scipy.__version__}, "
        f"scikit-learn {sklearn.__version__}" + "".join(f", {k} {v}" for k, v in (extra_versions or {}).items()),
        "- thread variables: " + ", ".join(f"{k}={os.environ.get(k, 'unset')}" for k in THREAD_ENV),
    ]
    pools = blas_info()
    if pools:
        for p in pools:
            lines.append(
                f"- thread pool: {p.get('internal_api')} {p.get('version') or ''} "
                f"({p.get('user_api')}, arch {p.get('architecture', 'n/a')}, "
                f"{p.get('threading_layer', 'n/a')}), {p.get('num_threads')} threads, "
                f"{os.path.basename(p.get('filepath', ''))}"
            )
    else:
        lines.append("- threadpoolctl missing; numpy.show_config():")
        with contextlib.redirect_stdout(sys.stderr):
            np.show_config()
    return lines


def default_threads() -> int:
    """Threads the BLAS uses now (respects OMP_NUM_THREADS / OPENBLAS_NUM_THREADS)."""
    blas = [p["num_threads"] for p in blas_info() if p.get("user_api") == "blas"]
    return max(blas) if blas else (os.cpu_count() or 1)


_CONTROLLER = None


def _controller():
    global _CONTROLLER
    if _CONTROLLER is None and threadpoolctl is not None:
        _CONTROLLER = threadpoolctl.ThreadpoolController()
    return _CONTROLLER


@contextlib.contextmanager
def thread_limit(n: int | None):
    """Limit BLAS and OpenMP pools (and torch, if imported) to ``n`` threads; None: leave them.

    Cheap enough (microseconds) to wrap every timed call.
    """
    if n is None:
        yield
        return
    torch = sys.modules.get("torch")
    old_torch = torch.get_num_threads() if torch is not None else None
    if torch is not None:
        torch.set_num_threads(n)
    ctl = _controller()
    try:
        if ctl is not None:
            with ctl.limit(limits=n):
                yield
        else:
            yield
    finally:
        if torch is not None:
            torch.set_num_threads(old_torch)


def with_threads(fn, n: int | None):
    """``fn`` wrapped so that each call runs under :func:`thread_limit` (n)."""

    def call():
        with thread_limit(n):
            return fn()

    return call


# ------------------------------------------------------------------ timing
@dataclass
class Timing:
    """Repeated wall-clock times of one call, in seconds."""

    times: list[float]

    @property
    def median(self) -> float:
        return statistics.median(self.times)

    @property
    def min(self) -> float:
        return min(self.times)

    @property
    def max(self) -> float:
        return max(self.times)

    @property
    def n(self) -> int:
        return len(self.times)


def repeat(fn, reps: int, warmup: int = 1) -> tuple[Timing, object]:
    """Call ``fn`` ``warmup`` times untimed, then ``reps`` times timed; return times and the last result."""
    result = None
    for _ in range(warmup):
        result = fn()
    gc.collect()
    enabled = gc.isenabled()
    gc.disable()
    times = []
    try:
        for _ in range(reps):
            t0 = time.perf_counter()
            result = fn()
            times.append(time.perf_counter() - t0)
    finally:
        if enabled:
            gc.enable()
    return Timing(times), result


def interleaved(fns: dict, reps: int, warmup: int = 1) -> dict:
    """Time several calls in interleaved rounds: {name: (Timing, last result)}.

    Each round calls every function once, starting from a different one each
    round, so that a slow spell of a shared machine hits all of them alike and
    their ratios stay meaningful.
    """
    names = list(fns)
    results = {}
    for _ in range(warmup):
        for name in names:
            results[name] = fns[name]()
    times = {name: [] for name in names}
    gc.collect()
    enabled = gc.isenabled()
    gc.disable()
    try:
        for r in range(reps):
            k = r % len(names)
            for name in names[k:] + names[:k]:
                t0 = time.perf_counter()
                results[name] = fns[name]()
                times[name].append(time.perf_counter() - t0)
    finally:
        if enabled:
            gc.enable()
    return {name: (Timing(times[name]), results[name]) for name in names}


def load_line() -> str:
    """The 1-, 5- and 15-minute load averages (other work on a shared machine shows here)."""
    try:
        a, b, c = os.getloadavg()
    except OSError:
        return "load average: unknown"
    return f"load average {a:.2f}, {b:.2f}, {c:.2f}"


def wait_for_quiet(max_seconds: float, threshold: float = 0.5) -> str:
    """Wait (up to ``max_seconds``) until the 1-minute load average falls below ``threshold``."""
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < max_seconds:
        try:
            if os.getloadavg()[0] < threshold:
                break
        except OSError:
            break
        time.sleep(5)
    waited = time.perf_counter() - t0
    return f"waited {waited:.0f} s for a quiet machine (1-minute load < {threshold}); {load_line()}"


class Contention:
    """How busy the machine was with other work while a benchmark ran (Linux /proc/stat).

    ``other`` is the share of all CPU time that other processes used, ``steal``
    the share the hypervisor gave to other guests; both blur the timings.
    """

    def __init__(self) -> None:
        self._stat0 = self._stat()
        self._self0 = self._self_cpu()

    @staticmethod
    def _stat() -> list[int]:
        try:
            with open("/proc/stat") as f:
                return [int(v) for v in f.readline().split()[1:]]
        except OSError:
            return []

    @staticmethod
    def _self_cpu() -> float:
        t = os.times()
        return t.user + t.system

    def summary(self) -> str:
        stat = self._stat()
        if not stat or not self._stat0:
            return "machine contention: unknown (no /proc/stat)"
        d = [b - a for a, b in zip(self._stat0, stat)]
        total = sum(d[:8])
        if total <= 0:
            return "machine contention: unknown"
        hz = os.sysconf("SC_CLK_TCK")
        busy = total - d[3] - d[4] - (d[7] if len(d) > 7 else 0)  # not idle, iowait, steal
        mine = (self._self_cpu() - self._self0) * hz
        other = max(busy - mine, 0) / total
        steal = d[7] / total if len(d) > 7 else 0.0
        return (
            f"during the run other processes used {100 * other:.0f}% of the CPU time, "
            f"hypervisor steal {100 * steal:.1f}%; {load_line()}"
        )


# ---------------------------------------------------------------- tables
def markdown_table(headers: list[str], rows: list[list], right: set[int] | None = None) -> str:
    """A GitHub markdown table; columns whose index is in ``right`` are right-aligned."""
    right = right if right is not None else set()
    cells = [[str(c) for c in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]

    def line(values):
        out = []
        for i, v in enumerate(values):
            out.append(v.rjust(widths[i]) if i in right else v.ljust(widths[i]))
        return "| " + " | ".join(out) + " |"

    sep = "|" + "|".join(("-" * (w + 1) + ":") if i in right else ("-" * (w + 2)) for i, w in enumerate(widths)) + "|"
    return "\n".join([line(headers), sep] + [line(r) for r in cells])


def fmt_ms(seconds: float) -> str:
    ms = seconds * 1e3
    return f"{ms:.3g}" if ms < 10 else f"{ms:.1f}" if ms < 1000 else f"{ms:.0f}"


def fmt_s(seconds: float) -> str:
    return f"{seconds:.3g}" if seconds < 100 else f"{seconds:.0f}"


def fmt_ratio(x: float) -> str:
    return f"{x:.2f}" if x < 10 else f"{x:.1f}" if x < 100 else f"{x:.0f}"


def add_wait_quiet(ap) -> None:
    """The scripts' shared ``--wait-quiet SECONDS`` option."""
    ap.add_argument(
        "--wait-quiet",
        type=float,
        default=0,
        metavar="SECONDS",
        help="first wait up to SECONDS for the 1-minute load average to fall below 0.5 (shared machines)",
    )


def apply_wait_quiet(args) -> None:
    """Wait for a quiet machine if ``--wait-quiet`` asked for it (a line on stderr says how it went)."""
    if args.wait_quiet > 0:
        print(wait_for_quiet(args.wait_quiet), file=sys.stderr)
