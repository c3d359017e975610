/* conv_s8_tiles.c: int8 convolution, fully connected and depthwise layers for cores with a wide
 * vector unit (AArch64 NEON, as on the Raspberry Pi 4 and 5), on the tiled weight layout of
 * whittle_kernels.h.
 *
 * A convolution computes eight output channels by eight output pixels at a time: for each tap,
 * one vector of the eight channels' weights and one vector of the eight pixels' inputs (both
 * stored as bytes, widened to int16 in registers) feed sixteen widening multiply-accumulates by
 * lane, and the 64 sums stay in registers for the whole dot product. Widening the weights costs
 * two instructions per 128 multiply-accumulates and halves their flash. The input zero point is folded into the bias at compile
 * time (sum((x - x_zero) * w) = sum(x * w) - x_zero * sum(w)), so the inputs are the tensor's bytes
 * as they are: a pointwise layer reads its input planes directly, other layers copy windows of
 * bytes (padding holds x_zero) into a small column buffer. Elsewhere (or with WHITTLE_PORTABLE)
 * portable loops compute the same integer sums, so every variant gives identical outputs.
 */
#include <float.h>
#include <math.h>
#include <string.h>
#include "whittle_kernels.h"

#if defined(__aarch64__) && defined(__ARM_NEON) && !defined(__ARM_BIG_ENDIAN) && !defined(WHITTLE_PORTABLE)
#include <arm_neon.h>
#define WHITTLE_NEON64 1
#elif defined(__SSE2__) && !defined(WHITTLE_PORTABLE)
/* x86: PMADDWD (SSE2 on every x86-64; 256 bits wide with AVX2). */
#include <immintrin.h>
#define WHITTLE_X86_S8 1
#endif
#if defined(__GNUC__) && !defined(WHITTLE_NEON64) && !defined(WHITTLE_PORTABLE) && (defined(__clang__) || __GNUC__ >= 9)
/* GCC and Clang's generic vectors (and __builtin_convertvector, GCC 9 and later), as wide as the
 * vector unit: 16 bytes on x86 without AVX2 (wider ones would be split and spilled). */
#define WHITTLE_VECTOR_S8 1
#if (defined(__x86_64__) || defined(__i386__)) && !defined(__AVX2__)
#define WHITTLE_VECTOR_BYTES 16
#else
#define WHITTLE_VECTOR_BYTES 32
#endif
#endif
#if defined(__GNUC__)
#define WHITTLE_INLINE inline __attribute__((always_inline))
/* A helper only some variants call (no warning in the others). */
#define WHITTLE_UNUSED __attribute__((unused))
#else
#define WHITTLE_INLINE inline
#define WHITTLE_UNUSED
#endif
/* How many of the next eight items (pixels, channels, features) remain of `left`. */
static WHITTLE_INLINE int whittle_tile_count(int left) {
    return left < 8 ? left : 8;
}

/* Requantizes the `count` (at most 8) sums acc[0 .. 7] of output channel m into out (int8 or uint8 bytes as
 * rq says), as whittle_requant_general does: with float multipliers, (float)acc * multiplier is
 * saturated to [low - zero, high - zero], rounded half to even and offset by the zero point (eight
 * at a time with NEON; the saturation first makes the result the same for any sum). Inlined: it
 * runs for every eight outputs. */
static WHITTLE_INLINE void whittle_tile_requant(const whittle_requant *rq, int m, const int32_t *acc, int count, uint8_t *out) {
#if !defined(WHITTLE_INTEGER_REQUANT)
    if (rq->multiplier != NULL) {
        const int32_t low_q = rq->low - rq->zero, high_q = rq->high - rq->zero;
        const float multiplier = rq->multiplier[m], low = (float)low_q, high = (float)high_q;
#if defined(WHITTLE_NEON64)
        const float32x4_t vm = vdupq_n_f32(multiplier), vl = vdupq_n_f32(low), vh = vdupq_n_f32(high);
        const int32x4_t zero = vdupq_n_s32(rq->zero);
        const float32x4_t f0 = vminq_f32(vmaxq_f32(vmulq_f32(vcvtq_f32_s32(vld1q_s32(acc)), vm), vl), vh);
        const float32x4_t f1 = vminq_f32(vmaxq_f32(vmulq_f32(vcvtq_f32_s32(vld1q_s32(acc + 4)), vm), vl), vh);
        const int32x4_t r0 = vaddq_s32(vcvtq_s32_f32(vrndnq_f32(f0)), zero), r1 = vaddq_s32(vcvtq_s32_f32(vrndnq_f32(f1)), zero);
        /* The values are in the output type's range: narrowing keeps their low bytes. */
        const uint8x8_t bytes = vmovn_u16(vreinterpretq_u16_s16(vcombine_s16(vmovn_s32(r0), vmovn_s32(r1))));
        if (count == 8) {
            vst1_u8(out, bytes);
        } else {
            uint8_t all[8];
            vst1_u8(all, bytes);
            for (int j = 0; j < count; ++j) { out[j] = all[j]; }
        }
        return;
#else
#if defined(WHITTLE_VECTOR_S8) && defined(FLT_EVAL_METHOD) && FLT_EVAL_METHOD == 0
        if (rq->bounded) {
            /* |acc * multiplier| <= 2^21: round first (adding and removing 1.5 * 2^23), then saturate
             * the integers, a vector of lanes at a time (the same values as whittle_requant_general). */
            typedef int32_t whittle_vsi __attribute__((vector_size(WHITTLE_VECTOR_BYTES)));
            typedef float whittle_vsf __attribute__((vector_size(WHITTLE_VECTOR_BYTES)));
            typedef uint8_t whittle_vqu __attribute__((vector_size(WHITTLE_VECTOR_BYTES / 4)));
            const int lanes = WHITTLE_VECTOR_BYTES / 4;
            uint8_t bytes[8];
            whittle_vsi none;
            (void)memset(&none, 0, sizeof none);
            for (int h = 0; h < 8; h += lanes) {
                const whittle_vsi lowest = none + rq->low, highest = none + rq->high;
                whittle_vsi a, r, below, above;
                whittle_vsf v;
                whittle_vqu narrow;
                (void)memcpy(&a, acc + h, sizeof a);
                v = __builtin_convertvector(a, whittle_vsf) * multiplier;
                v = (v + 12582912.0f) - 12582912.0f;
                r = __builtin_convertvector(v, whittle_vsi) + rq->zero;
                below = r < lowest;
                r = (lowest & below) | (r & ~below);
                above = r > highest;
                r = (highest & above) | (r & ~above);
                /* The values are in the output type's range: narrowing keeps their low bytes. */
                narrow = __builtin_convertvector(r, whittle_vqu);
                (void)memcpy(bytes + h, &narrow, sizeof narrow);
            }
            if (count == 8) {
                (void)memcpy(out, bytes, 8);
            } else {
                for (int j = 0; j < count; ++j) { out[j] = bytes[j]; }
            }
            return;
        }
#endif
        for (int j = 0; j < count; ++j) {
            float v = (float)acc[j] * multiplier;
            v = v < low ? low : v;
            v = v > high ? high : v;
#if defined(FLT_EVAL_METHOD) && FLT_EVAL_METHOD == 0
            /* |v| <= 2^16: adding and removing 1.5 * 2^23 rounds half to even. */
            v = (v + 12582912.0f) - 12582912.0f;
#else
            v = rintf(v);
#endif
            const int32_t q = (int32_t)v + rq->zero;
            out[j] = (uint8_t)q;
        }
        return;
#endif
    }
#endif
    for (int j = 0; j < count; ++j) { out[j] = (uint8_t)whittle_requant_general(rq, m, acc[j]); }
}

/* The eight pixels' inputs of every tap as int16, read once per tile (every block of eight output
 * channels uses them): x_t, the 8 bytes at base + offsets[t] (int8, or uint8 with x_unsigned), goes
 * to prepared[8 t + j]; on x86 the taps are interleaved by pairs instead, prepared[16 (t / 2) + 2 j
 * + t % 2] (an odd last tap paired with zeros), the operand order of PMADDWD. */
