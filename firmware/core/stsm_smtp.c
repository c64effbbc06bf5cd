#include "stsm_smtp.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "stsm_base64.h"
#include "stsm_text.h"
#include "stsm_wipe.h"

/* For small helpers with many callers: -Os would copy their bodies into each caller, and
 * one call is shorter (together 231 bytes of this file on mps2-an385, measured). */
#define OUT_OF_LINE __attribute__((noinline))

/* ---- states ------------------------------------------------------------------------ */

/* The stage a failure in `state` is reported at; from the state table, after the handlers. */
OUT_OF_LINE static enum stsm_smtp_stage stage_of(enum stsm_smtp_state state);

/* The only way to change state (no other line writes s->state). A new state is a new
 * wait, so the caller's reply timer is re-armed for it. */
OUT_OF_LINE static void set_state(struct stsm_smtp *s, enum stsm_smtp_state next)
{
    s->state = next;
    s->wait_serial++;
}

static bool finished(const struct stsm_smtp *s)
{
    return s->state == STSM_SMTP_FINISHED;
}

/* ASCII case-insensitive comparison of `n` bytes (SMTP keywords are ASCII). */
static bool same_word(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char x = a[i], y = b[i];
        if (x >= 'a' && x <= 'z') {
            x = (char)(x - 'a' + 'A');
        }
        if (y >= 'a' && y <= 'z') {
            y = (char)(y - 'a' + 'A');
        }
        if (x != y) {
            return false;
        }
    }
    return true;
}

/* ---- output ------------------------------------------------------------------------ */

/* Parameters are length-checked at start and STSM_SMTP_OUT_MAX holds the longest flight
 * (stsm_config.h), so a command always fits; if one ever did not, it is not cut or dropped
 * quietly: the queue refuses every later command too (a flight with a hole would be read
 * out of step) and the caller's next step fails the session (queue_check()). */
__attribute__((format(printf, 2, 3)))
static void queue(struct stsm_smtp *s, const char *fmt, ...)
{
    if (s->out_overflow) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf((char *)s->out + s->out_len, sizeof s->out - s->out_len, fmt, ap);
    va_end(ap);
    if (n > 0 && (size_t)n < sizeof s->out - s->out_len) {
        s->out_len += (size_t)n;
        return;
    }
    stsm_wipe(s->out + s->out_len, sizeof s->out - s->out_len);   /* the cut part (maybe AUTH) */
    s->out_overflow = true;
}

const uint8_t *stsm_smtp_output(const struct stsm_smtp *s, size_t *len)
{
    *len = s->out_len;
    return s->out;
}

void stsm_smtp_output_sent(struct stsm_smtp *s, size_t n)
{
    if (n > s->out_len) {
        n = s->out_len;
    }
    if (n == 0) {
        return;
    }
    /* Every command is one line and expects one reply: a reply may come only for lines
     * the server has been given in full. */
    for (size_t i = 0; i < n; i++) {
        if (s->out[i] == '\n') {
            s->replies_due++;
        }
    }
    s->out_mid_line = s->out[n - 1] != '\n';
    /* Sent bytes leave no copy behind: the queue held an AUTH line with the credentials. */
    size_t left = s->out_len - n;
    memmove(s->out, s->out + n, left);
    stsm_wipe(s->out + left, n);
    s->out_len = left;
}

/* Drops the commands not yet handed over (nothing but QUIT follows a failure), keeping
 * the rest of a line already partly handed over so the server still sees whole lines. */
static void drop_unsent(struct stsm_smtp *s)
{
    size_t keep = 0;
    if (s->out_mid_line) {
        const uint8_t *end = memchr(s->out, '\n', s->out_len);
        keep = end != NULL ? (size_t)(end - s->out) + 1 : s->out_len;
    }
    stsm_wipe(s->out + keep, s->out_len - keep);
    s->out_len = keep;
}

/* ---- results ----------------------------------------------------------------------- */

/* The text is the reply's first line, or empty for the caller to write a local one (a
 * marked text: an id on the boards, see stsm_text.h). */
OUT_OF_LINE static void set_result(struct stsm_smtp_result *r, enum stsm_smtp_outcome outcome,
                       stsm_status_t status, const struct stsm_smtp_reply *reply)
{
    r->outcome = outcome;
    r->status = status;
    r->code = reply != NULL ? reply->code : 0;
    r->text[0] = '\0';
    if (reply != NULL) {
        stsm_smtp_reply_first_line(reply, r->text, sizeof r->text);
    }
}

OUT_OF_LINE static enum stsm_smtp_outcome outcome_of(uint16_t code)
{
    return code >= 500 ? STSM_SMTP_FAILED : STSM_SMTP_DEFERRED;
}

static bool positive(const struct stsm_smtp_reply *reply)
{
    return reply->code >= 200 && reply->code < 300;
}

static bool session_failed(const struct stsm_smtp *s)
{
    return s->session.outcome != STSM_SMTP_PENDING;
}

/* Keeps the first failure of the session and where it happened; later ones are its
 * consequences. True when this one was kept (its text, if local, is the caller's to write). */
static bool note_failure(struct stsm_smtp *s, enum stsm_smtp_stage stage, enum stsm_smtp_outcome outcome,
                         stsm_status_t status, const struct stsm_smtp_reply *reply)
{
    if (session_failed(s)) {
        return false;
    }
    set_result(&s->session, outcome, status, reply);
    s->failed_stage = stage;
    return true;
}

/* note_failure with a local text: a fixed text (STSM_TEXT_FIXED), as all but two of the
 * engine's own reasons are; those two format theirs after note_failure(). No format and
 * arguments passed down: on the MCU a variadic step costs more than the texts it saves. */
static void note_local(struct stsm_smtp *s, enum stsm_smtp_stage stage, enum stsm_smtp_outcome outcome,
                       stsm_status_t status, stsm_text_fixed_t why)
{
    if (note_failure(s, stage, outcome, status, NULL)) {
        stsm_text_copy(s->session.text, sizeof s->session.text, why);
    }
}


