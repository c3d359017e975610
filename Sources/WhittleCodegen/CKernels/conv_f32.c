/* conv_f32.c: float convolution, depthwise convolution and fully connected layers (see
 * whittle_kernels.h).
 *
 * The products are register-blocked (four output channels by four pixels for convolutions, by two
 * rows for fully connected layers), so that each weight and each input loaded serves several
 * multiply-adds. Where the compiler says a fused
 * multiply-add is as fast as a multiply (FP_FAST_FMAF: Cortex-M4F/M7/M33, the Pi cores) it is used
 * explicitly, so the result does not depend on the C mode; elsewhere a * b + c rounds twice.
 * Sums run in another order than the interpreter's, so results agree within rounding, not bit
 * for bit. On the Raspberry Pi the four channels are one NEON vector.
 */
#include <math.h>
#include <string.h>
#include "whittle_kernels.h"

#if defined(__ARM_NEON) && !defined(WHITTLE_PORTABLE)
#include <arm_neon.h>
#define WHITTLE_NEON_F32 1
#endif
#if defined(__GNUC__)
#define WHITTLE_INLINE_F32 inline __attribute__((always_inline, unused))
#else
#define WHITTLE_INLINE_F32 inline
#endif

/* a * b + c, fused where the target has a fast fused multiply-add (every kernel here uses it, so
 * the compiler's C mode and contraction settings do not change the results). */
static WHITTLE_INLINE_F32 float whittle_fma_f32(float a, float b, float c) {
#if defined(FP_FAST_FMAF) || defined(__FP_FAST_FMAF)
    return fmaf(a, b, c);
#else
    return a * b + c;
#endif
}

/* Four outputs of a fully connected layer (weights `w`: for each input, the four outputs' weights
 * side by side) for `count` (1 or 2) rows whose inputs are x[k] and x[pair + k]: out[i + j *
 * out_pair] = bias[i] + sum over k, for the first `channels` (at most 4) of the four. */
static WHITTLE_INLINE_F32 void whittle_block_f32(int taps, const float *w, const float *x, int pair, int count,
                                                 const float *bias, float *out, int out_pair, int channels) {
    float a[4], b[4];
#if defined(WHITTLE_NEON_F32)
    float32x4_t va = vld1q_f32(bias), vb = va;
    if (count > 1) {
        for (int k = 0; k < taps; ++k, w = &w[4]) {
            const float32x4_t wv = vld1q_f32(w);
#if defined(__aarch64__)
            va = vfmaq_n_f32(va, wv, x[k]);
            vb = vfmaq_n_f32(vb, wv, x[pair + k]);
#elif defined(__ARM_FEATURE_FMA)
            va = vfmaq_f32(va, wv, vdupq_n_f32(x[k]));
            vb = vfmaq_f32(vb, wv, vdupq_n_f32(x[pair + k]));
#else
            va = vmlaq_n_f32(va, wv, x[k]);
            vb = vmlaq_n_f32(vb, wv, x[pair + k]);
#endif
        }
    } else {
        for (int k = 0; k < taps; ++k, w = &w[4]) {
#if defined(__aarch64__)
            va = vfmaq_n_f32(va, vld1q_f32(w), x[k]);
#elif defined(__ARM_FEATURE_FMA)
            va = vfmaq_f32(va, vld1q_f32(w), vdupq_n_f32(x[k]));
#else
            va = vmlaq_n_f32(va, vld1q_f32(w), x[k]);
#endif
        }
    }
    vst1q_f32(a, va);
    vst1q_f32(b, vb);
#else
    float a0 = bias[0], a1 = bias[1], a2 = bias[2], a3 = bias[3];
    float b0 = a0, b1 = a1, b2 = a2, b3 = a3;
    if (count > 1) {
        for (int k = 0; k < taps; ++k, w = &w[4]) {
            const float x0 = x[k], x1 = x[pair + k];
            a0 = whittle_fma_f32(w[0], x0, a0);
            a1 = whittle_fma_f32(w[1], x0, a1);
            a2 = whittle_fma_f32(w[2], x0, a2);
            a3 = whittle_fma_f32(w[3], x0, a3);
            b0 = whittle_fma_f32(w[0], x1, b0);
            b1 = whittle_fma_f32(w[1], x1, b1);
            b2 = whittle_fma_f32(w[2], x1, b2);
            b3 = whittle_fma_f32(w[3], x1, b3);
        }
    } else {
        for (int k = 0; k < taps; ++k, w = &w[4]) {
            const float x0 = x[k];
            a0 = whittle_fma_f32(w[0], x0, a0);
            a1 = whittle_fma_f32(w[1], x0, a1);
            a2 = whittle_fma_f32(w[2], x0, a2);
            a3 = whittle_fma_f32(w[3], x0, a3);
        }
    }
    a[0] = a0; a[1] = a1; a[2] = a2; a[3] = a3;
    b[0] = b0; b[1] = b1; b[2] = b2; b[3] = b3;
#endif
    for (int i = 0; i < channels; ++i) {
        out[i] = a[i];
        if (count > 1) { out[i + out_pair] = b[i]; }
    }
}

