/*
 * Power cuts under the outbox: a scripted run of raises (new, coalesced, follow-ups, at
 * an unknown clock), attempts with delivered / 4xx / 5xx outcomes, give-ups, drops, drops
 * to make room, flushes and tidies, on a small store that reclaims pages often. The run
 * is cut at every device operation (erase or program), in every way nor_sim can leave
 * the operation hit; after each cut the flash is mounted and the outbox opened again, and:
 * - nothing is corrupt (open says STSM_OK, every kept message loads);
 * - every message a raise returned STSM_OK for is there, with every raise counted, unless
 *   it legitimately ended (all recipients ended, or dropped with STSM_OK);
 * - nothing deleted with STSM_OK comes back;
 * - a recipient recorded delivered, failed or given up keeps that end once it is stored
 *   (delivered: the record returned STSM_OK; failed: the message's next write did, as
 *   stsm_outbox_record() says; given up: the attempt's end did). The one exception: the recipient whose "delivered" was being written when
 *   the power went (the DATA was cut mid-flight as far as the outbox knows) may be pending
 *   again; such cases are counted and printed;
 * - the next id given out is above every id seen, and the outbox works on to empty.
 */
#include <stdio.h>
#include <string.h>

#include "nor_sim.h"
#include "stsm_check.h"
#include "stsm_outbox.h"
#include "stsm_store.h"

#define PAGE 1024u
#define PAGES 8u
#define T0 1700000000
#define STEPS 150
#define IDS 512

static uint8_t mem[PAGE * PAGES];
static struct nor_sim sim;
static struct stsm_store store;
static struct stsm_outbox ob;
static struct stsm_outbox_message msg;
static char msg_text[STSM_OUTBOX_TEXT_MAX];
static const struct stsm_outbox_config cfg = { 60, 600, 1500, 300, 4, true };

static const char *const rcpts[] = { "ops@example.com", "noc@example.net", "oncall@example.org" };
static const char *const keys[] = { NULL, "disk", "temp", "fan" };

/* What the calls that returned STSM_OK promise, per id. */
struct expect {
    bool kept;                       /* raised with STSM_OK, not yet ended with STSM_OK */
    bool ended;                      /* deleted or dropped by a call that returned STSM_OK */
    uint32_t raised;                 /* raises counted into it with STSM_OK */
    size_t to_count;
    uint8_t end[STSM_SMTP_MAX_RCPT]; /* 0: none recorded, else 1 + enum stsm_rcpt_state */
    uint32_t refused;                /* recorded failed, not written yet: may be either */
};

/* The call the power cut hit: what it may or may not have done. */
enum op_kind { OP_NONE, OP_RAISE, OP_BEGIN, OP_RECORD, OP_END, OP_DROP, OP_OTHER };
struct in_flight {
    enum op_kind kind;
    uint32_t id;                     /* the message it works on (raise: a coalescing target) */
    size_t rcpt;
    enum stsm_smtp_outcome outcome;
    enum stsm_severity severity;     /* raise: messages below it may be dropped */
};

static struct expect want[IDS];
static uint32_t max_id;
static struct in_flight cut;
static uint32_t rng;

static uint32_t next_random(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 17;
    rng ^= rng << 5;
    return rng;
}

static bool all_ended(const struct expect *e)
{
    for (size_t i = 0; i < e->to_count; i++) {
        if (e->end[i] == 0) {
            return false;
        }
    }
    return true;
}

/* False once the power is cut: the call just made was the one it hit. */
static bool powered(void)
{
    return !sim.off;
}

static void note_end(uint32_t id, const enum stsm_rcpt_state *states)
{
    for (size_t i = 0; i < want[id].to_count; i++) {
        if (states[i] != STSM_RCPT_PENDING) {
            want[id].end[i] = (uint8_t)(1 + states[i]);
        }
    }
    if (stsm_outbox_load(&ob, id, &msg, msg_text, sizeof msg_text) == STSM_ERR_NOT_FOUND) {
        want[id].kept = false;
        want[id].ended = true;
    }
}