/* Ends the transaction: every recipient not yet decided takes the session's result. Then
 * either the caller is asked for the next transaction (`next`) or the session ends. */
static enum stsm_smtp_action end(struct stsm_smtp *s, bool send_quit, bool next)
{
    if (s->chunk_streaming) {
        /* The server takes every byte we send now as chunk octets: a QUIT or the next
         * transaction's commands would be message text. Only closing is left. */
        send_quit = false;
        next = false;
        s->chunk_streaming = false;   /* nothing more of it goes: the connection closes */
    }
    drop_unsent(s);
    for (size_t i = 0; i < s->params.rcpt_count; i++) {
        if (s->rcpt[i].outcome == STSM_SMTP_PENDING) {
            s->rcpt[i] = s->session;
            if (s->rcpt[i].outcome == STSM_SMTP_PENDING) {
                /* Accepted by RCPT but the message was never confirmed. */
                set_result(&s->rcpt[i], STSM_SMTP_DEFERRED, STSM_ERR_PEER_PROTOCOL, NULL);
                stsm_text_copy(s->rcpt[i].text, sizeof s->rcpt[i].text,
                               STSM_TEXT_FIXED("session ended before the message was accepted"));
            }
        }
    }
    if (next) {
        set_state(s, STSM_SMTP_AWAIT_NEXT);
        return STSM_SMTP_NEXT;
    }
    if (send_quit) {
        queue(s, "QUIT\r\n");
    }
    set_state(s, STSM_SMTP_FINISHED);
    return STSM_SMTP_CLOSE;
}

/* What a refusal of one transaction leaves: the server's answer to its MAIL, RCPTs or
 * DATA (or our SIZE check) ends that transaction, not the session; anything local,
 * out of step or earlier does. */
static bool only_the_transaction_failed(const struct stsm_smtp *s)
{
    if (!session_failed(s)) {
        return true;
    }
    enum stsm_smtp_stage stage = s->failed_stage;
    return (stage == STSM_SMTP_STAGE_MAIL || stage == STSM_SMTP_STAGE_RCPT || stage == STSM_SMTP_STAGE_DATA) &&
           (s->session.status == STSM_OK || s->session.status == STSM_ERR_CAPACITY);
}

/* Ends the transaction, and the session unless the caller may go on with another. */
static enum stsm_smtp_action finish(struct stsm_smtp *s, bool send_quit)
{
    return end(s, send_quit, send_quit && s->params.more_transactions && only_the_transaction_failed(s));
}

/* The session fails as a whole in the current state, on the server's reply. */
static enum stsm_smtp_action fail(struct stsm_smtp *s, enum stsm_smtp_outcome outcome,
                                  stsm_status_t status, const struct stsm_smtp_reply *reply, bool send_quit)
{
    note_failure(s, stage_of(s->state), outcome, status, reply);
    return finish(s, send_quit);
}

/* The session fails as a whole in the current state, for a local reason (deferred). */
static enum stsm_smtp_action fail_local(struct stsm_smtp *s, stsm_status_t status, bool send_quit,
                                        stsm_text_fixed_t why)
{
    note_local(s, stage_of(s->state), STSM_SMTP_DEFERRED, status, why);
    return finish(s, send_quit);
}

/* A refusal: 4xx defers, 5xx fails. (421, which also closes, never reaches here.) */
static enum stsm_smtp_action fail_reply(struct stsm_smtp *s, const struct stsm_smtp_reply *reply)
{
    return fail(s, outcome_of(reply->code), STSM_OK, reply, true);
}

/* The server broke the protocol. After 354 every byte we send is message text, so no
 * QUIT then: the connection is simply closed. */
static enum stsm_smtp_action protocol_failure(struct stsm_smtp *s, bool send_quit, stsm_text_fixed_t why)
{
    /* A server that broke the protocol gets no further transaction, whatever failed before
     * (a refused MAIL noted first must not make this look like a transaction's failure):
     * bytes it sent may still be unread and would pass for the reply to RSET. */
    note_local(s, stage_of(s->state), STSM_SMTP_DEFERRED, STSM_ERR_PEER_PROTOCOL, why);
    return end(s, send_quit && s->state != STSM_SMTP_AWAIT_MESSAGE, false);
}

/* ---- commands ---------------------------------------------------------------------- */

/* The command just queued is answered in `next`. */
static enum stsm_smtp_action await(struct stsm_smtp *s, enum stsm_smtp_state next)
{
    set_state(s, next);
    return STSM_SMTP_WAIT;
}

static enum stsm_smtp_action send_ehlo(struct stsm_smtp *s)
{
    memset(&s->caps, 0, sizeof s->caps);
    queue(s, "EHLO %s\r\n", s->params.ehlo_name);
    return await(s, STSM_SMTP_AWAIT_EHLO);
}

static void queue_mail(struct stsm_smtp *s)
{
    queue(s, "MAIL FROM:<%s>", s->params.mail_from);
    if (s->caps.size && s->params.size_estimate > 0) {
        queue(s, " SIZE=%lu", (unsigned long)s->params.size_estimate);
    }
    if (s->caps.eightbitmime && s->params.body_8bit) {
        queue(s, " BODY=8BITMIME");
    }
    queue(s, "\r\n");
}

OUT_OF_LINE static void queue_rcpt(struct stsm_smtp *s, size_t i)
{
    queue(s, "RCPT TO:<%s>\r\n", s->params.rcpt[i]);
}

/* The exact octet count for BDAT in the form the message will take (the caller sends it
 * 8-bit when the server offers 8BITMIME), kept as the transaction's chunk_size; 0 when
 * unknown or not offered: DATA then. Only here, the extensions known, is the caller asked
 * to count it (a pass over its message), once per transaction. */
OUT_OF_LINE static size_t chunk_octets(struct stsm_smtp *s)
{
    size_t n = 0;
    if (s->caps.chunking) {
        bool eight = s->caps.eightbitmime;
        n = eight ? s->params.chunk_size_8bit : s->params.chunk_size;
        if (n == 0 && s->params.count_chunk != NULL) {
            n = s->params.count_chunk(s->params.count_arg, eight && s->params.body_8bit);
        }
    }
    return s->chunk_size = n;
}

