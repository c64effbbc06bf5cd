/*
 * libFuzzer harness playing the server side of an SMTP session. The first input byte
 * chooses the session's parameters and how the server's bytes arrive; the rest is the
 * server's byte stream. TLS handshakes succeed, the message is "sent" at once.
 *
 * Flags byte: bits 0-1 how bytes arrive (0 one line per segment, 1 one byte, 2 segments
 * cut at each 0xFF byte, which is dropped, 3 pieces of 7), bit 2 require_tls, bit 3 AUTH
 * (only with require_tls), bit 4 no_starttls, bit 5 hold before MAIL FROM, bit 6
 * implicit TLS, bit 7 release the hold (otherwise it is refused).
 *
 * Transactions byte: when the byte after the flags has bit 7 set it is taken (not part of
 * the stream) and turns on more_transactions; a server stream never needed it (every
 * corpus input before it starts its stream with ASCII, so keeps its one-transaction
 * meaning). Then at each STSM_SMTP_NEXT the next stream byte is taken as a choice (none
 * left: quit): bit 0 clear quits; otherwise stsm_smtp_next() with 1 + bits 1-2 recipients,
 * bit 3 the null sender, bit 4 a size over any SIZE limit the corpus offers, bit 5 an 8-bit
 * body, bit 6 an envelope the engine must refuse (nothing changes, the next byte chooses
 * again).
 *
 * The message's BDAT sizes are always known, so a server whose EHLO offers CHUNKING gets
 * BDAT; while its chunk is "streamed" the server's bytes keep coming, and the chunk ends
 * (stsm_smtp_data_done()) before the first piece whose first byte is even.
 *
 * What must hold for every input: the engine reads everything while it waits and makes
 * progress; every command is a CRLF-terminated line of a known kind; with require_tls
 * nothing but EHLO, STARTTLS and QUIT leaves before TLS, and never AUTH in plaintext;
 * STARTTLS is never sent under no_starttls without require_tls; after a failure only "."
 * (ending an accepted DATA) or QUIT leaves; at CLOSE at most QUIT is queued, every
 * recipient has an outcome, and no later call queues anything. At STSM_SMTP_NEXT nothing
 * is queued and every recipient of the transaction has an outcome; RSET leaves only right
 * after stsm_smtp_next(), and is left out only after a transaction that delivered (a 250
 * to its message resets the server); the next transaction is checked as the first was.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stsm_smtp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool starts(const uint8_t *line, size_t len, const char *word)
{
    size_t n = strlen(word);
    return len >= n && memcmp(line, word, n) == 0;
}

static bool is_base64(const uint8_t *line, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        uint8_t c = line[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
              c == '/' || c == '=')) {
            return false;
        }
    }
    return len > 0;
}

struct view {
    bool require_tls, no_starttls, tls, failed, auth_sent;
    size_t chunk;    /* the BDAT size the engine must announce now */
    bool rset_due;   /* stsm_smtp_next() was just called: RSET may leave */
};

/* Checks every command line in the queue against what may be sent now (`v` as it was
 * before the call that queued them). */
static void check_output(const uint8_t *out, size_t len, struct view *v)
{
    if (len > 0 && (len < 2 || out[len - 2] != '\r' || out[len - 1] != '\n')) {
        abort();   /* the queue holds whole lines only */
    }
    for (size_t at = 0; at < len;) {
        const uint8_t *line = out + at;
        const uint8_t *lf = memchr(line, '\n', len - at);
        size_t n = (size_t)(lf - line) - 1;   /* without CRLF */
        if (memchr(line, '\r', n) != NULL || line[n] != '\r') {
            abort();   /* no bare CR or LF inside a command */
        }
        at += n + 2;
        bool quit = n == 4 && starts(line, n, "QUIT");
        bool dot = n == 1 && line[0] == '.';
        bool ehlo = starts(line, n, "EHLO ") || starts(line, n, "HELO ");
        bool starttls = n == 8 && starts(line, n, "STARTTLS");
        bool auth = starts(line, n, "AUTH ") || (v->auth_sent && is_base64(line, n));
        v->auth_sent = v->auth_sent || auth;
        bool envelope = starts(line, n, "MAIL FROM:<") || starts(line, n, "RCPT TO:<") ||
                        (n == 4 && starts(line, n, "DATA"));
        bool rset = n == 4 && starts(line, n, "RSET");
        bool bdat = starts(line, n, "BDAT ");
        if (bdat) {
            char want[40];
            int w = snprintf(want, sizeof want, "BDAT %zu LAST", v->chunk);
            if ((size_t)w != n || memcmp(line, want, n) != 0 || at != len) {
                abort();   /* the exact size, "LAST", and nothing after it but the chunk */
            }
        }
        if (!(quit || dot || ehlo || starttls || auth || envelope || rset || bdat)) {
            abort();   /* not a command the engine has */
        }
        if (rset && (!v->rset_due || at != n + 2)) {
            abort();   /* RSET only first, right after stsm_smtp_next() */
        }
        if (v->failed && !quit && !dot) {
            abort();   /* a command after the session failed */
        }
        if (!v->tls && v->require_tls && !(quit || starttls || starts(line, n, "EHLO "))) {
            abort();   /* something past EHLO in plaintext although TLS is required */
        }
        if (auth && !v->tls) {
            abort();   /* credentials in plaintext */
        }
        if (starttls && (v->tls || (v->no_starttls && !v->require_tls))) {
            abort();
        }
    }
    v->rset_due = false;
}

