/*
 * Trust anchors as one read-only blob (flash on the MCU, a file on the host), looked up
 * by subject when a certificate chain is verified, so RAM use does not grow with the
 * number of anchors: only the candidates for one issuer are ever parsed.
 *
 * An anchor is a name and a public key (RFC 5280 section 6.1.1): the subject of a root
 * certificate and its SubjectPublicKeyInfo, nothing else. The root's own signature,
 * validity dates and extensions are not kept and never checked; whatever a chain's top
 * certificate is, it must carry a signature that the anchor's key verifies.
 *
 * Blob layout, all integers big-endian (written by toolchain/mktrust.py):
 *   0  "STSMTA02"           magic and format version
 *   8  u32 count            number of anchors
 *  12  u32 length           length of the whole blob
 *  16  count x u32 offset   of each anchor's record, the records in name order (below)
 *  ..  records: u16 subject_length, u16 key_length, then the subject (DER Name) and the
 *      key (DER SubjectPublicKeyInfo); 1 <= subject_length <= STSM_TRUST_SUBJECT_MAX,
 *      1 <= key_length <= STSM_TRUST_KEY_MAX
 *
 * Name order: two Names are equal exactly when Mbed TLS's x509_name_cmp() finds them
 * equal (same attributes in the same RDN structure; UTF8String and PrintableString values
 * alike and compared ignoring ASCII case; any other string type compared exactly, its
 * type included). Each attribute in turn orders by: whether another attribute follows in
 * its RDN, OID length, OID bytes, value type (PrintableString counted as UTF8String),
 * value length, value bytes (ASCII letters lowered for those two types); a Name that is a
 * prefix of another comes first.
 */
#ifndef STSM_TRUST_STORE_H
#define STSM_TRUST_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "stsm_status.h"

#define STSM_TRUST_STORE_MAGIC "STSMTA02"

/** Longest subject an anchor may have (Debian's longest is under 300 bytes). */
#define STSM_TRUST_SUBJECT_MAX 1024u
/** Longest SubjectPublicKeyInfo: an RSA key of 8192 bits (Mbed TLS's largest) fits. */
#define STSM_TRUST_KEY_MAX 1100u

/** An opened blob. The blob must stay in place while the store is used. */
struct stsm_trust_store {
    const uint8_t *blob;
    size_t len;
    uint32_t count;
};

/** One anchor: views into the blob. */
struct stsm_trust_anchor {
    const uint8_t *subject;   /**< DER Name, its SEQUENCE header included */
    size_t subject_len;
    const uint8_t *key;       /**< DER SubjectPublicKeyInfo */
    size_t key_len;
};

/**
 * Validates `blob` (magic, length, table bounds, every offset and length, each subject a
 * well-formed Name and each key one DER SEQUENCE, name order) and opens it. Returns
 * STSM_ERR_CORRUPT naming nothing more: a blob that fails any check is not used at all
 * (`store` is then empty).
 */
stsm_status_t stsm_trust_store_open(struct stsm_trust_store *store, const uint8_t *blob, size_t len);

/** Anchor `index` (< store->count). */
struct stsm_trust_anchor stsm_trust_store_anchor(const struct stsm_trust_store *store, uint32_t index);

/**
 * Finds the anchors whose subject equals `subject` (a DER Name, as a certificate's issuer
 * field holds it) in name order. Returns how many there are (cross-signed roots share a
 * subject, each with its own key) and sets `*first` to the index of the first. A subject
 * that is not a well-formed Name finds nothing.
 */
uint32_t stsm_trust_store_find(const struct stsm_trust_store *store, const uint8_t *subject,
                               size_t subject_len, uint32_t *first);

/**
 * Compares two DER Names in name order: sets `*order` below, at or above zero. Returns
 * false (and leaves `*order` alone) when either is not a well-formed Name as Mbed TLS
 * parses one.
 */
bool stsm_trust_store_name_compare(const uint8_t *a, size_t a_len, const uint8_t *b, size_t b_len,
                                   int *order);

#endif /* STSM_TRUST_STORE_H */
