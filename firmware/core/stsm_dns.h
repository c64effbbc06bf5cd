/*
 * DNS message codec (RFC 1035, EDNS0 per RFC 6891): builds queries and decodes answers
 * into caller-provided structs. Pure: no I/O, no heap.
 *
 * Decoding checks that a message answers our query (ID, QR, opcode, question) before
 * anything else, follows the CNAME chain from the asked name, keeps the records of the
 * asked type that belong to the name the chain ends at, and classifies the outcome.
 * Where those records do not all fit, an MX answer keeps the ones of the lowest
 * preference values and an A or AAAA answer its first ones, and says how many it left
 * out (`dropped`); a TXT answer that does not fit is an error.
 */
#ifndef STSM_DNS_H
#define STSM_DNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "stsm_config.h"
#include "stsm_status.h"

#define STSM_DNS_TYPE_A      1
#define STSM_DNS_TYPE_CNAME  5
#define STSM_DNS_TYPE_MX     15
#define STSM_DNS_TYPE_TXT    16
#define STSM_DNS_TYPE_AAAA   28
#define STSM_DNS_TYPE_OPT    41
#define STSM_DNS_CLASS_IN    1

#define STSM_DNS_HEADER_LEN  12
#define STSM_DNS_PORT        53

/** What an answer says about the question. */
enum stsm_dns_outcome {
    STSM_DNS_ANSWER,      /**< records of the asked type (perhaps after CNAMEs) */
    STSM_DNS_NODATA,      /**< the name exists but has no records of that type */
    STSM_DNS_NXDOMAIN,    /**< the name (or the end of its CNAME chain) does not exist */
    STSM_DNS_TEMPFAIL,    /**< SERVFAIL, REFUSED or another error code: ask again later */
    STSM_DNS_TRUNCATED,   /**< TC flag: the answer did not fit, ask again over TCP */
};

/** A query: its ID and question. The name is text ("mx1.example.test", trailing dot optional). */
struct stsm_dns_query {
    uint16_t id;
    uint16_t type;                      /**< A, AAAA, MX or TXT */
    char name[STSM_HOSTNAME_MAX + 1];
};

/** One record. Names and TXT data live in the answer's pool: read them with stsm_dns_str(). */
struct stsm_dns_record {
    uint16_t type;
    uint32_t ttl;
    uint16_t owner;         /**< pool offset of the owner name */
    uint16_t preference;    /**< MX */
    uint16_t data;          /**< pool offset: MX exchange ("" for the root), or TXT text */
    uint16_t data_len;      /**< TXT: bytes of text (the record's strings concatenated) */
    uint8_t address[16];    /**< A: first 4 bytes; AAAA: all 16 */
};

/** A decoded answer. Large (the pool): allocate statically. Fields are read-only results. */
struct stsm_dns_answer {
    enum stsm_dns_outcome outcome;
    uint8_t rcode;                       /**< the header's response code */
    uint16_t type;                       /**< the asked type */
    uint16_t asked;                      /**< pool offset: the asked name */
    uint16_t canonical;                  /**< pool offset: where the CNAME chain ends (== asked without CNAMEs) */
    uint8_t cname_hops;                  /**< CNAMEs followed; 0 when the asked name answered itself */
    uint16_t chain[STSM_DNS_MAX_CNAME_HOPS]; /**< pool offsets of the CNAME targets, in order */
    uint32_t cname_ttl;                  /**< smallest TTL of the CNAMEs followed (0 without any) */
    size_t count;                        /**< records of the asked type owned by `canonical`, kept */
    /** Such records left out because they did not fit: more than STSM_DNS_MAX_RECORDS,
     *  or (MX) the name pool ran out. An MX answer keeps the lowest preference values and
     *  lists them in preference order (message order among equals), so what is dropped is
     *  always the worst; an A or AAAA answer keeps the first ones in message order. 0 when
     *  everything fitted. Worth a log line: the caller works with a subset. */
    size_t dropped;
    struct stsm_dns_record records[STSM_DNS_MAX_RECORDS];
    size_t extra_count;                  /**< A/AAAA records from the additional section */
    bool extra_incomplete;               /**< more additional A/AAAA than STSM_DNS_MAX_EXTRA (or
                                              than the pool holds): do not rely on them */
    struct stsm_dns_record extra[STSM_DNS_MAX_EXTRA];
    size_t pool_used;
    char pool[STSM_DNS_POOL_SIZE];
};

/**
 * Writes a query for `query` (recursion desired, one EDNS0 OPT record advertising
 * STSM_DNS_EDNS_PAYLOAD) into `buf`. Returns STSM_ERR_ARGUMENT for a name that is not a
 * valid host name in text form or an unsupported type, STSM_ERR_CAPACITY when `cap` is
 * too small; on success `*len` is the message length.
 */
stsm_status_t stsm_dns_encode_query(const struct stsm_dns_query *query, uint8_t *buf, size_t cap,
                                    size_t *len);

/**
 * Decodes `msg` as the answer to `query` into `answer`.
 * Returns STSM_OK (see answer->outcome; answer->dropped counts MX, A or AAAA records left
 * out for capacity), STSM_ERR_DNS_NOT_ANSWER for a message that is not an answer to this
 * query (ignore it and keep waiting), STSM_ERR_DNS_MALFORMED, STSM_ERR_DNS_CNAME_CHAIN, or
 * STSM_ERR_CAPACITY when valid data does not fit and no subset would do (more TXT records
 * than STSM_DNS_MAX_RECORDS, names beyond the pool).
 */
stsm_status_t stsm_dns_decode(const uint8_t *msg, size_t len, const struct stsm_dns_query *query,
                              struct stsm_dns_answer *answer);

/** The NUL-terminated string at `offset` in the answer's pool. */
const char *stsm_dns_str(const struct stsm_dns_answer *answer, uint16_t offset);

/** True when two names in text form are equal: ASCII case-insensitive, trailing dot ignored. */
bool stsm_dns_name_equal(const char *a, const char *b);

/** "answer", "nodata", "nxdomain", "tempfail", "truncated". */
const char *stsm_dns_outcome_str(enum stsm_dns_outcome outcome);

/** "A", "AAAA", "MX", "TXT", "CNAME", or NULL for other types. */
const char *stsm_dns_type_str(uint16_t type);

#endif /* STSM_DNS_H */
