#include "stsm_status.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>

#include "stsm_text.h"

/* One row per status: a stable identifier for machine-readable output, and a short
 * description for messages. With STSM_TEXT_IDS (stsm_text.h) the description is not in
 * the image: the row keeps one string, the status form "$[=" + id, which
 * stsm_status_str() returns whole and stsm_status_id() past its prefix, and which
 * `stsmail decode-log` turns back into the description (ids never change meaning). */
#if STSM_TEXT_IDS
#define ROW(id, text) { "$[=" id }
#define ID_AT 3
#else
#define ROW(id, text) { id, text }
#define ID_AT 0
#endif

static const struct {
    const char *id;
#if !STSM_TEXT_IDS
    const char *text;
#endif
} statuses[STSM_STATUS_COUNT] = {
    [STSM_OK] = ROW("ok", "ok"),
    [STSM_ERR_ARGUMENT] = ROW("argument", "invalid argument"),
    [STSM_ERR_NO_MEMORY] = ROW("no_memory", "out of memory"),
    [STSM_ERR_IO] = ROW("io", "platform I/O error"),
    [STSM_ERR_TIMEOUT] = ROW("timeout", "timed out"),
    [STSM_ERR_RESOLVE] = ROW("resolve", "name not resolved"),
    [STSM_ERR_CONNECT] = ROW("connect", "connection failed"),
    [STSM_ERR_PEER_CLOSED] = ROW("peer_closed", "peer closed the connection"),
    [STSM_ERR_PEER_PROTOCOL] = ROW("peer_protocol", "peer protocol violation"),
    [STSM_ERR_CAPACITY] = ROW("capacity", "capacity exceeded"),
    [STSM_ERR_DNS_MALFORMED] = ROW("dns_malformed", "malformed DNS message"),
    [STSM_ERR_DNS_NOT_ANSWER] = ROW("dns_not_answer", "not an answer to the query"),
    [STSM_ERR_DNS_CNAME_CHAIN] = ROW("dns_cname_chain", "CNAME chain loops or is too long"),
    [STSM_ERR_DNS_SERVER_FAILURE] = ROW("dns_server_failure", "DNS servers failed to answer"),
    [STSM_ERR_NOT_CONFIGURED] = ROW("not_configured", "not configured"),
    [STSM_ERR_CORRUPT] = ROW("corrupt", "stored data is corrupt"),
    [STSM_ERR_TLS_UNTRUSTED] = ROW("tls_untrusted", "certificate not issued by a trusted CA"),
    [STSM_ERR_TLS_EXPIRED] = ROW("tls_expired", "certificate expired"),
    [STSM_ERR_TLS_NOT_YET_VALID] = ROW("tls_not_yet_valid", "certificate not yet valid"),
    [STSM_ERR_TLS_NAME_MISMATCH] = ROW("tls_name_mismatch", "certificate is for another name"),
    [STSM_ERR_TLS_VERSION] = ROW("tls_version", "peer offers no TLS 1.2+ version or AEAD suite we accept"),
    [STSM_ERR_TLS_HANDSHAKE] = ROW("tls_handshake", "TLS handshake failed"),
    [STSM_ERR_TLS_NOT_OFFERED] = ROW("tls_not_offered", "TLS required but the server does not offer STARTTLS"),
    [STSM_ERR_STS_HTTP_STATUS] = ROW("sts_http_status", "policy server did not answer 200"),
    [STSM_ERR_STS_CONTENT_TYPE] = ROW("sts_content_type", "policy not served as text/plain"),
    [STSM_ERR_STS_POLICY_INVALID] = ROW("sts_policy_invalid", "policy breaks RFC 8461"),
    [STSM_ERR_STS_NO_MATCH] = ROW("sts_no_usable_mx", "no MX host is usable under the MTA-STS policy"),
    [STSM_ERR_TLS_TRUNCATED] = ROW("tls_truncated", "connection closed without TLS close_notify"),
    [STSM_ERR_FULL] = ROW("full", "no room: nothing was stored"),
    [STSM_ERR_NOT_FOUND] = ROW("not_found", "no such item"),
    [STSM_ERR_STOPPED] = ROW("stopped", "stopped for a shutdown"),
};

static bool known(stsm_status_t status)
{
    return (unsigned)status < STSM_STATUS_COUNT && statuses[status].id != 0;
}

const char *stsm_status_str(stsm_status_t status)
{
#if STSM_TEXT_IDS
    return known(status) ? statuses[status].id : "$[=unknown";
#else
    return known(status) ? statuses[status].text : "unknown status";
#endif
}

const char *stsm_status_id(stsm_status_t status)
{
    return known(status) ? statuses[status].id + ID_AT : "unknown";
}

stsm_status_t STSM_TEXT_WORDS(stsm_refuse_text)(char *why, size_t len, STSM_TEXT_PARAMS, ...)
{
    va_list ap;
    va_start(ap, STSM_TEXT_LAST);
    stsm_text_vformat(why, len, STSM_TEXT_FMT, ap);
    va_end(ap);
    return STSM_ERR_ARGUMENT;
}
