/* requantize.c: float-free requantization for cores without an FPU. */
#include "whittle_kernels.h"

/* Rounds n >> drop to nearest, ties to even (drop >= 1). */
static uint64_t whittle_round_shift(uint64_t n, int drop) {
    const uint32_t below = (uint32_t)drop - 1u;
    const uint64_t half = (uint64_t)1 << below;
    const uint64_t rest = n & (((uint64_t)1 << (uint32_t)drop) - 1u);
    n >>= (uint32_t)drop;
    if (rest > half || (rest == half && (n & 1u) != 0u)) { ++n; }
    return n;
}

/* Rounds n >> drop to nearest, ties to even (1 <= drop <= 31). */
static uint32_t whittle_round_shift32(uint32_t n, uint32_t drop) {
    const uint32_t one = 1u, half = one << (drop - 1u), rest = n & ((one << drop) - 1u);
    uint32_t r = n >> drop;
    if (rest > half || (rest == half && (r & 1u) != 0u)) { ++r; }
    return r;
}

/* Significant bits of a 32-bit n, by halving the range five times (Armv6-M and RV32 without the
 * bit-manipulation extension have no count-leading-zeros instruction, and a bit-by-bit loop costs up
 * to 32 passes per requantized output). */
static int whittle_bit_length32(uint32_t n) {
    int length = 0;
    if ((n >> 16) != 0u) { n >>= 16; length += 16; }
    if ((n >> 8) != 0u) { n >>= 8; length += 8; }
    if ((n >> 4) != 0u) { n >>= 4; length += 4; }
    if ((n >> 2) != 0u) { n >>= 2; length += 2; }
    if ((n >> 1) != 0u) { n >>= 1; length += 1; }
    return length + (int)n;
}

/* Significant bits of a 64-bit n, from its two 32-bit halves (32-bit cores shift 64-bit values in
 * several instructions). */
static int whittle_bit_length(uint64_t n) {
    const uint32_t high = (uint32_t)(n >> 32);
    return high != 0u ? 32 + whittle_bit_length32(high) : whittle_bit_length32((uint32_t)n);
}

/* Float32 rounds twice: (float)acc keeps 24 significant bits of acc, and the product keeps 24
 * bits of the exact product; then rintf rounds to an integer. Each step is done here on
 * integers with the same ties-to-even rule, so the result is the float computation's. */
WHITTLE_KERNEL int32_t whittle_requantize(int64_t acc, uint32_t mantissa, int exponent) {
    const uint64_t magnitude = acc < 0 ? (uint64_t)0 - (uint64_t)acc : (uint64_t)acc;
    uint32_t n, low, high;
    uint64_t product;
    int length = whittle_bit_length(magnitude);
    /* (float)acc: 24 significant bits, rounded; from here on every value fits 32 bits, which 32-bit
     * cores shift and compare in one instruction. */
    if (length <= 24) {
        n = (uint32_t)magnitude;
    } else if (length <= 32) {
        n = whittle_round_shift32((uint32_t)magnitude, (uint32_t)length - 24u);
        exponent += length - 24;
    } else {
        n = (uint32_t)whittle_round_shift(magnitude, length - 24);
        exponent += length - 24;
    }
    /* The product of two 24-bit significands (n may be 2^24 after rounding up): one 32 x 32 -> 64-bit
     * multiply, then 24 significant bits of it, rounded. The dropped bits (at most 25) are all in the
     * low word. */
    product = (uint64_t)n * (uint64_t)mantissa;
    high = (uint32_t)(product >> 32);
    low = (uint32_t)product;
    length = high != 0u ? 32 + whittle_bit_length32(high) : whittle_bit_length32(low);
    if (length > 24) {
        const uint32_t drop = (uint32_t)length - 24u;
        const uint32_t one = 1u, rest = low & ((one << drop) - 1u), half = one << (drop - 1u);
        n = (low >> drop) | (high << (32u - drop));
        if (rest > half || (rest == half && (n & 1u) != 0u)) { ++n; }
        exponent += (int)drop;
    } else {
        n = low;
    }
    /* Scaled by 2^exponent: saturated to int32 above, rounded to nearest even below (n <= 2^24, so
     * a shift of 32 or more leaves less than half). */
    if (exponent >= 0) {
        n = (exponent > 31 || n > (0x7FFFFFFFu >> (uint32_t)exponent)) ? 0x7FFFFFFFu : n << (uint32_t)exponent;
    } else {
        n = -exponent >= 32 ? 0u : whittle_round_shift32(n, (uint32_t)(-exponent));
    }
    return acc < 0 ? -(int32_t)n : (int32_t)n;
}