/* The taps of output pixels p .. p + count - 1 (count <= 4), interleaved: tap k of pixel j at
 * columns[4 * k + j]; taps in the padding are 0, and so are the columns of missing pixels. */
static void whittle_im2col_f32(const whittle_conv_geometry *g, const float *x, int p, int count, float *columns) {
    const int plane = g->height * g->width, taps = g->channels * g->kernel_h * g->kernel_w;
    for (int j = 0; j < 4; ++j) {
        const int q = p + j;
        const int oh = q / g->out_width, ow = q % g->out_width;
        const int ih0 = oh * g->stride_h - g->pad_top, iw0 = ow * g->stride_w - g->pad_left;
        float *column = columns + j;
        int k = 0;
        if (j >= count) {
            for (; k < taps; ++k) { column[4 * k] = 0.0f; }
        } else if (g->kernel_h == 1 && g->kernel_w == 1 && ih0 >= 0 && ih0 < g->height && iw0 >= 0 && iw0 < g->width) {
            /* Pointwise: one tap per channel, a strided gather. */
            const float *in = x + ih0 * g->width + iw0;
            for (int c = 0; c < g->channels; ++c) { column[4 * c] = in[c * plane]; }
        } else if (ih0 >= 0 && ih0 + (g->kernel_h - 1) * g->dilation_h < g->height && iw0 >= 0 &&
                   iw0 + (g->kernel_w - 1) * g->dilation_w < g->width) {
            for (int c = 0; c < g->channels; ++c) {
                for (int kh = 0; kh < g->kernel_h; ++kh) {
                    const float *row = x + c * plane + (ih0 + kh * g->dilation_h) * g->width + iw0;
                    for (int kw = 0; kw < g->kernel_w; ++kw, ++k) { column[4 * k] = row[kw * g->dilation_w]; }
                }
            }
        } else {
            for (int c = 0; c < g->channels; ++c) {
                for (int kh = 0; kh < g->kernel_h; ++kh) {
                    const int ih = ih0 + kh * g->dilation_h, inside = (int)(ih >= 0 && ih < g->height);
                    const float *row = x + c * plane + ih * g->width;
                    for (int kw = 0; kw < g->kernel_w; ++kw, ++k) {
                        const int iw = iw0 + kw * g->dilation_w;
                        column[4 * k] = inside && iw >= 0 && iw < g->width ? row[iw] : 0.0f;
                    }
                }
            }
        }
    }
}

/* Four output channels by four pixels: out[i * stride + j] = bias[i] + sum over k of w[4k + i] *
 * columns[4k + j], for i < channels and j < count. Sixteen sums stay in registers (the FPU
 * Cortex-M cores have 32 single-precision ones); every loaded weight serves four pixels and
 * every loaded tap four channels. */
