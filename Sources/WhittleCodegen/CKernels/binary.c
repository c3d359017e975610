/* binary.c: 1-bit convolution and matrix products with XNOR/popcount (see whittle_kernels.h). */
#include <stddef.h>
#include "whittle_kernels.h"

#if defined(__ARM_NEON)
#include <arm_neon.h>
#endif

/* Set bits of a word, without a popcount instruction (Cortex-M has none): sums of bit pairs,
 * nibbles and bytes in parallel, then one multiply adds the four bytes. */
static uint32_t whittle_popcount32(uint32_t v) {
    v = v - ((v >> 1) & 0x55555555u);
    v = (v & 0x33333333u) + ((v >> 2) & 0x33333333u);
    return (((v + (v >> 4)) & 0x0F0F0F0Fu) * 0x01010101u) >> 24;
}

/* Bits that differ between a and b over n words (masked by `mask` when it is not null). NEON
 * counts 128 bits at a time (vcntq_u8 and pairwise widening adds); the rest word by word. */
static uint32_t whittle_mismatches(const uint32_t *a, const uint32_t *b, const uint32_t *mask, int n) {
    uint32_t total = 0;
    int i = 0;
#if defined(__ARM_NEON)
    uint32x4_t sums = vdupq_n_u32(0);
    for (; i + 4 <= n; i += 4) {
        uint32x4_t d = veorq_u32(vld1q_u32(a + i), vld1q_u32(b + i));
        if (mask != NULL) { d = vandq_u32(d, vld1q_u32(mask + i)); }
        sums = vpadalq_u16(sums, vpaddlq_u8(vcntq_u8(vreinterpretq_u8_u32(d))));
    }
    {
        const uint32x2_t half = vadd_u32(vget_low_u32(sums), vget_high_u32(sums));
        total = vget_lane_u32(vpadd_u32(half, half), 0);
    }
#endif
    for (; i < n; ++i) { total += whittle_popcount32((a[i] ^ b[i]) & (mask ? mask[i] : 0xFFFFFFFFu)); }
    return total;
}

/* Packs the signs of `channels` float planes of `pixels` values each (NCHW, one image) into
 * words per pixel: out[p * planes * words + k]. Bit set where x >= 0; with `ternary`, plane 0 has
 * x > 0 and plane 1 has x != 0 (ONNX Sign, where sign(0) = 0). */
WHITTLE_KERNEL void whittle_bitpack_f32(int channels, int pixels, int ternary, const float *x, uint32_t *out) {
    const int words = (channels + 31) / 32, stride = (ternary ? 2 : 1) * words;
    for (int p = 0; p < pixels; ++p) {
        uint32_t *o = out + p * stride;
        for (int k = 0; k < stride; ++k) { o[k] = 0; }
        for (int c = 0; c < channels; ++c) {
            const float v = x[c * pixels + p];
            const uint32_t bit = (uint32_t)1 << ((uint32_t)c % 32u);
            if (ternary != 0) {
                if (v > 0.0f) { o[c / 32] |= bit; }
                if (v != 0.0f) { o[words + c / 32] |= bit; }
            } else if (v >= 0.0f) {
                o[c / 32] |= bit;
            } else {
                /* A negative input leaves its bit clear. */
            }
        }
    }
}

/* y[m][oh][ow] = (float)dot * scale[m] + bias[m], dot = count - 2 * mismatches over the taps
 * inside the map. Inner pixels copy their window into `patch` (kernel_h * kernel_w * planes *
 * words words) once and compare it with every output channel's weights in one contiguous run;
 * pixels at the border walk their valid taps, so padding adds nothing. */
