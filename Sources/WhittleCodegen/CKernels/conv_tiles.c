/* conv_tiles.c: the taps of the tiled convolutions (conv_s8_tiles.c, conv_f32_tiles.c), which both
 * read each tap of eight output pixels as eight consecutive elements at base + offset.
 */
#include <string.h>
#include "whittle_kernels.h"

/* Fills a tiled convolution's tap offsets and chooses how it reads its input; see whittle_kernels.h. */
WHITTLE_KERNEL int whittle_tile_taps(const whittle_conv_geometry *g, const void *x, int element, int fill, int32_t *in_place,
                                     int32_t *packed, void *work) {
    const int k = g->channels * g->kernel_h * g->kernel_w, plane = g->height * g->width;
    const int pointwise = (int)(g->kernel_h == 1 && g->kernel_w == 1 && g->pad_top == 0 && g->pad_left == 0 &&
                                g->out_height == g->height && g->out_width == g->width);
    for (int t = 0; t < k; ++t) {
        packed[t] = 8 * t;
        in_place[t] = t * plane;
    }
    /* Rows of a multiple of 8 or at least 16 outputs waste few lanes of a row's last tile. */
    if (g->stride_h == 1 && g->stride_w == 1 && !pointwise && (g->out_width % 8 == 0 || g->out_width >= 16)) {
        /* Every window inside a padded copy: tap (c, kh, kw) of output (oh, ow) is element
         * c * rows * pitch + (oh + kh * dilation_h) * pitch + ow + kw * dilation_w of `work`, so each
         * tile of eight outputs of a row reads its taps in place (a row's last tile reads into the
         * spare columns; its extra sums are dropped). */
        const int pitch = (g->out_width + 7) / 8 * 8 + (g->kernel_w - 1) * g->dilation_w;
        const int rows = g->out_height + (g->kernel_h - 1) * g->dilation_h;
        const int first = g->pad_left > 0 ? 0 : -g->pad_left;
        const int last = g->width < pitch - g->pad_left ? g->width : pitch - g->pad_left;
        unsigned char *to = (unsigned char *)work;
        const unsigned char *from = (const unsigned char *)x;
        int t = 0;
        (void)memset(work, fill & 255, (size_t)g->channels * (size_t)rows * (size_t)pitch * (size_t)element);
        for (int c = 0; c < g->channels; ++c) {
            for (int r = 0; r < g->height && last > first; ++r) {
                if (r + g->pad_top >= rows) { break; }
                const int at = (c * rows + r + g->pad_top) * pitch + g->pad_left + first, from_at = c * plane + r * g->width + first;
                const int run = last - first;
                (void)memcpy(to + (size_t)at * (size_t)element, from + (size_t)from_at * (size_t)element, (size_t)run * (size_t)element);
            }
            for (int kh = 0; kh < g->kernel_h; ++kh) {
                for (int kw = 0; kw < g->kernel_w; ++kw) { in_place[t++] = (c * rows + kh * g->dilation_h) * pitch + kw * g->dilation_w; }
            }
        }
        return pitch;
    }
    return pointwise && g->stride_h == 1 && g->stride_w == 1 ? 0 : -1;
}
