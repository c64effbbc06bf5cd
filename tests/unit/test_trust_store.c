/* Trust store reader: lookups in a good blob, and rejection of every kind of damage. */
#include <stdint.h>
#include <stdlib.h>

#include "stsm_check.h"
#include "stsm_trust_store.h"

/* A blob of synthetic anchors: the reader never parses the DER, so any bytes will do as
 * long as each subject lies inside its "certificate". */
struct fake {
    const char *subject;
    const char *cert_prefix;   /* bytes before the subject inside the certificate */
};

static uint8_t blob[4096];

static void put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* Writes anchors (already in order) and returns the blob length. */
static size_t build(const struct fake *anchors, uint32_t n)
{
    size_t data = 16 + 16 * (size_t)n, pos = data;
    memcpy(blob, STSM_TRUST_STORE_MAGIC, 8);
    put_u32(blob + 8, n);
    for (uint32_t i = 0; i < n; i++) {
        size_t pre = strlen(anchors[i].cert_prefix), sub = strlen(anchors[i].subject);
        uint8_t *e = blob + 16 + 16 * i;
        memcpy(blob + pos, anchors[i].cert_prefix, pre);
        memcpy(blob + pos + pre, anchors[i].subject, sub);
        put_u32(e, (uint32_t)(pos + pre));
        put_u32(e + 4, (uint32_t)sub);
        put_u32(e + 8, (uint32_t)pos);
        put_u32(e + 12, (uint32_t)(pre + sub + 2));
        memcpy(blob + pos + pre + sub, "ZZ", 2);
        pos += pre + sub + 2;
    }
    put_u32(blob + 12, (uint32_t)pos);
    return pos;
}

static const struct fake good[] = {
    { "CN=Alpha", "c1:" },
    { "CN=Beta", "c2:" },
    { "CN=Beta", "c3-cross-signed:" },
    { "CN=Betamax", "c4:" },
    { "CN=Gamma", "c5:" },
};

/* A blob made by toolchain/mktrust.py opens, holds `expected` anchors, and finds each. */
static void check_generated(const char *path, unsigned long expected)
{
    static uint8_t file[1 << 20];
    struct stsm_trust_store store;
    FILE *f = fopen(path, "rb");
    CHECK_CASE(path);
    CHECK(f != NULL);
    if (f == NULL) {
        return;
    }
    size_t len = fread(file, 1, sizeof file, f);
    fclose(f);
    CHECK_INT(stsm_trust_store_open(&store, file, len), STSM_OK);
    CHECK_INT(store.count, expected);
    unsigned found = 0;
    for (uint32_t i = 0; i < store.count; i++) {
        struct stsm_trust_anchor a = stsm_trust_store_anchor(&store, i);
        uint32_t first;
        uint32_t n = stsm_trust_store_find(&store, a.subject, a.subject_len, &first);
        found += n > 0 && i >= first && i < first + n;
        /* The subject is a DER SEQUENCE inside a DER certificate. */
        CHECK(a.cert[0] == 0x30 && a.subject[0] == 0x30);
    }
    CHECK_INT(found, store.count);
}

int main(int argc, char **argv)
{
    if (argc == 3) {
        check_generated(argv[1], strtoul(argv[2], NULL, 10));
        return stsm_check_summary("test_trust_store (generated blob)");
    }
    struct stsm_trust_store store;
    uint32_t first;
    size_t len = build(good, 5);

    CHECK_CASE("good blob opens");
    CHECK_INT(stsm_trust_store_open(&store, blob, len), STSM_OK);
    CHECK_INT(store.count, 5);

    CHECK_CASE("lookup finds both anchors of a cross-signed subject");
    CHECK_INT(stsm_trust_store_find(&store, (const uint8_t *)"CN=Beta", 7, &first), 2);
    CHECK_INT(first, 1);
    struct stsm_trust_anchor a = stsm_trust_store_anchor(&store, 2);
    CHECK(a.cert_len == strlen("c3-cross-signed:CN=Beta") + 2 &&
          memcmp(a.cert, "c3-cross-signed:CN=Beta", a.cert_len - 2) == 0);
    CHECK(a.subject_len == 7 && memcmp(a.subject, "CN=Beta", 7) == 0);

    CHECK_CASE("a prefix of a subject is another subject");
    CHECK_INT(stsm_trust_store_find(&store, (const uint8_t *)"CN=Bet", 6, &first), 0);
    CHECK_INT(stsm_trust_store_find(&store, (const uint8_t *)"CN=Betamax", 10, &first), 1);
    CHECK_INT(first, 3);

    CHECK_CASE("first, last and missing subjects");
    CHECK_INT(stsm_trust_store_find(&store, (const uint8_t *)"CN=Alpha", 8, &first), 1);
    CHECK_INT(first, 0);
    CHECK_INT(stsm_trust_store_find(&store, (const uint8_t *)"CN=Gamma", 8, &first), 1);
    CHECK_INT(first, 4);
    CHECK_INT(stsm_trust_store_find(&store, (const uint8_t *)"CN=Zeta", 7, &first), 0);
    CHECK_INT(stsm_trust_store_find(&store, (const uint8_t *)"A", 1, &first), 0);

    CHECK_CASE("empty store is valid and finds nothing");
    len = build(good, 0);
    CHECK_INT(stsm_trust_store_open(&store, blob, len), STSM_OK);
    CHECK_INT(stsm_trust_store_find(&store, (const uint8_t *)"CN=Alpha", 8, &first), 0);

    static const struct {
        const char *intent;
        size_t at;          /* byte to change (SIZE_MAX: length only) */
        uint32_t value;     /* new u32 at `at` */
        long len_delta;
    } damage[] = {
        { "bad magic", 0, 0x58585858u, 0 },
        { "length field disagrees", 12, 99, 0 },
        { "blob shorter than its length field", SIZE_MAX, 0, -1 },
        { "count larger than the table", 8, 1000, 0 },
        { "count that overflows", 8, 0xFFFFFFFFu, 0 },
        { "certificate offset inside the table", 16 + 8, 20, 0 },
        { "certificate runs past the end", 16 + 12, 100000, 0 },
        { "certificate length that wraps", 16 + 12, 0xFFFFFFF0u, 0 },
        { "subject outside its certificate", 16 + 0, 16 + 5 * 16, 0 },
        { "subject longer than its certificate", 16 + 4, 50, 0 },
        { "zero-length subject", 16 + 4, 0, 0 },
        { "zero-length certificate", 16 + 12, 0, 0 },
        { "entries out of order", 16 + 16 + 4, 1, 0 },   /* "C" sorts before "CN=Alpha" */
    };
    for (size_t i = 0; i < sizeof damage / sizeof damage[0]; i++) {
        CHECK_CASE(damage[i].intent);
        len = build(good, 5);
        if (damage[i].at != SIZE_MAX) {
            put_u32(blob + damage[i].at, damage[i].value);
        }
        CHECK_INT(stsm_trust_store_open(&store, blob, (size_t)((long)len + damage[i].len_delta)),
                  STSM_ERR_CORRUPT);
        CHECK_INT(store.count, 0);
    }

    CHECK_CASE("every truncation is refused");
    len = build(good, 5);
    unsigned accepted = 0;
    for (size_t cut = 0; cut < len; cut++) {
        accepted += stsm_trust_store_open(&store, blob, cut) == STSM_OK;
    }
    CHECK_INT(accepted, 0);
    CHECK_INT(stsm_trust_store_open(&store, NULL, 100), STSM_ERR_CORRUPT);

    return stsm_check_summary("test_trust_store");
}
