/* minifloat.c: the 8- and 4-bit float types of ONNX (see whittle_kernels.h). */
#include "whittle_kernels.h"

/* Layout of format f: exponent bits, mantissa bits, bias, infinities (E5M2 only), unsigned zero (FNUZ:
 * 0x80 is their NaN), the NaN code (-1: none). Formats: 0 E4M3FN, 1 E4M3FNUZ, 2 E5M2, 3 E5M2FNUZ, 4 E2M1. */
static int whittle_minifloat_layout(int f, int k) {
    static const short layout[5][6] = {
        {4, 3, 7, 0, 0, 0x7F}, {4, 3, 8, 0, 1, 0x80}, {5, 2, 15, 1, 0, 0x7E}, {5, 2, 16, 0, 1, 0x80}, {2, 1, 1, 0, 0, -1},
    };
    return layout[f][k];
}

/* The float with these bits. */
static float whittle_float_from_bits(uint32_t bits) {
    whittle_float_bits v;
    v.u = bits;
    return v.f;
}

/* 2^e, exactly, for the exponents of these formats (-133 to 127). */
static float whittle_pow2(int e) {
    const int shift = -127 - e, biased = e + 127;
    if (e < -126) { return whittle_float_from_bits(0x00400000u >> (uint32_t)shift); }
    return whittle_float_from_bits((uint32_t)biased << 23);
}

/* The value of magnitude code m (sign bit clear) of format f. */
static float whittle_minifloat_magnitude(int m, int f) {
    const int mantissa_bits = whittle_minifloat_layout(f, 1), bias = whittle_minifloat_layout(f, 2);
    const uint32_t code = (uint32_t)m, width = (uint32_t)mantissa_bits;
    const uint32_t exponent_field = code >> width, mantissa_field = code & ((1u << width) - 1u);
    const uint32_t significand = (1u << width) + mantissa_field;
    const int exponent = (int)exponent_field;
    if (exponent == 0) { return (float)mantissa_field * whittle_pow2(1 - bias - mantissa_bits); }
    return (float)significand * whittle_pow2(exponent - bias - mantissa_bits);
}

/* The largest finite magnitude code of format f. */
static int whittle_minifloat_top(int f) {
    const int bits = 1 + whittle_minifloat_layout(f, 0) + whittle_minifloat_layout(f, 1);
    const uint32_t top_field = (1u << ((uint32_t)bits - 1u)) - 1u, step = 1u << (uint32_t)whittle_minifloat_layout(f, 1);
    const int top = (int)top_field;
    /* With infinities, the codes of the top exponent are not finite. */
    if (whittle_minifloat_layout(f, 3) != 0) { return top - (int)step; }
    if (!whittle_minifloat_layout(f, 4) && whittle_minifloat_layout(f, 5) >= 0) { return whittle_minifloat_layout(f, 5) - 1; }
    return top;
}

/* Format 5 is E8M0: 2^(code - 127), 0xFF NaN. */
WHITTLE_KERNEL float whittle_minifloat_to_f32(uint8_t code, int f) {
    int bits, magnitude;
    uint32_t sign_mask, magnitude_field;
    const float nan = whittle_float_from_bits(0x7FC00000u), infinity = whittle_float_from_bits(0x7F800000u);
    if (f == 5) { return code == 0xFFu ? nan : whittle_pow2((int)code - 127); }
    bits = 1 + whittle_minifloat_layout(f, 0) + whittle_minifloat_layout(f, 1);
    sign_mask = 1u << ((uint32_t)bits - 1u);
    magnitude_field = (uint32_t)code & (sign_mask - 1u);
    magnitude = (int)magnitude_field;
    if (whittle_minifloat_layout(f, 4) && code == 0x80u) { return nan; }
    if (!whittle_minifloat_layout(f, 4) && whittle_minifloat_layout(f, 5) >= 0) {
        if (whittle_minifloat_layout(f, 3) != 0) {
            const uint32_t exponent_mask = ((1u << (uint32_t)whittle_minifloat_layout(f, 0)) - 1u) << (uint32_t)whittle_minifloat_layout(f, 1);
            if ((magnitude_field & exponent_mask) == exponent_mask) {
                if ((magnitude_field & ~exponent_mask) != 0u) { return nan; }
                return ((uint32_t)code & sign_mask) != 0u ? -infinity : infinity;
            }
        } else if (magnitude == whittle_minifloat_layout(f, 5)) {
            return nan;
        } else {
            /* Any other code is a finite value. */
        }
    }
    return ((uint32_t)code & sign_mask) != 0u ? -whittle_minifloat_magnitude(magnitude, f) : whittle_minifloat_magnitude(magnitude, f);
}

