/*
 * RFC 5322 alert messages: headers (Date, Message-ID, From, To, Subject, MIME), a
 * text/plain UTF-8 body as 7bit, 8bit (when the server offers 8BITMIME) or
 * quoted-printable, every line CRLF-terminated and at most 998 octets. Pure: the caller
 * gives the time and the randomness for the Message-ID, and the output buffer.
 *
 * The message is written whole (stsm_message_render) or a piece at a time
 * (stsm_message_reader), so a delivery needs no buffer for the whole message; both give
 * the same bytes.
 */
#ifndef STSM_MESSAGE_H
#define STSM_MESSAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "stsm_smtp.h"
#include "stsm_status.h"

struct stsm_message_header {
    const char *name;                /**< printable ASCII, no ':' or space */
    const char *value;               /**< ASCII without CR or LF */
};

struct stsm_message {
    const char *from;                /**< sender address */
    const char *from_name;           /**< optional display name, ASCII printable */
    const char *to[STSM_SMTP_MAX_RCPT];
    size_t to_count;
    const char *subject;             /**< UTF-8; encoded per RFC 2047 when not ASCII */
    const char *body;                /**< UTF-8 text, any line ends */
    size_t body_len;
    /**
     * Optional, for a body that may move while the message is written (in a store that
     * reclaims pages): returns where the body is now and sets `*len`, or NULL when it
     * cannot be found. Called whenever body bytes are needed, its answer used only until
     * it returns; every call must give the same bytes. When set, `body` and `body_len`
     * are not read. NULL: the fixed `body`.
     */
    const char *(*body_at)(void *ctx, size_t *len);
    void *body_ctx;                  /**< for body_at */
    const char *preamble;            /**< optional lines put before the body, e.g. how many
                                          times a coalesced alert was raised: printable
                                          ASCII without '=', '\n' after each line, lines of
                                          at most 76 characters (valid as 7bit and as
                                          quoted-printable alike) */
    struct stsm_message_header extra[STSM_MESSAGE_MAX_EXTRA];
    size_t extra_count;
    int64_t date;                    /**< seconds since 1970 (UTC) for the Date header */
    uint32_t id_random[2];           /**< randomness for the Message-ID */
};

/**
 * Checks that the message can be written: addresses present and plain, no CR or LF in
 * any header value (header injection), valid extra header names, subject and body valid
 * UTF-8. Returns STSM_ERR_ARGUMENT with one sentence in `why` naming the field.
 */
stsm_status_t stsm_message_check(const struct stsm_message *m, char *why, size_t why_len);

/** True when the body holds bytes above 0x7F (it needs 8BITMIME or quoted-printable);
 *  false when body_at cannot find it. */
bool stsm_message_is_8bit(const struct stsm_message *m);

/**
 * Writes the message into `out`. With `allow_8bit` an 8-bit body goes as 8bit (when its
 * lines fit in 998 octets), otherwise as quoted-printable. Returns STSM_ERR_CAPACITY when
 * `cap` is too small, STSM_ERR_ARGUMENT for a message stsm_message_check() refuses,
 * STSM_ERR_IO when body_at cannot find the body.
 */
stsm_status_t stsm_message_render(const struct stsm_message *m, bool allow_8bit, char *out,
                                  size_t cap, size_t *len);

/** Writes a message a piece at a time. Allocate anywhere; the fields are private. */
struct stsm_message_reader {
    const struct stsm_message *message;
    stsm_status_t status;            /* the first failure, kept */
    uint8_t part;                    /* head (headers, blank line, preamble), body, done */
    bool qp;                         /* the body goes as quoted-printable */
    bool eightbit;
    size_t head_sent;                /* bytes of the head handed out */
    size_t body_len;                 /* as found at the start */
    size_t body_pos;                 /* the next body byte; body_len + 1 once the end is out */
    size_t col;                      /* quoted-printable: characters on the current line */
    char piece[6];                   /* what the last body byte became, not all handed out */
    uint8_t piece_len, piece_sent;
};

/**
 * Starts writing `m`, which must stay alive and unchanged (but for where body_at finds
 * the body) while `reader` is read. The encoding is chosen here as stsm_message_render()
 * chooses it. STSM_ERR_ARGUMENT for a message stsm_message_check() refuses, STSM_ERR_IO
 * when body_at cannot find the body.
 */
stsm_status_t stsm_message_reader_start(struct stsm_message_reader *reader, const struct stsm_message *m,
                                        bool allow_8bit);

/**
 * Writes the next bytes of the message into `buf` (`cap` at least 1): `*len` gets how
 * many, `cap` unless the message ends first, 0 once it has ended. STSM_ERR_IO (and `*len` 0, now and at
 * every later call) when body_at cannot find the body, or finds one of another length
 * than at the start; the status of a failed start likewise.
 */
stsm_status_t stsm_message_reader_read(struct stsm_message_reader *reader, char *buf, size_t cap,
                                       size_t *len);

/**
 * The length stsm_message_render() would give, counted without a buffer. Statuses as
 * stsm_message_reader_start().
 */
stsm_status_t stsm_message_size(const struct stsm_message *m, bool allow_8bit, size_t *size);

#endif /* STSM_MESSAGE_H */
