"""TFLite's fixed-point arithmetic in numpy (int64 arrays), as in tflite/kernels/internal/common.h and
quantization_util.cc (double-rounding build, the default): QuantizeMultiplier to a 31-bit multiplier and a
shift, SaturatingRoundingDoublingHighMul, RoundingDivideByPOT, MultiplyByQuantizedMultiplier, and the LUTs
some kernels build in float32 at Prepare time.
"""

from __future__ import annotations

import math

import numpy as np

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1


def tflite_round(x: float) -> float:
    """std::round: half away from zero."""
    return math.copysign(math.floor(abs(x) + 0.5), x)


def np_round_away(x: np.ndarray) -> np.ndarray:
    """std::round element-wise, keeping the dtype (float32 stays float32)."""
    return (np.sign(x) * np.floor(np.abs(x) + x.dtype.type(0.5))).astype(x.dtype)


def quantize_multiplier(m: float) -> tuple[int, int]:
    """(quantized multiplier in [2^30, 2^31), shift) with m = q * 2^(shift - 31)."""
    if m == 0.0:
        return 0, 0
    q, shift = math.frexp(m)
    q_fixed = int(tflite_round(q * (1 << 31)))
    if q_fixed == (1 << 31):
        q_fixed //= 2
        shift += 1
    if shift < -31:
        shift, q_fixed = 0, 0
    return q_fixed, shift


def wrap32(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.int64)
    return ((x + 2**31) % 2**32) - 2**31


def _trunc_div_pow2(v: np.ndarray, bits: int) -> np.ndarray:
    """C integer division by 2^bits (truncates toward zero)."""
    return np.where(v >= 0, v >> bits, -((-v) >> bits))


def srdhm(a: np.ndarray, b: np.ndarray | int) -> np.ndarray:
    """gemmlowp SaturatingRoundingDoublingHighMul on int32 values held in int64."""
    a = np.asarray(a, dtype=np.int64)
    b = np.asarray(b, dtype=np.int64)
    overflow = (a == INT32_MIN) & (b == INT32_MIN)
    ab = a * b
    nudge = np.where(ab >= 0, 1 << 30, 1 - (1 << 30))
    out = _trunc_div_pow2(ab + nudge, 31)
    return np.where(overflow, INT32_MAX, out)


def rdbpot(x: np.ndarray, exponent: np.ndarray | int) -> np.ndarray:
    """gemmlowp RoundingDivideByPOT: x / 2^exponent rounded to nearest, ties away from zero."""
    x = np.asarray(x, dtype=np.int64)
    e = np.asarray(exponent, dtype=np.int64)
    mask = (np.int64(1) << e) - 1
    remainder = x & mask
    threshold = (mask >> 1) + (x < 0)
    return (x >> e) + (remainder > threshold)


def mbqm(x: np.ndarray, multiplier: np.ndarray | int, shift: np.ndarray | int) -> np.ndarray:
    """MultiplyByQuantizedMultiplier(int32 x, multiplier, shift) (double rounding)."""
    shift = np.asarray(shift, dtype=np.int64)
    left = np.maximum(shift, 0)
    right = np.maximum(-shift, 0)
    return rdbpot(srdhm(wrap32(np.asarray(x, dtype=np.int64) << left), multiplier), right)


def quantize_leaky_relu(codes: np.ndarray, in_scale: float, in_zp: int, out_scale: float, out_zp: int,
                        alpha: float) -> np.ndarray:
    """``reference_ops::QuantizeLeakyRelu`` before its clamp to the output type (int64): the multipliers
    LeakyReluPrepare computes in float32, ``s_in * alpha / s_out`` and ``s_in / s_out``, then
    MultiplyByQuantizedMultiplier of ``code - in_zp``. The alpha side's multiplier is below 1/2 for a leaky slope
    (a right shift): this build rounds twice there, about 7 % of int8 codes one below a single rounding. The
    integer reference kernel and the int16 simulation (``QPReLU``) compute LEAKY_RELU with it."""
    f32 = np.float32
    ma, sa = quantize_multiplier(float(f32(in_scale) * f32(alpha) / f32(out_scale)))
    mi, si = quantize_multiplier(float(f32(in_scale) / f32(out_scale)))
    v = np.asarray(codes, dtype=np.int64) - int(in_zp)
    return np.where(v >= 0, mbqm(v, mi, si), mbqm(v, ma, sa)) + int(out_zp)


