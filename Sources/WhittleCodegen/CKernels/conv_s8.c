/* conv_s8.c: int8 convolution and matrix products, and pointwise convolutions on pruned weights
 * (see whittle_kernels.h).
 *
 * On cores with the Arm DSP extension (Cortex-M4/M7/M33, __ARM_FEATURE_DSP) the inner loops use
 * SMLAD, two 16-bit multiply-accumulates per instruction; with NEON (the Raspberry Pi cores) the
 * matrix product uses widening multiply-accumulates on vectors; elsewhere (or with
 * WHITTLE_PORTABLE) the portable loops compute the same integer sums. Integer sums do not depend
 * on their order, so every variant gives identical outputs.
 */
#include <float.h>
#include <math.h>
#include <string.h>
#include "whittle_kernels.h"

#if defined(__ARM_FEATURE_DSP) && defined(__ARM_FEATURE_SIMD32) && !defined(__ARM_BIG_ENDIAN) && !defined(WHITTLE_PORTABLE)
#include <arm_acle.h>
#define WHITTLE_DSP 1
#elif defined(__ARM_NEON) && !defined(__ARM_BIG_ENDIAN) && !defined(WHITTLE_PORTABLE)
#include <arm_neon.h>
#define WHITTLE_NEON_S8 1
#elif defined(__SSE2__) && !defined(WHITTLE_PORTABLE)
#include <emmintrin.h>
#define WHITTLE_SSE2_S8 1
#endif
#if defined(__GNUC__)
#define WHITTLE_INLINE inline __attribute__((always_inline))
/* A helper only some variants call (no warning in the others). */
#define WHITTLE_UNUSED __attribute__((unused))
#else
#define WHITTLE_INLINE inline
#define WHITTLE_UNUSED
#endif

/* The requantized value of acc for output channel m, any multiplier: with float multipliers,
 * rintf((float)acc * multiplier[m]) + zero saturated to [low, high], saturating first (the same
 * result, as rounding is monotonic and the bounds are integers; it keeps the value small for the
 * rounding below); with multiplier NULL, the same value with integers only (whittle_requantize,
 * for cores without an FPU; models for them define WHITTLE_INTEGER_REQUANT). */
WHITTLE_KERNEL int32_t whittle_requant_general(const whittle_requant *rq, int m, int32_t acc) {
#if !defined(WHITTLE_INTEGER_REQUANT)
    if (rq->multiplier != NULL) {
        const int32_t low_q = rq->low - rq->zero, high_q = rq->high - rq->zero;
        const float low = (float)low_q, high = (float)high_q;
        float v = (float)acc * rq->multiplier[m];
        if (v < low) { v = low; }
        if (v > high) { v = high; }
#if defined(FLT_EVAL_METHOD) && FLT_EVAL_METHOD == 0
        v = (v + 12582912.0f) - 12582912.0f;
#else
        v = rintf(v);
#endif
        return (int32_t)v + rq->zero;
    }
#endif
    {
        int64_t q = (int64_t)whittle_requantize(acc, rq->mantissa[m], rq->exponent[m]) + rq->zero;
        if (q < rq->low) { q = rq->low; }
        if (q > rq->high) { q = rq->high; }
        return (int32_t)q;
    }
}

#include <float.h>
#include <math.h>
/* rintf(v) for |v| <= 2^22 (a value already saturated to an 8- or 16-bit range): adding and removing
 * 1.5 * 2^23 rounds half to even and leaves no fraction bits where float arithmetic is float32
 * (FLT_EVAL_METHOD 0, as on Arm and x86-64), without a call to rintf (a library function on cores
 * without VRINT); where the FPU has a round-to-integral instruction, or elsewhere, rintf does it. */
WHITTLE_KERNEL float whittle_round_small(float v) {
#if defined(__ARM_FEATURE_DIRECTED_ROUNDING)
    /* The FPU rounds to integral in one instruction (Armv8, FPv5). */
    return rintf(v);
#elif defined(FLT_EVAL_METHOD) && FLT_EVAL_METHOD == 0
    return (v + 12582912.0f) - 12582912.0f;
#else
    return rintf(v);
#endif
}

/* One output channel's requantization with its constants in locals (read once per channel, as
 * stores through a character type would otherwise make the compiler reload them): `fast` when the
 * layer's float multipliers keep |acc * multiplier| <= 2^21 for every acc they can reach
 * (rq->bounded, proved by the compiler), else whittle_requant_general is called. */
typedef struct {
    float multiplier;
    int32_t zero, low, high;
    int fast;
    int int8_range;              /* [low, high] is [-128, 127]: one SSAT saturates */
} whittle_channel_requant;

static WHITTLE_INLINE whittle_channel_requant whittle_channel(const whittle_requant *rq, int m) {
    whittle_channel_requant q;
    q.fast = 0;
    q.multiplier = 0.0f;
#if !defined(WHITTLE_INTEGER_REQUANT)
    if (rq->bounded != 0) {
        q.fast = 1;
        q.multiplier = rq->multiplier[m];
    }
#endif
    q.zero = rq->zero;
    q.low = rq->low;
    q.high = rq->high;
    q.int8_range = rq->low == -128 && rq->high == 127;
    return q;
}

/* rintf((float)acc * multiplier) + zero, saturated to [low, high], for the channel whose constants q
 * holds. The fast case rounds half to even by adding and removing 1.5 * 2^23 (float32 addition
 * rounds to nearest even and leaves no fraction bits; this needs float32 evaluation,
 * FLT_EVAL_METHOD 0 as on Arm and x86-64, elsewhere rintf does it), then saturates as an integer.
 * Generated models turn off multiply-add contraction, so the product is rounded to float32 before
 * the addition, as in the interpreter. Inlined: it runs once per output in the innermost loops. */
static WHITTLE_INLINE int32_t whittle_channel_value(const whittle_channel_requant *q, const whittle_requant *rq, int m, int32_t acc) {
#if !defined(WHITTLE_INTEGER_REQUANT)
    if (q->fast != 0) {
        float v = (float)acc * q->multiplier;
        int32_t r;
#if defined(FLT_EVAL_METHOD) && FLT_EVAL_METHOD == 0
        /* v + 1.5 * 2^23 lies in [2^23, 2^24), where floats are the integers: its bits minus those of
         * 1.5 * 2^23 (0x4B400000) are the rounded value, read without a float-to-integer conversion. */
        uint32_t bits;
        v = v + 12582912.0f;
        (void)memcpy(&bits, &v, sizeof bits);
        r = (int32_t)(bits - (0x4B400000u - (uint32_t)q->zero));
#else
        r = (int32_t)rintf(v) + q->zero;
#endif
#if defined(WHITTLE_DSP)
        if (q->int8_range != 0) { return __ssat(r, 8); }
#endif
        return r < q->low ? q->low : r > q->high ? q->high : r;
    }
#endif
    return whittle_requant_general(rq, m, acc);
}

/* Stores output i of an int8 or uint8 tensor (rq->out_unsigned). */
static WHITTLE_INLINE void whittle_store8(const whittle_requant *rq, void *y, int i, int32_t v) {
    if (rq->out_unsigned != 0) {
        ((uint8_t *)y)[i] = (uint8_t)v;
    } else {
        ((int8_t *)y)[i] = (int8_t)v;
    }
}

/* 4-bit filter taps as bytes; see whittle_kernels.h. */
WHITTLE_KERNEL void whittle_unpack_filter4(const uint8_t *w, int first, int count, int8_t *to) {
    for (int i = 0; i < count; ++i) {
        const uint8_t b = w[(first + i) / 2];
        const uint32_t nibble = ((((uint32_t)first + (uint32_t)i) & 1u) != 0u ? ((uint32_t)b >> 4) : ((uint32_t)b & 15u)) ^ 8u;
        to[i] = (int8_t)((int32_t)nibble - 8);
    }
}

/* Tap i of an int8, uint8 or int16 map (x_unsigned 0, 1 or 2). */
static WHITTLE_INLINE int32_t whittle_tap8(const void *x, int x_unsigned, int i) {
    if (x_unsigned == 2) { return ((const int16_t *)x)[i]; }
    return x_unsigned ? (int32_t)((const uint8_t *)x)[i] : (int32_t)((const int8_t *)x)[i];
}

/* Where tap k of column 0 of a pair goes (column 1: four halfwords later). Groups of four taps of
 * the two columns alternate; with NEON each group is stored in the order 0, 2, 1, 3, the order of
 * the weights, so that the vectors multiply lane by lane (DSP and portable code read taps in
 * order). */
static WHITTLE_INLINE int whittle_slot(int k) {
#if defined(WHITTLE_NEON_S8)
    const uint32_t u = (uint32_t)k;
    const uint32_t slot = u + (u & ~3u) + (u & 1u) - ((u & 2u) >> 1);
    return (int)slot;
#else
    return k + (k & ~3);
#endif
}

/* Taps 4g .. 4g + 3 of a column, `to` being their group's first slot. */
static WHITTLE_INLINE void whittle_put4(int16_t *to, int16_t t0, int16_t t1, int16_t t2, int16_t t3) {
    to[0] = t0;
#if defined(WHITTLE_NEON_S8)
    to[1] = t2;
    to[2] = t1;
#else
    to[1] = t1;
    to[2] = t2;
#endif
    to[3] = t3;
}

/* The taps of the window at (ih0, iw0) into `column` as described for whittle_im2col8. Inlined
 * with x_unsigned a constant, so that each type gets its own loops. Windows inside the map (most
 * of them) copy without bounds checks. Tap k goes to column[whittle_slot(k)]. */
static WHITTLE_INLINE void whittle_window8(const whittle_conv_geometry *g, const void *x, const int x_unsigned, int32_t x_zero,
                                           int ih0, int iw0, int16_t *column, int k_padded) {
    const int plane = g->height * g->width;
    int k = 0;
    if (ih0 >= 0 && ih0 + (g->kernel_h - 1) * g->dilation_h < g->height && iw0 >= 0 && iw0 + (g->kernel_w - 1) * g->dilation_w < g->width) {
        /* Window rows channel by channel, the row's first tap moving by whole rows (no division). */
        const int down = g->dilation_h * g->width;
        int first = ih0 * g->width + iw0;
        if (g->kernel_w == 3 && g->dilation_w == 1) {
            /* Three taps per window row, unrolled. */
            for (int c = 0; c < g->channels; ++c, first += plane) {
                int row = first;
                for (int kh = 0; kh < g->kernel_h; ++kh, row += down, k += 3) {
                    const int32_t t0 = whittle_tap8(x, x_unsigned, row), t1 = whittle_tap8(x, x_unsigned, row + 1);
                    const int32_t t2 = whittle_tap8(x, x_unsigned, row + 2);
                    column[whittle_slot(k)] = (int16_t)(t0 - x_zero);
                    column[whittle_slot(k + 1)] = (int16_t)(t1 - x_zero);
                    column[whittle_slot(k + 2)] = (int16_t)(t2 - x_zero);
                }
            }
        } else if (g->kernel_w == 4 && g->dilation_w == 1) {
            /* Four taps per window row: each row is one group of four (k stays a multiple of 4). */
            for (int c = 0; c < g->channels; ++c, first += plane) {
                int row = first;
                for (int kh = 0; kh < g->kernel_h; ++kh, row += down, k += 4) {
                    whittle_put4(column + 2 * k, (int16_t)(whittle_tap8(x, x_unsigned, row) - x_zero),
                                 (int16_t)(whittle_tap8(x, x_unsigned, row + 1) - x_zero), (int16_t)(whittle_tap8(x, x_unsigned, row + 2) - x_zero),
                                 (int16_t)(whittle_tap8(x, x_unsigned, row + 3) - x_zero));
                }
            }
        } else {
            for (int c = 0; c < g->channels; ++c, first += plane) {
                int row = first;
                for (int kh = 0; kh < g->kernel_h; ++kh, row += down) {
                    for (int kw = 0; kw < g->kernel_w; ++kw, ++k) {
                        column[whittle_slot(k)] = (int16_t)(whittle_tap8(x, x_unsigned, row + kw * g->dilation_w) - x_zero);
                    }
                }
            }
        }
    } else {
        for (int c = 0; c < g->channels; ++c) {
            for (int kh = 0; kh < g->kernel_h; ++kh) {
                const int ih = ih0 + kh * g->dilation_h;
                const int row = c * plane + ih * g->width, inside = (int)(ih >= 0 && ih < g->height);
                for (int kw = 0; kw < g->kernel_w; ++kw, ++k) {
                    const int iw = iw0 + kw * g->dilation_w;
                    column[whittle_slot(k)] = (int16_t)(inside && iw >= 0 && iw < g->width ? whittle_tap8(x, x_unsigned, row + iw) - x_zero : 0);
                }
            }
        }
    }
    for (; k < k_padded; ++k) { column[whittle_slot(k)] = 0; }
}

/* Column j (0 or 1) of the pair in `columns` gets the taps of output pixel p as x - x_zero in
 * int16, in weight order (c, kh, kw), zero-padded to k_padded. The pair is interleaved by groups
 * of four taps (four of column 0, four of column 1, ...), so that the matrix product walks one
 * pointer. Taps in the padding are 0: the padding holds x_zero. */
