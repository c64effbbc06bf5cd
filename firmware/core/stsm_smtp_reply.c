#include "stsm_smtp_reply.h"

#include <string.h>

/* keep_text() is not inlined into its one caller: the frame of the two together costs
 * more than the call (18 bytes on mps2-an385, measured). */
#define OUT_OF_LINE __attribute__((noinline))

void stsm_smtp_reply_init(struct stsm_smtp_reply_framer *framer)
{
    memset(framer, 0, sizeof *framer);
}

bool stsm_smtp_reply_pending(const struct stsm_smtp_reply_framer *framer)
{
    return framer->line_len > 0 || (framer->reply.line_count > 0 && !framer->reply_done);
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Appends a line's text to the reply's log text, as far as it fits. The text ends up in
 * logs and results, so a server's control bytes are not passed on. */
OUT_OF_LINE static void keep_text(struct stsm_smtp_reply *r, const char *text, size_t text_len)
{
    /* Position 0 is the '\n' that joins a line to the one before; the first line has none. */
    for (size_t i = r->line_count > 1 ? 0 : 1; i <= text_len; i++) {
        if (r->text_len == STSM_SMTP_REPLY_TEXT_MAX) {
            r->text_truncated = true;
            break;
        }
        char c = i == 0 ? '\n' : text[i - 1];
        r->text[r->text_len++] = i == 0 || (c >= 0x20 && c <= 0x7e) ? c : '?';
    }
    r->text[r->text_len] = '\0';
}

/* Takes one complete line (without its line end) into the reply and describes it in
 * *line. */
static stsm_status_t add_line(struct stsm_smtp_reply_framer *f, struct stsm_smtp_reply_line *line)
{
    const char *l = f->line;
    size_t n = f->line_len;
    if (n < 3 || !is_digit(l[0]) || !is_digit(l[1]) || !is_digit(l[2]) || l[0] < '2' || l[0] > '5' ||
        (n > 3 && l[3] != ' ' && l[3] != '-')) {
        return STSM_ERR_PEER_PROTOCOL;
    }
    uint16_t code = (uint16_t)((l[0] - '0') * 100 + (l[1] - '0') * 10 + (l[2] - '0'));
    struct stsm_smtp_reply *r = &f->reply;
    if (f->reply_done) {
        memset(r, 0, sizeof *r);
        f->reply_done = false;
    }
    if (r->line_count > 0 && code != r->code) {
        return STSM_ERR_PEER_PROTOCOL;
    }
    if (r->line_count == STSM_SMTP_REPLY_LINES_MAX) {
        return STSM_ERR_PEER_PROTOCOL;
    }
    r->code = code;
    r->line_count++;

    size_t skip = n > 4 ? 4 : n;
    keep_text(r, l + skip, n - skip);
    line->text = l + skip;
    line->len = n - skip;
    line->code = code;
    line->index = (uint16_t)(r->line_count - 1);
    if (n == 3 || l[3] == ' ') {
        f->reply_done = true;
        line->reply = r;
    }
    return STSM_OK;
}

stsm_status_t stsm_smtp_reply_feed(struct stsm_smtp_reply_framer *framer, const uint8_t *data,
                                   size_t len, size_t *consumed, struct stsm_smtp_reply_line *line)
{
    memset(line, 0, sizeof *line);
    for (size_t i = 0; i < len; i++) {
        char c = (char)data[i];
        if (c == '\0') {
            /* Reply text has no NUL (RFC 5321 section 4.2); one would cut every C string
             * made from the line. */
            *consumed = i + 1;
            return STSM_ERR_PEER_PROTOCOL;
        }
        if (c != '\n') {
            /* One byte beyond the limit is allowed for the CR of CRLF. */
            if (framer->line_len == STSM_SMTP_LINE_MAX + 1 ||
                (framer->line_len == STSM_SMTP_LINE_MAX && c != '\r')) {
                *consumed = i + 1;
                return STSM_ERR_PEER_PROTOCOL;
            }
            framer->line[framer->line_len++] = c;
            continue;
        }
        if (framer->line_len > 0 && framer->line[framer->line_len - 1] == '\r') {
            framer->line_len--;
        }
        framer->line[framer->line_len] = '\0';
        stsm_status_t st = add_line(framer, line);
        framer->line_len = 0;
        *consumed = i + 1;
        if (st != STSM_OK) {
            memset(line, 0, sizeof *line);
        }
        return st;
    }
    *consumed = len;
    return STSM_OK;
}

void stsm_smtp_reply_first_line(const struct stsm_smtp_reply *reply, char *buf, size_t len)
{
    size_t n = strcspn(reply->text, "\n");
    if (len == 0) {
        return;
    }
    if (n >= len) {
        n = len - 1;
    }
    memcpy(buf, reply->text, n);
    buf[n] = '\0';
}