/* "BDAT n LAST" (RFC 3030), n the chunk_size chunk_octets() set: the caller streams the n
 * octets next, then calls stsm_smtp_data_done(). Its reply is counted with the line, but
 * accepted only after the octets were handed over (on_chunk_reply). */
static enum stsm_smtp_action queue_bdat(struct stsm_smtp *s, enum stsm_smtp_state next)
{
    queue(s, "BDAT %lu LAST\r\n", (unsigned long)s->chunk_size);
    s->chunk_streaming = true;
    set_state(s, next);
    return STSM_SMTP_SEND_DATA;
}

/* The envelope: MAIL FROM, then the recipients one reply at a time, or all of it and
 * DATA in one flight when the server pipelines; with CHUNKING the flight ends with BDAT
 * and the message itself, so no 354 is waited for. */
static enum stsm_smtp_action start_mail(struct stsm_smtp *s)
{
    /* stsm_smtp_release() comes back here from the hold to go on. */
    if (s->params.hold_before_mail && s->state != STSM_SMTP_AWAIT_RELEASE) {
        set_state(s, STSM_SMTP_AWAIT_RELEASE);
        return STSM_SMTP_HOLD;
    }
    if (s->caps.size_limit > 0 && s->params.size_estimate > s->caps.size_limit) {
        if (note_failure(s, STSM_SMTP_STAGE_MAIL, STSM_SMTP_FAILED, STSM_ERR_CAPACITY, NULL)) {
            stsm_text_format(s->session.text, sizeof s->session.text,
                             STSM_TEXT("message of about %lu bytes exceeds the server's SIZE %lu",
                                       (unsigned long)s->params.size_estimate, (unsigned long)s->caps.size_limit));
        }
        return finish(s, true);
    }
    queue_mail(s);
    if (!s->caps.pipelining) {
        return await(s, STSM_SMTP_AWAIT_MAIL);
    }
    for (size_t i = 0; i < s->params.rcpt_count; i++) {
        queue_rcpt(s, i);
    }
    if (chunk_octets(s) > 0) {
        return queue_bdat(s, STSM_SMTP_AWAIT_FLIGHT_MAIL);
    }
    queue(s, "DATA\r\n");
    return await(s, STSM_SMTP_AWAIT_FLIGHT_MAIL);
}

/* `command` and `raw` in base64 as one line (AUTH's credentials); no copy is left. */
static void queue_base64(struct stsm_smtp *s, const char *command, const uint8_t *raw, size_t len)
{
    char b64[STSM_BASE64_LEN(2 * STSM_SMTP_ADDRESS_MAX + 2) + 1];
    size_t n = stsm_base64_encode(raw, len, b64);
    b64[n] = '\0';
    queue(s, "%s%s\r\n", command, b64);
    stsm_wipe(b64, sizeof b64);
}

/* authzid NUL authcid NUL passwd (RFC 4616), in base64; no copy of the secret is left. */
static void queue_auth_plain(struct stsm_smtp *s)
{
    const char *user = s->params.auth_user, *secret = s->params.auth_secret;
    uint8_t raw[2 * STSM_SMTP_ADDRESS_MAX + 2];
    size_t ulen = strlen(user), slen = strlen(secret);
    raw[0] = 0;
    memcpy(raw + 1, user, ulen);
    raw[1 + ulen] = 0;
    memcpy(raw + 2 + ulen, secret, slen);
    queue_base64(s, "AUTH PLAIN ", raw, ulen + slen + 2);
    stsm_wipe(raw, sizeof raw);
}

static enum stsm_smtp_action start_auth(struct stsm_smtp *s)
{
    if (s->caps.auth_plain) {
        queue_auth_plain(s);
        return await(s, STSM_SMTP_AWAIT_PLAIN_RESULT);
    }
    if (s->caps.auth_login) {
        queue(s, "AUTH LOGIN\r\n");
        return await(s, STSM_SMTP_AWAIT_LOGIN_USER_PROMPT);
    }
    note_local(s, STSM_SMTP_STAGE_AUTH, STSM_SMTP_DEFERRED, STSM_ERR_NOT_CONFIGURED,
               STSM_TEXT_FIXED("the server offers neither AUTH PLAIN nor AUTH LOGIN"));
    return finish(s, true);
}

/* After a usable EHLO (or HELO): TLS policy, then AUTH, then the envelope. */
static enum stsm_smtp_action after_greeting_exchange(struct stsm_smtp *s)
{
    if (!s->tls_active) {
        /* require_tls wins over no_starttls: a plaintext retry planned before TLS became
         * required must not turn into plaintext. */
        if (s->caps.starttls && (!s->params.no_starttls || s->params.require_tls)) {
            queue(s, "STARTTLS\r\n");
            return await(s, STSM_SMTP_AWAIT_STARTTLS);
        }
        if (s->params.require_tls) {
            return fail_local(s, STSM_ERR_TLS_NOT_OFFERED, true,
                              STSM_TEXT_FIXED("TLS is required and the server does not offer STARTTLS"));
        }
    }
    if (s->params.auth_user != NULL) {
        return start_auth(s);
    }
    return start_mail(s);
}

/* ---- replies ----------------------------------------------------------------------- */

static bool keyword(const char *line, size_t len, const char *word, const char **rest)
{
    size_t n = strlen(word);
    if (len < n || !same_word(line, word, n) || (len > n && line[n] != ' ' && line[n] != '=')) {
        return false;
    }
    *rest = line + n;
    return true;
}

/* SIZE's parameter. The overflow test comes before the multiplication and does not
 * depend on the width of long (32 bits on Cortex-M, where "SIZE 4294967297" wrapped to 1
 * and failed every message). A value past UINT32_MAX is absurd: "no limit given", 0. */