static void whittle_im2col8(const whittle_conv_geometry *g, const void *x, int x_unsigned, int32_t x_zero, int p,
                            int16_t *columns, int j, int k_padded) {
    const int oh = p / g->out_width, ow = p % g->out_width;
    const int ih0 = oh * g->stride_h - g->pad_top, iw0 = ow * g->stride_w - g->pad_left;
    const int plane = g->height * g->width;
    int16_t *column = columns + 4 * j;
    if (g->kernel_h == 1 && g->kernel_w == 1 && ih0 >= 0 && ih0 < g->height && iw0 >= 0 && iw0 < g->width) {
        /* Pointwise: one tap per channel, a strided gather. */
        const int at = ih0 * g->width + iw0;
        int k = 0;
        if (x_unsigned == 2) {
            /* int16 activations (zero point 0): the taps as they are. */
            const int16_t *in = (const int16_t *)x + at;
            for (; k + 4 <= g->channels; k += 4, in = &in[4 * plane]) { whittle_put4(column + 2 * k, in[0], in[plane], in[2 * plane], in[3 * plane]); }
            for (; k < g->channels; ++k, in = &in[plane]) { column[whittle_slot(k)] = in[0]; }
        } else if (x_unsigned != 0) {
            const uint8_t *in = (const uint8_t *)x + at;
            for (; k + 4 <= g->channels; k += 4, in = &in[4 * plane]) {
                whittle_put4(column + 2 * k, (int16_t)((int32_t)in[0] - x_zero), (int16_t)((int32_t)in[plane] - x_zero),
                             (int16_t)((int32_t)in[2 * plane] - x_zero), (int16_t)((int32_t)in[3 * plane] - x_zero));
            }
            for (; k < g->channels; ++k, in = &in[plane]) { column[whittle_slot(k)] = (int16_t)((int32_t)in[0] - x_zero); }
        } else {
            const int8_t *in = (const int8_t *)x + at;
            for (; k + 4 <= g->channels; k += 4, in = &in[4 * plane]) {
                whittle_put4(column + 2 * k, (int16_t)((int32_t)in[0] - x_zero), (int16_t)((int32_t)in[plane] - x_zero),
                             (int16_t)((int32_t)in[2 * plane] - x_zero), (int16_t)((int32_t)in[3 * plane] - x_zero));
            }
            for (; k < g->channels; ++k, in = &in[plane]) { column[whittle_slot(k)] = (int16_t)((int32_t)in[0] - x_zero); }
        }
        for (; k < k_padded; ++k) { column[whittle_slot(k)] = 0; }
    } else if (x_unsigned == 2) {
        whittle_window8(g, x, 2, x_zero, ih0, iw0, column, k_padded);
    } else if (x_unsigned != 0) {
        whittle_window8(g, x, 1, x_zero, ih0, iw0, column, k_padded);
    } else {
        whittle_window8(g, x, 0, x_zero, ih0, iw0, column, k_padded);
    }
}

/* Bytes 1 and 3 of v as two int16 (SXTB16 of v rotated right by 8), for the DSP kernels. SXTB16
 * rotates its operand itself; GCC writes the rotation as an instruction of its own, which costs
 * one more instruction per four weights in the inner loops, so GCC and Clang get the one
 * instruction directly. (The preprocessor tests are inside the function, which is not the
 * file's first definition: the kernel library copies whole definitions, and the file's opening
 * preprocessor lines go with its first.) */
static WHITTLE_INLINE WHITTLE_UNUSED int32_t whittle_sxtb16_ror8(int32_t v) {
#if defined(WHITTLE_DSP) && defined(__GNUC__)
    int32_t r;
    __asm__("sxtb16 %0, %1, ror #8" : "=r"(r) : "r"(v));
    return r;
#elif defined(WHITTLE_DSP)
    return __sxtb16((int32_t)(((uint32_t)v >> 8) | ((uint32_t)v << 24)));
#else
    /* (Not used without the DSP extension.) */
    return v;
#endif
}

#if defined(WHITTLE_DSP)
/* Four taps of a channel pair, the first channel's in the word wa and the second's in wb (bytes in
 * the order 0, 2, 1, 3), times four taps of a column pair (8 halfwords): acc[0..3] += (m, j) for (m, j)
 * = (0, 0), (0, 1), (1, 0), (1, 1). memcpy loads a word from any address (the M4/M7/M33 load words
 * unaligned). */
static WHITTLE_INLINE void whittle_mac4_words(int32_t wa, int32_t wb, const int16_t *pc, int32_t *acc) {
    int32_t x0l, x0h, x1l, x1h;
    (void)memcpy(&x0l, pc, 4);
    (void)memcpy(&x0h, pc + 2, 4);
    (void)memcpy(&x1l, pc + 4, 4);
    (void)memcpy(&x1h, pc + 6, 4);
    {
        const int32_t wa01 = __sxtb16(wa), wa23 = whittle_sxtb16_ror8(wa);
        const int32_t wb01 = __sxtb16(wb), wb23 = whittle_sxtb16_ror8(wb);
        acc[0] = __smlad(wa23, x0h, __smlad(wa01, x0l, acc[0]));
        acc[1] = __smlad(wa23, x1h, __smlad(wa01, x1l, acc[1]));
        acc[2] = __smlad(wb23, x0h, __smlad(wb01, x0l, acc[2]));
        acc[3] = __smlad(wb23, x1h, __smlad(wb01, x1l, acc[3]));
    }
}

/* One paired-row group (8 bytes: four taps of each channel of the pair) times a column pair. */
static WHITTLE_INLINE void whittle_mac4_s8(const int8_t *pw, const int16_t *pc, int32_t *acc) {
    int32_t wa, wb;
    (void)memcpy(&wa, pw, 4);
    (void)memcpy(&wb, pw + 4, 4);
    whittle_mac4_words(wa, wb, pc, acc);
}

/* The int8 paired rows' product for one channel pair and column pair, `groups` groups of four taps
 * (at least one): acc[0], acc[1] channel m by columns 0 and 1, acc[2], acc[3] channel m + 1. Per
 * group one LDRD of the pair's weight words, four SXTB16 (taps 0 and 1 of each word, then 2 and 3 of
 * it rotated by 8, into the word's own register), two LDRDs of the columns and eight SMLADs: 15
 * instructions for 16 multiply-accumulates, two groups per pass. Written as one assembly loop with
 * GCC and Clang in Thumb-2 (every Cortex-M with the DSP extension): from C the compilers kept the loop bound and pointers on the stack and copied
 * registers around, 46 instructions for two groups (kws_dscnn int8 on cortex-m4f: 5.54 M
 * instructions from C, 5.05 M with this loop). The operands take 13 registers, so a frame pointer
 * can stay. */
static WHITTLE_INLINE WHITTLE_UNUSED void whittle_pair_s8(int groups, const int8_t *pw, const int16_t *pc, int32_t *acc) {
#if defined(__GNUC__) && defined(__thumb2__)
    /* (Thumb-2 only: in the Arm instruction set LDRD needs an even-odd register pair, which operands
     * cannot ask for.) */
    int32_t a00, a01, a10, a11, w0, w1, t0, t1, x0, x1;
    if ((groups & 1) != 0) {
        /* An odd group first, so that the loop takes two per pass (one loop test per 32 products). */
        whittle_mac4_s8(pw, pc, acc);
        pw += 8;
        pc += 8;
        if (groups == 1) { return; }
    }
    groups >>= 1;
    a00 = acc[0];
    a01 = acc[1];
    a10 = acc[2];
    a11 = acc[3];
    __asm__ volatile(
        "1:\n\t"
        "ldrd %[w0], %[w1], [%[pw]], #8\n\t"
        "ldrd %[x0], %[x1], [%[pc]], #8\n\t"
        "sxtb16 %[t0], %[w0]\n\t"
        "sxtb16 %[w0], %[w0], ror #8\n\t"
        "sxtb16 %[t1], %[w1]\n\t"
        "sxtb16 %[w1], %[w1], ror #8\n\t"
        "smlad %[a00], %[t0], %[x0], %[a00]\n\t"
        "smlad %[a10], %[t1], %[x0], %[a10]\n\t"
        "smlad %[a00], %[w0], %[x1], %[a00]\n\t"
        "smlad %[a10], %[w1], %[x1], %[a10]\n\t"
        "ldrd %[x0], %[x1], [%[pc]], #8\n\t"
        "smlad %[a01], %[t0], %[x0], %[a01]\n\t"
        "smlad %[a11], %[t1], %[x0], %[a11]\n\t"
        "smlad %[a01], %[w0], %[x1], %[a01]\n\t"
        "smlad %[a11], %[w1], %[x1], %[a11]\n\t"
        "ldrd %[w0], %[w1], [%[pw]], #8\n\t"
        "ldrd %[x0], %[x1], [%[pc]], #8\n\t"
        "sxtb16 %[t0], %[w0]\n\t"
        "sxtb16 %[w0], %[w0], ror #8\n\t"
        "sxtb16 %[t1], %[w1]\n\t"
        "sxtb16 %[w1], %[w1], ror #8\n\t"
        "smlad %[a00], %[t0], %[x0], %[a00]\n\t"
        "smlad %[a10], %[t1], %[x0], %[a10]\n\t"
        "smlad %[a00], %[w0], %[x1], %[a00]\n\t"
        "smlad %[a10], %[w1], %[x1], %[a10]\n\t"
        "ldrd %[x0], %[x1], [%[pc]], #8\n\t"
        "smlad %[a01], %[t0], %[x0], %[a01]\n\t"
        "smlad %[a11], %[t1], %[x0], %[a11]\n\t"
        "smlad %[a01], %[w0], %[x1], %[a01]\n\t"
        "smlad %[a11], %[w1], %[x1], %[a11]\n\t"
        "subs %[n], %[n], #1\n\t"
        "bne 1b"
        : [a00] "+r"(a00), [a01] "+r"(a01), [a10] "+r"(a10), [a11] "+r"(a11), [pw] "+r"(pw), [pc] "+r"(pc), [n] "+r"(groups),
          [w0] "=&r"(w0), [w1] "=&r"(w1), [t0] "=&r"(t0), [t1] "=&r"(t1), [x0] "=&r"(x0), [x1] "=&r"(x1)
        :
        : "cc", "memory");
    acc[0] = a00;
    acc[1] = a01;
    acc[2] = a10;
    acc[3] = a11;
#else
    for (; groups > 0; --groups, pw += 8, pc += 8) { whittle_mac4_s8(pw, pc, acc); }
#endif
}

/* whittle_pair_s8 for column 0 alone (acc[0] and acc[2]): per group one LDRD of the weights, one of
 * the column's four taps (skipping column 1's), four SXTB16 and four SMLADs. */
static WHITTLE_INLINE WHITTLE_UNUSED void whittle_column_s8(int groups, const int8_t *pw, const int16_t *pc, int32_t *acc) {
#if defined(__GNUC__) && defined(__thumb2__)
    int32_t a0 = acc[0], a1 = acc[2], w0, w1, t0, t1, x0, x1;
    __asm__ volatile(
        "1:\n\t"
        "ldrd %[w0], %[w1], [%[pw]], #8\n\t"
        "ldrd %[x0], %[x1], [%[pc]], #16\n\t"
        "sxtb16 %[t0], %[w0]\n\t"
        "sxtb16 %[w0], %[w0], ror #8\n\t"
        "sxtb16 %[t1], %[w1]\n\t"
        "sxtb16 %[w1], %[w1], ror #8\n\t"
        "smlad %[a0], %[t0], %[x0], %[a0]\n\t"
        "smlad %[a1], %[t1], %[x0], %[a1]\n\t"
        "smlad %[a0], %[w0], %[x1], %[a0]\n\t"
        "smlad %[a1], %[w1], %[x1], %[a1]\n\t"
        "subs %[n], %[n], #1\n\t"
        "bne 1b"
        : [a0] "+r"(a0), [a1] "+r"(a1), [pw] "+r"(pw), [pc] "+r"(pc), [n] "+r"(groups), [w0] "=&r"(w0), [w1] "=&r"(w1), [t0] "=&r"(t0),
          [t1] "=&r"(t1), [x0] "=&r"(x0), [x1] "=&r"(x1)
        :
        : "cc", "memory");
    acc[0] = a0;
    acc[2] = a1;
#else
    for (; groups > 0; --groups, pw += 8, pc += 8) { whittle_mac4_s8(pw, pc, acc); }
#endif
}
#endif

#if defined(WHITTLE_DSP)
/* whittle_mac4_s8 for weights already widened to int16 (the wide layout): four taps of each channel
 * of the pair are two halfword pairs each, loaded as they are, with no sign extension. */
static WHITTLE_INLINE WHITTLE_UNUSED void whittle_mac4_s16(const int16_t *pw, const int16_t *pc, int32_t *acc) {
    int32_t wa01, wa23, wb01, wb23, x0l, x0h, x1l, x1h;
    (void)memcpy(&wa01, pw, 4);
    (void)memcpy(&wa23, pw + 2, 4);
    (void)memcpy(&wb01, pw + 4, 4);
    (void)memcpy(&wb23, pw + 6, 4);
    (void)memcpy(&x0l, pc, 4);
    (void)memcpy(&x0h, pc + 2, 4);
    (void)memcpy(&x1l, pc + 4, 4);
    (void)memcpy(&x1h, pc + 6, 4);
    acc[0] = __smlad(wa23, x0h, __smlad(wa01, x0l, acc[0]));
    acc[1] = __smlad(wa23, x1h, __smlad(wa01, x1l, acc[1]));
    acc[2] = __smlad(wb23, x0h, __smlad(wb01, x0l, acc[2]));
    acc[3] = __smlad(wb23, x1h, __smlad(wb01, x1l, acc[3]));
}
#endif

#if defined(WHITTLE_DSP)
/* whittle_mac4_s8 for 4-bit weights: one word holds a group's eight weights, byte j the byte layout's
 * byte j in its high nibble and byte j + 4 in its low one. Each nibble masked in place is its weight
 * times 16 in a signed byte, which the same SXTB16s unpack: the sums gain 16 times the products. */
static WHITTLE_INLINE void whittle_mac4_s4(const uint8_t *pw, const int16_t *pc, int32_t *acc) {
    uint32_t word;
    (void)memcpy(&word, pw, 4);
    const uint32_t highs = word & 0xF0F0F0F0u, lows = (word << 4) & 0xF0F0F0F0u;
    whittle_mac4_words((int32_t)highs, (int32_t)lows, pc, acc);
}
#endif

