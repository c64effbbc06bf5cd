/*
 * Bounded reader over a byte buffer. Every read checks the remaining length first; a
 * read that would run past the end fails and leaves the position unchanged. Parsers walk
 * untrusted input only through this.
 */
#ifndef STSM_CURSOR_H
#define STSM_CURSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct stsm_cursor {
    const uint8_t *buf;   /* the whole input; reads never leave [buf, buf + len) */
    size_t len;
    size_t pos;
};

/** Starts reading `len` bytes at `buf`. The buffer must outlive the cursor. */
void stsm_cursor_init(struct stsm_cursor *c, const uint8_t *buf, size_t len);

/** Bytes left to read. */
size_t stsm_cursor_remaining(const struct stsm_cursor *c);

/** Big-endian reads; false when the input is too short. */
bool stsm_cursor_u8(struct stsm_cursor *c, uint8_t *value);
bool stsm_cursor_u16(struct stsm_cursor *c, uint16_t *value);
bool stsm_cursor_u32(struct stsm_cursor *c, uint32_t *value);

/** Copies `n` bytes to `out`; false when fewer than `n` remain. */
bool stsm_cursor_bytes(struct stsm_cursor *c, void *out, size_t n);

/** Skips `n` bytes; false when fewer than `n` remain. */
bool stsm_cursor_skip(struct stsm_cursor *c, size_t n);

/** Moves to absolute offset `pos` (at most len); false when out of range. */
bool stsm_cursor_seek(struct stsm_cursor *c, size_t pos);

#endif /* STSM_CURSOR_H */
