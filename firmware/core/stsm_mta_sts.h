/*
 * MTA-STS (RFC 8461), the pure parts: the `_mta-sts` TXT record, the policy body, `mx`
 * patterns and matching. No I/O, no heap; every input is a bounded byte string.
 *
 * Where peers disagree the decisions are ours (see the issue tracker and the shared
 * research notes, mta-sts-peers.md): blank lines in a policy are ignored, max_age above one
 * year is clamped, the first version/mode/max_age wins, one bad `mx` spoils the policy.
 * More valid `mx` lines than a policy holds (STSM_STS_MAX_MX patterns in
 * STSM_STS_MX_TEXT_MAX bytes, stsm_config.h) do not: the first ones are kept and the rest
 * counted, so a local limit narrows what matches (fails closed) instead of voiding the
 * policy (which would fail open).
 */
#ifndef STSM_MTA_STS_H
#define STSM_MTA_STS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "stsm_config.h"
#include "stsm_status.h"
#include "stsm_text.h"

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
    stsm_text_fixed_t reason; /**< why it is not valid (fixed text: an id on the boards),
                                   NULL when valid */
};

/** Parses one TXT record (its strings already joined). */
enum stsm_sts_txt_verdict stsm_sts_txt_parse(const char *record, size_t len, struct stsm_sts_txt *out);

/* ---- policy ----------------------------------------------------------------------- */

enum stsm_sts_mode { STSM_STS_MODE_NONE, STSM_STS_MODE_TESTING, STSM_STS_MODE_ENFORCE };

#if STSM_STS_MAX_MX < 1 || STSM_STS_MAX_MX > 255
#error "STSM_STS_MAX_MX must be 1 to 255 (the policy cache stores the count in one byte)"
#endif
#if STSM_STS_MX_TEXT_MAX < STSM_HOSTNAME_MAX + 1
#error "STSM_STS_MX_TEXT_MAX must hold at least one pattern of STSM_HOSTNAME_MAX characters"
#endif

/**
 * A parsed policy. The `mx` patterns lie one after another in `mx_text`, each followed by
 * its NUL, in the policy's order; read them with stsm_sts_policy_mx_first() and
 * stsm_sts_policy_mx_next(), add them with stsm_sts_policy_mx_add().
 */
struct stsm_sts_policy {
    enum stsm_sts_mode mode;
    uint32_t max_age;                    /**< seconds, clamped to STSM_STS_MAX_AGE_LIMIT */
    bool max_age_clamped;
    size_t mx_count;                     /**< patterns kept, at most STSM_STS_MAX_MX */
    /** Valid `mx` lines after the ones kept: those past the first STSM_STS_MAX_MX, or from
     *  the first whose text did not fit `mx_text` on. Hosts are matched against the kept
     *  ones only, so a host that only a dropped line names does not match. Nonzero is
     *  worth a log line; 0 when the policy fitted. */
    size_t mx_dropped;
    size_t mx_len;                       /**< bytes of `mx_text` used, the NULs included */
    char mx_text[STSM_STS_MX_TEXT_MAX];  /**< NUL-terminated A-label patterns, packed */
};

/** The first `mx` pattern (NUL-terminated, inside `policy`), or NULL when there is none. */
const char *stsm_sts_policy_mx_first(const struct stsm_sts_policy *policy);

/** The pattern after `mx` (one that first() or next() returned), or NULL after the last:
 *  `for (const char *m = stsm_sts_policy_mx_first(p); m; m = stsm_sts_policy_mx_next(p, m))` */
const char *stsm_sts_policy_mx_next(const struct stsm_sts_policy *policy, const char *mx);

/**
 * Appends pattern `pattern` (`len` bytes, no NUL among them; the caller checked it with
 * stsm_sts_mx_pattern_valid()) when the policy has room for it: fewer than
 * STSM_STS_MAX_MX patterns and `len` + 1 bytes free in `mx_text`. Returns false, the
 * policy unchanged, when it has not; the caller decides what that means (the parser
 * counts it in `mx_dropped`), nothing is ever cut.
 */
