/* whittle_kernels.h: the hand-written C kernels that Whittle's generated code calls.
 *
 * Every kernel here is plain C99 with no allocation and no I/O. The generated per-layer
 * functions choose a kernel, bake the layer's constants (shapes, strides, scales, zero
 * points) into the call and give it memory from the planned arena.
 *
 * Build modes:
 *   - as a library (the kernel tests, or a user who wants them shared): compile the .c files
 *     of this folder; WHITTLE_KERNEL is empty and the kernels have external linkage;
 *   - inside a generated model: Whittle copies the definitions of the kernels a model uses
 *     into NAME.c after `#define WHITTLE_KERNEL static`, so the model stays one standalone
 *     translation unit and two models can be linked into one firmware.
 *
 * Sparse weights ("delta rows"): a sparse matrix is stored row by row. `count[r]` is the
 * number of entries of row r; each entry has a value and a one-byte step `delta`: the column
 * of a row's first entry is its delta, and each later entry's column is the previous column
 * plus its delta. A gap of 256 columns or more is bridged with filler entries (delta 255,
 * value 0), so one byte per entry indexes rows of any length. A convolution's row is one
 * output channel and its columns are the taps (c, kh, kw) of its group, flattened as
 * (c * kernel_h + kh) * kernel_w + kw.
 */
#ifndef WHITTLE_KERNELS_H
#define WHITTLE_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#ifndef WHITTLE_KERNEL
#define WHITTLE_KERNEL
#endif

/* Geometry of one 2-D convolution group (1-D convolutions use height 1). */
typedef struct {
    int channels;                /* input channels of one group */
    int height, width;           /* input map */
    int out_height, out_width;   /* output map */
    int kernel_h, kernel_w;
    int stride_h, stride_w;
    int dilation_h, dilation_w;
    int pad_top, pad_left;       /* taps before the map; the far side needs no number */
} whittle_conv_geometry;

/* Requantization of int32 sums to int8 (uint8, int16), per output channel m: rintf((float)acc * multiplier[m])
 * + zero saturated to [low, high]; with multiplier NULL the same value from mantissa[m] and
 * exponent[m] with integer arithmetic only (whittle_requantize). */
typedef struct {
    const float *multiplier;
    const uint32_t *mantissa;
    const int8_t *exponent;
    int32_t zero, low, high;
    int out_unsigned;            /* the output is uint8 with 1, int16 with 2 (else int8) */
    int bounded;                 /* float multipliers, and |acc * multiplier| <= 2^21 for every acc the layer can reach */
} whittle_requant;

/* requantize.c */

/* rintf((float)acc * M) computed with integers only, M = mantissa * 2^exponent with a 24-bit
 * mantissa: bit for bit what float32 arithmetic gives, for cores without an FPU. `acc` is 64-bit
 * for the sums of 16-bit activations that int32 cannot hold; the result saturates to int32. */
WHITTLE_KERNEL int32_t whittle_requantize(int64_t acc, uint32_t mantissa, int exponent);

/* sparse_gemv.c */

/* y[r] = sum of row r's entries times x at their columns, for r < rows (float). */
WHITTLE_KERNEL void whittle_sparse_gemv_f32(int rows, const uint16_t *count, const uint8_t *delta,
                                            const float *values, const float *x, float *y);

/* acc[r] += sum of row r's entries times (x - x_zero) at their columns (int8 weights, int8 or
 * uint8 inputs, exact int32 arithmetic). */
WHITTLE_KERNEL void whittle_sparse_gemv_s8(int rows, const uint16_t *count, const uint8_t *delta,
                                           const int8_t *values, const int8_t *x, int32_t x_zero, int32_t *acc);
WHITTLE_KERNEL void whittle_sparse_gemv_u8(int rows, const uint16_t *count, const uint8_t *delta,
                                           const int8_t *values, const uint8_t *x, int32_t x_zero, int32_t *acc);

/* sparse_conv.c */

/* out[oh][ow] += the sparse channel's taps applied to the input map of its group (float). `out`
 * is one output plane, already holding the bias; taps that fall into the padding are skipped. */
WHITTLE_KERNEL void whittle_sparse_conv_plane_f32(const whittle_conv_geometry *g, int count, const uint8_t *delta,
                                                  const float *values, const float *in, float *out);

