/* Console output of the Cortex-M firmware: the board's UART0 (stsm_uart.h), used by the
 * boot code and by lwIP's diagnostics. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "arch/cc.h"
#include "stsm_mcu.h"
#include "stsm_mcu_text.h"
#include "stsm_uart.h"

void stsm_mcu_console_init(void)
{
    /* The UART runs from the system clock on both boards: 115200 baud. */
    stsm_uart_init(STSM_UART0_BASE, STSM_MCU_CPU_HZ / 115200u);
}

void stsm_mcu_console_puts(const char *text)
{
    stsm_uart_puts(STSM_UART0_BASE, text);
}

void stsm_mcu_diagf(const char *fmt, ...)
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

void STSM_TEXT_WORDS(stsm_mcu_say)(STSM_TEXT_PARAMS, ...)
{
    char line[160];
    va_list ap;
    va_start(ap, STSM_TEXT_LAST);
    stsm_text_vformat(line, sizeof line - 1, STSM_TEXT_FMT, ap);   /* room kept for the newline */
    va_end(ap);
    strcat(line, "\n");
    stsm_mcu_console_puts(line);
}

void stsm_mcu_assert_failed(const char *what, const char *file, int line)
{
    stsm_mcu_say(STSM_TEXT("assertion \"%s\" failed at %s:%d", what, file, line));
    stsm_mcu_exit(STSM_MCU_EXIT_FAULT);
}