static void whittle_tile_prepare_s8(int k, const uint8_t *base, const int32_t *offsets, int x_unsigned, int16_t *prepared) {
#if defined(WHITTLE_NEON64)
    if (x_unsigned != 0) {
        for (int t = 0; t < k; ++t) { vst1q_s16(prepared + 8 * t, vreinterpretq_s16_u16(vmovl_u8(vld1_u8(base + offsets[t])))); }
    } else {
        for (int t = 0; t < k; ++t) { vst1q_s16(prepared + 8 * t, vmovl_s8(vld1_s8((const int8_t *)(base + offsets[t])))); }
    }
#elif defined(WHITTLE_X86_S8)
    const __m128i none = _mm_setzero_si128();
    for (int t = 0; t < k; t += 2, prepared += 16) {
        __m128i a = _mm_loadl_epi64((const __m128i *)(const void *)(base + offsets[t]));
        __m128i b = t + 1 < k ? _mm_loadl_epi64((const __m128i *)(const void *)(base + offsets[t + 1])) : none;
        /* Bytes to int16: zero-extended, or sign-extended by an arithmetic shift. */
        a = x_unsigned ? _mm_unpacklo_epi8(a, none) : _mm_srai_epi16(_mm_unpacklo_epi8(a, a), 8);
        b = x_unsigned ? _mm_unpacklo_epi8(b, none) : _mm_srai_epi16(_mm_unpacklo_epi8(b, b), 8);
        _mm_storeu_si128((__m128i *)(void *)prepared, _mm_unpacklo_epi16(a, b));
        _mm_storeu_si128((__m128i *)(void *)(prepared + 8), _mm_unpackhi_epi16(a, b));
    }
#else
    /* A byte as int8 (two's complement) or uint8, without an implementation-defined conversion. */
    const int32_t sign = x_unsigned ? 0 : 256;
    for (int t = 0; t < k; ++t) {
        const uint8_t *x = base + offsets[t];
        for (int j = 0; j < 8; ++j) { prepared[8 * t + j] = (int16_t)(((int32_t)x[j] > 127) ? (int32_t)x[j] - sign : (int32_t)x[j]); }
    }
#endif
}

/* A pair of taps of the tiled layout (16 bytes) as eight int16 pairs, channels 0-7 in order, each
 * pair one int32 for x86's PMADDWD: with SSE2, the bytes interleaved with themselves and shifted
 * down by 8 are sign-extended halfwords. (The preprocessor test is inside the function: the kernel
 * library copies whole definitions.) */
static WHITTLE_INLINE WHITTLE_UNUSED void whittle_tile_widen_pairs(const int8_t *w, int16_t *wide) {
#if defined(WHITTLE_X86_S8)
    const __m128i b = _mm_loadu_si128((const __m128i *)(const void *)w);
    _mm_storeu_si128((__m128i *)(void *)wide, _mm_srai_epi16(_mm_unpacklo_epi8(b, b), 8));
    _mm_storeu_si128((__m128i *)(void *)(wide + 8), _mm_srai_epi16(_mm_unpackhi_epi8(b, b), 8));
#else
    for (int i = 0; i < 16; ++i) { wide[i] = w[i]; }
#endif
}

/* The signed 4-bit weight in the low (high = 0) or high nibble of b. */
static WHITTLE_INLINE WHITTLE_UNUSED int32_t whittle_tile_nibble(uint8_t b, int high) {
    const uint32_t nibble = (high != 0 ? ((uint32_t)b >> 4) : ((uint32_t)b & 15u)) ^ 8u;
    return (int32_t)nibble - 8;
}

/* whittle_tile_widen_pairs for the 4-bit form of a pair of taps (8 bytes): each byte's low nibble,
 * then its high one, as int16. With SSE2 the nibbles are split, interleaved and sign-extended
 * ((v ^ 8) - 8) sixteen at a time. */
static WHITTLE_INLINE WHITTLE_UNUSED void whittle_tile_widen_nibbles(const uint8_t *w, int16_t *wide) {
#if defined(WHITTLE_X86_S8)
    const __m128i b = _mm_loadl_epi64((const __m128i *)(const void *)w), low = _mm_set1_epi8(15), eight = _mm_set1_epi8(8);
    const __m128i split = _mm_unpacklo_epi8(_mm_and_si128(b, low), _mm_and_si128(_mm_srli_epi16(b, 4), low));
    const __m128i v = _mm_sub_epi8(_mm_xor_si128(split, eight), eight);
    _mm_storeu_si128((__m128i *)(void *)wide, _mm_srai_epi16(_mm_unpacklo_epi8(v, v), 8));
    _mm_storeu_si128((__m128i *)(void *)(wide + 8), _mm_srai_epi16(_mm_unpackhi_epi8(v, v), 8));
#else
    for (int i = 0; i < 8; ++i) {
        wide[2 * i] = (int16_t)whittle_tile_nibble(w[i], 0);
        wide[2 * i + 1] = (int16_t)whittle_tile_nibble(w[i], 1);
    }
#endif
}

/* acc[i * 8 + j] = bias[i] + sum over taps t < k of weight (i, t) * x_t[j] for channels i and pixels
 * j < 8, the inputs x_t as whittle_tile_prepare_s8 left them and weight (i, t) = w[(t / 2) * 16 + 2 * i
 * + t % 2] (the tiled layout: int8, taps in pairs), or with `nibbles` the nibble t % 2 (low first) of
 * byte (t / 2) * 8 + i. */
