/*
 * The small HTTP/1.1 client side MTA-STS needs: one GET request, and a response parser
 * fed with bytes as they arrive (status line, headers, a body delimited by
 * Content-Length, chunked encoding, or the end of the connection) that hands the body on
 * in pieces as it comes, under a hard cap. No body buffer: what the body is for is the
 * caller's. Pure: no I/O, no heap.
 */
#ifndef STSM_HTTP_H
#define STSM_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "stsm_config.h"
#include "stsm_status.h"

/** Takes the next `len` body bytes (`data` is valid during the call only). The pieces come
 *  in order, each byte once, already unframed (no chunk-size lines); they are cut wherever
 *  the input was. Called from inside stsm_http_response_feed(), never with 0 bytes. */
typedef void (*stsm_http_body_fn)(void *arg, const uint8_t *data, size_t len);

/** Response parser state. Fields are read-only results once `complete`; `status`,
 *  `content_type`, `chunked`, `have_length` and `content_length` are final before the
 *  first body byte is handed on. */
struct stsm_http_response {
    int state;
    uint16_t status;                   /**< 200, 404, ... */
    char content_type[64];             /**< media type, lower case, without parameters */
    bool chunked;
    bool have_length;
    uint64_t content_length;
    bool complete;                     /**< the whole body is in */
    size_t body_cap;                   /**< the longest body accepted */
    size_t body_len;                   /**< body bytes received and handed on */
    stsm_http_body_fn body_fn;         /* private: where body bytes go (NULL: counted only) */
    void *body_arg;
    char line[STSM_HTTP_LINE_MAX + 1];  /* a line's first STSM_HTTP_LINE_MAX bytes */
    size_t line_len;
    bool line_cut;                     /* the line goes on past `line`: its rest is skipped */
    size_t line_skipped;               /* bytes skipped of it (at most STSM_HTTP_HEADERS_MAX) */
    size_t header_bytes;
    uint64_t chunk_left;               /* bytes of the current chunk still to come */
};

/** Writes "GET path HTTP/1.1" with Host, User-Agent, Accept and Connection: close into `out`; returns
 *  its length, or 0 when it does not fit. */
size_t stsm_http_get_request(char *out, size_t cap, const char *host, const char *path);

/** Starts parsing a response whose body, at most `cap` bytes, goes to `body_fn(arg, ...)`
 *  as it arrives (`body_fn` may be NULL: the body is then only counted). */
void stsm_http_response_init(struct stsm_http_response *r, size_t cap, stsm_http_body_fn body_fn, void *arg);

/**
 * Feeds received bytes. Only a line's first STSM_HTTP_LINE_MAX bytes are kept, which hold
 * all the parser reads (status code, chunk size, Content-Type, Content-Length,
 * Transfer-Encoding); the rest of a longer line is skipped, so other header fields, reason
 * phrases and chunk extensions may be long (all headers together, and what is skipped of
 * any one line, at most STSM_HTTP_HEADERS_MAX). Returns STSM_OK (look at `complete`), STSM_ERR_PEER_PROTOCOL for
 * a response that breaks HTTP/1.1 framing (or a longer Content-Length or
 * Transfer-Encoding line, a field name longer than STSM_HTTP_LINE_MAX, a non-empty line
 * after a chunk's data, or both Content-Length and Transfer-Encoding, whose framings
 * disagree), or
 * STSM_ERR_CAPACITY when the body would exceed `cap` (known from Content-Length or a
 * chunk size before any of the excess is handed on; for a body delimited by the close,
 * the piece that would cross the cap is refused whole). Bytes after a complete response
 * are ignored.
 */
stsm_status_t stsm_http_response_feed(struct stsm_http_response *r, const uint8_t *data, size_t len);

/**
 * The peer ended the stream in order: completes a body delimited by the close and returns
 * STSM_OK, or STSM_ERR_PEER_CLOSED when the response was cut short (headers unfinished,
 * fewer bytes than Content-Length, chunked without its last chunk and trailer end). Under
 * TLS "in order" means close_notify: a bare TCP close can be forged by anyone on the path
 * and must fail the response instead of reaching this function.
 */
stsm_status_t stsm_http_response_eof(struct stsm_http_response *r);

#endif /* STSM_HTTP_H */
