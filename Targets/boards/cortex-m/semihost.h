/* Arm semihosting: console output and exit status through the debugger (QEMU). */
#ifndef WHITTLE_SEMIHOST_H
#define WHITTLE_SEMIHOST_H
#include <stdint.h>

#define SH_SYS_WRITE0 0x04
#define SH_SYS_EXIT_EXTENDED 0x20
#define SH_APPLICATION_EXIT 0x20026

static inline uintptr_t semihost_call(uintptr_t op, uintptr_t arg) {
    register uintptr_t r0 __asm__("r0") = op;
    register uintptr_t r1 __asm__("r1") = arg;
    __asm__ volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}

static inline void sh_puts(const char *s) { semihost_call(SH_SYS_WRITE0, (uintptr_t)s); }

/* SYS_EXIT_EXTENDED carries a status on 32-bit cores; QEMU exits with it. */
static inline __attribute__((noreturn)) void sh_exit(int status) {
    uintptr_t block[2] = {SH_APPLICATION_EXIT, (uintptr_t)status};
    semihost_call(SH_SYS_EXIT_EXTENDED, (uintptr_t)block);
    for (;;) {}
}

void sh_put_int(long value);
/* Prints a float with 6 decimals, without printf. */
void sh_put_float(float value);
#endif