static void whittle_tile_s8(int k, const int8_t *w, int nibbles, const int16_t *prepared, const int32_t *bias, int32_t *acc) {
#if defined(WHITTLE_NEON64)
    int32x4_t a0 = vdupq_n_s32(bias[0]), b0 = a0, a1 = vdupq_n_s32(bias[1]), b1 = a1;
    int32x4_t a2 = vdupq_n_s32(bias[2]), b2 = a2, a3 = vdupq_n_s32(bias[3]), b3 = a3;
    int32x4_t a4 = vdupq_n_s32(bias[4]), b4 = a4, a5 = vdupq_n_s32(bias[5]), b5 = a5;
    int32x4_t a6 = vdupq_n_s32(bias[6]), b6 = a6, a7 = vdupq_n_s32(bias[7]), b7 = a7;
    int t = 0;
    /* Channel i's sums for pixels 0-3 (a) and 4-7 (b) gain x times lane i of the weights wv. */
#define WHITTLE_TILE_STEP(xv, wv)                                                              \
    do {                                                                                       \
        a0 = vmlal_laneq_s16(a0, vget_low_s16(xv), wv, 0);                                     \
        b0 = vmlal_high_laneq_s16(b0, xv, wv, 0);                                              \
        a1 = vmlal_laneq_s16(a1, vget_low_s16(xv), wv, 1);                                     \
        b1 = vmlal_high_laneq_s16(b1, xv, wv, 1);                                              \
        a2 = vmlal_laneq_s16(a2, vget_low_s16(xv), wv, 2);                                     \
        b2 = vmlal_high_laneq_s16(b2, xv, wv, 2);                                              \
        a3 = vmlal_laneq_s16(a3, vget_low_s16(xv), wv, 3);                                     \
        b3 = vmlal_high_laneq_s16(b3, xv, wv, 3);                                              \
        a4 = vmlal_laneq_s16(a4, vget_low_s16(xv), wv, 4);                                     \
        b4 = vmlal_high_laneq_s16(b4, xv, wv, 4);                                              \
        a5 = vmlal_laneq_s16(a5, vget_low_s16(xv), wv, 5);                                     \
        b5 = vmlal_high_laneq_s16(b5, xv, wv, 5);                                              \
        a6 = vmlal_laneq_s16(a6, vget_low_s16(xv), wv, 6);                                     \
        b6 = vmlal_high_laneq_s16(b6, xv, wv, 6);                                              \
        a7 = vmlal_laneq_s16(a7, vget_low_s16(xv), wv, 7);                                     \
        b7 = vmlal_high_laneq_s16(b7, xv, wv, 7);                                              \
    } while (0)
    /* 4-bit weights: the low nibbles of eight bytes are the first tap's, the high ones the second's;
     * shifts sign-extend them. */
    if (nibbles != 0) {
        for (; t + 2 <= k; t += 2, w += 8, prepared += 16) {
            const int8x8_t v = vld1_s8(w);
            const int16x8_t w0 = vmovl_s8(vshr_n_s8(vshl_n_s8(v, 4), 4)), w1 = vmovl_s8(vshr_n_s8(v, 4));
            const int16x8_t x0 = vld1q_s16(prepared), x1 = vld1q_s16(prepared + 8);
            WHITTLE_TILE_STEP(x0, w0);
            WHITTLE_TILE_STEP(x1, w1);
        }
        if (t < k) {
            const int16x8_t x0 = vld1q_s16(prepared), wv = vmovl_s8(vshr_n_s8(vshl_n_s8(vld1_s8(w), 4), 4));
            WHITTLE_TILE_STEP(x0, wv);
        }
        t = k;
    }
    /* A de-interleaving load splits a pair of taps into the eight channels' weights of each,
     * widened to int16. */
    for (; t + 2 <= k; t += 2, w += 16, prepared += 16) {
        const int8x8x2_t wb = vld2_s8(w);
        const int16x8_t w0 = vmovl_s8(wb.val[0]), w1 = vmovl_s8(wb.val[1]);
        const int16x8_t x0 = vld1q_s16(prepared), x1 = vld1q_s16(prepared + 8);
        WHITTLE_TILE_STEP(x0, w0);
        WHITTLE_TILE_STEP(x1, w1);
    }
    if (t < k) {
        const int16x8_t x0 = vld1q_s16(prepared), wv = vmovl_s8(vld2_s8(w).val[0]);
        WHITTLE_TILE_STEP(x0, wv);
    }
#undef WHITTLE_TILE_STEP
    vst1q_s32(acc, a0);
    vst1q_s32(acc + 4, b0);
    vst1q_s32(acc + 8, a1);
    vst1q_s32(acc + 12, b1);
    vst1q_s32(acc + 16, a2);
    vst1q_s32(acc + 20, b2);
    vst1q_s32(acc + 24, a3);
    vst1q_s32(acc + 28, b3);
    vst1q_s32(acc + 32, a4);
    vst1q_s32(acc + 36, b4);
    vst1q_s32(acc + 40, a5);
    vst1q_s32(acc + 44, b5);
    vst1q_s32(acc + 48, a6);
    vst1q_s32(acc + 52, b6);
    vst1q_s32(acc + 56, a7);
    vst1q_s32(acc + 60, b7);
#elif defined(WHITTLE_X86_S8)
    /* PMADDWD multiplies the pixels' inputs of a pair of taps (interleaved int16) with channel i's
     * two weights (adjacent in the layout: one int32, broadcast) and adds each pair into an int32
     * lane; VPDPWSSD (AVX-512 VNNI) also accumulates. With AVX2 the eight pixels are one
     * register; with SSE2, two passes of four. */
#if defined(__AVX2__)
    __m256i s0 = _mm256_set1_epi32(bias[0]), s1 = _mm256_set1_epi32(bias[1]), s2 = _mm256_set1_epi32(bias[2]);
    __m256i s3 = _mm256_set1_epi32(bias[3]), s4 = _mm256_set1_epi32(bias[4]), s5 = _mm256_set1_epi32(bias[5]);
    __m256i s6 = _mm256_set1_epi32(bias[6]), s7 = _mm256_set1_epi32(bias[7]);
    /* Channel i's pair of weights, widened, as one 32-bit load broadcast to every lane (folded into
     * the multiply-add's memory operand where the instruction set allows). */
#define WHITTLE_PAIR(i) (memcpy(&pair, wide + 2 * (i), sizeof pair), _mm256_set1_epi32(pair))
    for (int t = 0; t < k; t += 2, w += nibbles ? 8 : 16, prepared += 16) {
        const __m256i x = _mm256_loadu_si256((const __m256i *)(const void *)prepared);
        int32_t pair;
        int16_t wide[16];
        if (nibbles) {
            whittle_tile_widen_nibbles((const uint8_t *)w, wide);
        } else {
            whittle_tile_widen_pairs(w, wide);
        }
#if defined(__AVX512VNNI__) && defined(__AVX512VL__)
        s0 = _mm256_dpwssd_epi32(s0, x, WHITTLE_PAIR(0));
        s1 = _mm256_dpwssd_epi32(s1, x, WHITTLE_PAIR(1));
        s2 = _mm256_dpwssd_epi32(s2, x, WHITTLE_PAIR(2));
        s3 = _mm256_dpwssd_epi32(s3, x, WHITTLE_PAIR(3));
        s4 = _mm256_dpwssd_epi32(s4, x, WHITTLE_PAIR(4));
        s5 = _mm256_dpwssd_epi32(s5, x, WHITTLE_PAIR(5));
        s6 = _mm256_dpwssd_epi32(s6, x, WHITTLE_PAIR(6));
        s7 = _mm256_dpwssd_epi32(s7, x, WHITTLE_PAIR(7));
#else
        s0 = _mm256_add_epi32(s0, _mm256_madd_epi16(x, WHITTLE_PAIR(0)));
        s1 = _mm256_add_epi32(s1, _mm256_madd_epi16(x, WHITTLE_PAIR(1)));
        s2 = _mm256_add_epi32(s2, _mm256_madd_epi16(x, WHITTLE_PAIR(2)));
        s3 = _mm256_add_epi32(s3, _mm256_madd_epi16(x, WHITTLE_PAIR(3)));
        s4 = _mm256_add_epi32(s4, _mm256_madd_epi16(x, WHITTLE_PAIR(4)));
        s5 = _mm256_add_epi32(s5, _mm256_madd_epi16(x, WHITTLE_PAIR(5)));
        s6 = _mm256_add_epi32(s6, _mm256_madd_epi16(x, WHITTLE_PAIR(6)));
        s7 = _mm256_add_epi32(s7, _mm256_madd_epi16(x, WHITTLE_PAIR(7)));
#endif
    }
#undef WHITTLE_PAIR
    _mm256_storeu_si256((__m256i *)(void *)acc, s0);
    _mm256_storeu_si256((__m256i *)(void *)(acc + 8), s1);
    _mm256_storeu_si256((__m256i *)(void *)(acc + 16), s2);
    _mm256_storeu_si256((__m256i *)(void *)(acc + 24), s3);
    _mm256_storeu_si256((__m256i *)(void *)(acc + 32), s4);
    _mm256_storeu_si256((__m256i *)(void *)(acc + 40), s5);
    _mm256_storeu_si256((__m256i *)(void *)(acc + 48), s6);
    _mm256_storeu_si256((__m256i *)(void *)(acc + 56), s7);
#else
    for (int half = 0; half < 8; half += 4) {
        const int8_t *wt = w;
        const int16_t *xt = prepared + 2 * half;
        __m128i s0 = _mm_set1_epi32(bias[0]), s1 = _mm_set1_epi32(bias[1]), s2 = _mm_set1_epi32(bias[2]);
        __m128i s3 = _mm_set1_epi32(bias[3]), s4 = _mm_set1_epi32(bias[4]), s5 = _mm_set1_epi32(bias[5]);
        __m128i s6 = _mm_set1_epi32(bias[6]), s7 = _mm_set1_epi32(bias[7]);
#define WHITTLE_PAIR(i) (memcpy(&pair, wide + 2 * (i), sizeof pair), _mm_set1_epi32(pair))
        for (int t = 0; t < k; t += 2, wt = &wt[nibbles ? 8 : 16], xt = &xt[16]) {
            const __m128i x = _mm_loadu_si128((const __m128i *)(const void *)xt);
            int32_t pair;
            int16_t wide[16];
            if (nibbles != 0) {
                whittle_tile_widen_nibbles((const uint8_t *)wt, wide);
            } else {
                whittle_tile_widen_pairs(wt, wide);
            }
            s0 = _mm_add_epi32(s0, _mm_madd_epi16(x, WHITTLE_PAIR(0)));
            s1 = _mm_add_epi32(s1, _mm_madd_epi16(x, WHITTLE_PAIR(1)));
            s2 = _mm_add_epi32(s2, _mm_madd_epi16(x, WHITTLE_PAIR(2)));
            s3 = _mm_add_epi32(s3, _mm_madd_epi16(x, WHITTLE_PAIR(3)));
            s4 = _mm_add_epi32(s4, _mm_madd_epi16(x, WHITTLE_PAIR(4)));
            s5 = _mm_add_epi32(s5, _mm_madd_epi16(x, WHITTLE_PAIR(5)));
            s6 = _mm_add_epi32(s6, _mm_madd_epi16(x, WHITTLE_PAIR(6)));
            s7 = _mm_add_epi32(s7, _mm_madd_epi16(x, WHITTLE_PAIR(7)));
        }
#undef WHITTLE_PAIR
        _mm_storeu_si128((__m128i *)(void *)(acc + half), s0);
        _mm_storeu_si128((__m128i *)(void *)(acc + 8 + half), s1);
        _mm_storeu_si128((__m128i *)(void *)(acc + 16 + half), s2);
        _mm_storeu_si128((__m128i *)(void *)(acc + 24 + half), s3);
        _mm_storeu_si128((__m128i *)(void *)(acc + 32 + half), s4);
        _mm_storeu_si128((__m128i *)(void *)(acc + 40 + half), s5);
        _mm_storeu_si128((__m128i *)(void *)(acc + 48 + half), s6);
        _mm_storeu_si128((__m128i *)(void *)(acc + 56 + half), s7);
    }
#endif
#else
    /* Plain loops for other compilers (and WHITTLE_PORTABLE). */
    int32_t sum[64];
    for (int i = 0; i < 8; ++i) {
        for (int j = 0; j < 8; ++j) { sum[i * 8 + j] = bias[i]; }
    }
    for (int t = 0; t < k; ++t) {
        const int8_t *wt = w + (t / 2) * 16 + t % 2;
        const int16_t *x = prepared + 8 * t;
        for (int i = 0; i < 8; ++i) {
            const int32_t wi = nibbles ? whittle_tile_nibble((uint8_t)w[(t / 2) * 8 + i], t % 2) : wt[2 * i];
            for (int j = 0; j < 8; ++j) { sum[i * 8 + j] += wi * x[j]; }
        }
    }
    (void)memcpy(acc, sum, sizeof sum);
#endif
}

