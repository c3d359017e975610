/* half.c: float16 and bfloat16 conversions (see whittle_kernels.h). */
#include "whittle_kernels.h"

/* Sign, 5-bit exponent (bias 15), 10-bit mantissa. Subnormals are normalized into float's range. */
WHITTLE_KERNEL float whittle_f16_to_f32(uint16_t bits) {
    const uint32_t sign = ((uint32_t)bits & 0x8000u) << 16;
    const uint32_t exponent = ((uint32_t)bits >> 10) & 0x1Fu, mantissa = (uint32_t)bits & 0x3FFu;
    uint32_t out;
    whittle_float_bits v;
    if (exponent == 0x1Fu) {
        out = sign | 0x7F800000u | (mantissa << 13);
    } else if (exponent != 0u) {
        out = sign | ((exponent + 112u) << 23) | (mantissa << 13);
    } else if (mantissa == 0u) {
        out = sign;
    } else {
        /* mantissa * 2^-24: shift until the leading bit reaches the implicit position. */
        uint32_t m = mantissa, shift = 0;
        while ((m & 0x400u) == 0u) {
            m <<= 1;
            ++shift;
        }
        out = sign | ((113u - shift) << 23) | ((m & 0x3FFu) << 13);
    }
    v.u = out;
    return v.f;
}

WHITTLE_KERNEL uint16_t whittle_f32_to_f16(float value) {
    uint32_t x, absx, sign;
    whittle_float_bits v;
    v.f = value;
    x = v.u;
    sign = (x >> 16) & 0x8000u;
    absx = x & 0x7FFFFFFFu;
    if (absx > 0x7F800000u) { return (uint16_t)(sign | 0x7E00u | ((absx >> 13) & 0x3FFu)); }
    /* 65520 and above round past the largest half (65504) to infinity. */
    if (absx >= 0x477FF000u) { return (uint16_t)(sign | 0x7C00u); }
    if (absx >= 0x38800000u) {
        /* Normal: rebias the exponent (127 -> 15), then round the 13 dropped bits to even. */
        uint32_t m = absx - 0x38000000u;
        m += 0x0FFFu + ((m >> 13) & 1u);
        return (uint16_t)(sign | (m >> 13));
    }
    /* Below 2^-25 (and 2^-25 itself, a tie with an even 0) everything rounds to zero. */
    if (absx <= 0x33000000u) { return (uint16_t)sign; }
    {
        /* Subnormal: the value in units of 2^-24 is the 24-bit significand shifted right. */
        const uint32_t shift = 126u - (absx >> 23);
        const uint32_t significand = (absx & 0x7FFFFFu) | 0x800000u;
        const uint32_t one = 1u, rest = significand & ((one << shift) - 1u), half = one << (shift - 1u);
        uint32_t r = significand >> shift;
        if (rest > half || (rest == half && (r & 1u))) { ++r; }
        return (uint16_t)(sign | r);
    }
}

/* bfloat16 is the upper half of a float. */
WHITTLE_KERNEL float whittle_bf16_to_f32(uint16_t bits) {
    whittle_float_bits v;
    v.u = (uint32_t)bits << 16;
    return v.f;
}

WHITTLE_KERNEL uint16_t whittle_f32_to_bf16(float value) {
    uint32_t x;
    whittle_float_bits v;
    v.f = value;
    x = v.u;
    if ((x & 0x7FFFFFFFu) > 0x7F800000u) { return (uint16_t)((x >> 16) | 0x40u); }
    x += 0x7FFFu + ((x >> 16) & 1u);
    return (uint16_t)(x >> 16);
}