def mbqm_int64(x: np.ndarray, multiplier: np.ndarray | int, shift: np.ndarray | int) -> np.ndarray:
    """MultiplyByQuantizedMultiplier(int64 x, multiplier, shift) (``kernels/internal/common.cc``, both rounding
    builds): the multiplier reduced to 15 bits, one rounding (half up), ``(x * m15 + 2^(t-1)) >> t`` with
    ``t = 15 - shift``. The 16x8 kernels (int64 accumulators) requantize with it."""
    m = np.asarray(multiplier, dtype=np.int64)
    reduced = np.where(m < 0x7FFF0000, (m + (1 << 15)) >> 16, 0x7FFF)
    total = 15 - np.asarray(shift, dtype=np.int64)
    return (np.asarray(x, dtype=np.int64) * reduced + (np.int64(1) << (total - 1))) >> total


def mbqm_smaller_than_one(x: np.ndarray, multiplier: int, shift: int) -> np.ndarray:
    """MultiplyByQuantizedMultiplierSmallerThanOneExp (shift <= 0)."""
    return rdbpot(srdhm(x, multiplier), -shift)


def saturating_rounding_mul_by_pot(x: int, exponent: int) -> int:
    """gemmlowp SaturatingRoundingMultiplyByPOT on a Python int (int32)."""
    if exponent < 0:
        return int(rdbpot(np.int64(x), -exponent))
    threshold = (1 << (31 - exponent)) - 1
    if x > threshold:
        return INT32_MAX
    if x < -threshold:
        return INT32_MIN
    return x << exponent


def _fp_mul(a: int, b: int) -> int:
    return int(srdhm(np.int64(a), np.int64(b)))


def inv_sqrt_quantized_multiplier_exp(x: int, reverse_shift: int = -1) -> tuple[int, int]:
    """GetInvSqrtQuantizedMultiplierExp (Newton-Raphson in gemmlowp fixed point), for one int32 input."""
    if x <= 1:
        return INT32_MAX, 0
    shift = 11
    while x >= (1 << 29):
        x //= 4
        shift += 1
    clz = 32 - int(x).bit_length()
    left_shift_bit_pairs = (clz - 1) // 2 - 1
    shift -= left_shift_bit_pairs
    x <<= 2 * left_shift_bit_pairs
    fx = x >> 1  # F3
    half_x = saturating_rounding_mul_by_pot(fx, -1)
    half_three = (1 << 28) + (1 << 27)  # F3 1.5
    one_f3 = 1 << 28
    v = one_f3
    for _ in range(5):
        x3 = saturating_rounding_mul_by_pot(_fp_mul(_fp_mul(v, v), v), 6)  # F9 -> F3
        diff = _fp_mul(half_three, v) - _fp_mul(half_x, x3)  # F6
        diff = ((diff + 2**31) % 2**32) - 2**31
        v = saturating_rounding_mul_by_pot(diff, 3)  # F6 -> F3
    v = _fp_mul(v, 1518500250)  # * sqrt(2)/2 (F0)
    if shift < 0:
        v = wrap32_int(v << -shift)
        shift = 0
    return v, shift * reverse_shift


def wrap32_int(v: int) -> int:
    return ((v + 2**31) % 2**32) - 2**31


# -- lookup tables built in float32 at Prepare time --------------------------------------------------------------
def lut_int8(transform, in_scale: float, in_zp: int, out_scale: float, out_zp: int) -> np.ndarray:
    """LUTPopulateInt8: a 256-entry table indexed by the int8 value + 128 (float32 math)."""
    f32 = np.float32
    vals = np.arange(-128, 128, dtype=np.int32)
    deq = f32(in_scale) * (vals - in_zp).astype(np.float32)
    tr = transform(deq).astype(np.float32)
    inv = f32(1) / f32(out_scale)
    rescaled = np_round_away((tr * inv).astype(np.float32))
    q = rescaled.astype(np.int64) + out_zp
    return np.clip(q, -128, 127).astype(np.int8)


def lut_int16(transform, in_scale: float, in_zp: int, out_scale: float, out_zp: int) -> np.ndarray:
    """LUTPopulateInt16<float>: 513 entries, interpolated by ``lut_int16_lookup``."""
    f32 = np.float32
    rnd = lambda v: f32(tflite_round(float(v)))  # noqa: E731
    input_min = f32(in_scale) * f32(-32768 - in_zp)
    input_max = f32(in_scale) * f32(32767 - in_zp)
    output_min = f32(out_scale) * f32(-32768 - out_zp)
    output_max = f32(out_scale) * f32(32767 - out_zp)
    step = (input_max - input_min) / f32(512)
    half_step = step / f32(2)
    inv = f32(65536) / (output_max - output_min)
    lut = np.zeros(513, dtype=np.int16)
    for i in range(512):
        xi = input_min + f32(i) * step
        val = transform(xi)
        val_mid = transform(xi + half_step)
        val_next = transform(input_min + f32(i + 1) * step)
        sample = rnd(val * inv)
        mid_interp = rnd((val_next * inv + rnd(val * inv)) / f32(2))
        mid = rnd(val_mid * inv)
        bias = rnd((mid_interp - mid) / f32(2))
        lut[i] = int(min(max(sample - bias, f32(-32768)), f32(32767)))
    lut[512] = int(min(max(rnd(transform(input_max) * inv), f32(-32768)), f32(32767)))
    return lut


