/*
 * The outbox: alerts accepted for delivery, kept in the store (stsm_store) until every
 * recipient has an end: delivered, failed (a 5xx, reason kept) or given up (still
 * undelivered when the retry period ran out). Pure: the caller gives the time and the
 * randomness; nothing here touches the network.
 *
 * What is kept for each message, across reboots and power cuts: the alert (key, severity,
 * subject, body, recipients), the Message-ID randomness and Date (so every retry sends
 * the same message), how many raises it stands for and when the first and last were,
 * the attempt count, the next attempt time, the first-queued time, the last error, and
 * each recipient's state. A recipient recorded as delivered is never offered again.
 *
 * Each message is two store records: the content, written once, and a small state record
 * rewritten on every change, so progress costs a few dozen bytes of flash, not the body.
 *
 * Times are wall-clock seconds (UTC). 0 means "not known": a raise before the clock is
 * set is stored with time 0 and stsm_outbox_clock_known() dates it later.
 *
 * Storms: a raise whose key matches a message raised first within the coalescing window
 * does not make a new message. If that message has not been attempted yet, the raise is
 * counted into it. Otherwise the raise is counted into a follow-up message for the key
 * that waits until the window ends, so a storm yields the first alert at once and one
 * summary per window ("raised N times between T1 and T2"). A per-domain hourly cap holds
 * (never drops) messages beyond it until the hour allows them.
 *
 * Full: when the store has no room (or STSM_OUTBOX_MAX messages are kept), a raise
 * returns STSM_ERR_FULL and changes nothing, unless /outbox/when_full is "drop_lower":
 * then the oldest message of strictly lower severity is dropped (logged and counted by
 * the caller through `dropped_id`) to make room; never one of equal or higher severity.
 *
 * The rules in numbers (every one is a unit test in tests/unit/test_outbox.c):
 * - Backoff: after attempt n (1, 2, ...) the next one is retry_first_s * 2^(n-1) seconds
 *   later, at most retry_max_s, then jittered uniformly within +-10% (from `random`), and
 *   never later than first_queued + give_up_s (one last try at the deadline). At the end
 *   of an attempt that began at or after that deadline, pending recipients are given up.
 *   Until the clock is known (first_queued 0) nothing is given up.
 * - Coalescing: the window of a key opens at the raise that finds none open, and covers
 *   [t, t + coalesce_window_s). Raises inside it with the same key AND the same
 *   recipients count into the newest not-yet-attempted message of that window; when
 *   there is none, into a new follow-up message held until t + coalesce_window_s. A
 *   raise at t + coalesce_window_s or later opens a new window. A follow-up keeps the
 *   content of the raise that created it; later raises add to raised_count and
 *   last_raised, and raise its severity to theirs when higher. With the clock unknown
 *   (now 0) raises coalesce with windows opened at time 0.
 * - Domain cap: a message's first attempt counts once for each distinct domain among its
 *   pending recipients. A message not attempted yet waits while any of those domains
 *   has had domain_hourly_cap first attempts in the last 3600 s. Retries are not held.
 *   At most STSM_OUTBOX_CAP_TRACK first attempts are remembered per hour; beyond that
 *   (with a cap set) every new message waits for the oldest to age out.
 * - Full: settled messages kept only as coalescing anchors (nothing left to deliver) are
 *   removed first to make room, silently. Then, with drop_lower, ONE message is dropped
 *   per raise: if the room is still short, the raise returns STSM_ERR_FULL with
 *   `*dropped_id` set, and raising again drops the next.
 * - Ids: 1..STSM_OUTBOX_ID_MAX, increasing, never reused while the store lives: before
 *   an id is used, a high-water record covering it and the next 31 is written (once per
 *   32 raises), so no deletion can bring an id back after a reboot; a reboot skips at
 *   most 32 ids. When they run out a raise returns STSM_ERR_CAPACITY.
 *
 * Store keys: (type << 24) | id with types 0x01 (content), 0x02 (state) and 0x03 (id 0:
 * the high-water record) belong to the outbox; other users of the store take other types.
 * A message without a state record is in its initial state, so a raise that makes a new
 * message writes one record; a deletion removes the content first, so a cut leaves at
 * most a state without content, which the next open removes.
 */
