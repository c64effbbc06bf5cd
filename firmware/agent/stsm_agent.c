#include "stsm_agent.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "stsm_dns.h"
#include "stsm_time.h"

/* When the clock is not set yet, look again this often. */
#define CLOCK_WAIT_S 1u

/* The format is a literal, marked by the macro: an id on the MCU (stsm_text.h). */
#define note(a, ...) note_text((a), STSM_TEXT(__VA_ARGS__))

STSM_TEXT_PRINTF(2, 3)
static void STSM_TEXT_WORDS(note_text)(struct stsm_agent *a, STSM_TEXT_PARAMS, ...)
{
    if (a->platform.log == NULL) {
        return;
    }
    char line[240];
    va_list ap;
    va_start(ap, STSM_TEXT_LAST);
    stsm_text_vformat(line, sizeof line, STSM_TEXT_FMT, ap);
    va_end(ap);
    a->platform.log(a->platform.ctx, line);
}
STSM_TEXT_SPLIT(note_text, (struct stsm_agent *a), a);

/* The delivery's lines are written already (in id form on the MCU): passed on as they are. */
static void delivery_log(void *arg, const char *line)
{
    struct stsm_agent *a = arg;
    if (a->platform.log != NULL) {
        a->platform.log(a->platform.ctx, line);
    }
}

static bool wall_now(struct stsm_agent *a, int64_t *now)
{
    return a->platform.wall_clock(a->platform.ctx, now) && *now > 0;
}

static struct stsm_outbox_config outbox_config(const struct stsm_settings_outbox *o)
{
    return (struct stsm_outbox_config){
        .retry_first_s = o->retry_first_s,
        .retry_max_s = o->retry_max_s,
        .give_up_s = o->give_up_s,
        .coalesce_window_s = o->coalesce_window_s,
        .domain_hourly_cap = o->domain_hourly_cap,
        .drop_lower_when_full = o->drop_lower_when_full,
    };
}

/* Opens what is in the store; a message that cannot be read stays where it is (a later
 * version may read it) and is never sent. */
static stsm_status_t open_outbox(struct stsm_agent *a)
{
    stsm_status_t st = stsm_store_mount(&a->store, a->platform.storage);
    if (st != STSM_OK) {
        note(a, "outbox: the store cannot be mounted: %s", stsm_status_str(st));
        return st;
    }
    struct stsm_outbox_config config = outbox_config(&a->settings->outbox);
    uint32_t bad_id = 0;
    st = stsm_outbox_open(&a->outbox, &a->store, &config, &bad_id);
    if (st == STSM_ERR_CORRUPT) {
        note(a, "outbox: message %lu is damaged in storage: kept, not sent", (unsigned long)bad_id);
    } else if (st != STSM_OK) {
        note(a, "outbox: cannot be opened: %s", stsm_status_str(st));
        return st;
    }
    a->counters.queued = (uint32_t)stsm_outbox_pending_count(&a->outbox);
    return STSM_OK;
}

stsm_status_t stsm_agent_init(struct stsm_agent *agent, const struct stsm_settings *settings,
                              const struct stsm_platform *platform)
{
    memset(agent, 0, sizeof *agent);
    agent->settings = settings;
    agent->platform = *platform;
    if (settings->mail.from[0] == '\0') {
        note(agent, "outbox: /mail/from is not set: nothing can be sent");
        return STSM_ERR_NOT_CONFIGURED;
    }
    stsm_status_t st = open_outbox(agent);
    if (st == STSM_OK && agent->counters.queued > 0) {
        /* Whatever waited for a retry before the restart is tried once now. */
        stsm_outbox_retry_now(&agent->outbox);
        note(agent, "outbox: %lu message(s) kept from before", (unsigned long)agent->counters.queued);
    }
    return st;
}

void stsm_agent_on_result(struct stsm_agent *agent, stsm_agent_result_fn fn, void *arg)
{
    agent->on_result = fn;
    agent->result_arg = arg;
}

