"""gemmlowp's 16-bit fixed-point ``logistic`` and ``tanh`` (fixedpoint/fixedpoint.h), in numpy, as TFLite's
fully integer LSTM kernel calls them (``PortableApplySigmoid``: Q3.12 in, Q0.15 out; ``PortableApplyTanh<IB>``:
``IB`` integer bits in, Q0.15 out).

Raw int16 values are held in int64 arrays; the operations wrap or saturate exactly where the C++ does (int16
``+``/``-``/negation wrap, ``SaturatingRoundingMultiplyByPOT`` and ``AddSaturatingIf16Bit`` saturate). An int16
input has 65536 values, so each function is tabulated once (``sigmoid_table``, ``tanh_table``) and applied by
indexing: the integer reference kernel and the training simulation share these tables, and the one-node test
against LiteRT's BUILTIN_REF checks them.
"""

from __future__ import annotations

from functools import cache

import numpy as np

_I16_MIN, _I16_MAX = -(2**15), 2**15 - 1


def _wrap16(x: np.ndarray) -> np.ndarray:
    return ((x + 2**15) % 2**16) - 2**15


def _srdhm(a: np.ndarray, b: np.ndarray | int) -> np.ndarray:
    """SaturatingRoundingDoublingHighMul<int16>."""
    a = np.asarray(a, dtype=np.int64)
    b = np.asarray(b, dtype=np.int64)
    ab = a * b
    nudge = np.where(ab >= 0, 1 << 14, 1 - (1 << 14))
    v = ab + nudge
    out = np.where(v >= 0, v >> 15, -((-v) >> 15))  # C division truncates toward zero
    return np.where((a == _I16_MIN) & (b == _I16_MIN), _I16_MAX, out)


def _rdbpot(x: np.ndarray, e: int) -> np.ndarray:
    """RoundingDivideByPOT: round to nearest, ties away from zero."""
    mask = (1 << e) - 1
    remainder = x & mask
    threshold = (mask >> 1) + (x < 0)
    return (x >> e) + (remainder > threshold)


def _srmpot(x: np.ndarray, e: int) -> np.ndarray:
    """SaturatingRoundingMultiplyByPOT<e> on int16."""
    if e == 0:
        return x
    if e < 0:
        return _rdbpot(x, -e)
    threshold = (1 << (15 - e)) - 1
    return np.where(x > threshold, _I16_MAX, np.where(x < -threshold, _I16_MIN, x << e))


def _const(raw32: int) -> int:
    """RescaleConstantInitializer: a Q31 constant rounded to its int16 form."""
    return int(_rdbpot(np.int64(raw32), 16))


def _sat_add(a: np.ndarray, b: np.ndarray | int) -> np.ndarray:
    return np.clip(a + b, _I16_MIN, _I16_MAX)


def _exp_on_interval_between_negative_one_quarter_and_0_excl(a: np.ndarray) -> np.ndarray:
    constant_term = _const(1895147668)
    constant_1_over_3 = _const(715827883)
    x = _wrap16(a + (1 << 12))  # a + 1/8 (F0)
    x2 = _srdhm(x, x)
    x3 = _srdhm(x2, x)
    x4 = _srdhm(x2, x2)
    x4_over_4 = _srmpot(x4, -2)
    poly = _srmpot(_wrap16(_srdhm(_wrap16(x4_over_4 + x3), constant_1_over_3) + x2), -1)
    return _sat_add(constant_term, _srdhm(constant_term, _wrap16(x + poly)))


_EXP_BARREL = ((-2, 1672461947), (-1, 1302514674), (0, 790015084), (1, 290630308), (2, 39332535), (3, 720401),
               (4, 242))


