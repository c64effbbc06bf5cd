#include "stsm_delivery.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "stsm_sts_verdict.h"
#include "stsm_wipe.h"

#define SMTP_PORT 25

/* Lookups in flight (stsm_delivery.lookups). */
#define LOOKUP_ROUTE 1u   /* MX route, or the relay's address */
#define LOOKUP_STS 2u     /* the group's MTA-STS lookup */
#define LOOKUP_HEAL 4u    /* the healing fetch of the live policy */

#define CONN(d) ((d)->transport_ctx)

/* ---- plumbing ---------------------------------------------------------------------- */

/* The format is a literal, marked by the macro: an id on the MCU (stsm_text.h), whose two
 * words this file's functions taking a format take apart (STSM_TEXT_SPLIT). */
#define say(d, ...) say_text((d), STSM_TEXT(__VA_ARGS__))

STSM_TEXT_PRINTF(2, 3)
static void STSM_TEXT_WORDS(say_text)(struct stsm_delivery *d, STSM_TEXT_PARAMS, ...)
{
    char line[320];
    va_list ap;
    va_start(ap, STSM_TEXT_LAST);
    stsm_text_vformat(line, sizeof line, STSM_TEXT_FMT, ap);
    va_end(ap);
    if (d->log != NULL) {
        d->log(d->arg, line);
    }
}
STSM_TEXT_SPLIT(say_text, (struct stsm_delivery *d), d);

static void arm(struct stsm_delivery *d, struct stsm_timer *t, uint32_t ms, stsm_timer_fn fn)
{
    d->clock->arm(d->clock_ctx, t, ms, fn, d);
}

static void disarm(struct stsm_delivery *d, struct stsm_timer *t)
{
    d->clock->disarm(d->clock_ctx, t);
}

static bool relay_mode(const struct stsm_delivery *d)
{
    return d->relay;
}

static bool lookup_running(const struct stsm_delivery *d, unsigned which)
{
    return (d->lookups & which) != 0;
}

/* The group's MTA-STS decision is made: its lookup ended, none runs, or the cache's policy
 * is in force while the lookup checks the TXT id beside the delivery. Not the same as
 * the lookup having ended: its storage may still be in use. */
static bool policy_decided(const struct stsm_delivery *d)
{
    return !lookup_running(d, LOOKUP_STS) || d->policy_early;
}

static const char *domain_of(const char *address)
{
    const char *at = strrchr(address, '@');
    return at != NULL ? at + 1 : address;
}

static void set_local(struct stsm_smtp_result *r, enum stsm_smtp_outcome outcome, stsm_status_t status,
                      const char *text)
{
    r->outcome = outcome;
    r->status = status;
    r->code = 0;
    snprintf(r->text, sizeof r->text, "%s", text);
}

/* set_local() with a marked literal (an id on the MCU) as the text. */
#define set_local_literal(r, outcome, status, ...) \
    set_local_text((r), (outcome), (status), STSM_TEXT(__VA_ARGS__))

/* A local result: `outcome` for `status`, its text formatted from `ap` into at most `len`
 * bytes. */
static void set_local_v(struct stsm_smtp_result *r, enum stsm_smtp_outcome outcome, stsm_status_t status,
                        size_t len, STSM_TEXT_PARAMS, va_list ap)
{
    set_local(r, outcome, status, "");
    stsm_text_vformat(r->text, len, STSM_TEXT_FMT, ap);
}

STSM_TEXT_PRINTF(4, 5)
static void STSM_TEXT_WORDS(set_local_text)(struct stsm_smtp_result *r, enum stsm_smtp_outcome outcome, stsm_status_t status,
                                 STSM_TEXT_PARAMS, ...)
{
    va_list ap;
    va_start(ap, STSM_TEXT_LAST);
    set_local_v(r, outcome, status, sizeof r->text, STSM_TEXT_PASS, ap);
    va_end(ap);
}
STSM_TEXT_SPLIT(set_local_text, (struct stsm_smtp_result *r, enum stsm_smtp_outcome outcome, stsm_status_t status),
          r, outcome, status);

/* stsm_delivery.left: a recipient in its envelope without a result yet, and also one of
 * the current group. The recipients of the batch are walked as one array, k for message
 * k / STSM_SMTP_MAX_RCPT's recipient k % STSM_SMTP_MAX_RCPT (those past a message's
 * to_count are 0). */
#define LEFT 1u
#define IN_GROUP 2u
#define LEFT_COUNT(d) ((d)->batch_count * STSM_SMTP_MAX_RCPT)
#define LEFT_AT(d, k) (((uint8_t *)(d)->left)[k])

/* Recipient `i` of the batch's message `m` is in its envelope and has no result yet. */
static bool pending(const struct stsm_delivery *d, size_t m, size_t i)
{
    return d->left[m][i] != 0;
}

/* The delivery's copy of `host`: one per name, however many recipients it decided (each
 * used to carry its own 256 bytes). A name that no longer fits is not truncated and never
 * stands in for another: the recipient's host says it was not kept, and the log says why. */
static const char *keep_host(struct stsm_delivery *d, size_t m, size_t i, const char *host)
{
    if (host[0] == '\0') {
        return "";
    }
    for (size_t at = 0; at < d->host_text_used; at += strlen(d->host_text + at) + 1) {
        if (strcmp(d->host_text + at, host) == 0) {
            return d->host_text + at;
        }
    }
    size_t need = strlen(host) + 1;
    if (need > sizeof d->host_text - d->host_text_used) {
        say(d, "%s decided %s, but is not named in its result: this attempt's %u bytes of host names are full",
            host, d->batch[m]->to[i], (unsigned)sizeof d->host_text);
        return STSM_DELIVERY_HOST_NOT_KEPT;
    }
    char *kept = d->host_text + d->host_text_used;
    memcpy(kept, host, need);
    d->host_text_used += need;
    return kept;
}

/* The one place a recipient's result becomes final for this attempt; told at once, so
 * that a power cut later cannot make the caller send to it again. */
static void settle(struct stsm_delivery *d, size_t m, size_t i, const struct stsm_smtp_result *result,
                   const char *host)
{
    struct stsm_delivery_rcpt *r = &d->batch_rcpt[m][i];
    d->left[m][i] = 0;
    r->result = *result;
    r->host = keep_host(d, m, i, host);
    if (d->settled != NULL) {
        d->settled(d->arg, m, i, r);
    }
}

/* Gives every recipient still pending whose `left` has a bit of `which` (IN_GROUP: of the
 * current group; LEFT: whatever its group), in every message, the same final result. */
static void settle_pending(struct stsm_delivery *d, unsigned which, const struct stsm_smtp_result *result,
                           const char *host)
{
    for (size_t k = 0; k < LEFT_COUNT(d); k++) {
        if (LEFT_AT(d, k) & which) {
            settle(d, k / STSM_SMTP_MAX_RCPT, k % STSM_SMTP_MAX_RCPT, result, host);
        }
    }
}

static void step_later(struct stsm_delivery *d, enum stsm_delivery_state state);

/* The current group is over: its recipients still pending get `result`, and the next
 * group follows. */
static void end_group(struct stsm_delivery *d, const struct stsm_smtp_result *result, const char *host)
{
    settle_pending(d, IN_GROUP, result, host);
    step_later(d, STSM_DELIVERY_NEXT_GROUP);
}

/* end_group() with a local result: `outcome` for `status`, its text formatted (a marked
 * literal, an id on the MCU), decided by no host. */
STSM_TEXT_PRINTF(4, 5)
static void STSM_TEXT_WORDS(group_fails)(struct stsm_delivery *d, enum stsm_smtp_outcome outcome, stsm_status_t status,
                              STSM_TEXT_PARAMS, ...)
{
    struct stsm_smtp_result r;
    va_list ap;
    va_start(ap, STSM_TEXT_LAST);
    set_local_v(&r, outcome, status, sizeof r.text, STSM_TEXT_PASS, ap);
    va_end(ap);
    end_group(d, &r, "");
}
STSM_TEXT_SPLIT(group_fails, (struct stsm_delivery *d, enum stsm_smtp_outcome outcome, stsm_status_t status),
          d, outcome, status);

/* The group's servers could not be found (its MX hosts, the relay's address): said, and
 * the group deferred for the route's status whatever it is (a CNAME chain or an answer
 * beyond our own limits is a local limit, and a local limit never loses an alert). The
 * text is cut at 100 bytes, as it always was. */
STSM_TEXT_PRINTF(2, 3)
static void STSM_TEXT_WORDS(route_failed)(struct stsm_delivery *d, STSM_TEXT_PARAMS, ...)
{
    struct stsm_smtp_result r;
    va_list ap;
    va_start(ap, STSM_TEXT_LAST);
    set_local_v(&r, STSM_SMTP_DEFERRED, d->route_status, 100, STSM_TEXT_PASS, ap);
    va_end(ap);
    say(d, "%s", r.text);
    end_group(d, &r, "");
}
STSM_TEXT_SPLIT(route_failed, (struct stsm_delivery *d), d);

/* The policy in force for the current group, NULL for none: what the lookup (or a healing
 * fetch) found once it has ended. A policy of mode none is no policy. */
static const struct stsm_sts_policy *policy_in_force(const struct stsm_delivery *d)
{
    if (!policy_decided(d) || !d->sts.have_policy || d->sts.policy.mode == STSM_STS_MODE_NONE) {
        return NULL;
    }
    return &d->sts.policy;
}

static enum stsm_sts_mode sts_mode(const struct stsm_delivery *d)
{
    const struct stsm_sts_policy *policy = policy_in_force(d);
    return policy != NULL ? policy->mode : STSM_STS_MODE_NONE;
}

/* TLS demanded of the current session: verified under an enforce policy, for a relay or
 * at tls_level "verify"; required (encrypted, perhaps unverified) at "encrypt"; otherwise
 * opportunistic. */