#ifndef STSM_OUTBOX_H
#define STSM_OUTBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "stsm_message.h"
#include "stsm_smtp.h"
#include "stsm_status.h"
#include "stsm_store.h"

#define STSM_OUTBOX_ID_MAX 0xFFFFFFu /**< ids live in the low 24 bits of a store key */

enum stsm_severity {
    STSM_SEVERITY_INFO,
    STSM_SEVERITY_WARNING,
    STSM_SEVERITY_ERROR,
    STSM_SEVERITY_CRITICAL,
    STSM_SEVERITY_COUNT
};

/** "info", "warning", "error", "critical"; NULL for an invalid value. */
const char *stsm_severity_name(enum stsm_severity severity);
/** The severity named `name` (`len` bytes); false when none is. */
bool stsm_severity_parse(const char *name, size_t len, enum stsm_severity *severity);

/** An alert as the firmware raises it. Strings need only live during the call. */
struct stsm_alert {
    const char *key;                 /**< what makes two raises "the same alert": printable
                                          ASCII, 1..STSM_OUTBOX_KEY_MAX; NULL: never coalesced */
    enum stsm_severity severity;
    const char *subject;             /**< UTF-8, no CR/LF */
    const char *body;                /**< UTF-8 text */
    size_t body_len;
    const char *const *to;           /**< recipients; NULL/0: the settings' /mail/to */
    size_t to_count;
};

/** /outbox settings (docs/settings.md). */
struct stsm_outbox_config {
    uint32_t retry_first_s;          /**< first retry delay, default 60 */
    uint32_t retry_max_s;            /**< the delay doubles up to this, default 3600 */
    uint32_t give_up_s;              /**< after this long since first queued, give up; default 259200 */
    uint32_t coalesce_window_s;      /**< 0: never coalesce; default 300 */
    uint32_t domain_hourly_cap;      /**< messages per recipient domain per hour; 0: no cap */
    bool drop_lower_when_full;       /**< /outbox/when_full: "refuse" (default) or "drop_lower" */
};

enum stsm_rcpt_state {
    STSM_RCPT_PENDING,               /**< not delivered yet: will be tried */
    STSM_RCPT_DELIVERED,             /**< a server took it (250 after the data) */
    STSM_RCPT_FAILED,                /**< refused permanently (5xx) */
    STSM_RCPT_GAVE_UP,               /**< still deferred when the retry period ran out */
};

/** "pending", "delivered", "failed", "gave_up". */
const char *stsm_rcpt_state_name(enum stsm_rcpt_state state);

/** The most the key, recipients and subject of one message may take with a NUL each:
 *  what a content record leaves for them (STSM_OUTBOX_RECORD_MAX less its 45 fixed bytes
 *  and the recipients' length bytes, plus the NULs) or the fields' maxima, whichever is
 *  less, unless a board sets less (each byte of it is RAM in the agent's batch text). A
 *  raise over it is refused (STSM_ERR_ARGUMENT, naming it); a stored message over it is
 *  corrupt. A `text` buffer this size takes any message stsm_outbox_load() returns. */
#define STSM_OUTBOX_TEXT_FIELDS (STSM_OUTBOX_KEY_MAX + 1 + STSM_SMTP_MAX_RCPT * (STSM_SMTP_ADDRESS_MAX + 1) + \
                                 STSM_MESSAGE_SUBJECT_MAX + 1)
#ifndef STSM_OUTBOX_TEXT_MAX
#define STSM_OUTBOX_TEXT_MAX \
    (STSM_OUTBOX_RECORD_MAX - 43 < STSM_OUTBOX_TEXT_FIELDS ? STSM_OUTBOX_RECORD_MAX - 43 : STSM_OUTBOX_TEXT_FIELDS)
