/* conv_s8.c: int8 convolution and matrix products (see whittle_kernels.h).
 *
 * On cores with the Arm DSP extension (Cortex-M4/M7/M33, __ARM_FEATURE_DSP) the inner loops use
 * SMLAD, two 16-bit multiply-accumulates per instruction; elsewhere (or with WHITTLE_PORTABLE)
 * the portable loops compute the same integer sums, so both give identical outputs.
 */
#include <float.h>
#include <math.h>
#include <string.h>
#include "whittle_kernels.h"

#if defined(__ARM_FEATURE_DSP) && defined(__ARM_FEATURE_SIMD32) && !defined(__ARM_BIG_ENDIAN) && !defined(WHITTLE_PORTABLE)
#include <arm_acle.h>
#define WHITTLE_DSP 1
#endif
#if defined(__GNUC__)
#define WHITTLE_INLINE inline __attribute__((always_inline))
#else
#define WHITTLE_INLINE inline
#endif

/* The integer-only requantization of acc for output channel m (cores without an FPU). */
WHITTLE_KERNEL int32_t whittle_requant_integer(const whittle_requant *rq, int m, int32_t acc) {
    int64_t q = (int64_t)whittle_requantize(acc, rq->mantissa[m], rq->exponent[m]) + rq->zero;
    if (q < rq->low) q = rq->low;
    if (q > rq->high) q = rq->high;
    return (int32_t)q;
}

/* rintf((float)acc * multiplier[m]) + zero, saturated to [low, high]: the interpreter's
 * requantization, bit for bit. Rounding half to even is done by adding and removing 1.5 * 2^23
 * (float32 addition rounds to nearest even and leaves no fraction bits), which needs |v| <= 2^22
 * and float32 evaluation (FLT_EVAL_METHOD 0, as on Arm and x86-64; elsewhere rintf does it).
 * When the compiler proved |acc * multiplier| small for every reachable acc (rq->bounded), the
 * value is rounded first and saturated as an integer; otherwise it is saturated in float first,
 * which gives the same result (rounding is monotonic and the bounds are integers). Generated
 * models turn off multiply-add contraction, so the product is rounded to float32 before the
 * addition as in the interpreter. Models for cores without an FPU define WHITTLE_INTEGER_REQUANT.
 * Inlined: it runs once per output, in the innermost loops of the kernels below. */
static WHITTLE_INLINE int32_t whittle_requant_value(const whittle_requant *rq, int m, int32_t acc) {
#if !defined(WHITTLE_INTEGER_REQUANT)
    if (rq->multiplier) {
        float v = (float)acc * rq->multiplier[m];
        int32_t q;
        if (!rq->bounded) {
            const float low = (float)(rq->low - rq->zero), high = (float)(rq->high - rq->zero);
            if (v < low) v = low;
            if (v > high) v = high;
        }
#if defined(FLT_EVAL_METHOD) && FLT_EVAL_METHOD == 0
        v = (v + 12582912.0f) - 12582912.0f;
#else
        v = rintf(v);
#endif
        q = (int32_t)v + rq->zero;
        return q < rq->low ? rq->low : q > rq->high ? rq->high : q;
    }
#endif
    return whittle_requant_integer(rq, m, acc);
}

/* Stores output i of an int8 or uint8 tensor (rq->out_unsigned). */
static WHITTLE_INLINE void whittle_store8(const whittle_requant *rq, void *y, int i, int32_t v) {
    if (rq->out_unsigned) {
        ((uint8_t *)y)[i] = (uint8_t)v;
    } else {
        ((int8_t *)y)[i] = (int8_t)v;
    }
}

