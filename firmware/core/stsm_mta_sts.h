/*
 * MTA-STS (RFC 8461), the pure parts: the `_mta-sts` TXT record, the policy body, `mx`
 * patterns and matching. No I/O, no heap; every input is a bounded byte string.
 *
 * Where peers disagree the decisions are ours (see the issue tracker and the shared
 * research notes, mta-sts-peers.md): blank lines in a policy are ignored, max_age above one
 * year is clamped, the first version/mode/max_age wins, one bad `mx` spoils the policy.
 * More valid `mx` lines than STSM_STS_MAX_MX (stsm_config.h) do not: the first ones are
 * kept and the rest counted, so a local limit narrows what matches (fails closed) instead
 * of voiding the policy (which would fail open).
 */
#ifndef STSM_MTA_STS_H
#define STSM_MTA_STS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "stsm_config.h"
#include "stsm_status.h"

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

#if STSM_STS_MAX_MX < 1 || STSM_STS_MAX_MX > 255
#error "STSM_STS_MAX_MX must be 1 to 255 (the policy cache stores the count in one byte)"
#endif

struct stsm_sts_policy {
    enum stsm_sts_mode mode;
    uint32_t max_age;                    /**< seconds, clamped to STSM_STS_MAX_AGE_LIMIT */
    bool max_age_clamped;
    size_t mx_count;                     /**< patterns kept in `mx`, at most STSM_STS_MAX_MX */
    /** Valid `mx` lines after the first STSM_STS_MAX_MX, not kept: hosts are matched
     *  against the kept ones only, so a host that only a dropped line names does not
     *  match. Nonzero is worth a log line; 0 when the policy fitted. */
    size_t mx_dropped;
    char mx[STSM_STS_MAX_MX][STSM_HOSTNAME_MAX + 1];   /**< NUL-terminated A-label patterns */
};

/**
 * Parses a policy body. Returns STSM_OK, or STSM_ERR_PEER_PROTOCOL (an invalid policy,
 * which counts as no policy) with `*line` (1-based; 0 for the whole body) and `*reason`
 * (static text) saying what was wrong. Valid `mx` lines beyond STSM_STS_MAX_MX do not make
 * it invalid: the first STSM_STS_MAX_MX are kept and the rest counted in `mx_dropped`.
 */
stsm_status_t stsm_sts_policy_parse(const uint8_t *body, size_t len, struct stsm_sts_policy *policy,
                                    size_t *line, const char **reason);

/**
 * Makes `*dst` the same policy as `*src`: the fields and the `mx_count` patterns copied, the
 * rows past them zero. Unlike `*dst = *src` it writes no more of the 8 KiB of rows than the
 * policy uses (a zero row already zero is left unwritten, see stsm_zero()), so a policy
 * held in a fresh static adds few pages to the host's resident set.
 */
void stsm_sts_policy_copy(struct stsm_sts_policy *dst, const struct stsm_sts_policy *src);

/** True when `pattern` is a valid `mx` value: an A-label host name, or "*." and one, the
 *  whole (with "*.") at most STSM_HOSTNAME_MAX characters. */
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