static bool tls_must_verify(const struct stsm_delivery *d)
{
    return relay_mode(d) || sts_mode(d) == STSM_STS_MODE_ENFORCE ||
           d->settings->delivery.tls_level == STSM_TLS_LEVEL_VERIFY;
}

static const char *tls_level_name(enum stsm_tls_level level)
{
    return level == STSM_TLS_LEVEL_VERIFY ? "verify" : level == STSM_TLS_LEVEL_ENCRYPT ? "encrypt" : "may";
}

static bool tls_required(const struct stsm_delivery *d)
{
    const struct stsm_settings_delivery *cfg = &d->settings->delivery;
    if (sts_mode(d) == STSM_STS_MODE_ENFORCE) {
        return true;   /* whatever the settings say, relay or MX */
    }
    return relay_mode(d) ? cfg->relay_tls != STSM_RELAY_NONE : cfg->tls_level != STSM_TLS_LEVEL_MAY;
}

/* ---- the state machine ------------------------------------------------------------- */

static void next_group(struct stsm_delivery *d);
static void lookups_ended(struct stsm_delivery *d);
static void try_host(struct stsm_delivery *d);
static void open_session(struct stsm_delivery *d);
static void waiting(struct stsm_delivery *d);
static void act(struct stsm_delivery *d, enum stsm_smtp_action action);
static void decide_held(struct stsm_delivery *d);
static struct stsm_sts_verdict host_verdict(const struct stsm_delivery *d, const struct stsm_mx_host *host,
                                            enum stsm_sts_tls tls);
static void relay_ready(struct stsm_delivery *d);
static bool relay_refused(struct stsm_delivery *d);

/* One handler per state: what the delivery does in it, run when the state is entered
 * through step_later() or step_now(), and again when what it waits for arrives. States
 * that only wait for an event (a reply, a lookup) have `waiting`. */
static void (*const handlers[])(struct stsm_delivery *d) = {
    [STSM_DELIVERY_IDLE] = waiting,
    [STSM_DELIVERY_NEXT_GROUP] = next_group,
    [STSM_DELIVERY_LOOKUP] = lookups_ended,
    [STSM_DELIVERY_NEXT_HOST] = try_host,
    [STSM_DELIVERY_CONNECTING] = open_session,
    [STSM_DELIVERY_SESSION] = waiting,
    [STSM_DELIVERY_TLS_WAIT] = waiting,
    [STSM_DELIVERY_HELD] = waiting,
    [STSM_DELIVERY_REFUSED] = waiting,
    [STSM_DELIVERY_HEALING] = waiting,
    [STSM_DELIVERY_EXPIRED] = waiting,
    [STSM_DELIVERY_DONE] = waiting,
};

static const char *const state_names[] = {
    [STSM_DELIVERY_IDLE] = "idle",
    [STSM_DELIVERY_NEXT_GROUP] = "next_group",
    [STSM_DELIVERY_LOOKUP] = "lookup",
    [STSM_DELIVERY_NEXT_HOST] = "next_host",
    [STSM_DELIVERY_CONNECTING] = "connecting",
    [STSM_DELIVERY_SESSION] = "session",
    [STSM_DELIVERY_TLS_WAIT] = "tls_wait",
    [STSM_DELIVERY_HELD] = "held",
    [STSM_DELIVERY_REFUSED] = "refused",
    [STSM_DELIVERY_HEALING] = "healing",
    [STSM_DELIVERY_EXPIRED] = "expired",
    [STSM_DELIVERY_DONE] = "done",
};

_Static_assert(sizeof handlers / sizeof handlers[0] == STSM_DELIVERY_DONE + 1, "a handler for every state");
_Static_assert(sizeof state_names / sizeof state_names[0] == STSM_DELIVERY_DONE + 1, "a name for every state");

const char *stsm_delivery_state_name(enum stsm_delivery_state state)
{
    return (size_t)state < sizeof state_names / sizeof state_names[0] ? state_names[state] : "?";
}

static void waiting(struct stsm_delivery *d)
{
    (void)d;
}

/* The only way to change the state. A step scheduled for the state left is dropped. */
static void set_state(struct stsm_delivery *d, enum stsm_delivery_state state)
{
    if (d->trace != NULL && state != d->state) {
        char line[80];
        stsm_text_format(line, sizeof line, STSM_TEXT("delivery: %s -> %s at %lu ms", stsm_delivery_state_name(d->state),
                 stsm_delivery_state_name(state), (unsigned long)(d->clock->now_ms(d->clock_ctx) - d->started_ms)));
        d->trace(d->arg, line);
    }
    disarm(d, &d->step_timer);
    d->state = state;
}

static void on_step(void *arg)
{
    struct stsm_delivery *d = arg;
    handlers[d->state](d);
}

/* Enters `state` and runs its handler from the timer list: steps that would start a new
 * connection never run inside a callback of the connection they replace. */
static void step_later(struct stsm_delivery *d, enum stsm_delivery_state state)
{
    set_state(d, state);
    arm(d, &d->step_timer, 0, on_step);
}

/* Enters `state` and runs its handler now. */
static void step_now(struct stsm_delivery *d, enum stsm_delivery_state state)
{
    set_state(d, state);
    handlers[state](d);
}

static bool in_session(const struct stsm_delivery *d)
{
    return d->state == STSM_DELIVERY_SESSION || d->state == STSM_DELIVERY_TLS_WAIT ||
           d->state == STSM_DELIVERY_HELD || d->state == STSM_DELIVERY_REFUSED;
}

/* ---- the attempt's deadline -------------------------------------------------------- */

/* Every step has its own timer, but a hostile or broken peer can chain steps (hosts,
 * retries, slow replies); one deadline bounds the whole attempt. */

static void finish(struct stsm_delivery *d)
{
    if (d->state == STSM_DELIVERY_DONE) {
        return;
    }
    set_state(d, STSM_DELIVERY_DONE);
    disarm(d, &d->deadline_timer);
    d->done(d->arg, d);
}

/* Drops the current connection, if any. */
static void abandon_connection(struct stsm_delivery *d)
{
    disarm(d, &d->reply_timer);
    d->data_running = false;
    d->transport->close(CONN(d));
}

/* Ends the attempt now: the connection is dropped (a transaction cut before the end of
 * its data is discarded by the server) and every recipient not yet settled is deferred
 * with `status` and `text`. DNS and policy lookups cannot be cancelled; the delivery ends
 * once the last of them does, each within its own bound. */
STSM_TEXT_PRINTF(3, 4)
static void STSM_TEXT_WORDS(expire)(struct stsm_delivery *d, stsm_status_t status, STSM_TEXT_PARAMS, ...)
{
    struct stsm_smtp_result r;
    va_list ap;
    va_start(ap, STSM_TEXT_LAST);
    set_local_v(&r, STSM_SMTP_DEFERRED, status, sizeof r.text, STSM_TEXT_PASS, ap);
    va_end(ap);
    say(d, "%s; every recipient not yet settled is deferred", r.text);
    disarm(d, &d->deadline_timer);
    set_state(d, STSM_DELIVERY_EXPIRED);
    abandon_connection(d);
    if (relay_mode(d) && lookup_running(d, LOOKUP_ROUTE)) {
        stsm_resolver_cancel(&d->query);
        d->lookups &= ~LOOKUP_ROUTE;
    }
    settle_pending(d, LEFT, &r, "");
    if (d->lookups == 0) {
        finish(d);
    }
}
STSM_TEXT_SPLIT(expire, (struct stsm_delivery *d, stsm_status_t status), d, status);

static void on_deadline(void *arg)
{
    struct stsm_delivery *d = arg;
    expire(d, STSM_ERR_TIMEOUT, STSM_TEXT("the attempt's deadline (%lu s, /delivery/attempt_timeout) passed",
                                          (unsigned long)d->settings->delivery.attempt_timeout_s));
}

void stsm_delivery_stop(struct stsm_delivery *delivery)
{
    if (delivery->state == STSM_DELIVERY_IDLE || delivery->state == STSM_DELIVERY_DONE ||
        delivery->state == STSM_DELIVERY_EXPIRED) {
        return;
    }
    expire(delivery, STSM_ERR_STOPPED, STSM_TEXT("the attempt was stopped (shutdown)"));
}

/* For a lookup's callback: clears its bit (`which`); true when the deadline passed
 * meanwhile (the delivery then ends once no lookup is left). */
static bool lookup_ended_after_deadline(struct stsm_delivery *d, unsigned which)
{
    d->lookups &= ~which;
    if (d->state != STSM_DELIVERY_EXPIRED) {
        return false;
    }
    if (d->lookups == 0) {
        finish(d);
    }
    return true;
}

/* ---- the SMTP session over the connection ------------------------------------------ */

static void on_smtp_timeout(void *arg)
{
    struct stsm_delivery *d = arg;
    act(d, stsm_smtp_timeout(&d->smtp));
}

/* Starts the timer of the reply (or data block) the session now waits for. It is armed
 * when the engine starts waiting for something new or a data block is handed over, never
 * because a segment arrived: RFC 5321's timeouts are per reply, and a server trickling a
 * byte at a time must not keep a session alive for ever. */
static void arm_timer(struct stsm_delivery *d)
{
    uint32_t ms = stsm_smtp_timeout_ms(&d->smtp);
    arm(d, &d->reply_timer, (uint32_t)((uint64_t)ms * d->settings->delivery.timeout_percent / 100u),
        on_smtp_timeout);
    d->armed_serial = stsm_smtp_wait_serial(&d->smtp);
}

/* Hands the engine's queued commands to the connection, as far as it takes them (the
 * rest goes on STSM_CONN_WRITABLE). */
static void flush_output(struct stsm_delivery *d)
{
    size_t len;
    const uint8_t *out = stsm_smtp_output(&d->smtp, &len);
    while (len > 0) {
        long n = d->transport->send(CONN(d), out, len);
        if (n <= 0) {
            break;
        }
        stsm_smtp_output_sent(&d->smtp, (size_t)n);
        out = stsm_smtp_output(&d->smtp, &len);
    }
    d->transport->flush(CONN(d));
}