static bool session_failed(const struct stsm_smtp *s)
{
    return stsm_smtp_session_result(s, NULL)->outcome != STSM_SMTP_PENDING;
}

/* Every recipient of the transaction that just ended has its outcome, and none was
 * delivered in plaintext when TLS was required. */
static void check_results(const struct stsm_smtp *s, const struct stsm_smtp_params *p)
{
    for (size_t i = 0; i < p->rcpt_count; i++) {
        const struct stsm_smtp_result *r = stsm_smtp_rcpt_result(s, i);
        if (r->outcome == STSM_SMTP_PENDING) {
            abort();
        }
        if (r->outcome == STSM_SMTP_DELIVERED && p->require_tls && !stsm_smtp_tls_active(s)) {
            abort();   /* delivered in plaintext although TLS was required */
        }
    }
}

/* At STSM_SMTP_NEXT: `choice` (see the top) quits or starts the next transaction with an
 * envelope built into `p`. Returns the action to go on with. */
static enum stsm_smtp_action next_or_quit(struct stsm_smtp *s, struct stsm_smtp_params *p, uint8_t choice,
                                          struct view *v)
{
    static const char *const rcpts[] = { "p@example.test", "q@example.net", "r@example.test", "s@example.org" };
    if ((choice & 0x01) == 0) {
        enum stsm_smtp_action action = stsm_smtp_quit(s);
        if (action != STSM_SMTP_CLOSE) {
            abort();
        }
        return action;
    }
    struct stsm_smtp_params e = *p;
    e.rcpt_count = 1 + ((choice >> 1) & 3);
    memcpy(e.rcpt, rcpts, sizeof rcpts);
    e.mail_from = (choice & 0x08) ? "" : "b@fuzz.example";
    e.size_estimate = (choice & 0x10) ? 100000000 : 2000;
    e.body_8bit = (choice & 0x20) != 0;
    if (choice & 0x40) {
        e.rcpt[e.rcpt_count - 1] = "bad>@example.test";
        if (stsm_smtp_next(s, &e) != STSM_ERR_ARGUMENT || stsm_smtp_state(s) != STSM_SMTP_AWAIT_NEXT) {
            abort();   /* a refused envelope changes nothing */
        }
        size_t out_len;
        stsm_smtp_output(s, &out_len);
        if (out_len != 0) {
            abort();
        }
        return STSM_SMTP_NEXT;
    }
    bool delivered = false;
    for (size_t i = 0; i < p->rcpt_count; i++) {
        delivered = delivered || stsm_smtp_rcpt_result(s, i)->outcome == STSM_SMTP_DELIVERED;
    }
    if (stsm_smtp_next(s, &e) != STSM_OK || session_failed(s)) {
        abort();   /* a usable envelope in await_next starts a clean transaction */
    }
    size_t queued;
    const uint8_t *q = stsm_smtp_output(s, &queued);
    if (!delivered && (queued < 6 || memcmp(q, "RSET\r\n", 6) != 0)) {
        abort();   /* after a refused transaction the server's state is reset first */
    }
    for (size_t i = 0; i < e.rcpt_count; i++) {
        if (stsm_smtp_rcpt_result(s, i)->outcome != STSM_SMTP_PENDING) {
            abort();
        }
    }
    *p = e;
    v->failed = false;
    v->rset_due = true;
    return STSM_SMTP_WAIT;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct stsm_smtp s;
    if (size == 0) {
        return 0;
    }
    uint8_t flags = data[0];
    data++;
    size--;
    bool more = size > 0 && (data[0] & 0x80) != 0;
    if (more) {
        data++;
        size--;
    }
    struct stsm_smtp_params p = { .ehlo_name = "fuzz.example", .mail_from = "a@fuzz.example", .rcpt_count = 3,
                                  .size_estimate = 1000 };
    p.require_tls = (flags & 0x04) != 0;
    p.auth_user = p.require_tls && (flags & 0x08) ? "user" : NULL;
    p.auth_secret = "secret";
    p.no_starttls = (flags & 0x10) != 0;
    p.hold_before_mail = (flags & 0x20) != 0;
    p.implicit_tls = (flags & 0x40) != 0;
    p.more_transactions = more;
    p.chunk_size = 1234;
    p.chunk_size_8bit = 1201;
    p.rcpt[0] = "x@example.test";
    p.rcpt[1] = "y@example.test";
    p.rcpt[2] = "z@example.test";
    if (stsm_smtp_start(&s, &p) != STSM_OK) {
        abort();   /* every combination of these flags is a valid session */
    }
    struct view v = { .require_tls = p.require_tls, .no_starttls = p.no_starttls, .tls = p.implicit_tls };
    enum stsm_smtp_action action = STSM_SMTP_WAIT;
    size_t at = 0;
    bool streaming = false;   /* a BDAT chunk is on its way: nothing else may be queued */
    while (action != STSM_SMTP_CLOSE) {
        size_t out_len;
        const uint8_t *out = stsm_smtp_output(&s, &out_len);
        const struct stsm_smtp_caps *caps = stsm_smtp_caps(&s);
        v.chunk = caps->eightbitmime ? p.chunk_size_8bit : p.chunk_size;
        if (streaming && out_len != 0) {
            abort();   /* a command inside the chunk */
        }
        check_output(out, out_len, &v);
        stsm_smtp_output_sent(&s, out_len);
        v.failed = session_failed(&s);
        if (action == STSM_SMTP_NEXT) {
            if (!more || out_len != 0 || stsm_smtp_state(&s) != STSM_SMTP_AWAIT_NEXT) {
                abort();   /* NEXT only when asked for, with nothing left to send */
            }
            check_results(&s, &p);
            action = next_or_quit(&s, &p, at < size ? data[at] : 0, &v);
            at += at < size ? 1 : 0;
        } else if (action == STSM_SMTP_START_TLS) {
            action = stsm_smtp_tls_done(&s, STSM_OK);
            v.tls = true;
        } else if (action == STSM_SMTP_SEND_DATA) {
            if (!stsm_smtp_message_due(&s)) {
                abort();
            }
            if (stsm_smtp_chunk_size(&s) > 0) {
                if (!caps->chunking || stsm_smtp_chunk_size(&s) != v.chunk) {
                    abort();
                }
                streaming = true;   /* replies may come while the chunk goes */
                action = STSM_SMTP_WAIT;
            } else {
                if (caps->chunking) {
                    abort();   /* DATA though BDAT was offered and the size known */
                }
                action = stsm_smtp_data_done(&s);
            }
        } else if (streaming && (at >= size || (data[at] & 1) == 0)) {
            streaming = false;
            action = stsm_smtp_data_done(&s);
            if (stsm_smtp_message_due(&s)) {
                abort();
            }
        } else if (action == STSM_SMTP_HOLD) {
            action = stsm_smtp_release(&s, (flags & 0x80) != 0, STSM_ERR_STS_NO_MATCH, "refused");
        } else if (at < size) {
            size_t piece = size - at;
            switch (flags & 3) {
            case 0: {
                const uint8_t *lf = memchr(data + at, '\n', size - at);
                piece = lf != NULL ? (size_t)(lf - (data + at)) + 1 : size - at;
                break;
            }
            case 1: piece = 1; break;
            case 2: {
                const uint8_t *cut = memchr(data + at, 0xff, size - at);
                if (cut == data + at) {
                    at++;
                    continue;
                }
                piece = cut != NULL ? (size_t)(cut - (data + at)) : size - at;
                break;
            }
            default: piece = piece < 7 ? piece : 7; break;
            }
            size_t used;
            action = stsm_smtp_receive(&s, data + at, piece, &used);
            if (used > piece || (used != piece && action != STSM_SMTP_CLOSE)) {
                abort();   /* reads everything unless the session ends */
            }
            at += used;
        } else {
            action = stsm_smtp_closed(&s);
        }
    }

