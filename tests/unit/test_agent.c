/*
 * The alert agent (firmware/agent/stsm_agent.c) end to end with no lwIP: the outbox on the
 * NOR flash simulator (nor_sim.c, with power cuts), the delivery with the real SMTP engine
 * on the scripted transport and fake clock of delivery_fakes.c (given to the agent through
 * struct stsm_platform), an SMTP peer in this file that answers what the client sends, and
 * a wall clock that moves with the fake monotonic one. Each case is a run of the device's
 * main loop; it asserts the dialogue the peer saw, the result callback's calls, the
 * counters and what the outbox holds, against the promises of docs/api.md and
 * docs/outbox.md. STSM_TEST_VERBOSE=1 prints every case's log and dialogue.
 */
#include <limits.h>
#include <setjmp.h>
#include <stdlib.h>
#include <time.h>

#include "delivery_fakes.h"
#include "nor_sim.h"
#include "stsm_agent.h"
#include "stsm_check.h"

#define T0 1796083200          /* wall seconds when a case starts (2026-12-01 00:00 UTC) */
#define MONO0 1000000u         /* fake_now_ms when a case starts */
#define PAGE 4096u
#define PAGES 16u              /* the mps2-an385 geometry: 16 x 4 KiB */
#define HOST "mx.victim.example"
#define OPS "ops@victim.example"
#define NOC "noc@victim.example"
#define CTO "cto@victim.example"

/* ---- the device ------------------------------------------------------------------------ */

static uint8_t mem[PAGE * PAGES];
static size_t page_size = PAGE, page_count = PAGES;   /* the geometry of the next setup() */
static struct nor_sim sim;
static struct stsm_flash_area watched;   /* sim's area; a power cut stops the "CPU" */
static jmp_buf cut_jump;
static bool cut_armed;
static struct stsm_settings settings;
static struct stsm_agent agent;
static bool wall_set;
static uint32_t rng;

static char log_text[65536];
static size_t log_len;

static bool watched_erase(void *ctx, size_t offset, size_t len)
{
    (void)ctx;
    bool ok = sim.area.erase(sim.area.ctx, offset, len);
    if (sim.off && cut_armed) {
        longjmp(cut_jump, 1);   /* the power is gone: nothing after this operation runs */
    }
    return ok;
}

static bool watched_program(void *ctx, size_t offset, const uint8_t *data, size_t len)
{
    (void)ctx;
    bool ok = sim.area.program(sim.area.ctx, offset, data, len);
    if (sim.off && cut_armed) {
        longjmp(cut_jump, 1);
    }
    return ok;
}

static uint32_t elapsed_ms(void)
{
    return fake_now_ms - MONO0;
}

static int64_t wall(void)
{
    return T0 + elapsed_ms() / 1000u;
}

static uint32_t plat_monotonic(void *ctx)
{
    (void)ctx;
    return fake_now_ms;
}

static bool plat_wall(void *ctx, int64_t *now)
{
    (void)ctx;
    if (!wall_set) {
        return false;
    }
    *now = wall();
    return true;
}

static uint32_t plat_random(void *ctx)
{
    (void)ctx;
    rng ^= rng << 13;
    rng ^= rng >> 17;
    rng ^= rng << 5;
    return rng;
}

static void plat_log(void *ctx, const char *line)
{
    (void)ctx;
    int n = snprintf(log_text + log_len, sizeof log_text - log_len, "  %7.3f %s\n", elapsed_ms() / 1000.0, line);
    if (n > 0 && (size_t)n < sizeof log_text - log_len) {
        log_len += (size_t)n;
    }
}

static const struct stsm_platform platform = {
    .monotonic_ms = plat_monotonic, .wall_clock = plat_wall, .random_u32 = plat_random, .storage = &watched,
    .log = plat_log, .transport = &fake_transport, .transport_ctx = &fake, .clock = &fake_clock,
};

/* ---- the result callback ------------------------------------------------------------- */

struct result {
    uint32_t id;
    char key[STSM_OUTBOX_KEY_MAX + 1];
    char rcpt[64];
    enum stsm_rcpt_state state;
    char host[64];
    char reason[128];
};
static struct result results[32];
static size_t result_count;

static void on_result(void *arg, const struct stsm_agent_result *r)
{
    (void)arg;
    if (result_count < sizeof results / sizeof results[0]) {
        struct result *x = &results[result_count];
        x->id = r->id;
        x->state = r->state;
        snprintf(x->key, sizeof x->key, "%s", r->key);
        snprintf(x->rcpt, sizeof x->rcpt, "%s", r->rcpt);
        snprintf(x->host, sizeof x->host, "%s", r->host);
        snprintf(x->reason, sizeof x->reason, "%s", r->reason);
    }
    result_count++;
}

/* How many results said `state` for `rcpt`. */
static unsigned results_for(const char *rcpt, enum stsm_rcpt_state state)
{
    unsigned n = 0;
    for (size_t i = 0; i < result_count && i < sizeof results / sizeof results[0]; i++) {
        n += strcmp(results[i].rcpt, rcpt) == 0 && results[i].state == state;
    }
    return n;
}

static const struct result *result_of(const char *rcpt)
{
    for (size_t i = 0; i < result_count && i < sizeof results / sizeof results[0]; i++) {
        if (strcmp(results[i].rcpt, rcpt) == 0) {
            return &results[i];
        }
    }
    return NULL;
}

/* ---- the SMTP peer --------------------------------------------------------------------- */

#define PEER_RCPTS 8
#define PEER_KEPT 4            /* messages whose text is kept: the first ones */

/* The peer's answer to RCPT TO for `rcpt`, the `nth` time (from 1) it is asked for it. */
typedef const char *(*rcpt_reply_fn)(const char *rcpt, unsigned nth);

struct peer {
    /* the script */
    rcpt_reply_fn rcpt_reply;          /* NULL: 250 for everyone */
    bool down;                         /* connections are refused */
    bool hold;                         /* does nothing: lookups, connection, replies wait */
    bool pipelining;                   /* EHLO announces PIPELINING (RFC 2920) */
    /* the server's records, kept across the device's reboots */
    struct { char addr[64]; unsigned asked, delivered; } rcpt[PEER_RCPTS];
    unsigned connections, transactions;   /* transactions: messages answered 250 */
    unsigned flights;                  /* client flights the peer read: each costs a round trip */
    char messages[PEER_KEPT][6000];
    uint32_t taken_ms[PEER_KEPT];      /* when each was answered 250, ms into the case */
    char dialogue[16384];              /* every command line, "\n" after each; data as "<data>" */
    char subjects[2048];               /* the Subject line of every message taken, "\n" after each */
    bool in_window;                    /* the 250 to a message is being read by the client */
    /* the connection */
    unsigned accepted;                 /* of fake.connects */
    char line[1100];
    size_t line_len;
    bool in_data;
    char data[6000];
    size_t data_len;
    bool data_overflow;
    char txn_rcpt[PEER_RCPTS][64];
    size_t txn_count;
};
static struct peer peer;

static unsigned *peer_slot(const char *addr, bool delivered)
{
    for (size_t i = 0; i < PEER_RCPTS; i++) {
        if (peer.rcpt[i].addr[0] == '\0') {
            snprintf(peer.rcpt[i].addr, sizeof peer.rcpt[i].addr, "%s", addr);
        }
        if (strcmp(peer.rcpt[i].addr, addr) == 0) {
            return delivered ? &peer.rcpt[i].delivered : &peer.rcpt[i].asked;
        }
    }
    printf("peer: too many recipients\n");
    abort();
}

static unsigned delivered_to(const char *addr)
{
    return *peer_slot(addr, true);
}

static unsigned asked_for(const char *addr)
{
    return *peer_slot(addr, false);
}

static void note_dialogue(const char *line)
{
    size_t used = strlen(peer.dialogue);
    snprintf(peer.dialogue + used, sizeof peer.dialogue - used, "%s\n", line);
}

static void reply(const char *text)
{
    (void)fake_server_sends(text, strlen(text));
}