/* The eight pixels' inputs as int8 by quads of taps for the dot-product layout: tap t of pixel j
 * goes to quads[32 (t / 4) + 4 j + t % 4], taps past k as zeros; uint8 inputs (x_unsigned) as
 * x - 128, their sign bit flipped (the compiler folds 128 times the weights' sum into the bias). */
static void whittle_tile_prepare_quads(int k, const uint8_t *base, const int32_t *offsets, int x_unsigned, int8_t *quads) {
    const uint8_t none[8] = {0, 0, 0, 0, 0, 0, 0, 0}, flip = x_unsigned != 0 ? 0x80u : 0u;
    for (int t = 0; t < k; t += 4, quads += 32) {
        const uint8_t *p0 = base + offsets[t], *p1 = t + 1 < k ? base + offsets[t + 1] : none;
        const uint8_t *p2 = t + 2 < k ? base + offsets[t + 2] : none, *p3 = t + 3 < k ? base + offsets[t + 3] : none;
#if defined(WHITTLE_NEON64)
        /* Byte and halfword zips turn four rows of eight pixels into eight quads. */
        const uint8x8_t f = vdup_n_u8(flip);
        const uint8x8x2_t z01 = vzip_u8(veor_u8(vld1_u8(p0), f), t + 1 < k ? veor_u8(vld1_u8(p1), f) : vld1_u8(p1));
        const uint8x8x2_t z23 = vzip_u8(t + 2 < k ? veor_u8(vld1_u8(p2), f) : vld1_u8(p2), t + 3 < k ? veor_u8(vld1_u8(p3), f) : vld1_u8(p3));
        const uint16x4x2_t lo = vzip_u16(vreinterpret_u16_u8(z01.val[0]), vreinterpret_u16_u8(z23.val[0]));
        const uint16x4x2_t hi = vzip_u16(vreinterpret_u16_u8(z01.val[1]), vreinterpret_u16_u8(z23.val[1]));
        vst1q_u8((uint8_t *)quads, vreinterpretq_u8_u16(vcombine_u16(lo.val[0], lo.val[1])));
        vst1q_u8((uint8_t *)quads + 16, vreinterpretq_u8_u16(vcombine_u16(hi.val[0], hi.val[1])));
#else
        for (int j = 0; j < 8; ++j) {
            /* The bytes' bits (memcpy keeps them), the sign bit flipped for uint8 taps. */
            uint8_t b[4];
            b[0] = (uint8_t)(p0[j] ^ flip);
            b[1] = (uint8_t)(t + 1 < k ? p1[j] ^ flip : 0u);
            b[2] = (uint8_t)(t + 2 < k ? p2[j] ^ flip : 0u);
            b[3] = (uint8_t)(t + 3 < k ? p3[j] ^ flip : 0u);
            (void)memcpy(quads + 4 * j, b, 4);
        }
#endif
    }
}

/* acc[i * 8 + j] = bias[i] + sum over taps t < k of weight (i, t) * x_t[j], the inputs as
 * whittle_tile_prepare_quads left them and weight (i, t) = w[32 (t / 4) + 4 i + t % 4] (int8; the
 * dot-product layout). With the Armv8.2 dot-product instructions, SDOT by lane adds four products
 * per lane: sixteen instructions for 256 multiply-accumulates. */
