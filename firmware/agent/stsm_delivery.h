/*
 * Delivery of one message: through the configured relay, or straight to each recipient
 * domain's MX hosts in order. Drives the SMTP engine (stsm_smtp) over a transport
 * (stsm_transport.h; the lwIP connection unless options say otherwise), upgrades with
 * STARTTLS whenever offered, and ends with one result per recipient: delivered, deferred
 * (try again later) or failed (never).
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
 * limit (MX hosts, DNS answer size, CNAME hops) fails a recipient: it defers. The message
 * is written while it is sent, never whole; a body that cannot be read from storage then
 * ends the attempt at once, before the end of the data, every unsettled recipient deferred
 * (STSM_ERR_IO).
 *
 * MTA-STS: the domain's policy is looked up beside its MX hosts (in relay mode, the
 * relay's policy domain, and the relay is the one host it is matched against). Under
 * `enforce` only hosts matching the policy (and, with strict no-CNAME mode, not reached
 * through a CNAME) are tried, each with TLS required and its certificate verified; when
 * none is usable the message is deferred. Under `testing` delivery goes on as without a
 * policy and every failure the policy would have caused is logged. When the MX hosts are
 * known before the policy, the first connection starts at once and holds before MAIL
 * FROM until the policy decision is known; its TLS handshake waits for the lookup, so
 * only one TLS session's memory is in use at a time. A relay reached with STARTTLS is
 * connected to as soon as its address is known, likewise: greeting, EHLO and STARTTLS go
 * while its policy is fetched, the handshake waits for the policy (which may still refuse
 * the relay by name, and the connection goes), and AUTH and the message only follow TLS;
 * a relay with tls "none" or implicit TLS waits for the policy before connecting. A
 * policy the cache holds unexpired is in force from the start (RFC 8461 section 3.3; not under the strict no-CNAME scopes
 * txt and policy_host, which judge the lookup's own answers): nothing holds for it, and
 * the TXT id is checked beside the delivery. The policy in force never changes under a
 * session: when that check finds a new id, the policy is fetched once the group's
 * sessions are over (never a second TLS session beside one) and cached for the next
 * delivery (or, when the cached policy matched no MX host, taken as stale-cache healing
 * would). `done` waits for the check and that fetch (each has its own bound), so the cache
 * is refreshed and the delivery's storage free before it is started again; every
 * recipient's result is reported through `settled` as soon as it is final, not held.
 *
 * Batches: stsm_delivery_start_batch() takes up to STSM_DELIVERY_BATCH_MAX messages. Each
 * session (per recipient domain in MX mode, the relay's) carries one transaction per
 * message with recipients there, in the batch's order (RSET before one only when the
 * last transaction was refused; a 250 to a message has reset the server): one
 * connection instead of one per message. A refusal of one transaction (MAIL, RCPT, DATA,
 * the message) settles that message's recipients and the next transaction goes on; a
 * session that fails (connection lost, TLS, timeout, a refused RSET) defers every
 * recipient of the batch it had not settled yet. Host choice, MTA-STS, TLS rules and the
 * deadline are per session and attempt as for one message.
 *
 * Event-driven on the main loop: timers come from the clock in the options (lwIP's timer
 * list by default), and every callback (log, settled, done) runs from the main loop.
 * The MX route, the resolver and the MTA-STS lookup are reached through their own modules
 * (stsm_route, stsm_resolver, stsm_sts_lookup).
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
struct stsm_delivery_rcpt;
typedef void (*stsm_delivery_log_fn)(void *arg, const char *line);
typedef void (*stsm_delivery_done_fn)(void *arg, struct stsm_delivery *delivery);
typedef void (*stsm_delivery_settled_fn)(void *arg, size_t message_index, size_t rcpt_index,
                                         const struct stsm_delivery_rcpt *r);

/** States of a delivery (stsm_delivery_state_name() for logs). */
enum stsm_delivery_state {
    STSM_DELIVERY_IDLE,        /**< not started */
    STSM_DELIVERY_NEXT_GROUP,  /**< picking the next recipient domain (relay: all left); waits while
                                    the previous group's MTA-STS lookup still runs */
    STSM_DELIVERY_LOOKUP,      /**< the group's MX hosts (relay: its address) and MTA-STS policy are
                                    looked up */
    STSM_DELIVERY_NEXT_HOST,   /**< picking the next MX host the policy lets us try */
    STSM_DELIVERY_CONNECTING,  /**< the connection (relay with implicit TLS: and its handshake) opens */
    STSM_DELIVERY_SESSION,     /**< the SMTP session runs */
    STSM_DELIVERY_TLS_WAIT,    /**< STARTTLS accepted; the handshake waits for the MTA-STS lookup */
    STSM_DELIVERY_HELD,        /**< the session holds before MAIL FROM for the MTA-STS decision */
    STSM_DELIVERY_REFUSED,     /**< the policy refused the held host; the session ends with QUIT */
    STSM_DELIVERY_HEALING,     /**< the live policy is fetched once: the cached one matches no host */
    STSM_DELIVERY_EXPIRED,     /**< the deadline passed; waits for lookups that cannot be cancelled */
    STSM_DELIVERY_DONE,        /**< `done` ran */
};

