/* sparse_conv.c: convolutions with delta-row sparse weights (see whittle_kernels.h), NCHW. */
#include "whittle_kernels.h"

/* The outputs o in [*lo, *hi) whose input o * stride + offset lies inside [0, size). */
static void whittle_conv_window(int offset, int size, int stride, int outputs, int *lo, int *hi) {
    const int reach = size - offset;
    int first = offset < 0 ? (-offset + stride - 1) / stride : 0;
    int last = reach <= 0 ? 0 : (reach + stride - 1) / stride;
    if (last > outputs) { last = outputs; }
    if (first > last) { first = last; }
    *lo = first;
    *hi = last;
}

/* Each tap adds its weight times a shifted window of one input plane to the whole output plane:
 * the inner loop runs over contiguous outputs, and a pruned tap costs nothing. */
WHITTLE_KERNEL void whittle_sparse_conv_plane_f32(const whittle_conv_geometry *g, int count, const uint8_t *delta,
                                                  const float *values, const float *in, float *out) {
    const int taps = g->kernel_h * g->kernel_w;
    int t = 0;
    for (int k = 0; k < count; ++k) {
        const float v = values[k];
        int oh_lo, oh_hi, ow_lo, ow_hi;
        t += (int)delta[k];
        if (v == 0.0f) { continue; /* a filler entry */ }
        const int c = t / taps, kh = t % taps / g->kernel_w, kw = t % g->kernel_w;
        const int row0 = kh * g->dilation_h - g->pad_top, col0 = kw * g->dilation_w - g->pad_left;
        whittle_conv_window(row0, g->height, g->stride_h, g->out_height, &oh_lo, &oh_hi);
        whittle_conv_window(col0, g->width, g->stride_w, g->out_width, &ow_lo, &ow_hi);
        const float *plane = in + c * g->height * g->width;
        for (int oh = oh_lo; oh < oh_hi; ++oh) {
            const float *src = plane + (oh * g->stride_h + row0) * g->width;
            float *dst = out + oh * g->out_width;
            if (g->stride_w == 1) {
                for (int ow = ow_lo; ow < ow_hi; ++ow) { dst[ow] += v * src[ow + col0]; }
            } else {
                for (int ow = ow_lo; ow < ow_hi; ++ow) { dst[ow] += v * src[ow * g->stride_w + col0]; }
            }
        }
    }
}

/* Where tap t (flattened c, kh, kw) of a channel reads for output row oh and the outputs of the
 * stretch [ow_begin, ow_begin + ow_count) it reaches: the row's first element (`row`, so that
 * output ow reads row[ow * stride_w + *col0]) and [*lo, *hi). Returns 0 when the tap falls in
 * the padding for this row. */
static int whittle_conv_tap(const whittle_conv_geometry *g, int t, int oh, int ow_begin, int ow_count, int *row, int *col0, int *lo,
                            int *hi) {
    const int taps = g->kernel_h * g->kernel_w;
    const int c = t / taps, kh = t % taps / g->kernel_w, kw = t % g->kernel_w;
    const int ih = oh * g->stride_h + kh * g->dilation_h - g->pad_top;
    if (ih < 0 || ih >= g->height) { return 0; }
    *col0 = kw * g->dilation_w - g->pad_left;
    whittle_conv_window(*col0, g->width, g->stride_w, g->out_width, lo, hi);
    if (*lo < ow_begin) { *lo = ow_begin; }
    if (*hi > ow_begin + ow_count) { *hi = ow_begin + ow_count; }
    *row = (c * g->height + ih) * g->width;
    return 1;
}

/* A stretch of one output row at a time keeps the int32 accumulators in a small buffer. A 1x1
 * convolution without stride or padding is best described with its map flattened into one row
 * (height 1, width = pixels), so that each stored weight is decoded once per stretch. The int8
 * and uint8 forms differ only in the input type. */
WHITTLE_KERNEL void whittle_sparse_conv_row_s8(const whittle_conv_geometry *g, int oh, int ow_begin, int ow_count, int count,
                                               const uint8_t *delta, const int8_t *values, const int8_t *in, int32_t x_zero,
                                               int32_t *acc) {
    int t = 0, row, col0, lo, hi;
    for (int k = 0; k < count; ++k) {
        const int32_t v = values[k];
        t += (int)delta[k];
        if (v == 0 || !whittle_conv_tap(g, t, oh, ow_begin, ow_count, &row, &col0, &lo, &hi)) { continue; }
        for (int ow = lo; ow < hi; ++ow) { acc[ow - ow_begin] += ((int32_t)in[row + ow * g->stride_w + col0] - x_zero) * v; }
    }
}

WHITTLE_KERNEL void whittle_sparse_conv_row_u8(const whittle_conv_geometry *g, int oh, int ow_begin, int ow_count, int count,
                                               const uint8_t *delta, const int8_t *values, const uint8_t *in, int32_t x_zero,
                                               int32_t *acc) {
    int t = 0, row, col0, lo, hi;
    for (int k = 0; k < count; ++k) {
        const int32_t v = values[k];
        t += (int)delta[k];
        if (v == 0 || !whittle_conv_tap(g, t, oh, ow_begin, ow_count, &row, &col0, &lo, &hi)) { continue; }
        for (int ow = lo; ow < hi; ++ow) { acc[ow - ow_begin] += ((int32_t)in[row + ow * g->stride_w + col0] - x_zero) * v; }
    }
}
