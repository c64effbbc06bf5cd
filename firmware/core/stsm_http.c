#include "stsm_http.h"

#include <stdio.h>
#include <string.h>

/* A Content-Type line with its name, a little whitespace and the longest media type kept
 * (content_type) must fit what is kept of a line. */
_Static_assert(STSM_HTTP_LINE_MAX >= 96, "STSM_HTTP_LINE_MAX below 96: Content-Type would not fit");

enum { ST_STATUS, ST_HEADERS, ST_BODY_LENGTH, ST_BODY_CLOSE, ST_CHUNK_SIZE, ST_CHUNK_DATA,
       ST_CHUNK_END, ST_TRAILERS, ST_DONE };

size_t stsm_http_get_request(char *out, size_t cap, const char *host, const char *path)
{
    int n = snprintf(out, cap,
                     "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: stsmail\r\nAccept: text/plain\r\n"
                     "Connection: close\r\n\r\n", path, host);
    return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

void stsm_http_response_init(struct stsm_http_response *r, size_t cap, stsm_http_body_fn body_fn, void *arg)
{
    memset(r, 0, sizeof *r);
    r->state = ST_STATUS;
    r->body_cap = cap;
    r->body_fn = body_fn;
    r->body_arg = arg;
}

/* Not inlined: four uses, smaller as calls. */
__attribute__((noinline)) static char lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* Optional whitespace (RFC 9110): space or tab. */
static bool is_ows(char c)
{
    return c == ' ' || c == '\t';
}

static bool name_is(const char *line, size_t name_len, const char *name)
{
    if (name_len != strlen(name)) {
        return false;
    }
    for (size_t i = 0; i < name_len; i++) {
        if (lower(line[i]) != name[i]) {
            return false;
        }
    }
    return true;
}

/* Parses a decimal Content-Length (digits only, at most 18). */
static bool parse_length(const char *s, size_t n, uint64_t *out)
{
    if (n == 0 || n > 18) {
        return false;
    }
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return false;
        }
        v = v * 10u + (uint64_t)(s[i] - '0');
    }
    *out = v;
    return true;
}

static stsm_status_t status_line(struct stsm_http_response *r)
{
    const char *l = r->line;
    /* HTTP/1.x SP 3DIGIT [SP reason], the code 100 to 599 */
    if (r->line_len < 12 || memcmp(l, "HTTP/1.", 7) != 0 || (l[7] != '0' && l[7] != '1') || l[8] != ' ' ||
        (r->line_len > 12 && l[12] != ' ')) {
        return STSM_ERR_PEER_PROTOCOL;
    }
    unsigned status = 0;
    for (size_t i = 9; i < 12; i++) {
        if (l[i] < '0' || l[i] > '9') {
            return STSM_ERR_PEER_PROTOCOL;
        }
        status = status * 10u + (unsigned)(l[i] - '0');
    }
    if (status < 100 || status > 599) {
        return STSM_ERR_PEER_PROTOCOL;
    }
    r->status = (uint16_t)status;
    r->state = ST_HEADERS;
    return STSM_OK;
}

static stsm_status_t header_line(struct stsm_http_response *r)
{
    if (r->line_len == 0) {
        /* End of headers: how is the body delimited? Both a length and chunking is how
         * responses are smuggled (RFC 9112 section 6.3): refuse rather than pick one. */
        if (r->chunked && r->have_length) {
            return STSM_ERR_PEER_PROTOCOL;
        }
        if (r->chunked) {
            r->state = ST_CHUNK_SIZE;
        } else if (r->have_length) {
            if (r->content_length > r->body_cap) {
                return STSM_ERR_CAPACITY;
            }
            r->state = r->content_length == 0 ? ST_DONE : ST_BODY_LENGTH;
        } else {
            r->state = ST_BODY_CLOSE;
        }
        r->complete = r->state == ST_DONE;
        return STSM_OK;
    }
    const char *l = r->line;
    const char *colon = memchr(l, ':', r->line_len);
    /* A cut line (r->line_cut) is read on its first STSM_HTTP_LINE_MAX bytes: its name must
     * be among them (no real field name is that long). */
    if (colon == NULL || colon == l || is_ows(l[0]) || colon[-1] == ' ') {
        return STSM_ERR_PEER_PROTOCOL;   /* no name, or obsolete line folding */
    }
    size_t name_len = (size_t)(colon - l);
    const char *v = colon + 1;
    size_t vlen = r->line_len - name_len - 1;
    while (vlen > 0 && is_ows(*v)) {
        v++;
        vlen--;
    }
    const char *kept_end = v + vlen;
    while (vlen > 0 && is_ows(v[vlen - 1])) {
        vlen--;
    }
    if (name_is(l, name_len, "content-length")) {
        uint64_t n;
        /* A valid length (18 digits at most) never makes a cut line. */
        if (r->line_cut || !parse_length(v, vlen, &n) || (r->have_length && n != r->content_length)) {
            return STSM_ERR_PEER_PROTOCOL;
        }
        r->have_length = true;
        r->content_length = n;
    } else if (name_is(l, name_len, "transfer-encoding")) {
        /* Only "chunked" is understood; anything else cannot be delimited safely. */
        if (r->line_cut || vlen != 7 || !name_is(v, 7, "chunked")) {
            return STSM_ERR_PEER_PROTOCOL;
        }
        r->chunked = true;
    } else if (name_is(l, name_len, "content-type")) {
        size_t n = 0;
        while (n < vlen && v[n] != ';' && !is_ows(v[n]) && n + 1 < sizeof r->content_type) {
            r->content_type[n] = lower(v[n]);
            n++;
        }
        /* A media type that runs to the end of what was kept of a cut line may go on: a
         * prefix of it ("text/plain" of "text/plainx") must not pass for the type. */
        if (r->line_cut && v + n == kept_end) {
            n = 0;
        }
        r->content_type[n] = '\0';
    }
    return STSM_OK;
}