/* acc[ow - ow_begin] += sum over the channel's taps of (x - x_zero) * w, for the outputs
 * ow_begin <= ow < ow_begin + ow_count of output row oh (int8 weights; taps in the padding add
 * nothing, as the padding holds x_zero). */
WHITTLE_KERNEL void whittle_sparse_conv_row_s8(const whittle_conv_geometry *g, int oh, int ow_begin, int ow_count, int count,
                                               const uint8_t *delta, const int8_t *values, const int8_t *in, int32_t x_zero,
                                               int32_t *acc);
WHITTLE_KERNEL void whittle_sparse_conv_row_u8(const whittle_conv_geometry *g, int oh, int ow_begin, int ow_count, int count,
                                               const uint8_t *delta, const int8_t *values, const uint8_t *in, int32_t x_zero,
                                               int32_t *acc);

/* conv_s8.c (int8 weights; SMLAD where the core has the DSP extension)
 *
 * Weights of whittle_conv_s8 and whittle_fully_connected_s8 ("paired rows"): each output
 * channel's taps in (c, kh, kw) order, zero-padded to k_padded, a multiple of 4; channels go in
 * pairs (m, m + 1) whose groups of four alternate, four taps of m then four of m + 1 (a last odd
 * channel alone), and each four is stored in the order 0, 2, 1, 3, the order in which the DSP's
 * SXTB16 unpacks a word into two pairs of halfwords. The pair of channel m starts at byte
 * m * k_padded. With `wide` set the weights are int16 in the same pairs and groups but each four
 * in the order 0, 1, 2, 3 (halfword pairs SMLAD takes as they are: twice the bytes, no unpacking);
 * the pair of channel m starts at halfword m * k_padded. The kernels' `form` says which: 0 int8,
 * 1 int16 (wide), 2 4-bit weights (values in [-8, 7]) two per byte: each group of eight bytes of
 * the int8 layout in one word whose byte j holds byte j in its high nibble and byte j + 4 in its
 * low one, so that masking the word in place gives four weights times 16 as signed bytes for
 * SXTB16; the channels are padded to an even count (a last odd channel's low nibbles are zero),
 * the pair of channel m starts at byte m * k_padded / 2, and k_padded must not exceed 65536 (the
 * DSP kernels sum 16 times the products in int32). */

/* rintf(v) for |v| <= 2^22, without calling rintf where float arithmetic is float32. */
WHITTLE_KERNEL float whittle_round_small(float v);

/* The requantized value of acc for output channel m, in [rq->low, rq->high]. */
WHITTLE_KERNEL int32_t whittle_requant_general(const whittle_requant *rq, int m, int32_t acc);

/* One image of one group, x int8 or uint8 (x_unsigned), y as rq says: y[m][oh][ow] =
 * requant(bias[m] + sum of (x - x_zero) * w over the taps inside the map), w int8, int16 or 4-bit
 * (`form` 0, 1, 2) in the layout above. `columns` is scratch of 2 * k_padded int16, 8-byte aligned. */
WHITTLE_KERNEL void whittle_conv_s8(const whittle_conv_geometry *g, int out_channels, const void *x, int x_unsigned,
                                    int32_t x_zero, const void *w, int form, const int32_t *bias, const whittle_requant *rq, void *y,
                                    int16_t *columns);

/* y[r][n] = requant(bias[n] + sum over k < depth of (x[r][k] - x_zero) * w[n][k]) for r < rows,
 * x and y as for whittle_conv_s8; `columns` is scratch of 2 * k_padded int16, 8-byte aligned. */
WHITTLE_KERNEL void whittle_fully_connected_s8(int rows, int depth, int out_features, const void *x, int x_unsigned,
                                               int32_t x_zero, const void *w, int form, const int32_t *bias, const whittle_requant *rq,
                                               void *y, int16_t *columns);

/* A 1x1 convolution with stride 1, no padding and one group on pruned weights ("bitmask rows"), x
 * int8 or uint8 (x_unsigned), y as rq says: y[m][p] = requant(bias[m] + sum over c of x[c][p] *
 * w[m][c]) for p < pixels. Row m of the weights is (channels + 31) / 32 words at masks + m * words,
 * bit c % 32 of word c / 32 set where w[m][c] is nonzero, and its nonzero weights follow those of
 * rows 0 .. m - 1 in `values`, in channel order. The bias is folded (bias[m] - x_zero * sum of
 * w[m]), so the inputs are multiplied as they are; every partial sum must fit int32. `offsets` is
 * scratch of `channels` + 2 int32. */