static void whittle_tile_f32(int taps, const float *w, const float *columns, const float *bias, float *out, int stride,
                             int channels, int count) {
    float r[16];
#if defined(WHITTLE_NEON_F32)
    float32x4_t a0 = vld1q_f32(bias), a1 = a0, a2 = a0, a3 = a0;
    for (int k = 0; k < taps; ++k) {
        const float32x4_t wv = vld1q_f32(w + 4 * k), xv = vld1q_f32(columns + 4 * k);
#if defined(__aarch64__)
        a0 = vfmaq_laneq_f32(a0, wv, xv, 0);
        a1 = vfmaq_laneq_f32(a1, wv, xv, 1);
        a2 = vfmaq_laneq_f32(a2, wv, xv, 2);
        a3 = vfmaq_laneq_f32(a3, wv, xv, 3);
#elif defined(__ARM_FEATURE_FMA)
        a0 = vfmaq_f32(a0, wv, vdupq_lane_f32(vget_low_f32(xv), 0));
        a1 = vfmaq_f32(a1, wv, vdupq_lane_f32(vget_low_f32(xv), 1));
        a2 = vfmaq_f32(a2, wv, vdupq_lane_f32(vget_high_f32(xv), 0));
        a3 = vfmaq_f32(a3, wv, vdupq_lane_f32(vget_high_f32(xv), 1));
#else
        a0 = vmlaq_lane_f32(a0, wv, vget_low_f32(xv), 0);
        a1 = vmlaq_lane_f32(a1, wv, vget_low_f32(xv), 1);
        a2 = vmlaq_lane_f32(a2, wv, vget_high_f32(xv), 0);
        a3 = vmlaq_lane_f32(a3, wv, vget_high_f32(xv), 1);
#endif
    }
    /* r[4 * j + i]: pixel j, channel i. */
    vst1q_f32(r, a0);
    vst1q_f32(r + 4, a1);
    vst1q_f32(r + 8, a2);
    vst1q_f32(r + 12, a3);
#else
    float s00 = bias[0], s01 = bias[1], s02 = bias[2], s03 = bias[3];
    float s10 = s00, s11 = s01, s12 = s02, s13 = s03, s20 = s00, s21 = s01, s22 = s02, s23 = s03;
    float s30 = s00, s31 = s01, s32 = s02, s33 = s03;
    for (int k = 0; k < taps; ++k) {
        const float *wk = w + 4 * k, *xk = columns + 4 * k;
        const float w0 = wk[0], w1 = wk[1], w2 = wk[2], w3 = wk[3];
        const float x0 = xk[0], x1 = xk[1], x2 = xk[2], x3 = xk[3];
        s00 = whittle_fma_f32(w0, x0, s00);
        s01 = whittle_fma_f32(w1, x0, s01);
        s02 = whittle_fma_f32(w2, x0, s02);
        s03 = whittle_fma_f32(w3, x0, s03);
        s10 = whittle_fma_f32(w0, x1, s10);
        s11 = whittle_fma_f32(w1, x1, s11);
        s12 = whittle_fma_f32(w2, x1, s12);
        s13 = whittle_fma_f32(w3, x1, s13);
        s20 = whittle_fma_f32(w0, x2, s20);
        s21 = whittle_fma_f32(w1, x2, s21);
        s22 = whittle_fma_f32(w2, x2, s22);
        s23 = whittle_fma_f32(w3, x2, s23);
        s30 = whittle_fma_f32(w0, x3, s30);
        s31 = whittle_fma_f32(w1, x3, s31);
        s32 = whittle_fma_f32(w2, x3, s32);
        s33 = whittle_fma_f32(w3, x3, s33);
    }
    r[0] = s00; r[1] = s01; r[2] = s02; r[3] = s03;
    r[4] = s10; r[5] = s11; r[6] = s12; r[7] = s13;
    r[8] = s20; r[9] = s21; r[10] = s22; r[11] = s23;
    r[12] = s30; r[13] = s31; r[14] = s32; r[15] = s33;
#endif
    for (int i = 0; i < channels; ++i) {
        for (int j = 0; j < count; ++j) { out[i * stride + j] = r[4 * j + i]; }
    }
}

/* Convolution of one image (one group): y[m][oh][ow] = bias[m] + sum over the taps inside the map
 * of x * w. Weights are in the blocked layout of whittle_kernels.h; bias has one value per
 * channel of the padded count. Four pixels' taps at a time are copied into `columns` (scratch of
 * 4 * taps floats), 1x1 layers too: reading a pointwise layer's input in place (pixels side by
 * side, channels a plane apart) is what GCC 12's vectorizer turned into loads past the input. */
WHITTLE_KERNEL void whittle_conv_f32(const whittle_conv_geometry *g, int out_channels, const float *x, const float *w,
                                     const float *bias, float *y, float *columns) {
    const int taps = g->channels * g->kernel_h * g->kernel_w, pixels = g->out_height * g->out_width;
    for (int p = 0; p < pixels; p += 4) {
        const int count = pixels - p < 4 ? pixels - p : 4;
        whittle_im2col_f32(g, x, p, count, columns);
        for (int m = 0; m < out_channels; m += 4) {
            const int channels = out_channels - m < 4 ? out_channels - m : 4;
            whittle_tile_f32(taps, w + m * taps, columns, bias + m, y + m * pixels + p, pixels, channels, count);
        }
    }
}

