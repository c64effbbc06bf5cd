/*
 * Delivery of one message: through the configured relay, or straight to each recipient
 * domain's MX hosts in order. Drives the SMTP engine (stsm_smtp) over a connection
 * (stsm_conn), upgrades with STARTTLS whenever offered, and ends with one result per
 * recipient: delivered, deferred (try again later) or failed (never).
 *
 * MX mode moves on to the next host when a connection fails or times out, on a 4xx at
 * the greeting or EHLO, and on a TLS failure. TLS follows /delivery/tls_level: at "may"
 * (the default) STARTTLS is used whenever offered and a certificate that fails
 * verification keeps the session encrypted, logged (RFC 7435); only a handshake that fails
 * outright is retried once in plaintext, when settings allow it
 * (opportunistic_plaintext). "encrypt" requires TLS, "verify" a verified certificate. An
 * MTA-STS enforce policy and relays always get verified TLS. Every decision goes to the
 * log callback as one line.
 *
 * Time: each reply has its RFC 5321 timeout, armed when its command goes out (never
 * re-armed by arriving bytes), and the whole attempt has a deadline
 * (/delivery/attempt_timeout) after which every unsettled recipient is deferred. No local
 * limit (MX hosts, DNS answer size, CNAME hops) fails a recipient: it defers.
 *
 * MTA-STS: the domain's policy is looked up beside its MX hosts (in relay mode, the
 * relay's policy domain, and the relay is the one host it is matched against). Under
 * `enforce` only hosts matching the policy (and, with strict no-CNAME mode, not reached
 * through a CNAME) are tried, each with TLS required and its certificate verified; when
 * none is usable the message is deferred. Under `testing` delivery goes on as without a
 * policy and every failure the policy would have caused is logged. When the MX hosts are
 * known before the policy, the first connection starts at once and holds before MAIL
 * FROM until the policy decision is known; its TLS handshake waits for the lookup, so
 * only one TLS session's memory is in use at a time.
 */
#ifndef STSM_DELIVERY_H
#define STSM_DELIVERY_H

#include <stdbool.h>
#include <stddef.h>

#include "stsm_conn.h"
#include "stsm_message.h"
#include "stsm_resolver.h"
#include "stsm_route.h"
#include "stsm_settings.h"
#include "stsm_smtp.h"
#include "stsm_smtp_data.h"
#include "stsm_sts_lookup.h"
#include "stsm_timer.h"
#include "stsm_tls.h"
#include "stsm_transport.h"

struct stsm_delivery;
typedef void (*stsm_delivery_log_fn)(void *arg, const char *line);
typedef void (*stsm_delivery_done_fn)(void *arg, struct stsm_delivery *delivery);

/** What a delivery runs on. Zeroed members take the defaults. */
struct stsm_delivery_options {
    const struct stsm_transport *transport;   /**< NULL: the lwIP connection (stsm_conn_transport()) */
    void *transport_ctx;                      /**< the transport's context; must stay alive until `done` */
    const struct stsm_clock *clock;           /**< NULL: lwIP's timer list (stsm_lwip_clock()) */
    void *clock_ctx;
};

/** Final result of one recipient. */
struct stsm_delivery_rcpt {
    struct stsm_smtp_result result;
    char host[STSM_SETTINGS_TEXT_MAX + 1]; /**< the server that decided it, "" if none */
};

/** One delivery. Very large (message buffer, resolver, route): allocate statically.
 *  Fields are private but for `rcpt`, read once `done` ran. */
struct stsm_delivery {
    struct stsm_delivery_rcpt rcpt[STSM_SMTP_MAX_RCPT];

    const struct stsm_settings *settings;
    const struct stsm_message *message;
    struct stsm_tls *tls;
    struct stsm_sts_cache *cache;        /* MTA-STS policies, may be NULL */
    int64_t now;                         /* seconds, for the cache */
    stsm_delivery_log_fn log;
    stsm_delivery_done_fn done;
    void *arg;