#endif

/** One message as stored, decoded. `key`, `to` and `subject` point into the `text` buffer
 *  the caller gave stsm_outbox_load() (NULL when it gave none), so they live as long as
 *  it; `body` points into the store (see stsm_outbox_body()). */
struct stsm_outbox_message {
    uint32_t id;                     /**< unique, never reused while the store lives */
    enum stsm_severity severity;     /**< the highest of the raises it stands for */
    const char *key;                 /**< "" when none */
    size_t to_count;
    const char *to[STSM_SMTP_MAX_RCPT];
    enum stsm_rcpt_state rcpt[STSM_SMTP_MAX_RCPT];
    const char *subject;
    size_t text_len;                 /**< bytes of the loader's `text` those three took
                                          (their lengths plus a NUL each); 0 without one */
    const char *body;                /**< points into the store: valid until the next write
                                          (any outbox call that changes something) */
    size_t body_len;
    uint32_t id_random[2];           /**< Message-ID randomness, fixed at the first raise
                                          ([0] the raise's `random`, [1] the id) */
    int64_t first_queued;            /**< wall seconds, 0 unknown */
    int64_t first_raised, last_raised;
    uint32_t raised_count;           /**< raises this message stands for (>= 1) */
    bool follow_up;                  /**< it collects the raises after the first message of
                                          its coalescing window, opened at window_start */
    int64_t window_start;
    uint32_t attempts;
    int64_t next_attempt;            /**< wall seconds; 0: as soon as possible */
    char last_error[STSM_OUTBOX_ERROR_MAX + 1];
};

/** An outbox. Allocate statically; the fields are private. */
struct stsm_outbox {
    struct stsm_store *store;
    struct stsm_outbox_config config;
    uint32_t next_id;
    uint32_t id_reserved;            /* ids below this are covered by the high-water record */
    /* RAM summary of every kept message, oldest (lowest id) first, so choosing the next
     * one reads no flash (but the recipients' domains, while a domain cap is set). */
    size_t count;
    struct stsm_outbox_summary {
        uint32_t id;
        uint32_t key_hash;           /* of key and recipients; 0: no key */
        int64_t window_start;        /* the coalescing window it belongs to opened then */
        int64_t next_attempt;
        uint32_t pending;            /* bit i: recipient i pending; 0: settled (an anchor) */
        uint8_t severity;
        bool attempted;              /* at least one attempt began */
    } items[STSM_OUTBOX_MAX];
    /* First attempts per domain in the last hour, for the cap (RAM only: a reboot
     * forgets it, which at worst lets one more hour's cap through). Oldest first. */
    struct stsm_outbox_start { uint32_t domain_hash; int64_t at; } sent[STSM_OUTBOX_CAP_TRACK];
    size_t sent_count;
    /* Refusals and the last reason of the attempt under way, not written yet. */
    uint32_t attempt_id;
    uint32_t attempt_failed;         /* bit i: recipient i refused (5xx) */
    char attempt_error[STSM_OUTBOX_ERROR_MAX + 1];
};

/**
 * Opens the outbox on a mounted store, reading every message's summary. A record that
 * fails to decode is reported as STSM_ERR_CORRUPT with its id in `*bad_id` and left in
 * place (never deleted silently, never sent; stsm_outbox_drop() removes it); the others
 * are usable. STSM_ERR_CAPACITY when the store holds more than STSM_OUTBOX_MAX messages
 * (the oldest STSM_OUTBOX_MAX are usable). A state record left without its content by a
 * cut deletion is removed here.
 */
stsm_status_t stsm_outbox_open(struct stsm_outbox *outbox, struct stsm_store *store,
                               const struct stsm_outbox_config *config, uint32_t *bad_id);

