/* Trust store reader: the name order (x509_name_cmp semantics), lookups in a good blob,
 * and rejection of every kind of damage. */
#include <stdint.h>
#include <stdlib.h>

#include "stsm_check.h"
#include "stsm_trust_store.h"

/* ---- DER Names built for the tests ------------------------------------------------------ */

#define OID_CN "\x55\x04\x03"
#define OID_O  "\x55\x04\x0A"
#define OID_C  "\x55\x04\x06"
#define UTF8 0x0C
#define PRINTABLE 0x13
#define IA5 0x16

struct attr {
    const char *oid;      /* 3 bytes */
    uint8_t tag;
    const char *value;
    bool same_rdn;        /* in the same RDN (SET) as the attribute before it */
};

/* Writes a Name of `n` attributes to `out`; returns its length (all short-form lengths). */
static size_t make_name(uint8_t *out, const struct attr *attrs, size_t n)
{
    uint8_t body[512];
    size_t len = 0;
    for (size_t i = 0; i < n;) {
        uint8_t set[256];
        size_t set_len = 0;
        do {
            size_t v = strlen(attrs[i].value);
            uint8_t *atv = set + set_len;
            atv[0] = 0x30;
            atv[1] = (uint8_t)(5 + 2 + v);
            atv[2] = 0x06;
            atv[3] = 3;
            memcpy(atv + 4, attrs[i].oid, 3);
            atv[7] = attrs[i].tag;
            atv[8] = (uint8_t)v;
            memcpy(atv + 9, attrs[i].value, v);
            set_len += 9 + v;
            i++;
        } while (i < n && attrs[i].same_rdn);
        body[len] = 0x31;
        body[len + 1] = (uint8_t)set_len;
        memcpy(body + len + 2, set, set_len);
        len += 2 + set_len;
    }
    out[0] = 0x30;
    out[1] = (uint8_t)len;
    memcpy(out + 2, body, len);
    return len + 2;
}

/* A Name with one common name. */
static size_t cn(uint8_t *out, uint8_t tag, const char *value)
{
    struct attr a = { OID_CN, tag, value, false };
    return make_name(out, &a, 1);
}

static int order_of(const uint8_t *a, size_t a_len, const uint8_t *b, size_t b_len)
{
    int order = 99;
    if (!stsm_trust_store_name_compare(a, a_len, b, b_len, &order)) {
        return 99;   /* malformed */
    }
    return (order > 0) - (order < 0);
}

/* ---- blobs -------------------------------------------------------------------------------- */

static uint8_t blob[8192];

static void put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static void put_u16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

struct fake {
    const char *cn;
    const char *key;   /* stands for a SubjectPublicKeyInfo: any text, wrapped in a SEQUENCE */
};

/* Anchors in name order for single-CN Names: shorter values first, then bytes. */
static const struct fake good[] = {
    { "Beta", "key-beta-1" },
    { "Beta", "key-beta-2, cross-signed" },
    { "Alpha", "key-alpha" },
    { "Gamma", "key-gamma" },
    { "Betamax", "key-betamax" },
};

/* Offsets of the first record's fields in a blob of `n` anchors built by build(). */
#define REC0(n) (16u + 4u * (n))

/* Writes anchors (in the given order) and returns the blob length. */
static size_t build(const struct fake *anchors, uint32_t n)
{
    size_t pos = REC0(n);
    memcpy(blob, STSM_TRUST_STORE_MAGIC, 8);
    put_u32(blob + 8, n);
    for (uint32_t i = 0; i < n; i++) {
        uint8_t *rec = blob + pos;
        size_t s = cn(rec + 4, UTF8, anchors[i].cn), k = strlen(anchors[i].key);
        rec[4 + s] = 0x30;
        rec[4 + s + 1] = (uint8_t)k;
        memcpy(rec + 4 + s + 2, anchors[i].key, k);
        put_u16(rec, (uint16_t)s);
        put_u16(rec + 2, (uint16_t)(k + 2));
        put_u32(blob + 16 + 4 * i, (uint32_t)pos);
        pos += 4 + s + k + 2;
    }
    put_u32(blob + 12, (uint32_t)pos);
    return pos;
}