/* The body could not be read from storage mid-way: the data is cut before its end, so the
 * server discards the transaction, and the attempt ends (another host would fare no
 * better); it is tried again later. */
static void message_unreadable(struct stsm_delivery *d, stsm_status_t status)
{
    expire(d, status, STSM_TEXT("the message could not be read from storage (%s)", stsm_status_str(status)));
}

/* The message's exact size as BDAT's chunk in one form (8-bit or not): a first pass of
 * the same reader and encoder the sending does. 0 when it cannot be read: DATA then,
 * whose streaming finds the same failure. */
static size_t count_chunk(const struct stsm_message *message, bool eight)
{
    struct stsm_message_reader reader;
    struct stsm_smtp_data enc;
    uint8_t in[64], out[128];
    if (stsm_message_reader_start(&reader, message, eight) != STSM_OK) {
        return 0;
    }
    stsm_smtp_data_init_chunk(&enc);
    for (;;) {
        size_t len;
        if (stsm_message_reader_read(&reader, (char *)in, sizeof in, &len) != STSM_OK) {
            return 0;
        }
        if (len == 0) {
            break;
        }
        for (size_t used = 0, n; used < len;) {
            used += stsm_smtp_data_encode(&enc, in + used, len - used, out, sizeof out, &n);
        }
    }
    (void)stsm_smtp_data_finish(&enc, out);
    return enc.total;
}

/* The engine's count_chunk: BDAT's size of the transaction's message in the form the
 * session's extensions select, asked only by a server offering CHUNKING. Counted once per
 * message, form and delivery (a pass over the message each): kept for the message's later
 * sessions (another domain's group); a message that reads otherwise by then is cut as
 * changed (chunk_overrun). */
static size_t chunk_count(void *arg, bool eight)
{
    struct stsm_delivery *d = arg;
    size_t *n = &d->chunk_octets[d->txn][eight];
    if (*n == 0) {
        *n = count_chunk(d->message, eight);
    }
    return *n;
}

/* The message read otherwise than it was counted for BDAT: the chunk is cut before its
 * announced end (the server waits for the rest and drops the transaction when the
 * connection goes); it is tried again later, counted again. */
static void message_changed(struct stsm_delivery *d)
{
    expire(d, STSM_ERR_CORRUPT, STSM_TEXT("the message changed size while it was sent, not as BDAT announced"));
}

/* The chunk's octets must be what BDAT announced, to the byte: a message that reads
 * otherwise than it counted cannot be sent (a wrong count would make the server take our
 * next bytes as message text, or cut it). The connection is closed before more goes. */
static bool chunk_overrun(const struct stsm_delivery *d, bool at_end)
{
    size_t n = stsm_smtp_chunk_size(&d->smtp);
    return n > 0 && (d->encoder.total > n || (at_end && d->encoder.total != n));
}

/* The piece (message bytes read, not yet encoded) lies in the chunk's last PIECE_MAX
 * bytes, one buffer for both: a piece is read there only while the encoded bytes end
 * before it, and the encoder writes only up to the piece's first unread byte, so what it
 * writes never reaches what it has still to read. A chunk is sent once it holds
 * PIECE_AT - 1 bytes or more, never empty before the message's end. */
#define PIECE_MAX 256u
#define PIECE_AT (sizeof ((struct stsm_delivery *)0)->chunk - PIECE_MAX)
_Static_assert(PIECE_AT >= 2, "the encoder writes at least 2 bytes at a time");

/* Fills the chunk: message pieces from the reader, dot-stuffed by the encoder. */
static stsm_status_t fill_chunk(struct stsm_delivery *d)
{
    for (;;) {
        if (d->piece_used == d->piece_len) {
            if (d->chunk_len + 2 > PIECE_AT) {
                return STSM_OK;   /* no room before the piece's place: send first */
            }
            d->piece_used = 0;
            stsm_status_t st = stsm_message_reader_read(&d->reader, (char *)d->chunk + PIECE_AT, PIECE_MAX,
                                                        &d->piece_len);
            if (st != STSM_OK || d->piece_len == 0) {
                d->piece_len = 0;
                return st;   /* the end of the message, or a body gone */
            }
        }
        size_t unread = PIECE_AT + d->piece_used;
        if (unread - d->chunk_len < 2) {
            return STSM_OK;   /* full up to the piece: send, then encode the rest of it */
        }
        size_t n;
        d->piece_used += stsm_smtp_data_encode(&d->encoder, d->chunk + unread, d->piece_len - d->piece_used,
                                               d->chunk + d->chunk_len, unread - d->chunk_len, &n);
        d->chunk_len += n;
    }
}

/* Streams the message through the DATA encoder; returns when the connection is full. */
static void pump_data(struct stsm_delivery *d)
{
    size_t queued;
    (void)stsm_smtp_output(&d->smtp, &queued);
    if (queued > 0) {
        return;   /* a flight ending with BDAT: its commands go first (WRITABLE comes back) */
    }
    for (;;) {
        if (d->chunk_sent < d->chunk_len) {
            long n = d->transport->send(CONN(d), d->chunk + d->chunk_sent, d->chunk_len - d->chunk_sent);
            if (n < 0) {
                act(d, stsm_smtp_closed(&d->smtp));
                return;
            }
            if (n == 0) {
                d->transport->flush(CONN(d));
                return;
            }
            d->chunk_sent += (size_t)n;
            if (d->chunk_sent == d->chunk_len) {
                arm_timer(d);   /* the next data block's time starts */
            }
            continue;
        }
        d->chunk_sent = d->chunk_len = 0;
        if (d->data_finished) {
            d->transport->flush(CONN(d));
            d->data_running = false;   /* all sent: nothing more to pump */
            act(d, stsm_smtp_data_done(&d->smtp));
            return;
        }
        stsm_status_t st = fill_chunk(d);
        if (st != STSM_OK) {
            message_unreadable(d, st);
            return;
        }
        if (d->chunk_len == 0) {   /* the message's end: the terminator (DATA) or the last line end */
            d->chunk_len = stsm_smtp_data_finish(&d->encoder, d->chunk);
            d->data_finished = true;
        }
        if (chunk_overrun(d, d->data_finished)) {
            message_changed(d);   /* nothing of this chunk goes */
            return;
        }
    }
}

static void start_data(struct stsm_delivery *d)
{
    bool eight = stsm_smtp_caps(&d->smtp)->eightbitmime;
    stsm_status_t st = stsm_message_reader_start(&d->reader, d->message, eight);
    if (st != STSM_OK) {
        message_unreadable(d, st);   /* the message itself was checked at the start */
        return;
    }
    d->piece_len = d->piece_used = 0;
    d->chunk_len = d->chunk_sent = 0;
    d->data_finished = false;
    d->data_running = true;
    if (stsm_smtp_chunk_size(&d->smtp) > 0) {
        stsm_smtp_data_init_chunk(&d->encoder);
    } else {
        stsm_smtp_data_init(&d->encoder);
    }
    pump_data(d);
}

static void session_finished(struct stsm_delivery *d);

/* Settles, in envelope order, the session's recipients whose result the engine has made
 * final: a refusal at RCPT while the session goes on, everyone once it has ended past
 * MAIL FROM. (The engine never changes a result it has set; before MAIL FROM it sets
 * none but at the end, and such an end goes to the next host instead of here.) */
static void settle_session_rcpts(struct stsm_delivery *d)
{
    for (size_t k = 0; k < d->session_rcpt_count; k++) {
        const struct stsm_smtp_result *r = stsm_smtp_rcpt_result(&d->smtp, k);
        if (r != NULL && r->outcome != STSM_SMTP_PENDING && pending(d, d->txn, d->session_rcpt[k])) {
            settle(d, d->txn, d->session_rcpt[k], r, d->server_name);
        }
    }
}

/* The first message of the batch, from `from` on, with recipients of the group still
 * pending; batch_count when none has. */
static size_t next_in_batch(const struct stsm_delivery *d, size_t from)
{
    size_t k = from * STSM_SMTP_MAX_RCPT;
    while (k < LEFT_COUNT(d) && !(LEFT_AT(d, k) & IN_GROUP)) {
        k++;
    }
    return k / STSM_SMTP_MAX_RCPT;
}

/* The envelope of message `m`'s transaction: its recipients of the group still pending. */
static void transaction_envelope(struct stsm_delivery *d, size_t m, struct stsm_smtp_params *p)
{
    const struct stsm_message *msg = d->batch[m];
    d->txn = m;
    d->message = msg;
    p->mail_from = msg->from;
    p->rcpt_count = 0;
    for (size_t i = 0; i < msg->to_count; i++) {
        if (d->left[m][i] & IN_GROUP) {
            d->session_rcpt[p->rcpt_count] = i;
            p->rcpt[p->rcpt_count++] = msg->to[i];
        }
    }
    d->session_rcpt_count = p->rcpt_count;
    p->size_estimate = d->size_estimate[m];
    p->body_8bit = stsm_message_is_8bit(msg);
}

/* A transaction ended with the session still usable: its recipients are final; the next
 * message of the batch goes on the same session (RSET first), or the session ends. */
static void next_transaction(struct stsm_delivery *d)
{
    settle_session_rcpts(d);
    size_t m = next_in_batch(d, d->txn + 1);
    if (m < d->batch_count) {
        struct stsm_smtp_params p = { 0 };
        transaction_envelope(d, m, &p);
        if (stsm_smtp_next(&d->smtp, &p) == STSM_OK) {
            act(d, stsm_smtp_message_due(&d->smtp) ? STSM_SMTP_SEND_DATA : STSM_SMTP_WAIT);
            return;
        }
        /* Checked at the start, so never; the rest is deferred at the session's end. */
        d->session_rcpt_count = 0;
    }
    act(d, stsm_smtp_quit(&d->smtp));
}

