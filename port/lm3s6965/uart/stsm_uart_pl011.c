#include <string.h>

#include "stsm_uart.h"

#define UART_REG(base, offset) (*(volatile uint32_t *)((base) + (offset)))
#define UARTDR   0x000u
#define UARTFR   0x018u
#define UARTIBRD 0x024u
#define UARTFBRD 0x028u
#define UARTLCRH 0x02Cu
#define UARTCTL  0x030u

#define FR_TXFF     (1u << 5)
#define LCRH_FEN    (1u << 4)
#define LCRH_WLEN_8 (3u << 5)
#define CTL_UARTEN  (1u << 0)
#define CTL_TXE     (1u << 8)

void stsm_uart_init(uintptr_t base, uint32_t baud_divisor)
{
    if (baud_divisor < 16u) {
        baud_divisor = 16u;
    }
    /* The PL011 divides by 16 x (IBRD + FBRD / 64); the divisor is in units of 1/16. */
    UART_REG(base, UARTCTL) = 0;
    UART_REG(base, UARTIBRD) = baud_divisor / 16u;
    UART_REG(base, UARTFBRD) = (baud_divisor % 16u) * 4u;
    UART_REG(base, UARTLCRH) = LCRH_WLEN_8 | LCRH_FEN;   /* written last: it latches the divisors */
    UART_REG(base, UARTCTL) = CTL_UARTEN | CTL_TXE;
}

static void uart_putc(uintptr_t base, char c)
{
    while (UART_REG(base, UARTFR) & FR_TXFF) {
    }
    UART_REG(base, UARTDR) = (uint8_t)c;
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
    stsm_uart_write(base, text, strlen(text));
}
