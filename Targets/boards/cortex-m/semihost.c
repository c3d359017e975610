#include "semihost.h"

void sh_put_int(long value) {
    char buffer[24];
    int i = 22;
    unsigned long u = value < 0 ? 0ul - (unsigned long)value : (unsigned long)value;
    buffer[23] = 0;
    do { buffer[i--] = (char)('0' + u % 10); u /= 10; } while (u);
    if (value < 0) buffer[i--] = '-';
    sh_puts(&buffer[i + 1]);
}

void sh_put_float(float value) {
    long whole, fraction;
    char digits[7];
    int i;
    if (value != value) { sh_puts("nan"); return; }
    if (value < 0) { sh_puts("-"); value = -value; }
    whole = (long)value;
    fraction = (long)((value - (float)whole) * 1000000.0f + 0.5f);
    if (fraction >= 1000000) { whole++; fraction -= 1000000; }
    sh_put_int(whole);
    sh_puts(".");
    for (i = 5; i >= 0; i--) { digits[i] = (char)('0' + fraction % 10); fraction /= 10; }
    digits[6] = 0;
    sh_puts(digits);
}