stsm_status_t stsm_alert_raise(struct stsm_agent *agent, const struct stsm_alert *alert, uint32_t *id)
{
    int64_t now = 0;
    (void)wall_now(agent, &now);   /* unknown: 0, dated once the clock is set */
    const char *defaults[STSM_SMTP_MAX_RCPT];
    size_t default_count = 0;
    for (; default_count < agent->settings->mail.to_count; default_count++) {
        defaults[default_count] = agent->settings->mail.to[default_count];
    }
    uint32_t new_id = 0, dropped = 0;
    bool coalesced = false;
    char why[160] = "";
    stsm_status_t st = stsm_outbox_raise(&agent->outbox, alert, defaults, default_count, now,
                                         agent->platform.random_u32(agent->platform.ctx), &new_id, &coalesced,
                                         &dropped, why, sizeof why);
    const char *key = alert != NULL && alert->key != NULL ? alert->key : "";   /* NULL: refused above */
    if (dropped != 0) {
        agent->counters.dropped++;
        note(agent, "outbox: message %lu dropped to make room for a %s alert (/outbox/when_full)",
             (unsigned long)dropped, stsm_severity_name(alert->severity));
    }
    if (st == STSM_ERR_FULL) {
        agent->counters.refused_full++;
        note(agent, "outbox: full: alert '%.64s' not stored", key);
    } else if (st == STSM_ERR_ARGUMENT) {
        note(agent, "outbox: alert '%.64s' refused: %s", key, why);
    } else if (st != STSM_OK) {
        note(agent, "outbox: alert '%.64s' not stored: %s", key, stsm_status_str(st));
    } else {
        agent->counters.raised++;
        agent->counters.coalesced += coalesced;
        note(agent, "outbox: alert '%.64s' (%s) %s message %lu", key, stsm_severity_name(alert->severity),
             coalesced ? "counted into" : "stored as", (unsigned long)new_id);
        if (id != NULL) {
            *id = new_id;
        }
        agent->wait_s = 0;   /* poll looks again */
    }
    agent->counters.queued = (uint32_t)stsm_outbox_pending_count(&agent->outbox);
    return st;
}

/* ---- one attempt ----------------------------------------------------------------------- */

_Static_assert(STSM_AGENT_BATCH_MAX >= 1 && STSM_AGENT_BATCH_MAX <= STSM_DELIVERY_BATCH_MAX,
               "an attempt's batch fits one delivery");
_Static_assert(STSM_AGENT_TEXT_MAX >= STSM_OUTBOX_TEXT_MAX + STSM_AGENT_PREAMBLE_MAX,
               "the batch's text takes any one message");

/* Tells the device what became of recipient `i` of the attempt's message `k` once it has
 * an end. */
static void report(struct stsm_agent *a, size_t k, size_t i, enum stsm_rcpt_state state, const char *last_error)
{
    char reason[STSM_OUTBOX_ERROR_MAX + 8];
    const struct stsm_agent_slot *slot = &a->batch[k];
    const struct stsm_delivery_rcpt *r = &a->delivery.batch_rcpt[k][i];
    switch (state) {
    case STSM_RCPT_DELIVERED:
        a->counters.delivered++;
        break;
    case STSM_RCPT_FAILED:
        a->counters.failed++;
        break;
    case STSM_RCPT_GAVE_UP:
        a->counters.gave_up++;
        break;
    default:
        return;
    }
    const char *why = reason;
    if (r->result.outcome == STSM_SMTP_PENDING) {   /* this attempt has no reply for it */
        why = last_error != NULL ? last_error : "";
    } else if (r->result.code != 0) {
        snprintf(reason, sizeof reason, "%u %s", (unsigned)r->result.code, r->result.text);
    } else {
        snprintf(reason, sizeof reason, "%s: %s", stsm_status_id(r->result.status), r->result.text);
    }
    note(a, "outbox: message %lu to %s: %s", (unsigned long)slot->id, slot->message.to[i],
         stsm_rcpt_state_name(state));
    if (a->on_result != NULL) {
        struct stsm_agent_result result = { slot->id, slot->key, slot->message.to[i], state, r->host, why };
        a->on_result(a->result_arg, &result);
    }
}

/* The outbox holds the refusals and deferrals of one message unwritten; another
 * message's would replace them, so they are written before a batch moves on to message
 * `k`. */