/* Fully connected: y[r][n] = bias[n] + sum over k of x[r][k] * w[n][k] for `rows` rows of `depth`
 * inputs (weights in the blocked layout, bias padded like them). */
WHITTLE_KERNEL void whittle_fully_connected_f32(int rows, int depth, int out_features, const float *x, const float *w,
                                                const float *bias, float *y) {
    for (int r = 0; r < rows; r += 2) {
        const int count = r + 1 < rows ? (int)2 : (int)1;
        for (int n = 0; n < out_features; n += 4) {
            const int channels = out_features - n < 4 ? out_features - n : 4;
            /* Two rows are the two "pixels": their inputs are depth apart, their outputs out_features apart. */
            whittle_block_f32(depth, w + n * depth, x + r * depth, depth, count, bias + n, y + r * out_features + n,
                              out_features, channels);
        }
    }
}

/* Depthwise convolution of one image, one filter of kernel_h * kernel_w taps per channel (natural
 * order): y[c][oh][ow] = bias[c] + sum of x * w[c] over the taps inside the map. Each channel is
 * copied into `padded` (scratch, see whittle_kernels.h) inside a border of zeros, written once;
 * 3x3 windows with stride 1 compute two outputs per pass from four loads per row; with stride 2 on
 * AArch64, four per pass from de-interleaving loads (even and odd columns; the 16 spare floats
 * after the plane cover the last vector's reach). */