static uint32_t find_cn(const struct stsm_trust_store *store, uint8_t tag, const char *value, uint32_t *first)
{
    uint8_t name[128];
    size_t len = cn(name, tag, value);
    return stsm_trust_store_find(store, name, len, first);
}

/* ---- a blob made by toolchain/mktrust.py ------------------------------------------------- */

/* Opens, holds between 1 and `certificates` anchors (same subject and key: one anchor),
 * finds each by its subject, and fits the 80 KiB budget of issue 13. */
static void check_generated(const char *path, unsigned long certificates)
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
    CHECK(store.count > 0 && store.count <= certificates);
    CHECK(len <= 80u * 1024u);
    unsigned found = 0;
    for (uint32_t i = 0; i < store.count; i++) {
        struct stsm_trust_anchor a = stsm_trust_store_anchor(&store, i);
        uint32_t first;
        uint32_t n = stsm_trust_store_find(&store, a.subject, a.subject_len, &first);
        found += n > 0 && i >= first && i < first + n;
        CHECK(a.key[0] == 0x30 && a.subject[0] == 0x30);
    }
    CHECK_INT(found, store.count);
    printf("%s: %u anchors from %lu certificates, %zu bytes\n", path, (unsigned)store.count, certificates, len);
}

static void name_order(void)
{
    uint8_t a[256], b[256];
    size_t al, bl;

    /* Single-CN Names: equal exactly when x509_name_cmp() finds them equal. */
    static const struct {
        const char *intent;
        uint8_t tag_a;
        const char *a;
        uint8_t tag_b;
        const char *b;
        bool equal;
    } cns[] = {
        { "a Name equals itself", UTF8, "Example Root CA", UTF8, "Example Root CA", true },
        { "UTF8String and PrintableString alike, ASCII case ignored", UTF8, "Example Root CA", PRINTABLE,
          "EXAMPLE root ca", true },
        { "UTF8String against itself, ASCII case ignored", UTF8, "Example Root CA", UTF8, "example ROOT CA", true },
        { "another string type compares exactly: case counts", IA5, "Example", IA5, "example", false },
        { "another string type compares exactly: equal bytes", IA5, "Example", IA5, "Example", true },
        { "another string type against UTF8String: differ", IA5, "Example", UTF8, "Example", false },
        { "only ASCII letters fold: '@' (0x40) and '`' (0x60) differ", UTF8, "a@", UTF8, "a`", false },
    };
    for (size_t i = 0; i < sizeof cns / sizeof cns[0]; i++) {
        CHECK_CASE(cns[i].intent);
        al = cn(a, cns[i].tag_a, cns[i].a);
        bl = cn(b, cns[i].tag_b, cns[i].b);
        int ab = order_of(a, al, b, bl);
        CHECK(ab != 99);
        CHECK(cns[i].equal ? ab == 0 : ab != 0);
        CHECK_INT(ab, -order_of(b, bl, a, al));
    }

    CHECK_CASE("values of another length, other attributes, another RDN structure differ");
    al = cn(a, UTF8, "CA");
    bl = cn(b, UTF8, "CA ");
    CHECK_INT(order_of(a, al, b, bl), -1);
    struct attr two_rdns[] = { { OID_C, PRINTABLE, "DE", false }, { OID_O, UTF8, "X", false } };
    struct attr one_rdn[] = { { OID_C, PRINTABLE, "DE", false }, { OID_O, UTF8, "X", true } };
    struct attr swapped[] = { { OID_O, UTF8, "X", false }, { OID_C, PRINTABLE, "DE", false } };
    struct attr prefix[] = { { OID_C, PRINTABLE, "DE", false } };
    al = make_name(a, two_rdns, 2);
    bl = make_name(b, one_rdn, 2);
    CHECK(order_of(a, al, b, bl) != 0);
    bl = make_name(b, swapped, 2);
    CHECK(order_of(a, al, b, bl) != 0);
    bl = make_name(b, prefix, 1);
    CHECK_INT(order_of(b, bl, a, al), -1);   /* a prefix comes first */
    CHECK_INT(order_of(a, al, b, bl), 1);

    CHECK_CASE("a length in long form (not minimal) reads as Mbed TLS reads it");
    al = cn(a, UTF8, "Long");
    uint8_t long_form[64] = { 0x30, 0x81, (uint8_t)(al - 2) };
    memcpy(long_form + 3, a + 2, al - 2);
    CHECK_INT(order_of(a, al, long_form, al + 1), 0);

    CHECK_CASE("malformed Names are refused, in either position");
    al = cn(a, UTF8, "Good");
    static const struct {
        const char *intent;
        const char *der;
        size_t len;
    } bad[] = {
        { "empty", "", 0 },
        { "empty SEQUENCE", "\x30\x00", 2 },
        { "not a SEQUENCE", "\x31\x00", 2 },
        { "empty RDN", "\x30\x02\x31\x00", 4 },
        { "bytes after the Name", "\x30\x0d\x31\x0b\x30\x09\x06\x03\x55\x04\x03\x0c\x02hi\x00", 16 },
        { "value of type INTEGER", "\x30\x0d\x31\x0b\x30\x09\x06\x03\x55\x04\x03\x02\x02hi", 15 },
        { "value shorter than its attribute", "\x30\x0d\x31\x0b\x30\x09\x06\x03\x55\x04\x03\x0c\x01hi", 15 },
        { "no value", "\x30\x09\x31\x07\x30\x05\x06\x03\x55\x04\x03", 11 },
        { "type not an OID", "\x30\x0d\x31\x0b\x30\x09\x04\x03\x55\x04\x03\x0c\x02hi", 15 },
        { "five length bytes", "\x30\x85\x00\x00\x00\x00\x0d", 7 },
        { "length past the end", "\x30\x0e\x31\x0b\x30\x09\x06\x03\x55\x04\x03\x0c\x02hi", 15 },
        { "a good RDN, then a broken one",
          "\x30\x11\x31\x0b\x30\x09\x06\x03\x55\x04\x03\x0c\x02hi\x31\x02\x05\x00", 19 },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_CASE(bad[i].intent);
        CHECK_INT(order_of(a, al, (const uint8_t *)bad[i].der, bad[i].len), 99);
        CHECK_INT(order_of((const uint8_t *)bad[i].der, bad[i].len, a, al), 99);
    }
    CHECK_CASE("a malformed tail after the Names already differ is still refused");
    bl = cn(b, UTF8, "hi");
    CHECK(order_of(a, al, b, bl) != 0 && order_of(a, al, b, bl) != 99);
    CHECK_INT(order_of(a, al, (const uint8_t *)bad[11].der, bad[11].len), 99);
    CHECK_INT(order_of(NULL, 0, a, al), 99);
}

