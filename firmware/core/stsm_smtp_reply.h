/*
 * SMTP reply framer (RFC 5321 section 4.2): turns the bytes a server sends into reply
 * lines and whole replies, however they are split, with hard caps on line length and line
 * count so a hostile or broken server cannot overflow anything. Every line is handed to
 * the caller as it completes, so what a line says (an EHLO extension, say) never depends
 * on how much text the framer keeps for logs. Pure: no I/O, no heap; the framer's state
 * is fixed in size whatever it is fed.
 */
#ifndef STSM_SMTP_REPLY_H
#define STSM_SMTP_REPLY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "stsm_config.h"
#include "stsm_status.h"

/** A whole reply, summarised: its code, its line count and the start of its text. */
struct stsm_smtp_reply {
    uint16_t code;                         /**< 200..599 */
    uint16_t line_count;                   /**< 1..STSM_SMTP_REPLY_LINES_MAX */
    bool text_truncated;                   /**< the text below holds only the first bytes */
    size_t text_len;
    char text[STSM_SMTP_REPLY_TEXT_MAX + 1]; /**< for logs and results only: each line's text
                                                  after "NNN-"/"NNN ", joined with '\\n', bytes
                                                  outside printable ASCII shown as '?',
                                                  NUL-terminated */
};

/** One reply line as the framer completed it. The pointers are views into the framer,
 *  valid until its next feed or init. */
struct stsm_smtp_reply_line {
    const char *text;                      /**< NULL: no line was completed (more bytes
                                                needed); else the text after "NNN-"/"NNN ",
                                                without the line end, NUL-terminated; holds no
                                                NUL (a NUL is a protocol error) */
    size_t len;                            /**< of text */
    uint16_t code;                         /**< the line's code, the same on every line */
    uint16_t index;                        /**< 0 for the first line of a reply */
    const struct stsm_smtp_reply *reply;   /**< non-NULL when this line ended the reply: the
                                                reply as a whole */
};

/** Framer state; fields are private. Initialise with stsm_smtp_reply_init(). */
struct stsm_smtp_reply_framer {
    struct stsm_smtp_reply reply;          /* the reply being assembled, or the last one */
    bool reply_done;                       /* `reply` is complete; the next line starts anew */
    char line[STSM_SMTP_LINE_MAX + 2];     /* the line being assembled (room for CR, then NUL) */
    size_t line_len;
};

void stsm_smtp_reply_init(struct stsm_smtp_reply_framer *framer);

/**
 * Consumes bytes until one line is complete or the input ends, and reports that line in
 * `*line` (line->text NULL when the input ended first). `*consumed` tells how far it read:
 * bytes after the line are left for the next call (they may be the next reply, or a
 * STARTTLS violation the caller must see). Returns STSM_OK, or STSM_ERR_PEER_PROTOCOL for
 * a line longer than STSM_SMTP_LINE_MAX without its line end, a reply of more than
 * STSM_SMTP_REPLY_LINES_MAX lines, a NUL byte, a line that is not "NNN", "NNN-text" or
 * "NNN text" with NNN in 200..599, or lines whose codes differ; `*consumed` then ends at
 * the offending byte and the framer must be initialised again before further use.
 */
stsm_status_t stsm_smtp_reply_feed(struct stsm_smtp_reply_framer *framer, const uint8_t *data,
                                   size_t len, size_t *consumed, struct stsm_smtp_reply_line *line);

/** True while a reply has begun but not ended (bytes are buffered). */
bool stsm_smtp_reply_pending(const struct stsm_smtp_reply_framer *framer);

/** The reply's first line of text (up to the first '\\n'), copied into `buf`. */
void stsm_smtp_reply_first_line(const struct stsm_smtp_reply *reply, char *buf, size_t len);

#endif /* STSM_SMTP_REPLY_H */
