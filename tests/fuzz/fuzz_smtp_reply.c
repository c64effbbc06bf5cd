/*
 * libFuzzer harness for the SMTP reply framer: the input is what a server sends, cut into
 * pieces at the positions the first byte chooses. Every reply it yields must be
 * consistent, and no input may make it read or write out of bounds.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "stsm_smtp_reply.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct stsm_smtp_reply_framer framer;
    struct stsm_smtp_reply reply;
    if (size == 0) {
        return 0;
    }
    size_t piece = (size_t)(data[0] % 16) + 1;
    data++;
    size--;
    stsm_smtp_reply_init(&framer);
    for (size_t at = 0; at < size;) {
        size_t len = size - at < piece ? size - at : piece, used;
        bool complete;
        if (stsm_smtp_reply_feed(&framer, data + at, len, &used, &reply, &complete) != STSM_OK) {
            stsm_smtp_reply_init(&framer);
        }
        if (used == 0 || used > len) {
            abort();
        }
        at += used;
        if (complete && (reply.code < 200 || reply.code > 599 || reply.line_count == 0 ||
                         reply.text_len > STSM_SMTP_REPLY_TEXT_MAX || reply.text[reply.text_len] != '\0' ||
                         strlen(reply.text) > reply.text_len)) {
            abort();
        }
    }
    return 0;
}