static void whittle_tile_quads(int k, const int8_t *w, int nibbles, const int8_t *quads, const int32_t *bias, int32_t *acc) {
#if defined(WHITTLE_NEON64) && defined(__ARM_FEATURE_DOTPROD)
    int32x4_t a0 = vdupq_n_s32(bias[0]), b0 = a0, a1 = vdupq_n_s32(bias[1]), b1 = a1;
    int32x4_t a2 = vdupq_n_s32(bias[2]), b2 = a2, a3 = vdupq_n_s32(bias[3]), b3 = a3;
    int32x4_t a4 = vdupq_n_s32(bias[4]), b4 = a4, a5 = vdupq_n_s32(bias[5]), b5 = a5;
    int32x4_t a6 = vdupq_n_s32(bias[6]), b6 = a6, a7 = vdupq_n_s32(bias[7]), b7 = a7;
    for (int t = 0; t < k; t += 4, w += nibbles ? 16 : 32, quads += 32) {
        /* Pixels 0-3 (x0) and 4-7 (x1), a quad each; channels 0-3 (w0) and 4-7 (w1), a quad each (with
         * 4-bit weights, the low and the high nibbles of sixteen bytes, sign-extended by shifts). */
        const int8x16_t x0 = vld1q_s8(quads), x1 = vld1q_s8(quads + 16), v = vld1q_s8(w);
        const int8x16_t w0 = nibbles ? vshrq_n_s8(vshlq_n_s8(v, 4), 4) : v, w1 = nibbles ? vshrq_n_s8(v, 4) : vld1q_s8(w + 16);
        a0 = vdotq_laneq_s32(a0, x0, w0, 0);
        b0 = vdotq_laneq_s32(b0, x1, w0, 0);
        a1 = vdotq_laneq_s32(a1, x0, w0, 1);
        b1 = vdotq_laneq_s32(b1, x1, w0, 1);
        a2 = vdotq_laneq_s32(a2, x0, w0, 2);
        b2 = vdotq_laneq_s32(b2, x1, w0, 2);
        a3 = vdotq_laneq_s32(a3, x0, w0, 3);
        b3 = vdotq_laneq_s32(b3, x1, w0, 3);
        a4 = vdotq_laneq_s32(a4, x0, w1, 0);
        b4 = vdotq_laneq_s32(b4, x1, w1, 0);
        a5 = vdotq_laneq_s32(a5, x0, w1, 1);
        b5 = vdotq_laneq_s32(b5, x1, w1, 1);
        a6 = vdotq_laneq_s32(a6, x0, w1, 2);
        b6 = vdotq_laneq_s32(b6, x1, w1, 2);
        a7 = vdotq_laneq_s32(a7, x0, w1, 3);
        b7 = vdotq_laneq_s32(b7, x1, w1, 3);
    }
    vst1q_s32(acc, a0);
    vst1q_s32(acc + 4, b0);
    vst1q_s32(acc + 8, a1);
    vst1q_s32(acc + 12, b1);
    vst1q_s32(acc + 16, a2);
    vst1q_s32(acc + 20, b2);
    vst1q_s32(acc + 24, a3);
    vst1q_s32(acc + 28, b3);
    vst1q_s32(acc + 32, a4);
    vst1q_s32(acc + 36, b4);
    vst1q_s32(acc + 40, a5);
    vst1q_s32(acc + 44, b5);
    vst1q_s32(acc + 48, a6);
    vst1q_s32(acc + 52, b6);
    vst1q_s32(acc + 56, a7);
    vst1q_s32(acc + 60, b7);
#else
    /* Plain loops (cores without the dot-product instructions compute the same sums). */
    int32_t sum[64];
    for (int i = 0; i < 8; ++i) {
        for (int j = 0; j < 8; ++j) { sum[i * 8 + j] = bias[i]; }
    }
    for (int t = 0; t < k; t += 4, w = &w[nibbles ? 16 : 32], quads = &quads[32]) {
        for (int i = 0; i < 8; ++i) {
            int32_t wq[4];
            for (int j = 0; j < 4; ++j) { wq[j] = nibbles ? whittle_tile_nibble((uint8_t)w[4 * (i % 4) + j], i >= 4) : w[4 * i + j]; }
            for (int j = 0; j < 8; ++j) {
                sum[i * 8 + j] += wq[0] * quads[4 * j] + wq[1] * quads[4 * j + 1] + wq[2] * quads[4 * j + 2] + wq[3] * quads[4 * j + 3];
            }
        }
    }
    (void)memcpy(acc, sum, sizeof sum);
#endif
}

/* The bytes of the windows of output pixels p .. p + count - 1 (count <= 8) into columns[t * 8 + j]
 * for taps t in (c, kh, kw) order; taps in the padding, and pixels j >= count, hold x_zero's byte.
 * The geometry is copied into locals: stores through a character type would otherwise make the
 * compiler reload it for every byte. */
static void whittle_tile_columns(const whittle_conv_geometry *geometry, const uint8_t *x, int32_t x_zero, int p, int count,
                                 uint8_t *columns) {
    const whittle_conv_geometry g = *geometry;
    const uint8_t fill = (uint8_t)((uint32_t)x_zero & 255u);
    const int plane = g.height * g.width;
    const int oh = p / g.out_width, ow = p % g.out_width;
    if (count == 8 && g.stride_w == 1 && ow + 8 <= g.out_width) {
        /* Eight pixels of one output row: each tap is eight consecutive bytes of an input row. */
        const int ih0 = oh * g.stride_h - g.pad_top, iw0 = ow - g.pad_left;
        uint8_t *to = columns;
        for (int c = 0; c < g.channels; ++c) {
            for (int kh = 0; kh < g.kernel_h; ++kh) {
                const int ih = ih0 + kh * g.dilation_h;
                const uint8_t *row = x + c * plane + ih * g.width;
                if ((unsigned)ih >= (unsigned)g.height) {
                    (void)memset(to, fill, (size_t)8 * (size_t)g.kernel_w);
                    to += 8 * g.kernel_w;
                    continue;
                }
                for (int kw = 0; kw < g.kernel_w; ++kw, to += 8) {
                    const int iw = iw0 + kw * g.dilation_w;
                    if (iw >= 0 && iw + 8 <= g.width) {
                        (void)memcpy(to, row + iw, 8);
                    } else {
                        for (int j = 0; j < 8; ++j) { to[j] = (unsigned)iw + (unsigned)j < (unsigned)g.width ? row[iw + j] : fill; }
                    }
                }
            }
        }
        return;
    }
    for (int j = 0; j < 8; ++j) {
        const int q = p + j, qh = q / g.out_width, qw = q % g.out_width;
        const int ih0 = qh * g.stride_h - g.pad_top, iw0 = qw * g.stride_w - g.pad_left;
        const int inside = (int)(ih0 >= 0 && ih0 + (g.kernel_h - 1) * g.dilation_h < g.height && iw0 >= 0 &&
                                 iw0 + (g.kernel_w - 1) * g.dilation_w < g.width);
        uint8_t *to = columns + j;
        if (j >= count) {
            for (int t = 0; t < g.channels * g.kernel_h * g.kernel_w; ++t) { to[8 * t] = fill; }
        } else if (inside != 0) {
            /* The whole window is inside the map: no bounds checks. */
            const uint8_t *first = x + ih0 * g.width + iw0;
            for (int c = 0; c < g.channels; ++c, first = &first[plane]) {
                const uint8_t *row = first;
                for (int kh = 0; kh < g.kernel_h; ++kh, row += g.dilation_h * g.width) {
                    for (int kw = 0; kw < g.kernel_w; ++kw, to += 8) { *to = row[kw * g.dilation_w]; }
                }
            }
        } else {
            for (int c = 0; c < g.channels; ++c) {
                for (int kh = 0; kh < g.kernel_h; ++kh) {
                    const int ih = ih0 + kh * g.dilation_h, inside_row = (int)((unsigned)ih < (unsigned)g.height);
                    const uint8_t *row = x + c * plane + ih * g.width;
                    for (int kw = 0; kw < g.kernel_w; ++kw, to += 8) {
                        const int iw = iw0 + kw * g.dilation_w;
                        *to = inside_row && (unsigned)iw < (unsigned)g.width ? row[iw] : fill;
                    }
                }
            }
        }
    }
}

/* The output channels of one tile: eight pixels whose taps are at base + offsets[t], `count` of
 * them stored from out (channel planes `pixels` apart), the weights in the tiled layout (int8
 * pairs) or the dot-product one (int8 quads), either in its 4-bit form (`form` as for
 * whittle_conv_s8_tiles); `prepared` is room for 16 * k + 16 bytes. */
static void whittle_tile_block_s8(int k, int out_channels, const void *w, int form, const uint8_t *base, const int32_t *offsets,
                                  int x_unsigned, const int32_t *bias, const whittle_requant *rq, int count, uint8_t *out, int pixels,
                                  int16_t *prepared) {
    int32_t acc[64], edge[8];
    const int quads = form & 1, nibbles = (int)((form & 2) != 0);
    if (quads != 0) {
        whittle_tile_prepare_quads(k, base, offsets, x_unsigned, (int8_t *)(void *)prepared);
    } else {
        whittle_tile_prepare_s8(k, base, offsets, x_unsigned, prepared);
    }
    for (int m = 0; m < out_channels; m += 8) {
        const int n = whittle_tile_count(out_channels - m);
        const int32_t *b = bias + m;
        if (n < 8) {
            /* The last block's missing channels have zero weights; their sums are dropped. */
            for (int i = 0; i < 8; ++i) { edge[i] = i < n ? bias[m + i] : 0; }
            b = edge;
        }
        if (quads != 0) {
            whittle_tile_quads(k, (const int8_t *)w + m * ((k + 3) / 4 * 4) / (nibbles ? 2 : 1), nibbles, (const int8_t *)(void *)prepared, b, acc);
        } else {
            whittle_tile_s8(k, (const int8_t *)w + m * (k + k % 2) / (nibbles ? 2 : 1), nibbles, prepared, b, acc);
        }
        for (int i = 0; i < n; ++i) { whittle_tile_requant(rq, m + i, acc + 8 * i, count, out + (m + i) * pixels); }
    }
}