/* The signed 4-bit weights of one byte: its high nibble and its low one. */
static WHITTLE_INLINE WHITTLE_UNUSED int32_t whittle_high4(uint8_t b) {
    const uint32_t nibble = ((uint32_t)b >> 4) ^ 8u;
    return (int32_t)nibble - 8;
}

static WHITTLE_INLINE WHITTLE_UNUSED int32_t whittle_low4(uint8_t b) {
    const uint32_t nibble = ((uint32_t)b & 15u) ^ 8u;
    return (int32_t)nibble - 8;
}

#if defined(WHITTLE_NEON_S8)
/* A group of eight 4-bit weights (one word of the 4-bit layout) as the byte layout's eight weights,
 * widened to int16: the high nibbles of bytes 0-3, then their low nibbles. */
static WHITTLE_INLINE int16x8_t whittle_nibbles_s16(const uint8_t *pw) {
    uint32_t word;
    (void)memcpy(&word, pw, 4);
    {
        const int8x8_t v = vreinterpret_s8_u32(vdup_n_u32(word));
        return vmovl_s8(vext_s8(vshr_n_s8(v, 4), vshr_n_s8(vshl_n_s8(v, 4), 4), 4));
    }
}

/* s00 .. s11 gain one group's products: eight weights wv (four taps of each channel of the pair) with
 * the eight halfwords xv of the column pair, lane by lane. */
static WHITTLE_INLINE void whittle_neon_group(int16x8_t wv, int16x8_t xv, int32x4_t *s) {
#if defined(__aarch64__)
    /* The columns with halves swapped: every product is a low or high (SMLAL2) half pair. */
    const int16x8_t xs = vextq_s16(xv, xv, 4);
    s[0] = vmlal_s16(s[0], vget_low_s16(wv), vget_low_s16(xv));
    s[1] = vmlal_s16(s[1], vget_low_s16(wv), vget_low_s16(xs));
    s[2] = vmlal_high_s16(s[2], wv, xs);
    s[3] = vmlal_high_s16(s[3], wv, xv);
#else
    s[0] = vmlal_s16(s[0], vget_low_s16(wv), vget_low_s16(xv));
    s[1] = vmlal_s16(s[1], vget_low_s16(wv), vget_high_s16(xv));
    s[2] = vmlal_s16(s[2], vget_high_s16(wv), vget_low_s16(xv));
    s[3] = vmlal_s16(s[3], vget_high_s16(wv), vget_high_s16(xv));
#endif
}

/* acc[j] += the sum of the lanes of s[j] (pairwise adds gather the four sums into one vector). */
static WHITTLE_INLINE void whittle_neon_sums(const int32x4_t *s, int32_t *acc) {
    const int32x2_t h00 = vpadd_s32(vget_low_s32(s[0]), vget_high_s32(s[0]));
    const int32x2_t h01 = vpadd_s32(vget_low_s32(s[1]), vget_high_s32(s[1]));
    const int32x2_t h10 = vpadd_s32(vget_low_s32(s[2]), vget_high_s32(s[2]));
    const int32x2_t h11 = vpadd_s32(vget_low_s32(s[3]), vget_high_s32(s[3]));
    const int32x2_t first = vpadd_s32(h00, h01), second = vpadd_s32(h10, h11);
    acc[0] += vget_lane_s32(first, 0);
    acc[1] += vget_lane_s32(first, 1);
    acc[2] += vget_lane_s32(second, 0);
    acc[3] += vget_lane_s32(second, 1);
}
#endif

/* The 4-bit layout's products for one channel pair (acc[0 .. 3] as in the paired-row product): each group of
 * eight weights of the byte layout in one word (see whittle_kernels.h). */
static void whittle_pair_s4(int k_padded, const uint8_t *pw, const int16_t *pc, int32_t *acc) {
#if defined(WHITTLE_DSP)
    /* The sums are 16 times the products (the compiler keeps 16 * 8 * 255 * k_padded below 2^31), so
     * they divide exactly at the end. */
    int32_t s[4] = {0, 0, 0, 0};
#if defined(__GNUC__) && defined(__thumb2__)
    /* As whittle_pair_s8's loop, each group's weights one word masked in place (the high nibbles, then
     * the low ones shifted up): 17 instructions for 16 multiply-accumulates. */
    int groups = k_padded / 4;
    int32_t w0, w1, t0, t1, x0, x1;
    if ((groups & 1) != 0) {
        whittle_mac4_s4(pw, pc, s);
        pw += 4;
        pc += 8;
    }
    groups >>= 1;
    if (groups > 0) {
        int32_t a00 = s[0], a01 = s[1], a10 = s[2], a11 = s[3];
        __asm__ volatile(
            "1:\n\t"
            "ldr %[w0], [%[pw]], #4\n\t"
            "ldrd %[x0], %[x1], [%[pc]], #8\n\t"
            "lsl %[w1], %[w0], #4\n\t"
            "and %[w0], %[w0], #0xF0F0F0F0\n\t"
            "and %[w1], %[w1], #0xF0F0F0F0\n\t"
            "sxtb16 %[t0], %[w0]\n\t"
            "sxtb16 %[w0], %[w0], ror #8\n\t"
            "sxtb16 %[t1], %[w1]\n\t"
            "sxtb16 %[w1], %[w1], ror #8\n\t"
            "smlad %[a00], %[t0], %[x0], %[a00]\n\t"
            "smlad %[a10], %[t1], %[x0], %[a10]\n\t"
            "smlad %[a00], %[w0], %[x1], %[a00]\n\t"
            "smlad %[a10], %[w1], %[x1], %[a10]\n\t"
            "ldrd %[x0], %[x1], [%[pc]], #8\n\t"
            "smlad %[a01], %[t0], %[x0], %[a01]\n\t"
            "smlad %[a11], %[t1], %[x0], %[a11]\n\t"
            "smlad %[a01], %[w0], %[x1], %[a01]\n\t"
            "smlad %[a11], %[w1], %[x1], %[a11]\n\t"
            "ldr %[w0], [%[pw]], #4\n\t"
            "ldrd %[x0], %[x1], [%[pc]], #8\n\t"
            "lsl %[w1], %[w0], #4\n\t"
            "and %[w0], %[w0], #0xF0F0F0F0\n\t"
            "and %[w1], %[w1], #0xF0F0F0F0\n\t"
            "sxtb16 %[t0], %[w0]\n\t"
            "sxtb16 %[w0], %[w0], ror #8\n\t"
            "sxtb16 %[t1], %[w1]\n\t"
            "sxtb16 %[w1], %[w1], ror #8\n\t"
            "smlad %[a00], %[t0], %[x0], %[a00]\n\t"
            "smlad %[a10], %[t1], %[x0], %[a10]\n\t"
            "smlad %[a00], %[w0], %[x1], %[a00]\n\t"
            "smlad %[a10], %[w1], %[x1], %[a10]\n\t"
            "ldrd %[x0], %[x1], [%[pc]], #8\n\t"
            "smlad %[a01], %[t0], %[x0], %[a01]\n\t"
            "smlad %[a11], %[t1], %[x0], %[a11]\n\t"
            "smlad %[a01], %[w0], %[x1], %[a01]\n\t"
            "smlad %[a11], %[w1], %[x1], %[a11]\n\t"
            "subs %[n], %[n], #1\n\t"
            "bne 1b"
            : [a00] "+r"(a00), [a01] "+r"(a01), [a10] "+r"(a10), [a11] "+r"(a11), [pw] "+r"(pw), [pc] "+r"(pc), [n] "+r"(groups),
              [w0] "=&r"(w0), [w1] "=&r"(w1), [t0] "=&r"(t0), [t1] "=&r"(t1), [x0] "=&r"(x0), [x1] "=&r"(x1)
            :
            : "cc", "memory");
        s[0] = a00;
        s[1] = a01;
        s[2] = a10;
        s[3] = a11;
    }
#else
    int i = k_padded;
    for (; i >= 8; i -= 8, pw += 8, pc += 16) {
        whittle_mac4_s4(pw, pc, s);
        whittle_mac4_s4(pw + 4, pc + 8, s);
    }
    if (i > 0) { whittle_mac4_s4(pw, pc, s); }
#endif
    acc[0] += s[0] / 16;
    acc[1] += s[1] / 16;
    acc[2] += s[2] / 16;
    acc[3] += s[3] / 16;
#elif defined(WHITTLE_NEON_S8)
    int32x4_t s[4];
    s[0] = s[1] = s[2] = s[3] = vdupq_n_s32(0);
    for (int i = k_padded / 4; i > 0; --i, pw += 4, pc += 8) { whittle_neon_group(whittle_nibbles_s16(pw), vld1q_s16(pc), s); }
    whittle_neon_sums(s, acc);
#else
    for (int i = k_padded / 4; i > 0; --i, pw += 4, pc += 8) {
        const int32_t w0 = whittle_high4(pw[0]), w2 = whittle_high4(pw[1]), w1 = whittle_high4(pw[2]), w3 = whittle_high4(pw[3]);
        const int32_t v0 = whittle_low4(pw[0]), v2 = whittle_low4(pw[1]), v1 = whittle_low4(pw[2]), v3 = whittle_low4(pw[3]);
        acc[0] += w0 * pc[0] + w1 * pc[1] + w2 * pc[2] + w3 * pc[3];
        acc[1] += w0 * pc[4] + w1 * pc[5] + w2 * pc[6] + w3 * pc[7];
        acc[2] += v0 * pc[0] + v1 * pc[1] + v2 * pc[2] + v3 * pc[3];
        acc[3] += v0 * pc[4] + v1 * pc[5] + v2 * pc[6] + v3 * pc[7];
    }
#endif
}

/* The wide layout's products for one channel pair (a00 .. a11 as in the paired-row product): weights int16,
 * for each group of four taps the first channel's four then the second's, in tap order; the
 * columns' order comes from whittle_slot. */
static void whittle_pair_s16(int k_padded, const int16_t *pw, const int16_t *pc, int32_t *acc) {
#if defined(WHITTLE_DSP) && defined(__GNUC__) && defined(__thumb2__)
    /* As whittle_pair_s8's loop without the unpacking: per group two LDRDs of weights, two of the
     * columns and eight SMLADs, 12 instructions for 16 multiply-accumulates. */
    int groups = k_padded / 4;
    int32_t a00 = acc[0], a01 = acc[1], a10 = acc[2], a11 = acc[3], wa01, wa23, wb01, wb23, x0, x1;
    __asm__ volatile(
        "1:\n\t"
        "ldrd %[wa01], %[wa23], [%[pw]], #8\n\t"
        "ldrd %[wb01], %[wb23], [%[pw]], #8\n\t"
        "ldrd %[x0], %[x1], [%[pc]], #8\n\t"
        "smlad %[a00], %[wa01], %[x0], %[a00]\n\t"
        "smlad %[a10], %[wb01], %[x0], %[a10]\n\t"
        "smlad %[a00], %[wa23], %[x1], %[a00]\n\t"
        "smlad %[a10], %[wb23], %[x1], %[a10]\n\t"
        "ldrd %[x0], %[x1], [%[pc]], #8\n\t"
        "smlad %[a01], %[wa01], %[x0], %[a01]\n\t"
        "smlad %[a11], %[wb01], %[x0], %[a11]\n\t"
        "smlad %[a01], %[wa23], %[x1], %[a01]\n\t"
        "smlad %[a11], %[wb23], %[x1], %[a11]\n\t"
        "subs %[n], %[n], #1\n\t"
        "bne 1b"
        : [a00] "+r"(a00), [a01] "+r"(a01), [a10] "+r"(a10), [a11] "+r"(a11), [pw] "+r"(pw), [pc] "+r"(pc), [n] "+r"(groups),
          [wa01] "=&r"(wa01), [wa23] "=&r"(wa23), [wb01] "=&r"(wb01), [wb23] "=&r"(wb23), [x0] "=&r"(x0), [x1] "=&r"(x1)
        :
        : "cc", "memory");
    acc[0] = a00;
    acc[1] = a01;
    acc[2] = a10;
    acc[3] = a11;
#elif defined(WHITTLE_DSP)
    int i = k_padded;
    /* Sixteen taps per pass (fewer loop instructions per multiply-accumulate), then eight, then four. */
    for (; i >= 16; i -= 16, pw += 32, pc += 32) {
        whittle_mac4_s16(pw, pc, acc);
        whittle_mac4_s16(pw + 8, pc + 8, acc);
        whittle_mac4_s16(pw + 16, pc + 16, acc);
        whittle_mac4_s16(pw + 24, pc + 24, acc);
    }
    if (i >= 8) {
        whittle_mac4_s16(pw, pc, acc);
        whittle_mac4_s16(pw + 8, pc + 8, acc);
        i -= 8;
        pw += 16;
        pc += 16;
    }
    if (i > 0) { whittle_mac4_s16(pw, pc, acc); }
#else
    const int s0 = whittle_slot(0), s1 = whittle_slot(1), s2 = whittle_slot(2), s3 = whittle_slot(3);
    for (int i = k_padded / 4; i > 0; --i, pw += 8, pc += 8) {
        acc[0] += pw[0] * pc[s0] + pw[1] * pc[s1] + pw[2] * pc[s2] + pw[3] * pc[s3];
        acc[1] += pw[0] * pc[4 + s0] + pw[1] * pc[4 + s1] + pw[2] * pc[4 + s2] + pw[3] * pc[4 + s3];
        acc[2] += pw[4] * pc[s0] + pw[5] * pc[s1] + pw[6] * pc[s2] + pw[7] * pc[s3];
        acc[3] += pw[4] * pc[4 + s0] + pw[5] * pc[4 + s1] + pw[6] * pc[4 + s2] + pw[7] * pc[4 + s3];
    }
#endif
}

