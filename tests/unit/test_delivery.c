/*
 * The delivery (firmware/agent/stsm_delivery.c) with the real SMTP engine, against
 * scripted stand-ins for the connection (a transport), the MX route, the MTA-STS lookup
 * and the resolver (delivery_fakes.c), on a fake clock the test moves; no lwIP runs. Each case is a script of
 * events fired in a chosen order, and what must have come of it. Regression tests for the
 * review of issue 10: cases 1, 2, 3 and 5 fail on the code before 9bda46a; 4a, 4b, 6, 7a,
 * 8a and 8b on the code before 424dac5 (findings 3 and 4, opportunistic TLS, the downgrade
 * race). 7b and 8c guard the other side (the verifying start; the plaintext retry that
 * 8a/8b must not see does exist). STSM_TEST_VERBOSE=1 prints every case's log and bytes.
 */
#include <stdlib.h>

#include "delivery_fakes.h"
#include "stsm_check.h"
#include "stsm_delivery.h"

enum op {
    ROUTE,          /* the MX answer: one host, `text` */
    ROUTE_FAILS,    /* (set before the start) stsm_route_start refuses with `n` */
    POLICY,         /* the MTA-STS lookup ends with policy `text` (`n`: its TXT is a CNAME) */
    NO_POLICY,      /* the MTA-STS lookup ends: no STS record */
    POLICY_TOO_BIG, /* the MTA-STS lookup ends: a policy of `n` bytes the device cannot hold */
    RELAY_ADDRESS,  /* the relay's A answer */
    CONNECTED,      /* the connection's events ... */
    TLS_READY,      /* ... `n`: what stsm_conn_tls_verify_status says */
    FAILED,         /* ... `n`: the status */
    SERVER,         /* the server sends `text` */
    TRICKLE,        /* the server sends `text` one byte every `n` ms */
    WAIT,           /* `n` ms pass */
    LATE,           /* `n` ms pass before the timer list is served (once) */
    IS_CLOSED,      /* check: no connection is open or opening */
    CONNECTS,       /* check: exactly `n` connections were opened so far */
    ALL_DONE,       /* check: `done` ran, and from here on nothing happens (no log line) */
    END,
};

struct step {
    enum op op;
    const char *text;
    long n;
    bool same_turn;   /* the next step happens before the timer list is served again */
};

struct expect {
    enum stsm_smtp_outcome outcome;   /* of the one recipient */
    stsm_status_t status;
    bool mail_sent;                   /* MAIL FROM went out on some connection */
    bool nothing_sent;                /* not one byte went out */
    unsigned connects;
    int start_tls, start_tls_opportunistic;   /* -1: not checked */
    const char *log;                  /* a log line contains this (NULL: not checked) */
    long done_at_ms;                  /* `done` ran this long after the start (-1: not checked) */
};

struct scenario {
    const char *intent;
    const char *settings;             /* JSON members added to the base settings */
    const struct step *steps;
    struct expect expect;
};

/* ---- the scripts' pieces --------------------------------------------------------------- */

#define ENFORCE_VICTIM "version: STSv1\nmode: enforce\nmx: mx.victim.example\nmax_age: 86400\n"
#define TESTING_VICTIM "version: STSv1\nmode: testing\nmx: mx.victim.example\nmax_age: 86400\n"
#define ENFORCE_RELAY "version: STSv1\nmode: enforce\nmx: relay.example.net\nmax_age: 86400\n"

#define GREETING_TO_STARTTLS                                                                   \
    { SERVER, "220 mx ESMTP\r\n", 0, false },                                                  \
    { SERVER, "250-mx\r\n250-8BITMIME\r\n250 STARTTLS\r\n", 0, false },                        \
    { SERVER, "220 2.0.0 go ahead\r\n", 0, false }