/* Convolution of one image (one group) on tiled weights; see whittle_kernels.h. */
WHITTLE_KERNEL void whittle_conv_s8_tiles(const whittle_conv_geometry *g, int out_channels, const void *x, int x_unsigned,
                                          int32_t x_zero, const void *w, int form, const int32_t *bias, const whittle_requant *rq,
                                          void *y, uint8_t *scratch) {
    const int k = g->channels * g->kernel_h * g->kernel_w;
    const int pixels = g->out_height * g->out_width;
    /* Tap offsets into the input (or its padded copy) and into the column buffer, the tile's inputs as
     * int16, then the work area (a padded copy of the input, or columns). */
    int32_t *in_place = (int32_t *)(void *)scratch, *packed = in_place + k;
    int16_t *prepared = (int16_t *)(void *)(packed + k);
    uint8_t *work = (uint8_t *)(prepared + 8 * k + 8);
    const int pitch = whittle_tile_taps(g, x, 1, (int)(x_zero & 255), in_place, packed, work);
    if (pitch > 0) {
        for (int oh = 0; oh < g->out_height; ++oh) {
            for (int ow = 0; ow < g->out_width; ow += 8) {
                whittle_tile_block_s8(k, out_channels, w, form, work + oh * pitch + ow, in_place, x_unsigned, bias, rq,
                                      whittle_tile_count(g->out_width - ow), (uint8_t *)y + oh * g->out_width + ow, pixels, prepared);
            }
        }
        return;
    }
    for (int p = 0; p < pixels; p += 8) {
        const int count = whittle_tile_count(pixels - p);
        /* A pointwise layer that keeps the map's size reads eight pixels of each input plane in place. */
        if (pitch == 0 && count == 8) {
            whittle_tile_block_s8(k, out_channels, w, form, (const uint8_t *)x + p, in_place, x_unsigned, bias, rq, count, (uint8_t *)y + p, pixels,
                                  prepared);
        } else {
            whittle_tile_columns(g, (const uint8_t *)x, x_zero, p, count, work);
            whittle_tile_block_s8(k, out_channels, w, form, work, packed, x_unsigned, bias, rq, count, (uint8_t *)y + p, pixels, prepared);
        }
    }
}

/* Fully connected layer on tiled weights; see whittle_kernels.h. */
WHITTLE_KERNEL void whittle_fully_connected_s8_tiles(int rows, int depth, int out_features, const void *x, int x_unsigned,
                                                     const void *w, int form, const int32_t *bias, const whittle_requant *rq, void *y) {
    const int nibbles = (int)((form & 2) != 0);
    for (int r = 0; r < rows; ++r) {
        const uint8_t *in = (const uint8_t *)x + r * depth;
        uint8_t *out = (uint8_t *)y + r * out_features;
        for (int m = 0; m < out_features; m += 8) {
            const int n = whittle_tile_count(out_features - m);
            const int8_t *wm = (const int8_t *)w + m * (depth + depth % 2) / (nibbles ? 2 : 1);
            int32_t acc[8];
            for (int i = 0; i < 8; ++i) { acc[i] = i < n ? bias[m + i] : 0; }
#if defined(WHITTLE_NEON64)
            {
                /* Eight channels' weights of two taps (a de-interleaving load, widened) times those taps' inputs. */
                int32x4_t lo = vld1q_s32(acc), hi = vld1q_s32(acc + 4);
                for (int t = 0; t < depth; t += 2, wm = &wm[nibbles ? 8 : 16]) {
                    int16x8x2_t wv;
                    if (nibbles != 0) {
                        const int8x8_t v = vld1_s8(wm);
                        wv.val[0] = vmovl_s8(vshr_n_s8(vshl_n_s8(v, 4), 4));
                        wv.val[1] = vmovl_s8(vshr_n_s8(v, 4));
                    } else {
                        const int8x8x2_t wb = vld2_s8(wm);
                        wv.val[0] = vmovl_s8(wb.val[0]);
                        wv.val[1] = vmovl_s8(wb.val[1]);
                    }
                    const int32_t v0 = x_unsigned ? (int32_t)in[t] : (int32_t)((const int8_t *)in)[t];
                    const int32_t v1 = t + 1 >= depth ? 0 : x_unsigned ? (int32_t)in[t + 1] : (int32_t)((const int8_t *)in)[t + 1];
                    lo = vmlal_n_s16(lo, vget_low_s16(wv.val[0]), (int16_t)v0);
                    hi = vmlal_high_n_s16(hi, wv.val[0], (int16_t)v0);
                    lo = vmlal_n_s16(lo, vget_low_s16(wv.val[1]), (int16_t)v1);
                    hi = vmlal_high_n_s16(hi, wv.val[1], (int16_t)v1);
                }
                vst1q_s32(acc, lo);
                vst1q_s32(acc + 4, hi);
            }
#elif defined(WHITTLE_X86_S8)
            {
                /* A pair of taps' weights for channels 0-3 and 4-7 (widened to int16 pairs) times the pair's two
                 * inputs (one int32, broadcast): PMADDWD sums each channel's two products. */
                __m128i lo = _mm_loadu_si128((const __m128i *)(const void *)acc), hi = _mm_loadu_si128((const __m128i *)(const void *)(acc + 4));
                for (int t = 0; t < depth; t += 2, wm = &wm[nibbles ? 8 : 16]) {
                    const int32_t v0 = x_unsigned ? (int32_t)in[t] : (int32_t)((const int8_t *)in)[t];
                    const int32_t v1 = t + 1 >= depth ? 0 : x_unsigned ? (int32_t)in[t + 1] : (int32_t)((const int8_t *)in)[t + 1];
                    const uint32_t bits = ((uint32_t)v0 & 0xFFFFu) | ((uint32_t)v1 << 16);
                    const __m128i pair = _mm_set1_epi32((int32_t)bits);
                    __m128i wl, wh;
                    if (nibbles != 0) {
                        int16_t wide[16];
                        whittle_tile_widen_nibbles((const uint8_t *)wm, wide);
                        wl = _mm_loadu_si128((const __m128i *)(const void *)wide);
                        wh = _mm_loadu_si128((const __m128i *)(const void *)(wide + 8));
                    } else {
                        const __m128i b = _mm_loadu_si128((const __m128i *)(const void *)wm);
                        wl = _mm_srai_epi16(_mm_unpacklo_epi8(b, b), 8);
                        wh = _mm_srai_epi16(_mm_unpackhi_epi8(b, b), 8);
                    }
                    lo = _mm_add_epi32(lo, _mm_madd_epi16(wl, pair));
                    hi = _mm_add_epi32(hi, _mm_madd_epi16(wh, pair));
                }
                _mm_storeu_si128((__m128i *)(void *)acc, lo);
                _mm_storeu_si128((__m128i *)(void *)(acc + 4), hi);
            }
#else
            for (int t = 0; t < depth; ++t) {
                const int8_t *wt = wm + (t / 2) * 16 + t % 2;
                const int32_t v = x_unsigned ? (int32_t)in[t] : (int32_t)((const int8_t *)in)[t];
                for (int i = 0; i < 8; ++i) { acc[i] += (nibbles ? whittle_tile_nibble((uint8_t)wm[(t / 2) * 8 + i], t % 2) : wt[2 * i]) * v; }
            }
#endif
            for (int i = 0; i < n; ++i) { out[m + i] = (uint8_t)whittle_requant_general(rq, m + i, acc[i]); }
        }
    }
}

