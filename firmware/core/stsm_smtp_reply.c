#include "stsm_smtp_reply.h"

#include <string.h>

void stsm_smtp_reply_init(struct stsm_smtp_reply_framer *framer)
{
    memset(framer, 0, sizeof *framer);
}

bool stsm_smtp_reply_pending(const struct stsm_smtp_reply_framer *framer)
{
    return framer->line_len > 0 || framer->reply.line_count > 0;
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Adds one complete line (without its line end) to the reply. Sets *last when it ends the
 * reply. */
static stsm_status_t add_line(struct stsm_smtp_reply_framer *f, bool *last)
{
    const char *l = f->line;
    size_t n = f->line_len;
    if (n < 3 || !is_digit(l[0]) || !is_digit(l[1]) || !is_digit(l[2]) || l[0] < '2' || l[0] > '5' ||
        (n > 3 && l[3] != ' ' && l[3] != '-')) {
        return STSM_ERR_PEER_PROTOCOL;
    }
    uint16_t code = (uint16_t)((l[0] - '0') * 100 + (l[1] - '0') * 10 + (l[2] - '0'));
    struct stsm_smtp_reply *r = &f->reply;
    if (r->line_count > 0 && code != r->code) {
        return STSM_ERR_PEER_PROTOCOL;
    }
    if (r->line_count == STSM_SMTP_REPLY_LINES_MAX) {
        return STSM_ERR_PEER_PROTOCOL;
    }
    r->code = code;
    r->line_count++;

    const char *text = n > 4 ? l + 4 : "";
    size_t text_len = n > 4 ? n - 4 : 0;
    size_t room = STSM_SMTP_REPLY_TEXT_MAX - r->text_len;
    size_t sep = r->line_count > 1 ? 1 : 0;
    if (sep + text_len > room) {
        r->text_truncated = true;
        text_len = room > sep ? room - sep : 0;
        sep = room > 0 ? sep : 0;
    }
    if (sep) {
        r->text[r->text_len++] = '\n';
    }
    memcpy(r->text + r->text_len, text, text_len);
    r->text_len += text_len;
    r->text[r->text_len] = '\0';
    *last = n == 3 || l[3] == ' ';
    return STSM_OK;
}

stsm_status_t stsm_smtp_reply_feed(struct stsm_smtp_reply_framer *framer, const uint8_t *data,
                                   size_t len, size_t *consumed, struct stsm_smtp_reply *out,
                                   bool *complete)
{
    *complete = false;
    for (size_t i = 0; i < len; i++) {
        char c = (char)data[i];
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
        bool last = false;
        stsm_status_t st = add_line(framer, &last);
        framer->line_len = 0;
        if (st != STSM_OK) {
            *consumed = i + 1;
            return st;
        }
        if (last) {
            *out = framer->reply;
            memset(&framer->reply, 0, sizeof framer->reply);
            *consumed = i + 1;
            *complete = true;
            return STSM_OK;
        }
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
