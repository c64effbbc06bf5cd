/* Mbed TLS configuration for the host simulation: the OS provides entropy and time. */
#ifndef STSM_MBEDTLS_CONFIG_HOST_H
#define STSM_MBEDTLS_CONFIG_HOST_H
#include "stsm_mbedtls_config.h"
#define MBEDTLS_FS_IO   /* the host loads its trust anchors from a PEM file */
#endif
