"""Elementary functions that the compiler can vectorise (used by :mod:`gdlearn.kernels.compiled`).

LLVM turns a loop over ``math.exp`` or ``math.log1p`` into one library call per
element; these polynomial forms, written with plain arithmetic, compile to
SIMD code instead and are as accurate (within 1 ulp of the C library on their
domains, checked in ``tests/test_kernels.py``):

* ``exp_neg(x)`` = eˣ for x ≤ 0: x = n·ln 2 + r with |r| ≤ ½ln 2, eʳ by its
  Taylor series to degree 13, and 2ⁿ built from exponent bits (in two halves,
  so that results down to the subnormal range stay right);
* ``log1p_unit(e)`` = log(1 + e) for 0 ≤ e ≤ 1: 2·atanh(s) with s = e/(2 + e) ≤ ⅓,
  a series in s² to degree 34.

They are compiled without re-association (the range reduction depends on the
order of its operations).
"""

from __future__ import annotations

import math

import numba
import numpy as np
from llvmlite import ir
from numba.core import types
from numba.extending import intrinsic

__all__ = ["exp_neg", "log1p_unit"]

_FLAGS = {"contract", "nsz"}
_LN2_HI = 6.93147180369123816490e-01  # fdlibm's split of ln 2: n·_LN2_HI is exact for |n| < 2¹¹
_LN2_LO = 1.90821492927058770002e-10
_LOG2E = 1.4426950408889634


@intrinsic
def _f64_from_bits(typingctx, bits):
    """Reinterpret an int64 as the float64 with the same bits."""
    sig = types.float64(types.int64)

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.DoubleType())

    return sig, codegen


@numba.njit(fastmath=_FLAGS, error_model="numpy", inline="always", cache=True)
def exp_neg(x):  # pragma: no cover - compiled
    """eˣ for x ≤ 0 (0 below −745)."""
    x = max(x, -745.5)
    n = math.floor(x * _LOG2E + 0.5)
    r = (x - n * _LN2_HI) - n * _LN2_LO
    p = 1.6059043836821613e-10  # 1/13!
    p = p * r + 2.08767569878681e-09  # 1/12!
    p = p * r + 2.505210838544172e-08  # 1/11!
    p = p * r + 2.755731922398589e-07  # 1/10!
    p = p * r + 2.7557319223985893e-06  # 1/9!
    p = p * r + 2.48015873015873e-05  # 1/8!
    p = p * r + 0.0001984126984126984  # 1/7!
    p = p * r + 0.001388888888888889  # 1/6!
    p = p * r + 0.008333333333333333  # 1/5!
    p = p * r + 0.041666666666666664  # 1/4!
    p = p * r + 0.16666666666666666  # 1/3!
    p = p * r + 0.5  # 1/2!
    p = p * r + 1.0  # 1/1!
    p = p * r + 1.0  # 1/0!
    k = np.int64(n)
    half = k >> 1
    return p * _f64_from_bits((half + 1023) << 52) * _f64_from_bits((k - half + 1023) << 52)


@numba.njit(fastmath=_FLAGS, error_model="numpy", inline="always", cache=True)
def log1p_unit(e):  # pragma: no cover - compiled
    """log(1 + e) for 0 ≤ e ≤ 1."""
    s = e / (2.0 + e)
    t = s * s
    q = 0.05714285714285714  # 2/35
    q = q * t + 0.06060606060606061  # 2/33
    q = q * t + 0.06451612903225806  # 2/31
    q = q * t + 0.06896551724137931  # 2/29
    q = q * t + 0.07407407407407407  # 2/27
    q = q * t + 0.08  # 2/25
    q = q * t + 0.08695652173913043  # 2/23
    q = q * t + 0.09523809523809523  # 2/21
    q = q * t + 0.10526315789473684  # 2/19
    q = q * t + 0.11764705882352941  # 2/17
    q = q * t + 0.13333333333333333  # 2/15
    q = q * t + 0.15384615384615385  # 2/13
    q = q * t + 0.18181818181818182  # 2/11
    q = q * t + 0.2222222222222222  # 2/9
    q = q * t + 0.2857142857142857  # 2/7
    q = q * t + 0.4  # 2/5
    q = q * t + 0.6666666666666666  # 2/3
    q = q * t + 2.0  # 2/1
    return s * q