static stsm_status_t outcomes_for(struct stsm_agent *a, size_t k)
{
    if (a->record_slot == k) {
        return STSM_OK;
    }
    a->record_slot = k;
    return stsm_outbox_record_flush(&a->outbox);
}

/* Writes one recipient's outcome down the moment the delivery knows it, so a power cut
 * later in the attempt never sends it again. */
static void record(struct stsm_agent *a, size_t k, size_t i, const struct stsm_delivery_rcpt *r)
{
    struct stsm_agent_slot *slot = &a->batch[k];
    if (slot->recorded[i] || r->result.outcome == STSM_SMTP_PENDING) {
        return;
    }
    int64_t now = 0;
    (void)wall_now(a, &now);
    stsm_status_t st = outcomes_for(a, k);
    if (st == STSM_OK) {
        st = stsm_outbox_record(&a->outbox, slot->id, i, &r->result, now);
    }
    if (st != STSM_OK) {
        note(a, "outbox: the result for %s could not be stored: %s", slot->message.to[i], stsm_status_str(st));
        return;
    }
    slot->recorded[i] = true;
}

static void on_settled(void *arg, size_t k, size_t i, const struct stsm_delivery_rcpt *r)
{
    record(arg, k, i, r);
}

/* Tells the device of each delivery written down and not told yet. A delivered end is
 * final the moment it is stored, so it is told from the next poll, not at the attempt's
 * end: a power cut later in the attempt would otherwise leave it stored and never told
 * (after the reboot the recipient is no longer pending, so nothing reports it). */
static bool untold(const struct stsm_agent *a, size_t k, size_t i)
{
    const struct stsm_agent_slot *slot = &a->batch[k];
    return slot->recorded[i] && !slot->told[i] &&
           a->delivery.batch_rcpt[k][i].result.outcome == STSM_SMTP_DELIVERED;
}

static void tell_delivered(struct stsm_agent *a, size_t k)
{
    for (size_t i = 0; i < a->batch[k].message.to_count; i++) {
        if (untold(a, k, i)) {
            a->batch[k].told[i] = true;
            report(a, k, i, STSM_RCPT_DELIVERED, NULL);
        }
    }
}

static void on_done(void *arg, struct stsm_delivery *d)
{
    (void)d;
    struct stsm_agent *a = arg;
    a->delivery_ended = true;
}

/* body_at of a message being delivered: where its body is now. Every write to the store
 * may move it (a delivered recipient's record, mid-attempt), so the delivery asks each
 * time it reads the body. */
static const char *stored_body(void *ctx, size_t *len)
{
    const struct stsm_agent_slot *slot = ctx;
    const char *body;
    return stsm_outbox_body(slot->outbox, slot->id, &body, len) == STSM_OK ? body : NULL;
}

/* A copy of `str` in the batch's text, after the `*used` bytes the message took there
 * already (counted in); NULL when it does not fit. */
static const char *keep_text(struct stsm_agent *a, const char *str, size_t *used)
{
    size_t n = strlen(str) + 1;
    if (n > sizeof a->text - a->text_used - *used) {
        return NULL;
    }
    char *copy = a->text + a->text_used + *used;
    memcpy(copy, str, n);
    *used += n;
    return copy;
}

/* Turns the stored message into what the delivery sends: the same Date and Message-ID on
 * every attempt, the envelope only to recipients still pending. Its strings are in the
 * batch's text already (stsm_outbox_load put them there); the preamble goes after them.
 * False when the preamble does not fit. */