    bool group[STSM_SMTP_MAX_RCPT];      /* recipients of the current domain (or all, relay) */
    char domain[STSM_HOSTNAME_MAX + 1];
    struct stsm_route route;             /* MX mode */
    bool route_pending, sts_pending;     /* MX and MTA-STS lookups run side by side */
    stsm_status_t route_status;
    const struct stsm_mx_set *route_set;
    enum stsm_sts_mode sts_mode;         /* the policy in force for this domain (none: none) */
    const struct stsm_sts_policy *policy;
    size_t usable_hosts;                 /* hosts the policy let us try */
    bool healed;                         /* the live policy was fetched once for a stale cache */
    bool provisional;                    /* connecting before the MTA-STS decision is known */
    bool tls_deferred;                   /* provisional STARTTLS waits for the policy fetch */
    bool refused_by_policy;              /* the held session was refused by the policy */
    bool resume_after_sts;               /* the next group waits for the lookup to end */
    bool heal_pending;                   /* a healing fetch of the live policy is under way */
    bool expired;                        /* the attempt's deadline passed */
    bool finished;                       /* `done` ran */
    struct stsm_resolver_query query;    /* relay mode: the relay's address */
    const struct stsm_mx_set *hosts;
    size_t host_index;
    char server_name[STSM_SETTINGS_TEXT_MAX + 1];   /* the name certificates must match */
    ip_addr_t server_address;
    uint16_t server_port;
    bool plaintext_retry;                /* this attempt deliberately skips STARTTLS */
    struct stsm_smtp_result last_failure;

    struct stsm_delivery_options options;  /* for the next start */
    const struct stsm_transport *transport;
    void *transport_ctx;
    const struct stsm_clock *clock;
    void *clock_ctx;
    struct stsm_timer deadline_timer, reply_timer;
    struct stsm_timer step_timers[4];    /* next_group, try_host, open_session, relay_ready */
    struct stsm_conn_transport_ctx lwip_conn;   /* the default transport's context */
    struct stsm_smtp smtp;
    bool session_open;
    bool session_tls;                    /* TLS came up in this session */
    bool session_verified;               /* ... and the peer's certificate verified */
    uint32_t armed_serial;               /* stsm_smtp_wait_serial() the reply timer runs for */
    size_t size_estimate;
    char ehlo_literal[32];
    size_t msg_len, msg_sent;
    struct stsm_smtp_data encoder;
    uint8_t chunk[1024];
    size_t chunk_len, chunk_sent;
    bool data_finished;
    char msg[STSM_MESSAGE_MAX];
    struct stsm_sts_lookup sts;          /* the domain's (or relay's) MTA-STS policy */
};

/**
 * Sets what the next stsm_delivery_start() on `delivery` runs on; that start takes them
 * and the one after it begins from the defaults again (call this before every start that
 * needs them). `delivery` must be zeroed (static storage) or have been started before.
 */
void stsm_delivery_set_options(struct stsm_delivery *delivery, const struct stsm_delivery_options *options);

/**
 * Starts delivering `message` as `settings` say, verifying TLS peers with `tls`, using
 * and updating the MTA-STS `cache` (may be NULL) at time `now`. All must stay alive
 * until `done` runs. Returns STSM_ERR_ARGUMENT (with a line logged)
 * for a message that cannot be sent at all, STSM_ERR_CAPACITY when it is larger than
 * STSM_MESSAGE_MAX; otherwise STSM_OK and `done` runs later.
 */
stsm_status_t stsm_delivery_start(struct stsm_delivery *delivery, const struct stsm_settings *settings,
                                  const struct stsm_message *message, struct stsm_tls *tls,
                                  struct stsm_sts_cache *cache, int64_t now,
                                  stsm_delivery_log_fn log, stsm_delivery_done_fn done, void *arg);

#endif /* STSM_DELIVERY_H */
