/*
 * The SMTP engine built with a 96-byte output queue (STSM_SMTP_QUEUE_SIZE, see
 * CMakeLists.txt): a command that does not fit fails the session loudly (deferred,
 * STSM_ERR_CAPACITY, the text naming STSM_SMTP_OUT_MAX), nothing of the flight it belonged
 * to is sent, only QUIT, and no cut part of it (an AUTH line with the secret) stays in RAM.
 * The real queue holds the longest flight (stsm_config.h checks it), so this is the
 * engine's last line of defence, not a case a valid configuration meets.
 */
#include "stsm_check.h"
#include "stsm_smtp.h"

_Static_assert(STSM_SMTP_QUEUE_SIZE == 96, "built with the small queue");

static struct stsm_smtp s;
static char sent[2048];
static size_t sent_len;

static void drain(void)
{
    size_t len;
    const uint8_t *out = stsm_smtp_output(&s, &len);
    if (sent_len + len < sizeof sent) {
        memcpy(sent + sent_len, out, len);
        sent_len += len;
        sent[sent_len] = '\0';
    }
    stsm_smtp_output_sent(&s, len);
}

/* The server says `text`; the engine's action, its output drained. */
static enum stsm_smtp_action say(const char *text)
{
    size_t used;
    enum stsm_smtp_action a = stsm_smtp_receive(&s, (const uint8_t *)text, strlen(text), &used);
    drain();
    return a;
}

static void start(const struct stsm_smtp_params *p)
{
    sent_len = 0;
    sent[0] = '\0';
    CHECK_INT(stsm_smtp_start(&s, p), STSM_OK);
    drain();
    CHECK_INT(say("220 mx.test\r\n"), STSM_SMTP_WAIT);
}

static void check_failed(enum stsm_smtp_stage want_stage)
{
    enum stsm_smtp_stage stage;
    const struct stsm_smtp_result *r = stsm_smtp_session_result(&s, &stage);
    CHECK_INT(r->outcome, STSM_SMTP_DEFERRED);
    CHECK_INT(r->status, STSM_ERR_CAPACITY);
    CHECK_INT(stage, want_stage);
    CHECK(strstr(r->text, "STSM_SMTP_OUT_MAX") != NULL);
    for (size_t i = 0; i < s.params.rcpt_count; i++) {
        CHECK_INT(stsm_smtp_rcpt_result(&s, i)->outcome, STSM_SMTP_DEFERRED);
        CHECK_INT(stsm_smtp_rcpt_result(&s, i)->status, STSM_ERR_CAPACITY);
    }
}

int main(void)
{
    struct stsm_smtp_params p = { .ehlo_name = "printer.example", .mail_from = "alerts@example.test",
                                  .rcpt = { "ops@example.test", "noc@example.test" }, .rcpt_count = 2 };

    CHECK_CASE("a pipelined flight that fits the queue goes out whole");
    start(&p);
    CHECK_INT(say("250-mx.test\r\n250 PIPELINING\r\n"), STSM_SMTP_WAIT);
    CHECK_STR(sent, "EHLO printer.example\r\nMAIL FROM:<alerts@example.test>\r\n"
                    "RCPT TO:<ops@example.test>\r\nRCPT TO:<noc@example.test>\r\nDATA\r\n");

    CHECK_CASE("a flight over the queue fails the session, only QUIT is sent");
    p.rcpt[2] = "a-third-recipient@example.test";
    p.rcpt_count = 3;
    start(&p);
    CHECK_INT(say("250-mx.test\r\n250 PIPELINING\r\n"), STSM_SMTP_CLOSE);
    CHECK_STR(sent, "EHLO printer.example\r\nQUIT\r\n");
    CHECK_INT(stsm_smtp_state(&s), STSM_SMTP_FINISHED);
    check_failed(STSM_SMTP_STAGE_MAIL);

    CHECK_CASE("the same envelope one command at a time fits: no failure");
    start(&p);
    CHECK_INT(say("250 mx.test\r\n"), STSM_SMTP_WAIT);
    CHECK_INT(say("250 ok\r\n"), STSM_SMTP_WAIT);
    CHECK_INT(say("250 ok\r\n"), STSM_SMTP_WAIT);
    CHECK_INT(say("250 ok\r\n"), STSM_SMTP_WAIT);
    CHECK_INT(say("250 ok\r\n"), STSM_SMTP_WAIT);
    CHECK_STR(sent, "EHLO printer.example\r\nMAIL FROM:<alerts@example.test>\r\n"
                    "RCPT TO:<ops@example.test>\r\nRCPT TO:<noc@example.test>\r\n"
                    "RCPT TO:<a-third-recipient@example.test>\r\nDATA\r\n");

    CHECK_CASE("an AUTH PLAIN line over the queue: failed at AUTH, no part of it left behind");
    static const char secret[] = "correct-horse-battery-staple-0123456789";
    struct stsm_smtp_params a = p;
    a.rcpt_count = 1;
    a.implicit_tls = true;
    a.require_tls = true;
    a.auth_user = "printer-user@example.test";
    a.auth_secret = secret;
    start(&a);
    CHECK_INT(say("250-mx.test\r\n250 AUTH PLAIN\r\n"), STSM_SMTP_CLOSE);
    CHECK_STR(sent, "EHLO printer.example\r\nQUIT\r\n");
    check_failed(STSM_SMTP_STAGE_AUTH);
    bool clean = true;
    for (size_t i = 0; i < sizeof s.out; i++) {
        clean = clean && s.out[i] == 0;
    }
    CHECK(clean);
    return stsm_check_summary("test_smtp_queue");
}
