/* Top-1 of the compiled digits model on the test set, on the host or on a Cortex-M under QEMU. */
#include "digits.h"
#include "test_set.h"

#ifdef WHITTLE_SEMIHOSTING
#include "semihost.h"
static void put(const char *s) { sh_puts(s); }
static void put_int(long v) { sh_put_int(v); }
#else
#include <stdio.h>
static void put(const char *s) { fputs(s, stdout); }
static void put_int(long v) { printf("%ld", v); }
#endif

int main(void) {
    static float out[DIGITS_OUTPUT_0_SIZE];
    long correct = 0;
    for (int i = 0; i < TEST_COUNT; ++i) {
        int best = 0;
        digits_run(test_x[i], out);
        for (int k = 1; k < DIGITS_OUTPUT_0_SIZE; ++k) if (out[k] > out[best]) best = k;
        correct += best == test_y[i];
    }
    put("top-1: ");
    put_int(correct);
    put(" of ");
    put_int(TEST_COUNT);
    put("\n");
    return 0;
}