bool stsm_sts_policy_mx_add(struct stsm_sts_policy *policy, const char *pattern, size_t len);

/**
 * Parses a policy body. Returns STSM_OK, or STSM_ERR_PEER_PROTOCOL (an invalid policy,
 * which counts as no policy) with `*line` (1-based; 0 for the whole body) and `*reason`
 * (static text) saying what was wrong. Valid `mx` lines beyond what the policy holds do not
 * make it invalid: the first ones that fit are kept and, from the first that does not on,
 * the rest counted in `mx_dropped`.
 * The same as the parser below fed `body` in one piece.
 */
stsm_status_t stsm_sts_policy_parse(const uint8_t *body, size_t len, struct stsm_sts_policy *policy,
                                    size_t *line, stsm_text_fixed_t *reason);

/**
 * The policy parser fed in pieces, as the body arrives, with the same rules and results as
 * stsm_sts_policy_parse() on the whole body, wherever the pieces are cut (inside a line,
 * between a CR and its LF, inside a byte-order mark). No line is kept whole: a value is
 * kept only as long as a valid one may be (an `mx` pattern, STSM_HOSTNAME_MAX), so a
 * longer one is invalid, never cut short, and an extension line of any length is read
 * through. About STSM_HOSTNAME_MAX + 64 bytes; fields private.
 */
struct stsm_sts_policy_parser {
    struct stsm_sts_policy *policy;   /* the result, filled as lines end */
    size_t total;                     /* body bytes fed */
    size_t line;                      /* number of the line being read, 1-based */
    size_t fail_line;                 /* the first invalid line (0: the whole body) */
    stsm_text_fixed_t fail_reason;    /* NULL while the policy may still be valid */
    uint8_t key_len;                  /* bytes before ':' (saturates), the first ones in `key` */
    uint8_t field;                    /* which key the value belongs to */
    bool in_value;                    /* past the line's first ':' */
    bool line_open;                   /* the line has a byte, a held CR included */
    bool blank;                       /* the line so far is spaces and tabs */
    bool key_valid;                   /* the key so far is a field name */
    bool cr_held;                     /* a CR that ends the line if an LF follows */
    bool space_held;                  /* spaces or tabs after the value so far */
    bool value_spoiled;               /* too long, or space inside: no key takes it */
    bool have_version, have_mode, have_max_age;
    size_t value_len;                 /* bytes in `value`, without the space around it */
    char key[8];                      /* long enough for the longest key we know */
    char value[STSM_HOSTNAME_MAX];
};

/** Starts parsing a policy into `*policy` (cleared here), which must live until the parse
 *  ends; `*policy` is meaningful only after stsm_sts_policy_parser_end() returned STSM_OK. */
void stsm_sts_policy_parser_init(struct stsm_sts_policy_parser *p, struct stsm_sts_policy *policy);

/** Feeds the next `len` bytes of the body. Returns false once the policy is known to be
 *  invalid (later bytes are then only counted, against STSM_STS_POLICY_MAX); true while it
 *  may still be valid. Either way the result is stsm_sts_policy_parser_end()'s. */
bool stsm_sts_policy_parser_feed(struct stsm_sts_policy_parser *p, const uint8_t *data, size_t len);

/** The body ended: returns what stsm_sts_policy_parse() returns for the bytes fed, with
 *  `*line` and `*reason` as it sets them. Call once. */
stsm_status_t stsm_sts_policy_parser_end(struct stsm_sts_policy_parser *p, size_t *line,
                                         stsm_text_fixed_t *reason);

/**
 * Makes `*dst` the same policy as `*src`: the fields and the `mx_len` bytes of patterns
 * copied, the rest of `mx_text` zero. Unlike `*dst = *src` it writes no more of the pool
 * than the policy uses (bytes already zero are left unwritten, see stsm_zero()), so a
 * policy held in a fresh static adds few pages to the host's resident set.
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
