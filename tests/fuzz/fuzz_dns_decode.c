/*
 * libFuzzer harness for the DNS answer decoder. The input is a server's message; the
 * query it is checked against takes its ID from the message and its type from the ID's
 * two low bits (so the fuzzer reaches every record type); its name is example.test.
 * Beyond "no crash, no out-of-bounds read" (the sanitizers' job) it checks that a decoded
 * answer is self-consistent, and that what the MX planner keeps of it outlives it: an MX
 * answer is planned into a host set, an A or AAAA answer recorded as a host's lookup
 * (through CNAMEs, into the set's names), the answer wiped, and every name the set points
 * to is its own NUL-terminated copy.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "stsm_dns.h"
#include "stsm_mx.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint16_t types[] = { STSM_DNS_TYPE_A, STSM_DNS_TYPE_AAAA, STSM_DNS_TYPE_MX,
                                  STSM_DNS_TYPE_TXT };

static uint32_t first(void *arg, uint32_t bound)
{
    (void)arg;
    (void)bound;
    return 0;
}

/* A name the set points to lies in its names (or is its domain) and ends there. */
static void check_set_name(const struct stsm_mx_set *set, const char *name)
{
    if (name == set->domain) {
        return;
    }
    if (name < set->names || name >= set->names + set->names_used ||
        memchr(name, '\0', (size_t)(set->names + set->names_used - name)) == NULL) {
        abort();
    }
}

static void check_set(struct stsm_mx_set *set, struct stsm_dns_answer *answer, uint16_t type)
{
    if (type == STSM_DNS_TYPE_MX) {
        if (stsm_mx_plan("example.test", answer, first, NULL, set) != STSM_OK) {
            return;
        }
    } else if ((type == STSM_DNS_TYPE_A || type == STSM_DNS_TYPE_AAAA) && set->count > 0) {
        stsm_mx_record_lookup(set, &set->hosts[0], type, STSM_OK, answer);
    }
    memset(answer, 0xA5, sizeof *answer);   /* the resolver's one answer is reused at once */
    if (set->count > STSM_MX_MAX_HOSTS || set->names_used > sizeof set->names) {
        abort();
    }
    for (size_t i = 0; i < set->count; i++) {
        check_set_name(set, set->hosts[i].name);
        check_set_name(set, set->hosts[i].canonical);
        if (set->hosts[i].address_count > STSM_MX_MAX_ADDRESSES) {
            abort();
        }
    }
}

static void check_string(const struct stsm_dns_answer *a, uint16_t offset)
{
    if (offset >= a->pool_used || memchr(a->pool + offset, '\0', a->pool_used - offset) == NULL) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct stsm_dns_answer answer;
    struct stsm_dns_query query = { 0 };
    strcpy(query.name, "example.test");
    if (size >= 2) {
        query.id = (uint16_t)((data[0] << 8) | data[1]);
        query.type = types[data[1] & 3u];
    } else {
        query.type = STSM_DNS_TYPE_A;
    }
    if (stsm_dns_decode(data, size, &query, &answer) != STSM_OK) {
        return 0;
    }
    if (answer.count > STSM_DNS_MAX_RECORDS || answer.extra_count > STSM_DNS_MAX_EXTRA ||
        answer.pool_used > sizeof answer.pool || answer.cname_hops > STSM_DNS_MAX_CNAME_HOPS) {
        abort();
    }
    check_string(&answer, answer.asked);
    check_string(&answer, answer.canonical);
    for (size_t i = 0; i < answer.count; i++) {
        if (answer.records[i].type != query.type) {
            abort();
        }
        check_string(&answer, answer.records[i].owner);
        if (query.type == STSM_DNS_TYPE_MX || query.type == STSM_DNS_TYPE_TXT) {
            check_string(&answer, answer.records[i].data);
        }
    }
    for (size_t i = 0; i < answer.extra_count; i++) {
        check_string(&answer, answer.extra[i].owner);
    }
    /* An MX input plans a set; an address input is recorded for the host of a set planned
     * from a fixed answer first (implicit MX: the domain itself). */
    static struct stsm_mx_set set;
    if (query.type != STSM_DNS_TYPE_MX) {
        static struct stsm_dns_answer nodata;
        memset(&nodata, 0, sizeof nodata);
        nodata.outcome = STSM_DNS_NODATA;
        if (stsm_mx_plan("example.test", &nodata, first, NULL, &set) != STSM_OK) {
            abort();
        }
    }
    check_set(&set, &answer, query.type);
    return 0;
}