WHITTLE_KERNEL void whittle_sparse_pointwise_s8(int channels, int out_channels, int pixels, const void *x, int x_unsigned,
                                                const uint32_t *masks, const int8_t *values, const int32_t *bias,
                                                const whittle_requant *requant, void *y, int32_t *offsets);

/* Taps first .. first + count - 1 of 4-bit filters as bytes into `to`: tap i in the low nibble of
 * byte i / 2 when i is even, in its high nibble when i is odd. */
WHITTLE_KERNEL void whittle_unpack_filter4(const uint8_t *w, int first, int count, int8_t *to);

/* Depthwise (one filter of kernel_h * kernel_w int8 taps per channel, in natural order; with
 * `nibbles` 4-bit taps in the order whittle_unpack_filter4 reads), int8 in and out: y[c][oh][ow] =
 * requant(bias[c] + sum of (x - x_zero) * w[c] over the taps inside the map), given inner_bias[c] =
 * bias[c] - x_zero * (sum of w[c]). `padded` is scratch of padded_h * padded_w + 16 bytes (and
 * kernel_h * kernel_w more with `nibbles`), padded_h = (out_height - 1) * stride_h + (kernel_h - 1)
 * * dilation_h + 1 and padded_w = (out_width - 1) * stride_w + (kernel_w - 1) * dilation_w + 2. */
WHITTLE_KERNEL void whittle_depthwise_s8(const whittle_conv_geometry *g, const int8_t *x, int32_t x_zero, const void *w, int nibbles,
                                         const int32_t *inner_bias, const whittle_requant *rq, int8_t *y, int8_t *padded);

/* The 16x8 scheme (16-bit activations, int8 weights): whittle_conv_s8 and whittle_fully_connected_s8
 * for int16 inputs (zero point 0) and int16 outputs (rq->out_unsigned 2), weights in the same
 * layouts and forms; the compiler uses them only where no sum can leave int32. */
WHITTLE_KERNEL void whittle_conv_s16(const whittle_conv_geometry *g, int out_channels, const int16_t *x, const void *w, int form,
                                     const int32_t *bias, const whittle_requant *rq, int16_t *y, int16_t *columns);
WHITTLE_KERNEL void whittle_fully_connected_s16(int rows, int depth, int out_features, const int16_t *x, const void *w, int form,
                                                const int32_t *bias, const whittle_requant *rq, int16_t *y, int16_t *columns);

/* Depthwise with 16-bit activations: x int16 (zero point 0), one filter of kernel_h * kernel_w int8
 * taps per channel in natural order, y int16 as rq says (out_unsigned 2): y[c][oh][ow] =
 * requant(bias[c] + sum of x * w[c] over the taps inside the map). `padded` is scratch of padded_h
 * * padded_w + 8 int16 (padded_h, padded_w as for whittle_depthwise_s8), 4-byte aligned. */
WHITTLE_KERNEL void whittle_depthwise_s16(const whittle_conv_geometry *g, const int16_t *x, const int8_t *w, const int32_t *bias,
                                          const whittle_requant *rq, int16_t *y, int16_t *padded);

/* conv_tiles.c */

/* The tap offsets of a tiled convolution (whittle_conv_s8_tiles, whittle_conv_f32_tiles), whose
 * tiles read each tap of eight output pixels as eight consecutive elements: packed[t] = 8 * t (in
 * im2col columns) and in_place[t] = t * plane (in the input). Returns 0 for a pointwise layer that
 * keeps the map's size (it reads its input in place), else -1 (im2col columns), except for layers
 * with stride 1 whose rows have a multiple of 8 or at least 16 outputs: those get a padded copy of
 * the input in `work` (channels * (out_height + (kernel_h - 1) * dilation_h) * pitch elements of
 * `element` bytes, the padding's bytes `fill`), in_place[t] becomes tap t's offset in it, and the
 * pitch (out_width rounded up to a multiple of 8 + (kernel_w - 1) * dilation_w) is returned. */
