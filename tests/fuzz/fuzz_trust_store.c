/*
 * libFuzzer harness for the trust store reader: any blob either fails validation or
 * opens into a store whose every anchor lies inside the blob and is found by its own
 * subject.
 */
#include <stdint.h>
#include <stdlib.h>

#include "stsm_trust_store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int inside(const uint8_t *p, size_t n, const uint8_t *data, size_t size)
{
    return p >= data && n <= size && (size_t)(p - data) <= size - n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct stsm_trust_store store;
    if (stsm_trust_store_open(&store, data, size) != STSM_OK) {
        return 0;
    }
    for (uint32_t i = 0; i < store.count; i++) {
        struct stsm_trust_anchor a = stsm_trust_store_anchor(&store, i);
        if (!inside(a.cert, a.cert_len, data, size) || !inside(a.subject, a.subject_len, data, size)) {
            abort();
        }
        uint32_t first;
        uint32_t n = stsm_trust_store_find(&store, a.subject, a.subject_len, &first);
        if (n == 0 || i < first || i >= first + n) {
            abort();
        }
    }
    return 0;
}
