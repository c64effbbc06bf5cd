/*
 * MTA-STS (RFC 8461), the pure parts: the `_mta-sts` TXT record, the policy body, `mx`
 * patterns and matching. No I/O, no heap; every input is a bounded byte string.
 *
 * Where peers disagree the decisions are ours (see the issue tracker and the shared
 * research notes, mta-sts-peers.md): blank lines in a policy are ignored, max_age above one
 * year is clamped, the first version/mode/max_age wins, one bad `mx` spoils the policy.
 */
#ifndef STSM_MTA_STS_H
#define STSM_MTA_STS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "stsm_config.h"
#include "stsm_status.h"

#ifndef STSM_STS_MAX_MX
#define STSM_STS_MAX_MX 10               /**< mx patterns kept from one policy */
#endif
#define STSM_STS_ID_MAX 32               /**< RFC 8461: 1*32(ALPHA / DIGIT) */
#define STSM_STS_MAX_AGE_LIMIT 31557600u /**< one year; larger values are clamped */
#define STSM_STS_POLICY_MAX (64 * 1024)  /**< policy body cap */

/* ---- TXT record ------------------------------------------------------------------- */

enum stsm_sts_txt_verdict {
    STSM_STS_TXT_VALID,      /**< an STS record with a valid id */
    STSM_STS_TXT_NOT_STS,    /**< does not begin with "v=STSv1" and a ';': not ours, discard */
    STSM_STS_TXT_INVALID,    /**< begins like one but breaks the grammar */
};

struct stsm_sts_txt {
    char id[STSM_STS_ID_MAX + 1];
    const char *reason;      /**< why it is not valid (static text), NULL when valid */
};

/** Parses one TXT record (its strings already joined). */
enum stsm_sts_txt_verdict stsm_sts_txt_parse(const char *record, size_t len, struct stsm_sts_txt *out);

/* ---- policy ----------------------------------------------------------------------- */

enum stsm_sts_mode { STSM_STS_MODE_NONE, STSM_STS_MODE_TESTING, STSM_STS_MODE_ENFORCE };

struct stsm_sts_policy {
    enum stsm_sts_mode mode;
    uint32_t max_age;                    /**< seconds, clamped to STSM_STS_MAX_AGE_LIMIT */
    bool max_age_clamped;
    size_t mx_count;
    char mx[STSM_STS_MAX_MX][STSM_HOSTNAME_MAX + 1];
};

/**
 * Parses a policy body. Returns STSM_OK, or STSM_ERR_PEER_PROTOCOL (an invalid policy,
 * which counts as no policy) with `*line` (1-based; 0 for the whole body) and `*reason`
 * (static text) saying what was wrong.
 */
stsm_status_t stsm_sts_policy_parse(const uint8_t *body, size_t len, struct stsm_sts_policy *policy,
                                    size_t *line, const char **reason);

/** True when `pattern` is a valid `mx` value: an A-label host name, or "*." and one. */
bool stsm_sts_mx_pattern_valid(const char *pattern, size_t len);

/**
 * True when MX host `host` matches `pattern` (RFC 8461 section 4.1): equal ignoring ASCII
 * case and a trailing dot on the host, or "*.rest" where the host is exactly one more
 * label in front of "rest".
 */
bool stsm_sts_mx_matches(const char *pattern, const char *host);

/** True when `host` matches any `mx` of the policy. */
bool stsm_sts_policy_matches(const struct stsm_sts_policy *policy, const char *host);

/** "none", "testing", "enforce". */
const char *stsm_sts_mode_str(enum stsm_sts_mode mode);

#endif /* STSM_MTA_STS_H */