#define EHLO_AFTER_TLS { SERVER, "250-mx\r\n250 8BITMIME\r\n", 0, false }
#define PLAINTEXT_EHLO                                                                         \
    { SERVER, "220 mx ESMTP\r\n", 0, false }, { SERVER, "250-mx\r\n250 8BITMIME\r\n", 0, false }
/* MAIL, RCPT, DATA, the message: what a server answers if the client gets that far. */
#define TRANSACTION                                                                            \
    { SERVER, "250 2.1.0 ok\r\n", 0, false }, { SERVER, "250 2.1.5 ok\r\n", 0, false },        \
    { SERVER, "354 go\r\n", 0, false }, { SERVER, "250 2.0.0 queued\r\n", 0, false }

/* ---- the scenarios --------------------------------------------------------------------- */

/* 1. 9bda46a: the policy (enforce, another MX) arrives while the provisional connect is pending. */
static const struct step enforce_during_connect[] = {
    { ROUTE, "mx.attacker.example", 0, false }, { POLICY, ENFORCE_VICTIM, 0, false },
    { CONNECTED, NULL, 0, false }, GREETING_TO_STARTTLS, { TLS_READY, NULL, STSM_OK, false },
    EHLO_AFTER_TLS, TRANSACTION, { END, NULL, 0, false },
};
/* 2. 9bda46a: the same under testing: delivered, and the log says enforce would refuse it. */
static const struct step testing_during_connect[] = {
    { ROUTE, "mx.attacker.example", 0, false }, { POLICY, TESTING_VICTIM, 0, false },
    { CONNECTED, NULL, 0, false }, GREETING_TO_STARTTLS, { TLS_READY, NULL, STSM_OK, false },
    EHLO_AFTER_TLS, TRANSACTION, { END, NULL, 0, false },
};
/* 3. 9bda46a: an unusable policy (strict no-CNAME txt) during a connect drops the connection. */
static const struct step unusable_policy_during_connect[] = {
    { ROUTE, "mx.victim.example", 0, false }, { POLICY, ENFORCE_VICTIM, 1, false },
    { IS_CLOSED, NULL, 0, false }, { ALL_DONE, NULL, 0, false }, { CONNECTED, NULL, 0, false }, PLAINTEXT_EHLO,
    { END, NULL, 0, false },
};
/* 4a. Finding 4: a greeting trickled a byte every 2 s ends at the 10 s attempt deadline. */
static const struct step trickled_to_deadline[] = {
    { ROUTE, "mx.slow.example", 0, false }, { CONNECTED, NULL, 0, false },
    { TRICKLE, "220 mx.slow.example ESMTP ready\r\n", 2000, false }, { END, NULL, 0, false },
};
/* 4b. Finding 4: arriving bytes do not stretch the reply timeout (3 s at timeout_percent 1). */
static const struct step trickled_past_reply_timeout[] = {
    { ROUTE, "mx.slow.example", 0, false }, { CONNECTED, NULL, 0, false },
    { TRICKLE, "220 mx.slow.example ESMTP ready\r\n", 1000, false }, { END, NULL, 0, false },
};
/* 5. 9bda46a: a route that cannot start, with the timer list served after the deadline. */
static const struct step route_fails_timers_late[] = {
    { ROUTE_FAILS, NULL, STSM_ERR_NO_MEMORY, false }, { LATE, NULL, 11000, false },
    { END, NULL, 0, false },
};
/* 9. Finding 6: a policy larger than the device holds, arriving during the connect, defers
 *    (our own limit must not turn MTA-STS off); the connection goes. */
