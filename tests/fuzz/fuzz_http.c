/*
 * libFuzzer harness for the HTTP/1.1 response parser (the MTA-STS policy fetch). The
 * first byte picks the longest body accepted, the second how the response is cut into
 * segments; the rest is the server's response. The response is parsed three times, whole,
 * in segments and one byte at a time, and the parses must agree on every result, the body
 * handed on included: framing may not depend on where TCP cut the stream. The body is
 * gathered into a buffer of exactly the cap (ASan sees a byte handed on past it). A parse
 * that completes must respect the declared Content-Length; the connection's end completes
 * only a body delimited by it.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "stsm_http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const size_t caps[] = { 0, 1, 5, 64, 256, 4096, 16 * 1024, 65536 };

struct sink {
    uint8_t *buf;
    size_t cap, len;
};

static void take_body(void *arg, const uint8_t *data, size_t len)
{
    struct sink *s = arg;
    if (len == 0 || len > s->cap - s->len) {
        abort();   /* an empty piece, or body past the cap */
    }
    memcpy(s->buf + s->len, data, len);
    s->len += len;
}

/* Feeds `len` bytes in segments whose sizes follow `cut` (0: all at once, 1: byte by
 * byte); returns the first status that is not OK, or OK. */
static stsm_status_t parse(struct stsm_http_response *r, struct sink *s, const uint8_t *data, size_t len,
                           unsigned cut)
{
    s->len = 0;
    stsm_http_response_init(r, s->cap, take_body, s);
    size_t i = 0;
    unsigned step = 0;
    while (i < len) {
        size_t n = len - i;
        if (cut == 1) {
            n = 1;
        } else if (cut != 0) {
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

static void check_response(const struct stsm_http_response *r, const struct sink *s)
{
    size_t ct = strnlen(r->content_type, sizeof r->content_type);
    if (r->body_len > s->cap || r->body_len != s->len || ct == sizeof r->content_type) {
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

static bool same(const struct stsm_http_response *a, const struct sink *sa, const struct stsm_http_response *b,
                 const struct sink *sb)
{
    return a->complete == b->complete && a->status == b->status && a->body_len == b->body_len &&
           sa->len == sb->len && memcmp(sa->buf, sb->buf, sa->len) == 0 &&
           strcmp(a->content_type, b->content_type) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct stsm_http_response whole, cut, bytes;
    if (size < 2) {
        return 0;
    }
    size_t cap = caps[data[0] & 7u];
    unsigned segment = data[1];
    data += 2;
    size -= 2;
    struct sink s_whole = { malloc(cap ? cap : 1), cap, 0 };
    struct sink s_cut = { malloc(cap ? cap : 1), cap, 0 };
    struct sink s_bytes = { malloc(cap ? cap : 1), cap, 0 };
    if (s_whole.buf == NULL || s_cut.buf == NULL || s_bytes.buf == NULL) {
        abort();
    }
    stsm_status_t st_whole = parse(&whole, &s_whole, data, size, 0);
    stsm_status_t st_cut = parse(&cut, &s_cut, data, size, segment > 1 ? segment : 2);
    stsm_status_t st_bytes = parse(&bytes, &s_bytes, data, size, 1);
    /* A refused response is refused the same way however it was cut (how much of its body
     * was handed on before the refusal is of no use to anyone). */
    if (st_whole != st_cut || st_whole != st_bytes ||
        (st_whole == STSM_OK && (!same(&whole, &s_whole, &cut, &s_cut) || !same(&whole, &s_whole, &bytes, &s_bytes)))) {
        abort();
    }
    check_response(&whole, &s_whole);
    check_response(&bytes, &s_bytes);
    if (st_whole == STSM_OK) {
        bool was_complete = whole.complete;
        stsm_status_t st_eof = stsm_http_response_eof(&whole);
        /* The end of the connection may complete only a body without length or chunks. */
        if ((st_eof == STSM_OK) != whole.complete ||
            (!was_complete && whole.complete && (whole.have_length || whole.chunked))) {
            abort();
        }
        check_response(&whole, &s_whole);
    }
    free(s_whole.buf);
    free(s_cut.buf);
    free(s_bytes.buf);
    return 0;
}