static bool build_message(struct stsm_agent *a, struct stsm_agent_slot *slot, const struct stsm_outbox_message *m,
                          size_t *used)
{
    struct stsm_message *msg = &slot->message;
    memset(msg, 0, sizeof *msg);
    msg->from = a->settings->mail.from;
    msg->from_name = a->settings->mail.from_name[0] != '\0' ? a->settings->mail.from_name : NULL;
    for (size_t i = 0; i < m->to_count; i++) {
        msg->to[i] = m->to[i];
        slot->envelope[i] = m->rcpt[i] == STSM_RCPT_PENDING;
    }
    msg->to_count = m->to_count;
    msg->subject = m->subject;
    msg->body_at = stored_body;
    msg->body_ctx = slot;
    msg->date = m->first_raised;
    msg->id_random[0] = m->id_random[0];
    msg->id_random[1] = m->id_random[1];
    slot->key = m->key;
    /* "This alert was raised again N time(s) since the message of\n<window>:\n" for a
     * follow-up, "This alert was raised N times:\n" for a message that counted raises. */
    if (!m->follow_up && m->raised_count == 1) {
        return true;
    }
    char preamble[STSM_AGENT_PREAMBLE_MAX];
    char first[24], last[24], window[24];
    stsm_time_format_utc(m->first_raised, first);
    stsm_time_format_utc(m->last_raised, last);
    stsm_time_format_utc(m->window_start, window);
    snprintf(preamble, sizeof preamble, "This alert was raised %s%lu time%s%s%s:\nfirst at %s, last at %s.\n\n",
             m->follow_up ? "again " : "", (unsigned long)m->raised_count, m->raised_count == 1 ? "" : "s",
             m->follow_up ? " since the message of\n" : "", m->follow_up ? window : "", first, last);
    msg->preamble = keep_text(a, preamble, used);
    return msg->preamble != NULL;
}

/* The one recipient domain of a slot's envelope (its pending recipients); NULL when they
 * have several. */
static const char *single_domain(const struct stsm_agent_slot *slot)
{
    const char *domain = NULL;
    for (size_t i = 0; i < slot->message.to_count; i++) {
        if (!slot->envelope[i]) {
            continue;
        }
        const char *to = slot->message.to[i], *at = strrchr(to, '@');
        const char *d = at != NULL ? at + 1 : to;
        if (domain != NULL && !stsm_dns_name_equal(domain, d)) {
            return NULL;
        }
        domain = d;
    }
    return domain;
}

/* Whether `slot` may join the batch: any in relay mode (one server takes them all); in MX
 * mode one whose pending recipients are all in the first message's single domain, so
 * that the whole batch goes over the same session. */
static bool same_way(const struct stsm_agent *a, const struct stsm_agent_slot *slot)
{
    if (a->settings->delivery.mode == STSM_DELIVERY_RELAY) {
        return true;
    }
    const char *first = single_domain(&a->batch[0]), *this = single_domain(slot);
    return first != NULL && this != NULL && stsm_dns_name_equal(first, this);
}

/* Puts message `id` into the next slot of the batch: its text is copied into the batch's,
 * and its attempt is written down before anything goes out. That write may move the
 * body (the store reclaims pages); the delivery finds the body again (stored_body)
 * whenever it reads it. False when it stays out of this attempt: another way, no room
 * left in the batch's text (it goes with a later attempt), or storage trouble. */
static bool take(struct stsm_agent *a, uint32_t id, int64_t now)
{
    struct stsm_agent_slot *slot = &a->batch[a->batch_count];
    struct stsm_outbox_message m;
    size_t used = 0;
    stsm_status_t st = stsm_outbox_load(&a->outbox, id, &m, a->text + a->text_used, sizeof a->text - a->text_used);
    if (st == STSM_OK) {
        used = m.text_len;
        if (!build_message(a, slot, &m, &used)) {
            st = STSM_ERR_CAPACITY;
        } else if (a->batch_count > 0 && !same_way(a, slot)) {
            return false;
        }
    }
    if (st == STSM_ERR_CAPACITY && a->batch_count > 0) {
        return false;   /* the text of the messages before it took the room */
    }
    if (st == STSM_OK) {
        st = stsm_outbox_attempt_begins(&a->outbox, id, now);
    }
    if (st != STSM_OK) {
        note(a, "outbox: message %lu cannot be attempted: %s", (unsigned long)id, stsm_status_str(st));
        return false;
    }
    a->counters.attempts++;
    a->text_used += used;
    slot->outbox = &a->outbox;
    slot->id = id;
    memset(slot->recorded, 0, sizeof slot->recorded);
    memset(slot->told, 0, sizeof slot->told);
    /* The count attempt_begins just wrote: one more, as it stops at UINT32_MAX. */
    note(a, "outbox: message %lu, attempt %lu", (unsigned long)id,
         (unsigned long)(m.attempts + (m.attempts < UINT32_MAX)));
    a->batch_count++;
    return true;
}