/* Tap i of an int8 or uint8 map. */
static int32_t whittle_tap8(const void *x, int x_unsigned, int i) {
    return x_unsigned ? (int32_t)((const uint8_t *)x)[i] : (int32_t)((const int8_t *)x)[i];
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
    int k = 0;
    if (g->kernel_h == 1 && g->kernel_w == 1 && ih0 >= 0 && ih0 < g->height && iw0 >= 0 && iw0 < g->width) {
        /* Pointwise: one tap per channel, a strided gather. */
        const int at = ih0 * g->width + iw0;
        if (x_unsigned) {
            const uint8_t *in = (const uint8_t *)x + at;
            for (; k + 4 <= g->channels; k += 4, in += 4 * plane) {
                int16_t *to = column + 2 * k;
                to[0] = (int16_t)(in[0] - x_zero);
                to[1] = (int16_t)(in[plane] - x_zero);
                to[2] = (int16_t)(in[2 * plane] - x_zero);
                to[3] = (int16_t)(in[3 * plane] - x_zero);
            }
            for (; k < g->channels; ++k, in += plane) column[2 * (k & ~3) + (k & 3)] = (int16_t)(in[0] - x_zero);
        } else {
            const int8_t *in = (const int8_t *)x + at;
            for (; k + 4 <= g->channels; k += 4, in += 4 * plane) {
                int16_t *to = column + 2 * k;
                to[0] = (int16_t)(in[0] - x_zero);
                to[1] = (int16_t)(in[plane] - x_zero);
                to[2] = (int16_t)(in[2 * plane] - x_zero);
                to[3] = (int16_t)(in[3 * plane] - x_zero);
            }
            for (; k < g->channels; ++k, in += plane) column[2 * (k & ~3) + (k & 3)] = (int16_t)(in[0] - x_zero);
        }
    } else {
        for (int c = 0; c < g->channels; ++c) {
            for (int kh = 0; kh < g->kernel_h; ++kh) {
                const int ih = ih0 + kh * g->dilation_h;
                const int row = c * plane + ih * g->width, inside = ih >= 0 && ih < g->height;
                for (int kw = 0; kw < g->kernel_w; ++kw, ++k) {
                    const int iw = iw0 + kw * g->dilation_w;
                    column[2 * (k & ~3) + (k & 3)] =
                        (int16_t)(inside && iw >= 0 && iw < g->width ? whittle_tap8(x, x_unsigned, row + iw) - x_zero : 0);
                }
            }
        }
    }
    for (; k < k_padded; ++k) column[2 * (k & ~3) + (k & 3)] = 0;
}

/* y[m * y_stride + j] (int8 or uint8, as rq says) for output channels m < out_channels and the
 * `count` (1 or 2) columns j of the interleaved pair `columns`. Weights are in the paired-row
 * layout of whittle_kernels.h: for each pair of channels, four taps of the first channel then
 * four of the second, each four in the order 0, 2, 1, 3, so that one SXTB16 yields taps 0 and 1
 * and one SXTB16 of the word rotated by 8 yields taps 2 and 3. Two channels by two columns per
 * pass: every weight word and column word loaded serves two multiply-accumulates. */
static void whittle_gemm_s8(int out_channels, int k_padded, const int8_t *w, const int16_t *columns, int count,
                            const int32_t *bias, const whittle_requant *requant, void *y, int y_stride) {
    /* A local copy: stores through y (a character type) could otherwise change *requant for all
     * the compiler knows, and every output would reload it. */
    const whittle_requant local = *requant, *rq = &local;
    int m = 0;
    for (; m + 2 <= out_channels; m += 2) {
        const int8_t *pw = w + m * k_padded;
        const int16_t *pc = columns;
        int32_t a00 = bias[m], a01 = bias[m], a10 = bias[m + 1], a11 = bias[m + 1];
        for (int i = k_padded / 4; i > 0; --i, pw += 8, pc += 8) {
#if defined(WHITTLE_DSP)
            /* memcpy loads a word from any address (the M4/M7/M33 load words unaligned). */
            int32_t wa, wb, x0l, x0h, x1l, x1h;
            memcpy(&wa, pw, 4);
            memcpy(&wb, pw + 4, 4);
            memcpy(&x0l, pc, 4);
            memcpy(&x0h, pc + 2, 4);
            memcpy(&x1l, pc + 4, 4);
            memcpy(&x1h, pc + 6, 4);
            {
                const int32_t wa01 = __sxtb16(wa), wa23 = __sxtb16((int32_t)(((uint32_t)wa >> 8) | ((uint32_t)wa << 24)));
                const int32_t wb01 = __sxtb16(wb), wb23 = __sxtb16((int32_t)(((uint32_t)wb >> 8) | ((uint32_t)wb << 24)));
                a00 = __smlad(wa01, x0l, a00);
                a00 = __smlad(wa23, x0h, a00);
                a01 = __smlad(wa01, x1l, a01);
                a01 = __smlad(wa23, x1h, a01);
                a10 = __smlad(wb01, x0l, a10);
                a10 = __smlad(wb23, x0h, a10);
                a11 = __smlad(wb01, x1l, a11);
                a11 = __smlad(wb23, x1h, a11);
            }
#else
            a00 += pw[0] * pc[0] + pw[2] * pc[1] + pw[1] * pc[2] + pw[3] * pc[3];
            a01 += pw[0] * pc[4] + pw[2] * pc[5] + pw[1] * pc[6] + pw[3] * pc[7];
            a10 += pw[4] * pc[0] + pw[6] * pc[1] + pw[5] * pc[2] + pw[7] * pc[3];
            a11 += pw[4] * pc[4] + pw[6] * pc[5] + pw[5] * pc[6] + pw[7] * pc[7];
#endif
        }
        whittle_store8(rq, y, m * y_stride, whittle_requant_value(rq, m, a00));
        whittle_store8(rq, y, (m + 1) * y_stride, whittle_requant_value(rq, m + 1, a10));
        if (count > 1) {
            whittle_store8(rq, y, m * y_stride + 1, whittle_requant_value(rq, m, a01));
            whittle_store8(rq, y, (m + 1) * y_stride + 1, whittle_requant_value(rq, m + 1, a11));
        }
    }
    if (m < out_channels) {
        /* A last odd channel: its groups of four follow each other. */
        const int8_t *pw = w + m * k_padded;
        const int16_t *pc = columns;
        int32_t a0 = bias[m], a1 = bias[m];
        for (int i = k_padded / 4; i > 0; --i, pw += 4, pc += 8) {
            a0 += pw[0] * pc[0] + pw[2] * pc[1] + pw[1] * pc[2] + pw[3] * pc[3];
            a1 += pw[0] * pc[4] + pw[2] * pc[5] + pw[1] * pc[6] + pw[3] * pc[7];
        }
        whittle_store8(rq, y, m * y_stride, whittle_requant_value(rq, m, a0));
        if (count > 1) whittle_store8(rq, y, m * y_stride + 1, whittle_requant_value(rq, m, a1));
    }
}

