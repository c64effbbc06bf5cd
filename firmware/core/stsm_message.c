#include "stsm_message.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "stsm_base64.h"
#include "stsm_time.h"
#include "stsm_utf8.h"

#define LINE_MAX_OCTETS 998
#define QP_LINE 76
#define ENCODED_WORD_PAYLOAD 45   /* bytes per "=?UTF-8?B?...?=" word: 60 base64 chars */
#define TEXT_OF(x) #x
#define DECIMAL(x) TEXT_OF(x)

/* ---- checks ------------------------------------------------------------------------ */

static bool valid_utf8(const char *text, size_t len)
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
 * the user the reason at once instead of a bounce, or an alert delivered nowhere. */
static const char *address_problem(const char *a)
{
    const char *at = strchr(a, '@');
    const char *domain = at + 1;
    if (at == a) {
        return "has an empty local part";
    }
    if (*domain == '\0') {
        return "has an empty domain";
    }
    if (strchr(domain, '@') != NULL) {
        return "has more than one '@'";
    }
    if (strlen(domain) > 253) {
        return "has a domain longer than 253 characters";
    }
    size_t label = 0;
    for (const char *c = domain;; c++) {
        if (*c == '.' || *c == '\0') {
            if (label == 0) {
                return "has an empty label in its domain";
            }
            if (*c == '\0') {
                break;
            }
            label = 0;
        } else if (++label > 63) {
            return "has a domain label longer than 63 characters";
        }
    }
    if (strlen(a) > STSM_SMTP_ADDRESS_MAX) {
        return "is longer than " DECIMAL(STSM_SMTP_ADDRESS_MAX) " characters";
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

stsm_status_t stsm_message_check(const struct stsm_message *m, char *why, size_t why_len)
{
    if (m->from != NULL && has_line_break(m->from)) {
        return stsm_refuse(why, why_len, "header injection: the sender address contains CR or LF");
    }
    if (!plain_address(m->from)) {
        return stsm_refuse(why, why_len, "the sender '%.60s' is not a plain address like alerts@example.com",
                      m->from != NULL ? m->from : "");
    }
    const char *problem = address_problem(m->from);
    if (problem != NULL) {
        return stsm_refuse(why, why_len, "the sender '%.60s' %s", m->from, problem);
    }
    if (m->from_name != NULL && (has_line_break(m->from_name) || !plain_header_text(m->from_name) ||
                                 strpbrk(m->from_name, "\"\\") != NULL || strlen(m->from_name) > 64)) {
        return stsm_refuse(why, why_len, "the sender name must be at most 64 printable ASCII characters "
                                    "without quotes, CR or LF");
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
        return stsm_refuse(why, why_len, "header injection: the subject contains CR or LF");
    }
    if (strlen(subject) > STSM_MESSAGE_SUBJECT_MAX || !valid_utf8(subject, strlen(subject))) {
        return stsm_refuse(why, why_len, "the subject must be valid UTF-8 of at most %u bytes",
                      (unsigned)STSM_MESSAGE_SUBJECT_MAX);
    }
    if (m->body_len > 0 && (m->body == NULL || !valid_utf8(m->body, m->body_len))) {
        return stsm_refuse(why, why_len, "the body is not valid UTF-8");
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

bool stsm_message_is_8bit(const struct stsm_message *m)
{
    for (size_t i = 0; i < m->body_len; i++) {
        if ((unsigned char)m->body[i] > 0x7F) {
            return true;
        }
    }
    return false;
}

/* ---- writer ------------------------------------------------------------------------ */

struct writer {
    char *out;
    size_t cap, len;
    bool full;
};

static void put(struct writer *w, const char *s, size_t n)
{
    if (w->full || n > w->cap - w->len) {
        w->full = true;
        return;
    }
    memcpy(w->out + w->len, s, n);
    w->len += n;
}

__attribute__((format(printf, 2, 3)))
static void putf(struct writer *w, const char *fmt, ...)
{
    char line[LINE_MAX_OCTETS + 3];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof line) {
        w->full = true;
        return;
    }
    put(w, line, (size_t)n);
}

/* RFC 5322 date-time in UTC, from days-since-epoch arithmetic (proleptic Gregorian). */
static void put_date(struct writer *w, int64_t t)
{
    static const char *const days[] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
    static const char *const months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                          "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
    struct stsm_civil_time c;
    stsm_time_civil(t, &c);
    putf(w, "Date: %s, %d %s %04d %02d:%02d:%02d +0000\r\n", days[c.weekday], c.day, months[c.month - 1],
         c.year, c.hour, c.minute, c.second);
}

/* Subject: as is when ASCII, else RFC 2047 "B" encoded words split at character
 * boundaries, folded one word per line. */
static void put_subject(struct writer *w, const char *subject)
{
    if (plain_header_text(subject)) {
        putf(w, "Subject: %s\r\n", subject);
        return;
    }
    put(w, "Subject:", 8);
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
        putf(w, "%s=?UTF-8?B?%s?=", i == 0 ? " " : "\r\n ", b64);
        i += chunk;
    }
    put(w, "\r\n", 2);
}

/* To: addresses separated by commas, folded one per line. */
static void put_to(struct writer *w, const struct stsm_message *m)
{
    put(w, "To: ", 4);
    for (size_t i = 0; i < m->to_count; i++) {
        putf(w, "%s%s", i == 0 ? "" : ",\r\n ", m->to[i]);
    }
    put(w, "\r\n", 2);
}

static bool long_lines(const struct stsm_message *m)
{
    size_t run = 0;
    for (size_t i = 0; i < m->body_len; i++) {
        char c = m->body[i];
        run = c == '\n' || c == '\r' ? 0 : run + 1;
        if (run > LINE_MAX_OCTETS) {
            return true;
        }
    }
    return false;
}

/* The body with CRLF line ends, unchanged otherwise (7bit and 8bit). */
static void put_plain_body(struct writer *w, const struct stsm_message *m)
{
    for (size_t i = 0; i < m->body_len; i++) {
        char c = m->body[i];
        if (c == '\r' || c == '\n') {
            if (c == '\r' && i + 1 < m->body_len && m->body[i + 1] == '\n') {
                i++;
            }
            put(w, "\r\n", 2);
        } else {
            put(w, &c, 1);
        }
    }
    if (m->body_len == 0 || (m->body[m->body_len - 1] != '\n' && m->body[m->body_len - 1] != '\r')) {
        put(w, "\r\n", 2);
    }
}

/* Quoted-printable (RFC 2045 section 6.7): lines of at most 76 characters with soft
 * breaks, '=' and non-ASCII escaped, spaces before a line end escaped. */
static void put_qp_body(struct writer *w, const struct stsm_message *m)
{
    size_t col = 0;
    for (size_t i = 0; i < m->body_len; i++) {
        unsigned char c = (unsigned char)m->body[i];
        if (c == '\r' || c == '\n') {
            if (c == '\r' && i + 1 < m->body_len && m->body[i + 1] == '\n') {
                i++;
            }
            put(w, "\r\n", 2);
            col = 0;
            continue;
        }
        bool at_line_end = i + 1 == m->body_len || m->body[i + 1] == '\r' || m->body[i + 1] == '\n';
        bool escape = c == '=' || c > 0x7E || (c < 0x20 && c != '\t') ||
                      ((c == ' ' || c == '\t') && at_line_end);
        size_t width = escape ? 3 : 1;
        if (col + width > QP_LINE - 1) {
            put(w, "=\r\n", 3);   /* soft line break */
            col = 0;
        }
        if (escape) {
            putf(w, "=%02X", c);
        } else {
            put(w, (const char *)&c, 1);
        }
        col += width;
    }
    /* As the 8-bit path: a body that ends its last line gets no extra empty line. */
    if (m->body_len == 0 || (m->body[m->body_len - 1] != '\n' && m->body[m->body_len - 1] != '\r')) {
        put(w, "\r\n", 2);
    }
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

stsm_status_t stsm_message_render(const struct stsm_message *m, bool allow_8bit, char *out,
                                  size_t cap, size_t *len)
{
    char why[120];
    if (stsm_message_check(m, why, sizeof why) != STSM_OK) {
        return STSM_ERR_ARGUMENT;
    }
    struct writer w = { out, cap, 0, false };
    bool eightbit = stsm_message_is_8bit(m);
    bool qp = long_lines(m) || (eightbit && !allow_8bit);

    put_date(&w, m->date);
    const char *domain = strchr(m->from, '@') + 1;
    char date_text[21];
    putf(&w, "Message-ID: <%s.%08x%08x@%s>\r\n", u64_decimal((uint64_t)m->date, date_text),
         (unsigned)m->id_random[0],
         (unsigned)m->id_random[1], domain);
    if (m->from_name != NULL && m->from_name[0] != '\0') {
        putf(&w, "From: \"%s\" <%s>\r\n", m->from_name, m->from);
    } else {
        putf(&w, "From: %s\r\n", m->from);
    }
    put_to(&w, m);
    put_subject(&w, m->subject != NULL ? m->subject : "");
    for (size_t i = 0; i < m->extra_count; i++) {
        putf(&w, "%s: %s\r\n", m->extra[i].name, m->extra[i].value);
    }
    put(&w, "MIME-Version: 1.0\r\n", 19);
    put(&w, "Content-Type: text/plain; charset=utf-8\r\n", 41);
    putf(&w, "Content-Transfer-Encoding: %s\r\n\r\n", qp ? "quoted-printable" : eightbit ? "8bit" : "7bit");
    for (const char *line = m->preamble; line != NULL && *line != '\0';) {
        const char *end = strchr(line, '\n');
        put(&w, line, (size_t)(end - line));
        put(&w, "\r\n", 2);
        line = end + 1;
    }
    if (qp) {
        put_qp_body(&w, m);
    } else {
        put_plain_body(&w, m);
    }
    if (w.full) {
        return STSM_ERR_CAPACITY;
    }
    *len = w.len;
    return STSM_OK;
}
