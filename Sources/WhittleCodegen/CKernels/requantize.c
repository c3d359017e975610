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

/* Significant bits of n, by halving the range six times (Armv6-M has no count-leading-zeros
 * instruction, and a bit-by-bit loop costs up to 64 passes per requantized output). */
static int whittle_bit_length(uint64_t n) {
    int length = 0;
    if ((n >> 32) != 0u) { n >>= 32; length += 32; }
    if ((n >> 16) != 0u) { n >>= 16; length += 16; }
    if ((n >> 8) != 0u) { n >>= 8; length += 8; }
    if ((n >> 4) != 0u) { n >>= 4; length += 4; }
    if ((n >> 2) != 0u) { n >>= 2; length += 2; }
    if ((n >> 1) != 0u) { n >>= 1; length += 1; }
    return length + (int)n;
}

/* Float32 rounds twice: (float)acc keeps 24 significant bits of acc, and the product keeps 24
 * bits of the exact product; then rintf rounds to an integer. Each step is done here on
 * integers with the same ties-to-even rule, so the result is the float computation's. */
WHITTLE_KERNEL int32_t whittle_requantize(int64_t acc, uint32_t mantissa, int exponent) {
    uint64_t n = acc < 0 ? (uint64_t)0 - (uint64_t)acc : (uint64_t)acc;
    int length = whittle_bit_length(n);
    if (length > 24) {
        n = whittle_round_shift(n, length - 24);
        exponent += length - 24;
    }
    n *= mantissa;
    length = whittle_bit_length(n);
    if (length > 24) {
        n = whittle_round_shift(n, length - 24);
        exponent += length - 24;
    }
    if (exponent >= 0) {
        n = exponent > 31 ? 0xFFFFFFFFu : n << (uint32_t)exponent;
    } else {
        n = -exponent >= 63 ? 0u : whittle_round_shift(n, -exponent);
    }
    if (n > 0x7FFFFFFFu) { n = 0x7FFFFFFFu; }
    return acc < 0 ? -(int32_t)n : (int32_t)n;
}
