/*
 * The alert agent: the one header a vendor's firmware includes. It accepts alerts into a
 * durable outbox and delivers them from the device's main loop, retrying until every
 * recipient has an end. docs/api.md shows a complete main loop; docs/outbox.md states the
 * guarantees.
 *
 * Single-threaded and event-driven like lwIP's raw API (NO_SYS=1): call every function
 * from the thread that runs lwIP (the main loop, or lwIP's tcpip thread under an RTOS).
 * Nothing here allocates; the agent is one large struct the caller places statically.
 *
 * The promise: stsm_alert_raise() returns STSM_OK only once the alert is in flash (or the
 * host's store file). From then on, across outages, refusals, reboots and power cuts, the
 * alert reaches each recipient once, or ends as failed (a 5xx, reason kept) or given up
 * (the retry period ran out), and the result callback says which. The one exception: a
 * power cut between the server's 250 after DATA and the moment that reply is written
 * down sends the message to that recipient again at the next attempt.
 *
 * Order and connections: messages are attempted by severity, then age. An attempt takes
 * the first due message and, up to STSM_AGENT_BATCH_MAX in all, the others due now that
 * go the same way, in the same order: in relay mode every due message; in MX mode those
 * whose pending recipients are all in the one domain of the first's (a first message with
 * several domains goes alone). They share one connection per server, RSET between them.
 */
#ifndef STSM_AGENT_H
#define STSM_AGENT_H

#include <stdbool.h>
#include <stdint.h>

#include "stsm_delivery.h"
#include "stsm_outbox.h"
#include "stsm_settings.h"
#include "stsm_store.h"
#include "stsm_sts_cache.h"
#include "stsm_tls.h"

/** What the device provides. Every function pointer is required unless marked optional;
 *  `ctx` is passed back to each. Everything must outlive the agent. */
struct stsm_platform {
    void *ctx;
    /** Milliseconds from any start, wrapping at 2^32 (lwIP's sys_now() will do). */
    uint32_t (*monotonic_ms)(void *ctx);
    /** Seconds since 1970 UTC; false while the wall clock is not set (before SNTP).
     *  Nothing is delivered before it is: certificates cannot be checked without it. */
    bool (*wall_clock)(void *ctx, int64_t *now);
    /** Uniform random bits from a seeded DRBG (retry jitter, Message-IDs). */
    uint32_t (*random_u32)(void *ctx);
    /** The flash area (or host file) the outbox lives in: at least 3 erase pages. */
    const struct stsm_flash_area *storage;
    /** One line of text per event, no newline. Optional. */
    void (*log)(void *ctx, const char *line);
    /** TLS, initialised with the device's trust store. */
    struct stsm_tls *tls;
    /** MTA-STS policies (may be NULL: no cache) and a hook run after a delivery changed
     *  it, so the device can write it to flash. Optional. */
    struct stsm_sts_cache *sts_cache;
    void (*sts_cache_changed)(void *ctx);
    /** What deliveries run on. Optional: NULL takes lwIP's connection
     *  (stsm_conn_transport()) and timer list (stsm_lwip_clock()); tests give a scripted
     *  peer and a fake clock. Their contexts must outlive the agent. */
    const struct stsm_transport *transport;
    void *transport_ctx;
    const struct stsm_clock *clock;
    void *clock_ctx;
};

/** What became of one recipient of one message: delivered, failed or gave up. */
struct stsm_agent_result {
    uint32_t id;                     /**< the message, as stsm_alert_raise() returned it */
    const char *key;                 /**< the alert's key, "" when none */
    const char *rcpt;
    enum stsm_rcpt_state state;      /**< never PENDING */
    const char *host;                /**< the server that decided it, "" if none */
    const char *reason;              /**< "250 2.0.0 Ok", "550 5.1.1 No such user", or a local
                                          reason such as "timeout: ..." */
};
typedef void (*stsm_agent_result_fn)(void *arg, const struct stsm_agent_result *result);

/** For the device's status page. */
struct stsm_agent_counters {
    uint32_t raised;                 /**< raises accepted (coalesced ones included) */
    uint32_t coalesced;              /**< ... of which joined an existing message */
    uint32_t refused_full;           /**< raises refused with STSM_ERR_FULL */
    uint32_t dropped;                /**< messages dropped to make room (/outbox/when_full) */
    uint32_t attempts;               /**< delivery attempts begun */
    uint32_t delivered, failed, gave_up;   /**< recipients, by end */
    uint32_t queued;                 /**< messages with a recipient still pending, now */
};

#define STSM_AGENT_PREAMBLE_MAX 200   /**< the note on a coalesced message's raises */