static void begin_attempt(struct stsm_agent *a, uint32_t id, int64_t now)
{
    a->batch_count = 0;
    a->text_used = 0;
    if (!take(a, id, now)) {
        a->wait_s = 60;   /* storage trouble: do not spin on it */
        return;
    }
    /* The others due now, in the outbox's order, that go the same way. */
    uint32_t seen[STSM_OUTBOX_MAX] = { id };
    size_t seen_count = 1;
    while (a->batch_count < STSM_AGENT_BATCH_MAX && seen_count < STSM_OUTBOX_MAX &&
           stsm_outbox_next_due_except(&a->outbox, now, seen, seen_count, &id) == STSM_OK) {
        seen[seen_count++] = id;
        (void)take(a, id, now);
    }
    struct stsm_delivery_item items[STSM_AGENT_BATCH_MAX];
    for (size_t k = 0; k < a->batch_count; k++) {
        items[k] = (struct stsm_delivery_item){ &a->batch[k].message, a->batch[k].envelope };
    }
    if (a->batch_count > 1) {
        note(a, "outbox: %lu messages over one connection", (unsigned long)a->batch_count);
    }
    a->record_slot = 0;
    a->delivering = true;
    a->delivery_ended = false;
    const struct stsm_delivery_options options = { .transport = a->platform.transport,
                                                   .transport_ctx = a->platform.transport_ctx,
                                                   .clock = a->platform.clock,
                                                   .clock_ctx = a->platform.clock_ctx,
                                                   .settled = on_settled };
    stsm_delivery_set_options(&a->delivery, &options);
    stsm_status_t st = stsm_delivery_start_batch(&a->delivery, a->settings, items, a->batch_count,
                                                 a->platform.tls, a->platform.sts_cache, now, delivery_log,
                                                 on_done, a);
    if (st != STSM_OK) {
        /* The outbox refused nothing the delivery refuses (same checks), so this is a
         * local fault: the attempt ends as deferred and is retried with backoff. */
        note(a, "outbox: message %lu: the delivery could not start: %s", (unsigned long)a->batch[0].id,
             stsm_status_str(st));
        a->delivery_ended = true;
    }
}

/* Says when recipients still pending after an attempt are tried again, and why. */
static void note_retry(struct stsm_agent *a, const struct stsm_agent_slot *slot, size_t waiting)
{
    struct stsm_outbox_message m;
    if (stsm_outbox_load(&a->outbox, slot->id, &m, NULL, 0) != STSM_OK) {
        return;
    }
    char when[24];
    stsm_time_format_utc(m.next_attempt, when);
    note(a, "outbox: message %lu: %lu recipient(s) deferred after attempt %lu, next try at %s: %s",
         (unsigned long)m.id, (unsigned long)waiting, (unsigned long)m.attempts, when, m.last_error);
}

/* Ends message `k`'s attempt: what the delivery settled is written down (record() stores
 * what could not be stored when it was settled), then the outbox schedules or removes it. */
static void end_message(struct stsm_agent *a, size_t k, int64_t now)
{
    struct stsm_agent_slot *slot = &a->batch[k];
    for (size_t i = 0; i < slot->message.to_count; i++) {
        record(a, k, i, &a->delivery.batch_rcpt[k][i]);
    }
    tell_delivered(a, k);
    enum stsm_rcpt_state states[STSM_SMTP_MAX_RCPT];
    /* The last error as it stands before the end (which may remove the message), for the
     * recipients this attempt got no reply for. */
    struct stsm_outbox_message before;
    stsm_status_t st = outcomes_for(a, k);
    if (st == STSM_OK) {
        st = stsm_outbox_load(&a->outbox, slot->id, &before, NULL, 0);
    }
    if (st == STSM_OK) {
        st = stsm_outbox_attempt_ends(&a->outbox, slot->id, now,
                                      a->platform.random_u32(a->platform.ctx), states);
    }
    if (st != STSM_OK) {
        note(a, "outbox: message %lu: the attempt's end could not be stored: %s", (unsigned long)slot->id,
             stsm_status_str(st));
        return;
    }
    size_t waiting = 0;
    for (size_t i = 0; i < slot->message.to_count; i++) {
        if (slot->envelope[i] && !slot->told[i]) {
            report(a, k, i, states[i], before.last_error);
            waiting += states[i] == STSM_RCPT_PENDING;
        }
    }
    if (waiting > 0) {
        note_retry(a, slot, waiting);
    }
}

