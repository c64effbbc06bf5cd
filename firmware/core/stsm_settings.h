/*
 * The vendor's JSON settings file, parsed and validated into a struct. Every key is
 * documented in docs/settings.md. Unknown keys, wrong types and out-of-range values are
 * refused with one line naming the JSON path and what was expected, before anything is
 * used. cJSON allocates from a fixed arena during parsing only.
 */
#ifndef STSM_SETTINGS_H
#define STSM_SETTINGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "stsm_status.h"

#ifndef STSM_SETTINGS_PATH_MAX
#define STSM_SETTINGS_PATH_MAX 200      /**< longest file path in settings */
#endif
#ifndef STSM_SETTINGS_ARENA_SIZE
#define STSM_SETTINGS_ARENA_SIZE (16 * 1024)   /**< cJSON's arena while parsing */
#endif

struct stsm_settings_network {
    char interface[16];        /**< /network/interface: TAP device (host simulation) */
    bool dhcp;                 /**< true unless /network/address is set */
    uint8_t address[4];        /**< /network/address "A.B.C.D/N" */
    uint8_t prefix_len;
    uint8_t gateway[4];        /**< /network/gateway, 0.0.0.0 when absent */
    uint8_t dns_count;         /**< /network/dns: up to 2 servers, replacing DHCP's */
    uint8_t dns[2][4];
};

struct stsm_settings_tls {
    char trust_store[STSM_SETTINGS_PATH_MAX + 1];   /**< /tls/trust_store: blob from mktrust.py */
};

struct stsm_settings {
    struct stsm_settings_network network;
    struct stsm_settings_tls tls;
};

/**
 * Parses `json` (`len` bytes, need not be NUL-terminated) into `settings`, applying
 * defaults. On error returns STSM_ERR_ARGUMENT and writes one line to `why`, such as
 * "/network/dns/0: expected an IPv4 address, got \"x\"".
 */
stsm_status_t stsm_settings_parse(const char *json, size_t len, struct stsm_settings *settings,
                                  char *why, size_t why_len);

#endif /* STSM_SETTINGS_H */
