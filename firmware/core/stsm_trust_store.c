#include "stsm_trust_store.h"

#include <string.h>

#define HEADER_LEN 16u
#define OFFSET_LEN 4u
#define RECORD_HEAD 4u

#define TAG_SEQUENCE 0x30u
#define TAG_SET 0x31u
#define TAG_OID 0x06u
#define TAG_UTF8 0x0Cu
#define TAG_PRINTABLE 0x13u

static uint32_t get_u32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static uint16_t get_u16(const uint8_t *p)
{
    return (uint16_t)(((unsigned)p[0] << 8) | p[1]);
}

/* ---- DER, read the way Mbed TLS reads it ---------------------------------------------- */

/* Bytes not read yet. */
struct der {
    const uint8_t *p;
    size_t n;
};

/* Reads a length as mbedtls_asn1_get_len() does: short form, or one to four length bytes
 * (non-minimal encodings accepted, as there), never more than what is left. Mbed TLS
 * decides which issuers parse; a stricter reader here would miss anchors it matches. */
static bool der_len(struct der *d, size_t *len)
{
    if (d->n < 1) {
        return false;
    }
    uint8_t first = d->p[0];
    size_t head = 1, value = first;
    if (first & 0x80u) {
        size_t count = first & 0x7Fu;
        if (count == 0 || count > 4 || d->n <= count) {
            return false;
        }
        value = 0;
        for (size_t i = 1; i <= count; i++) {
            value = (value << 8) | d->p[i];
        }
        head += count;
    }
    if (value > d->n - head) {
        return false;
    }
    d->p += head;
    d->n -= head;
    *len = value;
    return true;
}

/* Takes one element with tag `tag`; its content goes to `content`. */
static bool der_take(struct der *d, uint8_t tag, struct der *content)
{
    if (d->n < 1 || d->p[0] != tag) {
        return false;
    }
    struct der rest = { d->p + 1, d->n - 1 };
    size_t len;
    if (!der_len(&rest, &len)) {
        return false;
    }
    content->p = rest.p;
    content->n = len;
    d->p = rest.p + len;
    d->n = rest.n - len;
    return true;
}

/* ---- Names in x509_name_cmp() terms ----------------------------------------------------- */

/* One AttributeTypeAndValue, as x509_name_cmp() sees it. */
struct attribute {
    struct der oid;
    uint8_t tag;
    struct der value;
    bool merged_next;   /* another attribute follows in the same RDN */
};

struct name_walk {
    struct der rdns;   /* RDNs not started */
    struct der set;    /* attributes left in the current RDN */
};

/* A Name is one SEQUENCE filling `len` exactly, with at least one RDN. */
static bool name_begin(struct name_walk *w, const uint8_t *name, size_t len)
{
    struct der whole = { name, len };
    w->set.p = NULL;
    w->set.n = 0;
    return name != NULL && der_take(&whole, TAG_SEQUENCE, &w->rdns) && whole.n == 0 && w->rdns.n > 0;
}

static bool string_tag(uint8_t tag)
{
    /* The types mbedtls's x509_get_attr_type_value() accepts. */
    return tag == 0x1E || tag == TAG_UTF8 || tag == 0x14 || tag == TAG_PRINTABLE || tag == 0x16 ||
           tag == 0x1C || tag == 0x03;
}

/* Next attribute: 1, 0 at the end of the Name, -1 when it is malformed. */
static int name_next(struct name_walk *w, struct attribute *a)
{
    if (w->set.n == 0) {
        if (w->rdns.n == 0) {
            return 0;
        }
        if (!der_take(&w->rdns, TAG_SET, &w->set) || w->set.n == 0) {
            return -1;
        }
    }
    struct der atv;
    if (!der_take(&w->set, TAG_SEQUENCE, &atv) || !der_take(&atv, TAG_OID, &a->oid) || atv.n < 1 ||
        !string_tag(atv.p[0])) {
        return -1;
    }
    a->tag = atv.p[0];
    atv.p++;
    atv.n--;
    size_t len;
    if (!der_len(&atv, &len) || len != atv.n) {
        return -1;   /* the value must fill the rest of the attribute */
    }
    a->value.p = atv.p;
    a->value.n = len;
    a->merged_next = w->set.n > 0;
    return 1;
}

/* Not inlined: a call is shorter than its compare at each of its callers. */
__attribute__((noinline)) static int compare_size(size_t a, size_t b)
{
    return (a > b) - (a < b);
}

/* UTF8String and PrintableString compare alike, ignoring ASCII case; other types exactly. */
static bool folds(uint8_t tag)
{
    return tag == TAG_UTF8 || tag == TAG_PRINTABLE;
}

/* Orders `n` bytes of each, as unsigned bytes, ASCII letters lowered when `fold_case`
 * (not inlined: one loop for the OID and the value). */
__attribute__((noinline)) static int compare_bytes(const uint8_t *a, const uint8_t *b, size_t n, bool fold_case)
{
    int c = 0;
    for (size_t i = 0; c == 0 && i < n; i++) {
        uint8_t x = a[i], y = b[i];
        if (fold_case) {
            x = x >= 'A' && x <= 'Z' ? (uint8_t)(x + ('a' - 'A')) : x;
            y = y >= 'A' && y <= 'Z' ? (uint8_t)(y + ('a' - 'A')) : y;
        }
        c = compare_size(x, y);
    }
    return c;
}