/**
 * Reads the store again after another process wrote it (the host's `stsmail enqueue`
 * beside `stsmail run`), keeping what lives in RAM only: the domain caps' memory, the
 * refusals held for the attempt under way, and retry waits ended by
 * stsm_outbox_retry_now(). A plain stsm_outbox_open() would forget them (a refused
 * recipient asked again, a cap reset by every enqueue). Same results as open.
 */
stsm_status_t stsm_outbox_reload(struct stsm_outbox *outbox, uint32_t *bad_id);

/**
 * Accepts an alert with `from`-less content: recipients given or `default_to`. Returns
 * STSM_OK only once the message (or the raise counted into an existing one) is stored;
 * `*id` is its id and `*coalesced` tells whether it joined an existing message.
 * STSM_ERR_ARGUMENT (with `why`) for an alert that can never be sent: no recipients, too
 * many, a bad address, subject or key, a body over the store's record size.
 * STSM_ERR_FULL when there is no room (see "Full" above); `*dropped_id` is nonzero when a
 * lower-severity message was dropped to make room.
 */
stsm_status_t stsm_outbox_raise(struct stsm_outbox *outbox, const struct stsm_alert *alert,
                                const char *const *default_to, size_t default_to_count, int64_t now,
                                uint32_t random, uint32_t *id, bool *coalesced, uint32_t *dropped_id,
                                char *why, size_t why_len);

/** Dates messages raised while the clock was unknown (time 0) with `now`. */
stsm_status_t stsm_outbox_clock_known(struct stsm_outbox *outbox, int64_t now);

/**
 * The message to attempt now: due (next attempt reached, coalescing hold over, domain
 * caps allow), highest severity first, then oldest first. STSM_ERR_NOT_FOUND when none is
 * due; `*wait_s` then says how long until one is (UINT32_MAX: none waiting).
 */
stsm_status_t stsm_outbox_next_due(const struct stsm_outbox *outbox, int64_t now, uint32_t *id, uint32_t *wait_s);

/**
 * As stsm_outbox_next_due(), leaving out the `skip_count` ids in `skip`: the next message
 * in the same order, for an attempt that carries several (a batch). Domain caps count the
 * attempts already begun. STSM_ERR_NOT_FOUND when no other is due.
 */
stsm_status_t stsm_outbox_next_due_except(const struct stsm_outbox *outbox, int64_t now, const uint32_t *skip,
                                          size_t skip_count, uint32_t *id);

/**
 * Decodes message `id` into `out`, its key, recipients and subject copied into `text`
 * (`text_cap` bytes; they take their lengths plus a NUL each, at most
 * STSM_OUTBOX_TEXT_MAX; `text_len` says how many they took). `text` may be NULL (and
 * `text_cap` 0) for the rest alone: the progress, with `key`, `to` and `subject` NULL. STSM_ERR_NOT_FOUND, STSM_ERR_CORRUPT, or
 * STSM_ERR_CAPACITY when the text does not fit (`out` is not filled then).
 */
stsm_status_t stsm_outbox_load(const struct stsm_outbox *outbox, uint32_t id, struct stsm_outbox_message *out,
                               char *text, size_t text_cap);

/**
 * Where message `id`'s body is now: `*body` points into the store, valid until the next
 * write to it. Every outbox call that writes may move the body (the store reclaims
 * pages): a raise, attempt_begins, a delivered record(), attempt_ends, flush, drop,
 * tidy, clock_known. So fetch it (or load) after stsm_outbox_attempt_begins(), and again
 * before each transaction's DATA when an earlier transaction recorded a delivery; a
 * refusal or deferral recorded mid-transaction writes nothing and leaves it in place.
 * The body itself never changes. STSM_ERR_NOT_FOUND or STSM_ERR_CORRUPT.
 */
stsm_status_t stsm_outbox_body(const struct stsm_outbox *outbox, uint32_t id, const char **body, size_t *body_len);

