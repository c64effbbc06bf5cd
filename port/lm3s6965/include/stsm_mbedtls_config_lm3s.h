/*
 * Mbed TLS configuration of the lm3s6965evb firmware: the common one with TLS 1.3 left
 * out (STSM_LM3S_TLS12_ONLY, on by default in port/lm3s6965/CMakeLists.txt), by
 * configuration only. TLS 1.3's code is about 28 KiB of flash: with it the full image is
 * 251 KiB, over its 224 KiB budget; without it, and with the smaller hashes below,
 * 221 KiB. (A lab delivery's arena peak is
 * the same either way, 28 KiB: the 16 KiB inbound record buffer dominates.) Entropy as on
 * mps2-an385: a per-device NV seed in flash (QEMU's board has no TRNG; a real LM3S6965
 * has none either, so a product provisions a unique seed per device or adds a source).
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

/* The smaller, slower SHA-256 and SHA-512 code: about 2 KiB of flash less; hashing is a
 * small part of a handshake beside the public-key operations. */
#define MBEDTLS_SHA256_SMALLER
#define MBEDTLS_SHA512_SMALLER

#define MBEDTLS_NO_PLATFORM_ENTROPY
#define MBEDTLS_ENTROPY_NV_SEED
#define MBEDTLS_PLATFORM_NV_SEED_ALT
#define MBEDTLS_PLATFORM_MS_TIME_ALT   /* the port provides mbedtls_ms_time() from SysTick */
/* Certificate validity reads the wall clock through gmtime_r (stsm_lm3s_system.c): Mbed
 * TLS's default calls newlib's gmtime, which mallocs its result buffer from the heap
 * between the static data and the stack, and with the full app that heap starts inside
 * the stack's reserve (lab.lm3s_deliver's painted high-water mark read full). */
#define MBEDTLS_PLATFORM_GMTIME_R_ALT

/* PSA key slots: a TLS 1.2 handshake holds a few keys at once (the ECDHE share, the
 * peer's public keys while the chain is checked); 8 instead of the common 16. */
#undef MBEDTLS_PSA_KEY_SLOT_COUNT
#define MBEDTLS_PSA_KEY_SLOT_COUNT 8
#endif