/* Round to nearest, ties to even. Beyond the largest value: with saturate, the largest; else infinity
 * (E5M2) or NaN. E2M1 has neither and always saturates; NaN becomes -0 there. E8M0 (format 5) takes
 * the float's exponent, rounded by round_mode (0 up, 1 down, 2 nearest), as ONNX's reference does. */
WHITTLE_KERNEL uint8_t whittle_f32_to_minifloat(float value, int f, int saturate, int round_mode) {
    whittle_float_bits v;
    int bits, top, code, low, high;
    uint32_t sign_mask;
    uint8_t sign;
    float magnitude, largest;
    v.f = value;
    if (f == 5) {
        const uint32_t biased = (v.u >> 23) & 0xFFu;
        int exponent = (int)biased, up;
        if (exponent == 0xFF) { return 0xFFu; }
        if (round_mode == 1) {
            up = 0;
        } else if (round_mode == 2) {
            up = (int)((v.u & 0x400000u) != 0u && ((v.u & 0x200000u) != 0u || (v.u & 0x1FFFFFu) != 0u || exponent > 0));
        } else {
            up = (int)((v.u & 0x7FFFFFu) != 0u);
        }
        if (up && !(saturate && exponent == 0xFE)) { ++exponent; }
        return (uint8_t)exponent;
    }
    bits = 1 + whittle_minifloat_layout(f, 0) + whittle_minifloat_layout(f, 1);
    sign_mask = 1u << ((uint32_t)bits - 1u);
    sign = (v.u >> 31) != 0u ? (uint8_t)sign_mask : 0u;
    if (value != value) {
        if (whittle_minifloat_layout(f, 5) < 0) { return (uint8_t)sign_mask; }
        return whittle_minifloat_layout(f, 4) != 0 ? 0x80u : (uint8_t)((uint32_t)whittle_minifloat_layout(f, 5) | sign);
    }
    if (f == 4) { saturate = 1; }
    top = whittle_minifloat_top(f);
    largest = whittle_minifloat_magnitude(top, f);
    magnitude = value < 0.0f ? -value : value;
    if (magnitude > largest) {
        /* Halfway to the value after the largest rounds down when the largest's code is even. */
        const float step = largest - whittle_minifloat_magnitude(top - 1, f);
        const float middle = largest + step / 2.0f;
        if (saturate || magnitude < middle || (magnitude == middle && top % 2 == 0)) {
            code = top;
        } else if (whittle_minifloat_layout(f, 3) != 0) {
            return (uint8_t)((uint32_t)sign | ((uint32_t)top + 1u));
        } else {
            return whittle_minifloat_layout(f, 4) != 0 ? 0x80u : (uint8_t)((uint32_t)whittle_minifloat_layout(f, 5) | sign);
        }
    } else {
        low = 0;
        high = top;
        while (low < high) {
            const int mid = (low + high + 1) / 2;
            if (whittle_minifloat_magnitude(mid, f) <= magnitude) { low = mid; } else { high = mid - 1; }
        }
        code = low;
        if (code < top) {
            const float up = magnitude - whittle_minifloat_magnitude(code, f);
            const float down = whittle_minifloat_magnitude(code + 1, f) - magnitude;
            if (down < up || (down == up && code % 2 == 1)) { ++code; }
        }
    }
    if (code == 0 && whittle_minifloat_layout(f, 4)) { return 0u; }
    return (uint8_t)((uint32_t)sign | (uint32_t)code);
}
