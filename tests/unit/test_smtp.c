/*
 * SMTP engine transcripts against scripted servers: the exact bytes the client sends are
 * asserted. Every script runs twice, once with each server line delivered whole and once
 * one byte at a time, and must give the same transcript and results.
 * Also: the reply framer's limits and the DATA encoder.
 */
#include <stdlib.h>

#include "stsm_base64.h"
#include "stsm_check.h"
#include "stsm_smtp.h"
#include "stsm_smtp_data.h"

static struct stsm_smtp session;
static char sent[16384];
static size_t sent_len;
static enum stsm_smtp_action action;
static bool state_seen[STSM_SMTP_STATE_COUNT];   /* states any script put the engine in */
static size_t unread;              /* server bytes of the script the engine did not read */
static unsigned server_turns;      /* "S:" lines of the last script: the round trips it took */
static bool expect_faults;         /* the runner's own self-test: count faults, do not fail */
static unsigned faults_seen;

static void drain(void)
{
    size_t len;
    const uint8_t *out = stsm_smtp_output(&session, &len);
    memcpy(sent + sent_len, out, len);
    sent_len += len;
    sent[sent_len] = '\0';
    stsm_smtp_output_sent(&session, len);
    enum stsm_smtp_state state = stsm_smtp_state(&session);
    CHECK((unsigned)state < STSM_SMTP_STATE_COUNT);
    if ((unsigned)state < STSM_SMTP_STATE_COUNT) {
        state_seen[state] = true;
    }
}

/* A script that cannot be what its author meant fails the test (or, in the runner's own
 * self-test, is counted). */
static void script_fault(const char *why, const char *token)
{
    if (expect_faults) {
        faults_seen++;
        return;
    }
    printf("script fault [%s]: %s: \"%s\"\n", stsm_check_case, why, token);
    CHECK(!"script fault");
}

/* The server sends `len` bytes. Whole: in one segment (one receive call, more only if the
 * engine stops early); byte by byte: each byte after the client's output went out. */
static void feed(const char *bytes, size_t len, bool byte_at_a_time)
{
    size_t done = 0;
    while (done < len && action == STSM_SMTP_WAIT) {
        size_t chunk = byte_at_a_time ? 1 : len - done, used;
        action = stsm_smtp_receive(&session, (const uint8_t *)bytes + done, chunk, &used);
        CHECK(used <= chunk);
        CHECK(used == chunk || action != STSM_SMTP_WAIT);   /* waiting means all was read */
        done += used;
        drain();
    }
    unread += len - done;
}

static const char body[] = "Subject: test\n\n.hidden line\nline two\r\n..two dots\rlast";
/* What `body` becomes on the wire: CRLF everywhere, dots doubled, the end marker added. */
#define BODY_ON_WIRE "C:Subject: test\r\n\r\n..hidden line\r\nline two\r\n...two dots\r\nlast\r\n.\r\n"
/* The same as BDAT's chunk: CRLF everywhere, no dot doubled, no end marker; 59 octets. */
#define BODY_IN_CHUNK "Subject: test\r\n\r\n.hidden line\r\nline two\r\n..two dots\r\nlast\r\n"
#define CHUNK_OCTETS 59

/* The client streams `body` (3 bytes at a time) through the DATA encoder, or the chunk
 * encoder for BDAT; returns the bytes it sent. */
static size_t stream_body(bool chunk)
{
    struct stsm_smtp_data enc;
    if (chunk) {
        stsm_smtp_data_init_chunk(&enc);
    } else {
        stsm_smtp_data_init(&enc);
    }
    size_t in = 0, out_len;
    while (in < sizeof body - 1) {
        size_t take = sizeof body - 1 - in < 3 ? sizeof body - 1 - in : 3;
        in += stsm_smtp_data_encode(&enc, (const uint8_t *)body + in, take, (uint8_t *)sent + sent_len,
                                    sizeof sent - sent_len, &out_len);
        sent_len += out_len;
    }
    sent_len += stsm_smtp_data_finish(&enc, (uint8_t *)sent + sent_len);
    sent[sent_len] = '\0';
    return enc.total;
}

/* What a script's "NEXT" does: checks the transaction that ended and starts the next. */
static void (*next_transaction)(void);

/*
 * Script lines: "S:text" the server sends text; "S0:text" the same with each '~' sent as
 * a NUL byte; "C:text" the client must have sent exactly text since the last C line;
 * "TLS" the engine asks for TLS, which succeeds; "TLSFAIL" it asks and the handshake
 * fails; "BODY" it asks for the message, which is streamed; "NEXT" a transaction ended
 * (more_transactions) and next_transaction() runs; "NEXT:QUIT" one ended and the caller
 * quits; "TIMEOUT" no reply comes;
 * "CLOSE" the engine is done; "UNREAD:n" exactly n bytes the server sent so far were not
 * read (the engine stopped before them), and they are forgotten. Any other line is a
 * fault, and so is a script that ends with server bytes unread.
 */
static void run(const char *intent, const struct stsm_smtp_params *params, const char *const *script,
                bool byte_at_a_time)
{
    static char label[160];
    snprintf(label, sizeof label, "%s (%s)", intent, byte_at_a_time ? "byte by byte" : "whole lines");
    CHECK_CASE(label);
    sent_len = 0;
    sent[0] = '\0';
    unread = 0;
    server_turns = 0;
    CHECK_INT(stsm_smtp_start(&session, params), STSM_OK);
    action = STSM_SMTP_WAIT;
    for (const char *const *line = script; *line != NULL; line++) {
        const char *l = *line;
        if (strncmp(l, "S:", 2) == 0) {
            server_turns++;
            CHECK_INT(action, STSM_SMTP_WAIT);
            feed(l + 2, strlen(l + 2), byte_at_a_time);
        } else if (strncmp(l, "S0:", 3) == 0) {
            char bytes[1024];
            size_t n = strlen(l + 3);
            CHECK(n < sizeof bytes);
            n = n < sizeof bytes ? n : sizeof bytes;
            for (size_t i = 0; i < n; i++) {
                bytes[i] = l[3 + i] == '~' ? '\0' : l[3 + i];
            }
            CHECK_INT(action, STSM_SMTP_WAIT);
            feed(bytes, n, byte_at_a_time);
        } else if (strncmp(l, "C:", 2) == 0) {
            CHECK_STR(sent, l + 2);
            sent_len = 0;
            sent[0] = '\0';
        } else if (strcmp(l, "TLS") == 0 || strcmp(l, "TLSFAIL") == 0) {
            CHECK_INT(action, STSM_SMTP_START_TLS);
            action = stsm_smtp_tls_done(&session, l[3] == '\0' ? STSM_OK : STSM_ERR_TLS_UNTRUSTED);
            drain();
        } else if (strcmp(l, "BODY") == 0) {
            CHECK_INT(action, STSM_SMTP_SEND_DATA);
            stream_body(false);
            action = stsm_smtp_data_done(&session);
            drain();
        } else if (strcmp(l, "CHUNK") == 0) {
            /* The message as BDAT's chunk: exactly the announced octets, then done. */
            CHECK_INT(action, STSM_SMTP_SEND_DATA);
            CHECK(stsm_smtp_message_due(&session));
            size_t total = stream_body(true);
            CHECK_INT(total, CHUNK_OCTETS);
            CHECK_INT(stsm_smtp_chunk_size(&session), total);
            action = stsm_smtp_data_done(&session);
            CHECK(!stsm_smtp_message_due(&session));
            drain();
        } else if (strcmp(l, "NEXT") == 0 || strcmp(l, "NEXT:QUIT") == 0) {
            CHECK_INT(action, STSM_SMTP_NEXT);
            if (l[4] == '\0') {
                next_transaction();
                action = stsm_smtp_message_due(&session) ? STSM_SMTP_SEND_DATA : STSM_SMTP_WAIT;
            } else {
                action = stsm_smtp_quit(&session);
            }
            drain();
        } else if (strcmp(l, "TIMEOUT") == 0) {
            action = stsm_smtp_timeout(&session);
            drain();
        } else if (strcmp(l, "CLOSE") == 0) {
            CHECK_INT(action, STSM_SMTP_CLOSE);
        } else if (strncmp(l, "UNREAD:", 7) == 0) {
            if (unread != strtoul(l + 7, NULL, 10)) {
                char why[64];
                snprintf(why, sizeof why, "%zu server bytes unread, not", unread);
                script_fault(why, l);
            }
            unread = 0;
        } else {
            script_fault("unknown script token", l);
        }
    }
    if (unread != 0) {
        script_fault("server bytes left unread at the end of the script", intent);
    }
}

static void check_rcpt(size_t i, enum stsm_smtp_outcome outcome, uint16_t code)
{
    const struct stsm_smtp_result *r = stsm_smtp_rcpt_result(&session, i);
    CHECK(r != NULL);
    if (r != NULL) {
        CHECK_STR(stsm_smtp_outcome_str(r->outcome), stsm_smtp_outcome_str(outcome));
        CHECK_INT(r->code, code);
    }
}

static void check_session(enum stsm_smtp_outcome outcome, stsm_status_t status, enum stsm_smtp_stage stage)
{
    enum stsm_smtp_stage at;
    const struct stsm_smtp_result *r = stsm_smtp_session_result(&session, &at);
    CHECK_STR(stsm_smtp_outcome_str(r->outcome), stsm_smtp_outcome_str(outcome));
    CHECK_INT(r->status, status);
    if (outcome != STSM_SMTP_PENDING) {
        CHECK_STR(stsm_smtp_stage_str(at), stsm_smtp_stage_str(stage));
    }
}

#define EHLO_TLS "S:250-mx.test\r\n250-SIZE 1000000\r\n250-8BITMIME\r\n250 STARTTLS\r\n"

static struct stsm_smtp_params base(void)
{
    struct stsm_smtp_params p = { .ehlo_name = "printer.example", .require_tls = true,
                                  .mail_from = "alerts@printer.example", .rcpt_count = 1,
                                  .size_estimate = 500 };
    p.rcpt[0] = "ops@example.test";
    return p;
}