/* Convolution of one image (one group; x and y int8 or uint8): y[m][oh][ow] = requant(bias[m] +
 * sum over taps of (x - x_zero) * w). Two output pixels at a time are copied into `columns`
 * (scratch of 2 * k_padded int16, k_padded = channels * kernel_h * kernel_w rounded up to a
 * multiple of 4) and multiplied with every output channel's weights. */
WHITTLE_KERNEL void whittle_conv_s8(const whittle_conv_geometry *g, int out_channels, const void *x, int x_unsigned,
                                    int32_t x_zero, const int8_t *w, const int32_t *bias, const whittle_requant *rq, void *y,
                                    int16_t *columns) {
    const int k_padded = (g->channels * g->kernel_h * g->kernel_w + 3) / 4 * 4;
    const int pixels = g->out_height * g->out_width;
    for (int p = 0; p < pixels; p += 2) {
        const int count = p + 1 < pixels ? 2 : 1;
        whittle_im2col8(g, x, x_unsigned, x_zero, p, columns, 0, k_padded);
        if (count > 1) {
            whittle_im2col8(g, x, x_unsigned, x_zero, p + 1, columns, 1, k_padded);
        } else {
            for (int k = 0; k < k_padded; ++k) columns[2 * (k & ~3) + 4 + (k & 3)] = 0;
        }
        whittle_gemm_s8(out_channels, k_padded, w, columns, count, bias, rq,
                        rq->out_unsigned ? (void *)((uint8_t *)y + p) : (void *)((int8_t *)y + p), pixels);
    }
}

/* Fully connected (x and y int8 or uint8): y[r][n] = requant(bias[n] + sum over k of (x[r][k] -
 * x_zero) * w[n][k]) for `rows` rows of `depth` inputs (weights in the paired-row layout,
 * k_padded = depth rounded up to a multiple of 4); `columns` is scratch of 2 * k_padded int16. */
WHITTLE_KERNEL void whittle_fully_connected_s8(int rows, int depth, int out_features, const void *x, int x_unsigned,
                                               int32_t x_zero, const int8_t *w, const int32_t *bias, const whittle_requant *rq,
                                               void *y, int16_t *columns) {
    const int k_padded = (depth + 3) / 4 * 4;
    for (int r = 0; r < rows; ++r) {
        for (int k = 0; k < k_padded; ++k) {
            columns[2 * (k & ~3) + (k & 3)] = (int16_t)(k < depth ? whittle_tap8(x, x_unsigned, r * depth + k) - x_zero : 0);
            columns[2 * (k & ~3) + 4 + (k & 3)] = 0;
        }
        whittle_gemm_s8(out_features, k_padded, w, columns, 1, bias, rq,
                        rq->out_unsigned ? (void *)((uint8_t *)y + r * out_features) : (void *)((int8_t *)y + r * out_features), 1);
    }
}

/* Depthwise convolution of one int8 image (int8 output), one filter per channel (g->channels
 * channels): y[c][oh][ow] = requant(bias[c] + sum of (x - x_zero) * w[c] over the taps inside the
 * map). Each channel is first copied into `padded` (scratch of padded_h * padded_w bytes, the
 * rows and columns the windows reach, see whittle_kernels.h) with x_zero around it; then every
 * window lies inside and sum((x - x_zero) * w) = sum(x * w) + inner_bias[c], inner_bias[c] =
 * bias[c] - x_zero * sum(w[c]) fixed at compile time, exactly. 3x3 windows with stride 1 compute
 * two outputs at a time with SMLAD where the DSP extension is present. */
