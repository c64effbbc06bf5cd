/*
 * The LM3S6965's UARTs (an Arm PL011 with TI's additions), transmit side, polled. The same
 * interface as drivers/cmsdk_uart, so the console code of the Cortex-M ports
 * (port/cortex-m/stsm_mcu_console.c) drives either. Registers from the LM3S6965 data sheet: UARTDR
 * 0x000, UARTFR 0x018, UARTIBRD 0x024, UARTFBRD 0x028, UARTLCRH 0x02C, UARTCTL 0x030.
 */
#ifndef STSM_UART_H
#define STSM_UART_H

#include <stddef.h>
#include <stdint.h>

/** UART0 of the LM3S6965 (the EVB's virtual COM port; QEMU's -serial). */
#define STSM_UART0_BASE 0x4000C000u

/**
 * Sets 8N1 at `baud_divisor` (the UART clock divided by the baud rate, at least 16;
 * QEMU ignores it, real hardware does not) and enables the transmitter. The UART's clock
 * and its pins (PA0, PA1) must be enabled first (stsm_lm3s_system.c does it).
 */
void stsm_uart_init(uintptr_t base, uint32_t baud_divisor);

/** Writes `len` bytes, waiting while the transmit FIFO is full. "\n" is sent as "\r\n". */
void stsm_uart_write(uintptr_t base, const char *text, size_t len);

/** Writes a NUL-terminated string (see stsm_uart_write). */
void stsm_uart_puts(uintptr_t base, const char *text);

#endif /* STSM_UART_H */