WHITTLE_KERNEL int whittle_tile_taps(const whittle_conv_geometry *g, const void *x, int element, int fill, int32_t *in_place,
                                     int32_t *packed, void *work);

/* conv_s8_tiles.c (int8; AArch64 NEON, portable loops elsewhere)
 *
 * Weights of whittle_conv_s8_tiles and whittle_fully_connected_s8_tiles ("tiled"): int8, output
 * channels in blocks of eight (the last block zero-padded); a block holds the taps (c, kh, kw) (or
 * input features) in pairs, an odd count padded with a zero tap, and for each pair its eight
 * channels' two weights, each channel's adjacent: weight (i, t) of the block is at byte
 * (t / 2) * 16 + 2 * i + t % 2, and the block of channel m (a multiple of 8) starts at byte
 * m * taps_even. Widened to int16 in registers, adjacent pairs are one int32 for x86's PMADDWD;
 * NEON de-interleaves them with one load. With `quads` (the dot-product layout) the weights are int8, the taps
 * in quads (padded with zero taps) and each channel's four adjacent: weight (i, t) of a block at
 * byte (t / 4) * 32 + 4 * i + t % 4, the block of channel m at byte m * taps rounded up to 4; SDOT
 * (Armv8.2 dot product, the rpi5's Cortex-A76) adds four products per lane, uint8 inputs read as
 * x - 128 (their bias folds (x_zero - 128) instead of x_zero). Their bias is folded: bias[m] - x_zero *
 * (sum of w[m]), so the kernels multiply the input bytes as they are; every partial sum must fit
 * int32 (the compiler checks |bias| + 255 * sum |w| < 2^31). The kernels' `form` adds 1 for the
 * dot-product layout and 2 for 4-bit weights (values in [-8, 7]) two per byte, half the bytes in
 * the same places: in the tiled layout byte i of a pair of taps holds channel i's first weight in
 * its low nibble and its second in the high one; in the dot-product layout byte b of a quad holds
 * the int8 layout's byte b (channels 0-3) in its low nibble and byte b + 16 (channels 4-7) in the
 * high one. */

/* One image of one group, x int8 or uint8 (x_unsigned), y as rq says: y[m][oh][ow] =
 * requant(bias[m] + sum of x * w over the taps, taps in the padding reading x_zero). `scratch`
 * (4-byte aligned) holds 24 * taps + 16 bytes of tap offsets and of a tile's inputs widened to int16
 * (taps = channels * kernel_h * kernel_w), then
 * either a padded copy of the input, channels * (out_height + (kernel_h - 1) * dilation_h) * pitch
 * bytes with pitch = out_width rounded up to a multiple of 8 + (kernel_w - 1) * dilation_w, for
 * layers with stride 1 whose rows have a multiple of 8 or at least 16 outputs (other than a
 * pointwise layer that keeps the map's size), or else 8 * taps bytes of im2col columns. */
WHITTLE_KERNEL void whittle_conv_s8_tiles(const whittle_conv_geometry *g, int out_channels, const void *x, int x_unsigned,
                                          int32_t x_zero, const void *w, int form, const int32_t *bias, const whittle_requant *rq,
                                          void *y, uint8_t *scratch);

/* y[r][n] = requant(bias[n] + sum over k < depth of x[r][k] * w[n][k]) for r < rows, x and y as
 * for whittle_conv_s8_tiles, w in the tiled layout (`form` 0) or its 4-bit form (2). */
WHITTLE_KERNEL void whittle_fully_connected_s8_tiles(int rows, int depth, int out_features, const void *x, int x_unsigned,
                                                     const void *w, int form, const int32_t *bias, const whittle_requant *rq, void *y);

/* whittle_depthwise_s8 for 3x3 filters with stride 1, no dilation and one tap of padding on every
 * side (out_height = height, out_width = width), eight outputs of the flattened map at a time.
 * `padded` is scratch of 4 * ((height + 2) * width + 24) bytes, 4-byte aligned (the generic-vector
 * variant keeps the map as floats); w and `nibbles` as for whittle_depthwise_s8. */
WHITTLE_KERNEL void whittle_depthwise3x3_s8_flat(const whittle_conv_geometry *g, const int8_t *x, int32_t x_zero, const void *w, int nibbles,
                                                 const int32_t *inner_bias, const whittle_requant *rq, int8_t *y, int8_t *padded);

