/* conv_f32_tiles.c: float convolution and 3x3 depthwise layers for cores with a wide vector unit
 * (AArch64 NEON, as on the Raspberry Pi 4 and 5, and hosts), on the tiled float layout of
 * whittle_kernels.h.
 *
 * A convolution computes eight output channels by eight output pixels at a time: for each tap,
 * two vectors of the eight pixels' inputs and two of the eight channels' weights feed sixteen
 * fused multiply-adds by lane, and the 64 sums stay in registers for the whole dot product. A
 * pointwise layer reads its input planes in place; other layers copy their windows into a small
 * column buffer (taps in the padding are 0). With GCC or Clang elsewhere the same loops are written
 * on the compilers' generic vector types, which they map to the host's vector unit; other
 * compilers get plain loops. Each output's sum runs over the taps in order from the bias, so
 * variants differ only where one fuses a multiply-add and another rounds twice.
 */
#include <math.h>
#include <string.h>
#include "whittle_kernels.h"

#if defined(__aarch64__) && defined(__ARM_NEON) && !defined(__ARM_BIG_ENDIAN) && !defined(WHITTLE_PORTABLE)
#include <arm_neon.h>
#define WHITTLE_NEON64_F32 1
#elif defined(__GNUC__) && !defined(WHITTLE_PORTABLE)
#define WHITTLE_VECTOR_F32 1
#endif
/* How many of the next eight items (pixels, channels) remain of `left`. */
static int whittle_tile_count_f32(int left) {
    return left < 8 ? left : 8;
}

/* acc[i * 8 + j] = bias[i] + sum over taps t < k of w[t * 8 + i] * x_t[j] for channels i and pixels
 * j < 8, x_t being the 8 floats at base + offsets[t]. */
