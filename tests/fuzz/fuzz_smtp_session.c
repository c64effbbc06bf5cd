/*
 * libFuzzer harness playing the server side of an SMTP session: the input is the server's
 * byte stream. TLS handshakes succeed, the message is "sent" at once. The engine must
 * never overrun its output, and once it says CLOSE every recipient has an outcome.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "stsm_smtp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct stsm_smtp s;
    struct stsm_smtp_params p = { .ehlo_name = "fuzz.example", .require_tls = (size & 1) != 0,
                                  .mail_from = "a@fuzz.example", .rcpt_count = 3, .size_estimate = 1000,
                                  .auth_user = (size & 2) ? "user" : NULL, .auth_secret = "secret" };
    p.rcpt[0] = "x@example.test";
    p.rcpt[1] = "y@example.test";
    p.rcpt[2] = "z@example.test";
    if (!p.require_tls) {
        p.auth_user = NULL;
    }
    if (stsm_smtp_start(&s, &p) != STSM_OK) {
        abort();
    }
    enum stsm_smtp_action action = STSM_SMTP_WAIT;
    size_t at = 0;
    while (action != STSM_SMTP_CLOSE) {
        size_t out_len;
        stsm_smtp_output(&s, &out_len);
        if (out_len > STSM_SMTP_OUT_MAX) {
            abort();
        }
        stsm_smtp_output_sent(&s, out_len);
        if (action == STSM_SMTP_START_TLS) {
            action = stsm_smtp_tls_done(&s, STSM_OK);
        } else if (action == STSM_SMTP_SEND_DATA) {
            action = stsm_smtp_data_done(&s);
        } else if (at < size) {
            size_t used;
            action = stsm_smtp_receive(&s, data + at, size - at, &used);
            if (used == 0 && action == STSM_SMTP_WAIT) {
                abort();   /* no progress */
            }
            at += used;
        } else {
            action = stsm_smtp_closed(&s);
        }
    }
    for (size_t i = 0; i < p.rcpt_count; i++) {
        if (stsm_smtp_rcpt_result(&s, i)->outcome == STSM_SMTP_PENDING) {
            abort();
        }
    }
    return 0;
}