/**
 * Decodes a message from its stored records as they are: `content` (`content_len` bytes)
 * and `state` (NULL: the initial state), for message `id`. Everything is bounds-checked
 * and validated as a raise would; STSM_ERR_CORRUPT on any inconsistency. `text` as for
 * stsm_outbox_load(). For stsm_outbox_load() and the fuzz harness.
 */
stsm_status_t stsm_outbox_decode(uint32_t id, const uint8_t *content, size_t content_len, const uint8_t *state,
                                 size_t state_len, struct stsm_outbox_message *out, char *text, size_t text_cap);

/**
 * Records that an attempt of `id` begins (attempt count, and the domain caps), stored
 * before the first byte goes out.
 */
stsm_status_t stsm_outbox_attempt_begins(struct stsm_outbox *outbox, uint32_t id, int64_t now);

/**
 * Records the outcome for one recipient (index into the message's `to`) as soon as it is
 * known. Delivered is final and stored before it returns. Failed (5xx) is final too, its
 * reply kept as last_error; deferred leaves the recipient pending, its reason kept as
 * last_error. Those two are held in RAM and stored with the message's next write (a
 * delivered, or at the latest stsm_outbox_attempt_ends()): lost to a power cut, they
 * only mean one more try. stsm_outbox_load() shows them at once. One attempt at a time:
 * outcomes held for another message are dropped. A recipient that already has an end
 * keeps it (STSM_OK, nothing written).
 */
stsm_status_t stsm_outbox_record(struct stsm_outbox *outbox, uint32_t id, size_t rcpt,
                                 const struct stsm_smtp_result *result, int64_t now);

/**
 * Writes now the refusals and last error stsm_outbox_record() holds unwritten, for the
 * message they are held for (nothing is written when none are held). An attempt that
 * carries several messages calls it before recording outcomes of another message, as
 * those would replace what is held, and before ending each message's attempt.
 */
stsm_status_t stsm_outbox_record_flush(struct stsm_outbox *outbox);

/**
 * Ends an attempt: when recipients are still pending, schedules the next attempt with
 * exponential backoff and jitter (from `random`), or gives them up once give_up_s has
 * passed since first queued. A message whose recipients all have an end is deleted, or
 * kept as a coalescing anchor until its window ends. Returns the message's recipients'
 * states in `states` (may be NULL) for the caller's result callback.
 */
stsm_status_t stsm_outbox_attempt_ends(struct stsm_outbox *outbox, uint32_t id, int64_t now, uint32_t random,
                                       enum stsm_rcpt_state states[STSM_SMTP_MAX_RCPT]);

/** Makes every pending message due now (`stsmail queue flush`), coalescing holds included;
 *  stored, so another process working the store sees it. */
stsm_status_t stsm_outbox_flush(struct stsm_outbox *outbox);

/**
 * Ends every retry wait in RAM only (nothing is written): each message already attempted
 * is due now, once; its next wait follows from its stored attempt count as before.
 * Coalescing holds stay. For a boot: a device that was off often comes back because its
 * network did.
 */
void stsm_outbox_retry_now(struct stsm_outbox *outbox);

/** Removes message `id` whatever its state (`stsmail queue drop`). */
stsm_status_t stsm_outbox_drop(struct stsm_outbox *outbox, uint32_t id);

/** Removes settled messages (anchors, or left by a power cut before their attempt's end)
 *  whose window is over; call now and then (e.g. from poll). */
stsm_status_t stsm_outbox_tidy(struct stsm_outbox *outbox, int64_t now);

/** Number of kept messages with a recipient still pending (not counting those kept only
 *  as a coalescing window's anchor). */
size_t stsm_outbox_pending_count(const struct stsm_outbox *outbox);

/** Number of kept messages and the id of the i-th (oldest first). */
size_t stsm_outbox_count(const struct stsm_outbox *outbox);
uint32_t stsm_outbox_id_at(const struct stsm_outbox *outbox, size_t i);

#endif /* STSM_OUTBOX_H */