static void start_tls(struct stsm_delivery *d)
{
    stsm_status_t st = tls_must_verify(d) ? d->transport->start_tls(CONN(d), d->tls, d->server_name)
                       : d->transport->start_tls_opportunistic(CONN(d), d->tls, d->server_name);
    if (st != STSM_OK) {
        act(d, stsm_smtp_tls_done(&d->smtp, st));
    }
}

/* The policy refuses the current MX host before MAIL FROM; by name, it no longer counts
 * as usable. The caller ends the session. */
static void refuse_host(struct stsm_delivery *d, const struct stsm_mx_host *host, stsm_text_fixed_t reason,
                        bool by_name)
{
    say(d, "MX %s refused before MAIL FROM: %s", host->name, reason);
    set_state(d, STSM_DELIVERY_REFUSED);
    d->usable_hosts -= by_name;
}

/* STARTTLS was accepted and the policy is known. An MX host the policy refuses by name
 * (enforce) gets no handshake: whatever TLS would show, it is refused before MAIL FROM,
 * and the connection goes at once (nothing in plaintext may follow a 220 to STARTTLS). */
static void start_tls_unless_refused(struct stsm_delivery *d)
{
    if (!relay_mode(d)) {
        const struct stsm_mx_host *host = &d->hosts->hosts[d->host_index];
        struct stsm_sts_verdict v = host_verdict(d, host, STSM_STS_TLS_UNKNOWN);
        if (v.enforce_refuses) {
            refuse_host(d, host, v.reason, true);
            act(d, stsm_smtp_tls_done(&d->smtp, STSM_ERR_STS_NO_MATCH));
            return;
        }
    }
    start_tls(d);
}

static void act(struct stsm_delivery *d, enum stsm_smtp_action action)
{
    if (!in_session(d)) {
        return;
    }
    flush_output(d);
    switch (action) {
    case STSM_SMTP_WAIT:
        settle_session_rcpts(d);   /* a refusal at RCPT is final at once */
        if (stsm_smtp_wait_serial(&d->smtp) != d->armed_serial) {
            arm_timer(d);   /* something new is awaited */
        }
        break;
    case STSM_SMTP_START_TLS:
        disarm(d, &d->reply_timer);
        if (!policy_decided(d)) {
            /* One TLS session's memory at a time: the handshake waits for the policy
             * fetch, which always ends (it has its own timeout); on_sts() resumes it. */
            say(d, "%s: STARTTLS accepted; the handshake waits for the MTA-STS lookup", d->server_name);
            set_state(d, STSM_DELIVERY_TLS_WAIT);
            break;
        }
        start_tls_unless_refused(d);
        break;
    case STSM_SMTP_SEND_DATA:
        arm_timer(d);
        start_data(d);
        break;
    case STSM_SMTP_HOLD:
        disarm(d, &d->reply_timer);
        if (!policy_decided(d)) {
            set_state(d, STSM_DELIVERY_HELD);   /* on_sts() decides */
        } else {
            decide_held(d);
        }
        break;
    case STSM_SMTP_NEXT:
        disarm(d, &d->reply_timer);
        next_transaction(d);
        break;
    case STSM_SMTP_CLOSE:
        disarm(d, &d->reply_timer);
        d->transport->close(CONN(d));
        session_finished(d);
        break;
    }
}

static void begin_smtp(struct stsm_delivery *d, bool implicit_tls)
{
    const struct stsm_settings_delivery *cfg = &d->settings->delivery;
    struct stsm_smtp_params p = { 0 };

    if (d->settings->device.ehlo_name[0] == '\0') {
        char addr[24];
        snprintf(d->ehlo_literal, sizeof d->ehlo_literal, "[%s]",
                 d->transport->local_address(CONN(d), addr, sizeof addr) ? addr : "127.0.0.1");
    }
    p.ehlo_name = d->settings->device.ehlo_name[0] != '\0' ? d->settings->device.ehlo_name : d->ehlo_literal;
    p.implicit_tls = implicit_tls;
    p.require_tls = tls_required(d);
    /* A plaintext retry decided before an enforce policy arrived must not run under it. */
    p.no_starttls = d->plaintext_retry && !p.require_tls;
    if (relay_mode(d) && cfg->relay_user[0] != '\0') {
        p.auth_user = cfg->relay_user;
        p.auth_secret = cfg->relay_password;
    }
    transaction_envelope(d, next_in_batch(d, 0), &p);
    p.count_chunk = chunk_count;   /* BDAT's size: only once the server offers CHUNKING */
    p.count_arg = d;
    p.more_transactions = d->batch_count > 1;
    /* Every MX session stops before MAIL FROM for the policy decision (decide_held), also
     * one opened before the policy arrived whose policy came while it was connecting. */
    p.hold_before_mail = !relay_mode(d);
    if (stsm_smtp_start(&d->smtp, &p) != STSM_OK) {
        /* The message was checked at the start, so this is our own inconsistency: keep
         * the alert for a later attempt rather than lose it. */
        struct stsm_smtp_result r;
        say(d, "%s: the SMTP session could not start with these parameters; deferred", d->server_name);
        set_local_literal(&r, STSM_SMTP_DEFERRED, STSM_ERR_ARGUMENT, "the envelope cannot be sent");
        d->transport->close(CONN(d));
        end_group(d, &r, d->server_name);
        return;
    }
    set_state(d, STSM_DELIVERY_SESSION);
    arm_timer(d);   /* the greeting's */
}

/* A connection that never got to SMTP (refused, timed out, implicit TLS failed). */
static void connection_failed(struct stsm_delivery *d, stsm_status_t status)
{
    say(d, "%s (port %u): %s", d->server_name, (unsigned)d->server_port, stsm_status_str(status));
    d->transport->close(CONN(d));
    set_local(&d->last_failure, STSM_SMTP_DEFERRED, status, stsm_status_str(status));
    if (relay_mode(d)) {
        end_group(d, &d->last_failure, d->server_name);
        return;
    }
    d->host_index++;
    step_later(d, STSM_DELIVERY_NEXT_HOST);
}

static void on_tls_ready(struct stsm_delivery *d)
{
    stsm_status_t verify = d->transport->tls_verify_status(CONN(d));
    const char *version, *suite;
    d->transport->tls_describe(CONN(d), &version, &suite);
    if (verify == STSM_OK) {
        say(d, "%s: TLS verified (%s, %s)", d->server_name, version, suite);
    } else {
        /* RFC 7435: encrypted but unverified still beats plaintext against a passive
         * listener. Only reachable where verification is not demanded. */
        say(d, "%s: TLS encrypted but NOT verified (%s): %s, %s; the session stays encrypted "
               "(opportunistic TLS, /delivery/tls_level \"%s\")%s", d->server_name,
            stsm_status_id(verify), version, suite, tls_level_name(d->settings->delivery.tls_level),
            sts_mode(d) == STSM_STS_MODE_TESTING ? STSM_TEXT_FIXED("; MTA-STS testing: refused under enforce")
                                                 : STSM_TEXT_FIXED(""));
    }
    if (d->state == STSM_DELIVERY_CONNECTING) {
        begin_smtp(d, true);   /* implicit TLS: SMTP starts now */
    } else {
        act(d, stsm_smtp_tls_done(&d->smtp, STSM_OK));
    }
}

static void on_readable(struct stsm_delivery *d)
{
    for (;;) {
        uint8_t buf[512];
        long n = d->transport->recv(CONN(d), buf, sizeof buf);
        if (n == 0 || !in_session(d)) {
            return;
        }
        if (n < 0) {
            act(d, stsm_smtp_closed(&d->smtp));
            return;
        }
        size_t off = 0;
        while (off < (size_t)n && in_session(d)) {
            size_t used;
            enum stsm_smtp_action a = stsm_smtp_receive(&d->smtp, buf + off, (size_t)n - off, &used);
            off += used;
            act(d, a);
            if (a != STSM_SMTP_WAIT) {
                return;   /* TLS, data or the end: read nothing more now */
            }
        }
    }
}

static void on_conn(void *arg, enum stsm_conn_event event, stsm_status_t status)
{
    struct stsm_delivery *d = arg;
    switch (event) {
    case STSM_CONN_CONNECTED:
        if (relay_mode(d) && d->settings->delivery.relay_tls == STSM_RELAY_IMPLICIT) {
            stsm_status_t st = d->transport->start_tls(CONN(d), d->tls, d->server_name);
            if (st != STSM_OK) {
                connection_failed(d, st);
            }
            return;
        }
        begin_smtp(d, false);
        return;
    case STSM_CONN_TLS_READY:
        on_tls_ready(d);
        return;
    case STSM_CONN_READABLE:
        on_readable(d);
        return;
    case STSM_CONN_WRITABLE:
        if (in_session(d)) {
            flush_output(d);
            if (d->data_running) {
                pump_data(d);   /* the message is on its way */
            }
        }
        return;
    case STSM_CONN_FAILED:
        if (status == STSM_ERR_NO_MEMORY) {
            /* A connection fails so only when the TLS arena ran out in its handshake
             * (stsm_conn.h): said by name, no_memory alone does not say which memory. */
            say(d, "%s: TLS arena (STSM_TLS_ARENA_SIZE, %lu bytes) exhausted during the handshake", d->server_name,
                (unsigned long)STSM_TLS_ARENA_SIZE);
        }
        if (!in_session(d)) {
            connection_failed(d, status);
        } else if (d->transport->is_tls(CONN(d)) || status == STSM_ERR_PEER_CLOSED ||
                   status == STSM_ERR_CONNECT) {
            act(d, stsm_smtp_closed(&d->smtp));
        } else {
            act(d, stsm_smtp_tls_done(&d->smtp, status));   /* the STARTTLS handshake failed */
        }
        return;
    }
}

