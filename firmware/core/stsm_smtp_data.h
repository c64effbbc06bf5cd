/*
 * The DATA stream encoder (RFC 5321 section 4.5.2): whatever the message's line ends,
 * every line leaves as CRLF (bare CR and bare LF become CRLF, which also shuts the door on
 * SMTP smuggling), a line starting with "." gets a second one, and the end is
 * "CRLF . CRLF". Streaming: any chunk size, no heap. For BDAT (RFC 3030) the same line
 * ends, no dot-stuffing and no terminator: the chunk's length says where the message ends.
 */
#ifndef STSM_SMTP_DATA_H
#define STSM_SMTP_DATA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct stsm_smtp_data {
    bool at_line_start;   /* the next byte starts a line */
    bool after_cr;        /* the last byte was a CR (already sent as CRLF) */
    bool chunk;           /* BDAT: no dot-stuffing, no "." at the end */
    size_t total;         /* bytes written so far, the finish included */
};

/** For DATA. */
void stsm_smtp_data_init(struct stsm_smtp_data *enc);

/** For a BDAT chunk: `total` after the finish is the chunk's exact size. */
void stsm_smtp_data_init_chunk(struct stsm_smtp_data *enc);

/**
 * Encodes as much of `in` as fits into `out` (each input byte takes at most 2 output
 * bytes) and returns the number of input bytes consumed; `*out_len` gets the bytes
 * written. `out_cap` must be at least 2.
 */
size_t stsm_smtp_data_encode(struct stsm_smtp_data *enc, const uint8_t *in, size_t in_len,
                             uint8_t *out, size_t out_cap, size_t *out_len);

/** Writes the end of the data (CRLF if the last line was open, then ".\r\n" but for a
 *  chunk) into `out` (at least 5 bytes) and returns its length. */
size_t stsm_smtp_data_finish(struct stsm_smtp_data *enc, uint8_t *out);

#endif /* STSM_SMTP_DATA_H */
