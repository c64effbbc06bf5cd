/*
 * libFuzzer harness for the HTTP/1.1 response parser (the MTA-STS policy fetch). The
 * first byte picks the longest body accepted and how much of it is stored (body_keep),
 * the second how the response is cut into segments; the rest is the server's response. The response is parsed twice, whole and
 * in segments, and both parses must agree on every result: framing may not depend on
 * where TCP cut the stream. A parse that completes must respect the buffer and the
 * declared Content-Length; the connection's end completes only a body delimited by it.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "stsm_http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const size_t caps[] = { 0, 1, 5, 64, 256, 4096, 16 * 1024, 65536 };

/* Feeds `len` bytes in segments whose sizes follow `cut` (0: all at once); returns the
 * first status that is not OK, or OK. */
static stsm_status_t parse(struct stsm_http_response *r, uint8_t *body, size_t cap, size_t keep,
                           const uint8_t *data, size_t len, unsigned cut)
{
    stsm_http_response_init(r, body, cap);
    r->body_keep = keep;
    size_t i = 0;
    unsigned step = 0;
    while (i < len) {
        size_t n = len - i;
        if (cut != 0) {
            size_t seg = 1u + ((cut * 7u + step * 13u) % (cut + 1u));
            n = seg < n ? seg : n;
        }
        stsm_status_t st = stsm_http_response_feed(r, data + i, n);
        if (st != STSM_OK) {
            return st;
        }
        i += n;
        step++;
    }
    return STSM_OK;
}

static void check_response(const struct stsm_http_response *r, size_t cap, size_t keep)
{
    size_t ct = strnlen(r->content_type, sizeof r->content_type);
    if (r->body_len > cap || r->body_keep != keep || ct == sizeof r->content_type) {
        abort();
    }
    for (size_t i = 0; i < ct; i++) {
        if (r->content_type[i] >= 'A' && r->content_type[i] <= 'Z') {
            abort();
        }
    }
    if (r->complete) {
        if (r->status < 100 || r->status > 599) {
            abort();
        }
        if (r->have_length && !r->chunked && r->body_len != r->content_length) {
            abort();
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct stsm_http_response whole, cut;
    if (size < 2) {
        return 0;
    }
    size_t cap = caps[data[0] & 7u];
    unsigned keep_sel = (data[0] >> 3) & 3u;   /* all of it, half, one byte, nothing */
    size_t keep = keep_sel == 0 ? cap : keep_sel == 1 ? cap / 2 : keep_sel == 2 ? (cap < 1 ? cap : 1) : 0;
    unsigned segment = data[1];
    data += 2;
    size -= 2;
    /* Buffers of exactly `keep` bytes, so a write past what may be stored is caught by ASan. */
    uint8_t *body_whole = malloc(keep ? keep : 1);
    uint8_t *body_cut = malloc(keep ? keep : 1);
    if (body_whole == NULL || body_cut == NULL) {
        abort();
    }
    stsm_status_t st_whole = parse(&whole, body_whole, cap, keep, data, size, 0);
    stsm_status_t st_cut = parse(&cut, body_cut, cap, keep, data, size, segment ? segment : 1);
    size_t stored = whole.body_len < keep ? whole.body_len : keep;
    /* A refused response is refused the same way however it was cut (how much of its body
     * was taken before the refusal is of no use to anyone). */
    if (st_whole != st_cut ||
        (st_whole == STSM_OK &&
         (whole.complete != cut.complete || whole.status != cut.status || whole.body_len != cut.body_len ||
          memcmp(body_whole, body_cut, stored) != 0 || strcmp(whole.content_type, cut.content_type) != 0))) {
        abort();
    }
    check_response(&whole, cap, keep);
    if (st_whole == STSM_OK) {
        bool was_complete = whole.complete;
        stsm_status_t st_eof = stsm_http_response_eof(&whole);
        /* The end of the connection may complete only a body without length or chunks. */
        if ((st_eof == STSM_OK) != whole.complete ||
            (!was_complete && whole.complete && (whole.have_length || whole.chunked))) {
            abort();
        }
        check_response(&whole, cap, keep);
    }
    free(body_whole);
    free(body_cut);
    return 0;
}