static void whittle_tile8_f32(int k, const float *w, const float *base, const int32_t *offsets, const float *bias, float *acc) {
#if defined(WHITTLE_NEON64_F32)
    float32x4_t a0 = vdupq_n_f32(bias[0]), b0 = a0, a1 = vdupq_n_f32(bias[1]), b1 = a1;
    float32x4_t a2 = vdupq_n_f32(bias[2]), b2 = a2, a3 = vdupq_n_f32(bias[3]), b3 = a3;
    float32x4_t a4 = vdupq_n_f32(bias[4]), b4 = a4, a5 = vdupq_n_f32(bias[5]), b5 = a5;
    float32x4_t a6 = vdupq_n_f32(bias[6]), b6 = a6, a7 = vdupq_n_f32(bias[7]), b7 = a7;
    for (int t = 0; t < k; ++t, w = &w[8]) {
        /* Channel i's sums for pixels 0-3 (a) and 4-7 (b) gain the pixels' inputs times lane i of the weights. */
        const float *columns = base + offsets[t];
        const float32x4_t x0 = vld1q_f32(columns), x1 = vld1q_f32(columns + 4);
        const float32x4_t w0 = vld1q_f32(w), w1 = vld1q_f32(w + 4);
        a0 = vfmaq_laneq_f32(a0, x0, w0, 0);
        b0 = vfmaq_laneq_f32(b0, x1, w0, 0);
        a1 = vfmaq_laneq_f32(a1, x0, w0, 1);
        b1 = vfmaq_laneq_f32(b1, x1, w0, 1);
        a2 = vfmaq_laneq_f32(a2, x0, w0, 2);
        b2 = vfmaq_laneq_f32(b2, x1, w0, 2);
        a3 = vfmaq_laneq_f32(a3, x0, w0, 3);
        b3 = vfmaq_laneq_f32(b3, x1, w0, 3);
        a4 = vfmaq_laneq_f32(a4, x0, w1, 0);
        b4 = vfmaq_laneq_f32(b4, x1, w1, 0);
        a5 = vfmaq_laneq_f32(a5, x0, w1, 1);
        b5 = vfmaq_laneq_f32(b5, x1, w1, 1);
        a6 = vfmaq_laneq_f32(a6, x0, w1, 2);
        b6 = vfmaq_laneq_f32(b6, x1, w1, 2);
        a7 = vfmaq_laneq_f32(a7, x0, w1, 3);
        b7 = vfmaq_laneq_f32(b7, x1, w1, 3);
    }
    vst1q_f32(acc, a0);
    vst1q_f32(acc + 4, b0);
    vst1q_f32(acc + 8, a1);
    vst1q_f32(acc + 12, b1);
    vst1q_f32(acc + 16, a2);
    vst1q_f32(acc + 20, b2);
    vst1q_f32(acc + 24, a3);
    vst1q_f32(acc + 28, b3);
    vst1q_f32(acc + 32, a4);
    vst1q_f32(acc + 36, b4);
    vst1q_f32(acc + 40, a5);
    vst1q_f32(acc + 44, b5);
    vst1q_f32(acc + 48, a6);
    vst1q_f32(acc + 52, b6);
    vst1q_f32(acc + 56, a7);
    vst1q_f32(acc + 60, b7);
#elif defined(WHITTLE_VECTOR_F32)
    /* Generic vectors of GCC and Clang (no instruction set named): eight pixels per pass where the
     * vector unit is 256 bits wide, else two passes of four, so that the eight channels' sums fit
     * in sixteen registers. */
#if defined(__AVX__)
    typedef float whittle_vsf __attribute__((vector_size(32)));
#else
    typedef float whittle_vsf __attribute__((vector_size(16)));
#endif
    const size_t lane_count = sizeof(whittle_vsf) / sizeof(float);
    const int lanes = (int)lane_count;
    for (int half = 0; half < 8; half += lanes) {
        const float *wt = w, *ct = base + half;
        whittle_vsf s0, s1, s2, s3, s4, s5, s6, s7, zero;
        (void)memset(&zero, 0, sizeof zero);
        s0 = zero + bias[0];
        s1 = zero + bias[1];
        s2 = zero + bias[2];
        s3 = zero + bias[3];
        s4 = zero + bias[4];
        s5 = zero + bias[5];
        s6 = zero + bias[6];
        s7 = zero + bias[7];
        for (int t = 0; t < k; ++t, wt = &wt[8]) {
            whittle_vsf x;
            (void)memcpy(&x, ct + offsets[t], sizeof x);
            s0 += wt[0] * x;
            s1 += wt[1] * x;
            s2 += wt[2] * x;
            s3 += wt[3] * x;
            s4 += wt[4] * x;
            s5 += wt[5] * x;
            s6 += wt[6] * x;
            s7 += wt[7] * x;
        }
        (void)memcpy(acc + half, &s0, sizeof s0);
        (void)memcpy(acc + 8 + half, &s1, sizeof s1);
        (void)memcpy(acc + 16 + half, &s2, sizeof s2);
        (void)memcpy(acc + 24 + half, &s3, sizeof s3);
        (void)memcpy(acc + 32 + half, &s4, sizeof s4);
        (void)memcpy(acc + 40 + half, &s5, sizeof s5);
        (void)memcpy(acc + 48 + half, &s6, sizeof s6);
        (void)memcpy(acc + 56 + half, &s7, sizeof s7);
    }
#else
    for (int i = 0; i < 8; ++i) {
        for (int j = 0; j < 8; ++j) { acc[i * 8 + j] = bias[i]; }
    }
    for (int t = 0; t < k; ++t, w += 8) {
        const float *columns = base + offsets[t];
        for (int i = 0; i < 8; ++i) {
            for (int j = 0; j < 8; ++j) { acc[i * 8 + j] += w[i] * columns[j]; }
        }
    }
#endif
}

/* The taps of output pixels p .. p + count - 1 (count <= 8) into columns[t * 8 + j] for taps t in
 * (c, kh, kw) order; taps in the padding, and pixels j >= count, are 0. */
