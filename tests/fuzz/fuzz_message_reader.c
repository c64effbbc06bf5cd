/*
 * libFuzzer harness for the message reader: the input chooses how the message is read
 * (byte 0: 8BITMIME offered, a preamble, the subject; byte 1: the read size, 1 to 256),
 * then gives the preamble (up to a NUL, when chosen) and the body, any bytes. Read a
 * piece at a time from a body that moves at every find (its old place overwritten), the
 * message must be exactly what stsm_message_render() writes whole, of the length
 * stsm_message_size() counts, refused by all three alike; every read but the last fills
 * its buffer.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "stsm_message.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define BODY_MAX 8192

static char body[BODY_MAX];
static size_t body_len;
static char places[2][BODY_MAX];
static int place;

static const char *moving_body(void *ctx, size_t *len)
{
    (void)ctx;
    memset(places[place], '#', body_len);
    place ^= 1;
    memcpy(places[place], body, body_len);
    *len = body_len;
    return places[place];
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const subjects[] = { "Toner low", "Caf\xc3\xa9 \xe2\x82\xac alert", "",
                                            "a subject long enough to need more than one encoded word \xc3\xa9"
                                            " when it is not plain ASCII, folded" };
    static char preamble[512];
    static char whole[65536], pieces[sizeof whole];
    if (size < 2) {
        return 0;
    }
    bool allow_8bit = (data[0] & 1) != 0, with_preamble = (data[0] & 2) != 0;
    const char *subject = subjects[(data[0] >> 2) & 3];
    size_t cap = (size_t)data[1] + 1;
    data += 2;
    size -= 2;
    struct stsm_message m = { .from = "alerts@printer.example", .to_count = 2, .date = 1796025942,
                              .subject = subject, .id_random = { 1, 2 } };
    m.to[0] = "ops@example.test";
    m.to[1] = "dev@example.test";
    if (with_preamble) {
        const uint8_t *nul = memchr(data, 0, size);
        size_t n = nul != NULL ? (size_t)(nul - data) : size;
        n = n < sizeof preamble - 1 ? n : sizeof preamble - 1;
        memcpy(preamble, data, n);
        preamble[n] = '\0';
        m.preamble = preamble;
        n = nul != NULL ? (size_t)(nul - data) + 1 : size;
        data += n;
        size -= n;
    }
    body_len = size < BODY_MAX ? size : BODY_MAX;
    memcpy(body, data, body_len);

    struct stsm_message fixed = m;
    fixed.body = body;
    fixed.body_len = body_len;
    size_t whole_len = 0, counted = 0;
    stsm_status_t st = stsm_message_render(&fixed, allow_8bit, whole, sizeof whole, &whole_len);
    if (st != STSM_OK && st != STSM_ERR_ARGUMENT) {
        abort();   /* the buffer holds any message of BODY_MAX bytes */
    }
    if (stsm_message_size(&fixed, allow_8bit, &counted) != st || (st == STSM_OK && counted != whole_len)) {
        abort();
    }
    struct stsm_message moved = m;
    moved.body_at = moving_body;
    struct stsm_message_reader r;
    if (stsm_message_reader_start(&r, &moved, allow_8bit) != st) {
        abort();
    }
    if (st != STSM_OK) {
        return 0;
    }
    size_t total = 0, n;
    do {
        if (stsm_message_reader_read(&r, pieces + total, cap < sizeof pieces - total ? cap : sizeof pieces - total,
                                     &n) != STSM_OK ||
            (n > 0 && n < cap && total + n != whole_len)) {
            abort();
        }
        total += n;
    } while (n > 0 && total < sizeof pieces);
    if (total != whole_len || memcmp(pieces, whole, whole_len) != 0) {
        abort();
    }
    return 0;
}
