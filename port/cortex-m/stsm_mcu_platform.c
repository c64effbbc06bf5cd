/*
 * Cortex-M platform services: a 1 ms SysTick clock for lwIP and Mbed TLS, a wall clock
 * set by SNTP that never goes back, and randomness from one CTR-DRBG fed by a per-device
 * NV seed, for lwIP, TLS and PSA alike (stsm_mcu_random()).
 *
 * Neither QEMU board has a TRNG, so the only entropy is the seed provisioned into the device
 * at the factory. Mbed TLS mixes the NV seed in and, before it hands out its first random
 * byte, derives a new seed and writes it back; the write goes to the device record in
 * flash (two slots, so a power cut leaves the old seed or the new one, see
 * stsm_flash_record.h), and a failed write stops the boot. Each boot therefore starts from
 * the seed the previous one left, and successive boots never repeat a stream. A real
 * board MUST add its hardware TRNG: define MBEDTLS_ENTROPY_HARDWARE_ALT and implement
 * mbedtls_hardware_poll() on the TRNG peripheral, keeping the NV seed as a second source;
 * without a TRNG, a cloned flash image clones the random stream.
 *
 * The same record keeps a clock floor: a time the device has seen. SNTP answers are not
 * authenticated, so an answer before the floor (or before the build) is refused, and one
 * that moves a known clock far back makes the clock unknown, which stops everything that
 * checks certificates or ages policies until NTP gives a believable time again.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "lwip/sys.h"
#include "mbedtls/ctr_drbg.h"
#include "mbedtls/entropy.h"
#include "mbedtls/platform.h"
#include "mbedtls/platform_time.h"
#include "mbedtls/platform_util.h"
#include "stsm_flash_record.h"
#include "stsm_mcu.h"
#include "stsm_mcu_clock.h"
#include "stsm_mcu_text.h"
#include "stsm_port.h"

#define SYST_CSR (*(volatile uint32_t *)0xE000E010u)
#define SYST_RVR (*(volatile uint32_t *)0xE000E014u)
#define SYST_CVR (*(volatile uint32_t *)0xE000E018u)

extern uint8_t __provision_seed[];

#ifndef STSM_MCU_CPU_HZ
#error "STSM_MCU_CPU_HZ (the board's system clock, port/<board>/CMakeLists.txt) must be defined"
#endif
#ifndef STSM_BUILD_TIME
#error "STSM_BUILD_TIME (Unix seconds) must be defined: the clock is never set before it"
#endif

/* The device record: the current NV seed, then the clock floor (u32, big-endian). */
#define DEVICE_RECORD_LEN (STSM_MCU_SEED_LEN + 4u)

static volatile uint32_t ticks_ms;
static uint32_t wall_base_s;     /* Unix time at tick wall_base_ticks, once SNTP has told */
static uint32_t wall_base_ticks;
static bool wall_known;
static bool wall_refused;        /* an answer was refused since the clock was last known */
static uint32_t clock_floor = STSM_BUILD_TIME;   /* the clock is never set before this */
static uint32_t stored_floor;                    /* the floor the device record holds */
static struct stsm_flash_area device_area;
static uint8_t nv_seed[STSM_MCU_SEED_LEN];
static mbedtls_entropy_context entropy;
static mbedtls_ctr_drbg_context drbg;
static bool drbg_ready;

void stsm_mcu_systick_handler(void)
{
    ticks_ms++;
}

void stsm_mcu_clock_init(void)
{
    SYST_RVR = STSM_MCU_CPU_HZ / 1000u - 1u;
    SYST_CVR = 0;
    SYST_CSR = 7u;   /* processor clock, interrupt, enable */
}

u32_t sys_now(void)
{
    return ticks_ms;
}

mbedtls_ms_time_t mbedtls_ms_time(void)
{
    return (mbedtls_ms_time_t)ticks_ms;
}

void stsm_mcu_time_text(uint32_t t, char out[STSM_MCU_TIME_TEXT])
{
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    /* Narrowed so that the compiler sees every field fit: a uint32_t time ends in 2106. */
    snprintf(out, STSM_MCU_TIME_TEXT, "%04u-%02u-%02u %02u:%02u:%02u UTC", (uint16_t)(tm.tm_year + 1900),
             (uint8_t)(tm.tm_mon + 1), (uint8_t)tm.tm_mday, (uint8_t)tm.tm_hour, (uint8_t)tm.tm_min,
             (uint8_t)tm.tm_sec);
}

void stsm_mcu_set_wall_clock(uint32_t unix_seconds)
{
    uint32_t now = 0;
    bool known = stsm_mcu_wall_clock(&now);
    enum stsm_mcu_clock_verdict verdict = stsm_mcu_clock_judge(known, now, clock_floor, unix_seconds);
    if (verdict == STSM_MCU_CLOCK_SET) {
        wall_base_s = unix_seconds;
        wall_base_ticks = ticks_ms;
        wall_known = true;
        wall_refused = false;
        return;
    }
    if (verdict == STSM_MCU_CLOCK_KEEP) {
        return;
    }
    if (verdict == STSM_MCU_CLOCK_UNKNOWN) {
        /* Certificate dates and policy ages wait for a time not before the one seen. */
        clock_floor = now;
        wall_known = false;
    }
    wall_refused = true;
    /* Either way the floor is now the time the answer went against. */
    char told[STSM_MCU_TIME_TEXT], floor_text[STSM_MCU_TIME_TEXT];
    stsm_mcu_time_text(unix_seconds, told);
    stsm_mcu_time_text(clock_floor, floor_text);
    if (verdict == STSM_MCU_CLOCK_UNKNOWN) {
        stsm_mcu_say(STSM_TEXT("clock: NTP moved the clock back to %s from %s: clock unknown", told, floor_text));
    } else {
        stsm_mcu_say(STSM_TEXT("clock: NTP time %s is before %s, which this device has already seen: ignored",
                               told, floor_text));
    }
}

