/* kernel_tests.c: the kernel library tested on its own, against plain dense loops.
 *
 * Built with every compiler Whittle targets (host gcc/clang under sanitizers, the Raspberry Pi
 * cross compilers under qemu-user, arm-none-eabi-gcc under qemu-system-arm with semihosting);
 * prints one line per failure and a closing "kernels: N passed, M failed" line, and exits with
 * the number of failures. REQUANTIZE_CASES sets how many random requantizations are checked.
 */
#if defined(__linux__) && !defined(WHITTLE_SEMIHOSTING)
#define _DEFAULT_SOURCE 1
#define WHITTLE_GUARD_PAGE 1
#endif
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "whittle_kernels.h"
#if defined(WHITTLE_GUARD_PAGE)
#include <sys/mman.h>
#endif

#ifdef WHITTLE_SEMIHOSTING
#include "semihost.h"
static void put(const char *s) { sh_puts(s); }
static void put_int(long v) { sh_put_int(v); }
#else
#include <stdio.h>
static void put(const char *s) { fputs(s, stdout); }
static void put_int(long v) { printf("%ld", v); }
#endif

#ifndef REQUANTIZE_CASES
#define REQUANTIZE_CASES 2000000L
#endif

static long passed, failed;
static uint32_t state = 12345u;

static uint32_t next(void) {
    state = state * 1664525u + 1013904223u;
    return state;
}

static void check(int ok, const char *what, long detail) {
    if (ok) {
        ++passed;
        return;
    }
    if (++failed <= 20) {
        put("FAIL ");
        put(what);
        put(" ");
        put_int(detail);
        put("\n");
    }
}

/* ---- delta-row encoding, as the compiler writes it ---------------------------------------- */

#define MAX_ENTRIES 4096
static uint16_t counts[64];
static uint8_t deltas[MAX_ENTRIES];
static float fvalues[MAX_ENTRIES];
static int8_t qvalues[MAX_ENTRIES];

/* Encodes the nonzeros of a rows x columns matrix (float or int8); returns the entries written. */
static int encode(int rows, int columns, const float *fw, const int8_t *qw) {
    int n = 0;
    for (int r = 0; r < rows; ++r) {
        int previous = 0, start = n;
        for (int c = 0; c < columns; ++c) {
            const int nonzero = fw ? fw[r * columns + c] != 0.0f : qw[r * columns + c] != 0;
            if (!nonzero) continue;
            while (c - previous > 255) { /* fillers bridge long gaps */
                deltas[n] = 255;
                fvalues[n] = 0.0f;
                qvalues[n] = 0;
                previous += 255;
                ++n;
            }
            deltas[n] = (uint8_t)(c - previous);
            fvalues[n] = fw ? fw[r * columns + c] : 0.0f;
            qvalues[n] = qw ? qw[r * columns + c] : 0;
            previous = c;
            ++n;
        }
        counts[r] = (uint16_t)(n - start);
    }
    return n;
}

static float random_float(void) { return (float)((int32_t)(next() >> 8) - (1 << 23)) / (float)(1 << 23); }

/* Keeps an entry with probability percent/100. */
static int keep(int percent) { return (int)(next() % 100u) < percent; }

static int close_enough(float a, float b) { return fabsf(a - b) <= 1e-5f * (fabsf(b) > 1.0f ? fabsf(b) : 1.0f); }

/* ---- requantization ------------------------------------------------------------------------ */

static void test_requantize(void) {
    long bad = 0;
    for (long i = 0; i < REQUANTIZE_CASES; ++i) {
        float m, expected;
        uint32_t bits = next();
        int64_t acc = (int32_t)(bits >> 1) >> (int)(bits % 24u);
        if (bits & 1u) acc = -acc;
        /* every other case a sum of 16-bit activations beyond int32 (up to 2^42) */
        if (i & 1) acc *= (int64_t)1 << (next() % 11u);
        bits = next();
        /* multipliers from 2^-30 to 2^4, the range requantization uses */
        bits = (uint32_t)(97 + bits % 34u) << 23 | ((bits >> 7) & 0x7FFFFFu);
        memcpy(&m, &bits, sizeof m);
        expected = rintf((float)acc * m);
        if (fabsf(expected) < 2147483520.0f &&
            (float)whittle_requantize(acc, (bits & 0x7FFFFFu) | 0x800000u, (int)((bits >> 23) & 0xFFu) - 150) != expected) {
            ++bad;
        }
    }
    check(bad == 0, "whittle_requantize differs from float32 arithmetic in cases:", bad);
}

/* ---- sparse matrix-vector products --------------------------------------------------------- */

static float fmatrix[4 * 600];
static int8_t qmatrix[4 * 600];
static float fx[600], fy[4];
static int8_t sx[600];
static uint8_t ux[600];
static int32_t acc[4];

static void test_gemv(int rows, int columns, int percent) {
    for (int i = 0; i < rows * columns; ++i) {
        const int on = keep(percent);
        fmatrix[i] = on ? random_float() : 0.0f;
        qmatrix[i] = on ? (int8_t)(next() % 255u - 127) : 0;
    }
    for (int c = 0; c < columns; ++c) {
        fx[c] = random_float();
        sx[c] = (int8_t)(next() % 256u - 128);
        ux[c] = (uint8_t)(next() % 256u);
    }
    encode(rows, columns, fmatrix, NULL);
    whittle_sparse_gemv_f32(rows, counts, deltas, fvalues, fx, fy);
    for (int r = 0; r < rows; ++r) {
        float want = 0.0f;
        for (int c = 0; c < columns; ++c) want += fmatrix[r * columns + c] * fx[c];
        check(close_enough(fy[r], want), "whittle_sparse_gemv_f32 row", r);
    }
    encode(rows, columns, NULL, qmatrix);
    for (int pass = 0; pass < 2; ++pass) {
        const int32_t zero = pass ? 128 - 3 : -5;
        for (int r = 0; r < rows; ++r) acc[r] = 1000 * r - 77;
        if (pass) {
            whittle_sparse_gemv_u8(rows, counts, deltas, qvalues, ux, zero, acc);
        } else {
            whittle_sparse_gemv_s8(rows, counts, deltas, qvalues, sx, zero, acc);
        }
        for (int r = 0; r < rows; ++r) {
            int32_t want = 1000 * r - 77;
            for (int c = 0; c < columns; ++c) want += ((pass ? (int32_t)ux[c] : (int32_t)sx[c]) - zero) * qmatrix[r * columns + c];
            check(acc[r] == want, pass ? "whittle_sparse_gemv_u8 row" : "whittle_sparse_gemv_s8 row", r);
        }
    }
}

/* ---- sparse convolutions ------------------------------------------------------------------- */

static float fin[3 * 11 * 11], fout[11 * 11], fref[11 * 11];
static int8_t sin8[3 * 11 * 11];
static uint8_t uin8[3 * 11 * 11];
static float fkernel[3 * 5 * 5];
static int8_t qkernel[3 * 5 * 5];
static int32_t row[11], row_ref[11];

/* The input element a tap reads for output (oh, ow), or -1 in the padding. */
static int tap_index(const whittle_conv_geometry *g, int c, int kh, int kw, int oh, int ow) {
    const int ih = oh * g->stride_h + kh * g->dilation_h - g->pad_top, iw = ow * g->stride_w + kw * g->dilation_w - g->pad_left;
    if (ih < 0 || ih >= g->height || iw < 0 || iw >= g->width) return -1;
    return (c * g->height + ih) * g->width + iw;
}

static void test_conv(int channels, int size, int kernel, int stride, int dilation, int pad, int percent) {
    whittle_conv_geometry g;
    g.channels = channels;
    g.height = size;
    g.width = size - 1; /* non-square maps */
    g.kernel_h = kernel;
    g.kernel_w = kernel;
    g.stride_h = g.stride_w = stride;
    g.dilation_h = g.dilation_w = dilation;
    g.pad_top = g.pad_left = pad;
    g.out_height = (g.height + 2 * pad - dilation * (kernel - 1) - 1) / stride + 1;
    g.out_width = (g.width + 2 * pad - dilation * (kernel - 1) - 1) / stride + 1;
    const int taps = channels * kernel * kernel, pixels = g.out_height * g.out_width;
    for (int i = 0; i < channels * g.height * g.width; ++i) {
        fin[i] = random_float();
        sin8[i] = (int8_t)(next() % 256u - 128);
        uin8[i] = (uint8_t)(next() % 256u);
    }
    for (int t = 0; t < taps; ++t) {
        const int on = keep(percent);
        fkernel[t] = on ? random_float() : 0.0f;
        qkernel[t] = on ? (int8_t)(next() % 255u - 127) : 0;
    }
    const int entries = encode(1, taps, fkernel, NULL);
    for (int p = 0; p < pixels; ++p) fout[p] = fref[p] = 0.25f;
    whittle_sparse_conv_plane_f32(&g, entries, deltas, fvalues, fin, fout);
    for (int oh = 0; oh < g.out_height; ++oh) {
        for (int ow = 0; ow < g.out_width; ++ow) {
            for (int c = 0; c < channels; ++c) {
                for (int kh = 0; kh < kernel; ++kh) {
                    for (int kw = 0; kw < kernel; ++kw) {
                        const int at = tap_index(&g, c, kh, kw, oh, ow);
                        if (at >= 0) fref[oh * g.out_width + ow] += fkernel[(c * kernel + kh) * kernel + kw] * fin[at];
                    }
                }
            }
        }
    }
    int same = 1;
    for (int p = 0; p < pixels; ++p) same &= close_enough(fout[p], fref[p]);
    check(same, "whittle_sparse_conv_plane_f32 kernel", kernel * 100 + stride * 10 + pad);
    const int qentries = encode(1, taps, NULL, qkernel);
    for (int pass = 0; pass < 2; ++pass) {
        const int32_t zero = pass ? 131 : -9;
        int ok = 1;
        for (int oh = 0; oh < g.out_height; ++oh) {
            for (int ow = 0; ow < g.out_width; ++ow) row[ow] = row_ref[ow] = 40 - ow;
            /* in two stretches, the second one starting mid-row */
            const int split = g.out_width / 2;
            if (pass) {
                whittle_sparse_conv_row_u8(&g, oh, 0, split, qentries, deltas, qvalues, uin8, zero, row);
                whittle_sparse_conv_row_u8(&g, oh, split, g.out_width - split, qentries, deltas, qvalues, uin8, zero, row + split);
            } else {
                whittle_sparse_conv_row_s8(&g, oh, 0, split, qentries, deltas, qvalues, sin8, zero, row);
                whittle_sparse_conv_row_s8(&g, oh, split, g.out_width - split, qentries, deltas, qvalues, sin8, zero, row + split);
            }
            for (int ow = 0; ow < g.out_width; ++ow) {
                for (int t = 0; t < taps; ++t) {
                    const int at = tap_index(&g, t / (kernel * kernel), t % (kernel * kernel) / kernel, t % kernel, oh, ow);
                    if (at >= 0) row_ref[ow] += ((pass ? (int32_t)uin8[at] : (int32_t)sin8[at]) - zero) * qkernel[t];
                }
                ok &= row[ow] == row_ref[ow];
            }
        }
        check(ok, pass ? "whittle_sparse_conv_row_u8 kernel" : "whittle_sparse_conv_row_s8 kernel", kernel * 100 + stride * 10 + pad);
    }
}

