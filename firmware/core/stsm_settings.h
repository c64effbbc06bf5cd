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

#include "stsm_config.h"
#include "stsm_status.h"

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


struct stsm_settings_device {
    char ehlo_name[STSM_SETTINGS_TEXT_MAX + 1];   /**< /device/ehlo_name: our name in EHLO */
};

struct stsm_settings_mail {
    char from[STSM_SETTINGS_TEXT_MAX + 1];        /**< /mail/from: sender address */
    char from_name[65];                           /**< /mail/from_name: display name */
    size_t to_count;                              /**< /mail/to: default recipients */
    char to[STSM_SMTP_MAX_RCPT][STSM_SETTINGS_TEXT_MAX + 1];
};

enum stsm_settings_mode { STSM_DELIVERY_MX, STSM_DELIVERY_RELAY };
enum stsm_settings_relay_tls { STSM_RELAY_STARTTLS, STSM_RELAY_IMPLICIT, STSM_RELAY_NONE };

/** /delivery/tls_level: how much TLS MX delivery insists on (docs/settings.md,
 *  "Opportunistic TLS"). An MTA-STS enforce policy raises any level to verify; relays are
 *  always verified. */
enum stsm_tls_level {
    STSM_TLS_LEVEL_MAY,       /**< STARTTLS whenever offered; an unverified certificate is
                                   logged and the session stays encrypted (RFC 7435) */
    STSM_TLS_LEVEL_ENCRYPT,   /**< TLS required, certificate not required to verify */
    STSM_TLS_LEVEL_VERIFY,    /**< TLS with a certificate verified for the MX host name */
};

struct stsm_settings_delivery {
    enum stsm_settings_mode mode;                 /**< /delivery/mode: "mx" (default) or "relay" */
    enum stsm_tls_level tls_level;                /**< /delivery/tls_level (mx): "may" (default),
                                                       "encrypt" or "verify" */
    uint32_t attempt_timeout_s;                   /**< /delivery/attempt_timeout: overall deadline of
                                                       one delivery attempt (all hosts, all lookups),
                                                       seconds 10..86400, default 1800 */
    bool opportunistic_plaintext;                 /**< /delivery/opportunistic_plaintext (mx): retry a
                                                       host in plaintext after a failed STARTTLS
                                                       handshake, when TLS is not required; default true */
    uint16_t timeout_percent;                     /**< /delivery/timeout_percent: scales the RFC 5321
                                                       timeouts; 1..1000, default 100 */
    char relay_host[STSM_SETTINGS_TEXT_MAX + 1];  /**< /delivery/relay/host */
    uint16_t relay_port;                          /**< /delivery/relay/port: default 587 (465 implicit) */
    enum stsm_settings_relay_tls relay_tls;       /**< /delivery/relay/tls: "starttls" (default),
                                                       "implicit", or "none" (explicitly weaker, logged) */
    char relay_user[STSM_SETTINGS_TEXT_MAX + 1];  /**< /delivery/relay/auth/user ("" = no AUTH) */
    char relay_password[STSM_SETTINGS_TEXT_MAX + 1]; /**< /delivery/relay/auth/password: never logged */
    char relay_policy_domain[STSM_SETTINGS_TEXT_MAX + 1]; /**< /delivery/relay/policy_domain: whose
                                                       MTA-STS policy covers the relay (RFC 8461
                                                       section 3.4); default: the relay host name */
};

/** Strict no-CNAME scopes (Exchange Online compatibility), a bit set. */
enum {
    STSM_STRICT_CNAME_MX = 1,          /**< an MX host reached through a CNAME is not usable */
    STSM_STRICT_CNAME_POLICY_HOST = 2, /**< mta-sts.<domain> as a CNAME spoils the policy */
    STSM_STRICT_CNAME_TXT = 4,         /**< _mta-sts.<domain> as a CNAME spoils the policy */
};

struct stsm_settings_mta_sts {
    bool enabled;                      /**< /mta_sts/enabled: default true */
    unsigned strict_cname;             /**< /mta_sts/strict_cname: ["mx", "policy_host", "txt"] */
    uint32_t fetch_timeout_ms;         /**< /mta_sts/fetch_timeout: seconds 1..600, default 60 */
    bool relax_content_type;           /**< /mta_sts/relax_content_type: default false */
    char cache_file[STSM_SETTINGS_PATH_MAX + 1]; /**< /mta_sts/cache_file (host): "" keeps none */
};

/** /outbox: how the outbox retries, coalesces, caps and stores alerts (docs/settings.md). */
struct stsm_settings_outbox {
    uint32_t retry_first_s;            /**< /outbox/retry_first: first retry delay, seconds
                                            1..86400, default 60 */
    uint32_t retry_max_s;              /**< /outbox/retry_max: the delay doubles up to this,
                                            retry_first..604800, default 3600 */
    uint32_t give_up_s;                /**< /outbox/give_up: undelivered this long after first
                                            queued, a recipient is given up; 60..2592000,
                                            default 259200 (3 days) */
    uint32_t coalesce_window_s;        /**< /outbox/coalesce_window: 0..86400, default 300;
                                            0 never coalesces */
    uint32_t domain_hourly_cap;        /**< /outbox/domain_hourly_cap: messages per recipient
                                            domain per hour, 0..10000; 0 (default) no cap */
    bool drop_lower_when_full;         /**< /outbox/when_full: "refuse" (default, false) or
                                            "drop_lower" (true) */
    char store_file[STSM_SETTINGS_PATH_MAX + 1]; /**< /outbox/store_file (host): the store image,
                                            relative to the settings file; "" none */
    uint32_t store_size;               /**< /outbox/store_size (host): bytes, a multiple of 4096,
                                            12288..16777216, default 65536 */
};

struct stsm_settings {
    struct stsm_settings_device device;
    struct stsm_settings_network network;
    struct stsm_settings_mail mail;
    struct stsm_settings_delivery delivery;
    struct stsm_settings_tls tls;
    struct stsm_settings_mta_sts mta_sts;
    struct stsm_settings_outbox outbox;
};

/**
 * Parses from now on allocate from buf[0..size) instead of the static arena
 * (STSM_SETTINGS_ARENA_SIZE), until called with NULL. For a board whose RAM cannot hold an
 * arena used only at boot: it lends bytes nothing else uses while the parse runs (the
 * MCU boot lends the TLS arena's, before TLS is set up). The lender owns `buf`; each
 * parse wipes what it used before it returns.
 */
void stsm_settings_lend_arena(uint8_t *buf, size_t size);

/** The most bytes of cJSON's arena any parse so far has used (footprint reports). */
size_t stsm_settings_arena_peak(void);

/** Parses a strict no-CNAME scope name ("mx", "policy_host", "txt"); 0 when unknown. */
unsigned stsm_settings_strict_scope(const char *name, size_t len);

/**
 * Parses `json` (`len` bytes, need not be NUL-terminated) into `settings`, applying
 * defaults. On error returns STSM_ERR_ARGUMENT, leaves `settings` zeroed and writes one
 * line to `why`, such as "/network/dns/0: expected an IPv4 address, got \"x\"". A key
 * given twice in one object is refused ("/delivery/mode: duplicate key").
 * Secrets: on return the parse arena holds nothing of `json` any more; the caller wipes
 * its own copy of `json` (it holds the relay password) once it is parsed.
 */
stsm_status_t stsm_settings_parse(const char *json, size_t len, struct stsm_settings *settings,
                                  char *why, size_t why_len);

#endif /* STSM_SETTINGS_H */
