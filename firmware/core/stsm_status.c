#include "stsm_status.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>

/* One row per status: a stable identifier for machine-readable output, and a short
 * description for messages. */
static const struct {
    const char *id;
    const char *text;
} statuses[STSM_STATUS_COUNT] = {
    [STSM_OK] = { "ok", "ok" },
    [STSM_ERR_ARGUMENT] = { "argument", "invalid argument" },
    [STSM_ERR_NO_MEMORY] = { "no_memory", "out of memory" },
    [STSM_ERR_IO] = { "io", "platform I/O error" },
    [STSM_ERR_TIMEOUT] = { "timeout", "timed out" },
    [STSM_ERR_RESOLVE] = { "resolve", "name not resolved" },
    [STSM_ERR_CONNECT] = { "connect", "connection failed" },
    [STSM_ERR_PEER_CLOSED] = { "peer_closed", "peer closed the connection" },
    [STSM_ERR_PEER_PROTOCOL] = { "peer_protocol", "peer protocol violation" },
    [STSM_ERR_CAPACITY] = { "capacity", "capacity exceeded" },
    [STSM_ERR_DNS_MALFORMED] = { "dns_malformed", "malformed DNS message" },
    [STSM_ERR_DNS_NOT_ANSWER] = { "dns_not_answer", "not an answer to the query" },
    [STSM_ERR_DNS_CNAME_CHAIN] = { "dns_cname_chain", "CNAME chain loops or is too long" },
    [STSM_ERR_DNS_SERVER_FAILURE] = { "dns_server_failure", "DNS servers failed to answer" },
    [STSM_ERR_NOT_CONFIGURED] = { "not_configured", "not configured" },
    [STSM_ERR_CORRUPT] = { "corrupt", "stored data is corrupt" },
    [STSM_ERR_TLS_UNTRUSTED] = { "tls_untrusted", "certificate not issued by a trusted CA" },
    [STSM_ERR_TLS_EXPIRED] = { "tls_expired", "certificate expired" },
    [STSM_ERR_TLS_NOT_YET_VALID] = { "tls_not_yet_valid", "certificate not yet valid" },
    [STSM_ERR_TLS_NAME_MISMATCH] = { "tls_name_mismatch", "certificate is for another name" },
    [STSM_ERR_TLS_VERSION] = { "tls_version", "peer offers no TLS 1.2+ version or AEAD suite we accept" },
    [STSM_ERR_TLS_HANDSHAKE] = { "tls_handshake", "TLS handshake failed" },
    [STSM_ERR_TLS_NOT_OFFERED] = { "tls_not_offered", "TLS required but the server does not offer STARTTLS" },
    [STSM_ERR_STS_HTTP_STATUS] = { "sts_http_status", "policy server did not answer 200" },
    [STSM_ERR_STS_CONTENT_TYPE] = { "sts_content_type", "policy not served as text/plain" },
    [STSM_ERR_STS_POLICY_INVALID] = { "sts_policy_invalid", "policy breaks RFC 8461" },
    [STSM_ERR_STS_NO_MATCH] = { "sts_no_usable_mx", "no MX host is usable under the MTA-STS policy" },
    [STSM_ERR_TLS_TRUNCATED] = { "tls_truncated", "connection closed without TLS close_notify" },
    [STSM_ERR_FULL] = { "full", "no room: nothing was stored" },
    [STSM_ERR_NOT_FOUND] = { "not_found", "no such item" },
    [STSM_ERR_STOPPED] = { "stopped", "stopped for a shutdown" },
};

static bool known(stsm_status_t status)
{
    return (unsigned)status < STSM_STATUS_COUNT && statuses[status].id != 0;
}

const char *stsm_status_str(stsm_status_t status)
{
    return known(status) ? statuses[status].text : "unknown status";
}

const char *stsm_status_id(stsm_status_t status)
{
    return known(status) ? statuses[status].id : "unknown";
}

stsm_status_t stsm_refuse(char *why, size_t len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, len, fmt, ap);
    va_end(ap);
    return STSM_ERR_ARGUMENT;
}