/* STSM_DELIVERY_CONNECTING: connects to the chosen server. */
static void open_session(struct stsm_delivery *d)
{
    char addr[IPADDR_STRLEN_MAX];
    ipaddr_ntoa_r(&d->server_address, addr, sizeof addr);
    say(d, "connecting to %s (%s) port %u%s", d->server_name, addr, (unsigned)d->server_port,
        d->plaintext_retry ? " without STARTTLS" : "");
    d->data_running = false;
    d->data_finished = false;
    stsm_status_t st = d->transport->connect(CONN(d), &d->server_address, d->server_port,
                                             STSM_CONNECT_TIMEOUT_MS, on_conn, d);
    if (st != STSM_OK) {
        connection_failed(d, st);
    }
}

/* The STARTTLS handshake itself failed (no common version, broken, cut or timed out), the
 * one case opportunistic TLS may fall back to plaintext for. A certificate that fails
 * verification keeps the session encrypted instead, and a protocol error (plaintext
 * injected after the 220) is an attack, not a reason to drop TLS. */
static bool handshake_failed(stsm_status_t status)
{
    return status == STSM_ERR_TLS_HANDSHAKE || status == STSM_ERR_TLS_VERSION ||
           status == STSM_ERR_TLS_TRUNCATED || status == STSM_ERR_PEER_CLOSED || status == STSM_ERR_TIMEOUT;
}

/* The session with one server is over: settle recipients, or try elsewhere. */
static void session_finished(struct stsm_delivery *d)
{
    enum stsm_smtp_stage stage;
    const struct stsm_smtp_result *session = stsm_smtp_session_result(&d->smtp, &stage);
    const struct stsm_settings_delivery *cfg = &d->settings->delivery;
    bool refused = d->state == STSM_DELIVERY_REFUSED;
    bool testing = sts_mode(d) == STSM_STS_MODE_TESTING;

    if (!stsm_smtp_tls_active(&d->smtp) && session->outcome == STSM_SMTP_PENDING) {
        say(d, "%s: the session ran without TLS%s", d->server_name,
            testing
                ? STSM_TEXT_FIXED(" (MTA-STS testing: it would be refused under enforce)")
                : STSM_TEXT_FIXED(""));
    }
    if (stsm_smtp_starttls_refused(&d->smtp)) {
        say(d, "%s: offered STARTTLS but refused it; went on without TLS (TLS not required)",
            d->server_name);
    }
    _Static_assert(STSM_SMTP_STAGE_GREETING == 0 && STSM_SMTP_STAGE_EHLO == 1 && STSM_SMTP_STAGE_STARTTLS == 2 &&
                   STSM_SMTP_STAGE_TLS == 3, "the stages before MAIL FROM come first");
    bool before_mail = session->outcome == STSM_SMTP_DEFERRED && stage <= STSM_SMTP_STAGE_TLS;
    if (session->outcome != STSM_SMTP_PENDING) {
        say(d, "%s: %s at %s: %s%s%s", d->server_name, stsm_smtp_outcome_str(session->outcome),
            stsm_smtp_stage_str(stage), session->code ? "" : stsm_status_id(session->status),
            session->code ? "" : ": ", session->text);
    }
    if (testing && before_mail &&
        (stage == STSM_SMTP_STAGE_TLS || session->status == STSM_ERR_TLS_NOT_OFFERED)) {
        say(d, "MTA-STS testing: %s would be refused under enforce (%s)", d->server_name,
            stsm_status_id(session->status));
    }
    if (!relay_mode(d) && stage == STSM_SMTP_STAGE_TLS && before_mail && handshake_failed(session->status) &&
        !tls_required(d) && policy_decided(d) && cfg->opportunistic_plaintext &&
        !d->plaintext_retry) {
        say(d, "%s: STARTTLS handshake failed (%s); retrying in plaintext, as settings allow "
               "(/delivery/opportunistic_plaintext)", d->server_name, stsm_status_id(session->status));
        d->plaintext_retry = true;
        step_later(d, STSM_DELIVERY_CONNECTING);
        return;
    }
    if (!relay_mode(d) && (before_mail || refused)) {
        d->last_failure = *session;
        d->host_index++;
        step_later(d, STSM_DELIVERY_NEXT_HOST);
        return;
    }
    settle_session_rcpts(d);   /* final for this group */
    /* A batch's messages whose transactions the session did not reach (it failed, or a
     * refused RSET ended it) are deferred with it. */
    struct stsm_smtp_result rest = *session;
    if (rest.outcome == STSM_SMTP_PENDING) {
        set_local_literal(&rest, STSM_SMTP_DEFERRED, STSM_ERR_PEER_PROTOCOL, "the session ended before this message");
    }
    end_group(d, &rest, d->server_name);
}

/* ---- routes ------------------------------------------------------------------------ */

#define HEAL_MARK "~heal"   /* back-off key for healing fetches (not a valid TXT id) */

/* Healing is over (both ways to it: on_heal_fetched, heal_after_check): the live policy
 * the fetch found (`got`, logged by the caller) replaces the cached one, and the group's
 * hosts are walked again from the first under it; otherwise the cached one stays, said
 * unless `said` already. */
static void heal_ended(struct stsm_delivery *d, bool got, bool said)
{
    struct stsm_sts_lookup *l = &d->sts;
    if (got) {
        d->healed = true;
        l->policy = l->fetch.policy;
        l->from_cache = false;
        d->host_index = 0;
        d->usable_hosts = 0;
    } else if (!said) {
        say(d, "%s: the live policy could not be fetched (%s); the cached one stays", d->domain,
            stsm_status_id(l->fetch.status));
    }
    step_later(d, STSM_DELIVERY_NEXT_HOST);
}

static void on_heal_fetched(void *arg, struct stsm_sts_fetch *fetch)
{
    struct stsm_delivery *d = arg;
    if (lookup_ended_after_deadline(d, LOOKUP_HEAL)) {
        return;
    }
    if (fetch->status == STSM_OK) {
        if (d->cache != NULL) {
            stsm_sts_cache_put(d->cache, d->domain, d->sts.policy_id, &fetch->policy, d->now);
        }
        if (d->tls != NULL) {
            stsm_tls_forget_sessions(d->tls);   /* the policy changed under the same id */
        }
        say(d, "%s: the live policy is mode %s with %u mx pattern(s); it replaces the cached one",
            d->domain, stsm_sts_mode_str(fetch->policy.mode), (unsigned)fetch->policy.mx_count);
    }
    heal_ended(d, fetch->status == STSM_OK, false);
}

/*
 * Stale-cache healing: under a cached enforce policy that none of the domain's current MX
 * hosts match, the domain may have moved its MX without bumping the policy id. Fetch the
 * live policy once (rate-limited per domain) before deferring. Returns true when a fetch
 * is under way (STSM_DELIVERY_HEALING).
 */
static bool heal_stale_policy(struct stsm_delivery *d)
{
    if (d->healed || !d->sts.from_cache || d->cache == NULL) {
        return false;
    }
    if (lookup_running(d, LOOKUP_STS)) {
        /* The TXT check beside the delivery holds the fetch's storage and may bring a new
         * policy itself: on_sts() goes on once it ends. */
        say(d, "%s: no MX host matches the cached MTA-STS policy; its TXT check ends first", d->domain);
        set_state(d, STSM_DELIVERY_HEALING);
        return true;
    }
    if (!stsm_sts_cache_may_fetch(d->cache, d->domain, HEAL_MARK, d->now)) {
        return false;
    }
    d->healed = true;
    stsm_sts_cache_fetch_failed(d->cache, d->domain, HEAL_MARK, d->now);   /* rate limit */
    say(d, "%s: no MX host matches the cached MTA-STS policy; fetching the live policy once in case "
           "it is stale", d->domain);
    const struct stsm_settings_mta_sts *m = &d->settings->mta_sts;
    if (stsm_sts_fetch_start(&d->sts.fetch, d->domain, d->tls, m->fetch_timeout_ms, m->relax_content_type,
                             on_heal_fetched, d) != STSM_OK) {
        return false;
    }
    d->lookups |= LOOKUP_HEAL;
    set_state(d, STSM_DELIVERY_HEALING);
    return true;
}

/* The TXT record and policy host scopes were judged once for the domain (apply_policy), so
 * only the MX host's own facts go in. */
static struct stsm_sts_verdict host_verdict(const struct stsm_delivery *d, const struct stsm_mx_host *host,
                                            enum stsm_sts_tls tls)
{
    struct stsm_sts_mx_facts mx = { host->name, host->cname, host->canonical };
    return stsm_sts_verdict(policy_in_force(d), &mx, 0, d->settings->mta_sts.strict_cname, tls);
}

/* STSM_DELIVERY_NEXT_HOST: the next MX host the policy lets us try, or the group's end. */
static void try_host(struct stsm_delivery *d)
{
    d->plaintext_retry = false;
    while (d->hosts != NULL && d->host_index < d->hosts->count) {
        const struct stsm_mx_host *host = &d->hosts->hosts[d->host_index];
        const struct stsm_mx_address *v4 = NULL;
        for (size_t i = 0; i < host->address_count && v4 == NULL; i++) {
            if (host->addresses[i].family == 4) {
                v4 = &host->addresses[i];
            }
        }
        struct stsm_sts_verdict v = host_verdict(d, host, STSM_STS_TLS_UNKNOWN);
        if (v.enforce_refuses) {
            say(d, "MX %s skipped: %s", host->name, v.reason);
            d->host_index++;
            continue;
        }
        if (v.testing_would_refuse) {
            say(d, "MTA-STS testing: MX %s would be skipped under enforce (%s)", host->name, v.brief);
        }
        if (v4 == NULL) {
            say(d, "MX %s (preference %u): no IPv4 address (%s), skipped", host->name,
                (unsigned)host->preference, stsm_status_str(host->a.status));
            if (host->a.status != STSM_OK && d->last_failure.outcome == STSM_SMTP_PENDING) {
                /* Unless a server fails later, the group defers for this reason, not a vague one. */
                char text[100];
                stsm_text_format(text, sizeof text, STSM_TEXT("address lookup of MX %.40s failed: %s", host->name,
                         stsm_status_str(host->a.status)));
                set_local(&d->last_failure, STSM_SMTP_DEFERRED, host->a.status, text);
            }
            d->host_index++;
            continue;
        }
        d->usable_hosts++;
        say(d, "MX %s (preference %u)%s%s", host->name, (unsigned)host->preference,
            host->cname ? ", a CNAME of " : "", host->cname ? host->canonical : "");
        snprintf(d->server_name, sizeof d->server_name, "%s", host->name);
        IP_ADDR4(&d->server_address, v4->bytes[0], v4->bytes[1], v4->bytes[2], v4->bytes[3]);
        d->server_port = SMTP_PORT;
        step_now(d, STSM_DELIVERY_CONNECTING);
        return;
    }
    bool enforce_none_usable = sts_mode(d) == STSM_STS_MODE_ENFORCE && d->usable_hosts == 0;
    if (enforce_none_usable && heal_stale_policy(d)) {
        return;
    }
    if (enforce_none_usable) {
        set_local_literal(&d->last_failure, STSM_SMTP_DEFERRED, STSM_ERR_STS_NO_MATCH,
                  "no MX host is usable under the domain's MTA-STS policy (enforce)");
    } else if (d->last_failure.outcome == STSM_SMTP_PENDING) {
        set_local_literal(&d->last_failure, STSM_SMTP_DEFERRED, STSM_ERR_RESOLVE, "no usable MX host");
    }
    say(d, "%s: no more MX hosts to try", d->domain);
    end_group(d, &d->last_failure, "");
}