/* ---- binary convolution ---------------------------------------------------------------- */

#define BIN_C 40 /* two words, the second one partly used */
#define BIN_M 3
static float bx[BIN_C * 7 * 6];
static uint32_t bbits[7 * 6 * 2 * 2], bweights[BIN_M * 9 * 2], bpatch[9 * 2 * 2];
static float bw[BIN_M * BIN_C * 9], by[BIN_M * 9 * 8], bscale[BIN_M], bbias[BIN_M];

/* Packs a +1/-1 filter the way the compiler does: bit set for +1. */
static void pack_weights(int taps) {
    for (int i = 0; i < BIN_M * taps * 2; ++i) bweights[i] = 0;
    for (int m = 0; m < BIN_M; ++m)
        for (int c = 0; c < BIN_C; ++c)
            for (int t = 0; t < taps; ++t)
                if (bw[(m * BIN_C + c) * taps + t] > 0) bweights[(m * taps + t) * 2 + c / 32] |= (uint32_t)1 << (c % 32);
}

static void test_binary(int kernel, int stride, int pad, int ternary) {
    whittle_conv_geometry g;
    g.channels = BIN_C;
    g.height = 7;
    g.width = 6;
    g.kernel_h = g.kernel_w = kernel;
    g.stride_h = g.stride_w = stride;
    g.dilation_h = g.dilation_w = 1;
    g.pad_top = g.pad_left = pad;
    g.out_height = (7 + 2 * pad - kernel) / stride + 1;
    g.out_width = (6 + 2 * pad - kernel) / stride + 1;
    const int taps = kernel * kernel, pixels = 42, outputs = g.out_height * g.out_width;
    for (int i = 0; i < BIN_C * pixels; ++i) bx[i] = (float)((int)(next() % 5u) - 2); /* zeros included */
    for (int i = 0; i < BIN_M * BIN_C * taps; ++i) bw[i] = next() & 1u ? 1.0f : -1.0f;
    for (int m = 0; m < BIN_M; ++m) {
        bscale[m] = 0.5f + (float)m;
        bbias[m] = (float)m - 1.0f;
    }
    pack_weights(taps);
    whittle_bitpack_f32(BIN_C, pixels, ternary, bx, bbits);
    whittle_binary_conv(&g, ternary, BIN_M, bbits, bweights, bscale, bbias, by, bpatch);
    int ok = 1;
    for (int m = 0; m < BIN_M; ++m) {
        for (int oh = 0; oh < g.out_height; ++oh) {
            for (int ow = 0; ow < g.out_width; ++ow) {
                int32_t dot = 0;
                for (int c = 0; c < BIN_C; ++c) {
                    for (int t = 0; t < taps; ++t) {
                        const int at = tap_index(&g, c, t / kernel, t % kernel, oh, ow);
                        if (at < 0) continue; /* zero padding */
                        const float v = bx[at];
                        const int s = ternary ? (v > 0.0f) - (v < 0.0f) : (v >= 0.0f ? 1 : -1);
                        dot += s * (bw[(m * BIN_C + c) * taps + t] > 0 ? 1 : -1);
                    }
                }
                ok &= by[m * outputs + oh * g.out_width + ow] == (float)dot * bscale[m] + bbias[m];
            }
        }
    }
    check(ok, ternary ? "whittle_binary_conv ternary kernel" : "whittle_binary_conv kernel", kernel * 100 + stride * 10 + pad);
    /* float inputs, 1-bit weights: the same order of additions as the plain loop below */
    whittle_binary_weight_conv_f32(&g, BIN_M, bx, bweights, bscale, bbias, by);
    ok = 1;
    for (int m = 0; m < BIN_M; ++m) {
        for (int oh = 0; oh < g.out_height; ++oh) {
            for (int ow = 0; ow < g.out_width; ++ow) {
                float sum = 0.0f;
                for (int c = 0; c < BIN_C; ++c) {
                    for (int t = 0; t < taps; ++t) {
                        const int at = tap_index(&g, c, t / kernel, t % kernel, oh, ow);
                        if (at >= 0) sum += bw[(m * BIN_C + c) * taps + t] > 0 ? bx[at] : -bx[at];
                    }
                }
                ok &= by[m * outputs + oh * g.out_width + ow] == sum * bscale[m] + bbias[m];
            }
        }
    }
    check(ok, "whittle_binary_weight_conv_f32 kernel", kernel * 100 + stride * 10 + pad);
}

/* The geometry of a convolution with the same stride, dilation and padding on both axes. */
static whittle_conv_geometry square_geometry(int c, int h, int w, int kh, int kw, int stride, int dilation, int pad) {
    whittle_conv_geometry g;
    g.channels = c;
    g.height = h;
    g.width = w;
    g.out_height = (h + 2 * pad - dilation * (kh - 1) - 1) / stride + 1;
    g.out_width = (w + 2 * pad - dilation * (kw - 1) - 1) / stride + 1;
    g.kernel_h = kh;
    g.kernel_w = kw;
    g.stride_h = g.stride_w = stride;
    g.dilation_h = g.dilation_w = dilation;
    g.pad_top = g.pad_left = pad;
    return g;
}

/* ---- inputs at the end of readable memory ---------------------------------------------------- */

/* A copy of `bytes` of data in region `slot` (0 or 1), ending where an unreadable page begins (on
 * Linux), so that a kernel reading past its input or scratch faults instead of reading
 * neighbours; elsewhere the data itself. The copy is writable. */