/* One raise; false when the power went. */
static bool do_raise(int64_t now)
{
    static char body[600];
    const char *key = keys[next_random() % 4];
    enum stsm_severity sev = (enum stsm_severity)(next_random() % STSM_SEVERITY_COUNT);
    size_t n = 1 + next_random() % 3;
    size_t body_len = 40 + next_random() % 400;
    for (size_t i = 0; i < body_len; i++) {
        body[i] = (char)('a' + (i * 7 + body_len) % 26);
    }
    struct stsm_alert a = { key, sev, "Alert from unit 7", body, body_len, rcpts, n };
    uint32_t id = 0, dropped = 0;
    bool coalesced = false;
    char why[120];
    /* The raise may count into a message that matches: note the candidates. */
    cut = (struct in_flight){ OP_RAISE, 0, 0, STSM_SMTP_PENDING, sev };
    stsm_status_t st = stsm_outbox_raise(&ob, &a, NULL, 0, now, next_random(), &id, &coalesced, &dropped, why,
                                         sizeof why);
    if (dropped != 0 && (st == STSM_OK || st == STSM_ERR_FULL)) {
        want[dropped].kept = false;
        want[dropped].ended = true;
    }
    if (!powered()) {
        return false;
    }
    CHECK(st == STSM_OK || st == STSM_ERR_FULL);
    if (st == STSM_OK) {
        CHECK(id > 0 && id < IDS);
        if (!coalesced) {
            CHECK(id > max_id);
            want[id] = (struct expect){ true, false, 1, n, { 0 }, 0 };
            max_id = id > max_id ? id : max_id;
        } else {
            CHECK(want[id].kept);
            want[id].raised++;
        }
    }
    return true;
}

/* One attempt of the message due, if any: each pending recipient gets a drawn outcome. */
static bool do_attempt(int64_t now)
{
    uint32_t id = 0, wait = 0;
    if (stsm_outbox_next_due(&ob, now, &id, &wait) != STSM_OK) {
        return true;
    }
    CHECK_INT(stsm_outbox_load(&ob, id, &msg, msg_text, sizeof msg_text), STSM_OK);
    size_t n = msg.to_count;
    enum stsm_rcpt_state was[STSM_SMTP_MAX_RCPT];
    memcpy(was, msg.rcpt, sizeof was);
    cut = (struct in_flight){ OP_BEGIN, id, 0, STSM_SMTP_PENDING, 0 };
    stsm_status_t st = stsm_outbox_attempt_begins(&ob, id, now);
    if (!powered()) {
        return false;
    }
    CHECK_INT(st, STSM_OK);
    for (size_t i = 0; i < n; i++) {
        if (was[i] != STSM_RCPT_PENDING) {
            continue;
        }
        static const enum stsm_smtp_outcome outcomes[] = { STSM_SMTP_DELIVERED, STSM_SMTP_DELIVERED,
                                                           STSM_SMTP_DEFERRED, STSM_SMTP_FAILED };
        struct stsm_smtp_result r;
        memset(&r, 0, sizeof r);
        r.outcome = outcomes[next_random() % 4];
        r.code = r.outcome == STSM_SMTP_DELIVERED ? 250 : r.outcome == STSM_SMTP_FAILED ? 550 : 451;
        snprintf(r.text, sizeof r.text, "reply for %u", (unsigned)i);
        cut = (struct in_flight){ OP_RECORD, id, i, r.outcome, 0 };
        st = stsm_outbox_record(&ob, id, i, &r, now);
        if (!powered()) {
            return false;
        }
        CHECK_INT(st, STSM_OK);
        if (r.outcome == STSM_SMTP_DELIVERED) {
            /* The refusals held so far went down with this delivery. */
            want[id].end[i] = 1 + STSM_RCPT_DELIVERED;
            for (size_t j = 0; j < n; j++) {
                if (want[id].refused & (1u << j)) {
                    want[id].end[j] = 1 + STSM_RCPT_FAILED;
                }
            }
            want[id].refused = 0;
        } else if (r.outcome == STSM_SMTP_FAILED) {
            want[id].refused |= 1u << i;
        }
    }
    enum stsm_rcpt_state states[STSM_SMTP_MAX_RCPT];
    cut = (struct in_flight){ OP_END, id, 0, STSM_SMTP_PENDING, 0 };
    st = stsm_outbox_attempt_ends(&ob, id, now, next_random(), states);
    if (!powered()) {
        return false;
    }
    CHECK_INT(st, STSM_OK);
    want[id].refused = 0;
    note_end(id, states);
    return true;
}