static stsm_status_t chunk_size_line(struct stsm_http_response *r)
{
    uint64_t size = 0;
    size_t i = 0;
    for (; i < r->line_len; i++) {
        char c = lower(r->line[i]);
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (d < 0) {
            break;
        }
        if (i == 15) {
            return STSM_ERR_PEER_PROTOCOL;   /* absurd size */
        }
        size = size * 16u + (uint64_t)d;
    }
    if (i == 0 || (i < r->line_len && r->line[i] != ';' && !is_ows(r->line[i]))) {
        return STSM_ERR_PEER_PROTOCOL;
    }
    if (size > r->body_cap - r->body_len) {
        return STSM_ERR_CAPACITY;
    }
    r->chunk_left = size;
    r->state = size == 0 ? ST_TRAILERS : ST_CHUNK_DATA;
    return STSM_OK;
}

/* A complete line (without CRLF) in one of the line-oriented states. Not inlined:
 * the feed loop is smaller with it called. */
__attribute__((noinline)) static stsm_status_t on_line(struct stsm_http_response *r)
{
    switch (r->state) {
    case ST_STATUS:
        return status_line(r);
    case ST_HEADERS:
        return header_line(r);
    case ST_CHUNK_SIZE:
        return chunk_size_line(r);
    case ST_CHUNK_END:
        if (r->line_len != 0) {
            return STSM_ERR_PEER_PROTOCOL;
        }
        r->state = ST_CHUNK_SIZE;
        return STSM_OK;
    case ST_TRAILERS:
        if (r->line_len == 0) {
            r->state = ST_DONE;
            r->complete = true;
        }
        return STSM_OK;
    default:
        return STSM_ERR_PEER_PROTOCOL;
    }
}

static stsm_status_t take_body(struct stsm_http_response *r, const uint8_t *data, size_t n)
{
    if (n > r->body_cap - r->body_len) {
        return STSM_ERR_CAPACITY;
    }
    if (n > 0 && r->body_fn != NULL) {
        r->body_fn(r->body_arg, data, n);
    }
    r->body_len += n;
    return STSM_OK;
}

stsm_status_t stsm_http_response_feed(struct stsm_http_response *r, const uint8_t *data, size_t len)
{
    size_t i = 0;
    while (i < len && r->state != ST_DONE) {
        stsm_status_t st;
        if (r->state == ST_BODY_LENGTH || r->state == ST_CHUNK_DATA) {
            uint64_t left = r->state == ST_BODY_LENGTH ? r->content_length - r->body_len : r->chunk_left;
            size_t n = len - i < left ? len - i : (size_t)left;
            if ((st = take_body(r, data + i, n)) != STSM_OK) {
                return st;
            }
            i += n;
            if (r->state == ST_BODY_LENGTH && r->body_len == r->content_length) {
                r->state = ST_DONE;
                r->complete = true;
            } else if (r->state == ST_CHUNK_DATA && (r->chunk_left -= n) == 0) {
                r->state = ST_CHUNK_END;
            }
            continue;
        }
        if (r->state == ST_BODY_CLOSE) {
            if ((st = take_body(r, data + i, len - i)) != STSM_OK) {
                return st;
            }
            return STSM_OK;
        }
        char c = (char)data[i++];
        if (c != '\n') {
            if (r->state == ST_HEADERS && ++r->header_bytes > STSM_HTTP_HEADERS_MAX) {
                return STSM_ERR_PEER_PROTOCOL;
            }
            if (r->line_cut) {
                /* A status, chunk-size or trailer line is not counted with the headers,
                 * but what is skipped of one line is bounded all the same. */
                if (++r->line_skipped > STSM_HTTP_HEADERS_MAX) {
                    return STSM_ERR_PEER_PROTOCOL;
                }
                continue;
            }
            if (r->line_len < STSM_HTTP_LINE_MAX) {
                r->line[r->line_len++] = c;
            } else {
                /* Longer than what is kept: everything we read of any line (the status
                 * code, a chunk's size, the three headers we use) is in its first bytes;
                 * the rest is skipped, and the line read at its end as usual. */
                r->line_cut = true;
                r->line_skipped = 1;
            }
            continue;
        }
        if (!r->line_cut && r->line_len > 0 && r->line[r->line_len - 1] == '\r') {
            r->line_len--;
        }
        r->line[r->line_len] = '\0';
        st = on_line(r);
        r->line_len = 0;
        r->line_cut = false;
        r->line_skipped = 0;
        if (st != STSM_OK) {
            return st;
        }
    }
    return STSM_OK;
}

stsm_status_t stsm_http_response_eof(struct stsm_http_response *r)
{
    if (r->state == ST_BODY_CLOSE) {
        r->state = ST_DONE;
        r->complete = true;
    }
    return r->complete ? STSM_OK : STSM_ERR_PEER_CLOSED;
}