static void *at_guard_in(int slot, void *data, size_t bytes) {
#if defined(WHITTLE_GUARD_PAGE)
    enum { span = 65536, page = 4096 };
    static char *regions[2];
    if (!regions[slot]) {
        void *mapped = mmap(0, span + page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (mapped == MAP_FAILED || mprotect((char *)mapped + span, page, PROT_NONE) != 0) return data;
        regions[slot] = (char *)mapped;
    }
    if (bytes > span) return data;
    memcpy(regions[slot] + span - bytes, data, bytes);
    return regions[slot] + span - bytes;
#else
    (void)slot;
    (void)bytes;
    return data;
#endif
}

/* An input copied against the guard page. */
static const void *at_guard(const void *data, size_t bytes) {
    static unsigned char copy[65536];
    if (bytes > sizeof copy) return data;
    memcpy(copy, data, bytes);
    return at_guard_in(0, copy, bytes);
}

/* ---- int8 convolution, fully connected and depthwise (conv_s8.c) -------------------------- */

/* Room for a pointwise layer whose planes lie more than 64 KiB apart (3 channels of 32,800 pixels). */
#define Q_MAX_X 100000
#define Q_MAX_W 8192
#define Q_MAX_Y 66000
static int8_t q_x8[Q_MAX_X], q_w[Q_MAX_W], q_packed[Q_MAX_W + 64];
static uint8_t q_xu[Q_MAX_X];
static int32_t q_bias[64], q_inner[64];
static float q_mult[64];
static uint32_t q_mantissa[64];
static int8_t q_exponent[64];
static uint8_t q_y[Q_MAX_Y];
/* 8-byte aligned, as the kernels require of their scratch. */
static union { int16_t values[8192]; double align; } q_scratch;
#define q_columns (q_scratch.values)
/* Word-aligned: the flat depthwise kernel may keep its map as floats there. */
static union { int8_t values[4 * 4096]; float align; } q_padded_storage;
#define q_padded (q_padded_storage.values)

/* The interpreter's requantization: rintf((float)sum * multiplier) + zero, saturated. */
static int32_t q_requant(int32_t sum, float multiplier, int32_t zero, int32_t low, int32_t high) {
    float q = rintf((float)sum * multiplier) + (float)zero;
    if (q < (float)low) q = (float)low;
    if (q > (float)high) q = (float)high;
    return (int32_t)q;
}

/* Multipliers (float, and as mantissa and exponent) for m channels around 1 / scale_down. */
static void q_multipliers(int m, float scale_down) {
    for (int i = 0; i < m; ++i) {
        uint32_t bits;
        q_mult[i] = (0.5f + (float)(next() % 1000u) / 1000.0f) / scale_down;
        memcpy(&bits, &q_mult[i], sizeof bits);
        q_mantissa[i] = (bits & 0x7FFFFFu) | 0x800000u;
        q_exponent[i] = (int8_t)((int)((bits >> 23) & 0xFFu) - 150);
    }
}

/* The paired-row layout of whittle_kernels.h, from rows x k weights. */
static void q_pack(const int8_t *w, int rows, int k, int k_padded) {
    static const int order[4] = {0, 2, 1, 3};
    int n = 0;
    for (int first = 0; first < rows; first += 2) {
        for (int base = 0; base < k_padded; base += 4) {
            for (int r = first; r < rows && r < first + 2; ++r) {
                for (int j = 0; j < 4; ++j) q_packed[n++] = (int8_t)(base + order[j] < k ? w[r * k + base + order[j]] : 0);
            }
        }
    }
}

/* The wide layout (int16, each four in tap order) from rows x k weights. */
static int16_t q_packed16[Q_MAX_W + 64];
static void q_pack16(const int8_t *w, int rows, int k, int k_padded) {
    int n = 0;
    for (int first = 0; first < rows; first += 2) {
        for (int base = 0; base < k_padded; base += 4) {
            for (int r = first; r < rows && r < first + 2; ++r) {
                for (int j = 0; j < 4; ++j) q_packed16[n++] = (int16_t)(base + j < k ? w[r * k + base + j] : 0);
            }
        }
    }
}

/* The tiled layout (int8, channels in blocks of eight, taps in pairs) from rows x k weights, and the
 * bias folded with the input zero point into q_inner. */
static void q_pack_tiles(const int8_t *w, int rows, int k, int32_t x_zero) {
    int n = 0;
    for (int first = 0; first < rows; first += 8) {
        for (int t = 0; t < k; t += 2) {
            for (int r = first; r < first + 8; ++r) {
                q_packed[n++] = (int8_t)(r < rows ? w[r * k + t] : 0);
                q_packed[n++] = (int8_t)(r < rows && t + 1 < k ? w[r * k + t + 1] : 0);
            }
        }
    }
    for (int r = 0; r < rows; ++r) {
        int32_t sum = 0;
        for (int t = 0; t < k; ++t) sum += w[r * k + t];
        q_inner[r] = q_bias[r] - x_zero * sum;
    }
}

/* The scratch bytes of whittle_conv_s8_tiles (element 1) or whittle_conv_f32_tiles (element 4), as
 * whittle_kernels.h documents them, rounded up to 8 bytes (the guard page then keeps the tap offsets
 * aligned). The int8 kernel also widens a tile's inputs: 16 * taps + 16 bytes more. */
static size_t tile_scratch(const whittle_conv_geometry *g, int element) {
    const int taps = g->channels * g->kernel_h * g->kernel_w;
    const int pointwise = g->kernel_h == 1 && g->kernel_w == 1 && g->pad_top == 0 && g->pad_left == 0 &&
                          g->out_height == g->height && g->out_width == g->width;
    size_t bytes = (size_t)(8 * taps) + (element == 1 ? (size_t)(16 * taps + 16) : 0);
    if (g->stride_h == 1 && g->stride_w == 1 && !pointwise && (g->out_width % 8 == 0 || g->out_width >= 16)) {
        const int pitch = (g->out_width + 7) / 8 * 8 + (g->kernel_w - 1) * g->dilation_w;
        bytes += (size_t)element * (size_t)(g->channels * (g->out_height + (g->kernel_h - 1) * g->dilation_h) * pitch);
    } else {
        bytes += (size_t)(8 * element * taps);
    }
    return (bytes + 7) / 8 * 8;
}

/* The dot-product layout (int8, channels in blocks of eight, taps in quads) from rows x k weights. */
static void q_pack_quads(const int8_t *w, int rows, int k) {
    int n = 0;
    for (int first = 0; first < rows; first += 8) {
        for (int t = 0; t < k; t += 4) {
            for (int r = first; r < first + 8; ++r) {
                for (int j = 0; j < 4; ++j) q_packed[n++] = (int8_t)(r < rows && t + j < k ? w[r * k + t + j] : 0);
            }
        }
    }
}

/* The 4-bit forms of the layouts (weights in [-8, 7]), into q_nibbles. Paired rows: each group of eight
 * bytes of the int8 layout (channels padded to an even count) in one word, byte j holding byte j in
 * its high nibble and byte j + 4 in its low one. */
static uint8_t q_nibbles[Q_MAX_W / 2 + 64];
static uint8_t q_byte(int high, int low) {
    return (uint8_t)(((unsigned)high & 15u) << 4 | ((unsigned)low & 15u));
}

static void q_pack_nibbles(const int8_t *w, int rows, int k, int k_padded) {
    static const int order[4] = {0, 2, 1, 3};
    int n = 0;
    for (int first = 0; first < rows; first += 2) {
        for (int base = 0; base < k_padded; base += 4) {
            int g[8];
            for (int r = 0; r < 2; ++r) {
                for (int j = 0; j < 4; ++j) {
                    const int channel = first + r, t = base + order[j];
                    g[4 * r + j] = channel < rows && t < k ? w[channel * k + t] : 0;
                }
            }
            for (int j = 0; j < 4; ++j) q_nibbles[n++] = q_byte(g[j], g[j + 4]);
        }
    }
}

/* The tiled layout's 4-bit form from q_packed (after q_pack_tiles, `bytes` of it): byte i of a pair
 * of taps holds bytes 2i (low nibble) and 2i + 1 (high); the dot-product layout's (`quads`, after
 * q_pack_quads): byte b of a quad holds bytes b (low) and b + 16 (high). */
static void q_nibbles_of_tiles(int bytes, int quads) {
    const int chunk = quads ? 32 : 16;
    for (int c = 0; c < bytes; c += chunk) {
        for (int i = 0; i < chunk / 2; ++i) {
            q_nibbles[c / 2 + i] = quads ? q_byte(q_packed[c + i + 16], q_packed[c + i]) : q_byte(q_packed[c + 2 * i + 1], q_packed[c + 2 * i]);
        }
    }
}

/* Whether |sum * multiplier| <= 2^21 for every reachable sum (the compiler's bound). */
static int q_bounded(int m, int taps) {
    for (int i = 0; i < m; ++i) {
        double reach = fabs((double)q_bias[i]);
        for (int k = 0; k < taps; ++k) reach += 383.0 * fabs((double)q_w[i * taps + k]);
        if (reach * (double)q_mult[i] > (double)(1 << 21)) return 0;
    }
    return 1;
}

/* The requantization of m channels (float or integer multipliers) into int8 or uint8. */
static whittle_requant q_requantization(int integer, int32_t zero, int out_unsigned, int m, int taps) {
    whittle_requant rq;
    rq.multiplier = integer ? 0 : q_mult;
    rq.mantissa = q_mantissa;
    rq.exponent = q_exponent;
    rq.zero = zero;
    rq.low = out_unsigned ? 0 : -128;
    rq.high = out_unsigned ? 255 : 127;
    rq.out_unsigned = out_unsigned;
    rq.bounded = !integer && q_bounded(m, taps);
    return rq;
}

/* One convolution (group 1) against plain loops, int8 or uint8 in and out, float or integer
 * requantization; scale_down small makes most outputs saturate (the unbounded path). */
static void test_conv_s8(int c, int h, int w, int m, int kh, int kw, int stride, int dilation, int pad,
                         int x_unsigned, int y_unsigned, int integer, float scale_down, int layout) {
    /* layout: 0 paired rows (int8), 1 wide (int16 pairs), 2 tiles (whittle_conv_s8_tiles), 3 the
     * dot-product layout of the tiles (int8 quads); 4, 5, 6 the 4-bit forms of 0, 2, 3 */
    const int wide = layout == 1, nibbles = layout >= 4, base_layout = layout == 4 ? 0 : layout == 5 ? 2 : layout == 6 ? 3 : layout;
    whittle_conv_geometry g;
    whittle_requant rq;
    const int oh = (h + 2 * pad - dilation * (kh - 1) - 1) / stride + 1, ow = (w + 2 * pad - dilation * (kw - 1) - 1) / stride + 1;
    const int k = c * kh * kw, k_padded = (k + 3) / 4 * 4;
    const int32_t x_zero = x_unsigned ? (int32_t)(next() % 256u) : (int32_t)(next() % 256u) - 128;
    const int32_t low = y_unsigned ? 0 : -128, high = y_unsigned ? 255 : 127;
    const int32_t y_zero = low + (int32_t)(next() % 256u);
    long bad = 0;
    g = square_geometry(c, h, w, kh, kw, stride, dilation, pad);
    for (int i = 0; i < c * h * w; ++i) {
        q_x8[i] = (int8_t)((int)(next() % 256u) - 128);
        q_xu[i] = (uint8_t)(next() % 256u);
    }
    for (int i = 0; i < m * k; ++i) q_w[i] = nibbles ? (int8_t)((int)(next() % 16u) - 8) : (int8_t)((int)(next() % 255u) - 127);
    for (int i = 0; i < m; ++i) q_bias[i] = (int32_t)(next() % 20001u) - 10000;
    q_multipliers(m, nibbles ? scale_down / 16.0f : scale_down);
    q_pack(q_w, m, k, k_padded);
    q_pack16(q_w, m, k, k_padded);
    q_pack_nibbles(q_w, m, k, k_padded);
    rq = q_requantization(integer, y_zero, y_unsigned, m, k);
    if (base_layout >= 2) {
        /* The dot-product layout reads uint8 inputs as x - 128: the bias folds x_zero - 128. */
        const int blocks = (m + 7) / 8 * 8;
        q_pack_tiles(q_w, m, k, base_layout == 3 && x_unsigned ? x_zero - 128 : x_zero);
        if (base_layout == 3) q_pack_quads(q_w, m, k);
        if (nibbles) q_nibbles_of_tiles(base_layout == 3 ? blocks * ((k + 3) / 4 * 4) : blocks * (k + k % 2), base_layout == 3);
        whittle_conv_s8_tiles(&g, m, x_unsigned ? at_guard(q_xu, (size_t)(c * h * w)) : at_guard(q_x8, (size_t)(c * h * w)), x_unsigned,
                              x_zero, nibbles ? (const void *)q_nibbles : (const void *)q_packed, (base_layout == 3) + 2 * nibbles, q_inner,
                              &rq, q_y, (uint8_t *)at_guard_in(1, q_columns, tile_scratch(&g, 1)));
    } else {
        whittle_conv_s8(&g, m, x_unsigned ? at_guard(q_xu, (size_t)(c * h * w)) : at_guard(q_x8, (size_t)(c * h * w)), x_unsigned, x_zero,
                        nibbles ? (const void *)q_nibbles : wide ? (const void *)q_packed16 : (const void *)q_packed, nibbles ? 2 : wide,
                        q_bias, &rq, q_y, q_columns);
    }
    for (int o = 0; o < m; ++o) {
        for (int y = 0; y < oh; ++y) {
            for (int x = 0; x < ow; ++x) {
                int32_t sum = q_bias[o], got;
                for (int ci = 0; ci < c; ++ci) {
                    for (int i = 0; i < kh; ++i) {
                        for (int j = 0; j < kw; ++j) {
                            const int ih = y * stride - pad + i * dilation, iw = x * stride - pad + j * dilation;
                            if (ih < 0 || ih >= h || iw < 0 || iw >= w) continue;
                            sum += ((x_unsigned ? (int32_t)q_xu[(ci * h + ih) * w + iw] : (int32_t)q_x8[(ci * h + ih) * w + iw]) - x_zero)
                                   * q_w[((o * c + ci) * kh + i) * kw + j];
                        }
                    }
                }
                got = y_unsigned ? (int32_t)q_y[(o * oh + y) * ow + x] : (int32_t)((int8_t *)q_y)[(o * oh + y) * ow + x];
                if (got != q_requant(sum, q_mult[o], y_zero, low, high)) ++bad;
            }
        }
    }
    check(bad == 0, layout == 6 ? "whittle_conv_s8_tiles (4-bit dot-product layout) outputs differ from plain loops:"
                    : layout == 5 ? "whittle_conv_s8_tiles (4-bit weights) outputs differ from plain loops:"
                    : layout == 4 ? "whittle_conv_s8 (4-bit weights) outputs differ from plain loops:"
                    : layout == 3 ? "whittle_conv_s8_tiles (dot-product layout) outputs differ from plain loops:"
                    : layout == 2 ? "whittle_conv_s8_tiles outputs differ from plain loops:"
                    : wide ? "whittle_conv_s8 (wide weights) outputs differ from plain loops:" : "whittle_conv_s8 outputs differ from plain loops:", bad);
}

static void test_fully_connected_s8(int rows, int depth, int n, int x_unsigned, int integer, int layout) {
    /* layouts as for test_conv_s8; fully connected layers take the tiled layout for 3 and 6 too */
    const int wide = layout == 1, nibbles = layout >= 4, tiles = layout >= 2 && layout != 4;
    whittle_requant rq;
    const int k_padded = (depth + 3) / 4 * 4;
    const int32_t x_zero = (int32_t)(next() % 256u) - (x_unsigned ? 0 : 128), y_zero = (int32_t)(next() % 256u) - 128;
    long bad = 0;
    for (int i = 0; i < rows * depth; ++i) {
        q_x8[i] = (int8_t)((int)(next() % 256u) - 128);
        q_xu[i] = (uint8_t)(next() % 256u);
    }
    for (int i = 0; i < n * depth; ++i) q_w[i] = nibbles ? (int8_t)((int)(next() % 16u) - 8) : (int8_t)((int)(next() % 255u) - 127);
    for (int i = 0; i < n; ++i) q_bias[i] = (int32_t)(next() % 2001u) - 1000;
    q_multipliers(n, (float)depth * (nibbles ? 2.5f : 40.0f));
    q_pack(q_w, n, depth, k_padded);
    q_pack16(q_w, n, depth, k_padded);
    q_pack_nibbles(q_w, n, depth, k_padded);
    rq = q_requantization(integer, y_zero, 0, n, depth);
    if (tiles) {
        q_pack_tiles(q_w, n, depth, x_zero);
        if (nibbles) q_nibbles_of_tiles((n + 7) / 8 * 8 * (depth + depth % 2), 0);
        whittle_fully_connected_s8_tiles(rows, depth, n, x_unsigned ? at_guard(q_xu, (size_t)(rows * depth)) : at_guard(q_x8, (size_t)(rows * depth)),
                                         x_unsigned, nibbles ? (const void *)q_nibbles : (const void *)q_packed, 2 * nibbles, q_inner, &rq, q_y);
    } else {
        whittle_fully_connected_s8(rows, depth, n, x_unsigned ? at_guard(q_xu, (size_t)(rows * depth)) : at_guard(q_x8, (size_t)(rows * depth)),
                                   x_unsigned, x_zero, nibbles ? (const void *)q_nibbles : wide ? (const void *)q_packed16 : (const void *)q_packed,
                                   nibbles ? 2 : wide, q_bias, &rq, q_y, q_columns);
    }
    for (int r = 0; r < rows; ++r) {
        for (int j = 0; j < n; ++j) {
            int32_t sum = q_bias[j];
            for (int p = 0; p < depth; ++p) sum += ((x_unsigned ? (int32_t)q_xu[r * depth + p] : (int32_t)q_x8[r * depth + p]) - x_zero) * q_w[j * depth + p];
            if ((int32_t)((int8_t *)q_y)[r * n + j] != q_requant(sum, q_mult[j], y_zero, -128, 127)) ++bad;
        }
    }
    check(bad == 0, tiles ? (nibbles ? "whittle_fully_connected_s8_tiles (4-bit weights) outputs differ from plain loops:"
                                     : "whittle_fully_connected_s8_tiles outputs differ from plain loops:")
                          : nibbles ? "whittle_fully_connected_s8 (4-bit weights) outputs differ from plain loops:"
                                    : "whittle_fully_connected_s8 outputs differ from plain loops:", bad);
}

/* A pointwise layer on bitmask rows (whittle_sparse_pointwise_s8) against plain loops: `zeros` percent
 * of the weights pruned, int8 or uint8 in and out. `extreme` draws the inputs from the ends of their
 * range and the weights from -128, -127 and 127 (every other output channel's first weight -128, in
 * the others every weight), the largest products the kernels' int16 pair sums can meet. */
static uint32_t q_masks[Q_MAX_W / 32 + 64];
static void test_sparse_pointwise_s8(int c, int pixels, int m, int zeros, int x_unsigned, int y_unsigned, int integer, int extreme) {
    whittle_requant rq;
    const int words = (c + 31) / 32;
    const int32_t x_zero = x_unsigned ? (int32_t)(next() % 256u) : (int32_t)(next() % 256u) - 128;
    const int32_t low = y_unsigned ? 0 : -128, high = y_unsigned ? 255 : 127, y_zero = low + (int32_t)(next() % 256u);
    int n = 0;
    long bad = 0;
    for (int i = 0; i < c * pixels; ++i) {
        const uint32_t r = next();
        q_x8[i] = (int8_t)(extreme ? (r & 1u ? 127 : -128) : (int)(r % 256u) - 128);
        q_xu[i] = (uint8_t)(extreme ? (r & 1u ? 255 : 0) : r % 256u);
    }
    /* Weights of -128 now and then, which the kernels' paired int8 products must leave to the widening path. */
    for (int i = 0; i < m * c; ++i) q_w[i] = (int)(next() % 100u) < zeros ? 0 : (int8_t)((int)(next() % 256u) - 128);
    for (int o = 0; extreme && o < m; ++o) {
        int first = 1;
        for (int k = 0; k < c; ++k) {
            if (q_w[o * c + k] == 0) continue;
            q_w[o * c + k] = (int8_t)(o % 2 || first ? -128 : next() % 2u ? 127 : -127);
            first = 0;
        }
    }
    for (int i = 0; i < m; ++i) q_bias[i] = (int32_t)(next() % 20001u) - 10000;
    q_multipliers(m, 600.0f);
    memset(q_masks, 0, sizeof q_masks);
    for (int o = 0; o < m; ++o) {
        int32_t sum = 0;
        for (int k = 0; k < c; ++k) {
            if (q_w[o * c + k] == 0) continue;
            q_masks[o * words + k / 32] |= 1u << (k % 32);
            q_packed[n++] = q_w[o * c + k];
            sum += q_w[o * c + k];
        }
        q_inner[o] = q_bias[o] - x_zero * sum;
    }
    rq = q_requantization(integer, y_zero, y_unsigned, m, c);
    whittle_sparse_pointwise_s8(c, m, pixels, x_unsigned ? at_guard(q_xu, (size_t)(c * pixels)) : at_guard(q_x8, (size_t)(c * pixels)),
                                x_unsigned, q_masks, q_packed, q_inner, &rq, q_y, (int32_t *)(void *)q_columns);
    for (int o = 0; o < m; ++o) {
        for (int p = 0; p < pixels; ++p) {
            int32_t sum = q_bias[o], got;
            for (int k = 0; k < c; ++k) {
                sum += ((x_unsigned ? (int32_t)q_xu[k * pixels + p] : (int32_t)q_x8[k * pixels + p]) - x_zero) * q_w[o * c + k];
            }
            got = y_unsigned ? (int32_t)q_y[o * pixels + p] : (int32_t)((int8_t *)q_y)[o * pixels + p];
            if (got != q_requant(sum, q_mult[o], y_zero, low, high)) ++bad;
        }
    }
    check(bad == 0, "whittle_sparse_pointwise_s8 outputs differ from plain loops:", bad);
}

/* One depthwise layer against plain loops; biases up to 1000 * bias_scale (large ones leave the
 * range where float lanes add exactly). */
static void test_depthwise_s8_bias(int c, int h, int w, int kh, int kw, int stride, int dilation, int pad, int integer, int flat,
                                   int32_t bias_scale) {
    whittle_conv_geometry g;
    whittle_requant rq;
    const int oh = (h + 2 * pad - dilation * (kh - 1) - 1) / stride + 1, ow = (w + 2 * pad - dilation * (kw - 1) - 1) / stride + 1;
    const int taps = kh * kw, nibbles = flat >> 1, flat3x3 = flat & 1;
    const int32_t x_zero = (int32_t)(next() % 256u) - 128, y_zero = (int32_t)(next() % 256u) - 128;
    long bad = 0;
    g = square_geometry(c, h, w, kh, kw, stride, dilation, pad);
    for (int i = 0; i < c * h * w; ++i) q_x8[i] = (int8_t)((int)(next() % 256u) - 128);
    for (int i = 0; i < c * taps; ++i) q_w[i] = nibbles ? (int8_t)((int)(next() % 16u) - 8) : (int8_t)((int)(next() % 255u) - 127);
    /* The 4-bit form: tap i in the low nibble of byte i / 2 when i is even, the high one when odd. */
    memset(q_nibbles, 0, sizeof q_nibbles);
    for (int i = 0; i < c * taps; ++i) q_nibbles[i / 2] |= (uint8_t)(((unsigned)q_w[i] & 15u) << (4 * (i & 1)));
    for (int i = 0; i < c; ++i) {
        int32_t sum = 0;
        for (int t = 0; t < taps; ++t) sum += q_w[i * taps + t];
        q_bias[i] = ((int32_t)(next() % 2001u) - 1000) * bias_scale;
        q_inner[i] = q_bias[i] - x_zero * sum;
    }
    q_multipliers(c, (float)taps * (nibbles ? 4.0f : 60.0f) * (float)bias_scale);
    rq = q_requantization(integer, y_zero, 0, c, taps);
    /* The scratch too ends at a guard page: padded_h * padded_w + 16 bytes (and the taps with 4-bit
     * filters), as documented. */
    const size_t scratch = (size_t)(((g.out_height - 1) * stride + (kh - 1) * dilation + 1) * ((g.out_width - 1) * stride + (kw - 1) * dilation + 2) + 16)
                           + (size_t)(nibbles ? taps : 0);
    const void *filters = nibbles ? (const void *)q_nibbles : (const void *)q_w;
    if (flat3x3) {
        /* whittle_depthwise3x3_s8_flat: 4 * ((height + 2) * width + 24) bytes of scratch. */
        whittle_depthwise3x3_s8_flat(&g, (const int8_t *)at_guard(q_x8, (size_t)(c * h * w)), x_zero, filters, nibbles, q_inner, &rq,
                                     (int8_t *)q_y, (int8_t *)at_guard_in(1, q_padded_storage.values, (size_t)(4 * ((h + 2) * w + 24))));
    } else {
        whittle_depthwise_s8(&g, (const int8_t *)at_guard(q_x8, (size_t)(c * h * w)), x_zero, filters, nibbles, q_inner, &rq, (int8_t *)q_y,
                             (int8_t *)at_guard_in(1, q_padded, scratch));
    }
    for (int o = 0; o < c; ++o) {
        for (int y = 0; y < oh; ++y) {
            for (int x = 0; x < ow; ++x) {
                int32_t sum = q_bias[o];
                for (int i = 0; i < kh; ++i) {
                    for (int j = 0; j < kw; ++j) {
                        const int ih = y * stride - pad + i * dilation, iw = x * stride - pad + j * dilation;
                        if (ih >= 0 && ih < h && iw >= 0 && iw < w) sum += (q_x8[(o * h + ih) * w + iw] - x_zero) * q_w[o * taps + i * kw + j];
                    }
                }
                if ((int32_t)((int8_t *)q_y)[(o * oh + y) * ow + x] != q_requant(sum, q_mult[o], y_zero, -128, 127)) ++bad;
            }
        }
    }
    check(bad == 0, flat3x3 ? (nibbles ? "whittle_depthwise3x3_s8_flat (4-bit filters) outputs differ from plain loops:"
                                       : "whittle_depthwise3x3_s8_flat outputs differ from plain loops:")
                            : nibbles ? "whittle_depthwise_s8 (4-bit filters) outputs differ from plain loops:"
                                      : "whittle_depthwise_s8 outputs differ from plain loops:", bad);
}

static void test_depthwise_s8(int c, int h, int w, int kh, int kw, int stride, int dilation, int pad, int integer, int flat) {
    test_depthwise_s8_bias(c, h, w, kh, kw, stride, dilation, pad, integer, flat, 1);
}

/* ---- 16-bit activations with int8 weights (the 16x8 scheme, conv_s8.c) --------------------- */

static int16_t q_x16[Q_MAX_X], q_y16[Q_MAX_Y];
static union { int16_t values[4096]; double align; } q_padded16;

/* Requantization into int16 with the bounds of a fused Relu when `relu` (low 0). */
static whittle_requant q_requantization16(int integer, int relu, int m, int taps) {
    whittle_requant rq = q_requantization(integer, 0, 0, m, taps);
    rq.low = relu ? 0 : -32768;
    rq.high = 32767;
    rq.out_unsigned = 2;
    /* |x| <= 32768 per tap, as the compiler's bound for 16-bit layers. */
    for (int i = 0; i < m && rq.bounded; ++i) {
        double reach = fabs((double)q_bias[i]);
        for (int k = 0; k < taps; ++k) reach += 32768.0 * fabs((double)q_w[i * taps + k]);
        if (reach * (double)q_mult[i] > (double)(1 << 21)) rq.bounded = 0;
    }
    return rq;
}

/* int16 inputs spanning the whole range, saturating corners included. */
static void q_fill16(int count) {
    for (int i = 0; i < count; ++i) {
        const uint32_t r = next();
        q_x16[i] = (int16_t)(r % 7u == 0 ? (r & 8u ? 32767 : -32768) : (int32_t)(r >> 8) % 65536 - 32768);
    }
}

/* whittle_conv_s16 against plain loops; layout 0 paired int8 rows, 1 the wide (int16) ones. */
static void test_conv_s16(int c, int h, int w, int m, int kh, int kw, int stride, int dilation, int pad, int integer, int relu, int layout) {
    whittle_conv_geometry g = square_geometry(c, h, w, kh, kw, stride, dilation, pad);
    const int oh = g.out_height, ow = g.out_width, k = c * kh * kw, k_padded = (k + 3) / 4 * 4;
    long bad = 0;
    q_fill16(c * h * w);
    for (int i = 0; i < m * k; ++i) q_w[i] = (int8_t)((int)(next() % 255u) - 127);
    for (int i = 0; i < m; ++i) q_bias[i] = (int32_t)(next() % 2000001u) - 1000000;
    q_multipliers(m, (float)k * 3000.0f);
    q_pack(q_w, m, k, k_padded);
    q_pack16(q_w, m, k, k_padded);
    const whittle_requant rq = q_requantization16(integer, relu, m, k);
    whittle_conv_s16(&g, m, (const int16_t *)at_guard(q_x16, sizeof(int16_t) * (size_t)(c * h * w)),
                     layout ? (const void *)q_packed16 : (const void *)q_packed, layout, q_bias, &rq, q_y16, q_columns);
    for (int o = 0; o < m; ++o) {
        for (int y = 0; y < oh; ++y) {
            for (int x = 0; x < ow; ++x) {
                int32_t sum = q_bias[o];
                for (int ci = 0; ci < c; ++ci) {
                    for (int i = 0; i < kh; ++i) {
                        for (int j = 0; j < kw; ++j) {
                            const int ih = y * stride - pad + i * dilation, iw = x * stride - pad + j * dilation;
                            if (ih >= 0 && ih < h && iw >= 0 && iw < w) sum += q_x16[(ci * h + ih) * w + iw] * q_w[((o * c + ci) * kh + i) * kw + j];
                        }
                    }
                }
                if (q_y16[(o * oh + y) * ow + x] != q_requant(sum, q_mult[o], 0, relu ? 0 : -32768, 32767)) ++bad;
            }
        }
    }
    check(bad == 0, layout ? "whittle_conv_s16 (wide weights) outputs differ from plain loops:"
                           : "whittle_conv_s16 outputs differ from plain loops:", bad);
}

static void test_fully_connected_s16(int rows, int depth, int n, int integer, int relu) {
    const int k_padded = (depth + 3) / 4 * 4;
    long bad = 0;
    q_fill16(rows * depth);
    for (int i = 0; i < n * depth; ++i) q_w[i] = (int8_t)((int)(next() % 255u) - 127);
    for (int i = 0; i < n; ++i) q_bias[i] = (int32_t)(next() % 200001u) - 100000;
    q_multipliers(n, (float)depth * 4000.0f);
    q_pack(q_w, n, depth, k_padded);
    const whittle_requant rq = q_requantization16(integer, relu, n, depth);
    whittle_fully_connected_s16(rows, depth, n, (const int16_t *)at_guard(q_x16, sizeof(int16_t) * (size_t)(rows * depth)), q_packed, 0,
                                q_bias, &rq, q_y16, q_columns);
    for (int r = 0; r < rows; ++r) {
        for (int j = 0; j < n; ++j) {
            int32_t sum = q_bias[j];
            for (int p = 0; p < depth; ++p) sum += q_x16[r * depth + p] * q_w[j * depth + p];
            if (q_y16[r * n + j] != q_requant(sum, q_mult[j], 0, relu ? 0 : -32768, 32767)) ++bad;
        }
    }
    check(bad == 0, "whittle_fully_connected_s16 outputs differ from plain loops:", bad);
}

static void test_depthwise_s16(int c, int h, int w, int kh, int kw, int stride, int dilation, int pad, int integer, int relu) {
    whittle_conv_geometry g = square_geometry(c, h, w, kh, kw, stride, dilation, pad);
    const int oh = g.out_height, ow = g.out_width, taps = kh * kw;
    long bad = 0;
    q_fill16(c * h * w);
    for (int i = 0; i < c * taps; ++i) q_w[i] = (int8_t)((int)(next() % 255u) - 127);
    for (int i = 0; i < c; ++i) q_bias[i] = (int32_t)(next() % 200001u) - 100000;
    q_multipliers(c, (float)taps * 3000.0f);
    const whittle_requant rq = q_requantization16(integer, relu, c, taps);
    /* Scratch of padded_h * padded_w + 8 int16, ending at a guard page. */
    const size_t scratch = sizeof(int16_t) * (size_t)(((oh - 1) * stride + (kh - 1) * dilation + 1) * ((ow - 1) * stride + (kw - 1) * dilation + 2) + 8);
    whittle_depthwise_s16(&g, (const int16_t *)at_guard(q_x16, sizeof(int16_t) * (size_t)(c * h * w)), q_w, q_bias, &rq, q_y16,
                          (int16_t *)at_guard_in(1, q_padded16.values, scratch));
    for (int o = 0; o < c; ++o) {
        for (int y = 0; y < oh; ++y) {
            for (int x = 0; x < ow; ++x) {
                int32_t sum = q_bias[o];
                for (int i = 0; i < kh; ++i) {
                    for (int j = 0; j < kw; ++j) {
                        const int ih = y * stride - pad + i * dilation, iw = x * stride - pad + j * dilation;
                        if (ih >= 0 && ih < h && iw >= 0 && iw < w) sum += q_x16[(o * h + ih) * w + iw] * q_w[o * taps + i * kw + j];
                    }
                }
                if (q_y16[(o * oh + y) * ow + x] != q_requant(sum, q_mult[o], 0, relu ? 0 : -32768, 32767)) ++bad;
            }
        }
    }
    check(bad == 0, "whittle_depthwise_s16 outputs differ from plain loops:", bad);
}

/* ---- float convolution, fully connected and depthwise (conv_f32.c) ------------------------ */

static float f_x[4096], f_w[8192], f_blocked[8192 + 64], f_bias[68], f_y[4096], f_columns[8192], f_padded[4096];

/* Whether got equals a sum whose exact value is near `sum` and whose terms' magnitudes add up to
 * `magnitude` (float rounding in any order stays far below 1e-5 of it). */
static int f_close(float got, double sum, double magnitude) { return fabs((double)got - sum) <= 1e-5 * (magnitude + 1.0); }

/* Rows x taps weights in the blocked layout (four rows per block, tap by tap). */
/* Blocks of `block` (4: the blocked layout, 8: the tiled one) rows, tap by tap, and a padded bias. */
static void f_block(int rows, int taps, int block) {
    const int padded = (rows + block - 1) / block * block;
    for (int b = 0; b < padded; b += block) {
        for (int k = 0; k < taps; ++k) {
            for (int r = b; r < b + block; ++r) f_blocked[b * taps + k * block + (r - b)] = r < rows ? f_w[r * taps + k] : 0.0f;
        }
    }
    for (int r = 0; r < padded; ++r) f_bias[r] = r < rows ? random_float() : 0.0f;
}

static void test_conv_f32(int c, int h, int w, int m, int kh, int kw, int stride, int dilation, int pad, int tiles) {
    whittle_conv_geometry g;
    const int oh = (h + 2 * pad - dilation * (kh - 1) - 1) / stride + 1, ow = (w + 2 * pad - dilation * (kw - 1) - 1) / stride + 1;
    const int taps = c * kh * kw;
    long bad = 0;
    g = square_geometry(c, h, w, kh, kw, stride, dilation, pad);
    for (int i = 0; i < c * h * w; ++i) f_x[i] = random_float();
    for (int i = 0; i < m * taps; ++i) f_w[i] = random_float();
    f_block(m, taps, tiles ? 8 : 4);
    if (tiles) {
        whittle_conv_f32_tiles(&g, m, (const float *)at_guard(f_x, sizeof(float) * (size_t)(c * h * w)), f_blocked, f_bias, f_y,
                               (float *)at_guard_in(1, f_columns, tile_scratch(&g, 4)));
    } else {
        whittle_conv_f32(&g, m, (const float *)at_guard(f_x, sizeof(float) * (size_t)(c * h * w)), f_blocked, f_bias, f_y, f_columns);
    }
    for (int o = 0; o < m; ++o) {
        for (int y = 0; y < oh; ++y) {
            for (int x = 0; x < ow; ++x) {
                double sum = (double)f_bias[o], magnitude = fabs((double)f_bias[o]);
                for (int ci = 0; ci < c; ++ci) {
                    for (int i = 0; i < kh; ++i) {
                        for (int j = 0; j < kw; ++j) {
                            const int ih = y * stride - pad + i * dilation, iw = x * stride - pad + j * dilation;
                            if (ih < 0 || ih >= h || iw < 0 || iw >= w) continue;
                            const double term = (double)f_x[(ci * h + ih) * w + iw] * (double)f_w[((o * c + ci) * kh + i) * kw + j];
                            sum += term;
                            magnitude += fabs(term);
                        }
                    }
                }
                if (!f_close(f_y[(o * oh + y) * ow + x], sum, magnitude)) ++bad;
            }
        }
    }
    check(bad == 0, tiles ? "whittle_conv_f32_tiles outputs differ from plain loops:" : "whittle_conv_f32 outputs differ from plain loops:", bad);
}

static void test_fully_connected_f32(int rows, int depth, int n) {
    long bad = 0;
    for (int i = 0; i < rows * depth; ++i) f_x[i] = random_float();
    for (int i = 0; i < n * depth; ++i) f_w[i] = random_float();
    f_block(n, depth, 4);
    whittle_fully_connected_f32(rows, depth, n, (const float *)at_guard(f_x, sizeof(float) * (size_t)(rows * depth)), f_blocked, f_bias, f_y);
    for (int r = 0; r < rows; ++r) {
        for (int j = 0; j < n; ++j) {
            double sum = (double)f_bias[j], magnitude = fabs((double)f_bias[j]);
            for (int p = 0; p < depth; ++p) {
                const double term = (double)f_x[r * depth + p] * (double)f_w[j * depth + p];
                sum += term;
                magnitude += fabs(term);
            }
            if (!f_close(f_y[r * n + j], sum, magnitude)) ++bad;
        }
    }
    check(bad == 0, "whittle_fully_connected_f32 outputs differ from plain loops:", bad);
}

static void test_depthwise_f32(int c, int h, int w, int kh, int kw, int stride, int dilation, int pad, int flat) {
    whittle_conv_geometry g;
    const int oh = (h + 2 * pad - dilation * (kh - 1) - 1) / stride + 1, ow = (w + 2 * pad - dilation * (kw - 1) - 1) / stride + 1;
    const int taps = kh * kw;
    long bad = 0;
    g = square_geometry(c, h, w, kh, kw, stride, dilation, pad);
    for (int i = 0; i < c * h * w; ++i) f_x[i] = random_float();
    for (int i = 0; i < c * taps; ++i) f_w[i] = random_float();
    for (int i = 0; i < c; ++i) f_bias[i] = random_float();
    /* The scratch too ends at a guard page: padded_h * padded_w + 16 floats, as documented. */
    const size_t scratch = sizeof(float) * (size_t)(((g.out_height - 1) * stride + (kh - 1) * dilation + 1) *
                                                    ((g.out_width - 1) * stride + (kw - 1) * dilation + 1) + 16);
    if (flat) {
        /* whittle_depthwise3x3_f32_flat: (height + 2) * width + 24 floats of scratch. */
        whittle_depthwise3x3_f32_flat(&g, (const float *)at_guard(f_x, sizeof(float) * (size_t)(c * h * w)), f_w, f_bias, f_y,
                                      (float *)at_guard_in(1, f_padded, sizeof(float) * (size_t)((h + 2) * w + 24)));
    } else {
        whittle_depthwise_f32(&g, (const float *)at_guard(f_x, sizeof(float) * (size_t)(c * h * w)), f_w, f_bias, f_y,
                              (float *)at_guard_in(1, f_padded, scratch));
    }
    for (int o = 0; o < c; ++o) {
        for (int y = 0; y < oh; ++y) {
            for (int x = 0; x < ow; ++x) {
                double sum = (double)f_bias[o], magnitude = fabs((double)f_bias[o]);
                for (int i = 0; i < kh; ++i) {
                    for (int j = 0; j < kw; ++j) {
                        const int ih = y * stride - pad + i * dilation, iw = x * stride - pad + j * dilation;
                        if (ih < 0 || ih >= h || iw < 0 || iw >= w) continue;
                        const double term = (double)f_x[(o * h + ih) * w + iw] * (double)f_w[o * taps + i * kw + j];
                        sum += term;
                        magnitude += fabs(term);
                    }
                }
                if (!f_close(f_y[(o * oh + y) * ow + x], sum, magnitude)) ++bad;
            }
        }
    }
    check(bad == 0, flat ? "whittle_depthwise3x3_f32_flat outputs differ from plain loops:" : "whittle_depthwise_f32 outputs differ from plain loops:", bad);
}

/* Recurrent layers against a direct transcription of ONNX's equations (double precision, layout 0
 * indexing, default activations): LSTM with peepholes, clip, sequence lengths and both directions;
 * GRU with and without linear_before_reset; RNN; initial states; layout 1 by transposing the data. */
#define RNN_T 5
#define RNN_N 2
#define RNN_I 3
#define RNN_H 4
static float rx[RNN_T * RNN_N * RNN_I], rx1[RNN_T * RNN_N * RNN_I], rw[2 * 4 * RNN_H * RNN_I], rr[2 * 4 * RNN_H * RNN_H];
static float rb[2 * 8 * RNN_H], rp[2 * 3 * RNN_H], rh0[2 * RNN_N * RNN_H], rc0[2 * RNN_N * RNN_H];
static float ry[RNN_T * 2 * RNN_N * RNN_H], ryh[2 * RNN_N * RNN_H], ryc[2 * RNN_N * RNN_H], rscratch[11 * RNN_H];
static double want_y[RNN_T * 2 * RNN_N * RNN_H], want_h[2 * RNN_N * RNN_H], want_c[2 * RNN_N * RNN_H];

static double sigmoid(double v) { return 1.0 / (1.0 + exp(-v)); }
static double clip_to(double c, double v) { return c > 0 && v > c ? c : (c > 0 && v < -c ? -c : v); }

static void reference_rnn(int gates, int directions, int linear, double clip, const int32_t *lengths) {
    int G = gates, lstm = gates == 4, d, n, s, j, k;
    memset(want_y, 0, sizeof want_y);
    for (d = 0; d < directions; ++d) {
        for (n = 0; n < RNN_N; ++n) {
            double h[RNN_H], c[RNN_H], nh[RNN_H], nc[RNN_H], gate[4][RNN_H], rgate[4][RNN_H];
            int length = lengths ? lengths[n] : RNN_T;
            for (j = 0; j < RNN_H; ++j) { h[j] = (double)rh0[(d * RNN_N + n) * RNN_H + j]; c[j] = (double)rc0[(d * RNN_N + n) * RNN_H + j]; }
            for (s = 0; s < length; ++s) {
                int t = d == 1 ? length - 1 - s : s, q;
                for (q = 0; q < G; ++q) {
                    for (j = 0; j < RNN_H; ++j) {
                        int wrow = d * G * RNN_H + q * RNN_H + j;
                        double a = (double)rb[d * 2 * G * RNN_H + q * RNN_H + j], b = (double)rb[d * 2 * G * RNN_H + G * RNN_H + q * RNN_H + j];
                        for (k = 0; k < RNN_I; ++k) a += (double)rw[wrow * RNN_I + k] * (double)rx[(t * RNN_N + n) * RNN_I + k];
                        for (k = 0; k < RNN_H; ++k) b += (double)rr[wrow * RNN_H + k] * h[k];
                        gate[q][j] = a;
                        rgate[q][j] = b;
                    }
                }
                for (j = 0; j < RNN_H; ++j) {
                    if (G == 1) {
                        nh[j] = tanh(clip_to(clip, gate[0][j] + rgate[0][j]));
                        nc[j] = c[j];
                    } else if (lstm) {
                        const float *pp = rp + d * 3 * RNN_H;
                        double i = sigmoid(clip_to(clip, gate[0][j] + rgate[0][j] + (double)pp[j] * c[j]));
                        double f = sigmoid(clip_to(clip, gate[2][j] + rgate[2][j] + (double)pp[2 * RNN_H + j] * c[j]));
                        double g = tanh(clip_to(clip, gate[3][j] + rgate[3][j]));
                        double o;
                        nc[j] = f * c[j] + i * g;
                        o = sigmoid(clip_to(clip, gate[1][j] + rgate[1][j] + (double)pp[RNN_H + j] * nc[j]));
                        nh[j] = o * tanh(nc[j]);
                    } else {
                        double z = sigmoid(clip_to(clip, gate[0][j] + rgate[0][j])), cand;
                        if (linear) {
                            double r = sigmoid(clip_to(clip, gate[1][j] + rgate[1][j]));
                            cand = tanh(clip_to(clip, gate[2][j] + r * rgate[2][j]));
                        } else {
                            int wrow = d * G * RNN_H + 2 * RNN_H + j;
                            double a = (double)rb[d * 2 * G * RNN_H + G * RNN_H + 2 * RNN_H + j];
                            for (k = 0; k < RNN_H; ++k) a += (double)rr[wrow * RNN_H + k] * sigmoid(clip_to(clip, gate[1][k] + rgate[1][k])) * h[k];
                            cand = tanh(clip_to(clip, gate[2][j] + a));
                        }
                        nh[j] = (1 - z) * cand + z * h[j];
                        nc[j] = c[j];
                    }
                }
                for (j = 0; j < RNN_H; ++j) { h[j] = nh[j]; c[j] = nc[j]; want_y[((t * directions + d) * RNN_N + n) * RNN_H + j] = h[j]; }
            }
            for (j = 0; j < RNN_H; ++j) { want_h[(d * RNN_N + n) * RNN_H + j] = h[j]; want_c[(d * RNN_N + n) * RNN_H + j] = c[j]; }
        }
    }
}

static void test_recurrent(int gates, int directions, int linear, float clip, int with_lengths, int layout) {
    const int lstm = gates == 4;
    static const int32_t lengths[RNN_N] = {RNN_T, 3};
    whittle_rnn g;
    int i, t, n, d, j, bad = 0;
    for (i = 0; i < (int)(sizeof rx / sizeof *rx); ++i) rx[i] = 2 * random_float();
    for (i = 0; i < (int)(sizeof rw / sizeof *rw); ++i) rw[i] = random_float();
    for (i = 0; i < (int)(sizeof rr / sizeof *rr); ++i) rr[i] = random_float();
    for (i = 0; i < (int)(sizeof rb / sizeof *rb); ++i) rb[i] = 0.5f * random_float();
    for (i = 0; i < (int)(sizeof rp / sizeof *rp); ++i) rp[i] = lstm ? 0.5f * random_float() : 0.0f;
    for (i = 0; i < (int)(sizeof rh0 / sizeof *rh0); ++i) { rh0[i] = random_float(); rc0[i] = lstm ? random_float() : 0.0f; }
    reference_rnn(gates, directions, linear, (double)clip, with_lengths ? lengths : NULL);
    memset(&g, 0, sizeof g);
    g.steps = RNN_T; g.batch = RNN_N; g.input = RNN_I; g.hidden = RNN_H; g.directions = directions; g.layout = layout;
    g.gates = gates; g.linear_before_reset = linear; g.clip = clip;
    /* ONNX's defaults: Sigmoid, Tanh(, Tanh) per direction; Tanh for RNN. */
    for (i = 0; i < 6; ++i) g.activation[i] = (unsigned char)(gates == 1 ? 1 : lstm ? (i % 3 == 0 ? 0 : 1) : (i % 2 == 0 ? 0 : 1));
    /* Layout 1 reads X as [batch][steps][input]: give it the same data transposed. */
    for (t = 0; t < RNN_T; ++t)
        for (n = 0; n < RNN_N; ++n)
            for (i = 0; i < RNN_I; ++i) rx1[(n * RNN_T + t) * RNN_I + i] = rx[(t * RNN_N + n) * RNN_I + i];
    if (layout == 1) {
        /* The initial states too: [batch][directions][hidden]. */
        static float h1[2 * RNN_N * RNN_H], c1[2 * RNN_N * RNN_H];
        for (d = 0; d < directions; ++d)
            for (n = 0; n < RNN_N; ++n)
                for (j = 0; j < RNN_H; ++j) {
                    h1[(n * directions + d) * RNN_H + j] = rh0[(d * RNN_N + n) * RNN_H + j];
                    c1[(n * directions + d) * RNN_H + j] = rc0[(d * RNN_N + n) * RNN_H + j];
                }
        whittle_recurrent_f32(&g, rx1, rw, rr, rb, with_lengths ? lengths : NULL, h1, lstm ? c1 : NULL, lstm ? rp : NULL, ry, ryh,
                              lstm ? ryc : NULL, rscratch);
    } else {
        whittle_recurrent_f32(&g, rx, rw, rr, rb, with_lengths ? lengths : NULL, rh0, lstm ? rc0 : NULL, lstm ? rp : NULL, ry, ryh,
                              lstm ? ryc : NULL, rscratch);
    }
    for (t = 0; t < RNN_T; ++t)
        for (d = 0; d < directions; ++d)
            for (n = 0; n < RNN_N; ++n)
                for (j = 0; j < RNN_H; ++j) {
                    int at = layout == 0 ? ((t * directions + d) * RNN_N + n) * RNN_H + j : ((n * RNN_T + t) * directions + d) * RNN_H + j;
                    if (fabs((double)ry[at] - want_y[((t * directions + d) * RNN_N + n) * RNN_H + j]) > 2e-5) ++bad;
                }
    for (d = 0; d < directions; ++d)
        for (n = 0; n < RNN_N; ++n)
            for (j = 0; j < RNN_H; ++j) {
                int at = layout == 0 ? (d * RNN_N + n) * RNN_H + j : (n * directions + d) * RNN_H + j;
                if (fabs((double)ryh[at] - want_h[(d * RNN_N + n) * RNN_H + j]) > 2e-5) ++bad;
                if (lstm && fabs((double)ryc[at] - want_c[(d * RNN_N + n) * RNN_H + j]) > 2e-5) ++bad;
            }
    check(bad == 0, lstm ? "whittle_recurrent_f32 (LSTM) values off:" : gates == 1 ? "whittle_recurrent_f32 (RNN) values off:"
                                                                        : "whittle_recurrent_f32 (GRU) values off:", bad);
}

/* ---- float16 and bfloat16 conversions, against double-precision arithmetic -------------- */

/* The nearest value of `unit` steps (ties to even by rint in the default rounding mode). */
static uint16_t reference_narrow(float x, int mantissa_bits, int bias, int min_exponent) {
    const uint16_t sign = signbit(x) ? (uint16_t)(1u << (mantissa_bits + (mantissa_bits == 10 ? 5 : 8))) : 0u;
    const double a = fabs((double)x);
    const int exponent_bits = mantissa_bits == 10 ? 5 : 8;
    const unsigned infinity = ((1u << exponent_bits) - 1u) << mantissa_bits;
    int e;
    double r;
    unsigned bits;
    if (x != x) return 0xFFFFu;
    if (a == 0.0) return sign;
    if (isinf(x)) return (uint16_t)(sign | infinity);
    frexp(a, &e);
    if (e - 1 >= min_exponent) {
        r = rint(ldexp(a, mantissa_bits - (e - 1)));
        bits = ((unsigned)(e - 1 + bias) << mantissa_bits) + (unsigned)r - (1u << mantissa_bits);
    } else {
        bits = (unsigned)rint(ldexp(a, mantissa_bits - min_exponent));
    }
    return (uint16_t)(sign | (bits >= infinity ? infinity : bits));
}

static int same_half(uint16_t got, uint16_t expected, unsigned infinity_bits) {
    const unsigned mask = 0x7FFFu;
    if (expected == 0xFFFFu) return (got & mask) > infinity_bits; /* NaN: any NaN */
    return got == expected;
}

static void test_half(void) {
    for (unsigned h = 0; h < 65536u; ++h) {
        const unsigned exponent = (h >> 10) & 0x1Fu, mantissa = h & 0x3FFu;
        const float f = whittle_f16_to_f32((uint16_t)h);
        double expected;
        if (exponent == 0x1Fu) {
            check(mantissa ? f != f : (isinf(f) && (signbit(f) != 0) == ((h & 0x8000u) != 0)), "f16 special", (long)h);
            continue;
        }
        expected = exponent ? ldexp(1024.0 + mantissa, (int)exponent - 25) : ldexp((double)mantissa, -24);
        if (h & 0x8000u) expected = -expected;
        check((double)f == expected && (signbit(f) != 0) == ((h & 0x8000u) != 0), "f16 to f32", (long)h);
        check(whittle_f32_to_f16(f) == h, "f16 round trip", (long)h);
        check(whittle_f32_to_bf16(whittle_bf16_to_f32((uint16_t)h)) == h || (h & 0x7F80u) == 0x7F80u, "bf16 round trip", (long)h);
    }
    for (long i = 0; i < 300000; ++i) {
        /* Random bit patterns, and values near the half range's edges and ties. */
        uint32_t bits = next();
        float x;
        if (i % 3 == 1) bits = (bits & 0x80000000u) | (0x33000000u + (bits & 0x0FFFFFFFu) % 0x14800000u);
        if (i % 3 == 2) bits = (bits & 0x80001000u) | (0x38000000u + (bits & 0x0FFFE000u) % 0x0F800000u);
        memcpy(&x, &bits, sizeof x);
        check(same_half(whittle_f32_to_f16(x), reference_narrow(x, 10, 15, -14), 0x7C00u), "f32 to f16", (long)bits);
        check(same_half(whittle_f32_to_bf16(x), reference_narrow(x, 7, 127, -126), 0x7F80u), "f32 to bf16", (long)bits);
    }
}

/* ---- 8- and 4-bit floats: every code round-trips; encoding picks the nearest code --------- */

static void test_minifloat(void) {
    for (int f = 0; f < 5; ++f) {
        const int codes = f == 4 ? 16 : 256;
        float largest = 0.0f;
        for (int c = 0; c < codes; ++c) {
            const float v = whittle_minifloat_to_f32((uint8_t)c, f);
            if (v != v) {
                const float again = whittle_minifloat_to_f32(whittle_f32_to_minifloat(v, f, 0, 0), f);
                check(again != again || f == 4, "minifloat NaN", (long)(f * 1000 + c));
                continue;
            }
            if (v > largest && !isinf(v)) largest = v;
            /* FNUZ formats have no negative zero: 0x80 is their NaN, handled above. */
            check(whittle_f32_to_minifloat(v, f, 0, 0) == c, "minifloat round trip", (long)(f * 1000 + c));
        }
        for (long i = 0; i < 20000; ++i) {
            const float x = (float)((int32_t)(next() >> 1) - (1 << 30)) / (float)(1 << 30) * largest * 1.2f;
            const uint8_t code = whittle_f32_to_minifloat(x, f, 1, 0);
            const float got = whittle_minifloat_to_f32(code, f);
            const float target = x > largest ? largest : (x < -largest ? -largest : x);
            /* No representable value is nearer: check against every code. */
            int nearest = 1;
            for (int c = 0; c < codes; ++c) {
                const float other = whittle_minifloat_to_f32((uint8_t)c, f);
                if (other == other && fabsf(other - target) < fabsf(got - target)) nearest = 0;
            }
            check(nearest, "minifloat nearest", (long)(f * 1000000 + i));
        }
    }
    /* E8M0 rounds the exponent up by default: 0.124 -> 0.125, 1.1 -> 2; 0 is the smallest power, 2^-127. */
    check(whittle_minifloat_to_f32(whittle_f32_to_minifloat(0.124f, 5, 1, 0), 5) == 0.125f, "e8m0 up", 0);
    check(whittle_minifloat_to_f32(whittle_f32_to_minifloat(1.1f, 5, 1, 0), 5) == 2.0f, "e8m0 up", 1);
    check(whittle_minifloat_to_f32(whittle_f32_to_minifloat(1.1f, 5, 1, 1), 5) == 1.0f, "e8m0 down", 2);
    check(whittle_f32_to_minifloat(0.0f, 5, 1, 0) == 0, "e8m0 zero", 3);
    /* Beyond the range without saturation: E4M3FN gives NaN, E5M2 infinity. */
    check(whittle_minifloat_to_f32(whittle_f32_to_minifloat(1e6f, 0, 0, 0), 0) != whittle_minifloat_to_f32(whittle_f32_to_minifloat(1e6f, 0, 0, 0), 0), "e4m3fn overflow", 4);
    check(isinf(whittle_minifloat_to_f32(whittle_f32_to_minifloat(1e6f, 2, 0, 0), 2)), "e5m2 overflow", 5);
    check(whittle_minifloat_to_f32(whittle_f32_to_minifloat(1e6f, 0, 1, 0), 0) == 448.0f, "e4m3fn saturates", 6);
}

int main(void) {
    test_requantize();
    test_half();
    test_minifloat();
    /* gates (4 LSTM, 3 GRU, 1 RNN), directions, linear_before_reset, clip, sequence lengths, layout */
    test_recurrent(4, 1, 0, 0.0f, 0, 0);
    test_recurrent(4, 2, 0, 0.8f, 1, 0);
    test_recurrent(4, 2, 0, 0.0f, 1, 1);
    test_recurrent(3, 1, 0, 0.0f, 0, 0);
    test_recurrent(3, 2, 1, 0.0f, 1, 0);
    test_recurrent(3, 2, 0, 0.5f, 1, 1);
    test_recurrent(1, 1, 0, 0.0f, 0, 0);
    test_recurrent(1, 2, 0, 0.6f, 1, 1);
    test_gemv(4, 600, 10);  /* gaps over 255 columns: fillers */
    test_gemv(3, 37, 50);
    test_gemv(4, 256, 100); /* dense rows */
    test_gemv(2, 9, 0);     /* empty rows */
    for (int percent = 0; percent <= 100; percent += 25) {
        test_conv(3, 11, 3, 1, 1, 1, percent);
        test_conv(2, 9, 3, 2, 1, 1, percent);
        test_conv(3, 10, 1, 1, 1, 0, percent);
        test_conv(1, 8, 5, 1, 1, 2, percent);
        test_conv(2, 11, 3, 2, 2, 3, percent); /* padding wider than the kernel reach */
        test_conv(3, 6, 5, 1, 1, 0, percent);  /* 2x1 output */
    }
    for (int integer = 0; integer < 2; ++integer) {
        for (int layout = 0; layout < 7; ++layout) {
            /* channels, map, output channels, kernel, stride, dilation, padding, uint8 in/out; paired int8, wide or tiled
             * weights, and the 4-bit forms */
            test_conv_s8(3, 9, 7, 5, 3, 3, 1, 1, 1, 0, 0, integer, 2000.0f, layout);   /* 27 taps: padded to 28 */
            test_conv_s8(4, 6, 5, 8, 1, 1, 1, 1, 0, 1, 1, integer, 400.0f, layout);    /* pointwise, 5-wide map */
            test_conv_s8(7, 5, 5, 3, 1, 1, 2, 1, 0, 0, 1, integer, 400.0f, layout);    /* strided pointwise, odd channels */
            test_conv_s8(2, 11, 9, 4, 3, 3, 2, 2, 3, 1, 0, integer, 800.0f, layout);   /* padding wider than the reach */
            test_conv_s8(1, 12, 6, 6, 4, 2, 2, 1, 1, 0, 0, integer, 300.0f, layout);   /* one channel, 4x2 window */
            test_conv_s8(5, 1, 1, 9, 1, 1, 1, 1, 0, 0, 0, integer, 100.0f, layout);    /* 1x1 map: one output pixel */
            test_conv_s8(3, 7, 7, 4, 3, 3, 1, 1, 1, 0, 0, integer, 2.0f, layout);      /* large multipliers: saturation */
            test_conv_s8(16, 5, 5, 7, 1, 1, 1, 1, 0, 0, 0, integer, 400.0f, layout);   /* 16 taps: two passes of eight */
            test_conv_s8(64, 5, 5, 12, 1, 1, 1, 1, 0, 0, 0, integer, 3000.0f, layout); /* kws-like pointwise: 25 pixels, 12 channels */
            test_conv_s8(4, 16, 16, 9, 3, 3, 1, 1, 1, 1, 0, integer, 1500.0f, layout); /* rows of 16: whole-row tiles, 9 channels */
            test_conv_s8(3, 9, 10, 17, 3, 3, 2, 1, 1, 0, 1, integer, 1500.0f, layout); /* stride 2, 17 channels: three blocks */
            test_conv_s8(3, 10, 20, 5, 3, 3, 1, 2, 2, 1, 1, integer, 1500.0f, layout); /* dilation 2, rows of 20 (tiles: a padded copy) */
            test_conv_s8(2, 9, 9, 9, 2, 2, 1, 1, 0, 0, 0, integer, 600.0f, layout);    /* no padding, rows of 8, 9 taps (odd) */
            test_conv_s8(3, 6, 15, 4, 1, 1, 1, 1, 1, 1, 0, integer, 300.0f, layout);   /* 1x1 with padding: rows of 17 */
            test_fully_connected_s8(1, 37, 9, 0, integer, layout);
            test_fully_connected_s8(3, 64, 10, 1, integer, layout);
            test_fully_connected_s8(2, 5, 1, 0, integer, layout);
        }
        /* channels, map, kernel, stride, dilation, padding */
        test_depthwise_s8(5, 25, 5, 3, 3, 1, 1, 1, integer, 0);
        test_depthwise_s8(3, 8, 9, 3, 3, 2, 1, 1, integer, 0);
        test_depthwise_s8(2, 7, 6, 3, 3, 1, 1, 0, integer, 0);
        test_depthwise_s8(3, 9, 8, 5, 3, 1, 1, 2, integer, 0);
        test_depthwise_s8(2, 9, 9, 3, 3, 1, 2, 3, integer, 0);
        test_depthwise_s8(4, 1, 1, 3, 3, 1, 1, 1, integer, 0);
        /* the flat 3x3 kernel (stride 1, padding 1): widths below, at and above eight, odd planes */
        test_depthwise_s8(5, 25, 5, 3, 3, 1, 1, 1, integer, 1);
        test_depthwise_s8(3, 8, 9, 3, 3, 1, 1, 1, integer, 1);
        test_depthwise_s8(2, 7, 8, 3, 3, 1, 1, 1, integer, 1);
        test_depthwise_s8(3, 5, 3, 3, 3, 1, 1, 1, integer, 1);
        test_depthwise_s8(2, 6, 1, 3, 3, 1, 1, 1, integer, 1);
        test_depthwise_s8(4, 1, 1, 3, 3, 1, 1, 1, integer, 1);
        test_depthwise_s8(2, 12, 17, 3, 3, 1, 1, 1, integer, 1);
        test_depthwise_s8_bias(3, 6, 7, 3, 3, 1, 1, 1, integer, 1, 20000); /* biases beyond 2^23 */
        /* 4-bit filters (flat 2: the general kernel, 3: the flat one): odd taps per channel */
        test_depthwise_s8(5, 25, 5, 3, 3, 1, 1, 1, integer, 2);
        test_depthwise_s8(3, 9, 8, 5, 3, 1, 1, 2, integer, 2);
        test_depthwise_s8(3, 8, 9, 3, 3, 2, 1, 1, integer, 2);
        test_depthwise_s8(5, 25, 5, 3, 3, 1, 1, 1, integer, 3);
        test_depthwise_s8(2, 12, 17, 3, 3, 1, 1, 1, integer, 3);
        /* 16-bit activations: channels, map, output channels, kernel, stride, dilation, padding, relu, layout */
        for (int relu = 0; relu < 2; ++relu) {
            for (int layout = 0; layout < 2; ++layout) {
                test_conv_s16(1, 49, 10, 6, 10, 4, 2, 1, 4, integer, relu, layout);  /* kws's first layer: 40 taps, one channel */
                test_conv_s16(64, 5, 5, 13, 1, 1, 1, 1, 0, integer, relu, layout);   /* pointwise, odd output channels */
                test_conv_s16(3, 9, 7, 5, 3, 3, 2, 2, 3, integer, relu, layout);     /* padding wider than the reach, 27 taps */
            }
            test_fully_connected_s16(1, 64, 12, integer, relu);
            test_fully_connected_s16(3, 37, 5, integer, relu);
            test_depthwise_s16(5, 25, 5, 3, 3, 1, 1, 1, integer, relu);   /* kws's depthwise layers: odd width */
            test_depthwise_s16(3, 8, 8, 3, 3, 1, 1, 1, integer, relu);
            test_depthwise_s16(3, 9, 8, 3, 3, 2, 1, 1, integer, relu);    /* stride 2 */
            test_depthwise_s16(2, 9, 9, 5, 3, 1, 2, 3, integer, relu);    /* 5x3, dilation 2 */
            test_depthwise_s16(4, 1, 1, 3, 3, 1, 1, 1, integer, relu);
        }
        /* channels, pixels, output channels, percent pruned, uint8 in/out */
        test_sparse_pointwise_s8(64, 61, 12, 75, 0, 0, integer, 0);  /* 64 channels: blocks of eight and a tail of five */
        test_sparse_pointwise_s8(70, 16, 5, 50, 1, 1, integer, 0);   /* three mask words, uint8 */
        test_sparse_pointwise_s8(5, 7, 3, 30, 1, 0, integer, 0);     /* tail only */
        test_sparse_pointwise_s8(33, 24, 4, 100, 0, 1, integer, 0);  /* every weight pruned: the bias alone */
        test_sparse_pointwise_s8(32, 9, 7, 0, 0, 0, integer, 0);     /* dense rows, one full word */
        test_sparse_pointwise_s8(40, 8, 3, 90, 0, 0, integer, 0);
        test_sparse_pointwise_s8(16, 70, 3, 60, 1, 0, integer, 0);   /* 32, 32 and an overlapping 32 */
        test_sparse_pointwise_s8(9, 40, 5, 40, 0, 1, integer, 0);    /* 32 and an overlapping 32 */
        test_sparse_pointwise_s8(20, 130, 6, 70, 1, 1, integer, 0);  /* 64, 64 and an overlapping 64 */
        test_sparse_pointwise_s8(37, 133, 9, 50, 0, 0, integer, 1);  /* extreme inputs and weights, odd counts */
        test_sparse_pointwise_s8(37, 133, 9, 50, 1, 1, integer, 1);
        test_sparse_pointwise_s8(24, 8, 4, 40, 1, 0, integer, 1);
        test_sparse_pointwise_s8(3, 32800, 2, 30, 1, 0, integer, 0); /* planes 64 KiB apart */
    }
    /* channels, map, output channels, kernel, stride, dilation, padding; blocked (4) or tiled (8) weights */
    for (int tiles = 0; tiles < 2; ++tiles) {
        test_conv_f32(3, 9, 7, 5, 3, 3, 1, 1, 1, tiles);   /* odd output channels: a padded block */
        test_conv_f32(4, 6, 5, 8, 1, 1, 1, 1, 0, tiles);   /* pointwise, 5-wide map */
        test_conv_f32(8, 6, 6, 8, 1, 1, 1, 1, 0, tiles);   /* pointwise, input up to the guard page (GCC 12 once read past it) */
        test_conv_f32(16, 4, 4, 4, 1, 1, 1, 1, 0, tiles);
        test_conv_f32(7, 5, 5, 3, 1, 1, 2, 1, 0, tiles);   /* strided 1x1: im2col */
        test_conv_f32(2, 11, 9, 4, 3, 3, 2, 2, 3, tiles);  /* padding wider than the reach */
        test_conv_f32(1, 12, 6, 6, 4, 2, 2, 1, 1, tiles);
        test_conv_f32(5, 1, 1, 9, 1, 1, 1, 1, 0, tiles);   /* 1x1 map: one pixel */
        test_conv_f32(3, 3, 3, 2, 3, 3, 1, 1, 1, tiles);   /* 9 pixels: a last single one */
        test_conv_f32(16, 16, 16, 9, 3, 3, 1, 1, 1, tiles);  /* rows of 16: whole-row tiles, 9 channels */
        test_conv_f32(64, 5, 5, 12, 1, 1, 1, 1, 0, tiles);   /* kws-like pointwise: 25 pixels */
        test_conv_f32(3, 9, 10, 17, 3, 3, 2, 1, 1, tiles);   /* stride 2, 17 channels: three blocks */
        test_conv_f32(3, 10, 20, 5, 3, 3, 1, 2, 2, tiles);   /* dilation 2, rows of 20: a padded copy, a short last tile */
        test_conv_f32(2, 9, 9, 9, 2, 2, 1, 1, 0, tiles);     /* no padding, rows of 8 */
        test_conv_f32(3, 6, 15, 4, 1, 1, 1, 1, 1, tiles);    /* 1x1 with padding: rows of 17 */
    }
    test_fully_connected_f32(1, 37, 9);
    test_fully_connected_f32(3, 64, 10);
    test_fully_connected_f32(2, 5, 1);
    test_depthwise_f32(5, 25, 5, 3, 3, 1, 1, 1, 0);
    test_depthwise_f32(3, 8, 9, 3, 3, 2, 1, 1, 0);
    test_depthwise_f32(2, 16, 16, 3, 3, 2, 1, 1, 0);  /* stride 2: whole vectors of four */
    test_depthwise_f32(2, 9, 7, 3, 3, 2, 1, 0, 0);    /* stride 2 without padding, odd sizes */
    test_depthwise_f32(2, 7, 6, 3, 3, 1, 1, 0, 0);
    test_depthwise_f32(3, 9, 8, 5, 3, 1, 1, 2, 0);
    test_depthwise_f32(2, 9, 9, 3, 3, 1, 2, 3, 0);
    test_depthwise_f32(4, 1, 1, 3, 3, 1, 1, 1, 0);
    /* the flat 3x3 kernel (stride 1, padding 1): widths below, at and above four and eight, odd planes */
    test_depthwise_f32(5, 25, 5, 3, 3, 1, 1, 1, 1);
    test_depthwise_f32(3, 8, 9, 3, 3, 1, 1, 1, 1);
    test_depthwise_f32(2, 7, 4, 3, 3, 1, 1, 1, 1);
    test_depthwise_f32(3, 5, 3, 3, 3, 1, 1, 1, 1);
    test_depthwise_f32(2, 6, 1, 3, 3, 1, 1, 1, 1);
    test_depthwise_f32(4, 1, 1, 3, 3, 1, 1, 1, 1);
    test_depthwise_f32(2, 12, 17, 3, 3, 1, 1, 1, 1);
    for (int ternary = 0; ternary < 2; ++ternary) {
        test_binary(3, 1, 1, ternary);
        test_binary(3, 2, 0, ternary);
        test_binary(1, 1, 0, ternary);
        test_binary(3, 1, 2, ternary); /* padding wider than the window's reach */
    }
    put("kernels: ");
    put_int(passed);
    put(" passed, ");
    put_int(failed);
    put(" failed\n");
    return failed != 0;
}