WHITTLE_KERNEL void whittle_depthwise_s8(const whittle_conv_geometry *g, const int8_t *x, int32_t x_zero, const int8_t *w,
                                         const int32_t *inner_bias, const whittle_requant *requant, int8_t *y, int8_t *padded) {
    const whittle_requant local = *requant, *rq = &local;
    const int taps = g->kernel_h * g->kernel_w, plane = g->height * g->width;
    const int ph = (g->out_height - 1) * g->stride_h + (g->kernel_h - 1) * g->dilation_h + 1;
    const int pw = (g->out_width - 1) * g->stride_w + (g->kernel_w - 1) * g->dilation_w + 1;
    const int three = g->kernel_h == 3 && g->kernel_w == 3 && g->dilation_h == 1 && g->dilation_w == 1;
    for (int c = 0; c < g->channels; ++c) {
        const int8_t *in = x + c * plane, *wc = w + c * taps;
        int8_t *out = y + c * g->out_height * g->out_width;
        for (int r = 0; r < ph; ++r) {
            const int ih = r - g->pad_top;
            int8_t *to = padded + r * pw;
            if (ih < 0 || ih >= g->height) {
                memset(to, (unsigned char)x_zero, (size_t)pw);
            } else {
                /* Columns left of the map, the map's row (as far as the windows reach), the rest. */
                const int left = g->pad_left < pw ? g->pad_left : pw;
                const int inside = g->width < pw - left ? g->width : pw - left;
                memset(to, (unsigned char)x_zero, (size_t)left);
                memcpy(to + left, in + ih * g->width, (size_t)inside);
                memset(to + left + inside, (unsigned char)x_zero, (size_t)(pw - left - inside));
            }
        }
        for (int oh = 0; oh < g->out_height; ++oh) {
            const int8_t *r0 = padded + oh * g->stride_h * pw;
            int ow = 0;
            if (three) {
                const int32_t w0 = wc[0], w1 = wc[1], w2 = wc[2], w3 = wc[3], w4 = wc[4], w5 = wc[5], w6 = wc[6], w7 = wc[7], w8 = wc[8];
                const int8_t *r1 = r0 + pw, *r2 = r1 + pw;
#if defined(WHITTLE_DSP)
                if (g->stride_w == 1) {
                    /* Outputs ow and ow + 1 read x[0..3] of each row: SXTB16 gives (x0, x2) and (x1, x3). */
                    const int32_t k02[3] = {(int32_t)((uint32_t)(w0 & 0xFFFF) | ((uint32_t)w2 << 16)),
                                            (int32_t)((uint32_t)(w3 & 0xFFFF) | ((uint32_t)w5 << 16)),
                                            (int32_t)((uint32_t)(w6 & 0xFFFF) | ((uint32_t)w8 << 16))};
                    const int32_t k1[3] = {w1, w4, w7};
                    const int8_t *rows[3];
                    rows[0] = r0;
                    rows[1] = r1;
                    rows[2] = r2;
                    for (; ow + 2 <= g->out_width; ow += 2) {
                        int32_t a0 = inner_bias[c], a1 = inner_bias[c];
                        for (int k = 0; k < 3; ++k) {
                            int32_t v;
                            memcpy(&v, rows[k] + ow, 4);
                            {
                                const int32_t x02 = __sxtb16(v), x13 = __sxtb16((int32_t)(((uint32_t)v >> 8) | ((uint32_t)v << 24)));
                                a0 = __smlad(x02, k02[k], a0);
                                a0 = __smlabb(x13, k1[k], a0);
                                a1 = __smlad(x13, k02[k], a1);
                                a1 = __smlatb(x02, k1[k], a1);
                            }
                        }
                        out[oh * g->out_width + ow] = (int8_t)whittle_requant_value(rq, c, a0);
                        out[oh * g->out_width + ow + 1] = (int8_t)whittle_requant_value(rq, c, a1);
                    }
                }
#endif
                for (; ow < g->out_width; ++ow) {
                    const int at = ow * g->stride_w;
                    int32_t acc = inner_bias[c];
                    acc += r0[at] * w0 + r0[at + 1] * w1 + r0[at + 2] * w2;
                    acc += r1[at] * w3 + r1[at + 1] * w4 + r1[at + 2] * w5;
                    acc += r2[at] * w6 + r2[at + 1] * w7 + r2[at + 2] * w8;
                    out[oh * g->out_width + ow] = (int8_t)whittle_requant_value(rq, c, acc);
                }
            } else {
                for (; ow < g->out_width; ++ow) {
                    int32_t acc = inner_bias[c];
                    for (int kh = 0; kh < g->kernel_h; ++kh) {
                        const int8_t *row = r0 + kh * g->dilation_h * pw + ow * g->stride_w;
                        for (int kw = 0; kw < g->kernel_w; ++kw) acc += row[kw * g->dilation_w] * wc[kh * g->kernel_w + kw];
                    }
                    out[oh * g->out_width + ow] = (int8_t)whittle_requant_value(rq, c, acc);
                }
            }
        }
    }
}