/* The script: STEPS actions drawn from a fixed seed; stops at the cut. */
static void run_script(void)
{
    rng = 0x2545F491u;
    int64_t now = 0;
    cut = (struct in_flight){ OP_NONE, 0, 0, STSM_SMTP_PENDING, 0 };
    /* Two raises before the clock is known, then it is. */
    if (!do_raise(0) || !do_raise(0)) {
        return;
    }
    now = T0;
    cut.kind = OP_OTHER;
    stsm_status_t st = stsm_outbox_clock_known(&ob, now);
    if (!powered()) {
        return;
    }
    CHECK_INT(st, STSM_OK);
    for (int step = 0; step < STEPS; step++) {
        uint32_t action = next_random() % 16;
        bool on = true;
        if (action < 5) {
            on = do_raise(now);
        } else if (action < 11) {
            on = do_attempt(now);
        } else if (action < 13) {
            now += next_random() % 600;
            cut = (struct in_flight){ OP_OTHER, 0, 0, STSM_SMTP_PENDING, 0 };
            st = stsm_outbox_tidy(&ob, now);
            on = powered();
            CHECK(!on || st == STSM_OK);
            for (uint32_t id = 1; on && id <= max_id; id++) {
                if (want[id].kept && all_ended(&want[id]) && stsm_outbox_load(&ob, id, &msg, msg_text, sizeof msg_text) == STSM_ERR_NOT_FOUND) {
                    want[id].kept = false;
                    want[id].ended = true;
                }
            }
        } else if (action < 15) {
            size_t count = stsm_outbox_count(&ob);
            if (count > 0) {
                uint32_t id = stsm_outbox_id_at(&ob, next_random() % count);
                cut = (struct in_flight){ OP_DROP, id, 0, STSM_SMTP_PENDING, 0 };
                st = stsm_outbox_drop(&ob, id);
                on = powered();
                if (on) {
                    CHECK_INT(st, STSM_OK);
                    want[id].kept = false;
                    want[id].ended = true;
                }
            }
        } else {
            cut = (struct in_flight){ OP_OTHER, 0, 0, STSM_SMTP_PENDING, 0 };
            st = stsm_outbox_flush(&ob);
            on = powered();
            CHECK(!on || st == STSM_OK);
        }
        if (!on) {
            return;
        }
    }
    cut.kind = OP_NONE;
}

static void start(void)
{
    memset(want, 0, sizeof want);
    max_id = 0;
    memset(mem, 0xFF, sizeof mem);
    CHECK(nor_sim_init(&sim, mem, sizeof mem, PAGE));
    CHECK_INT(stsm_store_mount(&store, &sim.area), STSM_OK);
    uint32_t bad = 0;
    CHECK_INT(stsm_outbox_open(&ob, &store, &cfg, &bad), STSM_OK);
}

static bool may_vanish(uint32_t id)
{
    const struct expect *e = &want[id];
    if (all_ended(e)) {
        return true;   /* nothing left to deliver: an anchor may be removed to make room */
    }
    switch (cut.kind) {
    case OP_END:
    case OP_DROP:
        return cut.id == id;
    case OP_RAISE:
        return cfg.drop_lower_when_full;   /* one of lower severity (test_outbox checks which) */
    default:
        return false;
    }
}