/* conv_f32.c (float; fused multiply-add where FP_FAST_FMAF, NEON on the Raspberry Pi)
 *
 * Weights of whittle_conv_f32 and whittle_fully_connected_f32 ("blocked"): output channels in
 * blocks of four (the last block zero-padded); a block holds, for each tap in (c, kh, kw) order,
 * its four channels' weights side by side, so block b starts at float 4 * b * taps. Biases hold
 * one value per channel of the padded count. */

/* One image of one group: y[m][oh][ow] = bias[m] + sum of x * w over the taps inside the map.
 * `columns` is scratch of 4 * channels * kernel_h * kernel_w floats. */
WHITTLE_KERNEL void whittle_conv_f32(const whittle_conv_geometry *g, int out_channels, const float *x, const float *w,
                                     const float *bias, float *y, float *columns);

/* y[r][n] = bias[n] + sum over k < depth of x[r][k] * w[n][k], for r < rows. */
WHITTLE_KERNEL void whittle_fully_connected_f32(int rows, int depth, int out_features, const float *x, const float *w,
                                                const float *bias, float *y);

/* Depthwise (one filter of kernel_h * kernel_w taps per channel, natural order): y[c][oh][ow] =
 * bias[c] + sum of x * w[c] over the taps inside the map. `padded` is scratch of padded_h *
 * padded_w + 16 floats, padded_h = (out_height - 1) * stride_h + (kernel_h - 1) * dilation_h + 1 (and
 * likewise padded_w). */
WHITTLE_KERNEL void whittle_depthwise_f32(const whittle_conv_geometry *g, const float *x, const float *w, const float *bias,
                                          float *y, float *padded);

/* conv_f32_tiles.c (float; AArch64 NEON, generic vectors with GCC and Clang, plain loops elsewhere)
 *
 * Weights of whittle_conv_f32_tiles ("tiled", float): output channels in blocks of eight (the last
 * block zero-padded); a block holds, for each tap in (c, kh, kw) order, its eight channels' weights
 * side by side, so the block of channel m (a multiple of 8) starts at float m * taps. The bias
 * holds one value per channel of the padded count. */

/* One image of one group: y[m][oh][ow] = bias[m] + sum of x * w over the taps inside the map.
 * `scratch` holds 2 * taps words of tap offsets (taps = channels * kernel_h * kernel_w), then, as for
 * whittle_conv_s8_tiles, a padded copy of the input (in floats) or 8 * taps floats of columns. */
WHITTLE_KERNEL void whittle_conv_f32_tiles(const whittle_conv_geometry *g, int out_channels, const float *x, const float *w,
                                           const float *bias, float *y, float *scratch);

/* whittle_depthwise_f32 for 3x3 filters with stride 1, no dilation and one tap of padding on every
 * side (out_height = height, out_width = width). `padded` is scratch of (height + 2) * width + 24
 * floats. */
WHITTLE_KERNEL void whittle_depthwise3x3_f32_flat(const whittle_conv_geometry *g, const float *x, const float *w, const float *bias,
                                                  float *y, float *padded);

/* binary.c */

/* Packs the signs of `channels` float planes of `pixels` values (NCHW, one image) into uint32
 * words per pixel, channel c at bit c % 32 of word c / 32: out[p * planes * words + k]. Bit set
 * where x >= 0 (sign(0) = +1); with `ternary`, plane 0 marks x > 0 and plane 1 x != 0. */
WHITTLE_KERNEL void whittle_bitpack_f32(int channels, int pixels, int ternary, const float *x, uint32_t *out);

/* Binary convolution of packed inputs x ([height][width][planes * words]) with packed ±1 weights
 * w ([out_channels][kernel_h * kernel_w * words], bit set: +1): for every output, dot = count -
 * 2 * popcount((x ^ w) & nonzero) over the taps inside the map, count = channels per tap (or the
 * nonzero inputs with `ternary`); y[m][oh][ow] = (float)dot * scale[m] + bias[m]. `patch` is
 * scratch of kernel_h * kernel_w * planes * words words. A Gemm is the 1x1 case on a 1x1 map. */
