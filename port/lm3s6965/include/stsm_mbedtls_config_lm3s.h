/*
 * Mbed TLS configuration of the lm3s6965evb firmware: the common one (TLS 1.2 and 1.3).
 * STSM_LM3S_TLS12_ONLY leaves TLS 1.3 out, by configuration only: 64 KiB of SRAM must hold
 * the 16 KiB inbound record buffer, the handshake and everything else, and each TLS
 * version's handshake code is flash too. (port/net/stsm_tls.c must build without TLS 1.3
 * for it: its TLS 1.3 calls guarded by MBEDTLS_SSL_PROTO_TLS1_3.) Entropy as on mps2-an385: a per-device NV seed in flash (QEMU's board
 * has no TRNG; a real LM3S6965 has none either, so a product adds an external source or a
 * unique factory seed per device and keeps the NV seed rewriting at every boot).
 */
#ifndef STSM_MBEDTLS_CONFIG_LM3S_H
#define STSM_MBEDTLS_CONFIG_LM3S_H
#include "stsm_mbedtls_config.h"

#if defined(STSM_LM3S_TLS12_ONLY)
#undef MBEDTLS_SSL_PROTO_TLS1_3
#undef MBEDTLS_SSL_TLS1_3_COMPATIBILITY_MODE
#undef MBEDTLS_SSL_TLS1_3_KEY_EXCHANGE_MODE_EPHEMERAL_ENABLED
#undef MBEDTLS_SSL_TLS1_3_KEY_EXCHANGE_MODE_PSK_EPHEMERAL_ENABLED
#undef MBEDTLS_HKDF_C
#endif

/* AES's lookup tables as constants in flash (2 KiB with the fewer tables) instead of
 * 8 KiB computed into RAM at first use. */
#define MBEDTLS_AES_ROM_TABLES
#define MBEDTLS_AES_FEWER_TABLES

#define MBEDTLS_NO_PLATFORM_ENTROPY
#define MBEDTLS_ENTROPY_NV_SEED
#define MBEDTLS_PLATFORM_NV_SEED_ALT
#define MBEDTLS_PLATFORM_MS_TIME_ALT   /* the port provides mbedtls_ms_time() from SysTick */
#endif