static uint32_t size_parameter(const char *d, const char *end)
{
    uint32_t limit = 0;
    for (; d < end && *d >= '0' && *d <= '9'; d++) {
        uint32_t digit = (uint32_t)(*d - '0');
        if (limit > (UINT32_MAX - digit) / 10u) {
            return 0;
        }
        limit = limit * 10u + digit;
    }
    return limit;
}

/* AUTH's mechanism names, separated by spaces (old servers write "AUTH=LOGIN"). */
static void auth_mechanisms(struct stsm_smtp *s, const char *m, const char *end)
{
    while (m < end) {
        while (m < end && (*m == ' ' || *m == '=')) {
            m++;
        }
        const char *word = m;
        while (m < end && *m != ' ') {
            m++;
        }
        if (m - word == 5 && same_word(word, "PLAIN", 5)) {
            s->caps.auth_plain = true;
        } else if (m - word == 5 && same_word(word, "LOGIN", 5)) {
            s->caps.auth_login = true;
        }
    }
}

/* The extensions we use, in the order they are tried (each keyword once, NUL after each;
 * the table keeps the names in one string, not one call a keyword). The first six only
 * set their flag; SIZE and AUTH take a parameter. */
static const char extension_names[] = "STARTTLS\0CHUNKING\0PIPELINING\0" "8BITMIME\0SMTPUTF8\0"
                                      "ENHANCEDSTATUSCODES\0SIZE\0AUTH";
static const uint8_t extension_flags[] = {
    offsetof(struct stsm_smtp_caps, starttls),     offsetof(struct stsm_smtp_caps, chunking),
    offsetof(struct stsm_smtp_caps, pipelining),   offsetof(struct stsm_smtp_caps, eightbitmime),
    offsetof(struct stsm_smtp_caps, smtputf8),     offsetof(struct stsm_smtp_caps, enhanced_status),
};
#define EXTENSION_SIZE 6
#define EXTENSION_AUTH 7
_Static_assert(sizeof extension_flags == EXTENSION_SIZE, "a flag for each extension before SIZE");

/* Reads one extension line of an EHLO reply (every line after the first is one keyword
 * with optional parameters). Called for each line as the framer completes it, so no
 * extension depends on how much reply text is kept. */
static void parse_capability(struct stsm_smtp *s, const char *line, size_t len)
{
    const char *rest, *end = line + len, *word = extension_names;
    for (unsigned i = 0; i <= EXTENSION_AUTH; i++, word += strlen(word) + 1) {
        if (!keyword(line, len, word, &rest)) {
            continue;
        }
        if (i < EXTENSION_SIZE) {
            *(bool *)((char *)&s->caps + extension_flags[i]) = true;
        } else if (i == EXTENSION_SIZE) {
            s->caps.size = true;
            s->caps.size_limit = size_parameter(rest < end && *rest == ' ' ? rest + 1 : rest, end);
        } else {
            auth_mechanisms(s, rest, end);
        }
        return;
    }
}

/* A recipient refused by RCPT is decided now; one accepted waits for the message's verdict. */
static void record_rcpt(struct stsm_smtp *s, size_t i, const struct stsm_smtp_reply *reply)
{
    if (positive(reply)) {
        s->rcpt_accepted++;
        s->rcpt[i].code = reply->code;
        return;
    }
    set_result(&s->rcpt[i], outcome_of(reply->code), STSM_OK, reply);
}

/* One function per state: what the reply awaited there means, and where it leads. A 421
 * never reaches them (see on_reply). */
typedef enum stsm_smtp_action (*reply_handler)(struct stsm_smtp *s, const struct stsm_smtp_reply *reply);

static enum stsm_smtp_action on_greeting(struct stsm_smtp *s, const struct stsm_smtp_reply *reply)
{
    return reply->code == 220 ? send_ehlo(s) : fail_reply(s, reply);
}

static enum stsm_smtp_action on_ehlo(struct stsm_smtp *s, const struct stsm_smtp_reply *reply)
{
    if (positive(reply)) {
        s->caps.esmtp = true;   /* the extensions were read line by line */
        return after_greeting_exchange(s);
    }
    /* An old server without EHLO gets HELO, but only when the session needs no
     * extension: TLS and AUTH cannot be had without one. */
    if (reply->code >= 500 && !s->params.require_tls && s->params.auth_user == NULL && !s->tls_active) {
        queue(s, "HELO %s\r\n", s->params.ehlo_name);
        return await(s, STSM_SMTP_AWAIT_HELO);
    }
    return fail_reply(s, reply);
}

/* The capabilities stay as sending EHLO cleared them: a refused EHLO announces none. */
static enum stsm_smtp_action on_helo(struct stsm_smtp *s, const struct stsm_smtp_reply *reply)
{
    return positive(reply) ? start_mail(s) : fail_reply(s, reply);
}

static enum stsm_smtp_action on_starttls(struct stsm_smtp *s, const struct stsm_smtp_reply *reply)
{
    if (reply->code == 220) {
        set_state(s, STSM_SMTP_AWAIT_TLS);
        return STSM_SMTP_START_TLS;
    }
    if (s->params.require_tls || s->params.auth_user != NULL) {
        return fail(s, STSM_SMTP_DEFERRED, STSM_ERR_TLS_NOT_OFFERED, reply, true);
    }
    /* Opportunistic: the server declined STARTTLS; carry on in plaintext. */
    s->starttls_refused = true;
    return start_mail(s);
}

static enum stsm_smtp_action on_auth_result(struct stsm_smtp *s, const struct stsm_smtp_reply *reply)
{
    return reply->code == 235 ? start_mail(s) : fail_reply(s, reply);
}

/* AUTH LOGIN's prompts (RFC 4954 section 4): each 334 is answered with one base64 line,
 * the user name to the first, the secret to the second; the state after each is the one
 * that follows it in the enum. */