static const struct step policy_too_big_during_connect[] = {
    { ROUTE, "mx.victim.example", 0, false }, { POLICY_TOO_BIG, NULL, 40000, false },
    { IS_CLOSED, NULL, 0, false }, { ALL_DONE, NULL, 0, false }, { END, NULL, 0, false },
};
/* 6. Finding 3: relay tls "none" under an enforce policy: no STARTTLS offered, no mail. */
static const struct step relay_none_enforce[] = {
    { RELAY_ADDRESS, NULL, 0, false }, { POLICY, ENFORCE_RELAY, 0, false },
    { CONNECTED, NULL, 0, false }, PLAINTEXT_EHLO, TRANSACTION, { END, NULL, 0, false },
};
/* 7a. Opportunistic TLS: a name mismatch at "may" keeps the session encrypted; delivered. */
static const struct step may_name_mismatch[] = {
    { NO_POLICY, NULL, 0, false }, { ROUTE, "mx.victim.example", 0, false },
    { CONNECTED, NULL, 0, false }, GREETING_TO_STARTTLS,
    { TLS_READY, NULL, STSM_ERR_TLS_NAME_MISMATCH, false }, EHLO_AFTER_TLS, TRANSACTION,
    { END, NULL, 0, false },
};
/* 7b. At tls_level "verify" the verifying start is used, never the opportunistic one. */
static const struct step verify_level[] = {
    { NO_POLICY, NULL, 0, false }, { ROUTE, "mx.victim.example", 0, false },
    { CONNECTED, NULL, 0, false }, GREETING_TO_STARTTLS, { TLS_READY, NULL, STSM_OK, false },
    EHLO_AFTER_TLS, TRANSACTION, { END, NULL, 0, false },
};
/* 8a. Downgrade race: a handshake failure while the policy is pending schedules no plaintext
 *     retry; the enforce policy then comes, and a plaintext server never gets MAIL FROM. */
static const struct step handshake_fails_policy_pending[] = {
    { ROUTE, "mx.victim.example", 0, false }, { CONNECTED, NULL, 0, false }, GREETING_TO_STARTTLS,
    { FAILED, NULL, STSM_ERR_TLS_HANDSHAKE, false }, { WAIT, NULL, 1000, false },
    { CONNECTS, NULL, 1, false }, { POLICY, ENFORCE_VICTIM, 0, false },
    { CONNECTED, NULL, 0, false }, PLAINTEXT_EHLO, TRANSACTION, { END, NULL, 0, false },
};
/* 8b. The same with the enforce policy arriving in the same turn as the failure. */
static const struct step handshake_fails_policy_same_turn[] = {
    { ROUTE, "mx.victim.example", 0, false }, { CONNECTED, NULL, 0, false }, GREETING_TO_STARTTLS,
    { FAILED, NULL, STSM_ERR_TLS_HANDSHAKE, true }, { POLICY, ENFORCE_VICTIM, 0, false },
    { CONNECTED, NULL, 0, false }, PLAINTEXT_EHLO, TRANSACTION, { END, NULL, 0, false },
};

/* 8c. Control for 8a/8b: with no policy, the same failure is retried once in plaintext. */
static const struct step handshake_fails_no_policy[] = {
    { NO_POLICY, NULL, 0, false }, { ROUTE, "mx.victim.example", 0, false },
    { CONNECTED, NULL, 0, false }, GREETING_TO_STARTTLS, { FAILED, NULL, STSM_ERR_TLS_HANDSHAKE, false },
    { CONNECTS, NULL, 2, false }, { CONNECTED, NULL, 0, false }, PLAINTEXT_EHLO, TRANSACTION,
    { END, NULL, 0, false },
};

#define DELIVERED(status) STSM_SMTP_DELIVERED, status
#define DEFERRED(status) STSM_SMTP_DEFERRED, status

