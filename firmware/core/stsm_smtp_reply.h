/*
 * SMTP reply framer (RFC 5321 section 4.2): turns the bytes a server sends into whole
 * replies, however they are split, with hard caps on line length and line count so a
 * hostile or broken server cannot overflow anything. Pure: no I/O, no heap.
 */
#ifndef STSM_SMTP_REPLY_H
#define STSM_SMTP_REPLY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "stsm_config.h"
#include "stsm_status.h"

/** One complete reply. */
struct stsm_smtp_reply {
    uint16_t code;                         /**< 200..599 */
    uint8_t line_count;
    bool text_truncated;                   /**< the text below holds only the first bytes */
    size_t text_len;
    char text[STSM_SMTP_REPLY_TEXT_MAX + 1]; /**< each line's text after "NNN-"/"NNN ",
                                                  joined with '\\n', NUL-terminated */
};

/** Framer state; fields are private. Initialise with stsm_smtp_reply_init(). */
struct stsm_smtp_reply_framer {
    struct stsm_smtp_reply reply;          /* the reply being assembled */
    char line[STSM_SMTP_LINE_MAX + 2];     /* the line being assembled (room for CR) */
    size_t line_len;
};

void stsm_smtp_reply_init(struct stsm_smtp_reply_framer *framer);

/**
 * Consumes bytes until one reply is complete or the input ends. `*consumed` tells how far
 * it read: bytes after a complete reply are left for the next call (they may be a
 * STARTTLS violation the caller must see). Returns STSM_OK with `*complete` set when
 * `out` holds a reply, STSM_OK without it when more bytes are needed, or
 * STSM_ERR_PEER_PROTOCOL for a line that is too long, too many lines, a line that is not
 * "NNN", "NNN-text" or "NNN text", or lines whose codes differ.
 */
stsm_status_t stsm_smtp_reply_feed(struct stsm_smtp_reply_framer *framer, const uint8_t *data,
                                   size_t len, size_t *consumed, struct stsm_smtp_reply *out,
                                   bool *complete);

/** True while a reply has begun but not ended (bytes are buffered). */
bool stsm_smtp_reply_pending(const struct stsm_smtp_reply_framer *framer);

/** The reply's first line of text (up to the first '\\n'), copied into `buf`. */
void stsm_smtp_reply_first_line(const struct stsm_smtp_reply *reply, char *buf, size_t len);

#endif /* STSM_SMTP_REPLY_H */
