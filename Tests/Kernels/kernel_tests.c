/* kernel_tests.c: the kernel library tested on its own, against plain dense loops.
 *
 * Built with every compiler Whittle targets (host gcc/clang under sanitizers, the Raspberry Pi
 * cross compilers under qemu-user, arm-none-eabi-gcc under qemu-system-arm with semihosting);
 * prints one line per failure and a closing "kernels: N passed, M failed" line, and exits with
 * the number of failures. REQUANTIZE_CASES sets how many random requantizations are checked.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>
#include "whittle_kernels.h"

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
        int32_t acc = (int32_t)(bits >> 1) >> (int)(bits % 24u);
        if (bits & 1u) acc = -acc;
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

int main(void) {
    test_requantize();
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
