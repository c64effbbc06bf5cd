#include "stsm_message.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "stsm_base64.h"
#include "stsm_time.h"
#include "stsm_utf8.h"

/* For small helpers with more than one caller: -Os would copy their bodies into each, and
 * one call is shorter (14 bytes of this file on mps2-an385, measured). */
#define OUT_OF_LINE __attribute__((noinline))

#define LINE_MAX_OCTETS 998
#define QP_LINE 76
#define ENCODED_WORD_PAYLOAD 45   /* bytes per "=?UTF-8?B?...?=" word: 60 base64 chars */
#define TEXT_OF(x) #x
#define DECIMAL(x) TEXT_OF(x)

/* ---- checks ------------------------------------------------------------------------ */

/* Where the body is now; NULL when body_at cannot find it, or a fixed body is missing. */
static const char *body_now(const struct stsm_message *m, size_t *len)
{
    if (m->body_at != NULL) {
        return m->body_at(m->body_ctx, len);
    }
    *len = m->body_len;
    return m->body_len == 0 ? "" : m->body;
}

OUT_OF_LINE static bool valid_utf8(const char *text, size_t len)
{
    const uint8_t *p = (const uint8_t *)text;
    for (size_t i = 0; i < len;) {
        size_t n = stsm_utf8_sequence(p + i, len - i);
        if (n == 0) {
            return false;
        }
        i += n;
    }
    return true;
}

/* Printable ASCII (and space) only: what may stand in a header without encoding. */
static bool plain_header_text(const char *s)
{
    for (; *s != '\0'; s++) {
        if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7E) {
            return false;
        }
    }
    return true;
}

static bool has_line_break(const char *s)
{
    return strpbrk(s, "\r\n") != NULL;
}

static bool plain_address(const char *a)
{
    return a != NULL && a[0] != '\0' && strchr(a, '@') != NULL && strpbrk(a, "<>\" ,;") == NULL &&
           plain_header_text(a);
}

/* What is wrong with the shape of a plain address (local@domain), or NULL. RFC 5321
 * section 4.5.3.1: a local part of at least one character, a domain of non-empty labels
 * of at most 63 octets and at most 253 octets in all (255 in the RFC, less the dot and
 * the root's empty label). A server would refuse what fails here; refusing it first gives
 * the user the reason at once instead of a bounce, or an alert delivered nowhere. A fixed
 * text (an id on the boards), read into the refusal with %s. */
static stsm_text_fixed_t address_problem(const char *a)
{
    const char *at = strchr(a, '@');
    const char *domain = at + 1;
    if (at == a) {
        return STSM_TEXT_FIXED("has an empty local part");
    }
    if (*domain == '\0') {
        return STSM_TEXT_FIXED("has an empty domain");
    }
    if (strchr(domain, '@') != NULL) {
        return STSM_TEXT_FIXED("has more than one '@'");
    }
    if (strlen(domain) > 253) {
        return STSM_TEXT_FIXED("has a domain longer than 253 characters");
    }
    size_t label = 0;
    for (const char *c = domain;; c++) {
        if (*c == '.' || *c == '\0') {
            if (label == 0) {
                return STSM_TEXT_FIXED("has an empty label in its domain");
            }
            if (*c == '\0') {
                break;
            }
            label = 0;
        } else if (++label > 63) {
            return STSM_TEXT_FIXED("has a domain label longer than 63 characters");
        }
    }
    if (strlen(a) > STSM_SMTP_ADDRESS_MAX) {
        return STSM_TEXT_FIXED("is longer than " DECIMAL(STSM_SMTP_ADDRESS_MAX) " characters");
    }
    return NULL;
}

/* Lines that read the same as 7bit and as quoted-printable: no '=', no trailing white
 * space, short enough to need no soft break. */
static bool valid_preamble(const char *p)
{
    size_t col = 0;
    for (; *p != '\0'; p++) {
        if (*p == '\n') {
            if (col > 0 && p[-1] == ' ') {
                return false;
            }
            col = 0;
        } else if (*p < 0x20 || *p > 0x7E || *p == '=' || ++col > QP_LINE) {
            return false;
        }
    }
    return col == 0;
}