WHITTLE_KERNEL void whittle_binary_conv(const whittle_conv_geometry *g, int ternary, int out_channels, const uint32_t *x,
                                        const uint32_t *w, const float *scale, const float *bias, float *y, uint32_t *patch) {
    const int words = (g->channels + 31) / 32, planes = ternary ? 2 : 1, taps = g->kernel_h * g->kernel_w;
    const int run = taps * words, pixels = g->out_height * g->out_width;
    for (int oh = 0; oh < g->out_height; ++oh) {
        const int ih0 = oh * g->stride_h - g->pad_top;
        const int rows_inside = (int)(ih0 >= 0 && ih0 + (g->kernel_h - 1) * g->dilation_h < g->height);
        for (int ow = 0; ow < g->out_width; ++ow) {
            const int iw0 = ow * g->stride_w - g->pad_left;
            float *out = y + oh * g->out_width + ow;
            if (rows_inside && iw0 >= 0 && iw0 + (g->kernel_w - 1) * g->dilation_w < g->width) {
                uint32_t count = (uint32_t)g->channels * (uint32_t)taps;
                for (int kh = 0; kh < g->kernel_h; ++kh) {
                    for (int kw = 0; kw < g->kernel_w; ++kw) {
                        const uint32_t *src = x + ((ih0 + kh * g->dilation_h) * g->width + iw0 + kw * g->dilation_w) * planes * words;
                        for (int k = 0; k < words; ++k) {
                            patch[(kh * g->kernel_w + kw) * words + k] = src[k];
                            if (ternary) { patch[run + (kh * g->kernel_w + kw) * words + k] = src[words + k]; }
                        }
                    }
                }
                if (ternary != 0) {
                    count = 0;
                    for (int k = 0; k < run; ++k) { count += whittle_popcount32(patch[run + k]); }
                }
                for (int m = 0; m < out_channels; ++m) {
                    const uint32_t wrong = whittle_mismatches(patch, w + m * run, ternary ? patch + run : NULL, run);
                    const int32_t dot = (int32_t)count - 2 * (int32_t)wrong;
                    out[m * pixels] = (float)dot * scale[m] + bias[m];
                }
                continue;
            }
            for (int m = 0; m < out_channels; ++m) {
                int32_t dot = 0;
                for (int kh = 0; kh < g->kernel_h; ++kh) {
                    const int ih = ih0 + kh * g->dilation_h;
                    if (ih < 0 || ih >= g->height) { continue; }
                    for (int kw = 0; kw < g->kernel_w; ++kw) {
                        const int iw = iw0 + kw * g->dilation_w;
                        if (iw < 0 || iw >= g->width) { continue; }
                        const uint32_t *src = x + (ih * g->width + iw) * planes * words;
                        const uint32_t *wt = w + m * run + (kh * g->kernel_w + kw) * words;
                        if (ternary != 0) {
                            for (int k = 0; k < words; ++k) { dot += (int32_t)whittle_popcount32(src[words + k]); }
                        } else {
                            dot += g->channels;
                        }
                        dot -= 2 * (int32_t)whittle_mismatches(src, wt, ternary ? src + words : NULL, words);
                    }
                }
                out[m * pixels] = (float)dot * scale[m] + bias[m];
            }
        }
    }
}

/* Float inputs with packed ±1 weights (the weights take 1 bit instead of 32): for each output,
 * acc = sum of +x or -x by the weight's bit over channels, then kernel rows and columns, taps
 * outside the map skipped; y[m][oh][ow] = acc * scale[m] + bias[m]. x is one image, NCHW. */
WHITTLE_KERNEL void whittle_binary_weight_conv_f32(const whittle_conv_geometry *g, int out_channels, const float *x, const uint32_t *w,
                                                   const float *scale, const float *bias, float *y) {
    const int words = (g->channels + 31) / 32, taps = g->kernel_h * g->kernel_w, plane = g->height * g->width;
    for (int m = 0; m < out_channels; ++m) {
        for (int oh = 0; oh < g->out_height; ++oh) {
            for (int ow = 0; ow < g->out_width; ++ow) {
                float acc = 0.0f;
                for (int c = 0; c < g->channels; ++c) {
                    const float *in = x + c * plane;
                    for (int kh = 0; kh < g->kernel_h; ++kh) {
                        const int ih = oh * g->stride_h + kh * g->dilation_h - g->pad_top;
                        if (ih < 0 || ih >= g->height) { continue; }
                        for (int kw = 0; kw < g->kernel_w; ++kw) {
                            const int iw = ow * g->stride_w + kw * g->dilation_w - g->pad_left;
                            if (iw < 0 || iw >= g->width) { continue; }
                            const uint32_t bit = (w[(m * taps + kh * g->kernel_w + kw) * words + c / 32] >> ((uint32_t)c % 32u)) & 1u;
                            const float v = in[ih * g->width + iw];
                            acc += bit ? v : -v;
                        }
                    }
                }
                y[(m * g->out_height + oh) * g->out_width + ow] = acc * scale[m] + bias[m];
            }
        }
    }
}