static void end_of_data(void)
{
    peer.in_data = false;
    note_dialogue("<data>");
    if (peer.data_overflow) {
        reply("552 5.3.4 too big\r\n");
        return;
    }
    const char *subject = strstr(peer.data, "\r\nSubject: ");
    size_t used = strlen(peer.subjects);
    if (subject != NULL) {
        snprintf(peer.subjects + used, sizeof peer.subjects - used, "%.*s\n", (int)strcspn(subject + 2, "\r"),
                 subject + 2);
    }
    unsigned n = peer.transactions++;
    if (n < PEER_KEPT) {
        memcpy(peer.messages[n], peer.data, peer.data_len);
        peer.taken_ms[n] = fake_now_ms - MONO0;
        peer.messages[n][peer.data_len] = '\0';
    }
    for (size_t i = 0; i < peer.txn_count; i++) {
        (*peer_slot(peer.txn_rcpt[i], true))++;
    }
    peer.txn_count = 0;
    peer.in_window = true;
    reply("250 2.0.0 Ok: queued as 4B7X\r\n");
    peer.in_window = false;
}

static void data_line(const char *line)
{
    if (strcmp(line, ".") == 0) {
        end_of_data();
        return;
    }
    const char *text = line[0] == '.' ? line + 1 : line;   /* dot-stuffing undone */
    size_t len = strlen(text);
    if (peer.data_len + len + 3 > sizeof peer.data) {
        peer.data_overflow = true;
        return;
    }
    memcpy(peer.data + peer.data_len, text, len);
    memcpy(peer.data + peer.data_len + len, "\r\n", 3);   /* NUL-terminated too */
    peer.data_len += len + 2;
}

static void command(const char *line)
{
    note_dialogue(line);
    if (strncmp(line, "EHLO ", 5) == 0 || strncmp(line, "HELO ", 5) == 0) {
        reply(peer.pipelining ? "250-" HOST "\r\n250-PIPELINING\r\n250 8BITMIME\r\n"
                              : "250-" HOST "\r\n250 8BITMIME\r\n");
    } else if (strncmp(line, "MAIL FROM:", 10) == 0) {
        peer.txn_count = 0;
        reply("250 2.1.0 Ok\r\n");
    } else if (strncmp(line, "RCPT TO:<", 9) == 0) {
        char addr[64];
        snprintf(addr, sizeof addr, "%.*s", (int)strcspn(line + 9, ">"), line + 9);
        unsigned nth = ++*peer_slot(addr, false);
        const char *answer = peer.rcpt_reply != NULL ? peer.rcpt_reply(addr, nth) : "250 2.1.5 Ok";
        if (answer[0] == '2' && peer.txn_count < PEER_RCPTS) {
            snprintf(peer.txn_rcpt[peer.txn_count++], sizeof peer.txn_rcpt[0], "%s", addr);
        }
        char text[160];
        snprintf(text, sizeof text, "%s\r\n", answer);
        reply(text);
    } else if (strcmp(line, "DATA") == 0) {
        if (peer.txn_count == 0) {
            reply("554 5.5.1 no valid recipients\r\n");
            return;
        }
        peer.in_data = true;
        peer.data_len = 0;
        peer.data_overflow = false;
        reply("354 End data with <CR><LF>.<CR><LF>\r\n");
    } else if (strcmp(line, "RSET") == 0) {
        peer.txn_count = 0;
        reply("250 2.0.0 Ok\r\n");
    } else if (strcmp(line, "QUIT") == 0) {
        reply("221 2.0.0 Bye\r\n");
    } else {
        reply("502 5.5.2 what\r\n");
    }
}

/* The peer does what it can: answers the lookups and the connection, and every whole line
 * the client sent. False when there was nothing to do. */
static bool peer_step(void)
{
    bool moved = false;
    if (peer.hold) {
        return false;
    }
    if (fake.route_done != NULL) {
        fake_route_answer(HOST);
        moved = true;
    }
    if (fake.sts_done != NULL) {
        fake_sts_answer(NULL, false);
        moved = true;
    }
    if (fake.query_done != NULL) {   /* relay mode: the relay's address */
        fake_resolver_answer();
        moved = true;
    }
    if (fake.live && fake.connects > peer.accepted) {
        peer.accepted = fake.connects;
        peer.line_len = 0;
        peer.in_data = false;
        peer.txn_count = 0;
        moved = true;
        if (peer.down) {
            fake_conn_event(STSM_CONN_FAILED, STSM_ERR_CONNECT);
        } else {
            peer.connections++;
            fake_conn_event(STSM_CONN_CONNECTED, STSM_OK);
            reply("220 " HOST " ESMTP\r\n");
        }
    }
    if (fake.sent_len > 0) {
        /* Replies make the client send more, into fake.sent: take what is there first. */
        static char bytes[sizeof fake.sent];
        size_t len = fake.sent_len;
        memcpy(bytes, fake.sent, len);
        fake.sent_len = 0;
        fake.sent[0] = '\0';
        moved = true;
        peer.flights++;
        for (size_t i = 0; i < len; i++) {
            if (peer.line_len + 1 >= sizeof peer.line) {
                peer.line_len = 0;   /* an overlong line: dropped, the check below fails */
                CHECK(!"peer: line too long");
            }
            peer.line[peer.line_len++] = bytes[i];
            if (peer.line_len >= 2 && peer.line[peer.line_len - 2] == '\r' && peer.line[peer.line_len - 1] == '\n') {
                peer.line[peer.line_len - 2] = '\0';
                peer.line_len = 0;
                if (peer.in_data) {
                    data_line(peer.line);
                } else {
                    command(peer.line);
                }
            }
        }
    }
    return moved;
}

/* ---- the main loop --------------------------------------------------------------------- */

/* One turn of the device's main loop and the peer, repeated until nothing moves. */
static void pump(void)
{
    for (int turn = 0; turn < 10000; turn++) {
        fake_clock_serve();
        stsm_agent_poll(&agent);
        bool moved = peer_step();
        if (!moved && fake_clock_sleeptime() != 0 && stsm_agent_next_wakeup(&agent) != 0) {
            return;
        }
    }
    CHECK(!"the main loop never rests");
}

/* The main loop for `ms` of time, sleeping as long as the agent and the timers allow. */
static void run_for(uint32_t ms)
{
    uint32_t end = elapsed_ms() + ms;
    pump();
    while (elapsed_ms() < end) {
        uint32_t sleep = stsm_agent_next_wakeup(&agent);
        uint32_t timers = fake_clock_sleeptime();
        sleep = timers < sleep ? timers : sleep;
        sleep = sleep == 0 ? 1 : sleep;
        fake_clock_advance(sleep < end - elapsed_ms() ? sleep : end - elapsed_ms());
        pump();
    }
}

/* Boots the device on the flash as it is: a new agent, nothing in flight. */
static void boot(void)
{
    fake_reset();
    peer.accepted = 0;
    memset(&agent, 0, sizeof agent);
    CHECK_INT(stsm_agent_init(&agent, &settings, &platform), STSM_OK);
    stsm_agent_on_result(&agent, on_result, NULL);
}

/* The /delivery object of the next setup(); a case that changes it puts it back. */
#define DELIVERY_MX "{\"mode\": \"mx\"}"
static const char *delivery_json = DELIVERY_MX;

/* A new case: erased flash, settings from `outbox` (the /outbox members, may be "") and
 * delivery_json, a new peer, time back at the start, the wall clock set. */
static void setup(const char *outbox)
{
    char json[1024], why[200];
    snprintf(json, sizeof json,
             "{\"network\": {\"interface\": \"tap0\"}, \"tls\": {\"trust_store\": \"t.bin\"}, "
             "\"mail\": {\"from\": \"alerts@printer.example\", \"to\": [\"" OPS "\"]}, "
             "\"delivery\": %s, \"outbox\": {%s}}", delivery_json, outbox);
    memset(&settings, 0, sizeof settings);
    if (stsm_settings_parse(json, strlen(json), &settings, why, sizeof why) != STSM_OK) {
        printf("settings: %s\n", why);
        CHECK(!"settings parse");
    }
    CHECK(nor_sim_init(&sim, mem, page_size * page_count, page_size));
    watched = (struct stsm_flash_area){ NULL, sim.area.size, sim.area.page_size, sim.area.base, watched_erase,
                                        watched_program };
    memset(&peer, 0, sizeof peer);
    fake_now_ms = MONO0;
    wall_set = true;
    rng = 0x9e3779b9u;
    result_count = 0;
    log_len = 0;
    log_text[0] = '\0';
    cut_armed = false;
    boot();
}

/* Prints the log and the dialogue when the case failed (or when asked). */
static void finish(unsigned failed_before)
{
    if (stsm_checks_failed != failed_before || getenv("STSM_TEST_VERBOSE") != NULL) {
        printf("[%s] log:\n%s  dialogue:\n%s\n", stsm_check_case, log_text, peer.dialogue);
    }
}