static void transcripts(bool bytewise)
{
    struct stsm_smtp_params p = base();

    static const char *const happy[] = {
        "S:220 mx.test ESMTP\r\n", "C:EHLO printer.example\r\n",
        EHLO_TLS, "C:STARTTLS\r\n",
        "S:220 2.0.0 go ahead\r\n", "C:", "TLS", "C:EHLO printer.example\r\n",
        "S:250-mx.test\r\n250-SIZE 1000000\r\n250 8BITMIME\r\n",
        "C:MAIL FROM:<alerts@printer.example> SIZE=500\r\n",
        "S:250 ok\r\n", "C:RCPT TO:<ops@example.test>\r\n",
        "S:250 ok\r\n", "C:DATA\r\n",
        "S:354 go\r\n", "BODY", BODY_ON_WIRE,
        "S:250 2.0.0 queued as 1234\r\n", "C:QUIT\r\n", "CLOSE", NULL,
    };
    run("STARTTLS, EHLO again, one recipient", &p, happy, bytewise);
    check_rcpt(0, STSM_SMTP_DELIVERED, 250);
    CHECK_STR(stsm_smtp_rcpt_result(&session, 0)->text, "2.0.0 queued as 1234");
    check_session(STSM_SMTP_PENDING, STSM_OK, STSM_SMTP_STAGE_GREETING);
    CHECK(!stsm_smtp_caps(&session)->starttls);   /* what was learned before TLS is gone */

    p.rcpt[1] = "boss@example.test";
    p.rcpt_count = 2;
    p.body_8bit = true;
    static const char *const pipelined[] = {
        "S:220 mx.test\r\n", "C:EHLO printer.example\r\n", EHLO_TLS, "C:STARTTLS\r\n",
        "S:220 go\r\n", "TLS", "C:EHLO printer.example\r\n",
        "S:250-mx.test\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 SIZE\r\n",
        "C:MAIL FROM:<alerts@printer.example> SIZE=500 BODY=8BITMIME\r\nRCPT TO:<ops@example.test>\r\n"
        "RCPT TO:<boss@example.test>\r\nDATA\r\n",
        "S:250 ok\r\n250 ok\r\n550 5.1.1 no such user\r\n354 go\r\n", "BODY", BODY_ON_WIRE,
        "S:250 ok\r\n", "C:QUIT\r\n", "CLOSE", NULL,
    };
    run("pipelined flight, one recipient refused", &p, pipelined, bytewise);
    check_rcpt(0, STSM_SMTP_DELIVERED, 250);
    check_rcpt(1, STSM_SMTP_FAILED, 550);

    static const char *const all_refused[] = {
        "S:220 mx.test\r\n", "C:EHLO printer.example\r\n", EHLO_TLS, "C:STARTTLS\r\n",
        "S:220 go\r\n", "TLS", "C:EHLO printer.example\r\n", "S:250-mx\r\n250-8BITMIME\r\n250 PIPELINING\r\n",
        "C:MAIL FROM:<alerts@printer.example> BODY=8BITMIME\r\nRCPT TO:<ops@example.test>\r\n"
        "RCPT TO:<boss@example.test>\r\nDATA\r\n",
        "S:250 ok\r\n450 try later\r\n550 no\r\n354 go anyway\r\n", "C:.\r\n",
        "S:554 no valid recipients\r\n", "C:QUIT\r\n", "CLOSE", NULL,
    };
    run("every recipient refused, DATA accepted all the same: ended empty", &p, all_refused, bytewise);
    check_rcpt(0, STSM_SMTP_DEFERRED, 450);
    check_rcpt(1, STSM_SMTP_FAILED, 550);
    p = base();

    static const char *const no_starttls[] = {
        "S:220 mx.test\r\n", "C:EHLO printer.example\r\n", "S:250-mx.test\r\n250 SIZE\r\n",
        "C:QUIT\r\n", "CLOSE", NULL,
    };
    run("TLS required, STARTTLS not offered: nothing else is sent", &p, no_starttls, bytewise);
    check_rcpt(0, STSM_SMTP_DEFERRED, 0);
    check_session(STSM_SMTP_DEFERRED, STSM_ERR_TLS_NOT_OFFERED, STSM_SMTP_STAGE_EHLO);

    static const char *const starttls_454[] = {
        "S:220 mx.test\r\n", "C:EHLO printer.example\r\n", EHLO_TLS, "C:STARTTLS\r\n",
        "S:454 TLS not available\r\n", "C:QUIT\r\n", "CLOSE", NULL,
    };
    run("TLS required, STARTTLS answered 454", &p, starttls_454, bytewise);
    check_session(STSM_SMTP_DEFERRED, STSM_ERR_TLS_NOT_OFFERED, STSM_SMTP_STAGE_STARTTLS);

    static const char *const tls_fails[] = {
        "S:220 mx.test\r\n", "C:EHLO printer.example\r\n", EHLO_TLS, "C:STARTTLS\r\n",
        "S:220 go\r\n", "TLSFAIL", "C:", "CLOSE", NULL,
    };
    run("handshake fails: deferred with the TLS reason, nothing more sent", &p, tls_fails, bytewise);
    check_session(STSM_SMTP_DEFERRED, STSM_ERR_TLS_UNTRUSTED, STSM_SMTP_STAGE_TLS);
    check_rcpt(0, STSM_SMTP_DEFERRED, 0);

    p.auth_user = "user";
    p.auth_secret = "secret";
    static const char *const auth_plain[] = {
        "S:220 mx.test\r\n", "C:EHLO printer.example\r\n", EHLO_TLS, "C:STARTTLS\r\n",
        "S:220 go\r\n", "TLS", "C:EHLO printer.example\r\n", "S:250-mx.test\r\n250 AUTH LOGIN PLAIN\r\n",
        "C:AUTH PLAIN AHVzZXIAc2VjcmV0\r\n", "S:235 ok\r\n", "C:MAIL FROM:<alerts@printer.example>\r\n",
        "S:535 5.7.8 bad credentials\r\n", "C:QUIT\r\n", "CLOSE", NULL,
    };
    run("AUTH PLAIN after TLS", &p, auth_plain, bytewise);
    check_session(STSM_SMTP_FAILED, STSM_OK, STSM_SMTP_STAGE_MAIL);

    static const char *const auth_login[] = {
        "S:220 mx.test\r\n", "C:EHLO printer.example\r\n", EHLO_TLS, "C:STARTTLS\r\n",
        "S:220 go\r\n", "TLS", "C:EHLO printer.example\r\n", "S:250-mx.test\r\n250 AUTH=LOGIN\r\n",
        "C:AUTH LOGIN\r\n", "S:334 VXNlcm5hbWU6\r\n", "C:dXNlcg==\r\n", "S:334 UGFzc3dvcmQ6\r\n",
        "C:c2VjcmV0\r\n", "S:535 5.7.8 no\r\n", "C:QUIT\r\n", "CLOSE", NULL,
    };
    run("AUTH LOGIN, refused", &p, auth_login, bytewise);
    check_session(STSM_SMTP_FAILED, STSM_OK, STSM_SMTP_STAGE_AUTH);

    static const char *const auth_needs_tls[] = {
        "S:220 mx.test\r\n", "C:EHLO printer.example\r\n", "S:250-mx.test\r\n250 AUTH PLAIN\r\n",
        "C:QUIT\r\n", "CLOSE", NULL,
    };
    run("AUTH configured, no STARTTLS: credentials never sent", &p, auth_needs_tls, bytewise);
    check_session(STSM_SMTP_DEFERRED, STSM_ERR_TLS_NOT_OFFERED, STSM_SMTP_STAGE_EHLO);
    p = base();

    static const char *const greeting_421[] = { "S:421 busy, try later\r\n", "C:", "CLOSE", NULL };
    run("421 greeting: deferred, no QUIT", &p, greeting_421, bytewise);
    check_session(STSM_SMTP_DEFERRED, STSM_OK, STSM_SMTP_STAGE_GREETING);
    check_rcpt(0, STSM_SMTP_DEFERRED, 421);

    static const char *const greeting_554[] = { "S:554 no service\r\n", "C:QUIT\r\n", "CLOSE", NULL };
    run("554 greeting: failed", &p, greeting_554, bytewise);
    check_rcpt(0, STSM_SMTP_FAILED, 554);

    static const char *const mid_421[] = {
        "S:220 mx\r\n", "C:EHLO printer.example\r\n", EHLO_TLS, "C:STARTTLS\r\n", "S:220 go\r\n", "TLS",
        "C:EHLO printer.example\r\n", "S:250 mx\r\n", "C:MAIL FROM:<alerts@printer.example>\r\n",
        "S:250 ok\r\n", "C:RCPT TO:<ops@example.test>\r\n", "S:421 shutting down\r\n", "C:", "CLOSE", NULL,
    };
    run("421 after RCPT ends the session as deferred", &p, mid_421, bytewise);
    check_rcpt(0, STSM_SMTP_DEFERRED, 421);

    static const char *const data_452[] = {
        "S:220 mx\r\n", "C:EHLO printer.example\r\n", EHLO_TLS, "C:STARTTLS\r\n", "S:220 go\r\n", "TLS",
        "C:EHLO printer.example\r\n", "S:250 mx\r\n", "C:MAIL FROM:<alerts@printer.example>\r\n",
        "S:250 ok\r\n", "C:RCPT TO:<ops@example.test>\r\n", "S:250 ok\r\n", "C:DATA\r\n",
        "S:354 go\r\n", "BODY", "S:452 4.3.1 disk full\r\n", "CLOSE", NULL,
    };
    run("message refused for now after the data", &p, data_452, bytewise);
    check_rcpt(0, STSM_SMTP_DEFERRED, 452);

    static const char *const size_limit[] = {
        "S:220 mx\r\n", "C:EHLO printer.example\r\n", EHLO_TLS, "C:STARTTLS\r\n", "S:220 go\r\n", "TLS",
        "C:EHLO printer.example\r\n", "S:250-mx\r\n250 SIZE 100\r\n", "C:QUIT\r\n", "CLOSE", NULL,
    };
    run("message larger than the server's SIZE: failed before MAIL", &p, size_limit, bytewise);
    check_session(STSM_SMTP_FAILED, STSM_ERR_CAPACITY, STSM_SMTP_STAGE_MAIL);

    static const char *const timeout[] = {
        "S:220 mx\r\n", "C:EHLO printer.example\r\n", "TIMEOUT", "C:", "CLOSE", NULL,
    };
    run("no EHLO reply in time", &p, timeout, bytewise);
    check_session(STSM_SMTP_DEFERRED, STSM_ERR_TIMEOUT, STSM_SMTP_STAGE_EHLO);

    p.require_tls = false;
    static const char *const helo[] = {
        "S:220 old.test\r\n", "C:EHLO printer.example\r\n", "S:502 what?\r\n", "C:HELO printer.example\r\n",
        "S:250 old.test\r\n", "C:MAIL FROM:<alerts@printer.example>\r\n", "S:250 ok\r\n",
        "C:RCPT TO:<ops@example.test>\r\n", "S:250 ok\r\n", "C:DATA\r\n", "S:354 go\r\n", "BODY",
        BODY_ON_WIRE, "S:250 ok\r\n", "C:QUIT\r\n", "CLOSE", NULL,
    };
    run("no TLS required: HELO fallback after EHLO is refused", &p, helo, bytewise);
    check_rcpt(0, STSM_SMTP_DELIVERED, 250);

    static const char *const declined[] = {
        "S:220 mx\r\n", "C:EHLO printer.example\r\n", EHLO_TLS, "C:STARTTLS\r\n",
        "S:454 not now\r\n", "C:MAIL FROM:<alerts@printer.example> SIZE=500\r\n", "S:250 ok\r\n",
        "C:RCPT TO:<ops@example.test>\r\n", "S:550 no\r\n", "C:QUIT\r\n", "CLOSE", NULL,
    };
    run("opportunistic: STARTTLS declined, plaintext goes on and says so", &p, declined, bytewise);
    CHECK(stsm_smtp_starttls_refused(&session));
    check_rcpt(0, STSM_SMTP_FAILED, 550);
}

static void hold(void)
{
    struct stsm_smtp_params p = base();
    p.hold_before_mail = true;
    static const char *const held[] = {
        "S:220 mx\r\n", "C:EHLO printer.example\r\n", EHLO_TLS, "C:STARTTLS\r\n", "S:220 go\r\n", "TLS",
        "C:EHLO printer.example\r\n", "S:250 mx\r\n", "C:", NULL,
    };
    run("held before MAIL FROM until released", &p, held, false);
    CHECK_INT(action, STSM_SMTP_HOLD);
    CHECK(stsm_smtp_held(&session) && stsm_smtp_tls_active(&session));
    action = stsm_smtp_release(&session, true, STSM_OK, NULL);
    drain();
    CHECK_STR(sent, "MAIL FROM:<alerts@printer.example>\r\n");
    CHECK_INT(action, STSM_SMTP_WAIT);

    run("held, then refused by policy", &p, held, false);
    CHECK_INT(action, STSM_SMTP_HOLD);
    sent_len = 0;
    action = stsm_smtp_release(&session, false, STSM_ERR_STS_NO_MATCH, "not in the policy");
    drain();
    CHECK_INT(action, STSM_SMTP_CLOSE);
    CHECK_STR(sent, "QUIT\r\n");
    check_session(STSM_SMTP_DEFERRED, STSM_ERR_STS_NO_MATCH, STSM_SMTP_STAGE_MAIL);
    check_rcpt(0, STSM_SMTP_DEFERRED, 0);

    static const char *const unexpected[] = {
        "S:220 mx\r\n", "C:EHLO printer.example\r\n", EHLO_TLS, "C:STARTTLS\r\n", "S:220 go\r\n", "TLS",
        "C:EHLO printer.example\r\n", "S:250 mx\r\n", NULL,
    };
    run("a reply while held is a protocol error", &p, unexpected, false);
    size_t used;
    action = stsm_smtp_receive(&session, (const uint8_t *)"250 surprise\r\n", 14, &used);
    drain();
    CHECK_INT(action, STSM_SMTP_CLOSE);
    CHECK_INT(used, 1);
    CHECK_STR(sent, "QUIT\r\n");
    check_session(STSM_SMTP_DEFERRED, STSM_ERR_PEER_PROTOCOL, STSM_SMTP_STAGE_MAIL);

    static const char *const same_segment[] = {
        "S:220 mx\r\n", "C:EHLO printer.example\r\n", EHLO_TLS, "C:STARTTLS\r\n", "S:220 go\r\n", "TLS",
        "C:EHLO printer.example\r\n", "S:250 mx\r\n250 surprise\r\n", "C:QUIT\r\n", "CLOSE", "UNREAD:13", NULL,
    };
    run("a reply after the one that leads to the hold, in the same segment", &p, same_segment, false);
    check_session(STSM_SMTP_DEFERRED, STSM_ERR_PEER_PROTOCOL, STSM_SMTP_STAGE_MAIL);
}

static void injection_and_limits(void)
{
    struct stsm_smtp_params p = base();
    static const char *const injected[] = {
        "S:220 mx\r\n", "C:EHLO printer.example\r\n", EHLO_TLS, "C:STARTTLS\r\n",
        "S:220 go ahead\r\n250-injected\r\n", "C:", "CLOSE", "UNREAD:13", NULL,
    };
    run("plaintext after the STARTTLS reply, same segment: no TLS, no more commands", &p, injected, false);
    check_session(STSM_SMTP_DEFERRED, STSM_ERR_PEER_PROTOCOL, STSM_SMTP_STAGE_TLS);
    check_rcpt(0, STSM_SMTP_DEFERRED, 0);

    static const char *const go_ahead[] = {
        "S:220 mx\r\n", "C:EHLO printer.example\r\n", EHLO_TLS, "C:STARTTLS\r\n", "S:220 go ahead\r\n", "C:",
        NULL,
    };
    for (int bytewise = 0; bytewise < 2; bytewise++) {
        run("plaintext after the STARTTLS reply, later segment: no TLS, no more commands", &p, go_ahead,
            bytewise != 0);
        CHECK_INT(action, STSM_SMTP_START_TLS);
        size_t used;
        action = stsm_smtp_receive(&session, (const uint8_t *)"250-injected\r\n", 14, &used);
        drain();
        CHECK_INT(action, STSM_SMTP_CLOSE);
        CHECK_INT(used, 1);
        CHECK_STR(sent, "");
        check_session(STSM_SMTP_DEFERRED, STSM_ERR_PEER_PROTOCOL, STSM_SMTP_STAGE_TLS);
        CHECK(!stsm_smtp_tls_active(&session));
        CHECK_INT(stsm_smtp_tls_done(&session, STSM_OK), STSM_SMTP_CLOSE);   /* too late to go on */
        drain();
        CHECK_STR(sent, "");
    }

    char long_line[STSM_SMTP_LINE_MAX + 20];
    memset(long_line, 'x', sizeof long_line);
    memcpy(long_line, "S:250-", 6);
    strcpy(long_line + sizeof long_line - 3, "\r\n");
    /* The engine reads up to the byte that makes the line too long: 510 bytes and a CR. */
    char unread_rest[32];
    snprintf(unread_rest, sizeof unread_rest, "UNREAD:%zu", strlen(long_line + 2) - (STSM_SMTP_LINE_MAX + 1));
    const char *const over_long[] = { "S:220 mx\r\n", "C:EHLO printer.example\r\n", long_line, "C:QUIT\r\n",
                                      "CLOSE", unread_rest, NULL };
    run("over-long reply line", &p, over_long, false);
    check_session(STSM_SMTP_DEFERRED, STSM_ERR_PEER_PROTOCOL, STSM_SMTP_STAGE_EHLO);
    run("over-long reply line", &p, over_long, true);
    check_session(STSM_SMTP_DEFERRED, STSM_ERR_PEER_PROTOCOL, STSM_SMTP_STAGE_EHLO);

    CHECK_CASE("parameters that cannot become commands are refused");
    struct stsm_smtp_params bad = base();
    bad.rcpt[0] = "ops@example.test>\r\nRCPT TO:<evil@x";
    CHECK_INT(stsm_smtp_start(&session, &bad), STSM_ERR_ARGUMENT);
    bad = base();
    bad.rcpt_count = 0;
    CHECK_INT(stsm_smtp_start(&session, &bad), STSM_ERR_ARGUMENT);
    bad = base();
    bad.mail_from = "a\nb";
    CHECK_INT(stsm_smtp_start(&session, &bad), STSM_ERR_ARGUMENT);
    bad = base();
    bad.require_tls = false;
    bad.auth_user = "user";
    bad.auth_secret = "secret";
    CHECK_INT(stsm_smtp_start(&session, &bad), STSM_ERR_ARGUMENT);   /* AUTH only over TLS */
}