int main(int argc, char **argv)
{
    if (argc == 3) {
        check_generated(argv[1], strtoul(argv[2], NULL, 10));
        return stsm_check_summary("test_trust_store (generated blob)");
    }
    name_order();

    struct stsm_trust_store store;
    uint32_t first;
    size_t len = build(good, 5);

    CHECK_CASE("good blob opens");
    CHECK_INT(stsm_trust_store_open(&store, blob, len), STSM_OK);
    CHECK_INT(store.count, 5);

    CHECK_CASE("lookup finds both anchors of a cross-signed subject, each with its own key");
    CHECK_INT(find_cn(&store, UTF8, "Beta", &first), 2);
    CHECK_INT(first, 0);
    struct stsm_trust_anchor a = stsm_trust_store_anchor(&store, 1);
    CHECK(a.key_len == strlen("key-beta-2, cross-signed") + 2 &&
          memcmp(a.key + 2, "key-beta-2, cross-signed", a.key_len - 2) == 0);
    uint8_t name[128];
    size_t name_len = cn(name, UTF8, "Beta");
    CHECK(a.subject_len == name_len && memcmp(a.subject, name, name_len) == 0);

    CHECK_CASE("lookup as Mbed TLS compares: another case, PrintableString");
    CHECK_INT(find_cn(&store, PRINTABLE, "BETA", &first), 2);
    CHECK_INT(first, 0);
    CHECK_INT(find_cn(&store, UTF8, "gAMMA", &first), 1);
    CHECK_INT(first, 3);
    CHECK_INT(find_cn(&store, IA5, "Beta", &first), 0);

    CHECK_CASE("a prefix of a subject is another subject");
    CHECK_INT(find_cn(&store, UTF8, "Bet", &first), 0);
    CHECK_INT(find_cn(&store, UTF8, "Betamax", &first), 1);
    CHECK_INT(first, 4);

    CHECK_CASE("first, last and missing subjects; a malformed query finds nothing");
    CHECK_INT(find_cn(&store, UTF8, "Alpha", &first), 1);
    CHECK_INT(first, 2);
    CHECK_INT(find_cn(&store, UTF8, "Zeta", &first), 0);
    CHECK_INT(find_cn(&store, UTF8, "A", &first), 0);
    CHECK_INT(find_cn(&store, UTF8, "Zetamaxxx", &first), 0);
    CHECK_INT(stsm_trust_store_find(&store, (const uint8_t *)"\x30\x00", 2, &first), 0);
    CHECK_INT(stsm_trust_store_find(&store, NULL, 0, &first), 0);

    CHECK_CASE("empty store is valid and finds nothing");
    len = build(good, 0);
    CHECK_INT(stsm_trust_store_open(&store, blob, len), STSM_OK);
    CHECK_INT(find_cn(&store, UTF8, "Alpha", &first), 0);

    /* In build(good, 5): the table at 16, record 0 at REC0(5) = 36: u16 subject length
     * (17: CN "Beta" as a Name: 30 0f 31 0d 30 0b 06 03 55 04 03 0c 04 "Beta"), u16 key
     * length (12), subject at 40, key at 57. */
    static const struct {
        const char *intent;
        size_t at;          /* where to write (SIZE_MAX: length only) */
        unsigned width;     /* 4: u32, 2: u16, 1: a byte */
        uint32_t value;
        long len_delta;
    } damage[] = {
        { "bad magic", 0, 4, 0x58585858u, 0 },
        { "length field disagrees", 12, 4, 99, 0 },
        { "blob shorter than its length field", SIZE_MAX, 0, 0, -1 },
        { "count larger than the table", 8, 4, 1000, 0 },
        { "count that overflows", 8, 4, 0xFFFFFFFFu, 0 },
        { "record offset inside the table", 16, 4, 20, 0 },
        { "record offset past the end", 16, 4, 100000, 0 },
        { "record offset leaving no room for its lengths", 16, 4, 0xFFFFFFFEu, 0 },
        { "zero-length subject", REC0(5), 2, 0, 0 },
        { "subject over STSM_TRUST_SUBJECT_MAX", REC0(5), 2, STSM_TRUST_SUBJECT_MAX + 1, 0 },
        { "zero-length key", REC0(5) + 2, 2, 0, 0 },
        { "key over STSM_TRUST_KEY_MAX", REC0(5) + 2, 2, STSM_TRUST_KEY_MAX + 1, 0 },
        { "key running past the end", REC0(5) + 2, 2, 1000, 0 },
        { "subject not a SEQUENCE", REC0(5) + 4, 1, 0x31, 0 },
        { "subject's RDN not a SET", REC0(5) + 4 + 2, 1, 0x30, 0 },
        { "subject value of type INTEGER", REC0(5) + 4 + 11, 1, 0x02, 0 },
        { "key not a SEQUENCE", REC0(5) + 4 + 17, 1, 0x04, 0 },
        { "key shorter than its length", REC0(5) + 4 + 17 + 1, 1, 9, 0 },
        { "entries out of order", 16, 4, 0, 0 },   /* fixed up below: record 0 is Alpha's */
    };
    size_t n_damage = sizeof damage / sizeof damage[0];
    for (size_t i = 0; i < n_damage; i++) {
        CHECK_CASE(damage[i].intent);
        len = build(good, 5);
        size_t at = damage[i].at;
        if (i == n_damage - 1) {
            uint8_t third[4];
            memcpy(third, blob + 16 + 8, 4);   /* Alpha's record before Beta's */
            memcpy(blob + 16 + 8, blob + 16, 4);
            memcpy(blob + 16, third, 4);
        } else if (damage[i].width == 4) {
            put_u32(blob + at, damage[i].value);
        } else if (damage[i].width == 2) {
            put_u16(blob + at, (uint16_t)damage[i].value);
        } else if (damage[i].width == 1) {
            blob[at] = (uint8_t)damage[i].value;
        }
        CHECK_INT(stsm_trust_store_open(&store, blob, (size_t)((long)len + damage[i].len_delta)),
                  STSM_ERR_CORRUPT);
        CHECK_INT(store.count, 0);
    }

    CHECK_CASE("the undamaged blob of the damage table opens (the offsets above are right)");
    len = build(good, 5);
    CHECK_INT(blob[REC0(5) + 1], 17);
    CHECK_INT(blob[REC0(5) + 4 + 17], 0x30);
    CHECK_INT(stsm_trust_store_open(&store, blob, len), STSM_OK);

    CHECK_CASE("subject and key at their largest open");
    {
        static uint8_t big[16 + 4 + 4 + STSM_TRUST_SUBJECT_MAX + STSM_TRUST_KEY_MAX];
        size_t s = STSM_TRUST_SUBJECT_MAX, k = STSM_TRUST_KEY_MAX;
        memcpy(big, STSM_TRUST_STORE_MAGIC, 8);
        put_u32(big + 8, 1);
        put_u32(big + 12, sizeof big);
        put_u32(big + 16, 20);
        put_u16(big + 20, (uint16_t)s);
        put_u16(big + 22, (uint16_t)k);
        uint8_t *sub = big + 24, *key = big + 24 + s;
        /* Name: 30 82 LL LL { 31 82 .. { 30 82 .. { 06 03 CN, 0C 82 .. value } } } */
        size_t value = s - 4 - 4 - 4 - 5 - 4;
        sub[0] = 0x30, sub[1] = 0x82, sub[2] = (uint8_t)((s - 4) >> 8), sub[3] = (uint8_t)(s - 4);
        sub[4] = 0x31, sub[5] = 0x82, sub[6] = (uint8_t)((s - 8) >> 8), sub[7] = (uint8_t)(s - 8);
        sub[8] = 0x30, sub[9] = 0x82, sub[10] = (uint8_t)((s - 12) >> 8), sub[11] = (uint8_t)(s - 12);
        memcpy(sub + 12, "\x06\x03" OID_CN, 5);
        sub[17] = 0x0C, sub[18] = 0x82, sub[19] = (uint8_t)(value >> 8), sub[20] = (uint8_t)value;
        memset(sub + 21, 'x', value);
        key[0] = 0x30, key[1] = 0x82, key[2] = (uint8_t)((k - 4) >> 8), key[3] = (uint8_t)(k - 4);
        CHECK_INT(stsm_trust_store_open(&store, big, sizeof big), STSM_OK);
        CHECK_INT(stsm_trust_store_find(&store, sub, s, &first), 1);
        put_u16(big + 22, (uint16_t)(k + 1));   /* one over: refused */
        CHECK_INT(stsm_trust_store_open(&store, big, sizeof big), STSM_ERR_CORRUPT);
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