static const struct scenario scenarios[] = {
    { "1 enforce policy arrives during the connect; MX outside it", "",
      enforce_during_connect,
      { DEFERRED(STSM_ERR_STS_NO_MATCH), false, false, 1, 1, 0, "refused before MAIL FROM", -1 } },
    { "2 testing policy arrives during the connect; MX outside it", "",
      testing_during_connect,
      { DELIVERED(STSM_OK), true, false, 1, 0, 1, "would be refused under enforce", -1 } },
    { "3 unusable enforce policy (txt CNAME, strict) during the connect",
      ",\"mta_sts\": {\"strict_cname\": [\"txt\"]}", unusable_policy_during_connect,
      { DEFERRED(STSM_ERR_STS_NO_MATCH), false, true, 1, 0, 0, "policy not usable", -1 } },
    { "4a greeting trickled 1 byte/2 s: attempt deadline 10 s",
      ",\"delivery\": {\"attempt_timeout\": 10}, \"mta_sts\": {\"enabled\": false}", trickled_to_deadline,
      { DEFERRED(STSM_ERR_TIMEOUT), false, false, 1, 0, 0, "deadline (10 s", 10000 } },
    { "4b greeting trickled 1 byte/s: reply timeout 3 s (timeout_percent 1)",
      ",\"delivery\": {\"timeout_percent\": 1, \"attempt_timeout\": 600}, \"mta_sts\": {\"enabled\": false}",
      trickled_past_reply_timeout,
      { DEFERRED(STSM_ERR_TIMEOUT), false, false, 1, 0, 0, NULL, 3000 } },
    { "5 route cannot start; timer list served 11 s late",
      ",\"delivery\": {\"attempt_timeout\": 10}", route_fails_timers_late,
      { DEFERRED(STSM_ERR_NO_MEMORY), false, true, 0, 0, 0, NULL, 11000 } },
    { "6 relay tls none, enforce policy covers the relay, no STARTTLS",
      ",\"delivery\": {\"mode\": \"relay\", \"relay\": {\"host\": \"relay.example.net\", \"tls\": \"none\"}}",
      relay_none_enforce,
      { DEFERRED(STSM_ERR_TLS_NOT_OFFERED), false, false, 1, 0, 0, NULL, -1 } },
    { "7a tls_level may, no policy, name mismatch: encrypted, delivered", "",
      may_name_mismatch,
      { DELIVERED(STSM_OK), true, false, 1, 0, 1, "TLS encrypted but NOT verified", -1 } },
    { "7b tls_level verify: the verifying handshake", ",\"delivery\": {\"tls_level\": \"verify\"}",
      verify_level,
      { DELIVERED(STSM_OK), true, false, 1, 1, 0, "TLS verified", -1 } },
    { "8a handshake fails while the policy is pending; then enforce", "",
      handshake_fails_policy_pending,
      { DEFERRED(STSM_ERR_TLS_HANDSHAKE), false, false, 1, 0, 0, NULL, -1 } },
    { "8b handshake fails and the enforce policy arrives in the same turn", "",
      handshake_fails_policy_same_turn,
      { DEFERRED(STSM_ERR_TLS_HANDSHAKE), false, false, 1, 0, 0, NULL, -1 } },
    { "9 a policy larger than the device holds arrives during the connect", "",
      policy_too_big_during_connect,
      { DEFERRED(STSM_ERR_CAPACITY), false, true, 1, 0, 0, "larger than this device holds", -1 } },
    { "8c control: handshake fails with no policy: one plaintext retry, delivered", "",
      handshake_fails_no_policy,
      { DELIVERED(STSM_OK), true, false, 2, 0, 1, "retrying in plaintext", -1 } },
};

/* ---- the runner ------------------------------------------------------------------------ */

static struct stsm_delivery delivery;
static struct stsm_settings settings;
static char log_text[65536];
static size_t log_len;
static unsigned dones;
static uint32_t start_ms, done_ms;
static size_t quiet_from;          /* ALL_DONE: the log's length then (0: not marked) */

static void on_log(void *arg, const char *line)
{
    (void)arg;
    int n = snprintf(log_text + log_len, sizeof log_text - log_len, "  | %s\n", line);
    if (n > 0 && (size_t)n < sizeof log_text - log_len) {
        log_len += (size_t)n;
    }
}

static char trace_text[16384];
static size_t trace_len;