static enum stsm_smtp_action on_login_prompt(struct stsm_smtp *s, const struct stsm_smtp_reply *reply)
{
    if (reply->code != 334) {
        return fail_reply(s, reply);
    }
    const char *answer = s->state == STSM_SMTP_AWAIT_LOGIN_USER_PROMPT ? s->params.auth_user : s->params.auth_secret;
    queue_base64(s, "", (const uint8_t *)answer, strlen(answer));
    return await(s, (enum stsm_smtp_state)(s->state + 1));
}
_Static_assert(STSM_SMTP_AWAIT_LOGIN_SECRET_PROMPT == STSM_SMTP_AWAIT_LOGIN_USER_PROMPT + 1 &&
               STSM_SMTP_AWAIT_LOGIN_RESULT == STSM_SMTP_AWAIT_LOGIN_SECRET_PROMPT + 1,
               "the AUTH LOGIN states follow each other");

static enum stsm_smtp_action on_mail(struct stsm_smtp *s, const struct stsm_smtp_reply *reply)
{
    if (!positive(reply)) {
        return fail_reply(s, reply);
    }
    s->rcpt_next = 0;
    queue_rcpt(s, 0);
    return await(s, STSM_SMTP_AWAIT_RCPT);
}

static enum stsm_smtp_action on_rcpt(struct stsm_smtp *s, const struct stsm_smtp_reply *reply)
{
    record_rcpt(s, s->rcpt_next++, reply);
    if (s->rcpt_next < s->params.rcpt_count) {
        queue_rcpt(s, s->rcpt_next);
        return STSM_SMTP_WAIT;
    }
    if (s->rcpt_accepted == 0) {
        return finish(s, true);
    }
    if (chunk_octets(s) > 0) {
        return queue_bdat(s, STSM_SMTP_AWAIT_CHUNK_REPLY);
    }
    queue(s, "DATA\r\n");
    return await(s, STSM_SMTP_AWAIT_DATA);
}

/* The reply to DATA, sent alone or at the end of a flight. */
static enum stsm_smtp_action on_data(struct stsm_smtp *s, const struct stsm_smtp_reply *reply)
{
    if (reply->code == 354) {
        if (!session_failed(s) && s->rcpt_accepted > 0) {
            set_state(s, STSM_SMTP_AWAIT_MESSAGE);
            return STSM_SMTP_SEND_DATA;
        }
        /* RFC 2920: DATA accepted though nothing can be delivered: end it empty. */
        queue(s, ".\r\n");
        return await(s, STSM_SMTP_AWAIT_EMPTY_DATA_END);
    }
    if (session_failed(s) || s->rcpt_accepted == 0) {
        return finish(s, true);
    }
    return fail_reply(s, reply);
}

/* In a flight a refused MAIL does not end the session at once: the replies to the RCPTs
 * and DATA already sent are still owed, and are read (and ignored) first. */
static enum stsm_smtp_action on_flight_mail(struct stsm_smtp *s, const struct stsm_smtp_reply *reply)
{
    if (!positive(reply)) {
        note_failure(s, STSM_SMTP_STAGE_MAIL, outcome_of(reply->code), STSM_OK, reply);
    }
    s->rcpt_next = 0;
    return await(s, STSM_SMTP_AWAIT_FLIGHT_RCPT);
}

static enum stsm_smtp_action on_flight_rcpt(struct stsm_smtp *s, const struct stsm_smtp_reply *reply)
{
    if (!session_failed(s)) {
        record_rcpt(s, s->rcpt_next, reply);
    }
    if (++s->rcpt_next == s->params.rcpt_count) {
        return await(s, s->chunk_size > 0 ? STSM_SMTP_AWAIT_CHUNK_REPLY : STSM_SMTP_AWAIT_FLIGHT_DATA);
    }
    return STSM_SMTP_WAIT;
}

static enum stsm_smtp_action on_message_reply(struct stsm_smtp *s, const struct stsm_smtp_reply *reply)
{
    /* A 250 here ends the transaction on the server too (RFC 5321 section 4.1.1.4): the
     * next one needs no RSET. After a refusal RSET stays, whatever the server kept. */
    s->server_reset = positive(reply);
    for (size_t i = 0; i < s->params.rcpt_count; i++) {
        if (s->rcpt[i].outcome == STSM_SMTP_PENDING) {
            set_result(&s->rcpt[i], positive(reply) ? STSM_SMTP_DELIVERED : outcome_of(reply->code), STSM_OK,
                       reply);
        }
    }
    return finish(s, true);
}

/* The reply to "BDAT n LAST". After a refused MAIL or every RCPT refused the server has
 * read and discarded the chunk (RFC 3030 section 2): its reply, a refusal as a rule, says
 * nothing about recipients already decided, and the session goes on (RSET first). */
static enum stsm_smtp_action on_chunk_reply(struct stsm_smtp *s, const struct stsm_smtp_reply *reply)
{
    if (s->chunk_streaming) {
        return protocol_failure(s, false, STSM_TEXT_FIXED("reply to BDAT before its chunk was sent"));
    }
    if (session_failed(s) || s->rcpt_accepted == 0) {
        return finish(s, true);
    }
    return on_message_reply(s, reply);
}

static enum stsm_smtp_action on_empty_data_end(struct stsm_smtp *s, const struct stsm_smtp_reply *reply)
{
    (void)reply;   /* the recipients were decided by their RCPT replies */
    return finish(s, true);
}

/* RSET is always accepted by a server in step (RFC 5321 section 4.1.1.5): a refusal ends
 * the session rather than risk a transaction mixed with the last one. */
static enum stsm_smtp_action on_rset(struct stsm_smtp *s, const struct stsm_smtp_reply *reply)
{
    if (!positive(reply)) {
        return fail(s, STSM_SMTP_DEFERRED, STSM_ERR_PEER_PROTOCOL, reply, true);
    }
    return start_mail(s);
}

/* States that await the caller, not the server: stsm_smtp_receive() already refuses a
 * reply there, as none is owed; this is the backstop. */
static enum stsm_smtp_action on_unexpected(struct stsm_smtp *s, const struct stsm_smtp_reply *reply)
{
    return fail(s, STSM_SMTP_DEFERRED, STSM_ERR_PEER_PROTOCOL, reply, true);
}