/** What one delivery runs on, whom it sends to, and whom it tells. Zeroed members take
 *  the defaults. */
struct stsm_delivery_options {
    const struct stsm_transport *transport;   /**< NULL: the lwIP connection (stsm_conn_transport()) */
    void *transport_ctx;                      /**< the transport's context; must stay alive until `done` */
    const struct stsm_clock *clock;           /**< NULL: lwIP's timer list (stsm_lwip_clock()) */
    void *clock_ctx;
    stsm_delivery_log_fn trace;               /**< debug lines (every state change), NULL: none */
    /**
     * Called once for each recipient of the envelope as soon as its outcome for this
     * attempt is final, with the start's `arg`, its message's index in the batch (0 for
     * stsm_delivery_start()), its index in message->to and its result
     * (outcome, reply, and the host that decided it): delivered on the server's 250 to the
     * end of the data (in the same main-loop turn the reply is read, before QUIT is
     * answered), failed on a 5xx, deferred on a 4xx, a local failure or the deadline. A
     * recipient refused at RCPT is reported when the refusal is read, before the data.
     * A batch's messages are settled in their order within each session. Every call
     * comes before `done`, from the main loop. It must not call into the
     * delivery; it may block (to store the outcome). NULL: none.
     */
    stsm_delivery_settled_fn settled;
    /**
     * The envelope: which of message->to get a RCPT TO (envelope[i] for recipient i,
     * message->to_count entries, read during the start only). NULL: all of them. The
     * header's To line always names every one of message->to; a recipient outside the
     * envelope is never sent to, its rcpt[] stays STSM_SMTP_PENDING and `settled` is not
     * called for it. At least one recipient must be in it. Not used by
     * stsm_delivery_start_batch() (each item has its own).
     */
    const bool *envelope;
};

/** One message of a batch and its envelope (as options.envelope; NULL: every recipient). */
struct stsm_delivery_item {
    const struct stsm_message *message;
    const bool *envelope;
};

#if STSM_DELIVERY_HOST_TEXT_MAX < STSM_SETTINGS_TEXT_MAX + 1
#error "STSM_DELIVERY_HOST_TEXT_MAX must hold at least one host name (a relay's, STSM_SETTINGS_TEXT_MAX)"
#endif

/** A recipient's host when the delivery's host names (STSM_DELIVERY_HOST_TEXT_MAX) were full:
 *  more servers decided this attempt's recipients than it can name (logged). */
#define STSM_DELIVERY_HOST_NOT_KEPT "(host name not kept)"

/** Final result of one recipient. */
struct stsm_delivery_rcpt {
    struct stsm_smtp_result result;
    /** The server that decided it, "" if none (never NULL for a recipient of the message),
     *  or STSM_DELIVERY_HOST_NOT_KEPT. One copy of each name in the delivery, which every
     *  recipient it decided points to: valid until the delivery starts again. */
    const char *host;
};