/* stsm_refuse() for a reason without arguments: a fixed text, handed on as one pointer. */
static stsm_status_t refuse_fixed(char *why, size_t why_len, stsm_text_fixed_t reason)
{
    stsm_text_copy(why, why_len, reason);
    return STSM_ERR_ARGUMENT;
}

stsm_status_t stsm_message_check(const struct stsm_message *m, char *why, size_t why_len)
{
    if (m->from != NULL && has_line_break(m->from)) {
        return refuse_fixed(why, why_len, STSM_TEXT_FIXED("header injection: the sender address contains CR or LF"));
    }
    if (!plain_address(m->from)) {
        return stsm_refuse(why, why_len, "the sender '%.60s' is not a plain address like alerts@example.com",
                      m->from != NULL ? m->from : "");
    }
    stsm_text_fixed_t problem = address_problem(m->from);
    if (problem != NULL) {
        return stsm_refuse(why, why_len, "the sender '%.60s' %s", m->from, problem);
    }
    if (m->from_name != NULL && (has_line_break(m->from_name) || !plain_header_text(m->from_name) ||
                                 strpbrk(m->from_name, "\"\\") != NULL || strlen(m->from_name) > 64)) {
        return refuse_fixed(why, why_len, STSM_TEXT_FIXED("the sender name must be at most 64 printable ASCII "
                                                          "characters without quotes, CR or LF"));
    }
    if (m->to_count == 0 || m->to_count > STSM_SMTP_MAX_RCPT) {
        return stsm_refuse(why, why_len, "a message needs 1 to %u recipients", (unsigned)STSM_SMTP_MAX_RCPT);
    }
    for (size_t i = 0; i < m->to_count; i++) {
        if (m->to[i] != NULL && has_line_break(m->to[i])) {
            return stsm_refuse(why, why_len, "header injection: recipient %u contains CR or LF", (unsigned)i + 1);
        }
        if (!plain_address(m->to[i])) {
            return stsm_refuse(why, why_len, "recipient '%.60s' is not a plain address like ops@example.com",
                          m->to[i] != NULL ? m->to[i] : "");
        }
        if ((problem = address_problem(m->to[i])) != NULL) {
            return stsm_refuse(why, why_len, "recipient '%.60s' %s", m->to[i], problem);
        }
    }
    const char *subject = m->subject != NULL ? m->subject : "";
    if (has_line_break(subject)) {
        return refuse_fixed(why, why_len, STSM_TEXT_FIXED("header injection: the subject contains CR or LF"));
    }
    if (strlen(subject) > STSM_MESSAGE_SUBJECT_MAX || !valid_utf8(subject, strlen(subject))) {
        return stsm_refuse(why, why_len, "the subject must be valid UTF-8 of at most %u bytes",
                      (unsigned)STSM_MESSAGE_SUBJECT_MAX);
    }
    size_t body_len;
    const char *body = body_now(m, &body_len);
    if (body == NULL && m->body_at != NULL) {
        return refuse_fixed(why, why_len, STSM_TEXT_FIXED("the body cannot be found in storage"));
    }
    if (body == NULL || !valid_utf8(body, body_len)) {
        return refuse_fixed(why, why_len, STSM_TEXT_FIXED("the body is not valid UTF-8"));
    }
    if (m->preamble != NULL && !valid_preamble(m->preamble)) {
        return stsm_refuse(why, why_len, "the preamble must be lines of at most %u printable ASCII "
                                         "characters without '=', each ending in a line feed",
                           (unsigned)QP_LINE);
    }
    for (size_t i = 0; i < m->extra_count; i++) {
        const struct stsm_message_header *h = &m->extra[i];
        if (h->name == NULL || h->name[0] == '\0' || strpbrk(h->name, ": ") != NULL ||
            !plain_header_text(h->name)) {
            return stsm_refuse(why, why_len, "extra header %u has no valid name", (unsigned)i + 1);
        }
        if (h->value == NULL || has_line_break(h->value)) {
            return stsm_refuse(why, why_len, "header injection: header %.40s contains CR or LF", h->name);
        }
        if (!plain_header_text(h->value) || strlen(h->name) + strlen(h->value) + 2 > LINE_MAX_OCTETS) {
            return stsm_refuse(why, why_len, "header %.40s must be printable ASCII within 998 octets", h->name);
        }
    }
    return STSM_OK;
}