/* Where the policy in force came from, for the log: fetched now, or cached (and, once the
 * TXT record was checked, why the cached one stays). */
static void policy_source(const struct stsm_delivery *d, char *out, size_t size)
{
    const struct stsm_sts_lookup *l = &d->sts;
    if (!l->from_cache) {
        stsm_text_format(out, size, STSM_TEXT("fetched from mta-sts.%.60s", d->domain));
        return;
    }
    stsm_text_fixed_t why = STSM_TEXT_FIXED("");   /* also while the TXT check beside the delivery is out */
    if (!lookup_running(d, LOOKUP_STS)) {
        why = l->txt_state != STSM_STS_TXT_OK
                  ? STSM_TEXT_FIXED("; the TXT record is gone or failing, the cached policy stays")
              : l->refreshed ? STSM_TEXT_FIXED("; a new policy was fetched and cached for the next delivery")
              : l->fetched   ? STSM_TEXT_FIXED("; the new policy could not be fetched, the cached one stays")
                             : why;
    }
    stsm_text_format(out, size, STSM_TEXT("cached %lds ago%s", (long)(d->now - l->policy_fetched_at), why));
}

/* Decides what the domain's MTA-STS policy, once looked up, means for this delivery (and
 * logs it); false when the group was settled (deferred) by it. What the lookup holds is
 * then the policy in force (policy_in_force()). */
static bool apply_policy(struct stsm_delivery *d)
{
    const struct stsm_sts_lookup *l = &d->sts;
    unsigned strict = d->settings->mta_sts.strict_cname;
    if (!d->settings->mta_sts.enabled) {
        return true;
    }
    if (!l->have_policy) {
        if (l->txt_state != STSM_STS_TXT_OK) {
            say(d, "%s: no MTA-STS policy (TXT record: %s%s%s)", d->domain, stsm_sts_txt_state_str(l->txt_state),
                l->txt_reason ? ", " : "", l->txt_reason ? l->txt_reason : STSM_TEXT_FIXED(""));
        } else {
            say(d, "%s: MTA-STS record id %s, but no policy: %s%s%s", d->domain, l->txt_id,
                stsm_status_id(l->fetch.status), l->fetch.policy_reason ? ": " : "",
                l->fetch.policy_reason ? l->fetch.policy_reason : STSM_TEXT_FIXED(""));
        }
        return true;
    }
    const struct stsm_sts_policy *policy = &l->policy;
    char patterns[200] = "";
    for (const char *m = stsm_sts_policy_mx_first(policy); m != NULL; m = stsm_sts_policy_mx_next(policy, m)) {
        size_t used = strlen(patterns);
        snprintf(patterns + used, sizeof patterns - used, "%s%s", used ? ", " : "", m);
    }
    char source[160];
    policy_source(d, source, sizeof source);
    say(d, "%s: MTA-STS policy id %s (%s): mode %s, max_age %lu, mx %s", d->domain, l->policy_id, source,
        stsm_sts_mode_str(policy->mode), (unsigned long)policy->max_age, policy->mx_count ? patterns : "(none)");
    if (policy->mx_dropped > 0) {
        say(d, "%s: the policy lists %lu mx patterns more than stsmail keeps (%u, in %u bytes); matching "
               "against the first %u, so a host matching none of them is %s", d->domain,
            (unsigned long)policy->mx_dropped, (unsigned)STSM_STS_MAX_MX, (unsigned)STSM_STS_MX_TEXT_MAX,
            (unsigned)policy->mx_count,
            policy->mode == STSM_STS_MODE_ENFORCE ? STSM_TEXT_FIXED("refused")
                                                  : STSM_TEXT_FIXED("logged as a mismatch"));
    }
    if (!l->from_cache && l->fetch.content_type_relaxed) {
        say(d, "%s: the policy was served as %s, not text/plain; accepted because "
               "/mta_sts/relax_content_type is set", d->domain, l->fetch.content_type);
    }
    stsm_text_fixed_t strict_failure = NULL;
    if ((strict & STSM_STRICT_CNAME_TXT) && l->txt_cname) {
        strict_failure = STSM_TEXT_FIXED("_mta-sts record is a CNAME (strict no-CNAME mode, scope txt)");
    } else if ((strict & STSM_STRICT_CNAME_POLICY_HOST) && l->fetch.host_cname) {
        strict_failure = STSM_TEXT_FIXED("mta-sts host is a CNAME (strict no-CNAME mode, scope policy_host)");
    }
    if (strict_failure != NULL && policy->mode == STSM_STS_MODE_ENFORCE) {
        say(d, "%s: policy not usable: %s; deferred", d->domain, strict_failure);
        group_fails(d, STSM_SMTP_DEFERRED, STSM_ERR_STS_NO_MATCH, STSM_TEXT("%s", strict_failure));
        return false;
    }
    if (strict_failure != NULL) {
        say(d, "MTA-STS %s: the policy would not be usable: %s", stsm_sts_mode_str(policy->mode),
            strict_failure);
    }
    return true;
}

/* Starts on the group's MX hosts from the first. */
static void start_hosts(struct stsm_delivery *d)
{
    if (d->hosts->names_full) {
        say(d, "%s: the MX hosts' names and CNAME targets fill the %u bytes stsmail keeps for them: "
            "hosts left out, or a lookup failed (%s)", d->domain, (unsigned)STSM_MX_NAMES_MAX,
            stsm_status_str(STSM_ERR_CAPACITY));
    }
    d->host_index = 0;
    d->usable_hosts = 0;
    d->healed = false;
    set_local(&d->last_failure, STSM_SMTP_PENDING, STSM_OK, "");
    step_now(d, STSM_DELIVERY_NEXT_HOST);
}

/* Both the MX hosts and the MTA-STS policy are known: decide and start trying hosts. */
static void route_and_policy_ready(struct stsm_delivery *d)
{
    const struct stsm_mx_set *set = d->hosts;
    if (d->route_status != STSM_OK) {
        route_failed(d, STSM_TEXT("MX lookup of %.60s failed: %s", d->domain, stsm_status_str(d->route_status)));
        return;
    }
    if (set->kind == STSM_MX_NULL || set->kind == STSM_MX_NO_DOMAIN) {
        stsm_text_fixed_t why = set->kind == STSM_MX_NULL ? STSM_TEXT_FIXED("the domain accepts no mail (null MX)")
                                                        : STSM_TEXT_FIXED("the domain does not exist");
        say(d, "%s: %s", d->domain, why);
        group_fails(d, STSM_SMTP_FAILED, STSM_ERR_RESOLVE, STSM_TEXT("%s", why));
        return;
    }
    if (set->hosts_dropped > 0) {
        say(d, "%s: %lu MX host(s) beyond the %u stsmail keeps were left out (the least preferred)",
            d->domain, (unsigned long)set->hosts_dropped, (unsigned)STSM_MX_MAX_HOSTS);
    }
    if (set->null_ignored) {
        say(d, "%s: a null MX record stands among real ones; ignored", d->domain);
    }
    if (!apply_policy(d)) {
        return;
    }
    start_hosts(d);
}

/* The policy is known and the session waits before MAIL FROM: may this host have it? */
static void decide_held(struct stsm_delivery *d)
{
    const struct stsm_mx_host *host = &d->hosts->hosts[d->host_index];
    bool tls = stsm_smtp_tls_active(&d->smtp);
    bool verified = tls && d->transport->tls_verify_status(CONN(d)) == STSM_OK;
    struct stsm_sts_verdict v = host_verdict(d, host, !tls ? STSM_STS_TLS_NONE
                                                      : verified ? STSM_STS_TLS_VERIFIED : STSM_STS_TLS_UNVERIFIED);
    set_state(d, STSM_DELIVERY_SESSION);
    if (v.enforce_refuses) {
        /* A host the policy admits by name but that lacks verified TLS stays counted as
         * usable, so that the group ends with the reason it failed for (tls_not_offered),
         * as when the policy was known before connecting. */
        bool by_name = host_verdict(d, host, STSM_STS_TLS_UNKNOWN).enforce_refuses;
        refuse_host(d, host, v.reason, by_name);
        act(d, stsm_smtp_release(&d->smtp, false, by_name ? STSM_ERR_STS_NO_MATCH : STSM_ERR_TLS_NOT_OFFERED,
                                 v.reason));
        return;
    }
    if (v.testing_would_refuse) {
        say(d, "MTA-STS testing: MX %s would be refused under enforce (%s)", host->name, v.reason);
    }
    act(d, stsm_smtp_release(&d->smtp, true, STSM_OK, NULL));
}

