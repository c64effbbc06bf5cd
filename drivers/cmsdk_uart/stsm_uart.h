/*
 * Arm CMSDK APB UART (the console UARTs of the MPS2 boards), transmit side, polled.
 * Register layout from the Cortex-M System Design Kit TRM: DATA 0x00, STATE 0x04,
 * CTRL 0x08, INTSTATUS 0x0C, BAUDDIV 0x10.
 */
#ifndef STSM_UART_H
#define STSM_UART_H

#include <stddef.h>
#include <stdint.h>

/** UART0 of mps2-an385. */
#define STSM_UART0_BASE 0x40004000u

/**
 * Enables the transmitter. `baud_divisor` is the peripheral clock divided by the baud
 * rate (at least 16); QEMU ignores it, real hardware does not.
 */
void stsm_uart_init(uintptr_t base, uint32_t baud_divisor);

/** Writes `len` bytes, waiting while the transmit buffer is full. "\n" is sent as "\r\n". */
void stsm_uart_write(uintptr_t base, const char *text, size_t len);

/** Writes a NUL-terminated string (see stsm_uart_write). */
void stsm_uart_puts(uintptr_t base, const char *text);

#endif /* STSM_UART_H */
