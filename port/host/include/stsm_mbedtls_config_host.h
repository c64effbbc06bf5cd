/* Mbed TLS configuration for the host simulation: the OS provides entropy and time. */
#ifndef STSM_MBEDTLS_CONFIG_HOST_H
#define STSM_MBEDTLS_CONFIG_HOST_H
#include "stsm_mbedtls_config.h"
#define MBEDTLS_FS_IO   /* the host loads its trust anchors from a PEM file */
/* The arena's block headers and the blocks it hands out hold size_t and 64-bit limbs:
 * Mbed TLS's default 4-byte alignment makes every such access misaligned on a 64-bit host
 * (UBSan stops the host-asan build at the first handshake). */
#define MBEDTLS_MEMORY_ALIGN_MULTIPLE 8
#endif