OUT_OF_LINE static bool has_8bit(const char *body, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if ((unsigned char)body[i] > 0x7F) {
            return true;
        }
    }
    return false;
}

bool stsm_message_is_8bit(const struct stsm_message *m)
{
    size_t len;
    const char *body = body_now(m, &len);
    return body != NULL && has_8bit(body, len);
}

static bool long_lines(const char *body, size_t len)
{
    size_t run = 0;
    for (size_t i = 0; i < len; i++) {
        run = body[i] == '\n' || body[i] == '\r' ? 0 : run + 1;
        if (run > LINE_MAX_OCTETS) {
            return true;
        }
    }
    return false;
}

/* ---- sink: where a read's bytes go ------------------------------------------------- */

/* The head is written again from its start at each read, its first `skip` bytes passed
 * over: it is short, and this keeps a reader's state to one count instead of a position
 * in every header. `out` NULL counts without writing. */
struct sink {
    char *out;
    size_t cap, len;
    size_t skip;
    bool more;    /* a byte did not fit */
    bool bad;     /* a header line outgrew its buffer: refused by the checks, never seen */
};

static void put(struct sink *s, const char *p, size_t n)
{
    size_t skipped = n < s->skip ? n : s->skip;
    s->skip -= skipped;
    p += skipped;
    n -= skipped;
    if (n > s->cap - s->len) {
        n = s->cap - s->len;
        s->more = true;
    }
    if (s->out != NULL && n > 0) {
        memcpy(s->out + s->len, p, n);
    }
    s->len += n;
}

__attribute__((format(printf, 2, 3)))
static void putf(struct sink *s, const char *fmt, ...)
{
    char line[LINE_MAX_OCTETS + 3];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof line) {
        s->bad = true;
        return;
    }
    put(s, line, (size_t)n);
}

/* ---- the head: headers, blank line, preamble ---------------------------------------- */

/* RFC 5322 date-time in UTC, from days-since-epoch arithmetic (proleptic Gregorian). */
static void put_date(struct sink *w, int64_t t)
{
    /* Three letters a name, no table of pointers. */
    static const char days[] = "SunMonTueWedThuFriSat";
    static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    struct stsm_civil_time c;
    stsm_time_civil(t, &c);
    putf(w, "Date: %.3s, %d %.3s %04d %02d:%02d:%02d +0000\r\n", days + 3 * c.weekday, c.day,
         months + 3 * (c.month - 1), c.year, c.hour, c.minute, c.second);
}

/* Subject: as is when ASCII, else RFC 2047 "B" encoded words split at character
 * boundaries, folded one word per line, the header's name with the first. */
static void put_subject(struct sink *w, const char *subject)
{
    if (plain_header_text(subject)) {
        putf(w, "Subject: %s\r\n", subject);
        return;
    }
    const uint8_t *p = (const uint8_t *)subject;
    size_t len = strlen(subject);
    for (size_t i = 0; i < len;) {
        size_t chunk = 0;
        while (i + chunk < len) {
            size_t n = stsm_utf8_sequence(p + i + chunk, len - i - chunk);
            if (n == 0 || chunk + n > ENCODED_WORD_PAYLOAD) {
                break;
            }
            chunk += n;
        }
        char b64[STSM_BASE64_LEN(ENCODED_WORD_PAYLOAD) + 1];
        size_t n = stsm_base64_encode(p + i, chunk, b64);
        b64[n] = '\0';
        putf(w, "%s=?UTF-8?B?%s?=", i == 0 ? "Subject: " : "\r\n ", b64);
        i += chunk;
    }
    put(w, "\r\n", 2);
}

/* To: addresses separated by commas, folded one per line (a checked message has one at
 * least: the header's name goes with the first). */
static void put_to(struct sink *w, const struct stsm_message *m)
{
    for (size_t i = 0; i < m->to_count; i++) {
        putf(w, "%s%s", i == 0 ? "To: " : ",\r\n ", m->to[i]);
    }
    put(w, "\r\n", 2);
}