/* The policy arrived while the group's first hosts were being tried (provisionally). */
static void policy_arrived(struct stsm_delivery *d)
{
    if (!apply_policy(d) || (relay_mode(d) && relay_refused(d))) {
        /* The policy itself is unusable under enforce: the group is settled (deferred),
         * and whatever connection is open or opening goes (the step to a next host or
         * connection was replaced by the next group's). */
        abandon_connection(d);
        return;
    }
    if (d->state == STSM_DELIVERY_HELD) {   /* (never a relay session: see relay_early()) */
        decide_held(d);
    } else if (d->state == STSM_DELIVERY_TLS_WAIT) {
        /* The waiting handshake starts once the policy is applied, so that it verifies
         * when the policy demands it. */
        set_state(d, STSM_DELIVERY_SESSION);
        start_tls_unless_refused(d);
    }
    /* Otherwise the session holds later (every MX session does), or ends and try_host()
     * goes on with the policy. */
}

static void on_route(void *arg, stsm_status_t status, const struct stsm_mx_set *set)
{
    struct stsm_delivery *d = arg;
    d->route_status = status;
    d->hosts = set;
    if (lookup_ended_after_deadline(d, LOOKUP_ROUTE)) {
        return;
    }
    lookups_ended(d);
}

/* The TXT check beside a delivery under the cached policy ended. The policy in force does
 * not change under a session: what the check found is told, and a new policy it fetched
 * waits in the cache for the next delivery. */
static void txt_checked(struct stsm_delivery *d)
{
    const struct stsm_sts_lookup *l = &d->sts;
    if (l->refresh_due) {
        say(d, "%s: MTA-STS record id %s: its policy is fetched once no TLS session of this delivery is open; "
               "this one keeps policy id %s", d->domain, l->txt_id, l->policy_id);
    } else if (l->refreshed) {
        say(d, "%s: MTA-STS record id %s: its policy (mode %s) was fetched and cached for the next delivery; "
               "this one keeps policy id %s", d->domain, l->txt_id, stsm_sts_mode_str(l->fetch.policy.mode),
            l->policy_id);
    } else if (l->txt_state == STSM_STS_TXT_OK && !l->fetched) {
        say(d, "%s: MTA-STS record id %s checked beside the delivery: the cached policy is current", d->domain,
            l->txt_id);
    } else {
        char source[160];
        policy_source(d, source, sizeof source);
        say(d, "%s: MTA-STS policy id %s (%s)", d->domain, l->policy_id, source);
    }
}

/* The policy the TXT check found due is fetched now that no session is open; false when
 * that cannot start (the cached policy stays, and the back-off is recorded). */
static bool start_refresh(struct stsm_delivery *d)
{
    stsm_status_t st = stsm_sts_lookup_refresh(&d->sts);
    if (st != STSM_OK) {
        say(d, "%s: MTA-STS policy id %s stays cached: the fetch under record id %s could not start (%s)", d->domain,
            d->sts.policy_id, d->sts.txt_id, stsm_status_id(st));
        return false;
    }
    d->lookups |= LOOKUP_STS;
    return true;
}

/* HEALING while the TXT check ran (no session is open). A policy it found due is fetched
 * first, once, as the healing fetch; the new policy is the live one (the cached one matched
 * no host, so nothing is weakened under a session). Without a new id, the live policy is
 * fetched as healing does (try_host). */
static void heal_after_check(struct stsm_delivery *d)
{
    struct stsm_sts_lookup *l = &d->sts;
    bool due = l->refresh_due;
    if (due) {
        say(d, "%s: no MX host matches the cached MTA-STS policy and record id %s is new: fetching the live policy",
            d->domain, l->txt_id);
        d->healed = true;
        if (start_refresh(d)) {
            return;   /* on_sts() comes again (start_refresh() said why it could not start) */
        }
    }
    if (l->refreshed) {
        memcpy(l->policy_id, l->txt_id, sizeof l->policy_id);
        say(d, "%s: the live policy (id %s) is mode %s with %u mx pattern(s); it replaces the cached one", d->domain,
            l->policy_id, stsm_sts_mode_str(l->fetch.policy.mode), (unsigned)l->fetch.policy.mx_count);
    }
    heal_ended(d, l->refreshed, due || !l->fetched);
}

static void on_sts(void *arg, struct stsm_sts_lookup *lookup)
{
    struct stsm_delivery *d = arg;
    (void)lookup;
    if (lookup_ended_after_deadline(d, LOOKUP_STS)) {
        return;
    }
    if (d->policy_early && d->state != STSM_DELIVERY_HEALING) {
        txt_checked(d);   /* (healing tells what it does with it) */
    }
    switch (d->state) {
    case STSM_DELIVERY_NEXT_GROUP:   /* the group ended before its lookup did */
        step_later(d, STSM_DELIVERY_NEXT_GROUP);
        return;
    case STSM_DELIVERY_LOOKUP:
        lookups_ended(d);
        return;
    case STSM_DELIVERY_HEALING:
        if (d->policy_early && !lookup_running(d, LOOKUP_HEAL)) {
            heal_after_check(d);
        }
        return;
    case STSM_DELIVERY_NEXT_HOST:
    case STSM_DELIVERY_CONNECTING:
    case STSM_DELIVERY_SESSION:
    case STSM_DELIVERY_TLS_WAIT:
    case STSM_DELIVERY_HELD:
        if (!d->policy_early) {
            policy_arrived(d);
        }
        return;
    default:
        return;
    }
}

/* Relay mode, the policy applied: true when it refuses the relay by name (enforce), the
 * group then settled (deferred). Under testing the mismatch is only logged. */
static bool relay_refused(struct stsm_delivery *d)
{
    const struct stsm_sts_policy *policy = policy_in_force(d);
    if (policy == NULL || stsm_sts_policy_matches(policy, d->server_name)) {
        return false;
    }
    if (policy->mode != STSM_STS_MODE_ENFORCE) {
        say(d, "MTA-STS testing: relay %s would be refused under enforce (not in the policy)", d->server_name);
        return false;
    }
    say(d, "relay %s is not in the MTA-STS policy of %s; deferred", d->server_name, d->domain);
    group_fails(d, STSM_SMTP_DEFERRED, STSM_ERR_STS_NO_MATCH, STSM_TEXT("the relay is not in its MTA-STS policy"));
    return true;
}

/* Relay mode (RFC 8461 section 3.4): the relay is the one host, matched against the
 * policy of its own domain. */
static void relay_ready(struct stsm_delivery *d)
{
    if (d->route_status != STSM_OK) {
        route_failed(d, STSM_TEXT("relay %.60s has no address: %s", d->server_name, stsm_status_str(d->route_status)));
        return;
    }
    if (!apply_policy(d) || relay_refused(d)) {
        return;
    }
    step_now(d, STSM_DELIVERY_CONNECTING);
}

static void on_relay_address(void *arg, stsm_status_t status, const struct stsm_dns_answer *answer,
                             const ip_addr_t *server)
{
    struct stsm_delivery *d = arg;
    (void)server;
    if (lookup_ended_after_deadline(d, LOOKUP_ROUTE)) {
        return;
    }
    d->route_status = status != STSM_OK ? status
                      : answer->outcome != STSM_DNS_ANSWER ? STSM_ERR_RESOLVE : STSM_OK;
    if (d->route_status == STSM_OK) {
        const uint8_t *a = answer->records[0].address;
        IP_ADDR4(&d->server_address, a[0], a[1], a[2], a[3]);
    }
    lookups_ended(d);
}

/* Relay mode, its address known and its policy not yet: may the session start now? Only
 * with STARTTLS demanded by the settings. Then nothing secret and nothing of the message
 * can pass before the policy is applied: the engine sends neither AUTH nor MAIL FROM
 * without TLS (require_tls), and the STARTTLS handshake waits for the policy
 * (STSM_DELIVERY_TLS_WAIT), which may still refuse the relay by name before it. What goes
 * before is the greeting, EHLO and STARTTLS, in plaintext as always. With tls "none" a
 * plaintext session could reach AUTH and MAIL FROM before an enforce policy forbids it,
 * and implicit TLS would start its handshake beside the policy fetch's (two TLS sessions'
 * memory), so both wait for the policy as before. The engine's hold before MAIL FROM is
 * not used: TLS comes after the policy, so the hold would always be decided at once. */
static bool relay_early(const struct stsm_delivery *d)
{
    return d->route_status == STSM_OK && d->settings->delivery.relay_tls == STSM_RELAY_STARTTLS;
}

/* STSM_DELIVERY_LOOKUP: a lookup of the group ended (or none was needed). */
static void lookups_ended(struct stsm_delivery *d)
{
    if (lookup_running(d, LOOKUP_ROUTE)) {
        return;
    }
    if (relay_mode(d)) {
        if (policy_decided(d)) {
            relay_ready(d);
        } else if (relay_early(d)) {
            say(d, "relay %s: connecting while the MTA-STS policy of %s is looked up", d->server_name, d->domain);
            step_now(d, STSM_DELIVERY_CONNECTING);
        }
        return;
    }
    if (policy_decided(d)) {
        route_and_policy_ready(d);
        return;
    }
    if (d->route_status == STSM_OK && (d->hosts->kind == STSM_MX_LIST || d->hosts->kind == STSM_MX_IMPLICIT)) {
        /* Start on the first host while the policy is fetched; nothing passes MAIL FROM
         * before the decision. */
        say(d, "%s: connecting while the MTA-STS policy is looked up", d->domain);
        start_hosts(d);
    }
}

/* Starts the MTA-STS lookup of the current domain; true when it is under way. A policy the
 * cache holds unexpired is in force at once (RFC 8461 section 3.3), and the lookup only
 * checks its TXT id beside the delivery. Not under the strict no-CNAME scopes txt and
 * policy_host: they judge what this lookup's own answers show, so the decision waits. */