/* Everything about a state in one row: its name for logs, the stage a failure in it is
 * reported at (held nowhere else, so it cannot drift from the state), how long its wait
 * may take (RFC 5321 section 4.5.3.2: greeting, MAIL and RCPT 5 minutes, EHLO, STARTTLS
 * and AUTH timed alike; a pipelined flight as its first command, MAIL; BDAT's reply as
 * the end of the data's) and its reply
 * handler. States that await the caller take any reply as a protocol error. The names
 * are a table of their own, read only by stsm_smtp_state_name(): an image that never calls
 * it (the boards) links without them. */
#define STATE_ROWS(X) \
    X(AWAIT_GREETING, "await_greeting", GREETING, 5, on_greeting) \
    X(AWAIT_EHLO, "await_ehlo", EHLO, 5, on_ehlo) \
    X(AWAIT_HELO, "await_helo", EHLO, 5, on_helo) \
    X(AWAIT_STARTTLS, "await_starttls", STARTTLS, 5, on_starttls) \
    X(AWAIT_TLS, "await_tls", TLS, 5, on_unexpected) \
    X(AWAIT_PLAIN_RESULT, "await_plain_result", AUTH, 5, on_auth_result) \
    X(AWAIT_LOGIN_USER_PROMPT, "await_login_user_prompt", AUTH, 5, on_login_prompt) \
    X(AWAIT_LOGIN_SECRET_PROMPT, "await_login_secret_prompt", AUTH, 5, on_login_prompt) \
    X(AWAIT_LOGIN_RESULT, "await_login_result", AUTH, 5, on_auth_result) \
    X(AWAIT_RELEASE, "await_release", MAIL, 5, on_unexpected) \
    X(AWAIT_MAIL, "await_mail", MAIL, 5, on_mail) \
    X(AWAIT_RCPT, "await_rcpt", RCPT, 5, on_rcpt) \
    X(AWAIT_DATA, "await_data", DATA, 2, on_data) \
    X(AWAIT_FLIGHT_MAIL, "await_flight_mail", MAIL, 5, on_flight_mail) \
    X(AWAIT_FLIGHT_RCPT, "await_flight_rcpt", RCPT, 5, on_flight_rcpt) \
    X(AWAIT_FLIGHT_DATA, "await_flight_data", DATA, 5, on_data) \
    X(AWAIT_MESSAGE, "await_message", DATA, 3, on_unexpected) \
    X(AWAIT_MESSAGE_REPLY, "await_message_reply", DATA, 10, on_message_reply) \
    X(AWAIT_CHUNK_REPLY, "await_chunk_reply", DATA, 10, on_chunk_reply) \
    X(AWAIT_EMPTY_DATA_END, "await_empty_data_end", DATA, 2, on_empty_data_end) \
    X(AWAIT_NEXT, "await_next", MAIL, 5, on_unexpected) \
    X(AWAIT_RSET, "await_rset", MAIL, 5, on_rset) \
    X(FINISHED, "finished", QUIT, 5, on_unexpected)

/* Two tables, not one of rows: a row of a pointer and two bytes takes eight bytes on the
 * MCU, a pointer and one byte (the stage in its low four bits, the minutes above) five. */
