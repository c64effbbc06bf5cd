/*
 * libFuzzer harness for the trust store reader: any blob either fails validation or
 * opens into a store whose every anchor lies inside the blob, has a bounded subject and
 * key, sits in name order and is found by its own subject. The input is also read as two
 * Names (split at the offset its first byte gives): comparing them must be well-defined
 * both ways (both refused, or opposite orders) and a Name must equal itself.
 */
#include <stdint.h>
#include <stdlib.h>

#include "stsm_trust_store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int inside(const uint8_t *p, size_t n, const uint8_t *data, size_t size)
{
    return p >= data && n <= size && (size_t)(p - data) <= size - n;
}

static int sign(int v)
{
    return (v > 0) - (v < 0);
}

static void names(const uint8_t *data, size_t size)
{
    if (size == 0) {
        return;
    }
    size_t split = 1 + (data[0] < size - 1 ? data[0] : size - 1);
    const uint8_t *a = data + 1, *b = data + split;
    size_t a_len = split - 1, b_len = size - split;
    int ab = 7, ba = 7, self = 7;
    bool ok_ab = stsm_trust_store_name_compare(a, a_len, b, b_len, &ab);
    bool ok_ba = stsm_trust_store_name_compare(b, b_len, a, a_len, &ba);
    if (ok_ab != ok_ba || (ok_ab && sign(ab) != -sign(ba))) {
        abort();
    }
    if (stsm_trust_store_name_compare(a, a_len, a, a_len, &self) && self != 0) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    names(data, size);
    struct stsm_trust_store store;
    if (stsm_trust_store_open(&store, data, size) != STSM_OK) {
        return 0;
    }
    for (uint32_t i = 0; i < store.count; i++) {
        struct stsm_trust_anchor a = stsm_trust_store_anchor(&store, i);
        if (!inside(a.key, a.key_len, data, size) || !inside(a.subject, a.subject_len, data, size) ||
            a.subject_len == 0 || a.subject_len > STSM_TRUST_SUBJECT_MAX || a.key_len == 0 ||
            a.key_len > STSM_TRUST_KEY_MAX) {
            abort();
        }
        uint32_t first;
        uint32_t n = stsm_trust_store_find(&store, a.subject, a.subject_len, &first);
        if (n == 0 || i < first || i >= first + n) {
            abort();
        }
        if (i > 0) {
            struct stsm_trust_anchor prev = stsm_trust_store_anchor(&store, i - 1);
            int order = 0;
            if (!stsm_trust_store_name_compare(prev.subject, prev.subject_len, a.subject, a.subject_len,
                                               &order) ||
                order > 0) {
                abort();
            }
        }
    }
    return 0;
}