#ifndef STSM_AGENT_TEXT_MAX
#define STSM_AGENT_TEXT_MAX (STSM_OUTBOX_TEXT_MAX + STSM_AGENT_PREAMBLE_MAX)   /**< bytes of the
                                          batch's text: keys, recipients, subjects and
                                          preambles, each at its own length. At least one
                                          message's most; a message whose text does not fit
                                          beside the others' waits for the next attempt */
#endif

/** One message of the attempt under way (private). */
struct stsm_agent_slot {
    const struct stsm_outbox *outbox;
    uint32_t id;
    const char *key;                     /* in the agent's text, as the message's strings */
    bool recorded[STSM_SMTP_MAX_RCPT];   /* settled recipients already written down */
    bool told[STSM_SMTP_MAX_RCPT];       /* ... whose end the result callback already got */
    bool envelope[STSM_SMTP_MAX_RCPT];   /* recipients still pending: the attempt's RCPTs */
    struct stsm_message message;
};

struct stsm_agent {
    const struct stsm_settings *settings;
    struct stsm_platform platform;
    struct stsm_store store;
    struct stsm_outbox outbox;
    stsm_agent_result_fn on_result;
    void *result_arg;
    struct stsm_agent_counters counters;
    bool clock_known;
    bool stopping;                   /* stsm_agent_stop(): start nothing new */
    bool delivering;
    bool delivery_ended;             /* `done` ran; poll settles it */
    uint32_t wait_s;                 /* from the last poll: until the next message is due */
    uint32_t polled_at_ms;
    size_t batch_count;              /* messages of the attempt under way */
    size_t record_slot;              /* the message the outbox may hold unwritten outcomes of */
    struct stsm_agent_slot batch[STSM_AGENT_BATCH_MAX];
    /* The batch's recipients, subjects, keys and preambles, copied out of the store at the
     * attempt's start (a write may move the records, and the delivery keeps pointers to
     * them); the body is found in the store whenever it is read. */
    size_t text_used;
    char text[STSM_AGENT_TEXT_MAX];
    struct stsm_delivery delivery;
};

/**
 * Mounts the store, opens the outbox and checks the settings a delivery needs (/mail/from).
 * STSM_ERR_NOT_CONFIGURED when /mail/from is empty, STSM_ERR_CORRUPT when a stored message
 * cannot be read (it is kept, logged, and never sent), or the store's status.
 */
stsm_status_t stsm_agent_init(struct stsm_agent *agent, const struct stsm_settings *settings,
                              const struct stsm_platform *platform);

/** Sets the callback that reports each recipient's end (may be NULL). */
void stsm_agent_on_result(struct stsm_agent *agent, stsm_agent_result_fn fn, void *arg);

/**
 * Accepts an alert. STSM_OK once it is stored (`*id`, may be NULL, names its message);
 * STSM_ERR_FULL when the outbox has no room (nothing stored, nothing dropped, unless
 * /outbox/when_full allows dropping an older alert of lower severity, which is logged
 * and counted); STSM_ERR_ARGUMENT (logged with the field) for an alert that can never be
 * sent; STSM_ERR_IO when the storage failed (not stored).
 */
stsm_status_t stsm_alert_raise(struct stsm_agent *agent, const struct stsm_alert *alert, uint32_t *id);

/** Does what is due: settles a finished delivery, starts the next due message. Call it
 *  from the main loop beside lwIP's sys_check_timeouts(). */
void stsm_agent_poll(struct stsm_agent *agent);

/** Milliseconds the device may sleep before the agent needs stsm_agent_poll() again;
 *  UINT32_MAX when only lwIP's own timers (sys_timeouts_sleeptime()) or a raise can give
 *  it work. */
uint32_t stsm_agent_next_wakeup(const struct stsm_agent *agent);

/** Starts nothing new; the delivery under way runs to its end. */
void stsm_agent_stop(struct stsm_agent *agent);

/** Ends the delivery under way now, for a shutdown that cannot wait for it: the
 *  connection is dropped and every recipient not yet settled stays pending (the next
 *  start tries it at once). A message whose data was already sent in full may then
 *  arrive twice: the one exception docs/outbox.md names. The next poll writes the end. */
void stsm_agent_abandon(struct stsm_agent *agent);

/** True while a delivery is under way. */
bool stsm_agent_busy(const struct stsm_agent *agent);

/** Re-reads the store after another writer changed it (the host's `stsmail enqueue`
 *  beside `stsmail run`). */
stsm_status_t stsm_agent_reload(struct stsm_agent *agent);

/** The counters; `queued` is current. */
const struct stsm_agent_counters *stsm_agent_counters(const struct stsm_agent *agent);

#endif /* STSM_AGENT_H */