/* Feeds `bytes` to a fresh framer in pieces of `piece` bytes; returns the first error (or
 * STSM_OK), with the bytes read, the lines seen and the last reply completed. */
struct framed {
    stsm_status_t status;
    size_t consumed;
    unsigned lines, replies;
    struct stsm_smtp_reply last;
    char first_text[64];           /* text of the first line seen */
};

static struct framed frame(const char *bytes, size_t len, size_t piece)
{
    static struct stsm_smtp_reply_framer f;
    struct framed r = { .status = STSM_OK };
    unsigned in_reply = 0;   /* lines of the current reply so far */
    stsm_smtp_reply_init(&f);
    while (r.consumed < len) {
        size_t n = len - r.consumed < piece ? len - r.consumed : piece, used;
        struct stsm_smtp_reply_line line;
        r.status = stsm_smtp_reply_feed(&f, (const uint8_t *)bytes + r.consumed, n, &used, &line);
        CHECK(used > 0 && used <= n);
        r.consumed += used;
        if (r.status != STSM_OK) {
            CHECK(line.text == NULL && line.reply == NULL);
            break;
        }
        if (line.text == NULL) {
            CHECK(used == n && line.reply == NULL);
            continue;
        }
        CHECK_INT(line.index, in_reply);
        CHECK_INT(strlen(line.text), line.len);
        CHECK(line.code >= 200 && line.code <= 599);
        if (r.lines == 0) {
            snprintf(r.first_text, sizeof r.first_text, "%s", line.text);
        }
        r.lines++;
        in_reply++;
        if (line.reply != NULL) {
            in_reply = 0;
            CHECK_INT(line.reply->line_count, line.index + 1);
            CHECK_INT(line.reply->code, line.code);
            CHECK(line.reply->text_len <= STSM_SMTP_REPLY_TEXT_MAX);
            CHECK_INT(strlen(line.reply->text), line.reply->text_len);
            r.last = *line.reply;
            r.replies++;
        }
    }
    return r;
}