WHITTLE_KERNEL void whittle_depthwise_f32(const whittle_conv_geometry *g, const float *x, const float *w, const float *bias,
                                          float *y, float *padded) {
    const int taps = g->kernel_h * g->kernel_w, plane = g->height * g->width, outputs = g->out_height * g->out_width;
    const int ph = (g->out_height - 1) * g->stride_h + (g->kernel_h - 1) * g->dilation_h + 1;
    const int pw = (g->out_width - 1) * g->stride_w + (g->kernel_w - 1) * g->dilation_w + 1;
    const int rows = g->height < ph - g->pad_top ? g->height : ph - g->pad_top;
    const int columns = g->width < pw - g->pad_left ? g->width : pw - g->pad_left;
    const int three = (int)(g->kernel_h == 3 && g->kernel_w == 3 && g->dilation_h == 1 && g->dilation_w == 1 && g->stride_w == 1);
    for (int i = 0; i < ph * pw; ++i) { padded[i] = 0.0f; }
    for (int c = 0; c < g->channels; ++c) {
        const float *in = x + c * plane, *wc = w + c * taps;
        float *out = y + c * outputs;
        for (int r = 0; r < rows; ++r) {
            float *to = padded + (r + g->pad_top) * pw + g->pad_left;
            for (int q = 0; q < columns; ++q) { to[q] = in[r * g->width + q]; }
        }
#if defined(WHITTLE_NEON_F32) && defined(__aarch64__)
        if (g->kernel_h == 3 && g->kernel_w == 3 && g->dilation_h == 1 && g->dilation_w == 1 && g->stride_h == 2 && g->stride_w == 2) {
            const float32x4_t w03 = vld1q_f32(wc), w47 = vld1q_f32(wc + 4), w8 = vdupq_n_f32(wc[8]), b = vdupq_n_f32(bias[c]);
            for (int oh = 0; oh < g->out_height; ++oh) {
                const float *r0 = padded + 2 * oh * pw, *r1 = r0 + pw, *r2 = r1 + pw;
                float *o = out + oh * g->out_width;
                for (int ow = 0; ow < g->out_width; ow += 4) {
                    /* Columns 2 ow + kw of four outputs: kw 0 and 1 are the even and odd columns from
                     * 2 ow, kw 2 the even ones from 2 ow + 2; taps in order, as the scalar loops add them. */
                    const float32x4x2_t a0 = vld2q_f32(r0 + 2 * ow), c0 = vld2q_f32(r0 + 2 * ow + 2);
                    const float32x4x2_t a1 = vld2q_f32(r1 + 2 * ow), c1 = vld2q_f32(r1 + 2 * ow + 2);
                    const float32x4x2_t a2 = vld2q_f32(r2 + 2 * ow), c2 = vld2q_f32(r2 + 2 * ow + 2);
                    float32x4_t v = b;
                    float sums[4];
                    v = vfmaq_laneq_f32(v, a0.val[0], w03, 0);
                    v = vfmaq_laneq_f32(v, a0.val[1], w03, 1);
                    v = vfmaq_laneq_f32(v, c0.val[0], w03, 2);
                    v = vfmaq_laneq_f32(v, a1.val[0], w03, 3);
                    v = vfmaq_laneq_f32(v, a1.val[1], w47, 0);
                    v = vfmaq_laneq_f32(v, c1.val[0], w47, 1);
                    v = vfmaq_laneq_f32(v, a2.val[0], w47, 2);
                    v = vfmaq_laneq_f32(v, a2.val[1], w47, 3);
                    v = vfmaq_f32(v, c2.val[0], w8);
                    if (g->out_width - ow >= 4) {
                        vst1q_f32(o + ow, v);
                    } else {
                        vst1q_f32(sums, v);
                        for (int j = 0; j < g->out_width - ow; ++j) { o[ow + j] = sums[j]; }
                    }
                }
            }
            continue;
        }
#endif
        if (three != 0) {
            const float w0 = wc[0], w1 = wc[1], w2 = wc[2], w3 = wc[3], w4 = wc[4], w5 = wc[5], w6 = wc[6], w7 = wc[7], w8 = wc[8];
            for (int oh = 0; oh < g->out_height; ++oh) {
                const float *r0 = padded + oh * g->stride_h * pw, *r1 = r0 + pw, *r2 = r1 + pw;
                float *o = out + oh * g->out_width;
                int ow = 0;
                for (; ow + 2 <= g->out_width; ow += 2) {
                    float a = bias[c], b = bias[c];
                    a = whittle_fma_f32(w0, r0[ow], a);
                    b = whittle_fma_f32(w0, r0[ow + 1], b);
                    a = whittle_fma_f32(w1, r0[ow + 1], a);
                    b = whittle_fma_f32(w1, r0[ow + 2], b);
                    a = whittle_fma_f32(w2, r0[ow + 2], a);
                    b = whittle_fma_f32(w2, r0[ow + 3], b);
                    a = whittle_fma_f32(w3, r1[ow], a);
                    b = whittle_fma_f32(w3, r1[ow + 1], b);
                    a = whittle_fma_f32(w4, r1[ow + 1], a);
                    b = whittle_fma_f32(w4, r1[ow + 2], b);
                    a = whittle_fma_f32(w5, r1[ow + 2], a);
                    b = whittle_fma_f32(w5, r1[ow + 3], b);
                    a = whittle_fma_f32(w6, r2[ow], a);
                    b = whittle_fma_f32(w6, r2[ow + 1], b);
                    a = whittle_fma_f32(w7, r2[ow + 1], a);
                    b = whittle_fma_f32(w7, r2[ow + 2], b);
                    a = whittle_fma_f32(w8, r2[ow + 2], a);
                    b = whittle_fma_f32(w8, r2[ow + 3], b);
                    o[ow] = a;
                    o[ow + 1] = b;
                }
                if (ow < g->out_width) {
                    float a = bias[c];
                    a = whittle_fma_f32(w0, r0[ow], a);
                    a = whittle_fma_f32(w1, r0[ow + 1], a);
                    a = whittle_fma_f32(w2, r0[ow + 2], a);
                    a = whittle_fma_f32(w3, r1[ow], a);
                    a = whittle_fma_f32(w4, r1[ow + 1], a);
                    a = whittle_fma_f32(w5, r1[ow + 2], a);
                    a = whittle_fma_f32(w6, r2[ow], a);
                    a = whittle_fma_f32(w7, r2[ow + 1], a);
                    a = whittle_fma_f32(w8, r2[ow + 2], a);
                    o[ow] = a;
                }
            }
        } else {
            for (int oh = 0; oh < g->out_height; ++oh) {
                for (int ow = 0; ow < g->out_width; ++ow) {
                    const float *r0 = padded + oh * g->stride_h * pw + ow * g->stride_w;
                    float a = bias[c];
                    for (int kh = 0; kh < g->kernel_h; ++kh) {
                        for (int kw = 0; kw < g->kernel_w; ++kw) { a = whittle_fma_f32(wc[kh * g->kernel_w + kw], r0[kh * g->dilation_h * pw + kw * g->dilation_w], a); }
                    }
                    out[oh * g->out_width + ow] = a;
                }
            }
        }
    }
}