/* Decimal text of v into buf, returned from where it starts. Not printf: newlib-nano, the
 * firmware's C library, has no long long conversions. */
static const char *u64_decimal(uint64_t v, char buf[21])
{
    char *p = buf + 20;
    *p = '\0';
    do {
        *--p = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    return p;
}

static void put_head(struct sink *w, const struct stsm_message_reader *r)
{
    const struct stsm_message *m = r->message;
    put_date(w, m->date);
    const char *domain = strchr(m->from, '@') + 1;
    char date_text[21];
    putf(w, "Message-ID: <%s.%08x%08x@%s>\r\n", u64_decimal((uint64_t)m->date, date_text),
         (unsigned)m->id_random[0], (unsigned)m->id_random[1], domain);
    if (m->from_name != NULL && m->from_name[0] != '\0') {
        putf(w, "From: \"%s\" <%s>\r\n", m->from_name, m->from);
    } else {
        putf(w, "From: %s\r\n", m->from);
    }
    put_to(w, m);
    put_subject(w, m->subject != NULL ? m->subject : "");
    for (size_t i = 0; i < m->extra_count; i++) {
        putf(w, "%s: %s\r\n", m->extra[i].name, m->extra[i].value);
    }
    putf(w, "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
            "Content-Transfer-Encoding: %s\r\n\r\n",
         r->qp ? "quoted-printable" : r->eightbit ? "8bit" : "7bit");
    for (const char *line = m->preamble; line != NULL && *line != '\0';) {
        const char *end = strchr(line, '\n');
        put(w, line, (size_t)(end - line));
        put(w, "\r\n", 2);
        line = end + 1;
    }
}

/* ---- the body ---------------------------------------------------------------------- */

enum { PART_HEAD, PART_BODY, PART_DONE };

/* What the body byte at body_pos becomes, into r->piece; 0 once the body has ended. Line
 * ends become CRLF. Plain bodies (7bit, 8bit) are unchanged otherwise; quoted-printable
 * (RFC 2045 section 6.7) keeps lines within 76 characters with soft breaks and escapes
 * '=', non-ASCII, controls and white space before a line end. The last line is ended when
 * the body leaves it open, never given an empty line after. */
static size_t next_piece(struct stsm_message_reader *r, const char *body)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t len = r->body_len, i = r->body_pos;
    char *p = r->piece;
    if (i >= len) {
        r->body_pos = len + 1;
        bool open = i == len && (len == 0 || (body[len - 1] != '\n' && body[len - 1] != '\r'));
        memcpy(p, "\r\n", 2);
        return open ? 2 : 0;
    }
    unsigned char c = (unsigned char)body[i];
    r->body_pos = i + 1;
    if (c == '\r' || c == '\n') {
        if (c == '\r' && i + 1 < len && body[i + 1] == '\n') {
            r->body_pos++;
        }
        r->col = 0;
        memcpy(p, "\r\n", 2);
        return 2;
    }
    if (!r->qp) {
        p[0] = (char)c;
        return 1;
    }
    bool at_line_end = i + 1 == len || body[i + 1] == '\r' || body[i + 1] == '\n';
    bool escape = c == '=' || c > 0x7E || (c < 0x20 && c != '\t') || ((c == ' ' || c == '\t') && at_line_end);
    size_t width = escape ? 3 : 1, n = 0;
    if (r->col + width > QP_LINE - 1) {
        memcpy(p, "=\r\n", 3);   /* soft line break */
        n = 3;
        r->col = 0;
    }
    if (escape) {
        p[n++] = '=';
        p[n++] = hex[c >> 4];
        p[n++] = hex[c & 0xF];
    } else {
        p[n++] = (char)c;
    }
    r->col += width;
    return n;
}