static void framer(void)
{
    static const struct {
        const char *intent;
        const char *bytes;
        size_t len;                /* 0: strlen(bytes) */
        stsm_status_t status;
        size_t consumed;           /* bytes read when it stopped (the error's byte included) */
        unsigned lines, replies;
    } cases[] = {
        { "one line", "220 mx ready\r\n", 0, STSM_OK, 14, 1, 1 },
        { "a bare code line and LF-only line ends", "250\n", 0, STSM_OK, 4, 1, 1 },
        { "multi-line, every line reported", "250-a\r\n250-b\r\n250 c\r\n", 0, STSM_OK, 21, 3, 1 },
        { "two replies", "250 a\r\n354 b\r\n", 0, STSM_OK, 14, 2, 2 },
        { "empty text after the separator", "250-\r\n250 \r\n", 0, STSM_OK, 12, 2, 1 },
        { "codes differ between lines", "250-a\r\n251 b\r\n", 0, STSM_ERR_PEER_PROTOCOL, 14, 1, 0 },
        { "not a code", "hello\r\n", 0, STSM_ERR_PEER_PROTOCOL, 7, 0, 0 },
        { "code below 200", "199 x\r\n", 0, STSM_ERR_PEER_PROTOCOL, 7, 0, 0 },
        { "code 000", "000\r\n", 0, STSM_ERR_PEER_PROTOCOL, 5, 0, 0 },
        { "code 600", "600 x\r\n", 0, STSM_ERR_PEER_PROTOCOL, 7, 0, 0 },
        { "code 999", "999 x\r\n", 0, STSM_ERR_PEER_PROTOCOL, 7, 0, 0 },
        { "a letter in the code", "2x0 x\r\n", 0, STSM_ERR_PEER_PROTOCOL, 7, 0, 0 },
        { "a two-digit code", "25 x\r\n", 0, STSM_ERR_PEER_PROTOCOL, 6, 0, 0 },
        { "a four-digit code", "2500 x\r\n", 0, STSM_ERR_PEER_PROTOCOL, 8, 0, 0 },
        { "bad separator", "250_x\r\n", 0, STSM_ERR_PEER_PROTOCOL, 7, 0, 0 },
        { "an empty line", "\r\n", 0, STSM_ERR_PEER_PROTOCOL, 2, 0, 0 },
        { "NUL in the text", "250 a\0b\r\n", 9, STSM_ERR_PEER_PROTOCOL, 6, 0, 0 },
        { "NUL in the code", "2\00050 x\r\n", 9, STSM_ERR_PEER_PROTOCOL, 2, 0, 0 },
        { "NUL after a complete line", "250-a\r\n\0", 8, STSM_ERR_PEER_PROTOCOL, 8, 1, 0 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        for (size_t piece = 1; piece <= 64; piece += 63) {
            CHECK_CASE(cases[i].intent);
            size_t len = cases[i].len ? cases[i].len : strlen(cases[i].bytes);
            struct framed r = frame(cases[i].bytes, len, piece);
            CHECK_INT(r.status, cases[i].status);
            CHECK_INT(r.consumed, cases[i].consumed);
            CHECK_INT(r.lines, cases[i].lines);
            CHECK_INT(r.replies, cases[i].replies);
        }
    }

    /* Lines at and over the length limit, replies at and over the line limit. */
    static char big[(STSM_SMTP_REPLY_LINES_MAX + 2) * (STSM_SMTP_LINE_MAX + 2)];
    CHECK_CASE("a 512-byte line (510 and CRLF) is whole");
    memset(big, 'a', STSM_SMTP_LINE_MAX);
    memcpy(big, "250 ", 4);
    memcpy(big + STSM_SMTP_LINE_MAX, "\r\n", 2);
    struct framed r = frame(big, STSM_SMTP_LINE_MAX + 2, 64);
    CHECK_INT(r.status, STSM_OK);
    CHECK_INT(r.replies, 1);
    CHECK(r.last.text_truncated && r.last.text_len == STSM_SMTP_REPLY_TEXT_MAX);

    CHECK_CASE("511 bytes before CRLF is one too many");
    memset(big, 'a', STSM_SMTP_LINE_MAX + 1);
    memcpy(big, "250 ", 4);
    memcpy(big + STSM_SMTP_LINE_MAX + 1, "\r\n", 2);
    r = frame(big, STSM_SMTP_LINE_MAX + 3, 64);
    CHECK_INT(r.status, STSM_ERR_PEER_PROTOCOL);
    CHECK_INT(r.consumed, STSM_SMTP_LINE_MAX + 1);   /* stopped at the 511th byte: not a CR */

    CHECK_CASE("no line end at all: stops at the limit");
    memset(big, 'x', sizeof big);
    memcpy(big, "250-", 4);
    r = frame(big, sizeof big, 4096);
    CHECK_INT(r.status, STSM_ERR_PEER_PROTOCOL);
    CHECK_INT(r.consumed, STSM_SMTP_LINE_MAX + 1);

    for (int extra = 0; extra < 2; extra++) {
        CHECK_CASE(extra ? "one line more than allowed" : "as many lines as allowed");
        size_t n = 0, count = STSM_SMTP_REPLY_LINES_MAX + (size_t)extra;
        for (size_t i = 0; i < count; i++) {
            n += (size_t)snprintf(big + n, sizeof big - n, "250%cline %zu\r\n", i + 1 < count ? '-' : ' ', i);
        }
        r = frame(big, n, 100);
        CHECK_INT(r.status, extra ? STSM_ERR_PEER_PROTOCOL : STSM_OK);
        CHECK_INT(r.lines, STSM_SMTP_REPLY_LINES_MAX);
        CHECK_INT(r.replies, extra ? 0 : 1);
        CHECK_INT(r.consumed, n);
    }

    CHECK_CASE("long text is kept up to the limit and flagged");
    char line[300];
    memset(line, 'a', sizeof line);
    memcpy(line, "250-", 4);
    memcpy(line + sizeof line - 2, "\r\n", 2);
    size_t n = 0;
    for (int i = 0; i < 3; i++) {
        memcpy(big + n, line, sizeof line);
        n += sizeof line;
    }
    memcpy(big + n, "250 end\r\n", 9);
    r = frame(big, n + 9, 7);
    CHECK_INT(r.status, STSM_OK);
    CHECK(r.last.text_truncated && r.last.text_len == STSM_SMTP_REPLY_TEXT_MAX);
    CHECK_INT(r.last.line_count, 4);

    /* The joined text at the limit and one past it, wherever the limit falls: in the
     * first line, on the '\n' joining the lines, in the second line. */
    static const size_t firsts[] = { 0, 1, 127, 128, 254, 255, 256, 257, 300 };
    for (size_t i = 0; i < sizeof firsts / sizeof firsts[0]; i++) {
        for (size_t second = 0; second <= 258; second++) {
            size_t first = firsts[i], whole = first + 1 + second;
            if (second > 2 && (whole + 2 < STSM_SMTP_REPLY_TEXT_MAX || whole > STSM_SMTP_REPLY_TEXT_MAX + 2)) {
                continue;   /* only lengths near the limit, and short second lines */
            }
            char label[80];
            snprintf(label, sizeof label, "text of %zu and %zu bytes: kept to the limit", first, second);
            CHECK_CASE(label);
            char expect[2 * 300 + 2];
            memset(expect, 'f', first);
            expect[first] = '\n';
            memset(expect + first + 1, 's', second);
            size_t kept = whole < STSM_SMTP_REPLY_TEXT_MAX ? whole : STSM_SMTP_REPLY_TEXT_MAX;
            expect[kept] = '\0';
            n = 0;
            memcpy(big + n, "250-", 4);
            memset(big + n + 4, 'f', first);
            n += 4 + first;
            memcpy(big + n, "\r\n250 ", 6);
            memset(big + n + 6, 's', second);
            n += 6 + second;
            memcpy(big + n, "\r\n", 2);
            r = frame(big, n + 2, 1);
            CHECK_INT(r.status, STSM_OK);
            CHECK_INT(r.last.text_len, kept);
            CHECK_STR(r.last.text, expect);
            CHECK_INT(r.last.text_truncated, whole > STSM_SMTP_REPLY_TEXT_MAX);
        }
    }
    for (size_t len = STSM_SMTP_REPLY_TEXT_MAX - 1; len <= STSM_SMTP_REPLY_TEXT_MAX + 1; len++) {
        CHECK_CASE("one line at the text limit and one past it");
        memcpy(big, "250 ", 4);
        memset(big + 4, 'o', len);
        memcpy(big + 4 + len, "\r\n", 2);
        r = frame(big, len + 6, 64);
        CHECK_INT(r.status, STSM_OK);
        CHECK_INT(r.last.text_len, len < STSM_SMTP_REPLY_TEXT_MAX ? len : STSM_SMTP_REPLY_TEXT_MAX);
        CHECK_INT(r.last.text_truncated, len > STSM_SMTP_REPLY_TEXT_MAX);
    }

    CHECK_CASE("control bytes do not reach the log text; the line itself is unchanged");
    static const char controls[] = "250-a\tb\033[2J\r\n250 \x7f\xff\r\n";
    r = frame(controls, sizeof controls - 1, 3);
    CHECK_INT(r.status, STSM_OK);
    CHECK_STR(r.last.text, "a?b?[2J\n??");
    CHECK_STR(r.first_text, "a\tb\033[2J");

    CHECK_CASE("a reply ends where it ends; the rest stays for later");
    struct stsm_smtp_reply_framer f;
    struct stsm_smtp_reply_line l;
    size_t used;
    stsm_smtp_reply_init(&f);
    CHECK_INT(stsm_smtp_reply_feed(&f, (const uint8_t *)"220 go\r\nXYZ", 11, &used, &l), STSM_OK);
    CHECK(l.reply != NULL && l.reply->code == 220);
    CHECK_INT(used, 8);
    CHECK(!stsm_smtp_reply_pending(&f));
    CHECK_INT(stsm_smtp_reply_feed(&f, (const uint8_t *)"XYZ", 3, &used, &l), STSM_OK);
    CHECK(l.text == NULL && stsm_smtp_reply_pending(&f));
}

static void data_encoder(void)
{
    static const struct {
        const char *intent;
        const char *in;
        const char *out;
    } cases[] = {
        { "empty message", "", ".\r\n" },
        { "bare LF becomes CRLF", "a\nb\n", "a\r\nb\r\n.\r\n" },
        { "bare CR becomes CRLF", "a\rb", "a\r\nb\r\n.\r\n" },
        { "CRLF stays", "a\r\nb\r\n", "a\r\nb\r\n.\r\n" },
        { "CR CR LF is two line ends", "a\r\r\nb", "a\r\n\r\nb\r\n.\r\n" },
        { "leading dot doubled", ".\n..x\n.", "..\r\n...x\r\n..\r\n.\r\n" },
        { "dot inside a line untouched", "a.b\n", "a.b\r\n.\r\n" },
        { "smuggling attempt cannot end the data", "x\n.\nMAIL FROM:<y>\r\n", "x\r\n..\r\nMAIL FROM:<y>\r\n.\r\n" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        for (size_t chunk = 1; chunk <= 4; chunk += 3) {
            CHECK_CASE(cases[i].intent);
            struct stsm_smtp_data enc;
            uint8_t out[128];
            size_t o = 0, in = 0, len = strlen(cases[i].in), n;
            stsm_smtp_data_init(&enc);
            while (in < len) {
                size_t take = len - in < chunk ? len - in : chunk;
                size_t used = stsm_smtp_data_encode(&enc, (const uint8_t *)cases[i].in + in, take, out + o,
                                                    sizeof out - o, &n);
                CHECK_INT(used, take);
                in += used;
                o += n;
            }
            o += stsm_smtp_data_finish(&enc, out + o);
            out[o] = '\0';
            CHECK_STR((char *)out, cases[i].out);
        }
    }

    CHECK_CASE("a full output buffer stops early and resumes");
    struct stsm_smtp_data enc;
    uint8_t out[3];
    size_t n;
    stsm_smtp_data_init(&enc);
    CHECK_INT(stsm_smtp_data_encode(&enc, (const uint8_t *)".a", 2, out, sizeof out, &n), 1);
    CHECK_INT(n, 2);

    CHECK_CASE("base64");
    char b64[16];
    CHECK_INT(stsm_base64_encode((const uint8_t *)"ab", 2, b64), 4);
    CHECK(memcmp(b64, "YWI=", 4) == 0);
    CHECK_INT(stsm_base64_encode((const uint8_t *)"abcd", 4, b64), 8);
    CHECK(memcmp(b64, "YWJjZA==", 8) == 0);
}

/* ---- finding 5: capabilities are read line by line, whatever the reply's size ---------- */

static char ehlo_reply[(STSM_SMTP_REPLY_LINES_MAX + 1) * (STSM_SMTP_LINE_MAX + 2) + 3];

/* Builds "S:" and an EHLO reply: a first line of `first_len` bytes of text, `fillers`
 * extension lines padded to `filler_len` bytes of text (0: short names), then the lines
 * in `tail` (each "KEYWORD ...", the last one ends the reply). */
static const char *make_ehlo(size_t first_len, size_t fillers, size_t filler_len, const char *const *tail)
{
    size_t n = (size_t)snprintf(ehlo_reply, sizeof ehlo_reply, "S:250-");
    for (size_t i = 0; i < first_len; i++) {
        ehlo_reply[n++] = "mx.example.net Hello [192.0.2.5] "[i % 33];
    }
    n += (size_t)snprintf(ehlo_reply + n, sizeof ehlo_reply - n, "\r\n");
    for (size_t i = 0; i < fillers; i++) {
        size_t at = n;
        n += (size_t)snprintf(ehlo_reply + n, sizeof ehlo_reply - n, "250-X-EXTENSION-%zu", i);
        char pad = ' ';   /* a parameter made of 'p's */
        while (n - at - 4 < filler_len) {
            ehlo_reply[n++] = pad;
            pad = 'p';
        }
        n += (size_t)snprintf(ehlo_reply + n, sizeof ehlo_reply - n, "\r\n");
    }
    for (const char *const *t = tail; *t != NULL; t++) {
        n += (size_t)snprintf(ehlo_reply + n, sizeof ehlo_reply - n, "250%c%s\r\n", t[1] != NULL ? '-' : ' ', *t);
    }
    CHECK(n < sizeof ehlo_reply - 1);
    return ehlo_reply;
}

static void capabilities(bool bytewise)
{
    /* Exchange Online's shape: its host name and the client's address first, a dozen
     * extensions, STARTTLS near the end. Together well over 256 bytes of text. */
    static const char *const exchange_tail[] = {
        "SIZE 157286400", "PIPELINING", "DSN", "ENHANCEDSTATUSCODES", "AUTH LOGIN XOAUTH2", "8BITMIME",
        "BINARYMIME", "CHUNKING", "SMTPUTF8", "X-EXPS GSSAPI NTLM", "XRDST", "X-ANONYMOUSTLS", "STARTTLS", NULL,
    };
    static const char *const starttls_only[] = { "STARTTLS", NULL };
    struct stsm_smtp_params p = base();
    for (int required = 1; required >= 0; required--) {
        p.require_tls = required != 0;
        const char *const exchange[] = {
            "S:220 mx.example.net Microsoft ESMTP MAIL Service ready\r\n", "C:EHLO printer.example\r\n",
            make_ehlo(200, 0, 0, exchange_tail), "C:STARTTLS\r\n", "S:220 2.0.0 SMTP server ready\r\n", "TLS",
            "C:EHLO printer.example\r\n", "S:250-mx.example.net\r\n250 PIPELINING\r\n",
            "C:MAIL FROM:<alerts@printer.example>\r\nRCPT TO:<ops@example.test>\r\nDATA\r\n", NULL,
        };
        run(required ? "Exchange-like EHLO reply, TLS required: STARTTLS found"
                     : "Exchange-like EHLO reply, TLS not required: STARTTLS still used", &p, exchange, bytewise);
        CHECK(stsm_smtp_tls_active(&session));
        check_session(STSM_SMTP_PENDING, STSM_OK, STSM_SMTP_STAGE_GREETING);

        const char *const lines64[] = {
            "S:220 mx\r\n", "C:EHLO printer.example\r\n", make_ehlo(40, 62, 0, starttls_only), "C:STARTTLS\r\n",
            "S:220 go\r\n", "TLS", "C:EHLO printer.example\r\n", NULL,
        };
        run(required ? "64-line EHLO reply, STARTTLS last, TLS required"
                     : "64-line EHLO reply, STARTTLS last, TLS not required", &p, lines64, bytewise);
        CHECK(stsm_smtp_tls_active(&session));

        const char *const long_lines[] = {
            "S:220 mx\r\n", "C:EHLO printer.example\r\n",
            make_ehlo(STSM_SMTP_LINE_MAX - 4, 20, STSM_SMTP_LINE_MAX - 4, starttls_only), "C:STARTTLS\r\n",
            "S:220 go\r\n", "TLS", "C:EHLO printer.example\r\n", NULL,
        };
        run(required ? "EHLO reply of 512-byte lines, STARTTLS last, TLS required"
                     : "EHLO reply of 512-byte lines, STARTTLS last, TLS not required", &p, long_lines, bytewise);
        CHECK(stsm_smtp_tls_active(&session));

        const char *const most_lines[] = {
            "S:220 mx\r\n", "C:EHLO printer.example\r\n",
            make_ehlo(STSM_SMTP_LINE_MAX - 4, STSM_SMTP_REPLY_LINES_MAX - 2, STSM_SMTP_LINE_MAX - 4, starttls_only),
            "C:STARTTLS\r\n", "S:220 go\r\n", "TLS", "C:EHLO printer.example\r\n", NULL,
        };
        run("EHLO reply as long as allowed: every line at the limit, STARTTLS last", &p, most_lines, bytewise);
        CHECK(stsm_smtp_tls_active(&session));
    }

    /* AUTH at the end of a 512-byte line, after TLS. */
    p = base();
    p.auth_user = "user";
    p.auth_secret = "secret";
    char auth_line[STSM_SMTP_LINE_MAX + 1];
    size_t n = (size_t)snprintf(auth_line, sizeof auth_line, "AUTH");
    while (n < STSM_SMTP_LINE_MAX - 4 - 6) {
        n += (size_t)snprintf(auth_line + n, sizeof auth_line - n, " X%zu", n % 10);
    }
    n = n > STSM_SMTP_LINE_MAX - 4 - 6 ? STSM_SMTP_LINE_MAX - 4 - 6 : n;
    auth_line[n - 1] = 'Z';
    memcpy(auth_line + n, " PLAIN", 7);
    CHECK_INT(strlen(auth_line), STSM_SMTP_LINE_MAX - 4);
    const char *const auth_tail[] = { "SIZE 1000000", auth_line, "8BITMIME", NULL };
    const char *const auth[] = {
        "S:220 mx\r\n", "C:EHLO printer.example\r\n", EHLO_TLS, "C:STARTTLS\r\n", "S:220 go\r\n", "TLS",
        "C:EHLO printer.example\r\n", make_ehlo(STSM_SMTP_LINE_MAX - 4, 30, 100, auth_tail),
        "C:AUTH PLAIN AHVzZXIAc2VjcmV0\r\n", "S:235 ok\r\n", "C:MAIL FROM:<alerts@printer.example> SIZE=500\r\n",
        NULL,
    };
    run("AUTH PLAIN named at the end of a 512-byte line, after 30 long lines", &p, auth, bytewise);
    CHECK(stsm_smtp_caps(&session)->auth_plain && stsm_smtp_caps(&session)->size &&
          stsm_smtp_caps(&session)->eightbitmime && !stsm_smtp_caps(&session)->auth_login);

    CHECK_CASE("capabilities come only from a successful EHLO reply");
    p = base();
    p.require_tls = false;
    static const char *const refused[] = {
        "S:220 mx\r\n", "C:EHLO printer.example\r\n", "S:550-no\r\n550-STARTTLS\r\n550 PIPELINING\r\n",
        "C:HELO printer.example\r\n", "S:250 mx\r\n", "C:MAIL FROM:<alerts@printer.example>\r\n", NULL,
    };
    run("an EHLO refusal that names extensions teaches nothing", &p, refused, bytewise);
    CHECK(!stsm_smtp_caps(&session)->starttls && !stsm_smtp_caps(&session)->esmtp);
}

/* ---- hostile servers: each ends, bounded, as a temporary failure ------------------------ */

static void check_protocol_failure(enum stsm_smtp_stage stage)
{
    CHECK_INT(action, STSM_SMTP_CLOSE);
    check_session(STSM_SMTP_DEFERRED, STSM_ERR_PEER_PROTOCOL, stage);
    check_rcpt(0, STSM_SMTP_DEFERRED, 0);
}

static void hostile_scripts(void)
{
    struct stsm_smtp_params p = base();
    static const struct {
        const char *intent;
        bool same_segment;            /* the attack needs bytes in one segment: whole lines only */
        enum stsm_smtp_stage stage;
        const char *script[16];
    } cases[] = {
        { "NUL in the greeting", false, STSM_SMTP_STAGE_GREETING,
          { "S0:220 mx~\r\n", "C:QUIT\r\n", "CLOSE", "UNREAD:2" } },
        { "NUL in an EHLO extension", false, STSM_SMTP_STAGE_EHLO,
          { "S:220 mx\r\n", "C:EHLO printer.example\r\n", "S0:250-mx\r\n250-STARTTLS~\r\n250 SIZE\r\n",
            "C:QUIT\r\n", "CLOSE", "UNREAD:12" } },
        { "greeting code 199", false, STSM_SMTP_STAGE_GREETING, { "S:199 hi\r\n", "C:QUIT\r\n", "CLOSE" } },
        { "greeting code 600", false, STSM_SMTP_STAGE_GREETING, { "S:600 hi\r\n", "C:QUIT\r\n", "CLOSE" } },
        { "greeting code 000", false, STSM_SMTP_STAGE_GREETING, { "S:000\r\n", "C:QUIT\r\n", "CLOSE" } },
        { "greeting code 999", false, STSM_SMTP_STAGE_GREETING, { "S:999 x\r\n", "C:QUIT\r\n", "CLOSE" } },
        { "greeting code 2x0", false, STSM_SMTP_STAGE_GREETING, { "S:2x0 x\r\n", "C:QUIT\r\n", "CLOSE" } },
        { "EHLO reply code 650 (permanent-looking, out of range)", false, STSM_SMTP_STAGE_EHLO,
          { "S:220 mx\r\n", "C:EHLO printer.example\r\n", "S:650 no\r\n", "C:QUIT\r\n", "CLOSE" } },
        { "a reply whose last line changes the code", false, STSM_SMTP_STAGE_EHLO,
          { "S:220 mx\r\n", "C:EHLO printer.example\r\n", "S:250-mx\r\n250-SIZE\r\n550 STARTTLS\r\n",
            "C:QUIT\r\n", "CLOSE" } },
        { "text before the greeting", false, STSM_SMTP_STAGE_GREETING,
          { "S:hello\r\n220 mx\r\n", "C:QUIT\r\n", "CLOSE", "UNREAD:8" } },
        { "two greetings in one segment: EHLO never leaves", true, STSM_SMTP_STAGE_EHLO,
          { "S:220 a\r\n220 b\r\n", "C:QUIT\r\n", "CLOSE", "UNREAD:6" } },
        { "the STARTTLS 220 sent blind with the EHLO reply", true, STSM_SMTP_STAGE_STARTTLS,
          { "S:220 mx\r\n", "C:EHLO printer.example\r\n", "S:250-mx\r\n250 STARTTLS\r\n220 go\r\n", "C:QUIT\r\n",
            "CLOSE", "UNREAD:7" } },
        { "a second EHLO reply", true, STSM_SMTP_STAGE_STARTTLS,
          { "S:220 mx\r\n", "C:EHLO printer.example\r\n", EHLO_TLS "250 again\r\n", "C:QUIT\r\n", "CLOSE",
            "UNREAD:10" } },
        { "one reply too many after a pipelined flight: no QUIT inside DATA", true, STSM_SMTP_STAGE_DATA,
          { "S:220 mx\r\n", "C:EHLO printer.example\r\n", EHLO_TLS, "C:STARTTLS\r\n", "S:220 go\r\n", "TLS",
            "C:EHLO printer.example\r\n", "S:250-mx\r\n250 PIPELINING\r\n",
            "C:MAIL FROM:<alerts@printer.example>\r\nRCPT TO:<ops@example.test>\r\nDATA\r\n",
            "S:250 ok\r\n250 ok\r\n354 go\r\n250 ok\r\n", "C:", "CLOSE", "UNREAD:7" } },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        for (int bytewise = 0; bytewise < (cases[i].same_segment ? 1 : 2); bytewise++) {
            run(cases[i].intent, &p, cases[i].script, bytewise != 0);
            check_protocol_failure(cases[i].stage);
        }
    }

    static const char *const greeting_250[] = { "S:250 hello\r\n", "C:QUIT\r\n", "CLOSE", NULL };
    run("a greeting that is not 220: deferred, not failed", &p, greeting_250, false);
    check_rcpt(0, STSM_SMTP_DEFERRED, 250);

    p.require_tls = false;
    static const char *const blind_rcpt[] = {
        "S:220 mx\r\n", "C:EHLO printer.example\r\n", "S:250 mx\r\n", "C:MAIL FROM:<alerts@printer.example>\r\n",
        "S:250 ok\r\n250 ok\r\n", "C:QUIT\r\n", "CLOSE", "UNREAD:7", NULL,
    };
    run("no PIPELINING: the RCPT reply sent with the MAIL reply", &p, blind_rcpt, false);
    check_protocol_failure(STSM_SMTP_STAGE_RCPT);

    static const char *const mail_600[] = {
        "S:220 mx\r\n", "C:EHLO printer.example\r\n", "S:250 mx\r\n", "C:MAIL FROM:<alerts@printer.example>\r\n",
        "S:600 never\r\n", "C:QUIT\r\n", "CLOSE", NULL,
    };
    run("MAIL answered 600: a protocol error, not a refusal", &p, mail_600, false);
    check_protocol_failure(STSM_SMTP_STAGE_MAIL);

    static const char *const after_end[] = {
        "S:220 mx\r\n", "C:EHLO printer.example\r\n", "S:250 mx\r\n", "C:MAIL FROM:<alerts@printer.example>\r\n",
        "S:250 ok\r\n", "C:RCPT TO:<ops@example.test>\r\n", "S:250 ok\r\n", "C:DATA\r\n", "S:354 go\r\n", "BODY",
        BODY_ON_WIRE, "S:250 queued\r\n221 bye\r\n", "C:QUIT\r\n", "CLOSE", "UNREAD:9", NULL,
    };
    run("bytes after the last reply are not read", &p, after_end, false);
    check_rcpt(0, STSM_SMTP_DELIVERED, 250);

    static const char *const to_data[] = {
        "S:220 mx\r\n", "C:EHLO printer.example\r\n", "S:250 mx\r\n", "C:MAIL FROM:<alerts@printer.example>\r\n",
        "S:250 ok\r\n", "C:RCPT TO:<ops@example.test>\r\n", "S:250 ok\r\n", "C:DATA\r\n", "S:354 go\r\n", NULL,
    };
    run("a reply while the message is being sent", &p, to_data, false);
    CHECK_INT(action, STSM_SMTP_SEND_DATA);
    size_t used;
    action = stsm_smtp_receive(&session, (const uint8_t *)"250 early\r\n", 11, &used);
    drain();
    CHECK_INT(used, 1);
    CHECK_STR(sent, "");   /* no QUIT: the server would take it as message text */
    check_protocol_failure(STSM_SMTP_STAGE_DATA);

    CHECK_CASE("a pipelined flight handed over in part: no reply for the rest yet");
    p = base();
    static const char *const to_flight[] = {
        "S:220 mx\r\n", "C:EHLO printer.example\r\n", EHLO_TLS, "C:STARTTLS\r\n", "S:220 go\r\n", "TLS",
        "C:EHLO printer.example\r\n", NULL,
    };
    run("a pipelined flight handed over in part: no reply for the rest yet", &p, to_flight, false);
    action = stsm_smtp_receive(&session, (const uint8_t *)"250-mx\r\n250 PIPELINING\r\n", 24, &used);
    CHECK_INT(action, STSM_SMTP_WAIT);
    size_t len;
    const uint8_t *out = stsm_smtp_output(&session, &len);
    const uint8_t *end = memchr(out, '\n', len);   /* only MAIL FROM goes out, and half of RCPT */
    CHECK(end != NULL);
    size_t mail_len = end != NULL ? (size_t)(end - out) + 1 : 0;
    stsm_smtp_output_sent(&session, mail_len + 5);
    action = stsm_smtp_receive(&session, (const uint8_t *)"250 ok\r\n", 8, &used);
    CHECK_INT(action, STSM_SMTP_WAIT);
    action = stsm_smtp_receive(&session, (const uint8_t *)"250 ok\r\n", 8, &used);
    CHECK_INT(used, 1);
    out = stsm_smtp_output(&session, &len);
    static const char rest[] = "TO:<ops@example.test>\r\nQUIT\r\n";   /* the RCPT line ends; DATA is dropped */
    CHECK_INT(len, sizeof rest - 1);
    CHECK(len == sizeof rest - 1 && memcmp(out, rest, len) == 0);
    check_protocol_failure(STSM_SMTP_STAGE_RCPT);
}

/* A server that streams `total` bytes made of `pattern` after `prefix` (a greeting, say),
 * in segments of 4096 bytes, until the engine stops reading. Returns the bytes it read of
 * the stream after the prefix. */
static size_t stream(const char *prefix, const char *pattern, size_t total)
{
    size_t plen = strlen(pattern), offered = 0, read = 0;
    feed(prefix, strlen(prefix), false);
    static char seg[4096];
    while (offered < total && action == STSM_SMTP_WAIT) {
        for (size_t i = 0; i < sizeof seg; i++) {
            seg[i] = pattern[(offered + i) % plen];
        }
        size_t used;
        action = stsm_smtp_receive(&session, (const uint8_t *)seg, sizeof seg, &used);
        drain();
        read += used;
        offered += sizeof seg;
    }
    return read;
}

static void hostile_streams(void)
{
    struct stsm_smtp_params p = base();
    char line512[STSM_SMTP_LINE_MAX + 3];
    memset(line512, 'y', STSM_SMTP_LINE_MAX);
    memcpy(line512, "250-", 4);
    strcpy(line512 + STSM_SMTP_LINE_MAX, "\r\n");
    static const struct {
        const char *intent;
        const char *prefix;           /* the server's bytes before the stream */
        enum stsm_smtp_stage stage;
        int pattern;                  /* 0: no line end; 1: 512-byte lines; 2: short lines */
        size_t stops_after;           /* bytes of the stream the engine reads */
    } cases[] = {
        { "greeting without a line end, 10 MB", "", STSM_SMTP_STAGE_GREETING, 0, STSM_SMTP_LINE_MAX + 1 },
        { "EHLO reply without a line end, 10 MB", "220 mx\r\n", STSM_SMTP_STAGE_EHLO, 0, STSM_SMTP_LINE_MAX + 1 },
        { "10 MB multi-line greeting", "", STSM_SMTP_STAGE_GREETING, 1,
          (STSM_SMTP_REPLY_LINES_MAX + 1) * (STSM_SMTP_LINE_MAX + 2) },
        { "10 MB multi-line EHLO reply", "220 mx\r\n", STSM_SMTP_STAGE_EHLO, 1,
          (STSM_SMTP_REPLY_LINES_MAX + 1) * (STSM_SMTP_LINE_MAX + 2) },
        { "thousands of continuation lines", "220 mx\r\n", STSM_SMTP_STAGE_EHLO, 2,
          (STSM_SMTP_REPLY_LINES_MAX + 1) * 7 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        static const char *const nothing[] = { NULL };
        run(cases[i].intent, &p, nothing, false);
        const char *pattern = cases[i].pattern == 0   ? "250-xxxxxxxxxxxx"
                              : cases[i].pattern == 1 ? line512
                                                      : "250-x\r\n";
        size_t read = stream(cases[i].prefix, pattern, 10u * 1024u * 1024u);
        CHECK_INT(read, cases[i].stops_after);
        bool greeting = cases[i].stage == STSM_SMTP_STAGE_GREETING;
        CHECK_STR(sent, greeting ? "QUIT\r\n" : "EHLO printer.example\r\nQUIT\r\n");
        check_protocol_failure(cases[i].stage);
    }
}

/* ---- finding 8: no copy of the credentials stays in the engine --------------------------- */

static bool engine_holds(const char *secret)
{
    const uint8_t *bytes = (const uint8_t *)&session;
    size_t n = strlen(secret);
    for (size_t i = 0; i + n <= sizeof session; i++) {
        if (memcmp(bytes + i, secret, n) == 0) {
            return true;
        }
    }
    return false;
}

static void check_no_credentials(void)
{
    CHECK(!engine_holds("s3cr3t-pass"));
    CHECK(!engine_holds("czNjcjN0LXBhc3M"));        /* base64 of the secret alone (AUTH LOGIN) */
    CHECK(!engine_holds("AHVzZXIAczNjcjN0LXBhc3M"));  /* base64 of the AUTH PLAIN string */
    CHECK(!engine_holds("zNjcjN0LXBhc3"));          /* its middle, however the string is aligned */
}

static void credentials(void)
{
    struct stsm_smtp_params p = base();
    p.auth_user = "user";
    p.auth_secret = "s3cr3t-pass";
    static const char *const plain[] = {
        "S:220 mx\r\n", "C:EHLO printer.example\r\n", EHLO_TLS, "C:STARTTLS\r\n", "S:220 go\r\n", "TLS",
        "C:EHLO printer.example\r\n", "S:250-mx\r\n250 AUTH PLAIN\r\n", "C:AUTH PLAIN AHVzZXIAczNjcjN0LXBhc3M=\r\n",
        NULL,
    };
    run("AUTH PLAIN sent: no copy left in the engine", &p, plain, false);
    check_no_credentials();

    static const char *const login[] = {
        "S:220 mx\r\n", "C:EHLO printer.example\r\n", EHLO_TLS, "C:STARTTLS\r\n", "S:220 go\r\n", "TLS",
        "C:EHLO printer.example\r\n", "S:250-mx\r\n250 AUTH LOGIN\r\n", "C:AUTH LOGIN\r\n",
        "S:334 VXNlcm5hbWU6\r\n",
        "C:dXNlcg==\r\n", "S:334 UGFzc3dvcmQ6\r\n", "C:czNjcjN0LXBhc3M=\r\n", NULL,
    };
    run("AUTH LOGIN secret sent: no copy left in the engine", &p, login, true);
    check_no_credentials();

    static const char *const never_sent[] = {
        "S:220 mx\r\n", "C:EHLO printer.example\r\n", EHLO_TLS, "C:STARTTLS\r\n", "S:220 go\r\n", "TLS",
        "C:EHLO printer.example\r\n", "S:250-mx\r\n250 AUTH PLAIN\r\n235 blind\r\n", "C:QUIT\r\n", "CLOSE",
        "UNREAD:10", NULL,
    };
    run("the session fails with AUTH queued: it is never sent, and wiped", &p, never_sent, false);
    check_no_credentials();
    check_session(STSM_SMTP_DEFERRED, STSM_ERR_PEER_PROTOCOL, STSM_SMTP_STAGE_AUTH);
}

/* ---- the downgrade race: require_tls wins over no_starttls -------------------------------- */

static void downgrade(void)
{
    struct stsm_smtp_params p = base();
    p.no_starttls = true;   /* a plaintext retry planned before an enforce policy arrived */
    static const char *const offered[] = {
        "S:220 mx\r\n", "C:EHLO printer.example\r\n", EHLO_TLS, "C:STARTTLS\r\n", "S:220 go\r\n", "TLS",
        "C:EHLO printer.example\r\n", "S:250 mx\r\n", "C:MAIL FROM:<alerts@printer.example>\r\n", NULL,
    };
    run("TLS required and no STARTTLS asked for: TLS wins", &p, offered, false);
    CHECK(stsm_smtp_tls_active(&session));

    static const char *const not_offered[] = {
        "S:220 mx\r\n", "C:EHLO printer.example\r\n", "S:250-mx\r\n250 SIZE\r\n", "C:QUIT\r\n", "CLOSE", NULL,
    };
    run("TLS required and no STARTTLS asked for, none offered: deferred", &p, not_offered, false);
    check_session(STSM_SMTP_DEFERRED, STSM_ERR_TLS_NOT_OFFERED, STSM_SMTP_STAGE_EHLO);
    check_rcpt(0, STSM_SMTP_DEFERRED, 0);

    p.require_tls = false;
    static const char *const retry[] = {
        "S:220 mx\r\n", "C:EHLO printer.example\r\n", EHLO_TLS, "C:MAIL FROM:<alerts@printer.example> SIZE=500\r\n",
        NULL,
    };
    run("no STARTTLS asked for, TLS not required: the plaintext retry", &p, retry, false);
    CHECK(!stsm_smtp_tls_active(&session));
}

/* ---- finding 4 (engine part): one timer per reply, not per segment ----------------------- */

static void wait_serial(void)
{
    CHECK_CASE("the wait serial moves per reply, not per byte");
    struct stsm_smtp_params p = base();
    p.require_tls = false;
    CHECK_INT(stsm_smtp_start(&session, &p), STSM_OK);
    sent_len = 0;
    action = STSM_SMTP_WAIT;
    static const char ehlo[] = "250-mx\r\n250-SIZE 1000\r\n250-8BITMIME\r\n250 PIPELINING\r\n";
    const char *replies[] = { "220 mx\r\n", ehlo, "250 ok\r\n", "250 ok\r\n", "354 go\r\n" };
    for (size_t r = 0; r < sizeof replies / sizeof replies[0]; r++) {
        uint32_t before = stsm_smtp_wait_serial(&session);
        CHECK_INT(stsm_smtp_timeout_ms(&session), 5u * 60u * 1000u);
        size_t len = strlen(replies[r]);
        for (size_t i = 0; i < len; i++) {
            size_t used;
            action = stsm_smtp_receive(&session, (const uint8_t *)replies[r] + i, 1, &used);
            drain();
            if (i + 1 < len) {
                CHECK_INT(stsm_smtp_wait_serial(&session), before);   /* a trickle does not re-arm */
                CHECK_INT(action, STSM_SMTP_WAIT);
            }
        }
        CHECK(stsm_smtp_wait_serial(&session) != before);
    }
    CHECK_INT(action, STSM_SMTP_SEND_DATA);
    CHECK_INT(stsm_smtp_timeout_ms(&session), 3u * 60u * 1000u);   /* data block */
    uint32_t before = stsm_smtp_wait_serial(&session);
    action = stsm_smtp_data_done(&session);
    CHECK(stsm_smtp_wait_serial(&session) != before);
    CHECK_INT(stsm_smtp_timeout_ms(&session), 10u * 60u * 1000u);  /* DATA termination */

    CHECK_CASE("the wait serial moves when TLS is done and when a hold ends");
    p = base();
    p.hold_before_mail = true;
    static const char *const to_tls[] = {
        "S:220 mx\r\n", "C:EHLO printer.example\r\n", EHLO_TLS, "C:STARTTLS\r\n", "S:220 go\r\n", NULL,
    };
    run("the wait serial moves when TLS is done and when a hold ends", &p, to_tls, false);
    before = stsm_smtp_wait_serial(&session);
    action = stsm_smtp_tls_done(&session, STSM_OK);
    drain();
    CHECK(stsm_smtp_wait_serial(&session) != before);
    size_t used;
    action = stsm_smtp_receive(&session, (const uint8_t *)"250 mx\r\n", 8, &used);
    CHECK_INT(action, STSM_SMTP_HOLD);
    before = stsm_smtp_wait_serial(&session);
    action = stsm_smtp_release(&session, true, STSM_OK, NULL);
    CHECK(stsm_smtp_wait_serial(&session) != before);
    CHECK_INT(action, STSM_SMTP_WAIT);
}

/* ---- the runner checks itself ------------------------------------------------------------ */

static void runner_self_test(void)
{
    struct stsm_smtp_params p = base();
    static const char *const unknown[] = { "S:220 mx\r\n", "C:EHLO printer.example\r\n", "BOGUS", NULL };
    static const char *const left[] = { "S:421 bye\r\n250 more\r\n", "C:", "CLOSE", NULL };
    static const char *const miscounted[] = { "S:421 bye\r\n250 more\r\n", "C:", "CLOSE", "UNREAD:3", NULL };
    static const char *const fine[] = { "S:421 bye\r\n250 more\r\n", "C:", "CLOSE", "UNREAD:10", NULL };
    const struct {
        const char *intent;
        const char *const *script;
        unsigned faults;
    } cases[] = {
        { "the runner refuses an unknown token", unknown, 1 },
        { "the runner refuses a script that leaves server bytes unread", left, 1 },
        { "the runner refuses a wrong unread count", miscounted, 1 },
        { "the runner accepts unread bytes the script accounts for", fine, 0 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        expect_faults = true;
        faults_seen = 0;
        run(cases[i].intent, &p, cases[i].script, false);
        expect_faults = false;
        CHECK_INT(faults_seen, cases[i].faults);
    }
}

/* ---- the state table ------------------------------------------------------------------ */

/* Every state has a name for logs, and no two states share one: a log line names exactly
 * one state. A value outside the enum is "unknown", never NULL. */
static void state_names(void)
{
    for (int i = 0; i < STSM_SMTP_STATE_COUNT; i++) {
        const char *name = stsm_smtp_state_name((enum stsm_smtp_state)i);
        char label[64];
        snprintf(label, sizeof label, "state %d is named (%s)", i, name != NULL ? name : "NULL");
        CHECK_CASE(label);
        CHECK(name != NULL);
        if (name == NULL) {
            continue;
        }
        CHECK(name[0] != '\0');
        CHECK(strcmp(name, "unknown") != 0);
        for (int j = 0; j < i; j++) {
            const char *other = stsm_smtp_state_name((enum stsm_smtp_state)j);
            CHECK(other == NULL || strcmp(name, other) != 0);
        }
    }
    CHECK_CASE("a value outside the states is unknown");
    CHECK_STR(stsm_smtp_state_name(STSM_SMTP_STATE_COUNT), "unknown");
    CHECK_STR(stsm_smtp_state_name((enum stsm_smtp_state)-1), "unknown");
    CHECK(!stsm_smtp_state_handled(STSM_SMTP_STATE_COUNT));
}

/* Run after every script: each state the scripts reached has a reply handler, and each
 * state is reached by some script, so the enum holds no dead state and the scripts walk
 * the whole machine (greeting to QUIT, HELO, both AUTHs, the flight, the hold, the empty
 * DATA end). */
static void state_handlers(void)
{
    for (int i = 0; i < STSM_SMTP_STATE_COUNT; i++) {
        char label[80];
        snprintf(label, sizeof label, "state %s is reached and has a handler",
                 stsm_smtp_state_name((enum stsm_smtp_state)i));
        CHECK_CASE(label);
        CHECK(state_seen[i]);
        CHECK(stsm_smtp_state_handled((enum stsm_smtp_state)i));
    }
}

static void size_overflow(void);
static void extension_keywords(void);
static void wait_times(void);
static void transactions(bool bytewise);
static void chunking(bool bytewise);
static void chunking_streams(void);

int main(void)
{
    transcripts(false);
    transcripts(true);
    capabilities(false);
    capabilities(true);
    hostile_scripts();
    hostile_streams();
    credentials();
    downgrade();
    wait_serial();
    runner_self_test();
    injection_and_limits();
    hold();
    transactions(false);
    transactions(true);
    chunking(false);
    chunking(true);
    chunking_streams();
    framer();
    data_encoder();
    size_overflow();
    extension_keywords();
    wait_times();
    state_names();
    state_handlers();   /* last: it reads the states every script above reached */
    return stsm_check_summary("test_smtp");
}

/* ---- SIZE values past 32 bits (Cortex-M: long is 32 bits) ------------------------------- */

/* A SIZE parameter too big for 32 bits is absurd and means "no limit known". The old
 * parser accumulated in unsigned long and compared with UINT32_MAX: with a 32-bit long
 * (Cortex-M) the comparison never fired, "SIZE 4294967297" wrapped to a limit of 1 and
 * every message failed permanently. The limit must not depend on long's width. */
static void size_overflow(void)
{
    static const struct {
        const char *value;
        uint32_t limit;
    } cases[] = {
        { "4294967295", 4294967295u },          /* the largest that fits: kept */
        { "4294967296", 0 },                    /* 2^32: would wrap to 0 */
        { "4294967297", 0 },                    /* would wrap to 1 */
        { "4294967306", 0 },                    /* would wrap to 10 */
        { "99999999999999999999", 0 },          /* past 64 bits too */
        { "42949672950", 0 },                   /* ten times the largest */
        { "1000", 1000 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        CHECK_CASE(cases[i].value);
        struct stsm_smtp_params p = base();
        p.require_tls = false;
        CHECK_INT(stsm_smtp_start(&session, &p), STSM_OK);
        sent_len = 0;
        char ehlo[96];
        snprintf(ehlo, sizeof ehlo, "250-mx\r\n250 SIZE %s\r\n", cases[i].value);
        size_t used;
        action = stsm_smtp_receive(&session, (const uint8_t *)"220 mx\r\n", 8, &used);
        drain();
        action = stsm_smtp_receive(&session, (const uint8_t *)ehlo, strlen(ehlo), &used);
        drain();
        CHECK(session.caps.size);
        CHECK_INT(session.caps.size_limit, cases[i].limit);
        /* A 500-byte message goes on to MAIL FROM unless the limit is real and smaller. */
        CHECK(strstr(sent, "MAIL FROM:<alerts@printer.example> SIZE=500") != NULL);
        CHECK_INT(action, STSM_SMTP_WAIT);
    }
}

/* ---- several transactions in one session (RSET only after a refusal) ------------------- */

static struct stsm_smtp_params second;   /* the envelope next_transaction() starts */
static enum stsm_smtp_outcome first_outcome[2];
static uint16_t first_code[2];

/* Keeps the first transaction's results (they are reset by the next) and starts the next. */
static void start_second(void)
{
    for (size_t i = 0; i < 2; i++) {
        const struct stsm_smtp_result *r = stsm_smtp_rcpt_result(&session, i);
        first_outcome[i] = r != NULL ? r->outcome : STSM_SMTP_PENDING;
        first_code[i] = r != NULL ? r->code : 0;
    }
    CHECK_INT(stsm_smtp_next(&session, &second), STSM_OK);
}

#define TO_MAIL_PLAIN \
    "S:220 mx\r\n", "C:EHLO printer.example\r\n", "S:250 mx\r\n", "C:MAIL FROM:<alerts@printer.example>\r\n"
/* The second transaction after "NEXT" once MAIL FROM is sent, delivered, and the end of
 * the session. */
#define SECOND_FROM_MAIL \
    "C:MAIL FROM:<other@printer.example>\r\n", "S:250 ok\r\n", "C:RCPT TO:<b@example.test>\r\n", \
    "S:250 ok\r\n", "C:DATA\r\n", "S:354 go\r\n", "BODY", BODY_ON_WIRE, "S:250 queued 2\r\n", "NEXT:QUIT", \
    "C:QUIT\r\n", "CLOSE", NULL
/* The same after a refused transaction: RSET first. */
#define SECOND_DELIVERED "C:RSET\r\n", "S:250 reset\r\n", SECOND_FROM_MAIL

static void transactions(bool bytewise)
{
    struct stsm_smtp_params p = base();
    p.require_tls = false;
    p.more_transactions = true;
    second = base();
    second.mail_from = "other@printer.example";
    second.rcpt[0] = "b@example.test";
    next_transaction = start_second;

    static const char *const two[] = {
        TO_MAIL_PLAIN, "S:250 ok\r\n", "C:RCPT TO:<ops@example.test>\r\n", "S:250 ok\r\n", "C:DATA\r\n",
        "S:354 go\r\n", "BODY", BODY_ON_WIRE, "S:250 queued 1\r\n", "NEXT", SECOND_FROM_MAIL,
    };
    run("two transactions in one session, no RSET after a 250", &p, two, bytewise);
    CHECK_INT(first_outcome[0], STSM_SMTP_DELIVERED);
    CHECK_INT(first_code[0], 250);
    check_rcpt(0, STSM_SMTP_DELIVERED, 250);
    check_session(STSM_SMTP_PENDING, STSM_OK, STSM_SMTP_STAGE_GREETING);

    /* A refusal of the first transaction's MAIL ends it, not the session. */
    static const char *const after_refused_mail[] = {
        TO_MAIL_PLAIN, "S:550 5.7.1 sender refused\r\n", "NEXT", SECOND_DELIVERED,
    };
    run("the second transaction after the first's MAIL was refused", &p, after_refused_mail, bytewise);
    CHECK_INT(first_outcome[0], STSM_SMTP_FAILED);
    CHECK_INT(first_code[0], 550);
    check_rcpt(0, STSM_SMTP_DELIVERED, 250);
    check_session(STSM_SMTP_PENDING, STSM_OK, STSM_SMTP_STAGE_GREETING);

    /* The message refused after its data (554), and a 4xx on the second's RCPT. */
    p.rcpt_count = 2;
    p.rcpt[1] = "dev@example.test";
    static const char *const after_refused_data[] = {
        TO_MAIL_PLAIN, "S:250 ok\r\n", "C:RCPT TO:<ops@example.test>\r\n", "S:550 no such user\r\n",
        "C:RCPT TO:<dev@example.test>\r\n", "S:250 ok\r\n", "C:DATA\r\n", "S:354 go\r\n", "BODY",
        BODY_ON_WIRE, "S:554 5.6.0 content refused\r\n", "NEXT", "C:RSET\r\n", "S:250 reset\r\n",
        "C:MAIL FROM:<other@printer.example>\r\n", "S:250 ok\r\n", "C:RCPT TO:<b@example.test>\r\n",
        "S:451 try later\r\n", "NEXT:QUIT", "C:QUIT\r\n", "CLOSE", NULL,
    };
    run("a message refused after its data, then a recipient deferred", &p, after_refused_data, bytewise);
    CHECK_INT(first_outcome[0], STSM_SMTP_FAILED);
    CHECK_INT(first_code[0], 550);
    CHECK_INT(first_outcome[1], STSM_SMTP_FAILED);
    CHECK_INT(first_code[1], 554);
    check_rcpt(0, STSM_SMTP_DEFERRED, 451);
    CHECK(stsm_smtp_rcpt_result(&session, 1) == NULL);   /* the second has one recipient */

    /* Pipelined (issue 12): after a 250 the next flight goes at once, so each further
     * message takes 2 round trips (flight, message) instead of 3 with RSET; after a
     * refused message RSET comes first, and a refused RSET ends the session. Fails on the
     * code before (RSET after every transaction). */
    p = base();
    p.require_tls = false;
    p.more_transactions = true;
    static const char *const pipelined[] = {
        "S:220 mx\r\n", "C:EHLO printer.example\r\n", "S:250-mx\r\n250 PIPELINING\r\n",
        "C:MAIL FROM:<alerts@printer.example>\r\nRCPT TO:<ops@example.test>\r\nDATA\r\n",
        "S:250 ok\r\n250 ok\r\n354 go\r\n", "BODY", BODY_ON_WIRE, "S:250 queued\r\n", "NEXT",
        "C:MAIL FROM:<other@printer.example>\r\nRCPT TO:<b@example.test>\r\nDATA\r\n",
        "S:250 ok\r\n250 ok\r\n354 go\r\n", "BODY", BODY_ON_WIRE, "S:250 queued\r\n", "NEXT",
        "C:MAIL FROM:<other@printer.example>\r\nRCPT TO:<b@example.test>\r\nDATA\r\n",
        "S:250 ok\r\n250 ok\r\n354 go\r\n", "BODY", BODY_ON_WIRE, "S:554 5.6.0 refused\r\n", "NEXT",
        "C:RSET\r\n", "S:500 what\r\n", "C:QUIT\r\n", "CLOSE", NULL,
    };
    run("pipelined transactions: no RSET after a 250; a refused RSET ends the session", &p, pipelined, bytewise);
    CHECK_INT(server_turns, 2 + 2 * 3 + 1);   /* greeting, EHLO, 2 a message, the RSET */
    CHECK_INT(first_outcome[0], STSM_SMTP_FAILED);   /* the third message */
    CHECK_INT(first_code[0], 554);
    check_rcpt(0, STSM_SMTP_DEFERRED, 500);
    check_session(STSM_SMTP_DEFERRED, STSM_ERR_PEER_PROTOCOL, STSM_SMTP_STAGE_MAIL);

    /* After a 250, an envelope over the server's SIZE still takes RSET (its refusal is
     * reported as the next transaction's end, after the reply), then the one after it goes
     * on without another RSET only if that one ended in a 250: here it did not. */
    second.size_estimate = 5000;
    static const char *const too_big[] = {
        "S:220 mx\r\n", "C:EHLO printer.example\r\n", "S:250-mx\r\n250-SIZE 1000\r\n250 PIPELINING\r\n",
        "C:MAIL FROM:<alerts@printer.example> SIZE=500\r\nRCPT TO:<ops@example.test>\r\nDATA\r\n",
        "S:250 ok\r\n250 ok\r\n354 go\r\n", "BODY", BODY_ON_WIRE, "S:250 queued\r\n", "NEXT", "C:RSET\r\n",
        "S:250 reset\r\n", "NEXT:QUIT", "C:QUIT\r\n", "CLOSE", NULL,
    };
    run("after a 250, an envelope over SIZE: RSET, then refused", &p, too_big, bytewise);
    CHECK_INT(first_outcome[0], STSM_SMTP_DELIVERED);
    check_rcpt(0, STSM_SMTP_FAILED, 0);
    check_session(STSM_SMTP_FAILED, STSM_ERR_CAPACITY, STSM_SMTP_STAGE_MAIL);
    second.size_estimate = 500;

    /* The server goes away between transactions: the next one's recipients are deferred. */
    static const char *const lost[] = {
        TO_MAIL_PLAIN, "S:250 ok\r\n", "C:RCPT TO:<ops@example.test>\r\n", "S:250 ok\r\n", "C:DATA\r\n",
        "S:354 go\r\n", "BODY", BODY_ON_WIRE, "S:451 later\r\n", "NEXT", "C:RSET\r\n", "S:421 bye\r\n",
        "C:", "CLOSE", NULL,
    };
    run("421 to RSET: the next transaction is deferred", &p, lost, bytewise);
    check_rcpt(0, STSM_SMTP_DEFERRED, 421);
    static const char *const lost_at_mail[] = {
        TO_MAIL_PLAIN, "S:250 ok\r\n", "C:RCPT TO:<ops@example.test>\r\n", "S:250 ok\r\n", "C:DATA\r\n",
        "S:354 go\r\n", "BODY", BODY_ON_WIRE, "S:250 queued\r\n", "NEXT", "C:MAIL FROM:<other@printer.example>\r\n",
        "S:421 bye\r\n", "C:", "CLOSE", NULL,
    };
    run("421 to the next MAIL after a 250: the next transaction is deferred", &p, lost_at_mail, bytewise);
    check_rcpt(0, STSM_SMTP_DEFERRED, 421);

    next_transaction = NULL;
    if (bytewise) {
        return;
    }
    CHECK_CASE("stsm_smtp_next outside await_next, or with a bad envelope, changes nothing");
    static const char *const to_next[] = {
        TO_MAIL_PLAIN, "S:250 ok\r\n", "C:RCPT TO:<ops@example.test>\r\n", "S:250 ok\r\n", "C:DATA\r\n", NULL,
    };
    run("stsm_smtp_next outside await_next", &p, to_next, false);
    CHECK_INT(stsm_smtp_next(&session, &second), STSM_ERR_ARGUMENT);
    CHECK_INT(stsm_smtp_state(&session), STSM_SMTP_AWAIT_DATA);
    CHECK_INT(stsm_smtp_quit(&session), STSM_SMTP_WAIT);
    size_t used;
    action = stsm_smtp_receive(&session, (const uint8_t *)"554 no\r\n", 8, &used);
    CHECK_INT(action, STSM_SMTP_NEXT);
    struct stsm_smtp_params bad = second;
    bad.rcpt[0] = "b@example.test>\r\nRCPT TO:<x@evil.test";
    CHECK_INT(stsm_smtp_next(&session, &bad), STSM_ERR_ARGUMENT);
    bad = second;
    bad.rcpt_count = 0;
    CHECK_INT(stsm_smtp_next(&session, &bad), STSM_ERR_ARGUMENT);
    CHECK_INT(stsm_smtp_state(&session), STSM_SMTP_AWAIT_NEXT);
    CHECK_INT(stsm_smtp_quit(&session), STSM_SMTP_CLOSE);

    /* Without more_transactions the first end is the session's, as before. */
    p.more_transactions = false;
    static const char *const single[] = {
        TO_MAIL_PLAIN, "S:550 no\r\n", "C:QUIT\r\n", "CLOSE", NULL,
    };
    run("without more_transactions a refused MAIL ends the session", &p, single, false);
}

/* ---- CHUNKING (RFC 3030): BDAT instead of DATA, issue 12 ------------------------------ */

#define CHUNK_EHLO "S:220 mx\r\n", "C:EHLO printer.example\r\n", "S:250-mx\r\n250-CHUNKING\r\n250 PIPELINING\r\n"
#define CHUNK_FLIGHT_1 \
    "C:MAIL FROM:<alerts@printer.example>\r\nRCPT TO:<ops@example.test>\r\nRCPT TO:<dev@example.test>\r\n" \
    "BDAT 59 LAST\r\n" BODY_IN_CHUNK
#define CHUNK_FLIGHT_2 "C:MAIL FROM:<other@printer.example>\r\nRCPT TO:<b@example.test>\r\nBDAT 59 LAST\r\n" BODY_IN_CHUNK
/* After a refused first transaction: RSET, the second flight, `replies` to it, the end. */
#define CHUNK_RSET_SECOND(replies) \
    "NEXT", "C:RSET\r\n", "S:250 reset\r\n", "CHUNK", CHUNK_FLIGHT_2, replies, "NEXT:QUIT", "C:QUIT\r\n", "CLOSE", NULL

static unsigned chunk_counts, chunk_counts_8bit;   /* count_for_test's calls, those for 8-bit */

static size_t count_for_test(void *arg, bool eight)
{
    (void)arg;
    chunk_counts++;
    chunk_counts_8bit += eight;
    return CHUNK_OCTETS;
}

/* With CHUNKING and PIPELINING, MAIL, the RCPTs, "BDAT n LAST" and the message go in one
 * flight: no 354 is waited for, so a message takes one round trip. Each fails on the code
 * before, which sent DATA and waited for its 354. */
static void chunking(bool bytewise)
{
    struct stsm_smtp_params p = base();
    p.require_tls = false;
    p.more_transactions = true;
    p.rcpt_count = 2;
    p.rcpt[1] = "dev@example.test";
    p.size_estimate = 0;
    p.chunk_size = p.chunk_size_8bit = CHUNK_OCTETS;
    second = base();
    second.size_estimate = 0;
    second.mail_from = "other@printer.example";
    second.rcpt[0] = "b@example.test";
    second.chunk_size = second.chunk_size_8bit = CHUNK_OCTETS;
    next_transaction = start_second;

    static const char *const two[] = {
        CHUNK_EHLO, "CHUNK", CHUNK_FLIGHT_1, "S:250 ok\r\n250 ok\r\n550 5.1.1 no such user\r\n250 2.0.0 queued 1\r\n",
        "NEXT", "CHUNK", CHUNK_FLIGHT_2, "S:250 ok\r\n250 ok\r\n250 queued 2\r\n", "NEXT:QUIT", "C:QUIT\r\n", "CLOSE",
        NULL,
    };
    run("CHUNKING: MAIL, RCPTs, BDAT and the message in one flight, two transactions", &p, two, bytewise);
    CHECK_INT(server_turns, 4);   /* greeting, EHLO, one round trip a message */
    CHECK_INT(first_outcome[0], STSM_SMTP_DELIVERED);
    CHECK_INT(first_code[0], 250);
    CHECK_INT(first_outcome[1], STSM_SMTP_FAILED);
    CHECK_INT(first_code[1], 550);
    check_rcpt(0, STSM_SMTP_DELIVERED, 250);
    CHECK_STR(stsm_smtp_rcpt_result(&session, 0)->text, "queued 2");
    check_session(STSM_SMTP_PENDING, STSM_OK, STSM_SMTP_STAGE_GREETING);

    /* Every RCPT refused: the chunk went anyway and the server discards it; its refusal is
     * read as such (not a verdict on anyone), RSET comes before the next transaction. */
    static const char *const all_refused[] = {
        CHUNK_EHLO, "CHUNK", CHUNK_FLIGHT_1, "S:250 ok\r\n550 no\r\n450 later\r\n554 5.5.1 no valid recipients\r\n",
        CHUNK_RSET_SECOND("S:250 ok\r\n250 ok\r\n250 queued\r\n"),
    };
    run("CHUNKING: every RCPT refused, BDAT refused: RSET, the next one delivered", &p, all_refused, bytewise);
    CHECK_INT(first_outcome[0], STSM_SMTP_FAILED);
    CHECK_INT(first_code[0], 550);
    CHECK_INT(first_outcome[1], STSM_SMTP_DEFERRED);
    CHECK_INT(first_code[1], 450);
    check_rcpt(0, STSM_SMTP_DELIVERED, 250);

    /* A refused MAIL in the flight: the RCPT and BDAT replies are read, RSET follows. */
    static const char *const mail_refused[] = {
        CHUNK_EHLO, "CHUNK", CHUNK_FLIGHT_1, "S:550 sender refused\r\n503 no MAIL\r\n503 no MAIL\r\n503 no MAIL\r\n",
        CHUNK_RSET_SECOND("S:250 ok\r\n250 ok\r\n250 queued\r\n"),
    };
    run("CHUNKING: MAIL refused in the flight", &p, mail_refused, bytewise);
    CHECK_INT(first_outcome[0], STSM_SMTP_FAILED);
    CHECK_INT(first_code[0], 550);
    CHECK_INT(first_code[1], 550);

    /* BDAT's 4xx is every accepted recipient's, and so is its 5xx. */
    static const char *const refused[] = {
        CHUNK_EHLO, "CHUNK", CHUNK_FLIGHT_1, "S:250 ok\r\n250 ok\r\n250 ok\r\n452 4.3.1 out of space\r\n",
        CHUNK_RSET_SECOND("S:250 ok\r\n250 ok\r\n554 5.6.0 content refused\r\n"),
    };
    run("CHUNKING: BDAT refused with 4xx, then with 5xx", &p, refused, bytewise);
    CHECK_INT(first_outcome[0], STSM_SMTP_DEFERRED);
    CHECK_INT(first_code[0], 452);
    CHECK_INT(first_outcome[1], STSM_SMTP_DEFERRED);
    CHECK_INT(first_code[1], 452);
    check_rcpt(0, STSM_SMTP_FAILED, 554);

    /* Without PIPELINING: command by command, BDAT still (no 354); the size is the 8-bit
     * form's when the server offers 8BITMIME. */
    p.chunk_size = 77;
    p.more_transactions = false;
    static const char *const lockstep[] = {
        "S:220 mx\r\n", "C:EHLO printer.example\r\n", "S:250-mx\r\n250-8BITMIME\r\n250 CHUNKING\r\n",
        "C:MAIL FROM:<alerts@printer.example>\r\n", "S:250 ok\r\n", "C:RCPT TO:<ops@example.test>\r\n",
        "S:250 ok\r\n", "C:RCPT TO:<dev@example.test>\r\n", "S:250 ok\r\n", "CHUNK",
        "C:BDAT 59 LAST\r\n" BODY_IN_CHUNK, "S:250 queued\r\n", "C:QUIT\r\n", "CLOSE", NULL,
    };
    run("CHUNKING without PIPELINING: BDAT after the last RCPT reply", &p, lockstep, bytewise);
    check_rcpt(0, STSM_SMTP_DELIVERED, 250);
    check_rcpt(1, STSM_SMTP_DELIVERED, 250);

    /* No size known: DATA as before, even though CHUNKING is offered. */
    p.chunk_size = p.chunk_size_8bit = 0;
    static const char *const unknown[] = {
        CHUNK_EHLO, "C:MAIL FROM:<alerts@printer.example>\r\nRCPT TO:<ops@example.test>\r\n"
        "RCPT TO:<dev@example.test>\r\nDATA\r\n", "S:250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n", "BODY", BODY_ON_WIRE,
        "S:250 queued\r\n", "C:QUIT\r\n", "CLOSE", NULL,
    };
    run("CHUNKING offered, size unknown: DATA", &p, unknown, bytewise);
    check_rcpt(0, STSM_SMTP_DELIVERED, 250);

    /* The size asked of count_chunk: once the extensions are known, once, in the form they
     * select (8-bit: 8BITMIME offered and an 8-bit body); never without CHUNKING. Fails on
     * the code before, which had no count_chunk and sent DATA. */
    p.count_chunk = count_for_test;
    p.body_8bit = true;
#define EIGHT_BIT_ENVELOPE                                                                              \
    "C:MAIL FROM:<alerts@printer.example> BODY=8BITMIME\r\n", "S:250 ok\r\n", "C:RCPT TO:<ops@example.test>\r\n", \
        "S:250 ok\r\n", "C:RCPT TO:<dev@example.test>\r\n", "S:250 ok\r\n"
    static const char *const counted[] = {
        "S:220 mx\r\n", "C:EHLO printer.example\r\n", "S:250-mx\r\n250-8BITMIME\r\n250 CHUNKING\r\n",
        EIGHT_BIT_ENVELOPE, "CHUNK",
        "C:BDAT 59 LAST\r\n" BODY_IN_CHUNK, "S:250 queued\r\n", "C:QUIT\r\n", "CLOSE", NULL,
    };
    chunk_counts = chunk_counts_8bit = 0;
    run("CHUNKING offered, size unknown, count_chunk given: asked once, after EHLO", &p, counted, bytewise);
    CHECK_INT(chunk_counts, 1);
    CHECK_INT(chunk_counts_8bit, 1);
    check_rcpt(0, STSM_SMTP_DELIVERED, 250);
    static const char *const not_offered[] = {
        "S:220 mx\r\n", "C:EHLO printer.example\r\n", "S:250-mx\r\n250 8BITMIME\r\n",
        EIGHT_BIT_ENVELOPE, "C:DATA\r\n", "S:354 go\r\n", "BODY",
        BODY_ON_WIRE, "S:250 queued\r\n", "C:QUIT\r\n", "CLOSE", NULL,
    };
    chunk_counts = 0;
    run("CHUNKING not offered, count_chunk given: never asked, DATA", &p, not_offered, bytewise);
    CHECK_INT(chunk_counts, 0);
    check_rcpt(0, STSM_SMTP_DELIVERED, 250);
#undef EIGHT_BIT_ENVELOPE
    next_transaction = NULL;
}

/* Feeds `text` whole; returns the action. */
static enum stsm_smtp_action feed_text(const char *text)
{
    size_t used;
    action = stsm_smtp_receive(&session, (const uint8_t *)text, strlen(text), &used);
    CHECK_INT(used, strlen(text));
    drain();
    return action;
}

/* The flight's replies may come while the chunk is still being streamed; BDAT's may not
 * (the server cannot have read the chunk), and then the session ends without QUIT, which
 * the server would read as chunk octets. BDAT's reply is timed as the end of the data's. */
static void chunking_streams(void)
{
    struct stsm_smtp_params p = base();
    p.require_tls = false;
    p.chunk_size = p.chunk_size_8bit = CHUNK_OCTETS;
    for (int early = 0; early < 2; early++) {
        CHECK_CASE(early ? "CHUNKING: BDAT answered before its chunk was sent" : "CHUNKING: replies while streaming");
        CHECK_INT(stsm_smtp_start(&session, &p), STSM_OK);
        action = STSM_SMTP_WAIT;
        sent_len = 0;
        feed_text("220 mx\r\n");
        CHECK_INT(feed_text("250-mx\r\n250-PIPELINING\r\n250 CHUNKING\r\n"), STSM_SMTP_SEND_DATA);
        CHECK(strstr(sent, "BDAT 59 LAST\r\n") != NULL);
        sent_len = 0;
        sent[0] = '\0';
        CHECK_INT(feed_text("250 ok\r\n250 ok\r\n"), STSM_SMTP_WAIT);   /* MAIL, RCPT: mid-chunk */
        CHECK(stsm_smtp_message_due(&session));
        CHECK_INT(stsm_smtp_state(&session), STSM_SMTP_AWAIT_CHUNK_REPLY);
        if (early) {
            CHECK_INT(feed_text("250 queued\r\n"), STSM_SMTP_CLOSE);
            CHECK_INT(sent_len, 0);   /* no QUIT inside the chunk */
            check_rcpt(0, STSM_SMTP_DEFERRED, 0);
            check_session(STSM_SMTP_DEFERRED, STSM_ERR_PEER_PROTOCOL, STSM_SMTP_STAGE_DATA);
            continue;
        }
        CHECK_INT(stsm_smtp_data_done(&session), STSM_SMTP_WAIT);
        CHECK_INT(stsm_smtp_timeout_ms(&session), 10u * 60u * 1000u);
        CHECK_INT(feed_text("250 queued\r\n"), STSM_SMTP_CLOSE);
        CHECK_STR(sent, "QUIT\r\n");
        check_rcpt(0, STSM_SMTP_DELIVERED, 250);
    }
    CHECK_CASE("CHUNKING: the server closes mid-chunk: deferred, no QUIT");
    CHECK_INT(stsm_smtp_start(&session, &p), STSM_OK);
    sent_len = 0;
    action = STSM_SMTP_WAIT;
    feed_text("220 mx\r\n");
    CHECK_INT(feed_text("250-mx\r\n250-PIPELINING\r\n250 CHUNKING\r\n"), STSM_SMTP_SEND_DATA);
    sent_len = 0;
    sent[0] = '\0';
    CHECK_INT(stsm_smtp_timeout(&session), STSM_SMTP_CLOSE);
    drain();
    CHECK_INT(sent_len, 0);
    check_rcpt(0, STSM_SMTP_DEFERRED, 0);

    CHECK_CASE("the chunk encoder: no dot-stuffing, no end marker, CRLF closes the last line");
    struct stsm_smtp_data enc;
    stsm_smtp_data_init_chunk(&enc);
    uint8_t out[64];
    size_t n;
    CHECK_INT(stsm_smtp_data_encode(&enc, (const uint8_t *)".\n..x\r.", 7, out, sizeof out, &n), 7);
    n += stsm_smtp_data_finish(&enc, out + n);
    CHECK_INT(n, 11);
    CHECK(memcmp(out, ".\r\n..x\r\n.\r\n", 11) == 0);
    CHECK_INT(enc.total, 11);
}

/* ---- each EHLO extension line sets its own capability, and only it ---------------------- */

/* The capabilities as text, one name each, for a readable comparison. */
static const char *caps_text(const struct stsm_smtp_caps *c, char *buf, size_t len)
{
    snprintf(buf, len, "%s%s%s%s%s%s%s%s%s limit=%u", c->starttls ? "starttls " : "",
             c->chunking ? "chunking " : "", c->pipelining ? "pipelining " : "",
             c->eightbitmime ? "8bitmime " : "", c->smtputf8 ? "smtputf8 " : "",
             c->enhanced_status ? "enhanced " : "", c->size ? "size " : "", c->auth_plain ? "plain " : "",
             c->auth_login ? "login " : "", (unsigned)c->size_limit);
    return buf;
}

static void extension_keywords(void)
{
    static const struct {
        const char *line;          /* one extension line of the EHLO reply */
        const char *caps;          /* what it must teach, as caps_text() writes it */
    } cases[] = {
        { "STARTTLS", "starttls  limit=0" },
        { "starttls", "starttls  limit=0" },              /* keywords are case-insensitive */
        { "StartTLS extra", "starttls  limit=0" },        /* a parameter after a space */
        { "STARTTLSX", " limit=0" },                      /* a longer keyword is another */
        { "STARTTL", " limit=0" },                        /* so is a shorter one */
        { "X-STARTTLS", " limit=0" },
        { "CHUNKING", "chunking  limit=0" },
        { "PIPELINING", "pipelining  limit=0" },
        { "PIPELINING=1", "pipelining  limit=0" },        /* '=' ends a keyword too */
        { "8BITMIME", "8bitmime  limit=0" },
        { "8bitmime", "8bitmime  limit=0" },
        { "SMTPUTF8", "smtputf8  limit=0" },
        { "ENHANCEDSTATUSCODES", "enhanced  limit=0" },
        { "ENHANCEDSTATUSCODE", " limit=0" },
        { "SIZE", "size  limit=0" },
        { "SIZE 1000", "size  limit=1000" },
        { "size 1000", "size  limit=1000" },
        { "SIZE=1000", "size  limit=0" },                 /* the number after a space only */
        { "SIZES 1000", " limit=0" },
        { "AUTH PLAIN", "plain  limit=0" },
        { "AUTH LOGIN PLAIN", "plain login  limit=0" },
        { "AUTH=LOGIN", "login  limit=0" },
        { "auth plain", "plain  limit=0" },
        { "AUTH PLAINX LOGINX", " limit=0" },
        { "AUTHPLAIN", " limit=0" },
        { "DSN", " limit=0" },
        { "", " limit=0" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        CHECK_CASE(cases[i].line);
        struct stsm_smtp_params p = base();
        p.require_tls = false;
        CHECK_INT(stsm_smtp_start(&session, &p), STSM_OK);
        char ehlo[96], got[160];
        snprintf(ehlo, sizeof ehlo, "250-mx\r\n250 %s\r\n", cases[i].line);
        size_t used;
        stsm_smtp_receive(&session, (const uint8_t *)"220 mx\r\n", 8, &used);
        drain();
        stsm_smtp_receive(&session, (const uint8_t *)ehlo, strlen(ehlo), &used);
        drain();
        CHECK_STR(caps_text(stsm_smtp_caps(&session), got, sizeof got), cases[i].caps);
    }
}

/* ---- how long each state waits (RFC 5321 section 4.5.3.2) ------------------------------- */

static void wait_times(void)
{
    static const struct {
        enum stsm_smtp_state state;
        uint32_t minutes;
    } cases[] = {
        { STSM_SMTP_AWAIT_GREETING, 5 }, { STSM_SMTP_AWAIT_EHLO, 5 }, { STSM_SMTP_AWAIT_HELO, 5 },
        { STSM_SMTP_AWAIT_STARTTLS, 5 }, { STSM_SMTP_AWAIT_TLS, 5 }, { STSM_SMTP_AWAIT_PLAIN_RESULT, 5 },
        { STSM_SMTP_AWAIT_LOGIN_USER_PROMPT, 5 }, { STSM_SMTP_AWAIT_LOGIN_SECRET_PROMPT, 5 },
        { STSM_SMTP_AWAIT_LOGIN_RESULT, 5 }, { STSM_SMTP_AWAIT_RELEASE, 5 }, { STSM_SMTP_AWAIT_MAIL, 5 },
        { STSM_SMTP_AWAIT_RCPT, 5 }, { STSM_SMTP_AWAIT_DATA, 2 }, { STSM_SMTP_AWAIT_FLIGHT_MAIL, 5 },
        { STSM_SMTP_AWAIT_FLIGHT_RCPT, 5 }, { STSM_SMTP_AWAIT_FLIGHT_DATA, 5 }, { STSM_SMTP_AWAIT_MESSAGE, 3 },
        { STSM_SMTP_AWAIT_MESSAGE_REPLY, 10 }, { STSM_SMTP_AWAIT_CHUNK_REPLY, 10 },
        { STSM_SMTP_AWAIT_EMPTY_DATA_END, 2 }, { STSM_SMTP_AWAIT_NEXT, 5 }, { STSM_SMTP_AWAIT_RSET, 5 },
        { STSM_SMTP_FINISHED, 5 },
    };
    CHECK_CASE("every state has its wait");
    CHECK_INT(sizeof cases / sizeof cases[0], STSM_SMTP_STATE_COUNT);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        CHECK_CASE(stsm_smtp_state_name(cases[i].state));
        session.state = cases[i].state;
        CHECK_INT(stsm_smtp_timeout_ms(&session), cases[i].minutes * 60u * 1000u);
    }
}
