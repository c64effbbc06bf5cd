/*
 * libFuzzer harness for the MTA-STS policy parser: any body either is refused with a line
 * number inside the body and a reason, or yields a policy within its limits whose
 * patterns are all valid and match themselves.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "stsm_mta_sts.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct stsm_sts_policy policy;
    size_t line;
    const char *reason;
    if (stsm_sts_policy_parse(data, size, &policy, &line, &reason) != STSM_OK) {
        if (reason == NULL || line > size + 1) {
            abort();
        }
        return 0;
    }
    if (policy.mx_count > STSM_STS_MAX_MX || policy.max_age > STSM_STS_MAX_AGE_LIMIT ||
        (policy.mx_count == 0 && policy.mode != STSM_STS_MODE_NONE)) {
        abort();
    }
    for (size_t i = 0; i < policy.mx_count; i++) {
        if (!stsm_sts_mx_pattern_valid(policy.mx[i], strlen(policy.mx[i]))) {
            abort();
        }
        if (policy.mx[i][0] != '*' && !stsm_sts_mx_matches(policy.mx[i], policy.mx[i])) {
            abort();
        }
    }
    return 0;
}
