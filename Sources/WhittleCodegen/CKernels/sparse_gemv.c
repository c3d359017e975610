/* sparse_gemv.c: matrix-vector products with delta-row sparse weights (see whittle_kernels.h). */
#include "whittle_kernels.h"

WHITTLE_KERNEL void whittle_sparse_gemv_f32(int rows, const uint16_t *count, const uint8_t *delta,
                                            const float *values, const float *x, float *y) {
    for (int r = 0; r < rows; ++r) {
        const float *at = x;
        float sum = 0.0f;
        for (int k = count[r]; k > 0; --k) {
            at += *delta++;
            sum += *values++ * *at;
        }
        y[r] = sum;
    }
}

/* Two loops, one per input type: int8 and uint8 activations both meet int8 weights. */
WHITTLE_KERNEL void whittle_sparse_gemv_s8(int rows, const uint16_t *count, const uint8_t *delta,
                                           const int8_t *values, const int8_t *x, int32_t x_zero, int32_t *acc) {
    for (int r = 0; r < rows; ++r) {
        const int8_t *at = x;
        int32_t sum = 0, weights = 0;
        for (int k = count[r]; k > 0; --k) {
            const int32_t w = *values++;
            at += *delta++;
            sum += (int32_t)*at * w;
            weights += w;
        }
        /* sum of (x - x_zero) * w, with x_zero taken out of the loop */
        acc[r] += sum - x_zero * weights;
    }
}

WHITTLE_KERNEL void whittle_sparse_gemv_u8(int rows, const uint16_t *count, const uint8_t *delta,
                                           const int8_t *values, const uint8_t *x, int32_t x_zero, int32_t *acc) {
    for (int r = 0; r < rows; ++r) {
        const uint8_t *at = x;
        int32_t sum = 0, weights = 0;
        for (int k = count[r]; k > 0; --k) {
            const int32_t w = *values++;
            at += *delta++;
            sum += (int32_t)*at * w;
            weights += w;
        }
        acc[r] += sum - x_zero * weights;
    }
}