/* Starts case `name` (see setup) with the peer answering RCPT as `answers` says (NULL: 250);
 * returns the failure count so far, for finish(). */
static unsigned begin(const char *name, const char *outbox, rcpt_reply_fn answers)
{
    unsigned failed_before = stsm_checks_failed;
    CHECK_CASE(name);
    setup(outbox);
    peer.rcpt_reply = answers;
    return failed_before;
}

static stsm_status_t raise_to(const char *key, enum stsm_severity severity, const char *subject,
                              const char *const *to, size_t to_count, uint32_t *id)
{
    static const char body[] = "Cyan at 5%.\n";
    const struct stsm_alert alert = { key, severity, subject, body, sizeof body - 1, to, to_count };
    return stsm_alert_raise(&agent, &alert, id);
}

/* How often `needle` occurs in `hay`. */
static unsigned occurrences(const char *hay, const char *needle)
{
    unsigned n = 0;
    for (const char *p = strstr(hay, needle); p != NULL; p = strstr(p + 1, needle)) {
        n++;
    }
    return n;
}

/* The header field `name` of a message ("Date: ..."), unfolded, without its CRLF; "" when
 * none. Each call overwrites the one before's. */
static const char *header(const char *message, const char *name)
{
    static char field[512];
    field[0] = '\0';
    const char *end = strstr(message, "\r\n\r\n");
    for (const char *p = message; p != NULL && (end == NULL || p < end); p = strstr(p, "\r\n")) {
        p += p == message ? 0 : 2;
        if (strncmp(p, name, strlen(name)) != 0) {
            continue;
        }
        size_t len = 0;
        for (;;) {
            size_t n = strcspn(p, "\r");
            len += (size_t)snprintf(field + len, sizeof field - len, "%.*s", (int)n, p);
            p += n;
            if (strncmp(p, "\r\n ", 3) != 0 && strncmp(p, "\r\n\t", 3) != 0) {
                return field;   /* the next line is no continuation */
            }
            p += 2;
            while (*p == ' ' || *p == '\t') {
                p++;
            }
            len += (size_t)snprintf(field + len, sizeof field - len, " ");
            if (len >= sizeof field - 1) {
                return field;
            }
        }
    }
    return field;
}