/* y[m * y_stride + j] (int8, uint8 or int16, as rq says) for output channels m < out_channels and the
 * `count` (1 or 2) columns j of the interleaved pair `columns`. Weights are in the paired-row
 * layout of whittle_kernels.h: for each pair of channels, four taps of the first channel then
 * four of the second, each four in the order 0, 2, 1, 3, so that one SXTB16 yields taps 0 and 1
 * and one SXTB16 of the word rotated by 8 yields taps 2 and 3. Two channels by two columns per
 * pass: every weight word and column word loaded serves two multiply-accumulates. */
static WHITTLE_INLINE void whittle_gemm_rows(int out_channels, int k_padded, const void *weights, int form, const int16_t *columns,
                                              int count, const int32_t *bias, const whittle_requant *requant, void *y, int y_stride,
                                              const int wide_out) {
    const int8_t *w = (const int8_t *)weights;
    const int16_t *w16 = (const int16_t *)weights;
    const uint8_t *w4 = (const uint8_t *)weights;
    /* A local copy: stores through y (a character type) could otherwise change *requant for all
     * the compiler knows, and every output would reload it. */
    const whittle_requant local = *requant, *rq = &local;
#if defined(__GNUC__)
    /* The columns are 8-byte aligned (arena scratch), so pairs of words load with LDRD. */
    const int16_t *aligned = (const int16_t *)__builtin_assume_aligned(columns, 8);
#else
    const int16_t *aligned = columns;
#endif
    int m = 0;
    for (; m + 2 <= out_channels; m += 2) {
        const int8_t *pw = w + m * k_padded;
        const int16_t *pc = aligned;
        int32_t a00 = bias[m], a01 = bias[m], a10 = bias[m + 1], a11 = bias[m + 1];
        if (form != 0) {
            int32_t acc[4];
            acc[0] = a00;
            acc[1] = a01;
            acc[2] = a10;
            acc[3] = a11;
            if (form == 1) {
                whittle_pair_s16(k_padded, w16 + m * k_padded, pc, acc);
            } else {
                whittle_pair_s4(k_padded, w4 + m * k_padded / 2, pc, acc);
            }
            a00 = acc[0];
            a01 = acc[1];
            a10 = acc[2];
            a11 = acc[3];
        } else {
#if defined(WHITTLE_DSP)
        int32_t acc[4];
        acc[0] = a00;
        acc[1] = a01;
        acc[2] = a10;
        acc[3] = a11;
        if (count > 1) {
            whittle_pair_s8(k_padded / 4, pw, pc, acc);
        } else {
            /* One column (fully connected layers, a last odd pixel): its products only. */
            whittle_column_s8(k_padded / 4, pw, pc, acc);
        }
        a00 = acc[0];
        a01 = acc[1];
        a10 = acc[2];
        a11 = acc[3];
#elif defined(WHITTLE_NEON_S8)
        /* Eight bytes of weights (four taps of each channel, in the order the columns share) are
         * widened to int16 and multiplied lane by lane with the eight halfwords of the column
         * pair, widening into int32 lanes; the lanes are added at the end. */
        {
            int32_t acc[4] = {0, 0, 0, 0};
            int32x4_t s[4];
            s[0] = s[1] = s[2] = s[3] = vdupq_n_s32(0);
            for (int i = k_padded / 4; i > 0; --i, pw += 8, pc += 8) { whittle_neon_group(vmovl_s8(vld1_s8(pw)), vld1q_s16(pc), s); }
            whittle_neon_sums(s, acc);
            a00 += acc[0];
            a01 += acc[1];
            a10 += acc[2];
            a11 += acc[3];
        }
#else
        for (int i = k_padded / 4; i > 0; --i, pw += 8, pc += 8) {
            a00 += pw[0] * pc[0] + pw[2] * pc[1] + pw[1] * pc[2] + pw[3] * pc[3];
            a01 += pw[0] * pc[4] + pw[2] * pc[5] + pw[1] * pc[6] + pw[3] * pc[7];
            a10 += pw[4] * pc[0] + pw[6] * pc[1] + pw[5] * pc[2] + pw[7] * pc[3];
            a11 += pw[4] * pc[4] + pw[6] * pc[5] + pw[5] * pc[6] + pw[7] * pc[7];
        }
#endif
        }
        {
            /* Each channel's multiplier is read once, and every value is computed before the stores
             * (which, through a character type, could otherwise change what the compiler must reload). */
            whittle_channel_requant q0 = whittle_channel(rq, m), q1 = whittle_channel(rq, m + 1);
            /* Compares saturate here: with four outputs per pass, SSAT's test costs more than it saves. */
            q0.int8_range = q1.int8_range = 0;
            const int32_t v00 = whittle_channel_value(&q0, rq, m, a00), v10 = whittle_channel_value(&q1, rq, m + 1, a10);
            if (wide_out != 0) {
                int16_t *y16 = (int16_t *)y;
                if (count > 1) {
                    y16[m * y_stride + 1] = (int16_t)whittle_channel_value(&q0, rq, m, a01);
                    y16[(m + 1) * y_stride + 1] = (int16_t)whittle_channel_value(&q1, rq, m + 1, a11);
                }
                y16[m * y_stride] = (int16_t)v00;
                y16[(m + 1) * y_stride] = (int16_t)v10;
                continue;
            }
            if (count > 1) {
                const int32_t v01 = whittle_channel_value(&q0, rq, m, a01), v11 = whittle_channel_value(&q1, rq, m + 1, a11);
                whittle_store8(rq, y, m * y_stride + 1, v01);
                whittle_store8(rq, y, (m + 1) * y_stride + 1, v11);
            }
            whittle_store8(rq, y, m * y_stride, v00);
            whittle_store8(rq, y, (m + 1) * y_stride, v10);
        }
    }
    if (m < out_channels) {
        /* A last odd channel: its groups of four follow each other. */
        const int8_t *pw = w + m * k_padded;
        const int16_t *pc = aligned;
        int32_t a0 = bias[m], a1 = bias[m];
        if (form == 2) {
            /* The 4-bit layout's last channel: the high nibbles of its pair's words (the low ones are zero). */
            const uint8_t *pv = w4 + m * k_padded / 2;
            for (int i = k_padded / 4; i > 0; --i, pv += 4, pc += 8) {
                const int32_t w0 = whittle_high4(pv[0]), w1 = whittle_high4(pv[1]), w2 = whittle_high4(pv[2]), w3 = whittle_high4(pv[3]);
#if defined(WHITTLE_NEON_S8)
                a0 += w0 * pc[0] + w1 * pc[1] + w2 * pc[2] + w3 * pc[3];
                a1 += w0 * pc[4] + w1 * pc[5] + w2 * pc[6] + w3 * pc[7];
#else
                a0 += w0 * pc[0] + w2 * pc[1] + w1 * pc[2] + w3 * pc[3];
                a1 += w0 * pc[4] + w2 * pc[5] + w1 * pc[6] + w3 * pc[7];
#endif
            }
        } else if (form == 1) {
            /* The wide layout's last channel: its taps in order. */
            const int16_t *pv = w16 + m * k_padded;
            const int s0 = whittle_slot(0), s1 = whittle_slot(1), s2 = whittle_slot(2), s3 = whittle_slot(3);
            for (int i = k_padded / 4; i > 0; --i, pv += 4, pc += 8) {
                a0 += pv[0] * pc[s0] + pv[1] * pc[s1] + pv[2] * pc[s2] + pv[3] * pc[s3];
                a1 += pv[0] * pc[4 + s0] + pv[1] * pc[4 + s1] + pv[2] * pc[4 + s2] + pv[3] * pc[4 + s3];
            }
        } else {
            for (int i = k_padded / 4; i > 0; --i, pw += 4, pc += 8) {
#if defined(WHITTLE_NEON_S8)
                /* The columns share the weights' order (whittle_slot). */
                a0 += pw[0] * pc[0] + pw[1] * pc[1] + pw[2] * pc[2] + pw[3] * pc[3];
                a1 += pw[0] * pc[4] + pw[1] * pc[5] + pw[2] * pc[6] + pw[3] * pc[7];
#else
                a0 += pw[0] * pc[0] + pw[2] * pc[1] + pw[1] * pc[2] + pw[3] * pc[3];
                a1 += pw[0] * pc[4] + pw[2] * pc[5] + pw[1] * pc[6] + pw[3] * pc[7];
#endif
            }
        }
        const whittle_channel_requant q = whittle_channel(rq, m);
        if (wide_out != 0) {
            ((int16_t *)y)[m * y_stride] = (int16_t)whittle_channel_value(&q, rq, m, a0);
            if (count > 1) { ((int16_t *)y)[m * y_stride + 1] = (int16_t)whittle_channel_value(&q, rq, m, a1); }
        } else {
            whittle_store8(rq, y, m * y_stride, whittle_channel_value(&q, rq, m, a0));
            if (count > 1) { whittle_store8(rq, y, m * y_stride + 1, whittle_channel_value(&q, rq, m, a1)); }
        }
    }
}

/* whittle_gemm_rows into int8 or uint8 outputs. */
static void whittle_gemm_s8(int out_channels, int k_padded, const void *weights, int form, const int16_t *columns, int count,
                            const int32_t *bias, const whittle_requant *rq, void *y, int y_stride) {
    whittle_gemm_rows(out_channels, k_padded, weights, form, columns, count, bias, rq, y, y_stride, 0);
}

/* whittle_gemm_rows into int16 outputs (the 16x8 scheme), a function of its own so that 8-bit
 * models carry no int16 stores. */
static void whittle_gemm_s16(int out_channels, int k_padded, const void *weights, int form, const int16_t *columns, int count,
                             const int32_t *bias, const whittle_requant *rq, void *y, int y_stride) {
    whittle_gemm_rows(out_channels, k_padded, weights, form, columns, count, bias, rq, y, y_stride, 1);
}

/* The pixels of one image two at a time: im2col into `columns` (scratch of 2 * k_padded int16,
 * k_padded = channels * kernel_h * kernel_w rounded up to a multiple of 4), then `gemm` (the 8- or
 * 16-bit output form of the paired-row product, whose outputs take `out_bytes` each) with every output
 * channel's weights. (Comments name no helper a caller may not need: the library copies what a
 * definition's text names.) */
static WHITTLE_INLINE void whittle_conv_pixels(const whittle_conv_geometry *g, int out_channels, const void *x, int x_unsigned,
                                               int32_t x_zero, const void *w, int form, const int32_t *bias, const whittle_requant *rq,
                                               void *y, int16_t *columns, const int out_bytes,
                                               void (*gemm)(int, int, const void *, int, const int16_t *, int, const int32_t *,
                                                            const whittle_requant *, void *, int)) {
    const int k_padded = (g->channels * g->kernel_h * g->kernel_w + 3) / 4 * 4;
    const int pixels = g->out_height * g->out_width;
    for (int p = 0; p < pixels; p += 2) {
        const int count = p + 1 < pixels ? (int)2 : (int)1;
        whittle_im2col8(g, x, x_unsigned, x_zero, p, columns, 0, k_padded);
        if (count > 1) {
            whittle_im2col8(g, x, x_unsigned, x_zero, p + 1, columns, 1, k_padded);
        } else {
            for (int k = 0; k < k_padded; ++k) { columns[whittle_slot(k) + 4] = 0; }
        }
        gemm(out_channels, k_padded, w, form, columns, count, bias, rq, (unsigned char *)y + p * out_bytes, pixels);
    }
}

/* Convolution of one image (one group; x and y int8 or uint8): y[m][oh][ow] = requant(bias[m] +
 * sum over taps of (x - x_zero) * w). */
WHITTLE_KERNEL void whittle_conv_s8(const whittle_conv_geometry *g, int out_channels, const void *x, int x_unsigned,
                                    int32_t x_zero, const void *w, int form, const int32_t *bias, const whittle_requant *rq, void *y,
                                    int16_t *columns) {
    whittle_conv_pixels(g, out_channels, x, x_unsigned, x_zero, w, form, bias, rq, y, columns, 1, whittle_gemm_s8);
}

/* The same with 16-bit activations (the 16x8 scheme): x and y int16, zero point 0 in. */
WHITTLE_KERNEL void whittle_conv_s16(const whittle_conv_geometry *g, int out_channels, const int16_t *x, const void *w, int form,
                                     const int32_t *bias, const whittle_requant *rq, int16_t *y, int16_t *columns) {
    whittle_conv_pixels(g, out_channels, x, 2, 0, w, form, bias, rq, y, columns, 2, whittle_gemm_s16);
}

/* Fully connected (x and y int8 or uint8): y[r][n] = requant(bias[n] + sum over k of (x[r][k] -
 * x_zero) * w[n][k]) for `rows` rows of `depth` inputs (weights in the paired-row layout,
 * k_padded = depth rounded up to a multiple of 4); `columns` is scratch of 2 * k_padded int16. */
WHITTLE_KERNEL void whittle_fully_connected_s8(int rows, int depth, int out_features, const void *x, int x_unsigned,
                                               int32_t x_zero, const void *w, int form, const int32_t *bias, const whittle_requant *rq,
                                               void *y, int16_t *columns) {
    const int k_padded = (depth + 3) / 4 * 4;
    for (int r = 0; r < rows; ++r) {
        for (int k = 0; k < k_padded; ++k) {
            columns[whittle_slot(k)] = (int16_t)(k < depth ? whittle_tap8(x, x_unsigned, r * depth + k) - x_zero : 0);
            columns[whittle_slot(k) + 4] = 0;
        }
        whittle_gemm_s8(out_features, k_padded, w, form, columns, 1, bias, rq,
                        rq->out_unsigned ? (void *)((uint8_t *)y + r * out_features) : (void *)((int8_t *)y + r * out_features), 1);
    }
}

