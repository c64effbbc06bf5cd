/* Console output of the mps2-an385 firmware: UART0, used by the boot code and by lwIP's
 * diagnostics. */
#include <stdarg.h>
#include <stdio.h>

#include "arch/cc.h"
#include "stsm_mps2.h"
#include "stsm_uart.h"

void stsm_mps2_console_init(void)
{
    /* 25 MHz peripheral clock / 115200 baud. */
    stsm_uart_init(STSM_UART0_BASE, 25000000u / 115200u);
}

void stsm_mps2_console_puts(const char *text)
{
    stsm_uart_puts(STSM_UART0_BASE, text);
}

void stsm_mps2_diagf(const char *fmt, ...)
{
    char line[160];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n > 0) {
        stsm_uart_write(STSM_UART0_BASE, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
    }
}

void stsm_mps2_assert_failed(const char *what, const char *file, int line)
{
    stsm_mps2_diagf("assertion \"%s\" failed at %s:%d\n", what, file, line);
    stsm_mps2_exit(STSM_MPS2_EXIT_FAULT);
}