/** One delivery. Very large (resolver, route, MTA-STS lookup): allocate statically.
 *  Fields are private but for `rcpt` (the first message's results) and `batch_rcpt`
 *  (batch_rcpt[m] those of message m), read once `done` ran. */
struct stsm_delivery {
    /* The fields the code reads most come first, the large ones last: Thumb reaches the
     * first 32 bytes with its short byte loads, the first 128 with its short word loads,
     * and past 4 KiB needs an extra instruction for every access. */
    bool policy_early;                   /* the cached policy is in force while the lookup checks
                                            its TXT id beside the delivery (sts.early) */
    bool data_running;                   /* the message is on its way: WRITABLE pumps it */
    bool data_finished;                  /* the terminator is queued: a fact of the data pump
                                            inside STSM_DELIVERY_SESSION, not a state */
    bool relay;                          /* relay mode (the settings' mode, taken at the start) */
    bool plaintext_retry;                /* the current host's attempt deliberately skips STARTTLS */
    bool healed;                         /* the live policy was fetched once for a stale cache */
    enum stsm_delivery_state state;      /* changed only by set_state() */
    /* Lookups in flight (LOOKUP_* bits). Not a state: a lookup cannot be cancelled, so it
     * outlives the state that started it (a group may end, or the deadline pass, while
     * the MTA-STS lookup runs on), and its storage is in use until it calls back. */
    unsigned lookups;
    const struct stsm_settings *settings;
    const struct stsm_transport *transport;
    void *transport_ctx;
    const struct stsm_clock *clock;
    void *clock_ctx;
    stsm_delivery_log_fn log, trace;
    stsm_delivery_done_fn done;
    void *arg;
    stsm_delivery_settled_fn settled;
    const struct stsm_message *message;  /* the batch's message whose transaction runs */
    size_t batch_count;
    size_t txn;                          /* batch index of the session's current transaction */
    const struct stsm_mx_set *hosts;     /* the group's MX hosts (MX mode), once routed */
    size_t host_index;
    /* Facts of the group's walk over its hosts, kept across the states of each host: */
    size_t usable_hosts;                 /* hosts the policy let us try */
    stsm_status_t route_status;
    uint32_t armed_serial;               /* stsm_smtp_wait_serial() the reply timer runs for */
    /* The data pump: the message is written a piece at a time (never whole: its body may
     * move in storage meanwhile), dot-stuffed into the chunk, the chunk sent. The piece is
     * read into the chunk's last bytes while they are free (stsm_delivery.c). */
    size_t piece_len, piece_used;        /* read from the reader, not yet encoded */
    size_t chunk_len, chunk_sent;
    size_t session_rcpt_count;
    size_t host_text_used;
    struct stsm_tls *tls;
    struct stsm_sts_cache *cache;        /* MTA-STS policies, may be NULL */
    uint32_t started_ms;
    int64_t now;                         /* seconds, for the cache */
    struct stsm_timer step_timer;        /* runs the current state's handler */
    struct stsm_timer deadline_timer, reply_timer;
    struct stsm_smtp_data encoder;
    struct stsm_message_reader reader;
    ip_addr_t server_address;
    uint16_t server_port;
    struct stsm_smtp_result last_failure;
    const struct stsm_message *batch[STSM_DELIVERY_BATCH_MAX];
    size_t size_estimate[STSM_DELIVERY_BATCH_MAX];
    /* BDAT's chunk sizes of message m, counted when a session first needs them (a server
     * offering CHUNKING): [m][1] as sent 8-bit, [m][0] otherwise; 0 until counted. */
    size_t chunk_octets[STSM_DELIVERY_BATCH_MAX][2];
    size_t session_rcpt[STSM_SMTP_MAX_RCPT];     /* the session's recipient k is rcpt[session_rcpt[k]] */
    /* Each recipient of each message: in the envelope and without a result yet (1), and then
     * also of the current domain's group (or all left, relay: 2); 0 once settled (or
     * outside the envelope). */
    uint8_t left[STSM_DELIVERY_BATCH_MAX][STSM_SMTP_MAX_RCPT];
    struct stsm_delivery_options options;  /* for the next start */
    char ehlo_literal[32];
    char server_name[STSM_SETTINGS_TEXT_MAX + 1];   /* the name certificates must match */
    char domain[STSM_HOSTNAME_MAX + 1];
    /* The domain's (or relay's) MTA-STS lookup: the policy in force. Not cleared by a start
     * (its own start clears what it uses, not its fetch's kilobytes). */
    struct stsm_sts_lookup sts;

