/*
 * Mbed TLS configuration for the mps2-an385 firmware. QEMU's board has no TRNG: entropy
 * comes from a per-device NV seed kept in flash (the boot code installs the read/write
 * hooks with mbedtls_platform_set_nv_seed()). A real board adds its hardware TRNG with
 * MBEDTLS_ENTROPY_HARDWARE_ALT and mbedtls_hardware_poll().
 */
#ifndef STSM_MBEDTLS_CONFIG_MPS2_H
#define STSM_MBEDTLS_CONFIG_MPS2_H
#include "stsm_mbedtls_config.h"
#define MBEDTLS_NO_PLATFORM_ENTROPY
#define MBEDTLS_ENTROPY_NV_SEED
#define MBEDTLS_PLATFORM_NV_SEED_ALT
#define MBEDTLS_PLATFORM_MS_TIME_ALT   /* the port provides mbedtls_ms_time() from SysTick */
/* AES's lookup tables as constants in flash (about 2 KiB with the fewer tables) instead of
 * 8.5 KiB computed into RAM at first use, as on lm3s6965evb: RAM is the scarcer budget. */
#define MBEDTLS_AES_ROM_TABLES
#define MBEDTLS_AES_FEWER_TABLES
#endif
