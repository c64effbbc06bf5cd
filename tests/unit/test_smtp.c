/*
 * SMTP engine transcripts against scripted servers: the exact bytes the client sends are
 * asserted. Every script runs twice, once with each server line delivered whole and once
 * one byte at a time, and must give the same transcript and results.
 * Also: the reply framer's limits and the DATA encoder.
 */
#include "stsm_base64.h"
#include "stsm_check.h"
#include "stsm_smtp.h"
#include "stsm_smtp_data.h"

static struct stsm_smtp session;
static char sent[16384];
static size_t sent_len;
static enum stsm_smtp_action action;

static void drain(void)
{
    size_t len;
    const uint8_t *out = stsm_smtp_output(&session, &len);
    memcpy(sent + sent_len, out, len);
    sent_len += len;
    sent[sent_len] = '\0';
    stsm_smtp_output_sent(&session, len);
}

static void feed(const char *bytes, bool byte_at_a_time)
{
    size_t len = strlen(bytes), done = 0;
    while (done < len && action == STSM_SMTP_WAIT) {
        size_t chunk = byte_at_a_time ? 1 : len - done, used;
        action = stsm_smtp_receive(&session, (const uint8_t *)bytes + done, chunk, &used);
        done += used;
        drain();
    }
}

static const char body[] = "Subject: test\n\n.hidden line\nline two\r\n..two dots\rlast";
/* What `body` becomes on the wire: CRLF everywhere, dots doubled, the end marker added. */
#define BODY_ON_WIRE "C:Subject: test\r\n\r\n..hidden line\r\nline two\r\n...two dots\r\nlast\r\n.\r\n"

/*
 * Script lines: "S:text" the server sends text; "C:text" the client must have sent
 * exactly text since the last C line; "TLS" the engine asks for TLS, which succeeds;
 * "TLSFAIL" it asks and the handshake fails; "BODY" it asks for the message, which is
 * streamed; "TIMEOUT" no reply comes; "CLOSE" the engine is done.
 */
