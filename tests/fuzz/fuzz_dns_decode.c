/*
 * libFuzzer harness for the DNS answer decoder. The input is a server's message; the
 * query it is checked against takes its ID from the message and its type from the ID's
 * two low bits (so the fuzzer reaches every record type); its name is example.test.
 * Beyond "no crash, no out-of-bounds read" (the sanitizers' job) it checks that a decoded
 * answer is self-consistent.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "stsm_dns.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint16_t types[] = { STSM_DNS_TYPE_A, STSM_DNS_TYPE_AAAA, STSM_DNS_TYPE_MX,
                                  STSM_DNS_TYPE_TXT };

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
    return 0;
}