    /* At the end at most QUIT is queued (nothing mid-chunk), and nothing brings the
     * session back. */
    size_t out_len;
    const uint8_t *out = stsm_smtp_output(&s, &out_len);
    if (out_len != 0 && (streaming || out_len != 6 || memcmp(out, "QUIT\r\n", 6) != 0)) {
        abort();
    }
    stsm_smtp_output_sent(&s, out_len);
    size_t used;
    if (stsm_smtp_receive(&s, (const uint8_t *)"250 ok\r\n", 8, &used) != STSM_SMTP_CLOSE ||
        stsm_smtp_timeout(&s) != STSM_SMTP_CLOSE || stsm_smtp_closed(&s) != STSM_SMTP_CLOSE ||
        stsm_smtp_tls_done(&s, STSM_OK) != STSM_SMTP_CLOSE || stsm_smtp_data_done(&s) != STSM_SMTP_CLOSE ||
        stsm_smtp_release(&s, true, STSM_OK, NULL) != STSM_SMTP_CLOSE) {
        abort();
    }
    if (stsm_smtp_next(&s, &p) != STSM_ERR_ARGUMENT || stsm_smtp_quit(&s) != STSM_SMTP_CLOSE) {
        abort();   /* no transaction after the end */
    }
    stsm_smtp_output(&s, &out_len);
    if (out_len != 0) {
        abort();
    }
    check_results(&s, &p);
    return 0;
}