/* Depthwise 3x3 convolution, stride 1, padding 1 on every side; see whittle_kernels.h. */
WHITTLE_KERNEL void whittle_depthwise3x3_s8_flat(const whittle_conv_geometry *g, const int8_t *x, int32_t x_zero, const void *w, int nibbles,
                                                 const int32_t *inner_bias, const whittle_requant *rq, int8_t *y, int8_t *padded) {
    const int width = g->width, plane = g->height * g->width;
    /* Row -1 (x_zero) at base[0], the map from base[width], row `height` (x_zero) after it; the
     * 8 bytes before and 16 after cover the first and last vectors' reach. */
    int8_t *base = padded + 8;
#if defined(WHITTLE_VECTOR_S8)
    {
        /* Generic vectors: when every bias keeps the sums below 2^24 in magnitude (|inner_bias| <=
         * 2^23; a product is at most 2^14), float lanes compute them exactly, and faster than 32-bit
         * integer multiplies. Each channel is then converted to floats once (in the same layout, in
         * the scratch's floats), not once per tap. */
        typedef int32_t whittle_vsi_exact __attribute__((vector_size(WHITTLE_VECTOR_BYTES)));
        typedef uint32_t whittle_vsu_exact __attribute__((vector_size(WHITTLE_VECTOR_BYTES)));
        typedef float whittle_vsf __attribute__((vector_size(WHITTLE_VECTOR_BYTES)));
        const int lanes = WHITTLE_VECTOR_BYTES / 4;
        int exact = 1;
        for (int c = 0; c < g->channels; ++c) { exact &= (int)(inner_bias[c] <= 8388608 && inner_bias[c] >= -8388608); }
        if (exact && width < 32768) {
            float *floats = (float *)(void *)padded, *fbase = floats + 8;
            const float zero = (float)x_zero;
            for (int i = 0; i < plane + 2 * width + 24; ++i) { floats[i] = zero; }
            for (int c = 0; c < g->channels; ++c) {
                const int8_t *in = x + c * plane;
                int8_t unpacked[16];
                const int8_t *wc = nibbles ? (whittle_unpack_filter4((const uint8_t *)w, 9 * c, 9, unpacked), unpacked) : (const int8_t *)w + 9 * c;
                /* The weights and bias in locals: stores through a character type could change them for
                 * all the compiler knows, and it would reload them for every vector. */
                const int32_t w0 = wc[0], w1 = wc[1], w2 = wc[2], w3 = wc[3], w4 = wc[4], w5 = wc[5], w6 = wc[6], w7 = wc[7], w8 = wc[8];
                const float f0 = (float)w0, f1 = (float)w1, f2 = (float)w2, f3 = (float)w3, f4 = (float)w4, f5 = (float)w5;
                const float f6 = (float)w6, f7 = (float)w7, f8 = (float)w8;
                const int32_t bias_c = inner_bias[c], left_pad = x_zero * (w0 + w3 + w6), right_pad = x_zero * (w2 + w5 + w8);
                uint8_t *out = (uint8_t *)y + c * plane;
                const uint32_t wrap = (uint32_t)width, last = wrap - 1u;
                uint32_t first[8];
                whittle_vsi_exact none;
                whittle_vsu_exact column, step;
                for (int i = 0; i < plane; ++i) { fbase[width + i] = (float)in[i]; }
                (void)memset(&none, 0, sizeof none);
                (void)memset(&step, 0, sizeof step);
                step += (uint32_t)lanes % wrap;
                for (int j = 0; j < lanes; ++j) { first[j] = (uint32_t)j % wrap; }
                (void)memcpy(&column, first, sizeof column);
                for (int i = 0; i < plane; i += 8) {
                    int32_t acc[8];
                    for (int h = 0; h < 8; h += lanes) {
                        /* Each kernel column's three taps summed apart; where a left (right) column would
                         * read the neighbouring row, its sum is x_zero times the column's weights. */
                        /* Lane masks without comparisons: column - 1 (last - column - 1) has its top bit
                         * set only where the column is the row's first (last), as columns are below 2^31. */
                        const whittle_vsu_exact left_bits = 0u - ((column - 1u) >> 31), right_bits = 0u - ((last - column - 1u) >> 31);
                        const whittle_vsi_exact at_left = (whittle_vsi_exact)left_bits, at_right = (whittle_vsi_exact)right_bits;
                        const float *r0 = fbase + i + h - 1, *r1 = r0 + width, *r2 = r1 + width;
                        whittle_vsf a, b, d;
                        whittle_vsi_exact l, r, sum;
#define WHITTLE_LOAD(v, p) ((void)memcpy(&(v), (p), sizeof(v)))
                        WHITTLE_LOAD(a, r0);
                        WHITTLE_LOAD(b, r1);
                        WHITTLE_LOAD(d, r2);
                        l = __builtin_convertvector(a * f0 + b * f3 + d * f6, whittle_vsi_exact);
                        WHITTLE_LOAD(a, r0 + 1);
                        WHITTLE_LOAD(b, r1 + 1);
                        WHITTLE_LOAD(d, r2 + 1);
                        sum = __builtin_convertvector(a * f1 + b * f4 + d * f7, whittle_vsi_exact) + bias_c;
                        WHITTLE_LOAD(a, r0 + 2);
                        WHITTLE_LOAD(b, r1 + 2);
                        WHITTLE_LOAD(d, r2 + 2);
                        r = __builtin_convertvector(a * f2 + b * f5 + d * f8, whittle_vsi_exact);
#undef WHITTLE_LOAD
                        sum += (l & ~at_left) | ((none + left_pad) & at_left);
                        sum += (r & ~at_right) | ((none + right_pad) & at_right);
                        (void)memcpy(acc + h, &sum, sizeof sum);
                        column += step;
                        /* Back by a width where the column passed the row's end (column - width >= 0). */
                        column -= (((column - wrap) >> 31) - 1u) & wrap;
                    }
                    whittle_tile_requant(rq, c, acc, whittle_tile_count(plane - i), out + i);
                }
            }
            return;
        }
    }
#endif
    const uint32_t fill = (uint32_t)x_zero & 255u;
    (void)memset(padded, (int)fill, (size_t)plane + 2u * (size_t)width + 24u);
    for (int c = 0; c < g->channels; ++c) {
        /* 4-bit filters: this channel's nine taps as bytes (and seven spare ones for vector loads). */
        int8_t unpacked[16] = {0};
        const int8_t *wc = nibbles ? (whittle_unpack_filter4((const uint8_t *)w, 9 * c, 9, unpacked), unpacked) : (const int8_t *)w + 9 * c;
        int8_t *out = y + c * plane;
        (void)memcpy(base + width, x + c * plane, (size_t)plane);
#if defined(WHITTLE_NEON64)
        if (width < 32768) {
            /* Eight consecutive outputs i of the flattened map at a time; tap (kh, kw) of output i is
             * base[i + kh * width + kw - 1], except that left taps of column 0 and right taps of the
             * last column would read the neighbouring row: those lanes take x_zero (the padding). */
            const int16x8_t zero = vdupq_n_s16((int16_t)x_zero);
            const uint16x8_t last = vdupq_n_u16((uint16_t)((uint32_t)width - 1u)), wrap = vdupq_n_u16((uint16_t)width);
            const uint16x8_t step = vdupq_n_u16((uint16_t)(8u % (uint32_t)width)), none = vdupq_n_u16(0u);
            static const uint16_t lanes[8] = {0, 1, 2, 3, 4, 5, 6, 7};
            uint16x8_t column = vld1q_u16(lanes);
            const int32x4_t bias = vdupq_n_s32(inner_bias[c]);
            /* The nine weights as int16 lanes (taps 0-7, and tap 8 alone). */
            const int16x8_t w07 = vmovl_s8(vld1_s8(wc));
            const int16x4_t w8 = vdup_n_s16((int16_t)wc[8]);
            /* Lanes 0-7 modulo the width (a width below 8 wraps several times). */
            while (vmaxvq_u16(column) >= (uint16_t)width) { column = vsubq_u16(column, vandq_u16(vcgeq_u16(column, wrap), wrap)); }
            for (int i = 0; i < plane; i += 8) {
                const uint16x8_t left = vceqq_u16(column, none), right = vceqq_u16(column, last);
                const int8_t *r0 = base + i - 1, *r1 = r0 + width, *r2 = r1 + width;
                int32x4_t lo = bias, hi = bias;
                int32_t acc[8];
                int16x8_t t;
                t = vbslq_s16(left, zero, vmovl_s8(vld1_s8(r0)));
                lo = vmlal_laneq_s16(lo, vget_low_s16(t), w07, 0);
                hi = vmlal_high_laneq_s16(hi, t, w07, 0);
                t = vmovl_s8(vld1_s8(r0 + 1));
                lo = vmlal_laneq_s16(lo, vget_low_s16(t), w07, 1);
                hi = vmlal_high_laneq_s16(hi, t, w07, 1);
                t = vbslq_s16(right, zero, vmovl_s8(vld1_s8(r0 + 2)));
                lo = vmlal_laneq_s16(lo, vget_low_s16(t), w07, 2);
                hi = vmlal_high_laneq_s16(hi, t, w07, 2);
                t = vbslq_s16(left, zero, vmovl_s8(vld1_s8(r1)));
                lo = vmlal_laneq_s16(lo, vget_low_s16(t), w07, 3);
                hi = vmlal_high_laneq_s16(hi, t, w07, 3);
                t = vmovl_s8(vld1_s8(r1 + 1));
                lo = vmlal_laneq_s16(lo, vget_low_s16(t), w07, 4);
                hi = vmlal_high_laneq_s16(hi, t, w07, 4);
                t = vbslq_s16(right, zero, vmovl_s8(vld1_s8(r1 + 2)));
                lo = vmlal_laneq_s16(lo, vget_low_s16(t), w07, 5);
                hi = vmlal_high_laneq_s16(hi, t, w07, 5);
                t = vbslq_s16(left, zero, vmovl_s8(vld1_s8(r2)));
                lo = vmlal_laneq_s16(lo, vget_low_s16(t), w07, 6);
                hi = vmlal_high_laneq_s16(hi, t, w07, 6);
                t = vmovl_s8(vld1_s8(r2 + 1));
                lo = vmlal_laneq_s16(lo, vget_low_s16(t), w07, 7);
                hi = vmlal_high_laneq_s16(hi, t, w07, 7);
                t = vbslq_s16(right, zero, vmovl_s8(vld1_s8(r2 + 2)));
                lo = vmlal_s16(lo, vget_low_s16(t), w8);
                hi = vmlal_high_s16(hi, t, vcombine_s16(w8, w8));
                vst1q_s32(acc, lo);
                vst1q_s32(acc + 4, hi);
                whittle_tile_requant(rq, c, acc, whittle_tile_count(plane - i), (uint8_t *)out + i);
                column = vaddq_u16(column, step);
                column = vsubq_u16(column, vandq_u16(vcgeq_u16(column, wrap), wrap));
            }
            continue;
        }
#elif defined(WHITTLE_VECTOR_S8)
        {
            /* Biases beyond 2^23 (see above): the same eight outputs on int32 lanes. Each kernel
             * column's three taps are summed apart; where a left (right) column would read the
             * neighbouring row, its sum is replaced by x_zero times the column's weights. */
            typedef int32_t whittle_vsi_wide __attribute__((vector_size(WHITTLE_VECTOR_BYTES)));
            typedef uint32_t whittle_vsu_wide __attribute__((vector_size(WHITTLE_VECTOR_BYTES)));
            const int lanes = WHITTLE_VECTOR_BYTES / 4;
            const int32_t w0 = wc[0], w1 = wc[1], w2 = wc[2], w3 = wc[3], w4 = wc[4], w5 = wc[5], w6 = wc[6], w7 = wc[7], w8 = wc[8];
            const int32_t bias_c = inner_bias[c], left_pad = x_zero * (w0 + w3 + w6), right_pad = x_zero * (w2 + w5 + w8);
            const uint32_t wrap = (uint32_t)width, last = wrap - 1u;
            uint32_t first[8];
            whittle_vsi_wide none;
            whittle_vsu_wide column, step;
            (void)memset(&none, 0, sizeof none);
            (void)memset(&step, 0, sizeof step);
            step += (uint32_t)lanes % wrap;
            for (int j = 0; j < lanes; ++j) { first[j] = (uint32_t)j % wrap; }
            (void)memcpy(&column, first, sizeof column);
            for (int i = 0; i < plane; i += 8) {
                int32_t acc[8];
                for (int h = 0; h < 8; h += lanes) {
                    /* Lane masks as in the float variant above. */
                    const whittle_vsu_wide left_bits = 0u - ((column - 1u) >> 31), right_bits = 0u - ((last - column - 1u) >> 31);
                    const whittle_vsi_wide at_left = (whittle_vsi_wide)left_bits, at_right = (whittle_vsi_wide)right_bits;
                    const int8_t *r0 = base + i + h - 1, *r1 = r0 + width, *r2 = r1 + width;
                    whittle_vsi_wide l, r, sum;
/* A vector of bytes widened to int32 lanes (an initializer compilers turn into one widening load). */
#if WHITTLE_VECTOR_BYTES == 32
#define WHITTLE_BYTES(p) ((whittle_vsi_wide){(p)[0], (p)[1], (p)[2], (p)[3], (p)[4], (p)[5], (p)[6], (p)[7]})
#else
#define WHITTLE_BYTES(p) ((whittle_vsi_wide){(p)[0], (p)[1], (p)[2], (p)[3]})
#endif
                    l = WHITTLE_BYTES(r0) * w0 + WHITTLE_BYTES(r1) * w3 + WHITTLE_BYTES(r2) * w6;
                    r = WHITTLE_BYTES(r0 + 2) * w2 + WHITTLE_BYTES(r1 + 2) * w5 + WHITTLE_BYTES(r2 + 2) * w8;
                    sum = WHITTLE_BYTES(r0 + 1) * w1 + WHITTLE_BYTES(r1 + 1) * w4 + WHITTLE_BYTES(r2 + 1) * w7 + bias_c;
#undef WHITTLE_BYTES
                    sum += (l & ~at_left) | ((none + left_pad) & at_left);
                    sum += (r & ~at_right) | ((none + right_pad) & at_right);
                    (void)memcpy(acc + h, &sum, sizeof sum);
                    column += step;
                    column -= (((column - wrap) >> 31) - 1u) & wrap;
                }
                whittle_tile_requant(rq, c, acc, whittle_tile_count(plane - i), (uint8_t *)out + i);
            }
            continue;
        }
#endif
        for (int i = 0; i < plane; i += 8) {
            const int n = whittle_tile_count(plane - i);
            int32_t acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
            for (int j = 0; j < n; ++j) {
                const int col = (i + j) % width;
                const int8_t *r = base + i + j - 1;
                int32_t sum = inner_bias[c];
                for (int kh = 0; kh < 3; ++kh, r = &r[width]) {
                    sum += (col > 0 ? r[0] : x_zero) * wc[3 * kh] + r[1] * wc[3 * kh + 1];
                    sum += (col < width - 1 ? r[2] : x_zero) * wc[3 * kh + 2];
                }
                acc[j] = sum;
            }
            whittle_tile_requant(rq, c, acc, n, (uint8_t *)out + i);
        }
    }
}
