/* Cortex-M startup: vector table, .data copy, .bss clear, FPU enable, main(),
 * and exit through semihosting with main's return value. */
#include <stdint.h>
#include "semihost.h"

extern uint32_t _sidata[], _sdata[], _edata[], _sbss[], _ebss[], _estack[];
int main(void);

void Reset_Handler(void);
void Fault_Handler(void);
void Default_Handler(void);

void Fault_Handler(void) { sh_puts("FAULT\n"); sh_exit(99); }
void Default_Handler(void) { sh_puts("UNEXPECTED INTERRUPT\n"); sh_exit(98); }

__attribute__((section(".isr_vector"), used))
const void *const vector_table[16] = {
    _estack, (const void *)Reset_Handler, (const void *)Default_Handler, (const void *)Fault_Handler,
    (const void *)Fault_Handler, (const void *)Fault_Handler, (const void *)Fault_Handler,
    0, 0, 0, 0,
    (const void *)Default_Handler, (const void *)Default_Handler, 0,
    (const void *)Default_Handler, (const void *)Default_Handler,
};

__attribute__((noreturn)) void Reset_Handler(void) {
    uint32_t *source, *destination;
#if defined(__ARM_FP)
    /* Full access to CP10/CP11 before any floating-point instruction. */
    *(volatile uint32_t *)0xE000ED88 |= (0xFu << 20);
    __asm__ volatile("dsb\n\tisb" ::: "memory");
#endif
    for (source = _sidata, destination = _sdata; destination < _edata;) *destination++ = *source++;
    for (destination = _sbss; destination < _ebss;) *destination++ = 0;
    sh_exit(main());
}