/* State changes, kept apart from the log (which ALL_DONE watches). */
static void on_trace(void *arg, const char *line)
{
    (void)arg;
    int n = snprintf(trace_text + trace_len, sizeof trace_text - trace_len, "  ~ %s\n", line);
    if (n > 0 && (size_t)n < sizeof trace_text - trace_len) {
        trace_len += (size_t)n;
    }
}

static void on_done(void *arg, struct stsm_delivery *d)
{
    (void)arg;
    (void)d;
    dones++;
    done_ms = fake_now_ms;
}

static void advance(uint32_t ms)
{
    fake_clock_advance(ms);
}

static void play(const struct step *s)
{
    switch (s->op) {
    case ROUTE:
        CHECK(fake.route_done != NULL);
        if (fake.route_done != NULL) {
            fake_route_answer(s->text);
        }
        break;
    case ROUTE_FAILS:
        fake.route_start_status = (stsm_status_t)s->n;
        break;
    case POLICY:
    case NO_POLICY:
        CHECK(fake.sts_done != NULL);
        if (fake.sts_done != NULL) {
            fake_sts_answer(s->op == POLICY ? s->text : NULL, s->n != 0);
        }
        break;
    case POLICY_TOO_BIG:
        CHECK(fake.sts_done != NULL);
        if (fake.sts_done != NULL) {
            fake_sts_too_big((size_t)s->n);
        }
        break;
    case RELAY_ADDRESS:
        CHECK(fake.query_done != NULL);
        if (fake.query_done != NULL) {
            fake_resolver_answer();
        }
        break;
    case CONNECTED:
        fake_conn_event(STSM_CONN_CONNECTED, STSM_OK);
        break;
    case TLS_READY:
        fake.verify_status = (stsm_status_t)s->n;
        fake_conn_event(STSM_CONN_TLS_READY, STSM_OK);
        break;
    case FAILED:
        fake_conn_event(STSM_CONN_FAILED, (stsm_status_t)s->n);
        break;
    case SERVER:
        fake_server_sends(s->text, strlen(s->text));
        break;
    case TRICKLE:
        for (const char *c = s->text; *c != '\0'; c++) {
            advance((uint32_t)s->n);
            fake_server_sends(c, 1);
        }
        break;
    case WAIT:
        advance((uint32_t)s->n);
        break;
    case LATE:
        fake_now_ms += (uint32_t)s->n;
        fake_clock_serve();
        break;
    case IS_CLOSED:
        CHECK(!fake.live);
        CHECK_INT(fake.closes_live, 1);
        break;
    case CONNECTS:
        CHECK_INT(fake.connects, s->n);
        break;
    case ALL_DONE:
        CHECK_INT(dones, 1);
        quiet_from = log_len;
        break;
    case END:
        break;
    }
}

