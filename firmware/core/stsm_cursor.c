#include "stsm_cursor.h"

#include <string.h>

void stsm_cursor_init(struct stsm_cursor *c, const uint8_t *buf, size_t len)
{
    c->buf = buf;
    c->len = buf != NULL ? len : 0;
    c->pos = 0;
}

size_t stsm_cursor_remaining(const struct stsm_cursor *c)
{
    return c->len - c->pos;
}

bool stsm_cursor_bytes(struct stsm_cursor *c, void *out, size_t n)
{
    if (stsm_cursor_remaining(c) < n) {
        return false;
    }
    if (n > 0) {
        memcpy(out, c->buf + c->pos, n);
    }
    c->pos += n;
    return true;
}

bool stsm_cursor_u8(struct stsm_cursor *c, uint8_t *value)
{
    return stsm_cursor_bytes(c, value, 1);
}

bool stsm_cursor_u16(struct stsm_cursor *c, uint16_t *value)
{
    uint8_t b[2];
    if (!stsm_cursor_bytes(c, b, sizeof b)) {
        return false;
    }
    *value = (uint16_t)((b[0] << 8) | b[1]);
    return true;
}

bool stsm_cursor_u32(struct stsm_cursor *c, uint32_t *value)
{
    uint8_t b[4];
    if (!stsm_cursor_bytes(c, b, sizeof b)) {
        return false;
    }
    *value = ((uint32_t)b[0] << 24) | ((uint32_t)b[1] << 16) | ((uint32_t)b[2] << 8) | b[3];
    return true;
}

bool stsm_cursor_skip(struct stsm_cursor *c, size_t n)
{
    if (stsm_cursor_remaining(c) < n) {
        return false;
    }
    c->pos += n;
    return true;
}

bool stsm_cursor_seek(struct stsm_cursor *c, size_t pos)
{
    if (pos > c->len) {
        return false;
    }
    c->pos = pos;
    return true;
}
