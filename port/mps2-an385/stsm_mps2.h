/* mps2-an385 platform services used by the firmware's boot code. */
#ifndef STSM_MPS2_H
#define STSM_MPS2_H

/** Exit status when a fault handler ends the firmware. */
#define STSM_MPS2_EXIT_FAULT 70

/** Enables UART0 as the console. Call first in main(). */
void stsm_mps2_console_init(void);

/** Writes a NUL-terminated string to the console ("\n" becomes "\r\n"). */
void stsm_mps2_console_puts(const char *text);

/**
 * Ends the program with `status` through Arm semihosting (SYS_EXIT_EXTENDED), which QEMU
 * turns into its own exit status. On hardware without a debugger attached the BKPT
 * would fault, so a product build parks the core instead.
 */
__attribute__((noreturn)) void stsm_mps2_exit(int status);

#endif /* STSM_MPS2_H */