static void whittle_tile_columns_f32(const whittle_conv_geometry *geometry, const float *x, int p, int count, float *columns) {
    const whittle_conv_geometry g = *geometry;
    const int plane = g.height * g.width;
    const int oh = p / g.out_width, ow = p % g.out_width;
    if (count == 8 && g.stride_w == 1 && ow + 8 <= g.out_width) {
        /* Eight pixels of one output row: each tap is eight consecutive floats of an input row. */
        const int ih0 = oh * g.stride_h - g.pad_top, iw0 = ow - g.pad_left;
        float *to = columns;
        for (int c = 0; c < g.channels; ++c) {
            for (int kh = 0; kh < g.kernel_h; ++kh) {
                const int ih = ih0 + kh * g.dilation_h;
                const float *row = x + c * plane + ih * g.width;
                for (int kw = 0; kw < g.kernel_w; ++kw, to = &to[8]) {
                    const int iw = iw0 + kw * g.dilation_w;
                    if ((unsigned)ih >= (unsigned)g.height) {
                        for (int j = 0; j < 8; ++j) { to[j] = 0.0f; }
                    } else if (iw >= 0 && iw + 8 <= g.width) {
                        (void)memcpy(to, row + iw, 8u * sizeof(float));
                    } else {
                        for (int j = 0; j < 8; ++j) { to[j] = (unsigned)iw + (unsigned)j < (unsigned)g.width ? row[iw + j] : 0.0f; }
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
        float *to = columns + j;
        if (j >= count) {
            for (int t = 0; t < g.channels * g.kernel_h * g.kernel_w; ++t) { to[8 * t] = 0.0f; }
        } else if (inside != 0) {
            const float *first = x + ih0 * g.width + iw0;
            for (int c = 0; c < g.channels; ++c, first = &first[plane]) {
                const float *row = first;
                for (int kh = 0; kh < g.kernel_h; ++kh, row += g.dilation_h * g.width) {
                    for (int kw = 0; kw < g.kernel_w; ++kw, to = &to[8]) { *to = row[kw * g.dilation_w]; }
                }
            }
        } else {
            for (int c = 0; c < g.channels; ++c) {
                for (int kh = 0; kh < g.kernel_h; ++kh) {
                    const int ih = ih0 + kh * g.dilation_h, inside_row = (int)((unsigned)ih < (unsigned)g.height);
                    const float *row = x + c * plane + ih * g.width;
                    for (int kw = 0; kw < g.kernel_w; ++kw, to = &to[8]) {
                        const int iw = iw0 + kw * g.dilation_w;
                        *to = inside_row && (unsigned)iw < (unsigned)g.width ? row[iw] : 0.0f;
                    }
                }
            }
        }
    }
}

/* The output channels of one tile: eight pixels whose taps are at base + offsets[t], `count` of
 * them stored from out (channel planes `pixels` apart). */
static void whittle_tile_block_f32(int k, int out_channels, const float *w, const float *base, const int32_t *offsets,
                                   const float *bias, int count, float *out, int pixels) {
    float acc[64];
    for (int m = 0; m < out_channels; m += 8) {
        const int n = whittle_tile_count_f32(out_channels - m);
        whittle_tile8_f32(k, w + m * k, base, offsets, bias + m, acc);
        for (int i = 0; i < n; ++i) { (void)memcpy(out + (m + i) * pixels, acc + 8 * i, (size_t)count * sizeof(float)); }
    }
}

/* Float convolution of one image (one group) on tiled weights; see whittle_kernels.h. */
WHITTLE_KERNEL void whittle_conv_f32_tiles(const whittle_conv_geometry *g, int out_channels, const float *x, const float *w,
                                           const float *bias, float *y, float *scratch) {
    const int k = g->channels * g->kernel_h * g->kernel_w;
    const int pixels = g->out_height * g->out_width;
    /* Tap offsets into the input (or its padded copy) and into the column buffer, then the work area. */
    int32_t *in_place = (int32_t *)(void *)scratch, *packed = in_place + k;
    float *work = scratch + 2 * k;
    /* The padding's zeros are all-zero bytes. */
    const int pitch = whittle_tile_taps(g, x, (int)sizeof(float), 0, in_place, packed, work);
    if (pitch > 0) {
        for (int oh = 0; oh < g->out_height; ++oh) {
            for (int ow = 0; ow < g->out_width; ow += 8) {
                whittle_tile_block_f32(k, out_channels, w, work + oh * pitch + ow, in_place, bias, whittle_tile_count_f32(g->out_width - ow),
                                       y + oh * g->out_width + ow, pixels);
            }
        }
        return;
    }
    for (int p = 0; p < pixels; p += 8) {
        const int count = whittle_tile_count_f32(pixels - p);
        /* A pointwise layer that keeps the map's size reads eight pixels of each input plane in place. */
        if (pitch == 0 && count == 8) {
            whittle_tile_block_f32(k, out_channels, w, x + p, in_place, bias, count, y + p, pixels);
        } else {
            whittle_tile_columns_f32(g, x, p, count, work);
            whittle_tile_block_f32(k, out_channels, w, work, packed, bias, count, y + p, pixels);
        }
    }
}

/* Depthwise 3x3 convolution, stride 1, padding 1 on every side (float); see whittle_kernels.h. */
WHITTLE_KERNEL void whittle_depthwise3x3_f32_flat(const whittle_conv_geometry *g, const float *x, const float *w, const float *bias,
                                                  float *y, float *padded) {
    const int width = g->width, plane = g->height * g->width;
    /* Row -1 (zeros) at base[0], the map from base[width], row `height` (zeros) after it; the 8
     * floats before and 16 after cover the first and last vectors' reach. */
    float *base = padded + 8;
    for (int i = 0; i < plane + 2 * width + 24; ++i) { padded[i] = 0.0f; }
    for (int c = 0; c < g->channels; ++c) {
        const float *wc = w + 9 * c;
        float *out = y + c * plane;
        (void)memcpy(base + width, x + c * plane, (size_t)plane * sizeof(float));
#if defined(WHITTLE_NEON64_F32)
        {
            /* Four consecutive outputs i of the flattened map at a time; tap (kh, kw) of output i is
             * base[i + kh * width + kw - 1], except that left taps of column 0 and right taps of the
             * last column would read the neighbouring row: those lanes take 0 (the padding). */
            const float32x4_t zero = vdupq_n_f32(0.0f), bias_c = vdupq_n_f32(bias[c]);
            const float32x4_t w03 = vld1q_f32(wc), w47 = vld1q_f32(wc + 4), w8 = vdupq_n_f32(wc[8]);
            const uint32x4_t last = vdupq_n_u32((uint32_t)width - 1u), wrap = vdupq_n_u32((uint32_t)width);
            const uint32x4_t step = vdupq_n_u32(4u % (uint32_t)width), none = vdupq_n_u32(0u);
            static const uint32_t lanes[4] = {0, 1, 2, 3};
            uint32x4_t column = vld1q_u32(lanes);
            /* Lanes 0-3 modulo the width (a width below 4 wraps several times). */
            while (vmaxvq_u32(column) >= (uint32_t)width) { column = vsubq_u32(column, vandq_u32(vcgeq_u32(column, wrap), wrap)); }
            for (int i = 0; i < plane; i += 4) {
                const uint32x4_t left = vceqq_u32(column, none), right = vceqq_u32(column, last);
                const float *r0 = base + i - 1, *r1 = r0 + width, *r2 = r1 + width;
                float32x4_t a = bias_c;
                float sums[4];
                a = vfmaq_laneq_f32(a, vbslq_f32(left, zero, vld1q_f32(r0)), w03, 0);
                a = vfmaq_laneq_f32(a, vld1q_f32(r0 + 1), w03, 1);
                a = vfmaq_laneq_f32(a, vbslq_f32(right, zero, vld1q_f32(r0 + 2)), w03, 2);
                a = vfmaq_laneq_f32(a, vbslq_f32(left, zero, vld1q_f32(r1)), w03, 3);
                a = vfmaq_laneq_f32(a, vld1q_f32(r1 + 1), w47, 0);
                a = vfmaq_laneq_f32(a, vbslq_f32(right, zero, vld1q_f32(r1 + 2)), w47, 1);
                a = vfmaq_laneq_f32(a, vbslq_f32(left, zero, vld1q_f32(r2)), w47, 2);
                a = vfmaq_laneq_f32(a, vld1q_f32(r2 + 1), w47, 3);
                a = vfmaq_f32(a, vbslq_f32(right, zero, vld1q_f32(r2 + 2)), w8);
                if (plane - i >= 4) {
                    vst1q_f32(out + i, a);
                } else {
                    vst1q_f32(sums, a);
                    for (int j = 0; j < plane - i; ++j) { out[i + j] = sums[j]; }
                }
                column = vaddq_u32(column, step);
                column = vsubq_u32(column, vandq_u32(vcgeq_u32(column, wrap), wrap));
            }
            continue;
        }
#elif defined(WHITTLE_VECTOR_F32)
        {
            /* Eight outputs at a time on generic vectors; the lanes past a row's ends are cleared
             * through their bits (a select that keeps infinities and NaNs out of the padding). */
            typedef float whittle_v8sf __attribute__((vector_size(32)));
            typedef uint32_t whittle_v8su __attribute__((vector_size(32)));
            const uint32_t wrap = (uint32_t)width, last = wrap - 1u;
            const whittle_v8su none = {0u, 0u, 0u, 0u, 0u, 0u, 0u, 0u}, step = none + 8u % wrap;
            const whittle_v8sf bias_c = (whittle_v8sf){0, 0, 0, 0, 0, 0, 0, 0} + bias[c];
            uint32_t first[8];
            whittle_v8su column;
            for (uint32_t j = 0u; j < 8u; ++j) { first[j] = j % wrap; }
            (void)memcpy(&column, first, sizeof column);
            for (int i = 0; i < plane; i += 8) {
                /* Lane masks without comparisons: column - 1 (last - column - 1) has its top bit set
                 * only where the column is the row's first (last), as columns are below 2^31. */
                const whittle_v8su keep_left = ((column - 1u) >> 31) - 1u, keep_right = ((last - column - 1u) >> 31) - 1u;
                const float *r = base + i - 1;
                whittle_v8sf a = bias_c;
                float sums[8];
                for (int kh = 0; kh < 3; ++kh, r = &r[width]) {
                    whittle_v8su left, right;
                    whittle_v8sf x0, x1, x2;
                    (void)memcpy(&left, r, sizeof left);
                    (void)memcpy(&x1, r + 1, sizeof x1);
                    (void)memcpy(&right, r + 2, sizeof right);
                    left &= keep_left;
                    right &= keep_right;
                    (void)memcpy(&x0, &left, sizeof x0);
                    (void)memcpy(&x2, &right, sizeof x2);
                    a += x0 * wc[3 * kh];
                    a += x1 * wc[3 * kh + 1];
                    a += x2 * wc[3 * kh + 2];
                }
                if (plane - i >= 8) {
                    (void)memcpy(out + i, &a, sizeof a);
                } else {
                    (void)memcpy(sums, &a, sizeof sums);
                    for (int j = 0; j < plane - i; ++j) { out[i + j] = sums[j]; }
                }
                column += step;
                /* Back by a width where the column passed the row's end (column - width >= 0). */
                column -= (((column - wrap) >> 31) - 1u) & wrap;
            }
            continue;
        }
#endif
        for (int i = 0; i < plane; i += 8) {
            for (int j = 0; j < whittle_tile_count_f32(plane - i); ++j) {
                const int col = (i + j) % width;
                const float *r = base + i + j - 1;
                float a = bias[c];
                for (int kh = 0; kh < 3; ++kh, r = &r[width]) {
                    /* The padding's zeros multiply like the interpreter's (a product of 0 is still added). */
                    a += (col > 0 ? r[0] : 0.0f) * wc[3 * kh];
                    a += r[1] * wc[3 * kh + 1];
                    a += (col < width - 1 ? r[2] : 0.0f) * wc[3 * kh + 2];
                }
                out[i + j] = a;
            }
        }
    }
}