/* The same with 16-bit activations: x and y int16, zero point 0 in. */
WHITTLE_KERNEL void whittle_fully_connected_s16(int rows, int depth, int out_features, const int16_t *x, const void *w, int form,
                                                const int32_t *bias, const whittle_requant *rq, int16_t *y, int16_t *columns) {
    const int k_padded = (depth + 3) / 4 * 4;
    for (int r = 0; r < rows; ++r) {
        for (int k = 0; k < k_padded; ++k) {
            columns[whittle_slot(k)] = k < depth ? x[r * depth + k] : 0;
            columns[whittle_slot(k) + 4] = 0;
        }
        whittle_gemm_s16(out_features, k_padded, w, form, columns, 1, bias, rq, y + r * out_features, 1);
    }
}

#if defined(WHITTLE_DSP)
/* One row of a 3x3 window pair: x02 and x13 are the row's bytes 0, 2 and 1, 3 (SXTB16 of the word
 * and of it rotated by 8); k holds (w0, w2) of the row, c its w1. Outputs ow (a0) and ow + 1 (a1). */
static WHITTLE_INLINE void whittle_dw_row(int32_t x02, int32_t x13, int32_t k, int32_t c, int32_t *a0, int32_t *a1) {
    *a0 = __smlabb(x13, c, __smlad(x02, k, *a0));
    *a1 = __smlatb(x02, c, __smlad(x13, k, *a1));
}

/* A row's four bytes from `at` as (x0, x2) and (x1, x3). */
static WHITTLE_INLINE void whittle_dw_unpack(const int8_t *at, int32_t *x02, int32_t *x13) {
    int32_t v;
    (void)memcpy(&v, at, 4);
    *x02 = __sxtb16(v);
    *x13 = whittle_sxtb16_ror8(v);
}
#endif

/* Depthwise convolution of one int8 image (int8 output), one filter per channel (g->channels
 * channels): y[c][oh][ow] = requant(bias[c] + sum of (x - x_zero) * w[c] over the taps inside the
 * map). Each channel is copied into `padded` (scratch, see whittle_kernels.h) inside a border of
 * x_zero; then every window lies inside and sum((x - x_zero) * w) = sum(x * w) + inner_bias[c],
 * inner_bias[c] = bias[c] - x_zero * sum(w[c]) fixed at compile time, exactly. 3x3 windows keep
 * their weights in registers; with stride 1 and the DSP extension they compute two outputs at a
 * time with SMLAD (a spare column lets the last pair read one byte past the windows), with NEON
 * eight at a time. */
WHITTLE_KERNEL void whittle_depthwise_s8(const whittle_conv_geometry *g, const int8_t *x, int32_t x_zero, const void *w, int nibbles,
                                         const int32_t *inner_bias, const whittle_requant *requant, int8_t *y, int8_t *padded) {
    const whittle_requant local = *requant, *rq = &local;
    const int taps = g->kernel_h * g->kernel_w, plane = g->height * g->width, outputs = g->out_height * g->out_width;
    const int ph = (g->out_height - 1) * g->stride_h + (g->kernel_h - 1) * g->dilation_h + 1;
    const int pw = (g->out_width - 1) * g->stride_w + (g->kernel_w - 1) * g->dilation_w + 2;
    /* The input rows and columns the windows reach (the rest of the map is never read). */
    const int rows = g->height < ph - g->pad_top ? g->height : ph - g->pad_top;
    const int columns = g->width < pw - g->pad_left ? g->width : pw - g->pad_left;
    const int three = (int)(g->kernel_h == 3 && g->kernel_w == 3 && g->dilation_h == 1 && g->dilation_w == 1);
    /* The border holds x_zero for every channel: it is written once (with the 16 spare bytes). */
    (void)memset(padded, (unsigned char)x_zero, (size_t)ph * (size_t)pw + 16u);
    for (int c = 0; c < g->channels; ++c) {
        const int8_t *in = x + c * plane, *wc = (const int8_t *)w + c * taps;
        if (nibbles != 0) {
            /* 4-bit filters: this channel's taps as bytes, after the plane's copy. */
            whittle_unpack_filter4((const uint8_t *)w, c * taps, taps, padded + (size_t)ph * (size_t)pw + 16u);
            wc = padded + (size_t)ph * (size_t)pw + 16u;
        }
        const int32_t bias = inner_bias[c];
        const whittle_channel_requant q = whittle_channel(rq, c);
        int8_t *out = y + c * outputs;
        for (int r = 0; r < rows; ++r) {
            /* Rows are short: words, then bytes, rather than a call to memcpy per row. */
            int8_t *to = padded + (r + g->pad_top) * pw + g->pad_left;
            const int8_t *from = in + r * g->width;
            int j = 0;
            for (; j + 4 <= columns; j += 4) { (void)memcpy(to + j, from + j, 4); }
            for (; j < columns; ++j) { to[j] = from[j]; }
        }
        if (three != 0) {
            const int32_t w0 = wc[0], w1 = wc[1], w2 = wc[2], w3 = wc[3], w4 = wc[4], w5 = wc[5], w6 = wc[6], w7 = wc[7], w8 = wc[8];
#if defined(WHITTLE_DSP)
            if (g->stride_w == 1) {
                /* Outputs ow and ow + 1 read x[0..3] of a row: SXTB16 gives (x0, x2) and (x1, x3);
                 * (w0, w2) is one halfword pair, w1 is multiplied with x1 (output ow) and x2 (ow + 1).
                 * The channel's requantization constants are read once, outside the loops. */
                const uint32_t p0 = ((uint32_t)w0 & 0xFFFFu) | ((uint32_t)w2 << 16), p1 = ((uint32_t)w3 & 0xFFFFu) | ((uint32_t)w5 << 16);
                const uint32_t p2 = ((uint32_t)w6 & 0xFFFFu) | ((uint32_t)w8 << 16);
                const int32_t k0 = (int32_t)p0, c0 = w1, k1 = (int32_t)p1, c1 = w4, k2 = (int32_t)p2, c2 = w7;
                const int width = g->out_width, step = g->stride_h * pw;
                int first = 0;
                if (g->stride_h == 1) {
                    /* Two output rows at a time share their middle input rows: four rows unpacked for
                     * four outputs. */
                    for (; first + 1 < g->out_height; first += 2) {
                        const int8_t *r0 = padded + first * pw, *r1 = r0 + pw, *r2 = r1 + pw, *r3 = r2 + pw;
                        int8_t *o = out + first * width, *p = o + width;
                        int ow = 0;
                        for (; ow + 1 < width; ow += 2) {
                            int32_t a0 = bias, a1 = bias, b0 = bias, b1 = bias, x02, x13;
                            whittle_dw_unpack(r0 + ow, &x02, &x13);
                            whittle_dw_row(x02, x13, k0, c0, &a0, &a1);
                            whittle_dw_unpack(r1 + ow, &x02, &x13);
                            whittle_dw_row(x02, x13, k1, c1, &a0, &a1);
                            whittle_dw_row(x02, x13, k0, c0, &b0, &b1);
                            whittle_dw_unpack(r2 + ow, &x02, &x13);
                            whittle_dw_row(x02, x13, k2, c2, &a0, &a1);
                            whittle_dw_row(x02, x13, k1, c1, &b0, &b1);
                            whittle_dw_unpack(r3 + ow, &x02, &x13);
                            whittle_dw_row(x02, x13, k2, c2, &b0, &b1);
                            o[ow] = (int8_t)whittle_channel_value(&q, rq, c, a0);
                            o[ow + 1] = (int8_t)whittle_channel_value(&q, rq, c, a1);
                            p[ow] = (int8_t)whittle_channel_value(&q, rq, c, b0);
                            p[ow + 1] = (int8_t)whittle_channel_value(&q, rq, c, b1);
                        }
                        if (ow < width) {
                            /* An odd width: the last output of each row, unpacked as a pair's first
                             * (the spare column covers the read). */
                            int32_t a = bias, b = bias, x02, x13;
                            whittle_dw_unpack(r0 + ow, &x02, &x13);
                            a = __smlabb(x13, c0, __smlad(x02, k0, a));
                            whittle_dw_unpack(r1 + ow, &x02, &x13);
                            a = __smlabb(x13, c1, __smlad(x02, k1, a));
                            b = __smlabb(x13, c0, __smlad(x02, k0, b));
                            whittle_dw_unpack(r2 + ow, &x02, &x13);
                            a = __smlabb(x13, c2, __smlad(x02, k2, a));
                            b = __smlabb(x13, c1, __smlad(x02, k1, b));
                            whittle_dw_unpack(r3 + ow, &x02, &x13);
                            b = __smlabb(x13, c2, __smlad(x02, k2, b));
                            o[ow] = (int8_t)whittle_channel_value(&q, rq, c, a);
                            p[ow] = (int8_t)whittle_channel_value(&q, rq, c, b);
                        }
                    }
                }
                for (int oh = first; oh < g->out_height; ++oh) {
                    const int8_t *r0 = padded + oh * step, *r1 = r0 + pw, *r2 = r1 + pw;
                    int8_t *o = out + oh * width;
                    int ow = 0;
                    for (; ow + 1 < width; ow += 2) {
                        int32_t a0 = bias, a1 = bias, v0, v1, v2;
                        (void)memcpy(&v0, r0 + ow, 4);
                        (void)memcpy(&v1, r1 + ow, 4);
                        (void)memcpy(&v2, r2 + ow, 4);
                        {
                            const int32_t x02 = __sxtb16(v0), x13 = whittle_sxtb16_ror8(v0);
                            a0 = __smlabb(x13, c0, __smlad(x02, k0, a0));
                            a1 = __smlatb(x02, c0, __smlad(x13, k0, a1));
                        }
                        {
                            const int32_t x02 = __sxtb16(v1), x13 = whittle_sxtb16_ror8(v1);
                            a0 = __smlabb(x13, c1, __smlad(x02, k1, a0));
                            a1 = __smlatb(x02, c1, __smlad(x13, k1, a1));
                        }
                        {
                            const int32_t x02 = __sxtb16(v2), x13 = whittle_sxtb16_ror8(v2);
                            a0 = __smlabb(x13, c2, __smlad(x02, k2, a0));
                            a1 = __smlatb(x02, c2, __smlad(x13, k2, a1));
                        }
                        o[ow] = (int8_t)whittle_channel_value(&q, rq, c, a0);
                        o[ow + 1] = (int8_t)whittle_channel_value(&q, rq, c, a1);
                    }
                    if (ow < width) {
                        /* An odd width: the last output alone, as a pair's first. */
                        int32_t acc = bias, x02, x13;
                        whittle_dw_unpack(r0 + ow, &x02, &x13);
                        acc = __smlabb(x13, c0, __smlad(x02, k0, acc));
                        whittle_dw_unpack(r1 + ow, &x02, &x13);
                        acc = __smlabb(x13, c1, __smlad(x02, k1, acc));
                        whittle_dw_unpack(r2 + ow, &x02, &x13);
                        acc = __smlabb(x13, c2, __smlad(x02, k2, acc));
                        o[ow] = (int8_t)whittle_channel_value(&q, rq, c, acc);
                    }
                }
                continue;
            }
#elif defined(WHITTLE_NEON_S8)
            if (g->stride_w == 1) {
                /* Eight outputs of a row at a time: for each tap, eight inputs widened to int16 and
                 * multiplied by the tap's weight into two int32 vectors (the spare bytes after the
                 * plane cover the lanes past the row's end, whose sums are dropped). */
                for (int oh = 0; oh < g->out_height; ++oh) {
                    const int8_t *r0 = padded + oh * g->stride_h * pw, *r1 = r0 + pw, *r2 = r1 + pw;
                    int8_t *o = out + oh * g->out_width;
                    for (int ow = 0; ow < g->out_width; ow += 8) {
                        int32x4_t lo = vdupq_n_s32(bias), hi = lo;
                        int32_t sums[8];
                        const int n = g->out_width - ow < 8 ? g->out_width - ow : 8;
                        const int16x8_t v0 = vmovl_s8(vld1_s8(r0 + ow)), v1 = vmovl_s8(vld1_s8(r0 + ow + 1));
                        const int16x8_t v2 = vmovl_s8(vld1_s8(r0 + ow + 2)), v3 = vmovl_s8(vld1_s8(r1 + ow));
                        const int16x8_t v4 = vmovl_s8(vld1_s8(r1 + ow + 1)), v5 = vmovl_s8(vld1_s8(r1 + ow + 2));
                        const int16x8_t v6 = vmovl_s8(vld1_s8(r2 + ow)), v7 = vmovl_s8(vld1_s8(r2 + ow + 1));
                        const int16x8_t v8 = vmovl_s8(vld1_s8(r2 + ow + 2));
                        lo = vmlal_n_s16(lo, vget_low_s16(v0), (int16_t)w0);
                        hi = vmlal_n_s16(hi, vget_high_s16(v0), (int16_t)w0);
                        lo = vmlal_n_s16(lo, vget_low_s16(v1), (int16_t)w1);
                        hi = vmlal_n_s16(hi, vget_high_s16(v1), (int16_t)w1);
                        lo = vmlal_n_s16(lo, vget_low_s16(v2), (int16_t)w2);
                        hi = vmlal_n_s16(hi, vget_high_s16(v2), (int16_t)w2);
                        lo = vmlal_n_s16(lo, vget_low_s16(v3), (int16_t)w3);
                        hi = vmlal_n_s16(hi, vget_high_s16(v3), (int16_t)w3);
                        lo = vmlal_n_s16(lo, vget_low_s16(v4), (int16_t)w4);
                        hi = vmlal_n_s16(hi, vget_high_s16(v4), (int16_t)w4);
                        lo = vmlal_n_s16(lo, vget_low_s16(v5), (int16_t)w5);
                        hi = vmlal_n_s16(hi, vget_high_s16(v5), (int16_t)w5);
                        lo = vmlal_n_s16(lo, vget_low_s16(v6), (int16_t)w6);
                        hi = vmlal_n_s16(hi, vget_high_s16(v6), (int16_t)w6);
                        lo = vmlal_n_s16(lo, vget_low_s16(v7), (int16_t)w7);
                        hi = vmlal_n_s16(hi, vget_high_s16(v7), (int16_t)w7);
                        lo = vmlal_n_s16(lo, vget_low_s16(v8), (int16_t)w8);
                        hi = vmlal_n_s16(hi, vget_high_s16(v8), (int16_t)w8);
                        vst1q_s32(sums, lo);
                        vst1q_s32(sums + 4, hi);
                        for (int j = 0; j < n; ++j) { o[ow + j] = (int8_t)whittle_channel_value(&q, rq, c, sums[j]); }
                    }
                }
                continue;
            }
#endif
            for (int oh = 0; oh < g->out_height; ++oh) {
                const int8_t *r0 = padded + oh * g->stride_h * pw, *r1 = r0 + pw, *r2 = r1 + pw;
                for (int ow = 0; ow < g->out_width; ++ow) {
                    const int at = ow * g->stride_w;
                    int32_t acc = bias;
                    acc += r0[at] * w0 + r0[at + 1] * w1 + r0[at + 2] * w2;
                    acc += r1[at] * w3 + r1[at + 1] * w4 + r1[at + 2] * w5;
                    acc += r2[at] * w6 + r2[at + 1] * w7 + r2[at + 2] * w8;
                    out[oh * g->out_width + ow] = (int8_t)whittle_channel_value(&q, rq, c, acc);
                }
            }
        } else {
            for (int oh = 0; oh < g->out_height; ++oh) {
                for (int ow = 0; ow < g->out_width; ++ow) {
                    const int8_t *r0 = padded + oh * g->stride_h * pw + ow * g->stride_w;
                    int32_t acc = bias;
                    for (int kh = 0; kh < g->kernel_h; ++kh) {
                        for (int kw = 0; kw < g->kernel_w; ++kw) { acc += r0[kh * g->dilation_h * pw + kw * g->dilation_w] * wc[kh * g->kernel_w + kw]; }
                    }
                    out[oh * g->out_width + ow] = (int8_t)whittle_channel_value(&q, rq, c, acc);
                }
            }
        }
    }
}