    union {
        struct stsm_delivery_rcpt rcpt[STSM_SMTP_MAX_RCPT];
        struct stsm_delivery_rcpt batch_rcpt[STSM_DELIVERY_BATCH_MAX][STSM_SMTP_MAX_RCPT];
    };
    char host_text[STSM_DELIVERY_HOST_TEXT_MAX];   /* the names rcpt[].host point to, NUL after each */
    /* Where the group's servers come from: one or the other, by the settings' mode for the
     * whole delivery, never both. */
    union {
        struct stsm_route route;                /* MX mode */
        struct stsm_resolver_query query;       /* relay mode: the relay's address */
    };
    struct stsm_conn_transport_ctx lwip_conn;   /* the default transport's context */
    struct stsm_smtp smtp;
    uint8_t chunk[1024];
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
 * until `done` runs; a body it finds through body_at may move meanwhile. Returns
 * STSM_ERR_ARGUMENT (with a line logged) for a message that cannot be sent at all or an
 * empty envelope, STSM_ERR_CAPACITY when it is larger than STSM_MESSAGE_MAX once encoded,
 * STSM_ERR_IO when its body cannot be found; otherwise STSM_OK and `done` runs later, from the main loop, once
 * every recipient of the envelope has its result in `rcpt` (and was reported to
 * `settled`, when set).
 */
stsm_status_t stsm_delivery_start(struct stsm_delivery *delivery, const struct stsm_settings *settings,
                                  const struct stsm_message *message, struct stsm_tls *tls,
                                  struct stsm_sts_cache *cache, int64_t now,
                                  stsm_delivery_log_fn log, stsm_delivery_done_fn done, void *arg);

/**
 * Starts delivering `count` (1..STSM_DELIVERY_BATCH_MAX) messages together, each to its
 * own envelope, as stsm_delivery_start() delivers one (options.envelope is not used); each
 * message is checked as it does, and the first refusal is returned (nothing started).
 * Results go to batch_rcpt[m] and `settled` with message index m. `items` is read during
 * the call only; the messages must stay alive until `done`.
 */
stsm_status_t stsm_delivery_start_batch(struct stsm_delivery *delivery, const struct stsm_settings *settings,
                                        const struct stsm_delivery_item *items, size_t count,
                                        struct stsm_tls *tls, struct stsm_sts_cache *cache, int64_t now,
                                        stsm_delivery_log_fn log, stsm_delivery_done_fn done, void *arg);

/** The delivery's state now. */
enum stsm_delivery_state stsm_delivery_state(const struct stsm_delivery *delivery);

/** Name of a state for logs ("next_host", "held", ...; "?" for a value out of range). */
const char *stsm_delivery_state_name(enum stsm_delivery_state state);

/**
 * Ends a running delivery now, for a shutdown: the connection is dropped without waiting
 * for the server (a transaction cut before the end of its data is discarded by it), and
 * every recipient not yet settled is settled as deferred (STSM_ERR_STOPPED). `done` runs
 * from here, or, when a DNS or policy lookup is still out, once it ends (each within its
 * own bound). A delivery that is not running is left alone.
 */
void stsm_delivery_stop(struct stsm_delivery *delivery);

#endif /* STSM_DELIVERY_H */
