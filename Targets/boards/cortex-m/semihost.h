/* Semihosting: console output and exit status through the debugger (QEMU). Arm's calls, and the
 * same calls on RISC-V (the RISC-V targets build with this folder's semihosting too). */
#ifndef WHITTLE_SEMIHOST_H
#define WHITTLE_SEMIHOST_H
#include <stdint.h>

#define SH_SYS_WRITE0 0x04
#define SH_SYS_EXIT_EXTENDED 0x20
#define SH_APPLICATION_EXIT 0x20026

#if defined(__riscv)
static inline uintptr_t semihost_call(uintptr_t op, uintptr_t arg) {
    register uintptr_t a0 __asm__("a0") = op;
    register uintptr_t a1 __asm__("a1") = arg;
    /* The RISC-V semihosting sequence: EBREAK between two marker instructions, uncompressed and
     * aligned so that the three share a page, as the debugger reads them. The alignment comes
     * before compressed instructions are turned off, so the linker may pad it with 2-byte no-ops. */
    __asm__ volatile(".balign 16\n.option push\n.option norvc\nslli zero, zero, 0x1f\nebreak\nsrai zero, zero, 7\n.option pop"
                     : "+r"(a0) : "r"(a1) : "memory");
    return a0;
}
#else
static inline uintptr_t semihost_call(uintptr_t op, uintptr_t arg) {
    register uintptr_t r0 __asm__("r0") = op;
    register uintptr_t r1 __asm__("r1") = arg;
    __asm__ volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}
#endif

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