static bool start_sts_lookup(struct stsm_delivery *d)
{
    const struct stsm_settings_mta_sts *m = &d->settings->mta_sts;
    d->policy_early = false;
    if (stsm_sts_lookup_start(&d->sts, d->domain, d->tls, m->fetch_timeout_ms, m->relax_content_type, d->cache,
                              d->now, on_sts, d) != STSM_OK) {
        d->sts.txt_state = STSM_STS_TXT_DNS_ERROR;   /* a cached policy, if any, stays in force */
        return false;
    }
    d->lookups |= LOOKUP_STS;
    d->policy_early = d->sts.early && (m->strict_cname & (STSM_STRICT_CNAME_TXT | STSM_STRICT_CNAME_POLICY_HOST)) == 0;
    if (d->policy_early) {
        say(d, "%s: the cached MTA-STS policy is in force at once; its TXT record is checked beside the delivery",
            d->domain);
    }
    return true;
}

/* Relay mode: the relay's address (unless a literal) and its policy domain's MTA-STS
 * policy (when there is a name to look up). */
static stsm_status_t start_relay_lookups(struct stsm_delivery *d)
{
    const struct stsm_settings_delivery *cfg = &d->settings->delivery;
    snprintf(d->server_name, sizeof d->server_name, "%s", cfg->relay_host);
    d->server_port = cfg->relay_port;
    if (cfg->relay_tls == STSM_RELAY_NONE) {
        say(d, "relay %s: TLS is not required by settings (/delivery/relay/tls = \"none\"); STARTTLS "
               "is still used when offered, and an MTA-STS enforce policy still requires it",
            cfg->relay_host);
    }
    bool literal = ipaddr_aton(cfg->relay_host, &d->server_address);
    snprintf(d->domain, sizeof d->domain, "%.253s",
             cfg->relay_policy_domain[0] != '\0' ? cfg->relay_policy_domain : cfg->relay_host);
    d->route_status = STSM_OK;
    d->sts.txt_state = STSM_STS_TXT_NONE;
    if (d->settings->mta_sts.enabled && (!literal || cfg->relay_policy_domain[0] != '\0')) {
        (void)start_sts_lookup(d);
    }
    if (!literal) {
        stsm_status_t st = stsm_resolver_start(&d->query, cfg->relay_host, STSM_DNS_TYPE_A, on_relay_address, d);
        if (st != STSM_OK) {
            return st;
        }
        d->lookups |= LOOKUP_ROUTE;
    }
    return STSM_OK;
}

/* MX mode: the domain's MX hosts and MTA-STS policy, side by side. */
static stsm_status_t start_mx_lookups(struct stsm_delivery *d)
{
    say(d, "%s: looking up MX%s", d->domain, d->settings->mta_sts.enabled ? " and MTA-STS" : "");
    d->hosts = NULL;
    stsm_status_t st = stsm_route_start_ipv4(&d->route, d->domain, on_route, d);
    if (st != STSM_OK) {
        return st;
    }
    d->lookups |= LOOKUP_ROUTE;
    if (d->settings->mta_sts.enabled) {
        (void)start_sts_lookup(d);
    }
    return STSM_OK;
}

/* STSM_DELIVERY_NEXT_GROUP: the recipients of the next domain (relay: all that are left)
 * and their lookups, or the end. */
static void next_group(struct stsm_delivery *d)
{
    if (lookup_running(d, LOOKUP_STS)) {
        /* The group ended before its MTA-STS lookup did; the lookup's state is still in
         * use, so the next group starts once it is over (on_sts). */
        return;
    }
    if (d->sts.refresh_due && start_refresh(d)) {
        return;   /* the group's sessions are closed: the fetch the TXT check found due runs now */
    }
    size_t first = 0;
    while (first < LEFT_COUNT(d) && LEFT_AT(d, first) == 0) {
        first++;
    }
    if (first == LEFT_COUNT(d)) {
        finish(d);
        return;
    }
    for (size_t k = first; k < LEFT_COUNT(d); k++) {
        if (LEFT_AT(d, k) != 0) {
            const char *to = domain_of(d->batch[k / STSM_SMTP_MAX_RCPT]->to[k % STSM_SMTP_MAX_RCPT]);
            if (k == first) {
                snprintf(d->domain, sizeof d->domain, "%s", to);
            }
            LEFT_AT(d, k) = relay_mode(d) || stsm_dns_name_equal(to, d->domain) ? LEFT | IN_GROUP : LEFT;
        }
    }
    stsm_zero(&d->sts, offsetof(struct stsm_sts_lookup, fetch));   /* most of it the policy's rows */
    d->policy_early = false;
    set_state(d, STSM_DELIVERY_LOOKUP);
    stsm_status_t st = relay_mode(d) ? start_relay_lookups(d) : start_mx_lookups(d);
    if (st != STSM_OK) {
        group_fails(d, STSM_SMTP_DEFERRED, st, STSM_TEXT("DNS lookup could not start"));
        return;
    }
    if (!lookup_running(d, LOOKUP_ROUTE) && policy_decided(d)) {
        /* Nothing to wait for (a relay by address, perhaps under a cached policy). */
        step_later(d, STSM_DELIVERY_LOOKUP);
    }
}

void stsm_delivery_set_options(struct stsm_delivery *d, const struct stsm_delivery_options *options)
{
    d->options = *options;
}

enum stsm_delivery_state stsm_delivery_state(const struct stsm_delivery *d)
{
    return d->state;
}

/* Checks one message of the batch as the start does for every message: it can be sent,
 * it fits once encoded, its body can be read, and its envelope is not empty. */
static stsm_status_t take_message(struct stsm_delivery *d, size_t m, const struct stsm_message *message,
                                  const bool *envelope)
{
    char why[160];
    if (stsm_message_check(message, why, sizeof why) != STSM_OK) {
        say(d, "message refused: %s", why);
        return STSM_ERR_ARGUMENT;
    }
    /* SIZE is announced from the largest form (quoted-printable); the form sent is chosen
     * once the server's extensions are known. Counting it also finds, before any byte goes
     * out, every way writing it could fail but a body lost from storage later. */
    stsm_status_t st = stsm_message_size(message, false, &d->size_estimate[m]);
    if (st == STSM_OK && d->size_estimate[m] > STSM_MESSAGE_MAX) {
        st = STSM_ERR_CAPACITY;
    }
    if (st == STSM_ERR_CAPACITY) {
        say(d, "message refused: larger than %u bytes once encoded", (unsigned)STSM_MESSAGE_MAX);
    } else if (st != STSM_OK) {
        say(d, "message not sent now: its body cannot be read from storage (%s)", stsm_status_str(st));
    }
    if (st != STSM_OK) {
        return st;
    }
    size_t in_envelope = 0;
    for (size_t i = 0; i < message->to_count; i++) {
        d->batch_rcpt[m][i].result.outcome = STSM_SMTP_PENDING;
        d->batch_rcpt[m][i].host = "";
        d->left[m][i] = envelope == NULL || envelope[i];
        in_envelope += d->left[m][i];
    }
    if (in_envelope == 0) {
        say(d, "message refused: no recipient in the envelope");
        return STSM_ERR_ARGUMENT;
    }
    d->batch[m] = message;
    return STSM_OK;
}

stsm_status_t stsm_delivery_start_batch(struct stsm_delivery *d, const struct stsm_settings *settings,
                                        const struct stsm_delivery_item *items, size_t count,
                                        struct stsm_tls *tls, struct stsm_sts_cache *cache, int64_t now,
                                        stsm_delivery_log_fn log, stsm_delivery_done_fn done, void *arg)
{
    struct stsm_delivery_options options = d->options;
    /* Tens of kilobytes (the recipients of a whole batch); the first start finds them zero
     * in .bss and leaves them unwritten. The MTA-STS lookup clears its own at its start. */
    stsm_zero(d, offsetof(struct stsm_delivery, sts));
    stsm_zero(&d->sts + 1, sizeof *d - offsetof(struct stsm_delivery, sts) - sizeof d->sts);
    d->transport = options.transport;
    d->transport_ctx = options.transport_ctx;
    if (d->transport == NULL) {
        d->transport = stsm_conn_transport();
        d->transport_ctx = &d->lwip_conn;
    }
    d->clock = options.clock != NULL ? options.clock : stsm_lwip_clock();
    d->clock_ctx = options.clock_ctx;
    d->trace = options.trace;
    d->settled = options.settled;
    d->settings = settings;
    d->relay = settings->delivery.mode == STSM_DELIVERY_RELAY;
    d->tls = tls;
    d->cache = cache;
    d->now = now;
    d->log = log;
    d->done = done;
    d->arg = arg;
    d->started_ms = d->clock->now_ms(d->clock_ctx);
    if (count == 0 || count > STSM_DELIVERY_BATCH_MAX) {
        say(d, "batch refused: %lu messages (1 to %u)", (unsigned long)count, (unsigned)STSM_DELIVERY_BATCH_MAX);
        return STSM_ERR_ARGUMENT;
    }
    for (size_t m = 0; m < count; m++) {
        stsm_status_t st = take_message(d, m, items[m].message, items[m].envelope);
        if (st != STSM_OK) {
            return st;
        }
    }
    d->batch_count = count;
    d->message = d->batch[0];
    arm(d, &d->deadline_timer, settings->delivery.attempt_timeout_s * 1000u, on_deadline);
    step_later(d, STSM_DELIVERY_NEXT_GROUP);
    return STSM_OK;
}

stsm_status_t stsm_delivery_start(struct stsm_delivery *d, const struct stsm_settings *settings,
                                  const struct stsm_message *message, struct stsm_tls *tls,
                                  struct stsm_sts_cache *cache, int64_t now,
                                  stsm_delivery_log_fn log, stsm_delivery_done_fn done, void *arg)
{
    /* One message is a batch of one, its envelope the options' (read before the start
     * clears them). */
    const struct stsm_delivery_item item = { message, d->options.envelope };
    return stsm_delivery_start_batch(d, settings, &item, 1, tls, cache, now, log, done, arg);
}
