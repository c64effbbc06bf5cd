#include "stsm_status.h"

static const char *const status_names[STSM_STATUS_COUNT] = {
    [STSM_OK] = "ok",
    [STSM_ERR_ARGUMENT] = "invalid argument",
    [STSM_ERR_NO_MEMORY] = "out of memory",
    [STSM_ERR_IO] = "platform I/O error",
    [STSM_ERR_TIMEOUT] = "timed out",
    [STSM_ERR_RESOLVE] = "name not resolved",
    [STSM_ERR_CONNECT] = "connection failed",
    [STSM_ERR_PEER_CLOSED] = "peer closed the connection",
    [STSM_ERR_PEER_PROTOCOL] = "peer protocol violation",
    [STSM_ERR_CAPACITY] = "capacity exceeded",
    [STSM_ERR_DNS_MALFORMED] = "malformed DNS message",
    [STSM_ERR_DNS_NOT_ANSWER] = "not an answer to the query",
    [STSM_ERR_DNS_CNAME_CHAIN] = "CNAME chain loops or is too long",
    [STSM_ERR_DNS_SERVER_FAILURE] = "DNS servers failed to answer",
    [STSM_ERR_NOT_CONFIGURED] = "not configured",
};

const char *stsm_status_str(stsm_status_t status)
{
    if ((unsigned)status >= STSM_STATUS_COUNT || status_names[status] == 0) {
        return "unknown status";
    }
    return status_names[status];
}

static const char *const status_ids[STSM_STATUS_COUNT] = {
    [STSM_OK] = "ok",
    [STSM_ERR_ARGUMENT] = "argument",
    [STSM_ERR_NO_MEMORY] = "no_memory",
    [STSM_ERR_IO] = "io",
    [STSM_ERR_TIMEOUT] = "timeout",
    [STSM_ERR_RESOLVE] = "resolve",
    [STSM_ERR_CONNECT] = "connect",
    [STSM_ERR_PEER_CLOSED] = "peer_closed",
    [STSM_ERR_PEER_PROTOCOL] = "peer_protocol",
    [STSM_ERR_CAPACITY] = "capacity",
    [STSM_ERR_DNS_MALFORMED] = "dns_malformed",
    [STSM_ERR_DNS_NOT_ANSWER] = "dns_not_answer",
    [STSM_ERR_DNS_CNAME_CHAIN] = "dns_cname_chain",
    [STSM_ERR_DNS_SERVER_FAILURE] = "dns_server_failure",
    [STSM_ERR_NOT_CONFIGURED] = "not_configured",
};

const char *stsm_status_id(stsm_status_t status)
{
    if ((unsigned)status >= STSM_STATUS_COUNT || status_ids[status] == 0) {
        return "unknown";
    }
    return status_ids[status];
}