#if defined(WHITTLE_NEON_S8)
/* Eight outputs' sums of one window row: three taps, each eight inputs times its weight. */
static WHITTLE_INLINE void whittle_dw16_taps(const int16_t *row, const int8_t *w, int32x4_t *lo, int32x4_t *hi) {
    const int16x8_t v0 = vld1q_s16(row), v1 = vld1q_s16(row + 1), v2 = vld1q_s16(row + 2);
    *lo = vmlal_n_s16(*lo, vget_low_s16(v0), (int16_t)w[0]);
    *hi = vmlal_n_s16(*hi, vget_high_s16(v0), (int16_t)w[0]);
    *lo = vmlal_n_s16(*lo, vget_low_s16(v1), (int16_t)w[1]);
    *hi = vmlal_n_s16(*hi, vget_high_s16(v1), (int16_t)w[1]);
    *lo = vmlal_n_s16(*lo, vget_low_s16(v2), (int16_t)w[2]);
    *hi = vmlal_n_s16(*hi, vget_high_s16(v2), (int16_t)w[2]);
}
#endif

/* Depthwise convolution of one image with 16-bit activations (the 16x8 scheme: int16 in with zero
 * point 0, int8 filters in natural order, int16 out): y[c][oh][ow] = requant(bias[c] + sum of x * w[c]
 * over the taps inside the map). Each channel is copied into `padded` (scratch of padded_h *
 * padded_w + 8 int16, see whittle_kernels.h) inside a border of zeros, so every window lies inside.
 * With the DSP extension, 3x3 windows with stride 1 compute two outputs at a time: halfword pairs of
 * a row, loaded as words (unaligned ones included), multiply (w0, w1) with SMLAD and w2 with
 * SMLABB/SMLATB; with NEON eight at a time. The compiler proves that no sum leaves int32. */
WHITTLE_KERNEL void whittle_depthwise_s16(const whittle_conv_geometry *g, const int16_t *x, const int8_t *w, const int32_t *bias,
                                          const whittle_requant *requant, int16_t *y, int16_t *padded) {
    const whittle_requant local = *requant, *rq = &local;
    const int taps = g->kernel_h * g->kernel_w, plane = g->height * g->width, outputs = g->out_height * g->out_width;
    const int ph = (g->out_height - 1) * g->stride_h + (g->kernel_h - 1) * g->dilation_h + 1;
    const int pw = (g->out_width - 1) * g->stride_w + (g->kernel_w - 1) * g->dilation_w + 2;
    const int rows = g->height < ph - g->pad_top ? g->height : ph - g->pad_top;
    const int columns = g->width < pw - g->pad_left ? g->width : pw - g->pad_left;
    /* The border is zero for every channel: it is written once. */
    (void)memset(padded, 0, ((size_t)ph * (size_t)pw + 8u) * sizeof(int16_t));
    for (int c = 0; c < g->channels; ++c) {
        const int16_t *in = x + c * plane;
        const int8_t *wc = w + c * taps;
        const int32_t b = bias[c];
        const whittle_channel_requant q = whittle_channel(rq, c);
        int16_t *out = y + c * outputs;
        for (int r = 0; r < rows; ++r) {
            /* Rows are short: a loop rather than a call to memcpy per row. */
            int16_t *to = padded + (r + g->pad_top) * pw + g->pad_left;
            const int16_t *from = in + r * g->width;
            for (int j = 0; j < columns; ++j) { to[j] = from[j]; }
        }
#if defined(WHITTLE_DSP)
        if (g->kernel_h == 3 && g->kernel_w == 3 && g->dilation_h == 1 && g->dilation_w == 1 && g->stride_w == 1) {
            /* (w0, w1) of each filter row as a halfword pair, w2 alone. */
            const uint32_t p0 = ((uint32_t)wc[0] & 0xFFFFu) | ((uint32_t)wc[1] << 16), p1 = ((uint32_t)wc[3] & 0xFFFFu) | ((uint32_t)wc[4] << 16);
            const uint32_t p2 = ((uint32_t)wc[6] & 0xFFFFu) | ((uint32_t)wc[7] << 16);
            const int32_t k0 = (int32_t)p0, c0 = wc[2], k1 = (int32_t)p1, c1 = wc[5], k2 = (int32_t)p2, c2 = wc[8];
            for (int oh = 0; oh < g->out_height; ++oh) {
                const int16_t *r0 = padded + oh * g->stride_h * pw, *r1 = r0 + pw, *r2 = r1 + pw;
                int16_t *o = out + oh * g->out_width;
                /* Outputs ow and ow + 1 read x[0..3] of each row: words (x0, x1), (x1, x2), (x2, x3); the
                 * spare column covers the last pair's x3 (an odd width computes it and drops it). */
                for (int ow = 0; ow < g->out_width; ow += 2) {
                    int32_t a0 = b, a1 = b, v01, v12, v23;
                    (void)memcpy(&v01, r0 + ow, 4);
                    (void)memcpy(&v12, r0 + ow + 1, 4);
                    (void)memcpy(&v23, r0 + ow + 2, 4);
                    a0 = __smlabb(v23, c0, __smlad(v01, k0, a0));
                    a1 = __smlatb(v23, c0, __smlad(v12, k0, a1));
                    (void)memcpy(&v01, r1 + ow, 4);
                    (void)memcpy(&v12, r1 + ow + 1, 4);
                    (void)memcpy(&v23, r1 + ow + 2, 4);
                    a0 = __smlabb(v23, c1, __smlad(v01, k1, a0));
                    a1 = __smlatb(v23, c1, __smlad(v12, k1, a1));
                    (void)memcpy(&v01, r2 + ow, 4);
                    (void)memcpy(&v12, r2 + ow + 1, 4);
                    (void)memcpy(&v23, r2 + ow + 2, 4);
                    a0 = __smlabb(v23, c2, __smlad(v01, k2, a0));
                    a1 = __smlatb(v23, c2, __smlad(v12, k2, a1));
                    o[ow] = (int16_t)whittle_channel_value(&q, rq, c, a0);
                    if (ow + 1 < g->out_width) { o[ow + 1] = (int16_t)whittle_channel_value(&q, rq, c, a1); }
                }
            }
            continue;
        }
#elif defined(WHITTLE_NEON_S8)
        if (g->kernel_h == 3 && g->kernel_w == 3 && g->dilation_h == 1 && g->dilation_w == 1 && g->stride_w == 1) {
            /* Eight outputs of a row at a time: each tap's eight inputs times its weight, widening into two
             * int32 vectors (the spare elements after the plane cover lanes past the row's end, whose sums
             * are dropped). */
            for (int oh = 0; oh < g->out_height; ++oh) {
                const int16_t *r0 = padded + oh * g->stride_h * pw;
                int16_t *o = out + oh * g->out_width;
                for (int ow = 0; ow < g->out_width; ow += 8) {
                    int32x4_t lo = vdupq_n_s32(b), hi = lo;
                    int32_t sums[8];
                    const int n = g->out_width - ow < 8 ? g->out_width - ow : 8;
                    whittle_dw16_taps(r0 + ow, wc, &lo, &hi);
                    whittle_dw16_taps(r0 + pw + ow, wc + 3, &lo, &hi);
                    whittle_dw16_taps(r0 + 2 * pw + ow, wc + 6, &lo, &hi);
                    vst1q_s32(sums, lo);
                    vst1q_s32(sums + 4, hi);
                    for (int j = 0; j < n; ++j) { o[ow + j] = (int16_t)whittle_channel_value(&q, rq, c, sums[j]); }
                }
            }
            continue;
        }
#endif
        if (g->kernel_h == 3 && g->kernel_w == 3 && g->dilation_h == 1 && g->dilation_w == 1) {
            /* 3x3 windows with their weights in registers. */
            const int32_t w0 = wc[0], w1 = wc[1], w2 = wc[2], w3 = wc[3], w4 = wc[4], w5 = wc[5], w6 = wc[6], w7 = wc[7], w8 = wc[8];
            for (int oh = 0; oh < g->out_height; ++oh) {
                const int16_t *r0 = padded + oh * g->stride_h * pw, *r1 = r0 + pw, *r2 = r1 + pw;
                for (int ow = 0; ow < g->out_width; ++ow) {
                    const int at = ow * g->stride_w;
                    int32_t acc = b;
                    acc += r0[at] * w0 + r0[at + 1] * w1 + r0[at + 2] * w2;
                    acc += r1[at] * w3 + r1[at + 1] * w4 + r1[at + 2] * w5;
                    acc += r2[at] * w6 + r2[at + 1] * w7 + r2[at + 2] * w8;
                    out[oh * g->out_width + ow] = (int16_t)whittle_channel_value(&q, rq, c, acc);
                }
            }
            continue;
        }
        for (int oh = 0; oh < g->out_height; ++oh) {
            for (int ow = 0; ow < g->out_width; ++ow) {
                const int16_t *r0 = padded + oh * g->stride_h * pw + ow * g->stride_w;
                int32_t acc = b;
                for (int kh = 0; kh < g->kernel_h; ++kh) {
                    for (int kw = 0; kw < g->kernel_w; ++kw) { acc += r0[kh * g->dilation_h * pw + kw * g->dilation_w] * wc[kh * g->kernel_w + kw]; }
                }
                out[oh * g->out_width + ow] = (int16_t)whittle_channel_value(&q, rq, c, acc);
            }
        }
    }
}

/* Pointwise convolutions on pruned weights (bitmask rows): each output channel keeps a bitmask of its
 * nonzero weights and their values. A block of output pixels is summed at a time: every nonzero weight
 * is applied to the block's pixels of its input channel (contiguous bytes of the plane), so the work
 * falls with the density and an index is decoded once per block. With the DSP extension blocks are
 * eight pixels, unpacked four at a time by SXTB16 (UXTB16 for uint8) and multiplied by SMLABB/SMLATB;
 * with NEON 32, widened, by multiply-accumulates by scalar. */

/* The index of the lowest set bit of a nonzero word. */
static WHITTLE_INLINE int whittle_lowest_bit(uint32_t bits) {
#if defined(__GNUC__)
    return __builtin_ctz(bits);
#else
    int n = 0;
    while (!(bits & 1u)) {
        bits >>= 1;
        ++n;
    }
    return n;
#endif
}

/* out[j] = bias + sum over k < count of v[k] * x[offsets[k] + j] for j < 8: the row's nonzero weights
 * v and their channels' offsets (x int8, or uint8 with x_unsigned, a constant where this is inlined). */