static void end_attempt(struct stsm_agent *a)
{
    int64_t now = 0;
    (void)wall_now(a, &now);
    for (size_t k = 0; k < a->batch_count; k++) {
        end_message(a, k, now);
    }
    a->delivering = false;
    a->delivery_ended = false;
    if (a->platform.sts_cache_changed != NULL) {
        a->platform.sts_cache_changed(a->platform.ctx);
    }
    a->counters.queued = (uint32_t)stsm_outbox_pending_count(&a->outbox);
    a->wait_s = 0;
}

void stsm_agent_poll(struct stsm_agent *agent)
{
    agent->polled_at_ms = agent->platform.monotonic_ms(agent->platform.ctx);
    if (agent->delivering) {
        for (size_t k = 0; k < agent->batch_count; k++) {
            tell_delivered(agent, k);
        }
        if (agent->delivery_ended) {
            end_attempt(agent);
        } else {
            return;
        }
    }
    int64_t now;
    if (!wall_now(agent, &now)) {
        agent->wait_s = CLOCK_WAIT_S;   /* until the clock is set, look each second */
        return;
    }
    if (!agent->clock_known) {
        agent->clock_known = true;
        (void)stsm_outbox_clock_known(&agent->outbox, now);
    }
    (void)stsm_outbox_tidy(&agent->outbox, now);
    agent->counters.queued = (uint32_t)stsm_outbox_pending_count(&agent->outbox);
    uint32_t id = 0, wait = UINT32_MAX;
    if (agent->stopping || stsm_outbox_next_due(&agent->outbox, now, &id, &wait) != STSM_OK) {
        agent->wait_s = agent->stopping ? UINT32_MAX : wait;
        return;
    }
    begin_attempt(agent, id, now);
}

uint32_t stsm_agent_next_wakeup(const struct stsm_agent *agent)
{
    if (agent->delivering) {
        for (size_t k = 0; k < agent->batch_count; k++) {
            for (size_t i = 0; i < agent->batch[k].message.to_count; i++) {
                if (untold(agent, k, i)) {
                    return 0;
                }
            }
        }
        return agent->delivery_ended ? 0 : UINT32_MAX;
    }
    if (agent->wait_s == UINT32_MAX) {
        return UINT32_MAX;
    }
    uint64_t due_ms = (uint64_t)agent->wait_s * 1000u;
    uint32_t since = agent->platform.monotonic_ms(agent->platform.ctx) - agent->polled_at_ms;
    if (due_ms <= since) {
        return 0;
    }
    due_ms -= since;
    return due_ms >= UINT32_MAX ? UINT32_MAX - 1 : (uint32_t)due_ms;
}

void stsm_agent_stop(struct stsm_agent *agent)
{
    agent->stopping = true;
}

void stsm_agent_abandon(struct stsm_agent *agent)
{
    if (agent->delivering && !agent->delivery_ended) {
        stsm_delivery_stop(&agent->delivery);
    }
}

bool stsm_agent_busy(const struct stsm_agent *agent)
{
    return agent->delivering;
}

stsm_status_t stsm_agent_reload(struct stsm_agent *agent)
{
    stsm_status_t st = stsm_store_mount(&agent->store, agent->platform.storage);
    uint32_t bad_id = 0;
    if (st == STSM_OK) {
        st = stsm_outbox_reload(&agent->outbox, &bad_id);
    }
    if (st == STSM_ERR_CORRUPT) {
        note(agent, "outbox: message %lu is damaged in storage: kept, not sent", (unsigned long)bad_id);
        st = STSM_OK;
    } else if (st != STSM_OK) {
        note(agent, "outbox: cannot be read again: %s", stsm_status_str(st));
    }
    agent->counters.queued = (uint32_t)stsm_outbox_pending_count(&agent->outbox);
    agent->wait_s = 0;
    return st;
}

const struct stsm_agent_counters *stsm_agent_counters(const struct stsm_agent *agent)
{
    return &agent->counters;
}
