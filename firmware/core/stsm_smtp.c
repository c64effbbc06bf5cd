#include "stsm_smtp.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "stsm_base64.h"
#include "stsm_wipe.h"

/* ---- states ------------------------------------------------------------------------ */

enum state {
    S_GREETING,       /* waiting for 220 */
    S_EHLO,
    S_HELO,
    S_STARTTLS,
    S_TLS,            /* the caller runs the handshake */
    S_AUTH_PLAIN,
    S_AUTH_LOGIN_USER,
    S_AUTH_LOGIN_SECRET,
    S_AUTH_LOGIN_DONE,
    S_MAIL,
    S_RCPT,
    S_DATA,
    S_PIPELINE,       /* MAIL, RCPTs and DATA sent in one flight; replies come in order */
    S_DATA_SENDING,   /* the caller streams the message */
    S_DATA_END,       /* waiting for the verdict on the message */
    S_EMPTY_DATA_END, /* DATA was accepted with no recipient: "." sent to end it */
    S_HOLD,           /* ready for MAIL FROM, waiting for stsm_smtp_release() */
    S_DONE,
};

/* The only way to change state: every transition passes here. */
static void set_state(struct stsm_smtp *s, enum state next, enum stsm_smtp_stage stage)
{
    s->state = next;
    s->stage = stage;
    s->wait_serial++;
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

__attribute__((format(printf, 2, 3)))
static void queue(struct stsm_smtp *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf((char *)s->out + s->out_len, sizeof s->out - s->out_len, fmt, ap);
    va_end(ap);
    /* Parameters were length-checked at start, so a flight always fits. */
    if (n > 0 && (size_t)n < sizeof s->out - s->out_len) {
        s->out_len += (size_t)n;
    }
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

static void set_result(struct stsm_smtp_result *r, enum stsm_smtp_outcome outcome,
                       stsm_status_t status, const struct stsm_smtp_reply *reply, const char *text)
{
    r->outcome = outcome;
    r->status = status;
    r->code = reply != NULL ? reply->code : 0;
    if (reply != NULL) {
        stsm_smtp_reply_first_line(reply, r->text, sizeof r->text);
    } else {
        snprintf(r->text, sizeof r->text, "%s", text != NULL ? text : "");
    }
}

static enum stsm_smtp_outcome outcome_of(uint16_t code)
{
    return code >= 500 ? STSM_SMTP_FAILED : STSM_SMTP_DEFERRED;
}

/* Ends the session: every recipient not yet decided takes the session's result. */
static enum stsm_smtp_action finish(struct stsm_smtp *s, bool send_quit)
{
    drop_unsent(s);
    for (size_t i = 0; i < s->params.rcpt_count; i++) {
        if (s->rcpt[i].outcome == STSM_SMTP_PENDING) {
            s->rcpt[i] = s->session;
            if (s->rcpt[i].outcome == STSM_SMTP_PENDING) {
                /* Accepted by RCPT but the message was never confirmed. */
                set_result(&s->rcpt[i], STSM_SMTP_DEFERRED, STSM_ERR_PEER_PROTOCOL, NULL,
                           "session ended before the message was accepted");
            }
        }
    }
    if (send_quit) {
        queue(s, "QUIT\r\n");
    }
    set_state(s, S_DONE, STSM_SMTP_STAGE_QUIT);
    return STSM_SMTP_CLOSE;
}

/* The session failed as a whole at the current stage. */
static enum stsm_smtp_action fail(struct stsm_smtp *s, enum stsm_smtp_outcome outcome,
                                  stsm_status_t status, const struct stsm_smtp_reply *reply,
                                  const char *text, bool send_quit)
{
    if (s->session.outcome == STSM_SMTP_PENDING) {
        set_result(&s->session, outcome, status, reply, text);
        s->failed_stage = s->stage;
    }
    return finish(s, send_quit);
}

static enum stsm_smtp_action fail_reply(struct stsm_smtp *s, const struct stsm_smtp_reply *reply)
{
    return fail(s, outcome_of(reply->code), STSM_OK, reply, NULL, reply->code != 421);
}

/* ---- commands ---------------------------------------------------------------------- */

static enum stsm_smtp_action send_ehlo(struct stsm_smtp *s)
{
    memset(&s->caps, 0, sizeof s->caps);
    queue(s, "EHLO %s\r\n", s->params.ehlo_name);
    set_state(s, S_EHLO, STSM_SMTP_STAGE_EHLO);
    return STSM_SMTP_WAIT;
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

static enum stsm_smtp_action start_mail(struct stsm_smtp *s)
{
    if (s->params.hold_before_mail && s->state != S_HOLD) {
        set_state(s, S_HOLD, STSM_SMTP_STAGE_MAIL);
        return STSM_SMTP_HOLD;
    }
    if (s->caps.size_limit > 0 && s->params.size_estimate > s->caps.size_limit) {
        char why[100];
        snprintf(why, sizeof why, "message of about %lu bytes exceeds the server's SIZE %lu",
                 (unsigned long)s->params.size_estimate, (unsigned long)s->caps.size_limit);
        set_state(s, S_MAIL, STSM_SMTP_STAGE_MAIL);
        return fail(s, STSM_SMTP_FAILED, STSM_ERR_CAPACITY, NULL, why, true);
    }
    queue_mail(s);
    if (!s->caps.pipelining) {
        set_state(s, S_MAIL, STSM_SMTP_STAGE_MAIL);
        return STSM_SMTP_WAIT;
    }
    for (size_t i = 0; i < s->params.rcpt_count; i++) {
        queue(s, "RCPT TO:<%s>\r\n", s->params.rcpt[i]);
    }
    queue(s, "DATA\r\n");
    s->pipeline_next = 0;
    set_state(s, S_PIPELINE, STSM_SMTP_STAGE_MAIL);
    return STSM_SMTP_WAIT;
}

static enum stsm_smtp_action start_auth(struct stsm_smtp *s)
{
    const char *user = s->params.auth_user, *secret = s->params.auth_secret;
    if (s->caps.auth_plain) {
        /* authzid NUL authcid NUL passwd (RFC 4616) */
        uint8_t raw[2 * STSM_SMTP_ADDRESS_MAX + 2];
        size_t ulen = strlen(user), slen = strlen(secret);
        raw[0] = 0;
        memcpy(raw + 1, user, ulen);
        raw[1 + ulen] = 0;
        memcpy(raw + 2 + ulen, secret, slen);
        char b64[STSM_BASE64_LEN(sizeof raw) + 1];
        size_t n = stsm_base64_encode(raw, ulen + slen + 2, b64);
        b64[n] = '\0';
        queue(s, "AUTH PLAIN %s\r\n", b64);
        stsm_wipe(raw, sizeof raw);
        stsm_wipe(b64, sizeof b64);
        set_state(s, S_AUTH_PLAIN, STSM_SMTP_STAGE_AUTH);
        return STSM_SMTP_WAIT;
    }
    if (s->caps.auth_login) {
        queue(s, "AUTH LOGIN\r\n");
        set_state(s, S_AUTH_LOGIN_USER, STSM_SMTP_STAGE_AUTH);
        return STSM_SMTP_WAIT;
    }
    set_state(s, S_AUTH_PLAIN, STSM_SMTP_STAGE_AUTH);
    return fail(s, STSM_SMTP_DEFERRED, STSM_ERR_NOT_CONFIGURED, NULL,
                "the server offers neither AUTH PLAIN nor AUTH LOGIN", true);
}

static void queue_base64_line(struct stsm_smtp *s, const char *text)
{
    char b64[STSM_BASE64_LEN(STSM_SMTP_ADDRESS_MAX) + 1];
    size_t n = stsm_base64_encode((const uint8_t *)text, strlen(text), b64);
    b64[n] = '\0';
    queue(s, "%s\r\n", b64);
    stsm_wipe(b64, sizeof b64);
}

/* After a usable EHLO (or HELO): TLS policy, then AUTH, then the envelope. */
static enum stsm_smtp_action after_greeting_exchange(struct stsm_smtp *s)
{
    if (!s->tls_active) {
        /* require_tls wins over no_starttls: a plaintext retry planned before TLS became
         * required must not turn into plaintext. */
        if (s->caps.starttls && (!s->params.no_starttls || s->params.require_tls)) {
            queue(s, "STARTTLS\r\n");
            set_state(s, S_STARTTLS, STSM_SMTP_STAGE_STARTTLS);
            return STSM_SMTP_WAIT;
        }
        if (s->params.require_tls) {
            return fail(s, STSM_SMTP_DEFERRED, STSM_ERR_TLS_NOT_OFFERED, NULL,
                        "TLS is required and the server does not offer STARTTLS", true);
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

/* Reads one extension line of an EHLO reply (every line after the first is one keyword
 * with optional parameters). Called for each line as the framer completes it, so no
 * extension depends on how much reply text is kept. */
static void parse_capability(struct stsm_smtp *s, const char *line, size_t len)
{
    const char *rest;
    if (keyword(line, len, "STARTTLS", &rest)) {
        s->caps.starttls = true;
    } else if (keyword(line, len, "PIPELINING", &rest)) {
        s->caps.pipelining = true;
    } else if (keyword(line, len, "8BITMIME", &rest)) {
        s->caps.eightbitmime = true;
    } else if (keyword(line, len, "SMTPUTF8", &rest)) {
        s->caps.smtputf8 = true;
    } else if (keyword(line, len, "ENHANCEDSTATUSCODES", &rest)) {
        s->caps.enhanced_status = true;
    } else if (keyword(line, len, "SIZE", &rest)) {
        s->caps.size = true;
        /* The overflow test comes before the multiplication and does not depend on the
         * width of long (32 bits on Cortex-M, where "SIZE 4294967297" wrapped to 1 and
         * failed every message). A value past UINT32_MAX is absurd: "no limit given". */
        uint32_t limit = 0;
        const char *d = rest < line + len && *rest == ' ' ? rest + 1 : rest;
        for (; d < line + len && *d >= '0' && *d <= '9'; d++) {
            uint32_t digit = (uint32_t)(*d - '0');
            if (limit > (UINT32_MAX - digit) / 10u) {
                limit = 0;
                break;
            }
            limit = limit * 10u + digit;
        }
        s->caps.size_limit = limit;
    } else if (keyword(line, len, "AUTH", &rest)) {
        /* Mechanism names separated by spaces (old servers use "AUTH=") */
        for (const char *m = rest; m < line + len;) {
            while (m < line + len && (*m == ' ' || *m == '=')) {
                m++;
            }
            const char *end = m;
            while (end < line + len && *end != ' ') {
                end++;
            }
            if (end - m == 5 && same_word(m, "PLAIN", 5)) {
                s->caps.auth_plain = true;
            } else if (end - m == 5 && same_word(m, "LOGIN", 5)) {
                s->caps.auth_login = true;
            }
            m = end;
        }
    }
}

static void record_rcpt(struct stsm_smtp *s, size_t i, const struct stsm_smtp_reply *reply)
{
    if (reply->code >= 200 && reply->code < 300) {
        s->rcpt_accepted++;
        s->rcpt[i].code = reply->code;   /* accepted; the outcome waits for the data */
        return;
    }
    set_result(&s->rcpt[i], outcome_of(reply->code), STSM_OK, reply, NULL);
}

static bool mail_failed(const struct stsm_smtp *s)
{
    return s->session.outcome != STSM_SMTP_PENDING;
}

static enum stsm_smtp_action on_data_reply(struct stsm_smtp *s, const struct stsm_smtp_reply *reply)
{
    if (reply->code == 354) {
        if (!mail_failed(s) && s->rcpt_accepted > 0) {
            set_state(s, S_DATA_SENDING, STSM_SMTP_STAGE_DATA);
            return STSM_SMTP_SEND_DATA;
        }
        /* RFC 2920: DATA accepted though nothing can be delivered: end it empty. */
        queue(s, ".\r\n");
        set_state(s, S_EMPTY_DATA_END, STSM_SMTP_STAGE_DATA);
        return STSM_SMTP_WAIT;
    }
    if (mail_failed(s) || s->rcpt_accepted == 0) {
        return finish(s, true);
    }
    return fail_reply(s, reply);
}

static enum stsm_smtp_action on_reply(struct stsm_smtp *s, const struct stsm_smtp_reply *reply)
{
    bool ok = reply->code >= 200 && reply->code < 300;

    if (reply->code == 421) {
        /* Service closing: whatever was in flight is deferred (RFC 5321 section 3.8). */
        return fail(s, STSM_SMTP_DEFERRED, STSM_OK, reply, NULL, false);
    }
    switch ((enum state)s->state) {
    case S_GREETING:
        return reply->code == 220 ? send_ehlo(s) : fail_reply(s, reply);
    case S_EHLO:
        if (ok) {
            s->caps.esmtp = true;   /* the extensions were read line by line */
            return after_greeting_exchange(s);
        }
        if (reply->code >= 500 && !s->params.require_tls && s->params.auth_user == NULL && !s->tls_active) {
            queue(s, "HELO %s\r\n", s->params.ehlo_name);
            set_state(s, S_HELO, STSM_SMTP_STAGE_EHLO);
            return STSM_SMTP_WAIT;
        }
        return fail_reply(s, reply);
    case S_HELO:
        if (!ok) {
            return fail_reply(s, reply);
        }
        memset(&s->caps, 0, sizeof s->caps);
        return start_mail(s);
    case S_STARTTLS:
        if (reply->code == 220) {
            set_state(s, S_TLS, STSM_SMTP_STAGE_TLS);
            return STSM_SMTP_START_TLS;
        }
        if (s->params.require_tls || s->params.auth_user != NULL) {
            return fail(s, STSM_SMTP_DEFERRED, STSM_ERR_TLS_NOT_OFFERED, reply, NULL, true);
        }
        /* Opportunistic: the server declined STARTTLS; carry on in plaintext. */
        s->starttls_refused = true;
        return start_mail(s);
    case S_AUTH_PLAIN:
    case S_AUTH_LOGIN_DONE:
        return reply->code == 235 ? start_mail(s) : fail_reply(s, reply);
    case S_AUTH_LOGIN_USER:
    case S_AUTH_LOGIN_SECRET:
        if (reply->code != 334) {
            return fail_reply(s, reply);
        }
        if (s->state == S_AUTH_LOGIN_USER) {
            queue_base64_line(s, s->params.auth_user);
            set_state(s, S_AUTH_LOGIN_SECRET, STSM_SMTP_STAGE_AUTH);
        } else {
            queue_base64_line(s, s->params.auth_secret);
            set_state(s, S_AUTH_LOGIN_DONE, STSM_SMTP_STAGE_AUTH);
        }
        return STSM_SMTP_WAIT;
    case S_MAIL:
        if (!ok) {
            return fail_reply(s, reply);
        }
        s->pipeline_next = 0;
        queue(s, "RCPT TO:<%s>\r\n", s->params.rcpt[0]);
        set_state(s, S_RCPT, STSM_SMTP_STAGE_RCPT);
        return STSM_SMTP_WAIT;
    case S_RCPT:
        record_rcpt(s, s->pipeline_next++, reply);
        if (s->pipeline_next < s->params.rcpt_count) {
            queue(s, "RCPT TO:<%s>\r\n", s->params.rcpt[s->pipeline_next]);
            return STSM_SMTP_WAIT;
        }
        if (s->rcpt_accepted == 0) {
            return finish(s, true);
        }
        queue(s, "DATA\r\n");
        set_state(s, S_DATA, STSM_SMTP_STAGE_DATA);
        return STSM_SMTP_WAIT;
    case S_DATA:
        return on_data_reply(s, reply);
    case S_PIPELINE: {
        size_t i = s->pipeline_next++;
        if (i == 0) {
            if (!ok) {
                set_result(&s->session, outcome_of(reply->code), STSM_OK, reply, NULL);
                s->failed_stage = STSM_SMTP_STAGE_MAIL;
            }
            s->stage = STSM_SMTP_STAGE_RCPT;
            return STSM_SMTP_WAIT;
        }
        if (i <= s->params.rcpt_count) {
            if (!mail_failed(s)) {
                record_rcpt(s, i - 1, reply);
            }
            if (i == s->params.rcpt_count) {
                s->stage = STSM_SMTP_STAGE_DATA;
            }
            return STSM_SMTP_WAIT;
        }
        return on_data_reply(s, reply);
    }
    case S_DATA_END:
        for (size_t i = 0; i < s->params.rcpt_count; i++) {
            if (s->rcpt[i].outcome == STSM_SMTP_PENDING) {
                set_result(&s->rcpt[i], ok ? STSM_SMTP_DELIVERED : outcome_of(reply->code), STSM_OK,
                           reply, NULL);
            }
        }
        return finish(s, true);
    case S_EMPTY_DATA_END:
        return finish(s, true);
    case S_TLS:
    case S_DATA_SENDING:
    case S_HOLD:
    case S_DONE:
        break;
    }
    /* A reply while none is expected. */
    return fail(s, STSM_SMTP_DEFERRED, STSM_ERR_PEER_PROTOCOL, reply, NULL, true);
}

/* ---- the interface ----------------------------------------------------------------- */

static bool usable_address(const char *a, bool may_be_empty)
{
    if (a == NULL || (!may_be_empty && a[0] == '\0') || strlen(a) > STSM_SMTP_ADDRESS_MAX) {
        return false;
    }
    for (; *a != '\0'; a++) {
        if (*a == '\r' || *a == '\n' || *a == '<' || *a == '>' || (unsigned char)*a < 0x20) {
            return false;
        }
    }
    return true;
}

stsm_status_t stsm_smtp_start(struct stsm_smtp *s, const struct stsm_smtp_params *params)
{
    memset(s, 0, sizeof *s);
    if (params->rcpt_count == 0 || params->rcpt_count > STSM_SMTP_MAX_RCPT ||
        !usable_address(params->mail_from, true) || !usable_address(params->ehlo_name, false) ||
        (params->auth_user != NULL &&
         (!params->require_tls || !usable_address(params->auth_user, false) ||
          params->auth_secret == NULL || strlen(params->auth_secret) > STSM_SMTP_ADDRESS_MAX))) {
        return STSM_ERR_ARGUMENT;
    }
    for (size_t i = 0; i < params->rcpt_count; i++) {
        if (!usable_address(params->rcpt[i], false)) {
            return STSM_ERR_ARGUMENT;
        }
    }
    s->params = *params;
    s->tls_active = params->implicit_tls;
    s->replies_due = 1;   /* the greeting */
    stsm_smtp_reply_init(&s->framer);
    set_state(s, S_GREETING, STSM_SMTP_STAGE_GREETING);
    return STSM_OK;
}

enum stsm_smtp_action stsm_smtp_receive(struct stsm_smtp *s, const uint8_t *data, size_t len,
                                        size_t *consumed)
{
    size_t used = 0;
    enum stsm_smtp_action action = s->state == S_DONE ? STSM_SMTP_CLOSE : STSM_SMTP_WAIT;
    if (s->state == S_TLS && len > 0) {
        /* Plaintext after "220 go ahead", in a later segment: the same attack as below. */
        *consumed = 1;
        return fail(s, STSM_SMTP_DEFERRED, STSM_ERR_PEER_PROTOCOL, NULL, "data after the STARTTLS reply",
                    false);
    }
    while (used < len && s->state != S_DONE) {
        if (s->replies_due == 0 && !stsm_smtp_reply_pending(&s->framer)) {
            /* A reply to a command the server has not been given: it was sent ahead, blind
             * (or the server answers twice), and would be read as the answer to whatever we
             * send next. */
            used++;
            action = fail(s, STSM_SMTP_DEFERRED, STSM_ERR_PEER_PROTOCOL, NULL,
                          "reply to a command not yet sent", s->state != S_DATA_SENDING);
            break;
        }
        struct stsm_smtp_reply_line line;
        size_t n;
        stsm_status_t st = stsm_smtp_reply_feed(&s->framer, data + used, len - used, &n, &line);
        used += n;
        if (st != STSM_OK) {
            action = fail(s, STSM_SMTP_DEFERRED, STSM_ERR_PEER_PROTOCOL, NULL,
                          "malformed or over-long reply", s->state != S_DATA_SENDING);
            break;
        }
        if (line.text != NULL && s->state == S_EHLO && line.code / 100 == 2 && line.index > 0) {
            parse_capability(s, line.text, line.len);
        }
        if (line.reply == NULL) {
            continue;
        }
        s->replies_due--;
        s->wait_serial++;
        action = on_reply(s, line.reply);
        if (action == STSM_SMTP_START_TLS && used < len) {
            /* Bytes after "220 go ahead": an attacker's plaintext would pass as if it came
             * under TLS (CVE-2011-0411 class). Never start TLS on such a connection. */
            used++;
            action = fail(s, STSM_SMTP_DEFERRED, STSM_ERR_PEER_PROTOCOL, NULL,
                          "data after the STARTTLS reply", false);
        } else if ((action == STSM_SMTP_SEND_DATA || action == STSM_SMTP_HOLD) && used < len) {
            /* Nothing is owed a reply now (after 354 only the message is): a server that
             * answers ahead is out of step. No QUIT after 354, where it would be message text. */
            used++;
            action = fail(s, STSM_SMTP_DEFERRED, STSM_ERR_PEER_PROTOCOL, NULL,
                          "reply to a command not yet sent", s->state != S_DATA_SENDING);
        }
        if (action != STSM_SMTP_WAIT) {
            break;
        }
    }
    *consumed = used;
    return action;
}

enum stsm_smtp_action stsm_smtp_tls_done(struct stsm_smtp *s, stsm_status_t status)
{
    if (s->state != S_TLS) {
        return s->state == S_DONE ? STSM_SMTP_CLOSE : STSM_SMTP_WAIT;
    }
    if (status != STSM_OK) {
        return fail(s, STSM_SMTP_DEFERRED, status, NULL, stsm_status_str(status), false);
    }
    s->tls_active = true;
    stsm_smtp_reply_init(&s->framer);
    s->replies_due = 0;
    return send_ehlo(s);   /* everything learned before TLS is forgotten */
}

enum stsm_smtp_action stsm_smtp_release(struct stsm_smtp *s, bool proceed, stsm_status_t status,
                                        const char *why)
{
    if (s->state != S_HOLD) {
        return s->state == S_DONE ? STSM_SMTP_CLOSE : STSM_SMTP_WAIT;
    }
    if (proceed) {
        return start_mail(s);
    }
    return fail(s, STSM_SMTP_DEFERRED, status, NULL, why, true);
}

bool stsm_smtp_held(const struct stsm_smtp *s)
{
    return s->state == S_HOLD;
}

bool stsm_smtp_tls_active(const struct stsm_smtp *s)
{
    return s->tls_active;
}

enum stsm_smtp_action stsm_smtp_data_done(struct stsm_smtp *s)
{
    if (s->state != S_DATA_SENDING) {
        return s->state == S_DONE ? STSM_SMTP_CLOSE : STSM_SMTP_WAIT;
    }
    s->replies_due++;   /* the message ends with ".", which the server answers */
    set_state(s, S_DATA_END, STSM_SMTP_STAGE_DATA);
    return STSM_SMTP_WAIT;
}

enum stsm_smtp_action stsm_smtp_timeout(struct stsm_smtp *s)
{
    if (s->state == S_DONE) {
        return STSM_SMTP_CLOSE;
    }
    return fail(s, STSM_SMTP_DEFERRED, STSM_ERR_TIMEOUT, NULL, "no reply in time", false);
}

enum stsm_smtp_action stsm_smtp_closed(struct stsm_smtp *s)
{
    if (s->state == S_DONE) {
        return STSM_SMTP_CLOSE;
    }
    return fail(s, STSM_SMTP_DEFERRED, STSM_ERR_PEER_CLOSED, NULL, "the server closed the connection",
                false);
}

uint32_t stsm_smtp_wait_serial(const struct stsm_smtp *s)
{
    return s->wait_serial;
}

uint32_t stsm_smtp_timeout_ms(const struct stsm_smtp *s)
{
    switch ((enum state)s->state) {
    case S_DATA:
    case S_EMPTY_DATA_END:
        return 2u * 60u * 1000u;    /* DATA initiation */
    case S_DATA_END:
        return 10u * 60u * 1000u;   /* DATA termination */
    case S_DATA_SENDING:
        return 3u * 60u * 1000u;    /* data block */
    default:
        return 5u * 60u * 1000u;    /* greeting, MAIL, RCPT (and EHLO, AUTH alike) */
    }
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