static WHITTLE_INLINE void whittle_sparse_block8(int count, const int32_t *offsets, const int8_t *v, const uint8_t *x,
                                                 const int x_unsigned, int32_t bias, int32_t *out) {
#if defined(WHITTLE_NEON_S8)
    int32x4_t lo = vdupq_n_s32(bias), hi = lo;
#else
    int32_t a0 = bias, a1 = bias, a2 = bias, a3 = bias, a4 = bias, a5 = bias, a6 = bias, a7 = bias;
#endif
    for (int k = 0; k < count; ++k) {
        const uint8_t *at = x + offsets[k];
        const int32_t w = v[k];
#if defined(WHITTLE_NEON_S8)
        {
            const int16x8_t xv = x_unsigned ? vreinterpretq_s16_u16(vmovl_u8(vld1_u8(at))) : vmovl_s8(vld1_s8((const int8_t *)(const void *)at));
            lo = vmlal_n_s16(lo, vget_low_s16(xv), (int16_t)w);
            hi = vmlal_n_s16(hi, vget_high_s16(xv), (int16_t)w);
        }
#elif defined(WHITTLE_DSP)
        {
            /* Bytes 0 and 2 of a word in the halfwords of one register, 1 and 3 of another. */
            int32_t p, q;
            (void)memcpy(&p, at, 4);
            (void)memcpy(&q, at + 4, 4);
            {
                const int32_t p02 = x_unsigned ? (int32_t)__uxtb16((uint32_t)p) : __sxtb16(p);
                const int32_t p13 = x_unsigned ? (int32_t)__uxtb16((uint32_t)p >> 8) : whittle_sxtb16_ror8(p);
                const int32_t q02 = x_unsigned ? (int32_t)__uxtb16((uint32_t)q) : __sxtb16(q);
                const int32_t q13 = x_unsigned ? (int32_t)__uxtb16((uint32_t)q >> 8) : whittle_sxtb16_ror8(q);
                a0 = __smlabb(p02, w, a0);
                a2 = __smlatb(p02, w, a2);
                a1 = __smlabb(p13, w, a1);
                a3 = __smlatb(p13, w, a3);
                a4 = __smlabb(q02, w, a4);
                a6 = __smlatb(q02, w, a6);
                a5 = __smlabb(q13, w, a5);
                a7 = __smlatb(q13, w, a7);
            }
        }
#else
        a0 += w * whittle_tap8(at, x_unsigned, 0);
        a1 += w * whittle_tap8(at, x_unsigned, 1);
        a2 += w * whittle_tap8(at, x_unsigned, 2);
        a3 += w * whittle_tap8(at, x_unsigned, 3);
        a4 += w * whittle_tap8(at, x_unsigned, 4);
        a5 += w * whittle_tap8(at, x_unsigned, 5);
        a6 += w * whittle_tap8(at, x_unsigned, 6);
        a7 += w * whittle_tap8(at, x_unsigned, 7);
#endif
    }
#if defined(WHITTLE_NEON_S8)
    vst1q_s32(out, lo);
    vst1q_s32(out + 4, hi);
#else
    out[0] = a0;
    out[1] = a1;
    out[2] = a2;
    out[3] = a3;
    out[4] = a4;
    out[5] = a5;
    out[6] = a6;
    out[7] = a7;
#endif
}

#if defined(WHITTLE_DSP) && defined(__GNUC__) && defined(__thumb2__) && defined(__OPTIMIZE__)
#define WHITTLE_SPARSE_STEP(EXT) "uxtah %[x], %[x], %[e]\n\t" "ldr %[p], [%[x]]\n\t" EXT " %[t], %[p]\n\t" EXT " %[p], %[p], ror #8\n\t" "smlabt %[a0], %[t], %[e], %[a0]\n\t" "smlatt %[a2], %[t], %[e], %[a2]\n\t" "smlabt %[a1], %[p], %[e], %[a1]\n\t" "smlatt %[a3], %[p], %[e], %[a3]\n\t" "ldr %[p], [%[x], #4]\n\t" EXT " %[t], %[p]\n\t" EXT " %[p], %[p], ror #8\n\t" "smlabt %[a4], %[t], %[e], %[a4]\n\t" "smlatt %[a6], %[t], %[e], %[a6]\n\t" "smlabt %[a5], %[p], %[e], %[a5]\n\t" "smlatt %[a7], %[p], %[e], %[a7]\n\t" "ldr %[e], [%[ep]], #4\n\t"
#define WHITTLE_SPARSE_OPERANDS [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3), [a4] "+r"(a4), [a5] "+r"(a5), [a6] "+r"(a6), [a7] "+r"(a7), [x] "+r"(x), [ep] "+r"(ep), [e] "=&r"(e), [p] "=&r"(p), [t] "=&r"(t) : : "cc", "memory"
/* Eight sums of a row as one Thumb-2 assembly loop, over `entries`: per nonzero weight one word, the
 * weight in its top halfword and in its bottom one the bytes from the previous weight's input plane
 * to its own (the first counts from x). A step (the first macro above, EXT the byte unpacking: SXTB16 for
 * int8 inputs, UXTB16 for uint8) adds the bottom halfword to the pointer (UXTAH), loads the plane's
 * eight pixels as two words, unpacks each into two registers and multiplies the top halfword into
 * the eight sums (SMLABT/SMLATT): 16 instructions per weight where the compilers' code took 23, as
 * they kept the loop's pointers on the stack. Two steps per pass, then a test for the 0 word that
 * ends the entries: a row of an odd count is padded with a 0 word (weight 0, no move) that the test
 * does not see. The 13 operands leave a frame pointer its register. */
static WHITTLE_INLINE void whittle_sparse_entries8(const uint32_t *entries, const uint8_t *x, const int x_unsigned, int32_t bias, int32_t *out) {
    int32_t a0 = bias, a1 = bias, a2 = bias, a3 = bias, a4 = bias, a5 = bias, a6 = bias, a7 = bias, p, t;
    uint32_t e;
    const uint32_t *ep = entries;
    if (x_unsigned != 0) {
        __asm__ volatile("ldr %[e], [%[ep]], #4\n\t"
                         "1:\n\t" WHITTLE_SPARSE_STEP("uxtb16") WHITTLE_SPARSE_STEP("uxtb16") "cmp %[e], #0\n\t"
                         "bne 1b"
                         : WHITTLE_SPARSE_OPERANDS);
    } else {
        __asm__ volatile("ldr %[e], [%[ep]], #4\n\t"
                         "1:\n\t" WHITTLE_SPARSE_STEP("sxtb16") WHITTLE_SPARSE_STEP("sxtb16") "cmp %[e], #0\n\t"
                         "bne 1b"
                         : WHITTLE_SPARSE_OPERANDS);
    }
    out[0] = a0;
    out[1] = a1;
    out[2] = a2;
    out[3] = a3;
    out[4] = a4;
    out[5] = a5;
    out[6] = a6;
    out[7] = a7;
}

/* Turns a row's `count` input offsets (ascending) and weights v into the loop's entries, in place,
 * with the padding and the final 0 word (count + 2 words at most). False, leaving the offsets, when
 * a move between planes does not fit a halfword. */
static WHITTLE_INLINE int whittle_sparse_to_entries(int count, int32_t *offsets, const int8_t *v) {
    int32_t before = 0;
    for (int k = 0; k < count; ++k) {
        if (offsets[k] - before > 65535) { return 0; }
        before = offsets[k];
    }
    before = 0;
    for (int k = 0; k < count; ++k) {
        const int32_t step = offsets[k] - before;
        before = offsets[k];
        const uint32_t entry = ((uint32_t)(uint16_t)(int16_t)v[k] << 16) | (uint32_t)step;
        offsets[k] = (int32_t)entry;
    }
    if (count & 1) { offsets[count++] = 0; }
    offsets[count] = 0;
    return 1;
}
#endif

#if defined(WHITTLE_DSP) && !defined(WHITTLE_INTEGER_REQUANT) && defined(FLT_EVAL_METHOD) && FLT_EVAL_METHOD == 0
/* Output j of eight in the fast case with the whole byte range: the bits of acc[j] * multiplier +
 * 1.5 * 2^23 minus `magic` (those of 1.5 * 2^23 less the zero point) are the rounded value plus the
 * zero point, saturated by one USAT (uint8) or SSAT (int8). */
static WHITTLE_INLINE void whittle_sparse_fast(const int32_t *acc, int j, float multiplier, uint32_t magic, const int out_unsigned, void *y) {
    float v = (float)acc[j] * multiplier;
    uint32_t bits;
    v = v + 12582912.0f;
    (void)memcpy(&bits, &v, sizeof bits);
    if (out_unsigned) {
        ((uint8_t *)y)[j] = (uint8_t)__usat((int32_t)(bits - magic), 8);
    } else {
        ((int8_t *)y)[j] = (int8_t)__ssat((int32_t)(bits - magic), 8);
    }
}

/* The eight outputs of whittle_sparse_fast, written out so that the sums stay in registers. */
static WHITTLE_INLINE void whittle_sparse_fast8(const int32_t *acc, float multiplier, uint32_t magic, const int out_unsigned, void *y) {
    whittle_sparse_fast(acc, 0, multiplier, magic, out_unsigned, y);
    whittle_sparse_fast(acc, 1, multiplier, magic, out_unsigned, y);
    whittle_sparse_fast(acc, 2, multiplier, magic, out_unsigned, y);
    whittle_sparse_fast(acc, 3, multiplier, magic, out_unsigned, y);
    whittle_sparse_fast(acc, 4, multiplier, magic, out_unsigned, y);
    whittle_sparse_fast(acc, 5, multiplier, magic, out_unsigned, y);
    whittle_sparse_fast(acc, 6, multiplier, magic, out_unsigned, y);
    whittle_sparse_fast(acc, 7, multiplier, magic, out_unsigned, y);
}
#endif

/* Requantizes eight sums of channel m (acc) into y[at ..]. With the DSP extension, in the fast case
 * with the whole byte range (one SSAT or USAT saturates), the tests are made once for the eight. */
static WHITTLE_INLINE void whittle_sparse_out8(const whittle_requant *rq, const whittle_channel_requant *q, int m, const int32_t *acc,
                                               void *y, int at) {
#if defined(WHITTLE_DSP) && !defined(WHITTLE_INTEGER_REQUANT) && defined(FLT_EVAL_METHOD) && FLT_EVAL_METHOD == 0
    if (q->fast && ((rq->out_unsigned == 1 && q->low == 0 && q->high == 255) || (rq->out_unsigned == 0 && q->int8_range))) {
        const uint32_t magic = 0x4B400000u - (uint32_t)q->zero;
        if (rq->out_unsigned) {
            whittle_sparse_fast8(acc, q->multiplier, magic, 1, (uint8_t *)y + at);
        } else {
            whittle_sparse_fast8(acc, q->multiplier, magic, 0, (uint8_t *)y + at);
        }
        return;
    }
#endif
    for (int j = 0; j < 8; ++j) { whittle_store8(rq, y, at + j, whittle_channel_value(q, rq, m, acc[j])); }
}

#if defined(WHITTLE_NEON_S8)
#if defined(__aarch64__)
#define WHITTLE_SPARSE_VECTORS 4
#else
#define WHITTLE_SPARSE_VECTORS 2
#endif
/* Sixteen pixels of one input channel as int8: uint8 inputs with their top bit flipped, which is
 * x - 128 (the caller adds 128 times the row's weights to the bias). */
static WHITTLE_INLINE int8x16_t whittle_sparse_load_signed(const uint8_t *at, const int x_unsigned) {
    const uint8x16_t b = vld1q_u8(at);
    return vreinterpretq_s8_u8(x_unsigned ? veorq_u8(b, vdupq_n_u8(0x80)) : b);
}

/* Sixteen pixels (s[0 .. 3], four per vector) of the products of two weights, wa and wb in every
 * lane, and the pixels at a and b (x as int8, see the load above). Two int8 products sum to at most
 * 128 * (|wa| + |wb|), which fits int16 unless both weights are -128: the products are summed in
 * int16 lanes (eight per instruction) and the int16 sums added to the int32 ones, 16 vector
 * instructions per 64 products where widening the pixels and multiplying by scalar took 24. */
static WHITTLE_INLINE void whittle_sparse_pair16(const uint8_t *a, const uint8_t *b, const int x_unsigned, int8x16_t wa, int8x16_t wb, int32x4_t *s) {
    const int8x16_t va = whittle_sparse_load_signed(a, x_unsigned), vb = whittle_sparse_load_signed(b, x_unsigned);
    const int16x8_t lo = vmlal_s8(vmull_s8(vget_low_s8(va), vget_low_s8(wa)), vget_low_s8(vb), vget_low_s8(wb));
#if defined(__aarch64__)
    const int16x8_t hi = vmlal_high_s8(vmull_high_s8(va, wa), vb, wb);
    s[1] = vaddw_high_s16(s[1], lo);
    s[3] = vaddw_high_s16(s[3], hi);
#else
    const int16x8_t hi = vmlal_s8(vmull_s8(vget_high_s8(va), vget_high_s8(wa)), vget_high_s8(vb), vget_high_s8(wb));
    s[1] = vaddw_s16(s[1], vget_high_s16(lo));
    s[3] = vaddw_s16(s[3], vget_high_s16(hi));
#endif
    s[0] = vaddw_s16(s[0], vget_low_s16(lo));
    s[2] = vaddw_s16(s[2], vget_low_s16(hi));
}

/* s[0 .. 3] += sixteen pixels at a times one weight, w in every lane. */
static WHITTLE_INLINE void whittle_sparse_single16(const uint8_t *a, const int x_unsigned, int8x8_t w, int32x4_t *s) {
    const int8x16_t va = whittle_sparse_load_signed(a, x_unsigned);
    const int16x8_t lo = vmull_s8(vget_low_s8(va), w), hi = vmull_s8(vget_high_s8(va), w);
    s[0] = vaddw_s16(s[0], vget_low_s16(lo));
    s[1] = vaddw_s16(s[1], vget_high_s16(lo));
    s[2] = vaddw_s16(s[2], vget_low_s16(hi));
    s[3] = vaddw_s16(s[3], vget_high_s16(hi));
}

/* s (16 * `vectors` pixels, four per vector; `vectors` 1, 2 or WHITTLE_SPARSE_VECTORS, a constant
 * where this is inlined) = bias + the row's sum over its count nonzero weights v of v[k] *
 * x[offsets[k] + pixel], the weights taken in pairs where `pairs` (0 for a row with two weights of
 * -128). The steps are written out, not looped, so that the compilers keep the sums in registers. */
