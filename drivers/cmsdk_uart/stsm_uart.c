#include "stsm_uart.h"

#define UART_REG(base, offset) (*(volatile uint32_t *)((base) + (offset)))
#define UART_DATA     0x00u
#define UART_STATE    0x04u
#define UART_CTRL     0x08u
#define UART_BAUDDIV  0x10u

#define STATE_TX_FULL 0x1u
#define CTRL_TX_EN    0x1u

void stsm_uart_init(uintptr_t base, uint32_t baud_divisor)
{
    UART_REG(base, UART_BAUDDIV) = baud_divisor < 16u ? 16u : baud_divisor;
    UART_REG(base, UART_CTRL) |= CTRL_TX_EN;
}

static void uart_putc(uintptr_t base, char c)
{
    while (UART_REG(base, UART_STATE) & STATE_TX_FULL) {
    }
    UART_REG(base, UART_DATA) = (uint8_t)c;
}

void stsm_uart_write(uintptr_t base, const char *text, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (text[i] == '\n') {
            uart_putc(base, '\r');
        }
        uart_putc(base, text[i]);
    }
}

void stsm_uart_puts(uintptr_t base, const char *text)
{
    size_t len = 0;
    while (text[len] != '\0') {
        len++;
    }
    stsm_uart_write(base, text, len);
}