static void run(const struct scenario *sc)
{
    static const char base[] = "{\"network\": {\"interface\": \"tap0\"}, \"tls\": {\"trust_store\": \"t.bin\"}, "
                               "\"mail\": {\"from\": \"alerts@printer.example\", \"to\": [\"ops@victim.example\"]}";
    char json[1024], why[200];
    unsigned failed_before = stsm_checks_failed;
    CHECK_CASE(sc->intent);
    snprintf(json, sizeof json, "%s%s}", base, sc->settings);
    if (stsm_settings_parse(json, strlen(json), &settings, why, sizeof why) != STSM_OK) {
        printf("settings of [%s]: %s\n", sc->intent, why);
        CHECK(!"settings parse");
        return;
    }
    struct stsm_message m = { .from = "alerts@printer.example", .subject = "toner low",
                              .body = "Tray 2 is empty.\n", .date = 1796083200 };
    m.body_len = strlen(m.body);
    m.to[0] = "ops@victim.example";
    m.to_count = 1;

    fake_reset();
    log_len = 0;
    log_text[0] = '\0';
    trace_len = 0;
    trace_text[0] = '\0';
    dones = 0;
    quiet_from = 0;
    size_t step = 0;
    if (sc->steps[0].op == ROUTE_FAILS) {
        play(&sc->steps[step++]);   /* a setting of the stand-in, before anything starts */
    }
    start_ms = fake_now_ms;
    struct stsm_delivery_options options = { .transport = &fake_transport, .transport_ctx = &fake,
                                             .clock = &fake_clock, .trace = on_trace };
    stsm_delivery_set_options(&delivery, &options);
    CHECK_INT(stsm_delivery_start(&delivery, &settings, &m, NULL, NULL, 1796083200, on_log, on_done, NULL),
              STSM_OK);
    bool serve = sc->steps[step].op != LATE;
    for (; sc->steps[step].op != END; step++) {
        if (serve) {
            fake_clock_serve();
        }
        play(&sc->steps[step]);
        serve = !sc->steps[step].same_turn && sc->steps[step + 1].op != LATE;
    }
    /* Whatever the script left running ends by the deadline; nothing may happen after. */
    advance(2u * 3600u * 1000u);

    const struct expect *e = &sc->expect;
    const struct stsm_smtp_result *r = &delivery.rcpt[0].result;
    CHECK_INT(dones, 1);
    CHECK_STR(stsm_smtp_outcome_str(r->outcome), stsm_smtp_outcome_str(e->outcome));
    CHECK_STR(stsm_status_id(r->status), stsm_status_id(e->status));
    CHECK_INT(strstr(fake.sent, "MAIL FROM") != NULL, e->mail_sent);
    if (e->nothing_sent) {
        CHECK_INT(fake.sent_len, 0);
    }
    CHECK_INT(fake.connects, e->connects);
    CHECK(!fake.live);
    if (e->start_tls >= 0) {
        CHECK_INT(fake.start_tls, e->start_tls);
    }
    if (e->start_tls_opportunistic >= 0) {
        CHECK_INT(fake.start_tls_opportunistic, e->start_tls_opportunistic);
    }
    if (e->log != NULL) {
        CHECK(strstr(log_text, e->log) != NULL);
    }
    if (quiet_from > 0 && log_len != quiet_from) {
        CHECK(!"logged after ALL_DONE");
        printf("  after ALL_DONE:\n%s", log_text + quiet_from);
    }
    if (e->done_at_ms >= 0 && dones > 0) {
        long took = (long)(done_ms - start_ms);
        CHECK(took >= e->done_at_ms && took <= e->done_at_ms + 100);
        if (!(took >= e->done_at_ms && took <= e->done_at_ms + 100)) {
            printf("  done after %ld ms, expected %ld\n", took, e->done_at_ms);
        }
    }
    if (stsm_checks_failed != failed_before || getenv("STSM_TEST_VERBOSE") != NULL) {
        printf("[%s] log:\n%s%s  | sent: %s\n", sc->intent, log_text, trace_text, fake.sent);
    }
}

/* Every state has its own name; a value out of range has none. */
static void test_state_names(void)
{
    CHECK_CASE("state names");
    for (int a = STSM_DELIVERY_IDLE; a <= STSM_DELIVERY_DONE; a++) {
        CHECK(strcmp(stsm_delivery_state_name((enum stsm_delivery_state)a), "?") != 0);
        for (int b = a + 1; b <= STSM_DELIVERY_DONE; b++) {
            CHECK(strcmp(stsm_delivery_state_name((enum stsm_delivery_state)a),
                         stsm_delivery_state_name((enum stsm_delivery_state)b)) != 0);
        }
    }
    CHECK_STR(stsm_delivery_state_name((enum stsm_delivery_state)(STSM_DELIVERY_DONE + 1)), "?");
}

int main(void)
{
    fake_now_ms = 1000000;
    test_state_names();
    for (size_t i = 0; i < sizeof scenarios / sizeof scenarios[0]; i++) {
        run(&scenarios[i]);
    }
    return stsm_check_summary("test_delivery");
}