/* Checks the outbox opened after the cut against what the calls promised. Returns the
 * number of recipients whose cut "delivered" left them pending. */
static unsigned verify(void)
{
    unsigned pending_again = 0;
    uint32_t bad = 0;
    CHECK_INT(stsm_outbox_open(&ob, &store, &cfg, &bad), STSM_OK);
    CHECK_INT(bad, 0);
    uint32_t seen_max = max_id;
    bool present[IDS] = { false };
    for (size_t i = 0; i < stsm_outbox_count(&ob); i++) {
        uint32_t id = stsm_outbox_id_at(&ob, i);
        CHECK(id > 0 && id < IDS);
        if (id == 0 || id >= IDS) {
            continue;
        }
        present[id] = true;
        seen_max = id > seen_max ? id : seen_max;
        CHECK_INT(stsm_outbox_load(&ob, id, &msg, msg_text, sizeof msg_text), STSM_OK);
        const struct expect *e = &want[id];
        if (!e->kept && !e->ended) {
            /* Only the raise that was cut may have stored a message nobody heard of. */
            CHECK(cut.kind == OP_RAISE && id > max_id);
            CHECK_INT(msg.raised_count, 1);
            continue;
        }
        if (e->ended) {
            printf("FAIL message %u, deleted with STSM_OK, is back\n", (unsigned)id);
        }
        CHECK(!e->ended);
        CHECK_INT(msg.to_count, e->to_count);
        /* Every counted raise is there; the cut one may be too. */
        CHECK(msg.raised_count == e->raised || (cut.kind == OP_RAISE && msg.raised_count == e->raised + 1));
        for (size_t r = 0; r < e->to_count; r++) {
            uint8_t end = e->end[r];
            enum stsm_rcpt_state got = msg.rcpt[r];
            bool this_one = cut.id == id && cut.rcpt == r && cut.kind == OP_RECORD;
            if (end != 0) {
                if (got != (enum stsm_rcpt_state)(end - 1)) {
                    printf("FAIL message %u recipient %u: recorded %s, now %s (cut in %d)\n", (unsigned)id,
                           (unsigned)r, stsm_rcpt_state_name((enum stsm_rcpt_state)(end - 1)),
                           stsm_rcpt_state_name(got), (int)cut.kind);
                }
                CHECK_INT(got, end - 1);
            } else if (got != STSM_RCPT_PENDING) {
                /* Ended by the call the cut hit, and it got that far; or a refusal held
                 * in RAM that went down with a write the cut hit. */
                bool cut_write = cut.id == id && (cut.kind == OP_RECORD || cut.kind == OP_END);
                CHECK((this_one && got == STSM_RCPT_DELIVERED && cut.outcome == STSM_SMTP_DELIVERED) ||
                      (cut_write && got == STSM_RCPT_FAILED && (e->refused & (1u << r)) != 0) ||
                      (cut.kind == OP_END && cut.id == id && got == STSM_RCPT_GAVE_UP));
            } else if (this_one && cut.outcome == STSM_SMTP_DELIVERED) {
                pending_again++;   /* the allowed exception */
            }
        }
    }
    for (uint32_t id = 1; id <= max_id; id++) {
        const struct expect *e = &want[id];
        if (e->kept && !present[id]) {
            bool ok = may_vanish(id);
            if (!ok) {
                printf("FAIL message %u, raised with STSM_OK, is gone (cut in %d)\n", (unsigned)id, (int)cut.kind);
            }
            CHECK(ok);
        }
    }
    /* Ids: the next one is above all seen. And the outbox works on, to empty. */
    struct stsm_alert a = { "after", STSM_SEVERITY_CRITICAL, "after the cut", "b", 1, rcpts, 1 };
    uint32_t id = 0, dropped = 0;
    bool coalesced = false;
    char why[120];
    stsm_status_t st = stsm_outbox_raise(&ob, &a, NULL, 0, T0 + 100000, 1, &id, &coalesced, &dropped, why, sizeof why);
    CHECK(st == STSM_OK || st == STSM_ERR_FULL);
    if (st == STSM_OK) {
        CHECK(id > seen_max);
    }
    int64_t now = T0 + 100000;
    for (int guard = 0; guard < 200 && stsm_outbox_count(&ob) > 0; guard++) {
        uint32_t due = 0, wait = 0;
        now += 10000;   /* past every hold, cap and retry */
        CHECK_INT(stsm_outbox_tidy(&ob, now), STSM_OK);
        if (stsm_outbox_next_due(&ob, now, &due, &wait) != STSM_OK) {
            continue;
        }
        CHECK_INT(stsm_outbox_load(&ob, due, &msg, msg_text, sizeof msg_text), STSM_OK);
        size_t n = msg.to_count;
        enum stsm_rcpt_state was[STSM_SMTP_MAX_RCPT];
        memcpy(was, msg.rcpt, sizeof was);
        CHECK_INT(stsm_outbox_attempt_begins(&ob, due, now), STSM_OK);
        for (size_t r = 0; r < n; r++) {
            if (was[r] == STSM_RCPT_PENDING) {
                struct stsm_smtp_result res;
                memset(&res, 0, sizeof res);
                res.outcome = STSM_SMTP_DELIVERED;
                CHECK_INT(stsm_outbox_record(&ob, due, r, &res, now), STSM_OK);
            }
        }
        CHECK_INT(stsm_outbox_attempt_ends(&ob, due, now, 0, NULL), STSM_OK);
    }
    CHECK_INT(stsm_outbox_count(&ob), 0);
    CHECK_INT(sim.double_programs, 0);
    CHECK_INT(sim.bit_sets, 0);
    return pending_again;
}