def _exp_on_negative_values(a: np.ndarray, integer_bits: int) -> np.ndarray:
    frac = 15 - integer_bits
    one_quarter = 1 << (frac - 2)
    a_mod_quarter_minus_one_quarter = _wrap16((a & (one_quarter - 1)) - one_quarter)
    result = _exp_on_interval_between_negative_one_quarter_and_0_excl(
        _srmpot(a_mod_quarter_minus_one_quarter, integer_bits))  # Rescale<0>
    remainder = _wrap16(a_mod_quarter_minus_one_quarter - a)
    for exponent, multiplier in _EXP_BARREL:
        if integer_bits > exponent:
            bit = (remainder & (1 << (frac + exponent))) != 0
            result = np.where(bit, _srdhm(result, _const(multiplier)), result)
    if integer_bits > 5:
        clamp = _const(-(1 << (36 - integer_bits)))  # -32 in the input format
        result = np.where(a < clamp, 0, result)
    return np.where(a == 0, _I16_MAX, result)  # F0::One()


def _newton_raphson_reciprocal(a: np.ndarray) -> np.ndarray:
    """x ~ 1 / ((1 + a) / 2) in F2 (the shared part of one_over_one_plus_x / one_minus_x_over_one_plus_x)."""
    s = a + _I16_MAX  # RoundingHalfSum(a, F0::One())
    half_denominator = _wrap16(np.where(s >= 0, (s + 1) // 2, -((-(s - 1)) // 2)))
    x = _wrap16(_const(1515870810) + _srdhm(half_denominator, _const(-1010580540)))  # 48/17 - 32/17 d
    one_f2 = 1 << 13
    for _ in range(3):
        one_minus = _wrap16(one_f2 - _srdhm(half_denominator, x))
        x = _wrap16(x + _srmpot(_srdhm(x, one_minus), 2))  # Rescale<2> of an F4
    return x


def logistic(a: np.ndarray, integer_bits: int) -> np.ndarray:
    """gemmlowp::logistic(FixedPoint<int16, integer_bits>) -> raw Q0.15."""
    a = np.asarray(a, dtype=np.int64)
    positive = a > 0
    abs_input = np.where(positive, a, _wrap16(-a))
    exp_neg = _exp_on_negative_values(_wrap16(-abs_input), integer_bits)
    if_positive = _srmpot(_newton_raphson_reciprocal(exp_neg), 1)  # Rescale<0>(ExactMulByPot<-1>(x))
    if_negative = _wrap16(_I16_MAX - if_positive)
    return np.where(a == 0, 1 << 14, np.where(positive, if_positive, if_negative))


def tanh(a: np.ndarray, integer_bits: int) -> np.ndarray:
    """gemmlowp::tanh(FixedPoint<int16, integer_bits>) -> raw Q0.15."""
    a = np.asarray(a, dtype=np.int64)
    negative = a < 0
    n = np.where(negative, a, _wrap16(-a))
    exp_neg = _exp_on_negative_values(n, integer_bits + 1)  # ExactMulByPot<1>
    t = _srmpot(_wrap16(_newton_raphson_reciprocal(exp_neg) - (1 << 13)), 2)  # Rescale<0>(x - F2::One())
    return np.where(a == 0, 0, np.where(negative, _wrap16(-t), t))


_ALL_INT16 = np.arange(_I16_MIN, _I16_MAX + 1, dtype=np.int64)


@cache
def sigmoid_table() -> np.ndarray:
    """``PortableApplySigmoid`` of every int16 code (Q3.12 in, Q0.15 out), indexed by code + 32768."""
    t = logistic(_ALL_INT16, 3).astype(np.int16)
    t.flags.writeable = False
    return t


@cache
def tanh_table(integer_bits: int) -> np.ndarray:
    """``PortableApplyTanh(integer_bits)`` of every int16 code (Q0.15 out), indexed by code + 32768. The kernel
    dispatches integer bits 0 to 6 only (anything else leaves its output unwritten)."""
    if not 0 <= integer_bits <= 6:
        raise ValueError(f"TFLite's integer tanh takes 0 to 6 integer bits, not {integer_bits}")
    t = tanh(_ALL_INT16, integer_bits).astype(np.int16)
    t.flags.writeable = False
    return t