#define HANDLER(state, name, stage, minutes, on_reply) [STSM_SMTP_##state] = on_reply,
static const reply_handler handlers[STSM_SMTP_STATE_COUNT] = { STATE_ROWS(HANDLER) };
#undef HANDLER
#define WAIT(state, name, stage, minutes, on_reply) \
    [STSM_SMTP_##state] = (uint8_t)((minutes) << 4 | STSM_SMTP_STAGE_##stage),
static const uint8_t waits[STSM_SMTP_STATE_COUNT] = { STATE_ROWS(WAIT) };
#undef WAIT
#define FITS(state, name, stage, minutes, on_reply) && (minutes) < 16
_Static_assert(STSM_SMTP_STAGE_QUIT < 16 STATE_ROWS(FITS), "stages and minutes fit in four bits");
#undef FITS
#define NAME(state, name, stage, minutes, on_reply) [STSM_SMTP_##state] = name,
/* Arrays, not pointers to literals: literals share one string section, which stays. */
static const char state_names[STSM_SMTP_STATE_COUNT][sizeof "await_login_secret_prompt"] = { STATE_ROWS(NAME) };
#undef NAME

static enum stsm_smtp_stage stage_of(enum stsm_smtp_state state)
{
    return (enum stsm_smtp_stage)(waits[state] & 0xFu);
}

/* After a step that queued commands: a command that did not fit (queue()) fails the
 * session as a whole, whatever failed before (this is ours, not the server's), at the
 * stage of the state it happened in. The commands queued with it are dropped too: the
 * server has them only in part. */
static enum stsm_smtp_action queue_check(struct stsm_smtp *s, enum stsm_smtp_action action)
{
    if (!s->out_overflow) {
        return action;
    }
    s->out_overflow = false;   /* QUIT may go */
    s->chunk_streaming = false;   /* BDAT closes a flight: it was refused with the rest */
    set_result(&s->session, STSM_SMTP_DEFERRED, STSM_ERR_CAPACITY, NULL);
    stsm_text_copy(s->session.text, sizeof s->session.text,
                   STSM_TEXT_FIXED("SMTP command queue (STSM_SMTP_OUT_MAX) full: a command did not fit"));
    s->failed_stage = stage_of(s->state);
    return end(s, true, false);
}

static enum stsm_smtp_action on_reply(struct stsm_smtp *s, const struct stsm_smtp_reply *reply)
{
    if (reply->code == 421) {
        /* Service closing, whatever was awaited: all in flight is deferred (RFC 5321
         * section 3.8), and the server is gone, so no QUIT. */
        return fail(s, STSM_SMTP_DEFERRED, STSM_OK, reply, false);
    }
    return queue_check(s, handlers[s->state](s, reply));
}

/* ---- the interface ----------------------------------------------------------------- */

static bool usable_address(const char *a, bool may_be_empty)
{
    if (a == NULL) {
        return false;
    }
    size_t n = 0;
    for (; a[n] != '\0'; n++) {
        if (a[n] == '<' || a[n] == '>' || (unsigned char)a[n] < 0x20) {   /* CR and LF among them */
            return false;
        }
    }
    return n <= STSM_SMTP_ADDRESS_MAX && (may_be_empty || n > 0);
}

/* The transaction's part of the parameters can go into commands. */
static bool usable_envelope(const struct stsm_smtp_params *params)
{
    if (params->rcpt_count == 0 || params->rcpt_count > STSM_SMTP_MAX_RCPT ||
        !usable_address(params->mail_from, true)) {
        return false;
    }
    for (size_t i = 0; i < params->rcpt_count; i++) {
        if (!usable_address(params->rcpt[i], false)) {
            return false;
        }
    }
    return true;
}

stsm_status_t stsm_smtp_start(struct stsm_smtp *s, const struct stsm_smtp_params *params)
{
    memset(s, 0, sizeof *s);
    if (!usable_envelope(params) || !usable_address(params->ehlo_name, false) ||
        (params->auth_user != NULL &&
         (!params->require_tls || !usable_address(params->auth_user, false) ||
          params->auth_secret == NULL || strlen(params->auth_secret) > STSM_SMTP_ADDRESS_MAX))) {
        return STSM_ERR_ARGUMENT;
    }
    s->params = *params;
    s->tls_active = params->implicit_tls;
    s->replies_due = 1;   /* the greeting */
    stsm_smtp_reply_init(&s->framer);
    set_state(s, STSM_SMTP_AWAIT_GREETING);
    return STSM_OK;
}

/* Reads from `data` up to the end of one reply line; `*used` bytes are taken. */
static enum stsm_smtp_action receive_line(struct stsm_smtp *s, const uint8_t *data, size_t len, size_t *used)
{
    if (s->replies_due == 0 && !stsm_smtp_reply_pending(&s->framer)) {
        /* A reply to a command the server has not been given: it was sent ahead, blind
         * (or the server answers twice), and would be read as the answer to whatever we
         * send next. */
        *used = 1;
        return protocol_failure(s, true, STSM_TEXT_FIXED("reply to a command not yet sent"));
    }
    struct stsm_smtp_reply_line line;
    if (stsm_smtp_reply_feed(&s->framer, data, len, used, &line) != STSM_OK) {
        return protocol_failure(s, true, STSM_TEXT_FIXED("malformed or over-long reply"));
    }
    if (line.text != NULL && s->state == STSM_SMTP_AWAIT_EHLO && line.code / 100 == 2 && line.index > 0) {
        parse_capability(s, line.text, line.len);
    }
    if (line.reply == NULL) {
        return STSM_SMTP_WAIT;
    }
    s->replies_due--;
    s->wait_serial++;
    enum stsm_smtp_action action = on_reply(s, line.reply);
    if (*used == len) {
        return action;
    }
    if (action == STSM_SMTP_START_TLS) {
        /* Bytes after "220 go ahead": an attacker's plaintext would pass as if it came
         * under TLS (CVE-2011-0411 class). Never start TLS on such a connection. */
        ++*used;
        return protocol_failure(s, false, STSM_TEXT_FIXED("data after the STARTTLS reply"));
    }
    if (action == STSM_SMTP_SEND_DATA || action == STSM_SMTP_HOLD || action == STSM_SMTP_NEXT) {
        /* Nothing is owed a reply now (after 354 only the message is): a server that
         * answers ahead is out of step. */
        ++*used;
        return protocol_failure(s, true, STSM_TEXT_FIXED("reply to a command not yet sent"));
    }
    return action;
}

enum stsm_smtp_action stsm_smtp_receive(struct stsm_smtp *s, const uint8_t *data, size_t len,
                                        size_t *consumed)
{
    if (s->state == STSM_SMTP_AWAIT_TLS && len > 0) {
        /* Plaintext after "220 go ahead", in a later segment: the same attack as in
         * receive_line(). */
        *consumed = 1;
        return protocol_failure(s, false, STSM_TEXT_FIXED("data after the STARTTLS reply"));
    }
    size_t used = 0;
    enum stsm_smtp_action action = finished(s) ? STSM_SMTP_CLOSE : STSM_SMTP_WAIT;
    while (used < len && action == STSM_SMTP_WAIT) {
        size_t n;
        action = receive_line(s, data + used, len - used, &n);
        used += n;
    }
    *consumed = used;
    return action;
}

/* The calls that end a wait on the caller: outside their state they change nothing. */
static enum stsm_smtp_action unchanged(const struct stsm_smtp *s)
{
    return finished(s) ? STSM_SMTP_CLOSE : STSM_SMTP_WAIT;
}

enum stsm_smtp_action stsm_smtp_tls_done(struct stsm_smtp *s, stsm_status_t status)
{
    if (s->state != STSM_SMTP_AWAIT_TLS) {
        return unchanged(s);
    }
    if (status != STSM_OK) {
        if (note_failure(s, STSM_SMTP_STAGE_TLS, STSM_SMTP_DEFERRED, status, NULL)) {
            stsm_text_format(s->session.text, sizeof s->session.text, STSM_TEXT("%s", stsm_status_str(status)));
        }
        return finish(s, false);
    }
    s->tls_active = true;
    stsm_smtp_reply_init(&s->framer);
    s->replies_due = 0;
    return queue_check(s, send_ehlo(s));   /* everything learned before TLS is forgotten */
}

enum stsm_smtp_action stsm_smtp_release(struct stsm_smtp *s, bool proceed, stsm_status_t status,
                                        stsm_text_fixed_t why)
{
    if (s->state != STSM_SMTP_AWAIT_RELEASE) {
        return unchanged(s);
    }
    if (proceed) {
        return queue_check(s, start_mail(s));
    }
    /* The host is refused: no other transaction may use it either. */
    if (note_failure(s, STSM_SMTP_STAGE_MAIL, STSM_SMTP_DEFERRED, status, NULL) && why != NULL) {
        stsm_text_copy(s->session.text, sizeof s->session.text, why);
    }
    return end(s, true, false);
}

/* The bytes of the envelope's members in struct stsm_smtp_params, kept together there. */
#define ENVELOPE_SIZE \
    (offsetof(struct stsm_smtp_params, chunk_size_8bit) + sizeof(size_t) - offsetof(struct stsm_smtp_params, mail_from))

stsm_status_t stsm_smtp_next(struct stsm_smtp *s, const struct stsm_smtp_params *envelope)
{
    if (s->state != STSM_SMTP_AWAIT_NEXT || !usable_envelope(envelope)) {
        return STSM_ERR_ARGUMENT;
    }
    memcpy(&s->params.mail_from, &envelope->mail_from, ENVELOPE_SIZE);
    s->params.hold_before_mail = false;   /* the host was judged once, for the session */
    memset(s->rcpt, 0, sizeof s->rcpt);
    s->rcpt_next = 0;
    s->rcpt_accepted = 0;
    /* A refusal of the last transaction was that transaction's, not the session's. */
    memset(&s->session, 0, sizeof s->session);
    s->failed_stage = STSM_SMTP_STAGE_GREETING;
    bool reset = s->server_reset;
    s->server_reset = false;
    /* Straight to MAIL FROM when the server ended the last transaction with a 250; but
     * an envelope our SIZE check refuses would end here, with no reply to report it by,
     * so it takes the RSET path and is refused after the reply (on_rset). */
    if (reset && !(s->caps.size_limit > 0 && s->params.size_estimate > s->caps.size_limit)) {
        return queue_check(s, start_mail(s)) == STSM_SMTP_CLOSE ? STSM_ERR_CAPACITY : STSM_OK;
    }
    queue(s, "RSET\r\n");
    return queue_check(s, await(s, STSM_SMTP_AWAIT_RSET)) == STSM_SMTP_CLOSE ? STSM_ERR_CAPACITY : STSM_OK;
}

enum stsm_smtp_action stsm_smtp_quit(struct stsm_smtp *s)
{
    return s->state == STSM_SMTP_AWAIT_NEXT ? end(s, true, false) : unchanged(s);
}

bool stsm_smtp_message_due(const struct stsm_smtp *s)
{
    return s->chunk_streaming || s->state == STSM_SMTP_AWAIT_MESSAGE;
}

size_t stsm_smtp_chunk_size(const struct stsm_smtp *s)
{
    return s->chunk_size;
}

bool stsm_smtp_held(const struct stsm_smtp *s)
{
    return s->state == STSM_SMTP_AWAIT_RELEASE;
}

bool stsm_smtp_tls_active(const struct stsm_smtp *s)
{
    return s->tls_active;
}

enum stsm_smtp_action stsm_smtp_data_done(struct stsm_smtp *s)
{
    if (s->chunk_streaming) {
        /* BDAT's reply was counted with its line; it may be read from now on. */
        s->chunk_streaming = false;
        s->wait_serial++;
        return STSM_SMTP_WAIT;
    }
    if (s->state != STSM_SMTP_AWAIT_MESSAGE) {
        return unchanged(s);
    }
    s->replies_due++;   /* the message ends with ".", which the server answers */
    return await(s, STSM_SMTP_AWAIT_MESSAGE_REPLY);
}

enum stsm_smtp_action stsm_smtp_timeout(struct stsm_smtp *s)
{
    if (finished(s)) {
        return STSM_SMTP_CLOSE;
    }
    return fail_local(s, STSM_ERR_TIMEOUT, false, STSM_TEXT_FIXED("no reply in time"));
}

enum stsm_smtp_action stsm_smtp_closed(struct stsm_smtp *s)
{
    if (finished(s)) {
        return STSM_SMTP_CLOSE;
    }
    return fail_local(s, STSM_ERR_PEER_CLOSED, false, STSM_TEXT_FIXED("the server closed the connection"));
}

uint32_t stsm_smtp_wait_serial(const struct stsm_smtp *s)
{
    return s->wait_serial;
}

uint32_t stsm_smtp_timeout_ms(const struct stsm_smtp *s)
{
    return (waits[s->state] >> 4) * 60u * 1000u;
}

const struct stsm_smtp_result *stsm_smtp_rcpt_result(const struct stsm_smtp *s, size_t i)
{
    return i < s->params.rcpt_count ? &s->rcpt[i] : NULL;
}

const struct stsm_smtp_result *stsm_smtp_session_result(const struct stsm_smtp *s,
                                                        enum stsm_smtp_stage *stage)
{
    if (stage != NULL) {
        *stage = s->failed_stage;
    }
    return &s->session;
}

const struct stsm_smtp_caps *stsm_smtp_caps(const struct stsm_smtp *s)
{
    return &s->caps;
}

enum stsm_smtp_state stsm_smtp_state(const struct stsm_smtp *s)
{
    return s->state;
}

const char *stsm_smtp_state_name(enum stsm_smtp_state state)
{
    const char *name = (unsigned)state < STSM_SMTP_STATE_COUNT ? state_names[state] : "";
    return name[0] != '\0' ? name : "unknown";
}

bool stsm_smtp_state_handled(enum stsm_smtp_state state)
{
    return (unsigned)state < STSM_SMTP_STATE_COUNT && handlers[state] != NULL;
}

const char *stsm_smtp_stage_str(enum stsm_smtp_stage stage)
{
    static const char *const names[] = { "greeting", "ehlo", "starttls", "tls", "auth",
                                         "mail", "rcpt", "data", "quit" };
    return (unsigned)stage < sizeof names / sizeof names[0] ? names[stage] : "unknown";
}

const char *stsm_smtp_outcome_str(enum stsm_smtp_outcome outcome)
{
    switch (outcome) {
    case STSM_SMTP_PENDING: return "pending";
    case STSM_SMTP_DELIVERED: return "delivered";
    case STSM_SMTP_DEFERRED: return "deferred";
    case STSM_SMTP_FAILED: return "failed";
    }
    return "unknown";
}

bool stsm_smtp_starttls_refused(const struct stsm_smtp *s)
{
    return s->starttls_refused;
}
