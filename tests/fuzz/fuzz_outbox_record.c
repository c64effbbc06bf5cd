/*
 * libFuzzer harness for the outbox's stored message records (stsm_outbox_decode): flash
 * may hold anything. Input: one flag byte (bit 0: a state record follows the content),
 * the message id (4 bytes, big-endian), the content length (2 bytes, big-endian), the
 * content, and the state record (the rest). Whatever decodes is a message the message
 * writer accepts, with every string terminated inside its buffer, the body inside the
 * content, and every count and state in range.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "stsm_message.h"
#include "stsm_outbox.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct stsm_outbox_message m;
static char text[STSM_OUTBOX_TEXT_MAX];

static void check_within(const char *s, const char *buf, size_t cap)
{
    if (s < buf || s >= buf + cap || memchr(s, '\0', cap - (size_t)(s - buf)) == NULL) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 7) {
        return 0;
    }
    uint32_t id = (uint32_t)data[1] << 24 | (uint32_t)data[2] << 16 | (uint32_t)data[3] << 8 | data[4];
    size_t content_len = (size_t)data[5] << 8 | data[6];
    const uint8_t *content = data + 7;
    if (content_len > size - 7) {
        content_len = size - 7;
    }
    const uint8_t *state = (data[0] & 1) ? content + content_len : NULL;
    size_t state_len = (data[0] & 1) ? size - 7 - content_len : 0;
    /* Any record the decoder takes has its text within STSM_OUTBOX_TEXT_MAX: a buffer that
     * size never gets STSM_ERR_CAPACITY. */
    stsm_status_t st = stsm_outbox_decode(id, content, content_len, state, state_len, &m, text, sizeof text);
    if (st == STSM_ERR_CORRUPT) {
        return 0;
    }
    if (st != STSM_OK) {
        abort();
    }
    check_within(m.key, text, sizeof text);
    if (m.id != id || (unsigned)m.severity >= STSM_SEVERITY_COUNT || m.to_count == 0 ||
        m.to_count > STSM_SMTP_MAX_RCPT || m.raised_count == 0 ||
        memchr(m.last_error, '\0', sizeof m.last_error) == NULL) {
        abort();
    }
    if ((const uint8_t *)m.body < content || (const uint8_t *)m.body + m.body_len > content + content_len) {
        abort();
    }
    struct stsm_message msg;
    memset(&msg, 0, sizeof msg);
    msg.from = "sender@example.com";
    for (size_t i = 0; i < m.to_count; i++) {
        check_within(m.to[i], text, sizeof text);
        if ((unsigned)m.rcpt[i] > STSM_RCPT_GAVE_UP) {
            abort();
        }
        msg.to[i] = m.to[i];
    }
    check_within(m.subject, text, sizeof text);
    msg.to_count = m.to_count;
    msg.subject = m.subject;
    msg.body = m.body;
    msg.body_len = m.body_len;
    char why[160];
    if (stsm_message_check(&msg, why, sizeof why) != STSM_OK) {
        abort();
    }
    for (const char *c = m.last_error; *c != '\0'; c++) {
        if ((unsigned char)*c < 0x20 || (unsigned char)*c > 0x7E) {
            abort();
        }
    }
    return 0;
}
