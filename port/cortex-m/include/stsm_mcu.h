/* The Cortex-M platform contract (port/cortex-m): console, clocks, randomness, the store
 * areas, exit. port/cortex-m implements it for every board but the store areas, which
 * each board's port defines (its flash map). */
#ifndef STSM_MCU_H
#define STSM_MCU_H

/** Exit status when a fault handler ends the firmware. */
#define STSM_MCU_EXIT_FAULT 70

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** Bytes of the provisioned entropy seed (MBEDTLS_ENTROPY_BLOCK_SIZE). */
#define STSM_MCU_SEED_LEN 64

/** Starts the 1 ms SysTick clock (sys_now, mbedtls_ms_time). */
void stsm_mcu_clock_init(void);

/** SysTick interrupt handler (in the vector table). */
void stsm_mcu_systick_handler(void);

/** The clock floor in flash is raised when the clock has passed it by this much: often
 *  enough to bound a rollback, rarely enough not to wear the flash. */
#ifndef STSM_MCU_CLOCK_SAVE_STEP_S
#define STSM_MCU_CLOCK_SAVE_STEP_S 86400u
#endif

/**
 * Offers a time from SNTP (SNTP_SET_SYSTEM_TIME). An unknown clock is set unless the time
 * is before the floor (the build time, the floor stored in flash, a time already seen).
 * A known clock only moves forward: a step back of more than STSM_MCU_CLOCK_BACK_MAX_S
 * makes it unknown (logged), a smaller one is ignored (stsm_mcu_clock.h has the rules).
 */
void stsm_mcu_set_wall_clock(uint32_t unix_seconds);

/** The wall clock in Unix seconds; false while it is unknown (before SNTP has set it). */
bool stsm_mcu_wall_clock(uint32_t *unix_seconds);

/** True when the clock is unknown because an NTP answer was refused (before the floor,
 *  or a step back): lwIP asks again only after SNTP_UPDATE_DELAY, so waiting is futile. */
bool stsm_mcu_clock_refused(void);

/** The earliest time the clock may be set to (valid after stsm_mcu_random_init()). */
uint32_t stsm_mcu_clock_floor(void);

/** Stores the current time as the clock floor in flash when it has moved on by
 *  STSM_MCU_CLOCK_SAVE_STEP_S since the stored one. False when the write failed. */
bool stsm_mcu_clock_save_floor(void);

/** True when an entropy seed was provisioned (not all zero). */
bool stsm_mcu_seed_provisioned(void);

/**
 * Seeds the CTR-DRBG from the NV seed: the device record in flash, or on the first boot
 * the factory seed. Before it returns, the seed for the next boot is derived and stored
 * in the device record. False without a seed, or when the new seed could not be stored.
 * Reads the clock floor from the record as well.
 */
bool stsm_mcu_random_init(void);

/**
 * The generator stsm_mcu_random_init() seeded, as Mbed TLS takes one (f_rng; `ctx` is
 * unused): `len` random bytes into `out`, 0 on success, nonzero before it is seeded. TLS
 * and PSA draw from it too (stsm_tls_init_with_rng()): a second entropy context would
 * store a second NV seed in flash each boot.
 */
int stsm_mcu_random(void *ctx, unsigned char *out, size_t len);

/** Enables UART0 as the console. Call first in main(). */
void stsm_mcu_console_init(void);

/** Writes a NUL-terminated string to the console ("\n" becomes "\r\n"). */
void stsm_mcu_console_puts(const char *text);

struct stsm_flash_area;

/** The flash area that keeps the MTA-STS policy cache across reboots. */
void stsm_mcu_store_area(struct stsm_flash_area *area);

/** The flash area of the device record (entropy seed, clock floor). */
void stsm_mcu_device_area(struct stsm_flash_area *area);

/** The flash area of the outbox (stsm_store.h: a ring of 4 KiB pages). */
void stsm_mcu_outbox_area(struct stsm_flash_area *area);

/** The deepest the stack has been since reset, in bytes (it is painted at reset). */
size_t stsm_mcu_stack_peak(void);

/** printf to the console; lwIP's diagnostics use it too. */
void stsm_mcu_diagf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/** Reports a failed assertion (lwIP's or ours) and stops with the fault status. */
void stsm_mcu_assert_failed(const char *what, const char *file, int line) __attribute__((noreturn));

/**
 * One Arm semihosting call (BKPT 0xAB): `op` in r0, `block` (the call's argument block, or
 * NULL) in r1; returns r0. Only under QEMU or a debugger: on bare hardware the BKPT faults.
 * The boards' stores use it to mirror the flash store into a host file (inline: a call
 * costs more flash than the trap).
 */
static inline uint32_t stsm_mcu_semihost(uint32_t op, void *block)
{
    register uint32_t r0 __asm__("r0") = op;
    register void *r1 __asm__("r1") = block;
    __asm__ volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}

/**
 * Ends the program with `status` through Arm semihosting (SYS_EXIT_EXTENDED), which QEMU
 * turns into its own exit status. On hardware without a debugger attached the BKPT
 * would fault, so a product build parks the core instead.
 */
__attribute__((noreturn)) void stsm_mcu_exit(int status);

#endif /* STSM_MCU_H */