/* The Date header the message must carry for wall time `t` (RFC 5322, UTC). */
static const char *date_line(int64_t t)
{
    static const char *const days[] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
    static const char *const months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                          "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
    static char line[64];
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    snprintf(line, sizeof line, "Date: %s, %d %s %04d %02d:%02d:%02d +0000", days[tm.tm_wday], tm.tm_mday,
             months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
    return line;
}

/* The Message-ID the stored message `m` makes (stsm_message.h: date, its randomness). */
static const char *message_id_of(const struct stsm_outbox_message *m)
{
    static char line[128];
    snprintf(line, sizeof line, "Message-ID: <%lld.%08x%08x@printer.example>", (long long)m->first_raised,
             (unsigned)m->id_random[0], (unsigned)m->id_random[1]);
    return line;
}

static struct stsm_outbox_message loaded;
static char loaded_text[STSM_OUTBOX_TEXT_MAX];

/* ---- the cases ------------------------------------------------------------------------- */

static const char *const three[] = { OPS, NOC, CTO };

/* 1. A raise, a poll: delivered, told once. */
static void test_delivered(void)
{
    unsigned failed_before = begin("1 raise, poll: delivered", "", NULL);
    uint32_t id = 0;
    CHECK_INT(raise_to("toner", STSM_SEVERITY_WARNING, "Toner low", NULL, 0, &id), STSM_OK);
    CHECK(id != 0);
    CHECK_INT(stsm_agent_counters(&agent)->queued, 1);
    CHECK_INT(stsm_agent_next_wakeup(&agent), 0);   /* a new alert: poll at once */
    pump();
    CHECK_INT(peer.connections, 1);
    CHECK_INT(peer.transactions, 1);
    CHECK_INT(delivered_to(OPS), 1);
    CHECK_STR(peer.dialogue, "EHLO [192.0.2.10]\nMAIL FROM:<alerts@printer.example>\n"
                             "RCPT TO:<" OPS ">\nDATA\n<data>\nQUIT\n");
    CHECK_STR(header(peer.messages[0], "Subject:"), "Subject: Toner low");
    CHECK_STR(header(peer.messages[0], "To:"), "To: " OPS);
    CHECK_STR(header(peer.messages[0], "Date:"), date_line(T0));
    CHECK(strstr(peer.messages[0], "\r\n\r\nCyan at 5%.\r\n") != NULL);
    CHECK_INT(result_count, 1);
    CHECK_INT(results[0].id, id);
    CHECK_STR(results[0].key, "toner");
    CHECK_STR(results[0].rcpt, OPS);
    CHECK_INT(results[0].state, STSM_RCPT_DELIVERED);
    CHECK_STR(results[0].host, HOST);
    CHECK_STR(results[0].reason, "250 2.0.0 Ok: queued as 4B7X");
    const struct stsm_agent_counters *c = stsm_agent_counters(&agent);
    CHECK_INT(c->raised, 1);
    CHECK_INT(c->coalesced, 0);
    CHECK_INT(c->attempts, 1);
    CHECK_INT(c->delivered, 1);
    CHECK_INT(c->failed + c->gave_up + c->refused_full + c->dropped, 0);
    /* Nothing is left to deliver: the message is gone or kept as the key's coalescing
     * anchor (nothing pending), and the agent sleeps until at most the window's end. */
    CHECK(c->queued <= 1);
    if (stsm_outbox_count(&agent.outbox) == 1) {
        CHECK_INT(stsm_outbox_load(&agent.outbox, id, &loaded, loaded_text, sizeof loaded_text), STSM_OK);
        CHECK_INT(loaded.rcpt[0], STSM_RCPT_DELIVERED);
    }
    uint32_t wake = stsm_agent_next_wakeup(&agent);
    CHECK(wake > 0 && (wake == UINT32_MAX || wake <= 300000u));
    run_for(3600u * 1000u);
    CHECK_INT(peer.transactions, 1);
    CHECK_INT(result_count, 1);
    CHECK_INT(stsm_outbox_count(&agent.outbox), 0);
    CHECK_INT(stsm_agent_counters(&agent)->queued, 0);
    CHECK_INT(stsm_agent_next_wakeup(&agent), UINT32_MAX);
    finish(failed_before);
}

static const char *ops_451_once(const char *rcpt, unsigned nth)
{
    return strcmp(rcpt, OPS) == 0 && nth == 1 ? "451 4.7.1 greylisted, try later" : "250 2.1.5 Ok";
}

/* 2. A 451 at RCPT, the backoff (retry_first 60 s, +-10 %), then 250: delivered once. */
static void test_retry_after_451(void)
{
    unsigned failed_before = begin("2 451 at RCPT, retried after the backoff, delivered once", "", ops_451_once);
    uint32_t id = 0;
    CHECK_INT(raise_to("toner", STSM_SEVERITY_WARNING, "Toner low", NULL, 0, &id), STSM_OK);
    pump();
    uint32_t ended_ms = elapsed_ms();
    CHECK_INT(peer.connections, 1);
    CHECK_INT(peer.transactions, 0);
    CHECK_INT(result_count, 0);   /* a deferral is no end */
    CHECK_INT(stsm_agent_counters(&agent)->attempts, 1);
    CHECK_INT(stsm_outbox_load(&agent.outbox, id, &loaded, loaded_text, sizeof loaded_text), STSM_OK);
    CHECK_INT(loaded.rcpt[0], STSM_RCPT_PENDING);
    CHECK_INT(loaded.attempts, 1);
    CHECK(strstr(loaded.last_error, "451 4.7.1") != NULL);
    CHECK(loaded.next_attempt >= T0 + 54 && loaded.next_attempt <= T0 + 66);
    char want_id[128], want_date[64];
    snprintf(want_id, sizeof want_id, "%s", message_id_of(&loaded));
    snprintf(want_date, sizeof want_date, "%s", date_line(loaded.first_raised));
    /* The agent sleeps until the retry (next_wakeup within the jittered window). */
    uint32_t wake = stsm_agent_next_wakeup(&agent);
    CHECK(wake >= 53000u && wake <= 67000u);
    /* Nothing before retry_first * 0.9 (wall seconds: 1 s of slack). */
    run_for(53000u - (elapsed_ms() - ended_ms));
    CHECK_INT(peer.connections, 1);
    CHECK_INT(stsm_agent_counters(&agent)->attempts, 1);
    /* The retry by retry_first * 1.1. */
    run_for(67000u - (elapsed_ms() - ended_ms));
    CHECK_INT(peer.connections, 2);
    CHECK_INT(peer.transactions, 1);
    CHECK_INT(delivered_to(OPS), 1);
    CHECK_INT(asked_for(OPS), 2);
    CHECK_STR(header(peer.messages[0], "Message-ID:"), want_id);
    CHECK_STR(header(peer.messages[0], "Date:"), want_date);
    CHECK_STR(want_date, date_line(T0));
    CHECK_INT(result_count, 1);
    CHECK_INT(results_for(OPS, STSM_RCPT_DELIVERED), 1);
    CHECK_INT(stsm_agent_counters(&agent)->attempts, 2);
    CHECK_INT(stsm_agent_counters(&agent)->delivered, 1);
    run_for(2u * 3600u * 1000u);
    CHECK_INT(peer.connections, 2);
    CHECK_INT(result_count, 1);
    CHECK_INT(stsm_outbox_count(&agent.outbox), 0);
    finish(failed_before);
}

static const char *case3_replies(const char *rcpt, unsigned nth)
{
    if (strcmp(rcpt, OPS) == 0) {
        return "550 5.1.1 <" OPS ">: no such user";
    }
    if (strcmp(rcpt, NOC) == 0 && nth == 1) {
        return "451 4.3.0 mailbox busy";
    }
    return "250 2.1.5 Ok";
}

/* 3. Three recipients: 550 for one (failed, never again), 451 then 250 for another, 250 for
 *    the third. The retry's envelope names the pending one only; To names all three. */
static void test_one_refused(void)
{
    unsigned failed_before = begin("3 550 for one of three, 451 then 250 for another", "", case3_replies);
    uint32_t id = 0;
    CHECK_INT(raise_to("fan", STSM_SEVERITY_ERROR, "Fan stopped", three, 3, &id), STSM_OK);
    pump();
    CHECK_INT(peer.transactions, 1);
    CHECK_INT(delivered_to(CTO), 1);
    CHECK_INT(result_count, 2);
    CHECK_INT(results_for(OPS, STSM_RCPT_FAILED), 1);
    CHECK_STR(result_of(OPS) != NULL ? result_of(OPS)->reason : "", "550 5.1.1 <" OPS ">: no such user");
    CHECK_INT(results_for(CTO, STSM_RCPT_DELIVERED), 1);
    CHECK_INT(stsm_outbox_load(&agent.outbox, id, &loaded, loaded_text, sizeof loaded_text), STSM_OK);
    CHECK_INT(loaded.rcpt[0], STSM_RCPT_FAILED);
    CHECK_INT(loaded.rcpt[1], STSM_RCPT_PENDING);
    CHECK_INT(loaded.rcpt[2], STSM_RCPT_DELIVERED);
    size_t first_dialogue = strlen(peer.dialogue);
    run_for(2u * 3600u * 1000u);
    const char *retry = peer.dialogue + first_dialogue;
    CHECK_INT(peer.connections, 2);
    CHECK_INT(peer.transactions, 2);
    CHECK_INT(occurrences(retry, "RCPT TO:"), 1);
    CHECK(strstr(retry, "RCPT TO:<" NOC ">") != NULL);
    CHECK_INT(asked_for(OPS), 1);   /* never retried */
    CHECK_INT(asked_for(CTO), 1);
    CHECK_INT(delivered_to(NOC), 1);
    CHECK_INT(delivered_to(CTO), 1);
    CHECK_INT(delivered_to(OPS), 0);
    const char *to = "To: " OPS ", " NOC ", " CTO;
    CHECK_STR(header(peer.messages[0], "To:"), to);
    CHECK_STR(header(peer.messages[1], "To:"), to);
    char first_id[128];
    snprintf(first_id, sizeof first_id, "%s", header(peer.messages[0], "Message-ID:"));
    CHECK(first_id[0] != '\0');
    CHECK_STR(header(peer.messages[1], "Message-ID:"), first_id);
    CHECK_STR(header(peer.messages[1], "Date:"), date_line(T0));
    CHECK_STR(header(peer.messages[0], "Date:"), date_line(T0));
    CHECK_INT(result_count, 3);
    CHECK_INT(results_for(OPS, STSM_RCPT_FAILED), 1);
    CHECK_INT(results_for(NOC, STSM_RCPT_DELIVERED), 1);
    CHECK_INT(results_for(CTO, STSM_RCPT_DELIVERED), 1);
    const struct stsm_agent_counters *c = stsm_agent_counters(&agent);
    CHECK_INT(c->delivered, 2);
    CHECK_INT(c->failed, 1);
    CHECK_INT(c->attempts, 2);
    CHECK_INT(stsm_outbox_count(&agent.outbox), 0);
    finish(failed_before);
}

static const char *ops_451_twice(const char *rcpt, unsigned nth)
{
    return strcmp(rcpt, OPS) == 0 && nth <= 2 ? "451 4.7.1 greylisted, try later" : "250 2.1.5 Ok";
}

/* 4. A reboot in the retry wait: the message is still there, tried once at boot
 *    (stsm_outbox_retry_now), and from then on backs off from its stored attempt count. */
static void test_reboot_in_wait(void)
{
    unsigned failed_before = begin("4 reboot in a retry wait", "", ops_451_twice);
    uint32_t id = 0;
    CHECK_INT(raise_to("toner", STSM_SEVERITY_WARNING, "Toner low", NULL, 0, &id), STSM_OK);
    pump();
    CHECK_INT(peer.connections, 1);
    run_for(30000u);
    CHECK_INT(peer.connections, 1);
    boot();   /* the same flash, a new agent */
    CHECK_INT(stsm_agent_counters(&agent)->queued, 1);
    CHECK_INT(stsm_outbox_load(&agent.outbox, id, &loaded, loaded_text, sizeof loaded_text), STSM_OK);
    CHECK_INT(loaded.attempts, 1);
    CHECK_INT(loaded.rcpt[0], STSM_RCPT_PENDING);
    CHECK(strstr(loaded.last_error, "451 4.7.1") != NULL);
    pump();   /* tried at once after the boot: 451 again */
    uint32_t ended_ms = elapsed_ms();
    CHECK_INT(peer.connections, 2);
    CHECK_INT(peer.transactions, 0);
    CHECK_INT(stsm_outbox_load(&agent.outbox, id, &loaded, loaded_text, sizeof loaded_text), STSM_OK);
    CHECK_INT(loaded.attempts, 2);
    /* Attempt 2's backoff is retry_first * 2 = 120 s, +-10 %. */
    CHECK(loaded.next_attempt >= wall() + 108 && loaded.next_attempt <= wall() + 132);
    run_for(107000u - (elapsed_ms() - ended_ms));
    CHECK_INT(peer.connections, 2);
    run_for(133000u - (elapsed_ms() - ended_ms));
    CHECK_INT(peer.connections, 3);
    CHECK_INT(delivered_to(OPS), 1);
    CHECK_INT(result_count, 1);
    CHECK_INT(results_for(OPS, STSM_RCPT_DELIVERED), 1);
    /* Another reboot after the delivery sends nothing again. */
    boot();
    run_for(3600u * 1000u);
    CHECK_INT(peer.connections, 3);
    CHECK_INT(delivered_to(OPS), 1);
    CHECK_INT(result_count, 1);
    CHECK_INT(stsm_outbox_count(&agent.outbox), 0);
    finish(failed_before);
}

/* 5. A power cut at every device operation of a run: a raise to two recipients, one 451
 *    (retried) and one 250 in the first attempt, the retry delivered. After each cut the
 *    device boots again and works on to the end. The run is played on a small ring (4 x 1
 *    KiB) aged by 0..FILLERS_MAX delivered alerts first, so that it meets the store's page
 *    reclaims and erases at different points. */
#define CUT_PAGE 1024u
#define CUT_PAGES 4u
#define FILLERS_MAX 24u
#define FILLER "log@victim.example"

static const char *noc_451_once(const char *rcpt, unsigned nth)
{
    return strcmp(rcpt, NOC) == 0 && nth == 1 ? "451 4.3.0 mailbox busy" : "250 2.1.5 Ok";
}

/* What the cut run counted when it ran uncut. */
static unsigned long run_ops, run_erases;

static unsigned long erases_total(void)
{
    unsigned long n = 0;
    for (size_t i = 0; i < CUT_PAGES; i++) {
        n += sim.erases[i];
    }
    return n;
}

/* The run after `fillers` alerts, cut at its operation `k` (ULONG_MAX: not cut); true
 * once the power was cut, false when the run ended without a cut. */
static bool cut_run(unsigned fillers, unsigned long k, enum nor_cut_mode mode, bool *raised, bool *in_window)
{
    static const char *const two[] = { OPS, NOC };
    static const char *const filler[] = { FILLER };
    page_size = CUT_PAGE;
    page_count = CUT_PAGES;
    setup("");
    page_size = PAGE;
    page_count = PAGES;
    peer.rcpt_reply = noc_451_once;
    for (unsigned f = 0; f < fillers; f++) {
        CHECK_INT(raise_to(NULL, STSM_SEVERITY_INFO, "Log rotated", filler, 1, NULL), STSM_OK);
        run_for(1000u);
    }
    CHECK_INT(delivered_to(FILLER), fillers);
    CHECK_INT(stsm_outbox_count(&agent.outbox), 0);
    if (k != ULONG_MAX) {
        nor_sim_cut_after(&sim, k, mode, (uint32_t)(k * 7919u + mode));
    }
    *raised = false;
    *in_window = false;
    if (setjmp(cut_jump) == 0) {
        cut_armed = true;
        unsigned long ops_before = sim.ops, erases_before = erases_total();
        *raised = raise_to("psu", STSM_SEVERITY_CRITICAL, "PSU failed", two, 2, NULL) == STSM_OK;
        run_for(2u * 3600u * 1000u);
        cut_armed = false;
        run_ops = sim.ops - ops_before;
        run_erases = erases_total() - erases_before;
        return false;
    }
    cut_armed = false;
    *in_window = peer.in_window;
    peer.in_window = false;
    return true;
}

static void test_power_cuts(void)
{
    static const char *const two[] = { OPS, NOC };
    unsigned failed_before = stsm_checks_failed;
    unsigned long ops = 0, erases = 0;
    unsigned tried = 0, twice = 0, lost_raises = 0, untold = 0;
    for (unsigned fillers = 0; fillers <= FILLERS_MAX; fillers++) {
        char where[96];
        snprintf(where, sizeof where, "5 power cuts after %u alerts: uncut", fillers);
        CHECK_CASE(where);
        bool raised, in_window;
        CHECK(!cut_run(fillers, ULONG_MAX, NOR_CUT_NOTHING, &raised, &in_window));
        CHECK(raised);
        CHECK_INT(delivered_to(OPS), 1);
        CHECK_INT(delivered_to(NOC), 1);
        CHECK_INT(peer.connections, fillers + 2);
        CHECK(run_ops >= 8);
        unsigned long uncut_ops = run_ops;
        ops += run_ops;
        erases += run_erases;
        for (int mode = 0; mode < NOR_CUT_MODES; mode++) {
            for (unsigned long k = 0;; k++) {
                snprintf(where, sizeof where, "5 power cut after %u alerts at operation %lu (%s)", fillers, k,
                         nor_cut_mode_name((enum nor_cut_mode)mode));
                CHECK_CASE(where);
                if (!cut_run(fillers, k, (enum nor_cut_mode)mode, &raised, &in_window)) {
                    CHECK_INT(k, uncut_ops);   /* every operation of the run was cut once */
                    break;
                }
                tried++;
                nor_sim_power_on(&sim);
                boot();
                run_for(2u * 3600u * 1000u);
                for (size_t r = 0; r < 2; r++) {
                    unsigned n = delivered_to(two[r]);
                    if (raised) {
                        CHECK(n >= 1);
                    }
                    /* Twice only when the cut hit the writing of the 250 the peer had just given. */
                    CHECK(n <= (in_window ? 2u : 1u));
                    twice += n == 2;
                    /* Told once; never only when the cut hit the writing of that very 250 (the
                     * write may have been whole: stored, but the device died before it knew). */
                    unsigned told = results_for(two[r], STSM_RCPT_DELIVERED);
                    CHECK(told <= 1);
                    CHECK(n == 0 || told == 1 || in_window);
                    untold += n >= 1 && told == 0;
                }
                lost_raises += !raised && delivered_to(OPS) == 0;
                CHECK_INT(delivered_to(FILLER), fillers);
                CHECK_INT(stsm_outbox_count(&agent.outbox), 0);
                CHECK_INT(sim.double_programs + sim.bit_sets, 0);
                if (stsm_checks_failed != failed_before) {
                    finish(failed_before);
                    return;
                }
            }
        }
    }
    CHECK_CASE("5 power cuts");
    printf("test_agent: power cuts: %u cut points tried (%lu operations, %lu of them erases, in %u runs x %d "
           "modes); delivered twice after %u (cut between the 250 and its record); raise cut before it was "
           "stored: %u; delivered but never told (the cut hit the writing of its 250): %u\n",
           tried, ops, erases, FILLERS_MAX + 1, (int)NOR_CUT_MODES, twice, lost_raises, untold);
    CHECK(tried == ops * NOR_CUT_MODES);
    CHECK(erases > 0);   /* the runs met the store's reclaims */
    CHECK(twice > 0);    /* the window exists in this run, and was hit */
    finish(failed_before);
}

/* 6. A storm: 1000 raises of one key in a minute make two messages, the first at once and
 *    a follow-up when the 5-minute window ends. */
static void test_storm(void)
{
    unsigned failed_before = begin("6 storm of 1000 raises in a minute", "", NULL);
    for (int i = 0; i < 1000; i++) {
        CHECK_INT(raise_to("overheat", STSM_SEVERITY_ERROR, "Overheating", NULL, 0, NULL), STSM_OK);
        run_for(60);
    }
    CHECK_INT(peer.transactions, 1);
    run_for(3600u * 1000u);
    CHECK_INT(peer.transactions, 2);
    CHECK_INT(occurrences(peer.dialogue, "<data>"), 2);
    CHECK(peer.taken_ms[0] < 1000u);   /* the first at once */
    CHECK(peer.taken_ms[1] >= 300000u && peer.taken_ms[1] < 301000u);   /* the follow-up when the window ends */
    const char *body = strstr(peer.messages[1], "\r\n\r\n");
    CHECK(body != NULL && strncmp(body + 4, "This alert was raised again 999 times", 37) == 0);
    body = strstr(peer.messages[0], "\r\n\r\n");
    CHECK(body != NULL && strncmp(body + 4, "Cyan at 5%.", 11) == 0);
    CHECK_STR(header(peer.messages[1], "Date:"), date_line(T0 + 0));
    char first_id[128];
    snprintf(first_id, sizeof first_id, "%s", header(peer.messages[0], "Message-ID:"));
    CHECK(first_id[0] != '\0' && strcmp(first_id, header(peer.messages[1], "Message-ID:")) != 0);
    const struct stsm_agent_counters *c = stsm_agent_counters(&agent);
    CHECK_INT(c->raised, 1000);
    CHECK_INT(c->coalesced, 998);   /* raise 2 made the follow-up; 3..1000 joined it */
    CHECK_INT(c->delivered, 2);
    CHECK_INT(result_count, 2);
    CHECK_INT(delivered_to(OPS), 2);
    CHECK_INT(stsm_outbox_count(&agent.outbox), 0);
    finish(failed_before);
}

/* Fills the outbox with STSM_OUTBOX_MAX alerts "alert 0", "alert 1", ... of severity `s0`,
 * `s1`, then `rest`, with the wall clock unset so that none goes out meanwhile. */
static void fill_outbox(uint32_t ids[STSM_OUTBOX_MAX], enum stsm_severity s0, enum stsm_severity s1,
                        enum stsm_severity rest)
{
    char subject[32];
    wall_set = false;
    for (int i = 0; i < STSM_OUTBOX_MAX; i++) {
        snprintf(subject, sizeof subject, "alert %d", i);
        CHECK_INT(raise_to(NULL, i == 0 ? s0 : i == 1 ? s1 : rest, subject, NULL, 0, &ids[i]), STSM_OK);
    }
}

/* 7a. Full: STSM_OUTBOX_MAX messages kept, the next raise refused, nothing lost. */
static void test_full(void)
{
    unsigned failed_before = begin("7a full: refused, nothing earlier lost", "", NULL);
    uint32_t ids[STSM_OUTBOX_MAX];
    fill_outbox(ids, STSM_SEVERITY_WARNING, STSM_SEVERITY_WARNING, STSM_SEVERITY_WARNING);
    CHECK_INT(raise_to(NULL, STSM_SEVERITY_CRITICAL, "one too many", NULL, 0, NULL), STSM_ERR_FULL);
    const struct stsm_agent_counters *c = stsm_agent_counters(&agent);
    CHECK_INT(c->refused_full, 1);
    CHECK_INT(c->dropped, 0);
    CHECK_INT(c->raised, STSM_OUTBOX_MAX);
    CHECK_INT(c->queued, STSM_OUTBOX_MAX);
    CHECK(strstr(log_text, "full: alert") != NULL);
    for (int i = 0; i < STSM_OUTBOX_MAX; i++) {
        CHECK_INT(stsm_outbox_load(&agent.outbox, ids[i], &loaded, loaded_text, sizeof loaded_text), STSM_OK);
    }
    wall_set = true;
    run_for(3600u * 1000u);
    CHECK_INT(peer.transactions, STSM_OUTBOX_MAX);
    /* Due together, to one domain: STSM_AGENT_BATCH_MAX to a connection (one each before
     * batching: 16), oldest first, no RSET between transactions that ended with a 250. */
    CHECK_INT(peer.connections, (STSM_OUTBOX_MAX + STSM_AGENT_BATCH_MAX - 1) / STSM_AGENT_BATCH_MAX);
    CHECK_INT(occurrences(peer.dialogue, "RSET\n"), 0);
    CHECK(strstr(peer.subjects, "Subject: alert 0\nSubject: alert 1\nSubject: alert 2\n") == peer.subjects);
    CHECK_INT(delivered_to(OPS), STSM_OUTBOX_MAX);
    CHECK(strstr(peer.subjects, "one too many") == NULL);
    CHECK_INT(occurrences(peer.subjects, "Subject: alert "), STSM_OUTBOX_MAX);
    CHECK(strstr(peer.subjects, "Subject: alert 15\n") != NULL);
    CHECK_INT(result_count, STSM_OUTBOX_MAX);
    CHECK_INT(stsm_outbox_count(&agent.outbox), 0);
    finish(failed_before);
}

/* 7c. No alert at all: refused like any alert that can never be sent (the agent logs the
 *     refusal without reading the alert it was not given). */
static void test_no_alert(void)
{
    unsigned failed_before = begin("7c no alert: refused, logged, nothing stored", "", NULL);
    uint32_t id = 12345u;
    CHECK_INT(stsm_alert_raise(&agent, NULL, &id), STSM_ERR_ARGUMENT);
    CHECK_INT(id, 12345u);
    CHECK(strstr(log_text, "refused") != NULL);
    CHECK_INT(stsm_agent_counters(&agent)->raised, 0);
    CHECK_INT(stsm_outbox_count(&agent.outbox), 0);
    finish(failed_before);
}

/* 7b. Full with /outbox/when_full drop_lower: a critical raise drops the oldest lower one
 *     (counted, logged); an info raise, with nothing lower, is refused. */
static void test_full_drop_lower(void)
{
    unsigned failed_before = begin("7b full, drop_lower", "\"when_full\": \"drop_lower\"", NULL);
    uint32_t ids[STSM_OUTBOX_MAX];
    fill_outbox(ids, STSM_SEVERITY_WARNING, STSM_SEVERITY_INFO, STSM_SEVERITY_ERROR);
    uint32_t id = 0;
    CHECK_INT(raise_to(NULL, STSM_SEVERITY_CRITICAL, "disk failed", NULL, 0, &id), STSM_OK);
    const struct stsm_agent_counters *c = stsm_agent_counters(&agent);
    CHECK_INT(c->dropped, 1);
    CHECK_INT(c->refused_full, 0);
    CHECK_INT(c->queued, STSM_OUTBOX_MAX);
    CHECK(strstr(log_text, "dropped to make room for a critical alert") != NULL);
    /* The oldest of lower severity: message 0 (warning), not the info one after it. */
    CHECK_INT(stsm_outbox_load(&agent.outbox, ids[0], &loaded, loaded_text, sizeof loaded_text), STSM_ERR_NOT_FOUND);
    CHECK_INT(stsm_outbox_load(&agent.outbox, ids[1], &loaded, loaded_text, sizeof loaded_text), STSM_OK);
    CHECK_INT(raise_to(NULL, STSM_SEVERITY_WARNING, "fan slow", NULL, 0, NULL), STSM_OK);   /* drops the info */
    CHECK_INT(c->dropped, 2);
    CHECK_INT(stsm_outbox_load(&agent.outbox, ids[1], &loaded, loaded_text, sizeof loaded_text), STSM_ERR_NOT_FOUND);
    /* Nothing lower than info: refused, nothing dropped. */
    CHECK_INT(raise_to(NULL, STSM_SEVERITY_INFO, "paper low", NULL, 0, NULL), STSM_ERR_FULL);
    CHECK_INT(c->dropped, 2);
    CHECK_INT(c->refused_full, 1);
    wall_set = true;
    run_for(3600u * 1000u);
    CHECK_INT(peer.transactions, STSM_OUTBOX_MAX);
    CHECK_STR(header(peer.messages[0], "Subject:"), "Subject: disk failed");   /* by severity */
    CHECK(strstr(peer.subjects, "Subject: alert 0\n") == NULL);   /* the two dropped */
    CHECK(strstr(peer.subjects, "Subject: alert 1\n") == NULL);
    CHECK_INT(occurrences(peer.subjects, "Subject: alert "), STSM_OUTBOX_MAX - 2);
    CHECK(strstr(peer.subjects, "Subject: fan slow\n") != NULL);
    CHECK(strstr(peer.subjects, "paper low") == NULL);
    CHECK_INT(result_count, STSM_OUTBOX_MAX);
    CHECK_INT(stsm_outbox_count(&agent.outbox), 0);
    finish(failed_before);
}

/* 8. Raised before the wall clock is set: kept, nothing goes out until the clock is known,
 *    then delivered with that time as its Date. */
static void test_clock_unknown(void)
{
    unsigned failed_before = begin("8 raised before the clock is set", "", NULL);
    wall_set = false;
    uint32_t id = 0;
    CHECK_INT(raise_to("boot", STSM_SEVERITY_INFO, "Booted", NULL, 0, &id), STSM_OK);
    run_for(20000u);
    CHECK_INT(fake.route_starts + fake.connects, 0);
    CHECK_INT(stsm_agent_counters(&agent)->attempts, 0);
    CHECK_INT(stsm_agent_next_wakeup(&agent), 1000u);   /* looks at the clock each second */
    CHECK_INT(stsm_outbox_load(&agent.outbox, id, &loaded, loaded_text, sizeof loaded_text), STSM_OK);
    CHECK_INT(loaded.first_raised, 0);
    wall_set = true;   /* SNTP answered */
    int64_t known = wall();
    run_for(1000u);
    CHECK_INT(peer.transactions, 1);
    CHECK_INT(delivered_to(OPS), 1);
    CHECK_STR(header(peer.messages[0], "Date:"), date_line(known));
    char want_id[64];
    snprintf(want_id, sizeof want_id, "Message-ID: <%lld.", (long long)known);
    CHECK(strncmp(header(peer.messages[0], "Message-ID:"), want_id, strlen(want_id)) == 0);
    CHECK_INT(result_count, 1);
    CHECK_INT(results_for(OPS, STSM_RCPT_DELIVERED), 1);
    finish(failed_before);
}

static const char *always_451(const char *rcpt, unsigned nth)
{
    (void)rcpt;
    (void)nth;
    return "451 4.3.2 system not accepting messages";
}

static const char *always_452(const char *rcpt, unsigned nth)
{
    (void)rcpt;
    (void)nth;
    return "452 4.2.2 mailbox full";
}

/* 9. The peer answers 451 for ever: given up once /outbox/give_up (3 days) ran out, with
 *    the last attempt's reply (452 at the last try, at the deadline) as the reason. */
static void test_give_up(void)
{
    unsigned failed_before = begin("9 451 for ever: given up after 3 days", "", always_451);
    uint32_t id = 0;
    CHECK_INT(raise_to("toner", STSM_SEVERITY_WARNING, "Toner low", NULL, 0, &id), STSM_OK);
    run_for(259200u * 1000u - 1000u);
    CHECK_INT(result_count, 0);
    CHECK_INT(stsm_outbox_count(&agent.outbox), 1);
    unsigned asked = asked_for(OPS);
    peer.rcpt_reply = always_452;
    run_for(2u * 3600u * 1000u + 1000u);
    CHECK_INT(asked_for(OPS), asked + 1);   /* one last try at the deadline */
    CHECK_INT(result_count, 1);
    CHECK_INT(results_for(OPS, STSM_RCPT_GAVE_UP), 1);
    CHECK_STR(result_count == 1 ? results[0].reason : "", "452 4.2.2 mailbox full");
    CHECK_INT(results[0].id, id);
    unsigned attempts = stsm_agent_counters(&agent)->attempts;
    CHECK_INT(peer.connections, attempts);
    /* 60 s doubling to 1 h: 6 attempts in the first 63 minutes, then hourly to 72 h. */
    CHECK(attempts >= 74 && attempts <= 80);
    CHECK_INT(stsm_agent_counters(&agent)->gave_up, 1);
    CHECK_INT(delivered_to(OPS), 0);
    run_for(24u * 3600u * 1000u);
    CHECK_INT(result_count, 1);
    CHECK_INT(peer.connections, attempts);
    CHECK_INT(stsm_outbox_count(&agent.outbox), 0);
    CHECK_INT(stsm_agent_counters(&agent)->queued, 0);
    finish(failed_before);
}

/* 10. Raises while a delivery runs (after its start, before its DATA) make the store reclaim
 *     pages, which moves the message's body in flash: the peer still gets the body raised.
 *     Fails before 118f135 (the delivery rendered the message again at DATA from the body
 *     pointer loaded at the attempt's start, by then stale: MAIL FROM said BODY=8BITMIME
 *     for the 0xFF bytes, the render at DATA failed and the attempt was deferred). */
static void test_raise_during_delivery(void)
{
    static char report[800];
    static char expected[1000];
    size_t len = 0, expected_len = 0;
    for (int i = 0; len + 40 < sizeof report; i++) {
        len += (size_t)snprintf(report + len, sizeof report - len, "line %02d of the nightly report\n", i);
        expected_len += (size_t)snprintf(expected + expected_len, sizeof expected - expected_len,
                                         "line %02d of the nightly report\r\n", i);
    }
    page_size = 1024u;
    page_count = 4u;
    unsigned failed_before = begin("10 raises during a delivery move its body", "", NULL);
    page_size = PAGE;
    page_count = PAGES;
    const struct stsm_alert alert = { "report", STSM_SEVERITY_ERROR, "Nightly report", report, len, NULL, 0 };
    CHECK_INT(stsm_alert_raise(&agent, &alert, NULL), STSM_OK);
    peer.hold = true;
    pump();
    CHECK_INT(stsm_agent_counters(&agent)->attempts, 1);
    unsigned long erased = sim.erases[0] + sim.erases[1] + sim.erases[2] + sim.erases[3];
    unsigned stored = 0;
    for (int i = 0; i < 200; i++) {   /* a storm: each raise rewrites its message's state */
        stored += raise_to("fan", STSM_SEVERITY_INFO, "Fan slow", NULL, 0, NULL) == STSM_OK;
        pump();
    }
    CHECK_INT(stored, 200);
    unsigned long now_erased = sim.erases[0] + sim.erases[1] + sim.erases[2] + sim.erases[3];
    printf("test_agent: raises during a delivery: %u stored, %lu erases\n", stored, now_erased - erased);
    CHECK(now_erased > erased);   /* pages were reclaimed under the running delivery */
    peer.hold = false;
    run_for(1000u);
    CHECK_INT(peer.transactions, 2);   /* the report at its first attempt, then the storm's */
    CHECK_STR(header(peer.messages[0], "Subject:"), "Subject: Nightly report");
    const char *body = strstr(peer.messages[0], "\r\n\r\n");
    CHECK(body != NULL && strcmp(body + 4, expected) == 0);
    CHECK_INT(stsm_agent_counters(&agent)->attempts, 2);
    CHECK_INT(result_count, 2);
    finish(failed_before);
}

/* 11. The server down, then up: the refused connection defers (the reason kept), the
 *     retry delivers. */
static void test_server_down(void)
{
    unsigned failed_before = begin("11 server down, then up", "", NULL);
    peer.down = true;
    uint32_t id = 0;
    CHECK_INT(raise_to("toner", STSM_SEVERITY_WARNING, "Toner low", NULL, 0, &id), STSM_OK);
    pump();
    CHECK_INT(fake.connects, 1);
    CHECK_INT(peer.connections, 0);
    CHECK_INT(result_count, 0);
    CHECK_INT(stsm_outbox_load(&agent.outbox, id, &loaded, loaded_text, sizeof loaded_text), STSM_OK);
    CHECK_INT(loaded.rcpt[0], STSM_RCPT_PENDING);
    CHECK_STR(loaded.last_error, "connection failed");
    peer.down = false;
    run_for(70000u);
    CHECK_INT(fake.connects, 2);
    CHECK_INT(delivered_to(OPS), 1);
    CHECK_INT(results_for(OPS, STSM_RCPT_DELIVERED), 1);
    CHECK_INT(result_count, 1);
    finish(failed_before);
}

/* 7c. Several due at once: by severity, then age; those to the first one's domain share
 *     its connection (at most STSM_AGENT_BATCH_MAX), one to another domain goes alone; a
 *     5xx to one message's recipient does not stop the next message. */
static const char *refuse_cto(const char *rcpt, unsigned nth)
{
    (void)nth;
    return strcmp(rcpt, CTO) == 0 ? "550 5.1.1 no such user" : "250 2.1.5 Ok";
}

static void test_batches(void)
{
    _Static_assert(STSM_AGENT_BATCH_MAX == 2 || STSM_AGENT_BATCH_MAX >= 6,
                   "the expected batches below assume 2 (mps2) or at least 6 (host)");
    unsigned failed_before = begin("7c batches: order and connections", "", refuse_cto);
    static const char *const other[] = { "ops@other.example" };
    static const char *const cto[] = { CTO };
    CHECK_INT(raise_to(NULL, STSM_SEVERITY_INFO, "A info", NULL, 0, NULL), STSM_OK);
    CHECK_INT(raise_to(NULL, STSM_SEVERITY_CRITICAL, "B critical", NULL, 0, NULL), STSM_OK);
    CHECK_INT(raise_to(NULL, STSM_SEVERITY_CRITICAL, "C critical", cto, 1, NULL), STSM_OK);
    CHECK_INT(raise_to(NULL, STSM_SEVERITY_CRITICAL, "D critical", NULL, 0, NULL), STSM_OK);
    CHECK_INT(raise_to(NULL, STSM_SEVERITY_INFO, "E info", NULL, 0, NULL), STSM_OK);
    CHECK_INT(raise_to(NULL, STSM_SEVERITY_ERROR, "F error", NULL, 0, NULL), STSM_OK);
    CHECK_INT(raise_to(NULL, STSM_SEVERITY_WARNING, "G warning", other, 1, NULL), STSM_OK);
    wall_set = true;
    run_for(3600u * 1000u);
#if STSM_AGENT_BATCH_MAX >= 6
    /* B C D F A E on one connection (C refused at RCPT, so only five taken), then G alone
     * (another domain). RSET only after C's refusal: a 250 to a message resets. */
    CHECK_INT(peer.connections, 2);
    CHECK_STR(peer.subjects, "Subject: B critical\nSubject: D critical\nSubject: F error\n"
                             "Subject: A info\nSubject: E info\nSubject: G warning\n");
#else
    /* B C, D F, then G alone (another domain), then A E; C refused at RCPT. */
    CHECK_INT(peer.connections, 4);
    CHECK_STR(peer.subjects, "Subject: B critical\nSubject: D critical\nSubject: F error\n"
                             "Subject: G warning\nSubject: A info\nSubject: E info\n");
#endif
    CHECK_INT(occurrences(peer.dialogue, "RSET\n"), 1);
    CHECK(strstr(peer.dialogue, "RCPT TO:<" CTO ">\nRSET\n") != NULL);   /* the 5xx, then on */
    CHECK_INT(results_for(CTO, STSM_RCPT_FAILED), 1);
    CHECK_INT(asked_for(CTO), 1);
    CHECK_INT(delivered_to(OPS), 5);
    CHECK_INT(delivered_to("ops@other.example"), 1);
    CHECK_INT(result_count, 7);
    CHECK_INT(stsm_agent_counters(&agent)->attempts, 7);
    CHECK_INT(stsm_outbox_count(&agent.outbox), 0);
    finish(failed_before);
}

/* 7d. Relay mode: due messages to different domains share one session (the relay takes
 *     them all), RSET between transactions; a 550 to the second message's recipient does
 *     not stop the third; each message gets its own outcome, ended in the outbox. */
#define RELAY_A "ops@alpha.example"
#define RELAY_B "ops@beta.example"
#define RELAY_C "ops@gamma.example"
static const char *refuse_beta(const char *rcpt, unsigned nth)
{
    (void)nth;
    return strcmp(rcpt, RELAY_B) == 0 ? "550 5.1.1 no such user" : "250 2.1.5 Ok";
}

static void test_relay_batch(void)
{
    delivery_json = "{\"mode\": \"relay\", \"relay\": {\"host\": \"" HOST "\", \"port\": 587, "
                    "\"tls\": \"none\"}}";
    unsigned failed_before = begin("7d relay batch: three domains, one session", "", refuse_beta);
    static const char *const a[] = { RELAY_A }, *const b[] = { RELAY_B }, *const c[] = { RELAY_C };
    uint32_t id[3];
    CHECK_INT(raise_to("a", STSM_SEVERITY_ERROR, "to alpha", a, 1, &id[0]), STSM_OK);
    CHECK_INT(raise_to("b", STSM_SEVERITY_ERROR, "to beta", b, 1, &id[1]), STSM_OK);
    CHECK_INT(raise_to("c", STSM_SEVERITY_ERROR, "to gamma", c, 1, &id[2]), STSM_OK);
    run_for(3600u * 1000u);
    CHECK_INT(peer.connections, 1);
    CHECK_INT(fake.connects, 1);
    CHECK_STR(peer.dialogue, "EHLO [192.0.2.10]\n"
                             "MAIL FROM:<alerts@printer.example>\nRCPT TO:<" RELAY_A ">\nDATA\n<data>\n"
                             "MAIL FROM:<alerts@printer.example>\nRCPT TO:<" RELAY_B ">\nRSET\n"
                             "MAIL FROM:<alerts@printer.example>\nRCPT TO:<" RELAY_C ">\nDATA\n<data>\nQUIT\n");
    CHECK_STR(peer.subjects, "Subject: to alpha\nSubject: to gamma\n");
    CHECK_INT(delivered_to(RELAY_A), 1);
    CHECK_INT(asked_for(RELAY_B), 1);
    CHECK_INT(delivered_to(RELAY_B), 0);
    CHECK_INT(delivered_to(RELAY_C), 1);
    /* One result per message with its own message's id (a delivered end is told at once, a
     * failed one at the attempt's end, so not in the session's order). */
    CHECK_INT(result_count, 3);
    const char *const rcpts[] = { RELAY_A, RELAY_B, RELAY_C };
    const enum stsm_rcpt_state states[] = { STSM_RCPT_DELIVERED, STSM_RCPT_FAILED, STSM_RCPT_DELIVERED };
    for (size_t i = 0; i < 3; i++) {
        const struct result *r = result_of(rcpts[i]);
        CHECK(r != NULL);
        if (r != NULL) {
            CHECK_INT(r->state, states[i]);
            CHECK_INT(r->id, id[i]);
        }
        CHECK_INT(results_for(rcpts[i], states[i]), 1);
    }
    CHECK(result_of(RELAY_B) != NULL && strstr(result_of(RELAY_B)->reason, "550 5.1.1") != NULL);
    const struct stsm_agent_counters *n = stsm_agent_counters(&agent);
    CHECK_INT(n->attempts, 3);
    CHECK_INT(n->delivered, 2);
    CHECK_INT(n->failed, 1);
    CHECK_INT(n->queued, 0);
    CHECK_INT(stsm_outbox_count(&agent.outbox), 0);
    finish(failed_before);
    delivery_json = DELIVERY_MX;
}

/* 7e. Throughput (issue 12): a batch to one domain over one connection, the peer
 *     pipelining. No RSET after a message answered 250 (RFC 5321 section 4.1.1.4), so each
 *     message after the first costs two round trips (MAIL+RCPT+DATA, then the message):
 *     the client's flights are EHLO, 2 per message, QUIT. Fails on the code before (an RSET
 *     flight before every further message). */
static void test_batch_round_trips(void)
{
    unsigned failed_before = begin("7e batch: no RSET after a 250, 2 round trips a message", "", NULL);
    peer.pipelining = true;
    enum { N = STSM_AGENT_BATCH_MAX < 5 ? STSM_AGENT_BATCH_MAX : 5 };
    wall_set = false;   /* all due together */
    for (int i = 0; i < N; i++) {
        char subject[32];
        snprintf(subject, sizeof subject, "alert %d", i);
        CHECK_INT(raise_to(NULL, STSM_SEVERITY_WARNING, subject, NULL, 0, NULL), STSM_OK);
    }
    wall_set = true;
    run_for(3600u * 1000u);
    CHECK_INT(peer.connections, 1);
    CHECK_INT(peer.transactions, N);
    CHECK_INT(occurrences(peer.dialogue, "RSET\n"), 0);
    CHECK_INT(occurrences(peer.dialogue, "MAIL FROM:"), N);
    CHECK_INT(peer.flights, 1 + 2 * N + 1);
    CHECK_INT(delivered_to(OPS), N);
    CHECK_INT(result_count, N);
    CHECK_INT(stsm_outbox_count(&agent.outbox), 0);
    finish(failed_before);
}

/* 7f. The batch's recipients, subjects and keys share one text buffer (STSM_AGENT_TEXT_MAX),
 *     each at its own length: long ones fill it, and the message that does not fit waits
 *     for the next connection. Small pages make the store reclaim while the batch runs,
 *     so records move under it: every message still goes out whole, to its recipient. */
static void test_batch_text(void)
{
    enum { N = 6, SUBJECT = 300 };
    page_size = 1024u;
    page_count = 5u;
    unsigned failed_before = begin("7f batch text: long subjects and keys, the rest on the next connection", "", NULL);
    page_size = PAGE;
    page_count = PAGES;
    static char keys[N][STSM_OUTBOX_KEY_MAX + 1], subjects[N][SUBJECT + 1], expected[N * (SUBJECT + 11) + 1];
    size_t expected_len = 0;
    wall_set = false;   /* all due together */
    for (int i = 0; i < N; i++) {
        memset(keys[i], 'k', STSM_OUTBOX_KEY_MAX);
        keys[i][0] = (char)('0' + i);
        snprintf(subjects[i], sizeof subjects[i], "alert-%d-", i);
        memset(subjects[i] + 8, 'x', SUBJECT - 8);
        expected_len += (size_t)snprintf(expected + expected_len, sizeof expected - expected_len, "Subject: %s\n",
                                         subjects[i]);
        CHECK_INT(raise_to(keys[i], STSM_SEVERITY_WARNING, subjects[i], NULL, 0, NULL), STSM_OK);
    }
    unsigned long erased = 0;
    for (size_t p = 0; p < 5; p++) {
        erased += sim.erases[p];
    }
    wall_set = true;
    run_for(3600u * 1000u);
    /* Each message takes its key, recipient and subject with a NUL each. */
    size_t per = STSM_OUTBOX_KEY_MAX + 1 + strlen(OPS) + 1 + SUBJECT + 1;
    size_t batch = STSM_AGENT_TEXT_MAX / per < STSM_AGENT_BATCH_MAX ? STSM_AGENT_TEXT_MAX / per : STSM_AGENT_BATCH_MAX;
    CHECK(batch < N);
    CHECK_INT(peer.connections, (N + batch - 1) / batch);
    CHECK_INT(peer.transactions, N);
    CHECK_STR(peer.subjects, expected);
    CHECK_INT(delivered_to(OPS), N);
    CHECK_INT(result_count, N);
    for (int i = 0; i < N; i++) {
        CHECK(i >= (int)result_count || strcmp(results[i].key, keys[i]) == 0);
    }
    CHECK_INT(stsm_outbox_count(&agent.outbox), 0);
    unsigned long now_erased = 0;
    for (size_t p = 0; p < 5; p++) {
        now_erased += sim.erases[p];
    }
    printf("test_agent: batch text: %zu messages a connection, %lu erases\n", batch, now_erased - erased);
    CHECK(now_erased > erased);   /* records moved while the batches ran */
    finish(failed_before);
}

int main(void)
{
    test_delivered();
    test_retry_after_451();
    test_one_refused();
    test_reboot_in_wait();
    test_power_cuts();
    test_storm();
    test_full();
    test_full_drop_lower();
    test_no_alert();
    test_batches();
    test_relay_batch();
    test_batch_round_trips();
    test_batch_text();
    test_clock_unknown();
    test_give_up();
    test_raise_during_delivery();
    test_server_down();
    return stsm_check_summary("test_agent");
}
