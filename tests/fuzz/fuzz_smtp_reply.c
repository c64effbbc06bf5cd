/*
 * libFuzzer harness for the SMTP reply framer: the input is what a server sends, cut into
 * pieces of a size the first byte chooses. Every line and reply it yields must be
 * consistent and within the caps, it must always make progress, it must never hold more
 * than one line's bytes, and no input may make it read or write out of bounds.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "stsm_smtp_reply.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_line(const struct stsm_smtp_reply_line *line, unsigned index)
{
    if (line->code < 200 || line->code > 599 || line->index != index ||
        line->index >= STSM_SMTP_REPLY_LINES_MAX || line->len > STSM_SMTP_LINE_MAX - 4 ||
        strlen(line->text) != line->len) {
        abort();
    }
    const struct stsm_smtp_reply *r = line->reply;
    if (r == NULL) {
        return;
    }
    if (r->code != line->code || r->line_count != index + 1 || r->text_len > STSM_SMTP_REPLY_TEXT_MAX ||
        r->text[r->text_len] != '\0' || strlen(r->text) != r->text_len) {
        abort();
    }
    for (size_t i = 0; i < r->text_len; i++) {
        if (r->text[i] != '\n' && (r->text[i] < 0x20 || r->text[i] > 0x7e)) {
            abort();   /* log text carries no control bytes */
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct stsm_smtp_reply_framer framer;
    if (size == 0) {
        return 0;
    }
    size_t piece = (size_t)(data[0] % 16) + 1;
    data++;
    size--;
    stsm_smtp_reply_init(&framer);
    unsigned index = 0;        /* lines of the current reply */
    size_t line_bytes = 0;     /* bytes read since the last line end (or error) */
    for (size_t at = 0; at < size;) {
        size_t len = size - at < piece ? size - at : piece, used;
        struct stsm_smtp_reply_line line;
        stsm_status_t st = stsm_smtp_reply_feed(&framer, data + at, len, &used, &line);
        if (used == 0 || used > len) {
            abort();
        }
        at += used;
        line_bytes += used;
        if (line_bytes > STSM_SMTP_LINE_MAX + 2) {
            abort();   /* a line longer than the cap was taken in */
        }
        if (st != STSM_OK) {
            if (line.text != NULL || line.reply != NULL) {
                abort();
            }
            stsm_smtp_reply_init(&framer);
            index = 0;
            line_bytes = 0;
            continue;
        }
        if (line.text == NULL) {
            if (used != len || line.reply != NULL) {
                abort();   /* no line yet means everything was taken in */
            }
            continue;
        }
        check_line(&line, index);
        line_bytes = 0;
        index = line.reply != NULL ? 0 : index + 1;
    }
    return 0;
}
