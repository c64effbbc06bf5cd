/*
 * The LM3S6965's clocks, set before main() (a constructor, run by the reset handler):
 * the system clock at 25 MHz from the PLL (8 MHz crystal of the EVB, 400 MHz PLL / 2 /
 * 8), which is STSM_MCU_CPU_HZ (CMakeLists.txt), the rate port/cortex-m programs SysTick
 * and the UART from, and the clocks of the peripherals the firmware uses: UART0 and its
 * pins on GPIO port A, the Ethernet MAC and PHY. QEMU models the clock tree only as
 * far as the SYSDIV divider of its fixed 200 MHz input, which gives the same 25 MHz.
 */
#include <stdint.h>
#include <time.h>

#include "mbedtls/platform_util.h"

#define SYSCTL(offset) (*(volatile uint32_t *)(0x400FE000u + (offset)))
#define RIS   0x050u
#define RCC   0x060u
#define RCGC1 0x104u
#define RCGC2 0x108u

#define RCC_XTAL_8MHZ   (0xEu << 6)
#define RCC_BYPASS      (1u << 11)
#define RCC_PWRDN       (1u << 13)
#define RCC_USESYSDIV   (1u << 22)
#define RCC_SYSDIV(n)   ((uint32_t)((n) - 1u) << 23)
#define RIS_PLLLRIS     (1u << 6)
#define RCGC1_UART0     (1u << 0)
#define RCGC2_GPIOA     (1u << 0)
#define RCGC2_EMAC0     (1u << 28)
#define RCGC2_EPHY0     (1u << 30)
#define PLL_LOCK_SPINS  100000u

#define GPIOA(offset) (*(volatile uint32_t *)(0x40004000u + (offset)))
#define GPIO_AFSEL 0x420u
#define GPIO_DEN   0x51Cu
#define PA0_PA1    0x3u

void stsm_lm3s_system_init(void) __attribute__((constructor));

void stsm_lm3s_system_init(void)
{
    /* Run from the crystal, bypassing the PLL, while the PLL powers up and locks. */
    uint32_t rcc = RCC_XTAL_8MHZ | RCC_BYPASS;
    SYSCTL(RCC) = rcc | RCC_PWRDN;
    SYSCTL(RCC) = rcc | RCC_SYSDIV(8) | RCC_USESYSDIV;
    for (uint32_t i = 0; i < PLL_LOCK_SPINS && !(SYSCTL(RIS) & RIS_PLLLRIS); i++) {
    }
    SYSCTL(RCC) = (rcc & ~RCC_BYPASS) | RCC_SYSDIV(8) | RCC_USESYSDIV;

    SYSCTL(RCGC1) |= RCGC1_UART0;
    SYSCTL(RCGC2) |= RCGC2_GPIOA | RCGC2_EMAC0 | RCGC2_EPHY0;
    /* A few cycles pass before a newly clocked peripheral answers. */
    (void)SYSCTL(RCGC2);
    GPIOA(GPIO_AFSEL) |= PA0_PA1;   /* U0RX, U0TX */
    GPIOA(GPIO_DEN) |= PA0_PA1;
}

/* MBEDTLS_PLATFORM_GMTIME_R_ALT (stsm_mbedtls_config_lm3s.h): the reentrant conversion,
 * into the caller's buffer; newlib's gmtime would malloc one. */
struct tm *mbedtls_platform_gmtime_r(const mbedtls_time_t *tt, struct tm *tm_buf)
{
    time_t t = (time_t)*tt;
    return gmtime_r(&t, tm_buf);
}
