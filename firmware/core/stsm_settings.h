/*
 * The vendor's JSON settings file, parsed and validated into a struct. Every key is
 * documented in docs/settings.md. Unknown keys, wrong types and out-of-range values are
 * refused with one line naming the JSON path and what was expected, before anything is
 * used. cJSON allocates from a fixed arena during parsing only.
 *
 * Texts: every `const char *` member points into its struct stsm_settings' own text pool
 * (STSM_SETTINGS_TEXT_POOL bytes), or at "" when the file has no such text; never NULL once
 * the struct was parsed or cleared. Readers use them as before. So a struct stsm_settings is
 * never copied (assignment, memcpy, a parameter or return by value): the copy's texts would
 * still point into the original's pool, and dangle once that is cleared, wiped or parsed
 * again. Pass a pointer. Writers other than the parser (tests, command-line overrides) set a
 * text with stsm_settings_set_text().
 */
#ifndef STSM_SETTINGS_H
#define STSM_SETTINGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "stsm_config.h"
#include "stsm_status.h"

struct stsm_settings_network {
    const char *interface;     /**< /network/interface: TAP device (host simulation), at
                                    most STSM_SETTINGS_INTERFACE_MAX bytes */
    bool dhcp;                 /**< true unless /network/address is set */
    uint8_t address[4];        /**< /network/address "A.B.C.D/N" */
    uint8_t prefix_len;
    uint8_t gateway[4];        /**< /network/gateway, 0.0.0.0 when absent */
    uint8_t dns_count;         /**< /network/dns: up to 2 servers, replacing DHCP's */
    uint8_t dns[2][4];
};

struct stsm_settings_tls {
    const char *trust_store;   /**< /tls/trust_store: blob from mktrust.py */
};


struct stsm_settings_device {
    const char *ehlo_name;     /**< /device/ehlo_name: our name in EHLO */
};

struct stsm_settings_mail {
    const char *from;                             /**< /mail/from: sender address */
    const char *from_name;                        /**< /mail/from_name: display name, at most
                                                       STSM_SETTINGS_FROM_NAME_MAX bytes */
    size_t to_count;                              /**< /mail/to: default recipients */
    const char *to[STSM_SMTP_MAX_RCPT];           /**< the first to_count are set, the rest "" */
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
    const char *relay_host;                       /**< /delivery/relay/host */
    uint16_t relay_port;                          /**< /delivery/relay/port: default 587 (465 implicit) */
    enum stsm_settings_relay_tls relay_tls;       /**< /delivery/relay/tls: "starttls" (default),
                                                       "implicit", or "none" (explicitly weaker, logged) */
    const char *relay_user;                       /**< /delivery/relay/auth/user ("" = no AUTH) */
    const char *relay_password;                   /**< /delivery/relay/auth/password: never logged;
                                                       its bytes are in the text pool */
    const char *relay_policy_domain;              /**< /delivery/relay/policy_domain: whose
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
    const char *cache_file;            /**< /mta_sts/cache_file (host): "" keeps none */
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
    const char *store_file;            /**< /outbox/store_file (host): the store image,
                                            relative to the settings file; "" none */
    uint32_t store_size;               /**< /outbox/store_size (host): bytes, a multiple of 4096,
                                            12288..16777216, default 65536 */
};

/** Never copied: see the top of this header. A member added to a section is also added to
 *  the table of the file's members (`MEMBERS`, stsm_settings.c), which the parse reads and
 *  stsm_settings_clear() empties the texts of. */
struct stsm_settings {
    struct stsm_settings_device device;
    struct stsm_settings_network network;
    struct stsm_settings_mail mail;
    struct stsm_settings_delivery delivery;
    struct stsm_settings_tls tls;
    struct stsm_settings_mta_sts mta_sts;
    struct stsm_settings_outbox outbox;
    size_t text_used;                          /**< bytes of text_pool in use */
    char text_pool[STSM_SETTINGS_TEXT_POOL];   /**< the texts above, each with its NUL */
};

/** Longest /network/interface (a Linux interface name: IFNAMSIZ 16 with its NUL). */
#define STSM_SETTINGS_INTERFACE_MAX 15
/** Longest /mail/from_name (stsm_message refuses a longer display name). */
#define STSM_SETTINGS_FROM_NAME_MAX 64

/**
 * Empties `settings`: its text pool wiped (it may hold the relay password), every text "",
 * every number and flag 0 (not the parse's defaults). The wipe path for settings no longer
 * needed, and the start of settings filled by hand.
 */
void stsm_settings_clear(struct stsm_settings *settings);

/**
 * Sets the text member `*field` of `settings` (the address of one of its `const char *`
 * members) to a copy of `text` in its pool; "" takes no pool bytes. Returns
 * STSM_ERR_CAPACITY when the pool lacks strlen(text) + 1 bytes, STSM_ERR_ARGUMENT when
 * `field` is not inside `settings`; either way the member is unchanged. The text it
 * replaces keeps its pool bytes until stsm_settings_clear(). `settings` was parsed or
 * cleared before. No other limit is checked: the caller passes a valid value.
 */
stsm_status_t stsm_settings_set_text(struct stsm_settings *settings, const char **field, const char *text);

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
 * defaults. On error returns STSM_ERR_ARGUMENT, leaves `settings` cleared
 * (stsm_settings_clear) and writes one line to `why`, such as "/network/dns/0: expected an
 * IPv4 address, got \"x\"". A key given twice in one object is refused ("/delivery/mode:
 * duplicate key"); texts that do not fit the pool are refused at the first that does not
 * ("/mail/to/3: settings texts (STSM_SETTINGS_TEXT_POOL) full: ...").
 * Secrets: on return the parse arena holds nothing of `json` any more; the caller wipes
 * its own copy of `json` (it holds the relay password) once it is parsed. The password's
 * one copy is then in `settings`' pool, until stsm_settings_clear() or the next parse.
 */
stsm_status_t stsm_settings_parse(const char *json, size_t len, struct stsm_settings *settings,
                                  char *why, size_t why_len);

#endif /* STSM_SETTINGS_H */
