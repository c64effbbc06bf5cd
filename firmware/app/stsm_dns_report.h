/*
 * JSON reports of DNS lookups for `stsmail dns` (host simulation; cJSON on the heap).
 */
#ifndef STSM_DNS_REPORT_H
#define STSM_DNS_REPORT_H

#include "cJSON.h"
#include "lwip/ip_addr.h"
#include "stsm_dns.h"
#include "stsm_route.h"

/**
 * One lookup of `name`/`type`: status, outcome, the server that answered, the CNAME chain
 * and the records. `answer` and `server` may be NULL when status is not STSM_OK.
 * Returns a new object (the caller deletes it), or NULL when out of memory.
 */
cJSON *stsm_dns_report_answer(const char *name, uint16_t type, stsm_status_t status,
                              const struct stsm_dns_answer *answer, const ip_addr_t *server);

/** The MX route of a domain: the MX outcome and every host with its addresses, lookups
 *  and CNAME flag. `set` is NULL when status is not STSM_OK. */
cJSON *stsm_dns_report_route(const char *domain, stsm_status_t status,
                             const struct stsm_route *route, const struct stsm_mx_set *set);

#endif /* STSM_DNS_REPORT_H */