static stsm_status_t read_body(struct stsm_message_reader *r, struct sink *s)
{
    size_t len;
    const char *body = body_now(r->message, &len);
    if (body == NULL || len != r->body_len) {
        return STSM_ERR_IO;
    }
    while (s->len < s->cap) {
        if (r->piece_sent < r->piece_len) {
            size_t n = r->piece_len - r->piece_sent;
            n = n < s->cap - s->len ? n : s->cap - s->len;
            put(s, r->piece + r->piece_sent, n);
            r->piece_sent = (uint8_t)(r->piece_sent + n);
            continue;
        }
        if (!r->qp) {
            /* A plain line's bytes go as they are: copied in one run. */
            size_t run = 0, room = s->cap - s->len;
            while (run < room && r->body_pos + run < len && body[r->body_pos + run] != '\r' &&
                   body[r->body_pos + run] != '\n') {
                run++;
            }
            if (run > 0) {
                put(s, body + r->body_pos, run);
                r->body_pos += run;
                continue;
            }
        }
        r->piece_len = (uint8_t)next_piece(r, body);
        r->piece_sent = 0;
        if (r->piece_len == 0) {
            r->part = PART_DONE;
            break;
        }
    }
    return STSM_OK;
}

/* ---- the reader -------------------------------------------------------------------- */

stsm_status_t stsm_message_reader_start(struct stsm_message_reader *r, const struct stsm_message *m,
                                        bool allow_8bit)
{
    memset(r, 0, sizeof *r);
    r->message = m;
    r->part = PART_DONE;
    char why[120];
    r->status = STSM_ERR_ARGUMENT;
    if (stsm_message_check(m, why, sizeof why) != STSM_OK) {
        /* A body that cannot be found is a storage failure, not a bad message. */
        size_t len;
        if (m->body_at != NULL && body_now(m, &len) == NULL) {
            r->status = STSM_ERR_IO;
        }
        return r->status;
    }
    size_t len;
    const char *body = body_now(m, &len);   /* after the check, which may have moved it */
    if (body == NULL) {
        r->status = STSM_ERR_IO;
        return r->status;
    }
    r->body_len = len;
    r->eightbit = has_8bit(body, len);
    r->qp = long_lines(body, len) || (r->eightbit && !allow_8bit);
    r->part = PART_HEAD;
    r->status = STSM_OK;
    return STSM_OK;
}

/* One read into `s`, which may be a counting sink. */
static stsm_status_t read_into(struct stsm_message_reader *r, struct sink *s)
{
    if (r->status != STSM_OK) {
        return r->status;
    }
    if (r->part == PART_HEAD) {
        s->skip = r->head_sent;
        put_head(s, r);
        if (s->bad) {
            r->status = STSM_ERR_CAPACITY;
            return r->status;
        }
        r->head_sent += s->len;
        if (!s->more) {
            r->part = PART_BODY;
        }
    }
    if (r->part == PART_BODY && s->len < s->cap) {
        r->status = read_body(r, s);
    }
    return r->status;
}

stsm_status_t stsm_message_reader_read(struct stsm_message_reader *r, char *buf, size_t cap, size_t *len)
{
    struct sink s = { buf, cap, 0, 0, false, false };
    stsm_status_t st = read_into(r, &s);
    *len = st == STSM_OK ? s.len : 0;
    return st;
}

stsm_status_t stsm_message_size(const struct stsm_message *m, bool allow_8bit, size_t *size)
{
    struct stsm_message_reader r;
    struct sink s = { NULL, SIZE_MAX, 0, 0, false, false };
    stsm_status_t st = stsm_message_reader_start(&r, m, allow_8bit);
    if (st == STSM_OK) {
        st = read_into(&r, &s);
    }
    *size = s.len;
    return st;
}

stsm_status_t stsm_message_render(const struct stsm_message *m, bool allow_8bit, char *out,
                                  size_t cap, size_t *len)
{
    struct stsm_message_reader r;
    stsm_status_t st = stsm_message_reader_start(&r, m, allow_8bit);
    if (st == STSM_OK) {
        st = stsm_message_reader_read(&r, out, cap, len);
    }
    char beyond;
    size_t more = 0;
    if (st == STSM_OK && (st = stsm_message_reader_read(&r, &beyond, 1, &more)) == STSM_OK && more > 0) {
        st = STSM_ERR_CAPACITY;
    }
    return st;
}
