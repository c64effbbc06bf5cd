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
};

const char *stsm_status_str(stsm_status_t status)
{
    if ((unsigned)status >= STSM_STATUS_COUNT || status_names[status] == 0) {
        return "unknown status";
    }
    return status_names[status];
}