int main(void)
{
    /* The uncut run: how many device operations it takes, and that it passes itself. */
    CHECK_CASE("the script without a cut");
    start();
    run_script();
    unsigned long total = sim.ops;
    CHECK(cut.kind == OP_NONE);
    CHECK_INT(stsm_store_mount(&store, &sim.area), STSM_OK);
    verify();
    printf("the script: %lu device operations, %u messages, %lu erases\n", total, (unsigned)max_id,
           (unsigned long)stsm_store_stats(&store)->erases);

    unsigned long tried = 0, pending_again = 0, by_kind[OP_OTHER + 1] = { 0 };
    for (int mode = 0; mode < NOR_CUT_MODES; mode++) {
        for (unsigned long k = 0; k < total; k++) {
            CHECK_CASE(nor_cut_mode_name((enum nor_cut_mode)mode));
            start();
            nor_sim_cut_after(&sim, k, (enum nor_cut_mode)mode, (uint32_t)(k * 31 + (unsigned long)mode + 1));
            run_script();
            CHECK(sim.off);
            by_kind[cut.kind]++;
            nor_sim_power_on(&sim);
            CHECK_INT(stsm_store_mount(&store, &sim.area), STSM_OK);
            unsigned before = stsm_checks_failed;
            unsigned n = verify();
            if (stsm_checks_failed != before) {
                printf("  ^ cut after %lu operations, mode %s, in call kind %d, message %u\n", k,
                       nor_cut_mode_name((enum nor_cut_mode)mode), (int)cut.kind, (unsigned)cut.id);
            }
            pending_again += n;
            tried++;
        }
    }
    printf("cut points tried: %lu (%lu operations x %d modes); cut in raise %lu, attempt_begins %lu, record %lu, "
           "attempt_ends %lu, drop %lu, other %lu\n",
           tried, total, (int)NOR_CUT_MODES, by_kind[OP_RAISE], by_kind[OP_BEGIN], by_kind[OP_RECORD], by_kind[OP_END],
           by_kind[OP_DROP], by_kind[OP_OTHER]);
    printf("recipients pending again because their 'delivered' was being written at the cut: %lu\n", pending_again);
    return stsm_check_summary("test_outbox_powercut");
}