/* Not inlined: inside the loop below the compiler copies its paths for each way in. */
__attribute__((noinline)) static int compare_attribute(const struct attribute *a, const struct attribute *b)
{
    uint8_t ta = folds(a->tag) ? TAG_UTF8 : a->tag, tb = folds(b->tag) ? TAG_UTF8 : b->tag;
    int c = compare_size(a->merged_next, b->merged_next);
    if (c == 0) {
        c = compare_size(a->oid.n, b->oid.n);
    }
    if (c == 0) {
        c = compare_bytes(a->oid.p, b->oid.p, a->oid.n, false);
    }
    if (c == 0) {
        c = compare_size(ta, tb);
    }
    if (c == 0) {
        c = compare_size(a->value.n, b->value.n);
    }
    if (c == 0) {
        c = compare_bytes(a->value.p, b->value.p, a->value.n, ta == TAG_UTF8);
    }
    return c;
}

bool stsm_trust_store_name_compare(const uint8_t *a, size_t a_len, const uint8_t *b, size_t b_len,
                                   int *order)
{
    struct name_walk wa, wb;
    if (!name_begin(&wa, a, a_len) || !name_begin(&wb, b, b_len)) {
        return false;
    }
    int result = 0;
    /* Both Names are read to their ends even once they differ (a Name that ended keeps
     * answering 0): a malformed tail must count as malformed, whatever came before it. */
    for (;;) {
        struct attribute x, y;
        int ra = name_next(&wa, &x), rb = name_next(&wb, &y);
        if (ra < 0 || rb < 0) {
            return false;
        }
        if (ra == 0 && rb == 0) {
            *order = result;
            return true;
        }
        if (result == 0) {
            result = ra == 0 ? -1 : rb == 0 ? 1 : compare_attribute(&x, &y);
        }
    }
}

/* ---- The blob ----------------------------------------------------------------------- */

static struct stsm_trust_anchor read_anchor(const struct stsm_trust_store *store, uint32_t index)
{
    const uint8_t *rec = store->blob + get_u32(store->blob + HEADER_LEN + (size_t)index * OFFSET_LEN);
    struct stsm_trust_anchor a = { rec + RECORD_HEAD, get_u16(rec), rec + RECORD_HEAD + get_u16(rec),
                                   get_u16(rec + 2) };
    return a;
}

/* A key is one DER SEQUENCE and nothing after it; Mbed TLS parses what is inside. */
static bool key_well_formed(const uint8_t *key, size_t len)
{
    struct der d = { key, len }, content;
    return der_take(&d, TAG_SEQUENCE, &content) && d.n == 0;
}

stsm_status_t stsm_trust_store_open(struct stsm_trust_store *store, const uint8_t *blob, size_t len)
{
    memset(store, 0, sizeof *store);
    if (blob == NULL || len < HEADER_LEN || memcmp(blob, STSM_TRUST_STORE_MAGIC, 8) != 0 ||
        get_u32(blob + 12) != len) {
        return STSM_ERR_CORRUPT;
    }
    uint32_t count = get_u32(blob + 8);
    if (count > (len - HEADER_LEN) / OFFSET_LEN) {
        return STSM_ERR_CORRUPT;
    }
    struct stsm_trust_store candidate = { blob, len, count };
    size_t records = HEADER_LEN + (size_t)count * OFFSET_LEN;
    for (uint32_t i = 0; i < count; i++) {
        size_t off = get_u32(blob + HEADER_LEN + (size_t)i * OFFSET_LEN);
        if (off < records || off > len || len - off < RECORD_HEAD) {
            return STSM_ERR_CORRUPT;
        }
        size_t subject_len = get_u16(blob + off), key_len = get_u16(blob + off + 2);
        if (subject_len == 0 || subject_len > STSM_TRUST_SUBJECT_MAX || key_len == 0 ||
            key_len > STSM_TRUST_KEY_MAX || subject_len + key_len > len - off - RECORD_HEAD) {
            return STSM_ERR_CORRUPT;
        }
        /* Compared with the one before it (with itself, the first): a comparison checks
         * both Names are well-formed, and the order. */
        struct stsm_trust_anchor a = read_anchor(&candidate, i), prev = read_anchor(&candidate, i > 0 ? i - 1 : 0);
        int order = 0;
        if (!key_well_formed(a.key, a.key_len) ||
            !stsm_trust_store_name_compare(prev.subject, prev.subject_len, a.subject, a.subject_len, &order) ||
            order > 0) {
            return STSM_ERR_CORRUPT;
        }
    }
    *store = candidate;
    return STSM_OK;
}

struct stsm_trust_anchor stsm_trust_store_anchor(const struct stsm_trust_store *store, uint32_t index)
{
    return read_anchor(store, index);
}

/* Orders anchor `index` against `subject` (already known to be well-formed). */
static int compare_anchor(const struct stsm_trust_store *store, uint32_t index, const uint8_t *subject,
                          size_t subject_len)
{
    struct stsm_trust_anchor a = read_anchor(store, index);
    int order = 0;
    (void)stsm_trust_store_name_compare(a.subject, a.subject_len, subject, subject_len, &order);
    return order;
}

uint32_t stsm_trust_store_find(const struct stsm_trust_store *store, const uint8_t *subject,
                               size_t subject_len, uint32_t *first)
{
    int self = 0;
    *first = 0;
    if (!stsm_trust_store_name_compare(subject, subject_len, subject, subject_len, &self)) {
        return 0;
    }
    /* Lower bound: the first anchor not ordered before `subject`. */
    uint32_t lo = 0, hi = store->count;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (compare_anchor(store, mid, subject, subject_len) < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    uint32_t n = 0;
    while (lo + n < store->count && compare_anchor(store, lo + n, subject, subject_len) == 0) {
        n++;
    }
    *first = lo;
    return n;
}