bool stsm_mcu_clock_refused(void)
{
    return wall_refused;
}

uint32_t stsm_mcu_clock_floor(void)
{
    return clock_floor;
}

bool stsm_mcu_wall_clock(uint32_t *unix_seconds)
{
    if (!wall_known) {
        return false;
    }
    *unix_seconds = wall_base_s + (ticks_ms - wall_base_ticks) / 1000u;
    return true;
}

/* newlib's time() asks this; Mbed TLS checks certificate dates with time(). Before SNTP
 * has answered there is no wall clock, and saying so (-1) makes those checks fail closed. */
int _gettimeofday(struct timeval *tv, void *tz);
int _gettimeofday(struct timeval *tv, void *tz)
{
    uint32_t now;
    (void)tz;
    if (tv == NULL || !stsm_mcu_wall_clock(&now)) {
        return -1;
    }
    tv->tv_sec = (time_t)now;
    tv->tv_usec = (suseconds_t)((ticks_ms - wall_base_ticks) % 1000u) * 1000;
    return 0;
}

static void put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* Replaces the device record with `seed` and the floor `floor`. */
static bool device_record_write(const uint8_t *seed, uint32_t floor)
{
    uint8_t record[DEVICE_RECORD_LEN];
    memcpy(record, seed, STSM_MCU_SEED_LEN);
    put_u32(record + STSM_MCU_SEED_LEN, floor);
    stsm_status_t st = stsm_flash_record_write(&device_area, record, sizeof record);
    mbedtls_platform_zeroize(record, sizeof record);
    if (st != STSM_OK) {
        stsm_mcu_say(STSM_TEXT("device record: not stored in flash: %s", stsm_status_str(st)));
        return false;
    }
    stored_floor = floor;
    return true;
}

/* The NV seed Mbed TLS reads (as an entropy source) and rewrites, once per boot, before
 * it gives out any random byte. */
static int seed_read(unsigned char *buf, size_t len)
{
    if (len > STSM_MCU_SEED_LEN) {
        return -1;
    }
    memcpy(buf, nv_seed, len);
    return 0;
}

/* Only once the new seed is in flash may this boot use the generator: failing here fails
 * mbedtls_ctr_drbg_seed(), and the firmware stops. */
static int seed_write(unsigned char *buf, size_t len)
{
    if (len != STSM_MCU_SEED_LEN || !device_record_write(buf, clock_floor)) {
        return -1;
    }
    memcpy(nv_seed, buf, len);
    return 0;
}

bool stsm_mcu_clock_save_floor(void)
{
    uint32_t now;
    if (!stsm_mcu_wall_clock(&now) || now < stored_floor + STSM_MCU_CLOCK_SAVE_STEP_S) {
        return true;
    }
    if (now > clock_floor) {
        clock_floor = now;   /* a time seen; later seed writes must not store an older one */
    }
    return device_record_write(nv_seed, clock_floor);
}

bool stsm_mcu_seed_provisioned(void)
{
    for (size_t i = 0; i < STSM_MCU_SEED_LEN; i++) {
        if (__provision_seed[i] != 0) {
            return true;
        }
    }
    return false;
}

bool stsm_mcu_random_init(void)
{
    /* Board-neutral: the same port on every board (the seed is what is per device). */
    static const char personalization[] = "stsmail mcu";
    const uint8_t *record;
    size_t len;
    stsm_mcu_device_area(&device_area);
    if (stsm_flash_record_read(&device_area, &record, &len) == STSM_OK && len == DEVICE_RECORD_LEN) {
        const uint8_t *f = record + STSM_MCU_SEED_LEN;
        stored_floor = (uint32_t)f[0] << 24 | (uint32_t)f[1] << 16 | (uint32_t)f[2] << 8 | f[3];
        if (stored_floor > clock_floor) {
            clock_floor = stored_floor;
        }
        stsm_mcu_say(STSM_TEXT("random: seed from the device record"));
    } else if (stsm_mcu_seed_provisioned()) {
        record = __provision_seed;   /* first boot */
        stsm_mcu_say(STSM_TEXT("random: factory seed (no device record yet)"));
    } else {
        return false;
    }
    memcpy(nv_seed, record, STSM_MCU_SEED_LEN);
    mbedtls_platform_set_nv_seed(seed_read, seed_write);
    mbedtls_entropy_init(&entropy);
    mbedtls_ctr_drbg_init(&drbg);
    drbg_ready = mbedtls_ctr_drbg_seed(&drbg, mbedtls_entropy_func, &entropy,
                                       (const unsigned char *)personalization, sizeof personalization - 1) == 0;
    return drbg_ready;
}

int stsm_mcu_random(void *ctx, unsigned char *out, size_t len)
{
    (void)ctx;
    /* Fail closed: nothing random before the seed for the next boot is stored. */
    return drbg_ready ? mbedtls_ctr_drbg_random(&drbg, out, len) : -1;
}

uint32_t stsm_port_random_u32(void)
{
    uint32_t v;
    if (stsm_mcu_random(NULL, (unsigned char *)&v, sizeof v) != 0) {
        stsm_mcu_say(STSM_TEXT("no randomness: refusing to go on"));
        stsm_mcu_exit(STSM_MCU_EXIT_FAULT);
    }
    return v;
}
