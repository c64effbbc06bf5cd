/*
 * Trust anchors as one read-only blob (flash on the MCU, a file on the host), looked up
 * by subject when a certificate chain is verified, so RAM use does not grow with the
 * number of anchors: only the candidates for one issuer are ever parsed.
 *
 * Blob layout, all integers big-endian (written by toolchain/mktrust.py):
 *   0  "STSMTA01"           magic and format version
 *   8  u32 count            number of anchors
 *  12  u32 length           length of the whole blob
 *  16  count x { u32 subject_offset, u32 subject_length, u32 cert_offset, u32 cert_length }
 *      sorted by subject (bytewise, shorter first on a common prefix)
 *  ..  DER certificates; each subject is the raw DER Name inside its certificate
 */
#ifndef STSM_TRUST_STORE_H
#define STSM_TRUST_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "stsm_status.h"

#define STSM_TRUST_STORE_MAGIC "STSMTA01"

/** An opened blob. The blob must stay in place while the store is used. */
struct stsm_trust_store {
    const uint8_t *blob;
    size_t len;
    uint32_t count;
};

/** One anchor: views into the blob. */
struct stsm_trust_anchor {
    const uint8_t *subject;
    size_t subject_len;
    const uint8_t *cert;
    size_t cert_len;
};

/**
 * Validates `blob` (magic, length, table bounds, every offset and length, subjects inside
 * their certificates, sort order) and opens it. Returns STSM_ERR_CORRUPT naming nothing
 * more: a blob that fails any check is not used at all.
 */
stsm_status_t stsm_trust_store_open(struct stsm_trust_store *store, const uint8_t *blob, size_t len);

/** Anchor `index` (< store->count). */
struct stsm_trust_anchor stsm_trust_store_anchor(const struct stsm_trust_store *store, uint32_t index);

/**
 * Finds the anchors whose subject equals `subject` (raw DER Name). Returns how many there
 * are (cross-signed roots share a subject) and sets `*first` to the index of the first.
 */
uint32_t stsm_trust_store_find(const struct stsm_trust_store *store, const uint8_t *subject,
                               size_t subject_len, uint32_t *first);

#endif /* STSM_TRUST_STORE_H */
