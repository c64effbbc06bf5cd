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
/* One AES lookup table each way instead of four (the others are rotations of it): the
 * tables Mbed TLS computes into RAM at first use take 2.5 KiB instead of 8.5 KiB, and the
 * image is 120 bytes smaller. MBEDTLS_AES_ROM_TABLES (as on lm3s6965evb) would move those
 * 2.5 KiB to flash, for 2 KiB more image: the image is within 1 KiB of its 256 KiB budget. */
#define MBEDTLS_AES_FEWER_TABLES
#endif