static void run(const char *intent, const struct stsm_smtp_params *params, const char *const *script,
                bool byte_at_a_time)
{
    char label[160];
    snprintf(label, sizeof label, "%s (%s)", intent, byte_at_a_time ? "byte by byte" : "whole lines");
    CHECK_CASE(label);
    sent_len = 0;
    sent[0] = '\0';
    CHECK_INT(stsm_smtp_start(&session, params), STSM_OK);
    action = STSM_SMTP_WAIT;
    for (const char *const *line = script; *line != NULL; line++) {
        const char *l = *line;
        if (strncmp(l, "S:", 2) == 0) {
            CHECK_INT(action, STSM_SMTP_WAIT);
            feed(l + 2, byte_at_a_time);
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
            struct stsm_smtp_data enc;
            stsm_smtp_data_init(&enc);
            size_t in = 0, out_len;
            while (in < sizeof body - 1) {
                size_t take = sizeof body - 1 - in < 3 ? sizeof body - 1 - in : 3;
                in += stsm_smtp_data_encode(&enc, (const uint8_t *)body + in, take, (uint8_t *)sent + sent_len,
                                            sizeof sent - sent_len, &out_len);
                sent_len += out_len;
            }
            sent_len += stsm_smtp_data_finish(&enc, (uint8_t *)sent + sent_len);
            sent[sent_len] = '\0';
            action = stsm_smtp_data_done(&session);
            drain();
        } else if (strcmp(l, "TIMEOUT") == 0) {
            action = stsm_smtp_timeout(&session);
            drain();
        } else if (strcmp(l, "CLOSE") == 0) {
            CHECK_INT(action, STSM_SMTP_CLOSE);
        }
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
    CHECK_INT(action, STSM_SMTP_CLOSE);
}

static void injection_and_limits(void)
{
    struct stsm_smtp_params p = base();
    static const char *const injected[] = {
        "S:220 mx\r\n", "C:EHLO printer.example\r\n", EHLO_TLS, "C:STARTTLS\r\n",
        "S:220 go ahead\r\n250-injected\r\n", "C:", "CLOSE", NULL,
    };
    run("plaintext after the STARTTLS reply: no TLS, no more commands", &p, injected, false);
    check_session(STSM_SMTP_DEFERRED, STSM_ERR_PEER_PROTOCOL, STSM_SMTP_STAGE_TLS);

    char long_line[STSM_SMTP_LINE_MAX + 20];
    memset(long_line, 'x', sizeof long_line);
    memcpy(long_line, "S:250-", 6);
    strcpy(long_line + sizeof long_line - 3, "\r\n");
    const char *const over_long[] = { "S:220 mx\r\n", "C:EHLO printer.example\r\n", long_line, "C:QUIT\r\n",
                                      "CLOSE", NULL };
    run("over-long reply line", &p, over_long, false);
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

static void framer(void)
{
    struct stsm_smtp_reply_framer f;
    struct stsm_smtp_reply r;
    bool complete;
    size_t used;

    static const struct {
        const char *intent;
        const char *bytes;
        stsm_status_t status;
    } bad[] = {
        { "codes differ between lines", "250-a\r\n251 b\r\n", STSM_ERR_PEER_PROTOCOL },
        { "not a code", "hello\r\n", STSM_ERR_PEER_PROTOCOL },
        { "code out of range", "199 x\r\n", STSM_ERR_PEER_PROTOCOL },
        { "bad separator", "250_x\r\n", STSM_ERR_PEER_PROTOCOL },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_CASE(bad[i].intent);
        stsm_smtp_reply_init(&f);
        CHECK_INT(stsm_smtp_reply_feed(&f, (const uint8_t *)bad[i].bytes, strlen(bad[i].bytes), &used,
                                       &r, &complete), bad[i].status);
    }

    CHECK_CASE("more lines than allowed");
    stsm_smtp_reply_init(&f);
    stsm_status_t st = STSM_OK;
    for (int i = 0; i <= STSM_SMTP_REPLY_LINES_MAX && st == STSM_OK; i++) {
        st = stsm_smtp_reply_feed(&f, (const uint8_t *)"250-x\r\n", 7, &used, &r, &complete);
    }
    CHECK_INT(st, STSM_ERR_PEER_PROTOCOL);

    CHECK_CASE("a bare code line and LF-only line ends");
    stsm_smtp_reply_init(&f);
    CHECK_INT(stsm_smtp_reply_feed(&f, (const uint8_t *)"250\n", 4, &used, &r, &complete), STSM_OK);
    CHECK(complete);
    CHECK_INT(r.code, 250);

    CHECK_CASE("long text is kept up to the limit and flagged");
    stsm_smtp_reply_init(&f);
    char line[300];
    memset(line, 'a', sizeof line);
    memcpy(line, "250-", 4);
    memcpy(line + sizeof line - 2, "\r\n", 2);
    for (int i = 0; i < 3; i++) {
        stsm_smtp_reply_feed(&f, (const uint8_t *)line, sizeof line, &used, &r, &complete);
    }
    CHECK_INT(stsm_smtp_reply_feed(&f, (const uint8_t *)"250 end\r\n", 9, &used, &r, &complete), STSM_OK);
    CHECK(complete && r.text_truncated && r.text_len == STSM_SMTP_REPLY_TEXT_MAX);
    CHECK_INT(r.line_count, 4);

    CHECK_CASE("a reply ends where it ends; the rest stays for later");
    stsm_smtp_reply_init(&f);
    CHECK_INT(stsm_smtp_reply_feed(&f, (const uint8_t *)"220 go\r\nXYZ", 11, &used, &r, &complete), STSM_OK);
    CHECK(complete);
    CHECK_INT(used, 8);
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

int main(void)
{
    transcripts(false);
    transcripts(true);
    injection_and_limits();
    hold();
    framer();
    data_encoder();
    return stsm_check_summary("test_smtp");
}