WHITTLE_KERNEL void whittle_binary_conv(const whittle_conv_geometry *g, int ternary, int out_channels, const uint32_t *x,
                                        const uint32_t *w, const float *scale, const float *bias, float *y, uint32_t *patch);

/* Float inputs x (one image, NCHW) with packed ±1 weights as for whittle_binary_conv: acc = sum
 * of +x or -x over channels, then kernel rows and columns (taps outside the map skipped), in that
 * order; y[m][oh][ow] = acc * scale[m] + bias[m]. */
WHITTLE_KERNEL void whittle_binary_weight_conv_f32(const whittle_conv_geometry *g, int out_channels, const float *x, const uint32_t *w,
                                                   const float *scale, const float *bias, float *y);

/* recurrent.c */

/* An RNN, LSTM or GRU layer as ONNX defines it. Gates, weights and biases in ONNX's order (LSTM
 * i, o, f, c; GRU z, r, h); per direction the functions f (RNN), f, g (GRU) or f, g, h (LSTM) with their alpha
 * and beta, numbered 0 Sigmoid, 1 Tanh, 2 Relu, 3 Affine, 4 LeakyRelu, 5 ThresholdedRelu,
 * 6 ScaledTanh, 7 HardSigmoid, 8 Elu, 9 Softsign, 10 Softplus. */
typedef struct {
    int steps, batch, input, hidden;
    int directions;              /* 1, or 2 for bidirectional */
    int reverse;                 /* one direction, run from the last step to the first */
    int layout;                  /* 0: X [steps][batch][input], Y [steps][directions][batch][hidden];
                                    1: X [batch][steps][input], Y [batch][steps][directions][hidden] */
    int gates;                   /* 4: LSTM, 3: GRU, 1: RNN */
    int linear_before_reset;     /* GRU: apply the reset gate after the recurrent product */
    int input_forget;            /* LSTM: couple the gates, f = 1 - i */
    float clip;                  /* clip every gate's input to [-clip, clip]; 0: no clipping */
    unsigned char activation[6];
    float alpha[6], beta[6];
} whittle_rnn;

/* One layer over the whole sequence. b (2 * gates * hidden per direction: W then R biases),
 * lengths (per batch entry; steps past a length give zeros in Y), h0, c0 and the LSTM peepholes
 * p (i, o, f per direction) may be NULL, as may any of the outputs y, yh (last hidden state) and
 * yc (last cell state). `scratch` holds (3 + 2 * gates) * hidden floats. */
WHITTLE_KERNEL void whittle_recurrent_f32(const whittle_rnn *g, const float *x, const float *w, const float *r, const float *b,
                                          const int32_t *lengths, const float *h0, const float *c0, const float *p,
                                          float *y, float *yh, float *yc, float *scratch);

/* float16 and bfloat16 tensors are stored as their bit patterns (uint16_t) and computed in float.
 * Widening is exact; narrowing rounds to nearest, ties to even, as ONNX's Cast does: values beyond
 * the largest finite one become infinities and NaN stays NaN. */
/* A float's bits, read and written through a union as C99 defines it (no library call needed). */
typedef union {
    float f;
    uint32_t u;
} whittle_float_bits;

WHITTLE_KERNEL float whittle_f16_to_f32(uint16_t bits);
WHITTLE_KERNEL uint16_t whittle_f32_to_f16(float value);
WHITTLE_KERNEL float whittle_bf16_to_f32(uint16_t bits);
WHITTLE_KERNEL uint16_t whittle_f32_to_bf16(float value);

/* The 8- and 4-bit floats, stored as their codes (uint8_t; E2M1 two to a byte, low nibble first).
 * Formats: 0 E4M3FN, 1 E4M3FNUZ, 2 E5M2, 3 E5M2FNUZ, 4 E2M1, 5 E8M0. Decoding is exact; encoding
 * rounds to nearest, ties to even (E8M0: round_mode 0 up, 1 down, 2 nearest) and, beyond the largest
 * value, saturates or gives infinity (E5M2) or NaN, as ONNX's Cast does. */
WHITTLE_KERNEL float whittle_minifloat_to_f32(uint8_t code, int format);
WHITTLE_KERNEL uint8_t whittle_f32_to_minifloat(float value, int format, int saturate, int round_mode);

#endif