static WHITTLE_INLINE void whittle_sparse_wide(const int vectors, int count, const int32_t *offsets, const int8_t *v, const uint8_t *x,
                                               const int x_unsigned, int pairs, int32_t bias, int32x4_t *s) {
    int k = 0;
    for (int i = 0; i < 4 * vectors; ++i) { s[i] = vdupq_n_s32(bias); }
    if (pairs != 0) {
        for (; k + 1 < count; k += 2) {
            const uint8_t *pa = x + offsets[k], *pb = x + offsets[k + 1];
            const int8x16_t wa = vdupq_n_s8(v[k]), wb = vdupq_n_s8(v[k + 1]);
            whittle_sparse_pair16(pa, pb, x_unsigned, wa, wb, s);
            if (vectors > 1) { whittle_sparse_pair16(pa + 16, pb + 16, x_unsigned, wa, wb, s + 4); }
#if WHITTLE_SPARSE_VECTORS == 4
            if (vectors > 2) {
                whittle_sparse_pair16(pa + 32, pb + 32, x_unsigned, wa, wb, s + 8);
                whittle_sparse_pair16(pa + 48, pb + 48, x_unsigned, wa, wb, s + 12);
            }
#endif
        }
    }
    for (; k < count; ++k) {
        const uint8_t *pa = x + offsets[k];
        const int8x8_t w = vdup_n_s8(v[k]);
        whittle_sparse_single16(pa, x_unsigned, w, s);
        if (vectors > 1) { whittle_sparse_single16(pa + 16, x_unsigned, w, s + 4); }
#if WHITTLE_SPARSE_VECTORS == 4
        if (vectors > 2) {
            whittle_sparse_single16(pa + 32, x_unsigned, w, s + 8);
            whittle_sparse_single16(pa + 48, x_unsigned, w, s + 12);
        }
#endif
    }
}

/* Requantizes eight sums of channel m (lo, hi) into y[at ..]: on AArch64 with float multipliers the
 * eight at once, computed as whittle_requant_general computes each (the product rounded to float32
 * and saturated to [low - zero, high - zero], which makes the result the same for any sum, rounded
 * half to even by FCVTNS, offset, narrowed to bytes). */
static WHITTLE_INLINE void whittle_sparse_out8v(const whittle_requant *rq, const whittle_channel_requant *q, int m, int32x4_t lo, int32x4_t hi,
                                                void *y, int at) {
#if defined(__aarch64__) && !defined(WHITTLE_INTEGER_REQUANT)
    if (rq->multiplier != NULL) {
        const float multiplier = rq->multiplier[m];
        const int32_t low_q = q->low - q->zero, high_q = q->high - q->zero;
    const float32x4_t low = vdupq_n_f32((float)low_q), high = vdupq_n_f32((float)high_q);
        const int32x4_t zero = vdupq_n_s32(q->zero);
        const float32x4_t v0 = vminq_f32(vmaxq_f32(vmulq_n_f32(vcvtq_f32_s32(lo), multiplier), low), high);
        const float32x4_t v1 = vminq_f32(vmaxq_f32(vmulq_n_f32(vcvtq_f32_s32(hi), multiplier), low), high);
        const int32x4_t r0 = vaddq_s32(vcvtnq_s32_f32(v0), zero), r1 = vaddq_s32(vcvtnq_s32_f32(v1), zero);
        vst1_u8((uint8_t *)y + at, vreinterpret_u8_s8(vmovn_s16(vcombine_s16(vmovn_s32(r0), vmovn_s32(r1)))));
        return;
    }
#endif
    {
        int32_t acc[8];
        vst1q_s32(acc, lo);
        vst1q_s32(acc + 4, hi);
        for (int j = 0; j < 8; ++j) { whittle_store8(rq, y, at + j, whittle_channel_value(q, rq, m, acc[j])); }
    }
}
/* The blocks of one row with NEON, 16 * `vectors` pixels each (a constant where this is inlined, as
 * x_unsigned is); see the kernel below. */
static WHITTLE_INLINE void whittle_sparse_row_wide(const int vectors, const whittle_requant *rq, const whittle_channel_requant *q, int m,
                                                   int count, const int32_t *offsets, const int8_t *v, const uint8_t *in,
                                                   const int x_unsigned, int pixels, int32_t bias, void *y) {
    int32_t sum = 0, lowest = 0;
    for (int k = 0; k < count; ++k) {
        sum += v[k];
        if (v[k] == -128) { ++lowest; }
    }
    if (x_unsigned != 0) {
        const uint32_t shifted = (uint32_t)bias + 128u * (uint32_t)sum;
        bias = (int32_t)shifted;
    }
    for (int p = 0; p < pixels; p += 16 * vectors) {
        const int first = p + 16 * vectors <= pixels ? p : pixels - 16 * vectors;
        int32x4_t s[4 * WHITTLE_SPARSE_VECTORS];
        whittle_sparse_wide(vectors, count, offsets, v, in + first, x_unsigned, lowest < 2, bias, s);
        for (int j = 0; j < 2 * vectors; ++j) { whittle_sparse_out8v(rq, q, m, s[2 * j], s[2 * j + 1], y, m * pixels + first + 8 * j); }
    }
}
#endif

#if defined(WHITTLE_SSE2_S8)
/* Sixteen pixels of one input channel (int8, or uint8 with x_unsigned) as two vectors of eight int16. */
static WHITTLE_INLINE void whittle_sparse_widen16(const uint8_t *at, const int x_unsigned, __m128i *lo, __m128i *hi) {
    const __m128i b = _mm_loadu_si128((const __m128i *)(const void *)at);
    if (x_unsigned != 0) {
        *lo = _mm_unpacklo_epi8(b, _mm_setzero_si128());
        *hi = _mm_unpackhi_epi8(b, _mm_setzero_si128());
    } else {
        *lo = _mm_srai_epi16(_mm_unpacklo_epi8(b, b), 8);
        *hi = _mm_srai_epi16(_mm_unpackhi_epi8(b, b), 8);
    }
}

/* s[0 .. 3] += sixteen pixels of two input channels, at a and b, times two weights (w: the first in
 * the low halfword of every 32-bit lane, the second in the high one). The pixels of the two channels
 * are interleaved so that PMADDWD sums each pixel's two products into its int32 lane, exactly. */
static WHITTLE_INLINE void whittle_sparse_madd16(const uint8_t *a, const uint8_t *b, const int x_unsigned, __m128i w, __m128i *s) {
    __m128i alo, ahi, blo, bhi;
    whittle_sparse_widen16(a, x_unsigned, &alo, &ahi);
    whittle_sparse_widen16(b, x_unsigned, &blo, &bhi);
    s[0] = _mm_add_epi32(s[0], _mm_madd_epi16(_mm_unpacklo_epi16(alo, blo), w));
    s[1] = _mm_add_epi32(s[1], _mm_madd_epi16(_mm_unpackhi_epi16(alo, blo), w));
    s[2] = _mm_add_epi32(s[2], _mm_madd_epi16(_mm_unpacklo_epi16(ahi, bhi), w));
    s[3] = _mm_add_epi32(s[3], _mm_madd_epi16(_mm_unpackhi_epi16(ahi, bhi), w));
}

/* out[j] = bias + the row's sum over its count nonzero weights v of v[k] * x[offsets[k] + j] for
 * j < 32, the weights two at a time (an odd last one with a weight 0 on its own plane). */
static WHITTLE_INLINE void whittle_sparse_sse32(int count, const int32_t *offsets, const int8_t *v, const uint8_t *x, const int x_unsigned,
                                                int32_t bias, int32_t *out) {
    __m128i s[8];
    for (int i = 0; i < 8; ++i) { s[i] = _mm_set1_epi32(bias); }
    for (int k = 0; k < count; k += 2) {
        const int second = (int)(k + 1 < count);
        const uint8_t *pa = x + offsets[k], *pb = second ? x + offsets[k + 1] : pa;
        const uint32_t wb = second ? (uint32_t)(uint16_t)(int16_t)v[k + 1] : 0u;
        const uint32_t pair = (wb << 16) | (uint32_t)(uint16_t)(int16_t)v[k];
        const __m128i w = _mm_set1_epi32((int32_t)pair);
        whittle_sparse_madd16(pa, pb, x_unsigned, w, s);
        whittle_sparse_madd16(pa + 16, pb + 16, x_unsigned, w, s + 4);
    }
    for (int i = 0; i < 8; ++i) { _mm_storeu_si128((__m128i *)(void *)(out + 4 * i), s[i]); }
}
#endif

/* A 1x1 convolution (stride 1, no padding, one group) on bitmask rows; see whittle_kernels.h. Each
 * row's bitmask is decoded once into the input offsets of its nonzero weights (`offsets`, scratch of
 * `channels` + 2 int32). Blocks of pixels follow, the last one ending with the plane and overlapping
 * the one before it when they do not divide it (its first outputs are computed and stored again):
 * with the DSP extension eight pixels by the assembly loop (where the moves between planes fit a
 * halfword), with NEON 64 (AArch64), 32 or 16 as the plane allows by pairs of weights, with SSE2
 * 32 by pairs of weights (planes of fewer pixels in blocks of eight), elsewhere eight; planes of
 * fewer than eight pixels one pixel at a time. */
WHITTLE_KERNEL void whittle_sparse_pointwise_s8(int channels, int out_channels, int pixels, const void *x, int x_unsigned,
                                                const uint32_t *masks, const int8_t *values, const int32_t *bias,
                                                const whittle_requant *requant, void *y, int32_t *offsets) {
    /* A local copy: stores through y (a character type) could otherwise change *requant. */
    const whittle_requant local = *requant, *rq = &local;
    const int words = (channels + 31) / 32;
    const uint8_t *in = (const uint8_t *)x;
    for (int m = 0; m < out_channels; ++m) {
        const uint32_t *mask = masks + m * words;
        const whittle_channel_requant q = whittle_channel(rq, m);
        int count = 0, p = 0;
        for (int i = 0; i < words; ++i) {
            for (uint32_t bits = mask[i]; bits; bits &= bits - 1u) { offsets[count++] = (i * 32 + whittle_lowest_bit(bits)) * pixels; }
        }
#if defined(WHITTLE_NEON_S8)
        /* Blocks of 64 pixels (AArch64), else 32 or 16, as the plane allows (each width a constant). */
#if WHITTLE_SPARSE_VECTORS == 4
        if (pixels >= 64) {
            if (x_unsigned != 0) {
                whittle_sparse_row_wide(4, rq, &q, m, count, offsets, values, in, 1, pixels, bias[m], y);
            } else {
                whittle_sparse_row_wide(4, rq, &q, m, count, offsets, values, in, 0, pixels, bias[m], y);
            }
            p = pixels;
        }
#endif
        if (p == 0 && pixels >= 32) {
            if (x_unsigned != 0) {
                whittle_sparse_row_wide(2, rq, &q, m, count, offsets, values, in, 1, pixels, bias[m], y);
            } else {
                whittle_sparse_row_wide(2, rq, &q, m, count, offsets, values, in, 0, pixels, bias[m], y);
            }
            p = pixels;
        } else if (p == 0 && pixels >= 16) {
            if (x_unsigned != 0) {
                whittle_sparse_row_wide(1, rq, &q, m, count, offsets, values, in, 1, pixels, bias[m], y);
            } else {
                whittle_sparse_row_wide(1, rq, &q, m, count, offsets, values, in, 0, pixels, bias[m], y);
            }
            p = pixels;
        } else {
            /* Narrower planes: the pixels are left to the loop below. */
        }
#elif defined(WHITTLE_DSP) && defined(__GNUC__) && defined(__thumb2__) && defined(__OPTIMIZE__)
        if (pixels >= 8 && count > 0 && whittle_sparse_to_entries(count, offsets, values)) {
            for (; p < pixels; p += 8) {
                const int first = p + 8 <= pixels ? p : pixels - 8;
                int32_t acc[8];
                if (x_unsigned != 0) {
                    whittle_sparse_entries8((const uint32_t *)offsets, in + first, 1, bias[m], acc);
                } else {
                    whittle_sparse_entries8((const uint32_t *)offsets, in + first, 0, bias[m], acc);
                }
                whittle_sparse_out8(rq, &q, m, acc, y, m * pixels + first);
            }
        }
#elif defined(WHITTLE_SSE2_S8)
        for (; pixels >= 32 && p < pixels; p += 32) {
            const int first = p + 32 <= pixels ? p : pixels - 32;
            int32_t acc[32];
            if (x_unsigned != 0) {
                whittle_sparse_sse32(count, offsets, values, in + first, 1, bias[m], acc);
            } else {
                whittle_sparse_sse32(count, offsets, values, in + first, 0, bias[m], acc);
            }
            for (int j = 0; j < 32; j += 8) { whittle_sparse_out8(rq, &q, m, acc + j, y, m * pixels + first + j); }
        }
#endif
        for (; pixels >= 8 && p < pixels; p += 8) {
            const int first = p + 8 <= pixels ? p : pixels - 8;
            int32_t acc[8];
            if (x_unsigned != 0) {
                whittle_sparse_block8(count, offsets, values, in + first, 1, bias[m], acc);
            } else {
                whittle_sparse_block8(count, offsets, values, in + first, 0, bias[m], acc);
            }
            whittle_sparse_out8(rq, &q, m, acc, y, m * pixels + first);
        }
        /* A plane of fewer than eight pixels, one at a time. */
        for (; p < pixels; ++p) {
            int32_t acc = bias[m];
            for (int k = 0; k < count; ++k) { acc += values[k] * whittle_tap8(in, x_unsigned, offsets[k] + p); }
            whittle_store8(rq, y, m * pixels + p, whittle_channel_value(&q, rq, m, acc));
        }
        values = &values[count];
    }
}