def lut_int16_lookup(x: np.ndarray, lut: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.int32)
    index = 256 + (x >> 7)
    offset = x & 0x7F
    base = lut[index].astype(np.int32)
    slope = lut[index + 1].astype(np.int32) - base
    delta = (slope * offset + 64) >> 7
    return (base + delta).astype(np.int16)


# -- gemmlowp fixed-point functions (fixedpoint.h) on int32 raw values held in int64 arrays ----------------------
def sat_mul_pot(x: np.ndarray, exponent: int) -> np.ndarray:
    """SaturatingRoundingMultiplyByPOT<exponent> element-wise."""
    x = np.asarray(x, dtype=np.int64)
    if exponent < 0:
        return rdbpot(x, -exponent)
    if exponent == 0:
        return x
    threshold = (1 << (31 - exponent)) - 1
    return np.where(x > threshold, INT32_MAX, np.where(x < -threshold, INT32_MIN, x << exponent))


def rounding_half_sum(a: np.ndarray, b: np.ndarray | int) -> np.ndarray:
    """RoundingHalfSum of int32 values: (a + b + sign) / 2, truncating."""
    s = np.asarray(a, dtype=np.int64) + np.asarray(b, dtype=np.int64)
    return _trunc_div2(s + np.where(s >= 0, 1, -1))


def _trunc_div2(v: np.ndarray) -> np.ndarray:
    return np.where(v >= 0, v // 2, -((-v) // 2))


def _exp_quarter_interval(a: np.ndarray) -> np.ndarray:
    """exp_on_interval_between_negative_one_quarter_and_0_excl (Q0.31 in and out)."""
    constant_term, one_third = 1895147668, 715827883
    x = wrap32(a + (1 << 28))
    x2 = srdhm(x, x)
    x3 = srdhm(x2, x)
    x4 = srdhm(x2, x2)
    poly = rdbpot(wrap32(srdhm(wrap32(rdbpot(x4, 2) + x3), one_third) + x2), 1)
    return wrap32(constant_term + srdhm(constant_term, wrap32(x + poly)))


_EXP_BARREL = ((-2, 1672461947), (-1, 1302514674), (0, 790015084), (1, 290630308), (2, 39332535), (3, 720401),
               (4, 242))


def exp_on_negative_values(a: np.ndarray, integer_bits: int) -> np.ndarray:
    """exp(a) for a <= 0 given in Q(integer_bits).(31 - integer_bits); result in Q0.31."""
    if not 0 < integer_bits <= 5:
        raise ValueError("exp_on_negative_values: 1 to 5 integer bits (no clamp below -32 implemented)")
    a = np.asarray(a, dtype=np.int64)
    frac = 31 - integer_bits
    quarter = 1 << (frac - 2)
    a_mod = wrap32((a & (quarter - 1)) - quarter)
    result = _exp_quarter_interval(sat_mul_pot(a_mod, integer_bits))
    remainder = wrap32(a_mod - a)
    for exponent, multiplier in _EXP_BARREL:
        if integer_bits > exponent:
            bit = (remainder >> (frac + exponent)) & 1
            result = np.where(bit != 0, srdhm(result, multiplier), result)
    return np.where(a == 0, INT32_MAX, result)


def one_over_one_plus_x_for_x_in_0_1(a: np.ndarray) -> np.ndarray:
    """1 / (1 + a) for a in [0, 1) in Q0.31 (Newton-Raphson in Q2.29)."""
    half_denominator = rounding_half_sum(a, INT32_MAX)
    x = wrap32(1515870810 + srdhm(half_denominator, -1010580540))
    for _ in range(3):
        one_minus = wrap32((1 << 29) - srdhm(half_denominator, x))
        x = wrap32(x + sat_mul_pot(srdhm(x, one_minus), 2))
    return sat_mul_pot(x, 1)


def reciprocal(x: np.ndarray, integer_digits: int) -> tuple[np.ndarray, np.ndarray]:
    """GetReciprocal of positive int32 values in Q(integer_digits): (Q0.31 scale, num_bits_over_unit)."""
    x = np.asarray(x, dtype=np.int64)
    clz = 32 - np.array([int(v).bit_length() for v in x.reshape(-1)], dtype=np.int64).reshape(x.shape)
    shifted_minus_one = wrap32(((x << clz) & 0xFFFFFFFF) - (1 << 31))
    return one_over_one_plus_x_for_x_in_0_1(shifted_minus_one), integer_digits - clz
